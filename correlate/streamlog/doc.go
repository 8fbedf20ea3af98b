// Package streamlog is the replicated event log (log.type: jetstream):
// correlate.EventLog on a NATS JetStream stream that every replica of
// Hindsight shares, with a copy of the stream on each replica.
//
// Data flow, on every replica:
//
//	Append -> publish to the stream (Nats-Msg-Id = event id)
//	       -> JetStream's acknowledgement (stored on a quorum of the stream's replicas)
//	       -> wait until this replica's copy has the event
//	the copy: an ordered consumer from the copied position -> local Badger
//	       (first message of each event id kept at its stream sequence)
//	Read   -> the local copy, in stream order (the projector follows it)
//
// Positions are stream sequences, the same on every replica; positions
// without an event (a second copy of an event, a message removed from the
// stream) are gaps that Read skips.
//
// # Idempotency, within the duplicate window and beyond it
//
// Alertmanager sends the same alerts again every group_interval for as
// long as they fire, for days; JetStream's duplicate window is finite.
// Three layers make each event id count once:
//
//  1. Append first looks the event ids up in this replica's copy: an id
//     the copy holds is not published again, and Append returns the
//     position of its first copy. This is the single-instance log's
//     deduplication, and it covers re-sends for as long as the copy holds
//     the event (retention.events).
//  2. Within the stream's duplicate window (default 10m), JetStream itself
//     stores a second publish of an id once and answers with the first
//     one's position: two replicas taking the same notification at once
//     (an HA Alertmanager pair sends it to both), a retry of a 503 on
//     another replica, a replica whose copy lags behind.
//  3. Beyond the window, a replica whose copy had not reached the first
//     copy yet (it lagged, or is new) can publish a second copy of the
//     event. Each replica's copy keeps the first message of each event id
//     and skips later ones; the stream's order is the same everywhere, so
//     every replica skips the same messages and the projection applies
//     each event id once, on every replica, in a replay and in a
//     recorrelation too.
//
// What holds: every replica's log holds each event id once, at the
// position of its first message in the stream, as long as that message
// is within retention. Beyond retention an id is new again, as in the
// single-instance log; a replica that starts copying after the stream
// dropped an event's first message by age keeps a later copy of it that
// older replicas skipped, so replicas can differ on events older than
// retention, never on newer ones.
//
// # Consistency
//
// Every replica's log is a prefix of the same sequence of events at the
// same positions, so every replica's projection, a deterministic function
// of the log and the configuration, gives the same incidents (with the
// same configuration) once it has caught up. A 2xx from a replica means
// the events are on a quorum of the stream's servers and in that
// replica's projection (Append returns once its copy has them and the
// Ingester waits for the projection): read-your-writes on the replica
// that answered. Other replicas see the events once they have copied and
// applied them, usually within milliseconds; how far a replica is behind
// is hindsight_log_replication_lag (Log.ObserveProjection), and
// Log.CaughtUp is a readiness check that fails while it is more than a
// given number of positions behind. Nothing is linearizable across
// replicas: a query on B right after a 2xx from A may not see the event.
// A replica that is catching up (it was down, or is new) answers appends
// with 503 until its copy reaches them (Options.AckTimeout); a readiness
// check built on CaughtUp keeps it out of the load balancer meanwhile.
//
// Unlike the Badger log, one Append is not all-or-nothing: the events are
// published one by one (pipelined), and a failure part-way can leave some
// of them in the stream and the sender told to retry; the retry stores
// the rest, each event once. A query in between sees part of the request.
//
// # Durability
//
// JetStream acknowledges a message once a quorum of the stream's servers
// (2 of 3 at log.replicas: 3) has written it. It flushes its files to disk
// every sync_interval (2 minutes by default), not per message: losing one
// server loses nothing, a power cut of a majority at once can lose the
// last acknowledged messages unless the servers run with
// sync_interval: always (nats-server 2.10 or later; BENCHMARKS.md has its
// cost). With log.replicas: 1 a single server's power cut can.
//
// The local copy is not fsynced: after a crash it is derived again from
// the stream (the copied position is committed with the events in one
// transaction, and copying again is idempotent).
//
// # The stream
//
// Open creates the stream log.stream if it does not exist: subjects
// "<stream>.>" (events are published on "<stream>.<source>"), file
// storage, log.replicas replicas, limits retention with max age
// retention.events, discard new (a full stream refuses new events, and
// senders are told to retry, rather than dropping old ones), the
// duplicate window, deny delete and deny purge (the log is the truth; an
// operator lifts them with `nats stream edit` when needed), direct get
// allowed. An existing stream is used as its operator made it, except
// for its replication factor, which follows log.replicas; it must
// capture "<stream>.>".
//
// A stream that no longer matches a replica's copy (recreated, or it
// lost acknowledged messages: it ends before the copy, or holds another
// event at the copy's last position) stops that replica's copy with
// ErrStreamMismatch: Append refuses and CaughtUp fails rather than
// skipping the new stream's first events. To follow the new stream, stop
// the replica, remove its copy (Options.Dir) and its projection, and
// start it again.
//
// Errors from NATS (no quorum, no leader, a timeout, a lost connection,
// a full stream) wrap collector.ErrUnavailable, so receivers answer 503
// and senders retry.
package streamlog
