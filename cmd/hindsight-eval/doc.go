// Command hindsight-eval measures how well the correlation engine groups
// alerts into incidents, ranks deploy suspects and suggests severities, on
// a labelled corpus of synthetic scenarios (research/correlation.md §8),
// and writes the figures into EVALUATION.md. It is a tool of the project,
// not part of the daemon.
//
// Data flow:
//
//	Generate (seeded, deterministic) -> testdata/corpus/<family>.jsonl
//	    -> ReadCorpus -> Evaluate: for each scenario, the engine as the
//	       daemon runs it (the Badger event log and projection of
//	       correlate/store, in memory, fed through correlate.Projector)
//	       and two baselines (Alertmanager groupKey alone; a global
//	       10-minute window)
//	    -> metrics (B-cubed, pairwise, Hit@k, false suspects, severity)
//	    -> Report.Markdown -> EVALUATION.md
//
// Usage (from the repository root):
//
//	go run ./cmd/hindsight-eval                          # print the figures
//	go run ./cmd/hindsight-eval -report EVALUATION.md    # and write them
//	go run ./cmd/hindsight-eval -generate                # regenerate the corpus first
//
// The corpus is written by -generate (or `go test ./cmd/hindsight-eval/
// -update`) and read back by every other run, so the figures depend only
// on the files and the engine, and a change to the generator shows up as
// a diff of the files.
package main
