// Package correlate turns the ordered event log into incidents.
//
// Data flow:
//
//	collector.Sink (Ingester) -> EventLog.Append (durable, deduplicated, sequenced)
//	    -> Projector reads the log in order -> Correlator.Apply -> ProjectionStore.Commit
//	    -> Reader (queries)
//
// Invariants:
//
//   - The log is the truth. Incidents are a deterministic projection of it:
//     the same log, applied in order with the same configuration, gives the
//     same incidents, whether live, after a crash or in a replay.
//   - Correlation compares event times (alert startsAt/endsAt), never
//     arrival times. The only wall-clock input is the resolve_after wait,
//     which is applied when an incident is read (View), so it never changes
//     the stored projection.
//   - The projection is committed together with the log position it
//     reflects (the checkpoint) in one transaction; after a crash the
//     projector resumes from the checkpoint instead of replaying the log.
//   - An ingest call returns only after the projection has caught up with
//     the events it appended (read-your-writes).
//
// Placing an alert firing, in order, the first rule that matches wins and
// its reason is recorded on the entry:
//
//  1. its own episode: the same fingerprint firing, re-firing within
//     reopen_within, or flapping (flap_firings within flap_window);
//  2. its partition (service, or alert name without one, and the group_by
//     labels) owned by an incident that is open, or resolved within
//     reopen_within; late arrivals within window;
//  3. an open incident a page on the same service opened;
//  4. topology: an open incident whose anchor is one dependency hop away,
//     started within window (or, for a dependent, whose anchor still has
//     an alert firing: a slow burn); joining upstream re-anchors only when
//     the new anchor explains every member, so A-B-C never chains;
//  5. the storm guard: storm_incidents incidents opened within storm_window
//     in the same group_by labels are merged into the first, which new
//     alerts there join while the storm goes on;
//  6. a new incident anchored on the alert's service.
//
// Rules 2 to 5 skip incidents past max_span or holding max_alerts.
// People's merges and splits are events like any other: they move
// entries, alerts with their episodes, pages and partitions. Every
// correction names its incident by id and by events only that incident
// holds (its alert states and pages, never a shared deploy): the id while
// it names an incident, the holder of those events after a recorrelation
// under rules that changed the ids.
//
// The EventLog interface is deliberately small (append; read in order
// from a position) so that the replicated log (correlate/streamlog, a
// JetStream stream shared by several replicas) replaces the local Badger
// log without touching correlation.
package correlate
