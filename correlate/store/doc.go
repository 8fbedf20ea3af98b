// Package store is the Badger v4 implementation of correlate.EventLog,
// correlate.ProjectionStore and correlate.Reader.
//
// Key schema (one-byte table prefix; integers are big-endian so that byte
// order is numeric order; every variable-width field is the last one of its
// key or is followed by a 0x00 separator it cannot contain):
//
//	e <seq:8>                          event JSON, in log order (TTL: retention)
//	d <event id>                       seq of the stored event (dedup index, TTL: retention)
//	m "head"                           last assigned seq
//	m "checkpoint"                     correlate.Checkpoint of the projection
//	i <incident id>                    correlate.Incident JSON (without its alerts)
//	a <incident id> 0x00 <fingerprint> correlate.AlertState JSON of one alert of the incident
//	l <started_at unix nanos:8> <id>   incident list index, newest first by reverse scan
//	n <incident id> 0x00 <at:8> <seq:8> timeline entry JSON
//	x <seq:8>                          incident id the event joined
//	o <incident id>                    incident is live (can still be joined)
//	f <fingerprint>                    correlate.Episode JSON of a live episode
//	g <event id>                       correlate.Deploy JSON of a recent deploy step
//	r 's' <sig hash:16> <started_at:8> <id>  signature index of related incidents (related.go)
//	r 'i' <incident id>                what the incident is indexed under (related.go)
//	h <fingerprint> 0x00 <starts_at:8>  a firing start of the alert, for pre-existing alerts (firings.go)
//	p <chunk:4>                        the writes of a projection commit too large for one transaction (stage.go)
//	m "staged"                         the number of staged chunks: the commit point of such a commit
//
// Appends go through one committer goroutine that gathers concurrent
// requests into one transaction, so they share one fsync (group commit);
// what does not fit in one transaction (Badger caps one at 15% of a
// memtable) goes in the next, and a request is answered once all its
// events are durable. A projection commit that does not fit is staged
// and applied as a redo log, which Open finishes after a crash.
//
// With an Inliner (the daemon's projector, for the local log), the
// committer also applies its batch to the projection and writes the
// changes and the checkpoint in the batch's own transaction: one fsync
// per batch, and a request is answered with its events correlated. What
// that path leaves (a batch of more than one transaction, a projection
// behind the log) the projector applies after the commit.
//
// Values under 1 MiB, events included, are kept in the LSM tree, whose
// tables are zstd-compressed, rather than in the uncompressed value log;
// memory.go says how the store keeps its mapped files and heap out of
// the resident set.
//
// Badger writes through memory-mapped files, so a full disk would kill
// the process with SIGBUS instead of failing a write: the store refuses
// writes before the disk is full, and keeps a reserve file
// (SPACE_RESERVE) for a clean shutdown and restart when something else
// fills it (space.go).
package store
