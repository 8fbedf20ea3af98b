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
// its reason is recorded on the entry (the rules of 2 to 7 are in
// relations.go):
//
//  1. its own episode: the same fingerprint firing, re-firing within
//     reopen_within, or flapping (flap_firings within flap_window);
//  2. its partition (service, or alert name without one, and the group_by
//     labels) owned by an incident that is open, or resolved within
//     reopen_within; late arrivals within window; then an incident of the
//     same service under group_by labels that do not contradict these (a
//     label only one side carries does not separate them), which includes
//     an incident a page on the service opened while the page is open;
//  3. the same machine: an alert of the incident with the same value of an
//     infrastructure label (node, host) that fires or resolved within
//     window, or, on the same service, the same instance host, which also
//     holds past max_span (an early warning and the failure it announced);
//  4. topology: downstream, the alert's service depends on the anchor or on
//     a service of the incident that depends on it (up to three hops),
//     within window of the incident's start or later while that service
//     still fails (a slow burn); upstream, every service of the incident
//     depends on it, within window or while the anchor still fails (the
//     incident is re-anchored on it), or a service of the incident that
//     still fails depends on it (no re-anchoring);
//  5. a dependency both share: an incident begun within storm_window whose
//     services and the alert's all depend on a service that has not
//     alerted but changed within deploy_lookback (re-anchored on it);
//  6. a change no service places (a deploy of a name nothing depends on)
//     within deploy_lookback, after which this alert and an incident began
//     within storm_window of each other;
//  7. the storm guard: storm_incidents incidents, the one the alert would
//     open among them, begun within storm_window in compatible group_by
//     labels are merged into the first, which new alerts there join while
//     new alerts keep coming within storm_window;
//  8. a new incident anchored on the alert's service.
//
// After an alert's service joins an incident, incidents opened since, on
// services that depend on it, are merged in. A page that links to no
// incident of its service by id, group key or service is placed by rules
// 4 to 6 through its mapped service, or, on an unmapped PagerDuty service,
// by the service and alert its title names; a page resolved as merged into
// another in PagerDuty merges their incidents.
//
// Rules 2 to 7 skip incidents past max_span (counted from PhaseStart when
// set) or holding max_alerts. Events more than max_future_skew ahead of
// their receipt are not correlated (future.go).
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
