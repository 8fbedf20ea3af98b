package correlate

import (
	"context"
	"time"
)

// EventQuery selects logged events for a list: every field set must
// match (an empty one matches anything). Since and Until bound the
// event's own time (At), both inclusive.
type EventQuery struct {
	Source, Service string
	// Incident selects the events on that incident's timeline.
	Incident     string
	Since, Until time.Time
}

// EventQuerier is what a Reader may also do: list the events of a query
// newest first by event time (then by log position) from an index,
// without scanning the log. fn may see events the query does not match
// (the caller filters again); it sees every event that does. A Reader
// that cannot answer from an index returns an error wrapping
// errors.ErrUnsupported, and the caller scans instead.
type EventQuerier interface {
	QueryEvents(ctx context.Context, q EventQuery, cursor string, fn func(ev EventRecord, cursor string) bool) error
}

// IncidentQuery selects incidents for a list, as the incident list API
// filters them. Open asks for incidents that may be open at the time of
// the query; OpenSince is the last end from which an incident with
// nothing firing still counts as open (now minus
// correlation.resolve_after). Since keeps incidents open at or ending
// after it; Until keeps incidents that started at or before it.
type IncidentQuery struct {
	Service      string
	Open         bool
	OpenSince    time.Time
	Since, Until time.Time
}

// IncidentQuerier is what a Reader may also do: call fn with the
// incidents that may match q, newest first by start as ScanIncidents
// does and with its cursors, from indexes instead of a scan of every
// incident. fn may see incidents that do not match (the caller computes
// each one's status and filters again); it sees every one that does.
type IncidentQuerier interface {
	QueryIncidents(ctx context.Context, q IncidentQuery, cursor string, fn func(inc *Incident, cursor string) bool) error
}
