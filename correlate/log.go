package correlate

import (
	"context"
	"errors"

	"github.com/hindsight-ops/hindsight/collector"
)

// ErrNotFound is returned by readers when an incident does not exist.
var ErrNotFound = errors.New("not found")

// LoggedEvent is an event with its position in the log.
type LoggedEvent struct {
	Seq   uint64
	Event collector.Event
}

// EventLog is the durable, ordered, deduplicated log of events. It is the
// seam for scaling out: a second implementation (a replicated stream)
// slots in here. Implementations are safe for concurrent use.
type EventLog interface {
	// Append stores the events that are not already in the log, durably
	// and in order, and returns the position up to which a reader must
	// have read to see all of them (duplicates included). A nil error
	// means every event of the call is stored, however many there are
	// (under the body limit, a call may need several of the store's
	// transactions). On an error some of the call's events may be stored
	// already, never out of order and never twice: the sender retries the
	// whole call, and only the rest is added. A transient failure wraps
	// collector.ErrUnavailable.
	Append(ctx context.Context, evs ...collector.Event) (uint64, error)
	// Read returns up to limit events with a position greater than after,
	// in log order. An empty result means the reader is at the head.
	Read(ctx context.Context, after uint64, limit int) ([]LoggedEvent, error)
	// Notify returns a channel that receives a value after appends. It is
	// a hint: readers must still poll with Read.
	Notify() <-chan struct{}
}
