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
// The EventLog interface is deliberately small (append; read in order
// from a position) so that a replicated log, such as a JetStream stream
// shared by several replicas, can replace the local Badger log without
// touching correlation.
package correlate
