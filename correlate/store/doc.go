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
//
// Appends go through one committer goroutine that gathers concurrent
// requests into one transaction, so they share one fsync (group commit).
package store
