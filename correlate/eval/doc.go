// Package eval measures how well the correlation engine groups alerts
// into incidents, ranks deploy suspects and suggests severities, on a
// labelled corpus of synthetic scenarios (research/correlation.md §8).
//
// Data flow:
//
//	Generate (seeded, deterministic) -> testdata/corpus/<family>.jsonl
//	    -> ReadCorpus -> Evaluate: for each scenario, the engine
//	       (correlate.NewCorrelator, Apply, Flush) and two baselines
//	       (Alertmanager groupKey alone; a global 10-minute window)
//	    -> metrics (B-cubed, pairwise, Hit@k, false suspects, severity)
//	    -> Report.Markdown -> EVALUATION.md
//
// The corpus is written by `go test ./correlate/eval/ -update` and read
// back by every other run, so the figures depend only on the files and the
// engine, and a change to the generator shows up as a diff of the files.
//
// The engine is driven through its exported API only, the way the
// projector drives it: events in log order, each event id applied once
// (the event log drops redeliveries of an id it already holds).
package eval
