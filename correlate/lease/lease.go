// Package lease decides which replica does the work that a timer, not an
// event, starts (automatic export of drafts, PagerDuty polling), so that
// with several replicas it is done once, not once per replica.
//
// The seam is Owner, one method: before each unit of such work, ask
// Owns(task); do the work only on true. A single instance uses Single,
// which owns every task. Replicas on a NATS cluster use KV: a lease per
// task on a JetStream key-value bucket, held by one replica at a time,
// renewed while it lives, and taken over by another within a bounded
// time when it dies (see KV).
//
// A lease narrows the window for double work; it cannot close it: a unit
// of work begun just before its owner lost the lease may finish after
// another replica took it over. Work behind a lease must therefore be
// idempotent on its own (the exporter's sinks are: an Idempotency-Key
// per draft version, a directory sink that never overwrites).
package lease

// Owner tells timer-driven work whether this instance should do it now.
// Implementations are safe for concurrent use.
type Owner interface {
	// Owns reports whether this instance holds task right now. It does
	// not block; the answer may change at any time.
	Owns(task string) bool
}

// Well-known tasks.
const (
	TaskExport        = "export"
	TaskPagerDutyPoll = "pagerduty-poll"
)

// Single is the Owner of a single instance: it owns every task.
var Single Owner = single{}

type single struct{}

func (single) Owns(string) bool { return true }
