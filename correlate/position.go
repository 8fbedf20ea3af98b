package correlate

import (
	"context"
	"sync/atomic"
)

// PositionRecorder collects the log position an intake request's events
// are at, so that the answer can tell it (the Hindsight-Log-Position
// header): a reader that has applied the log up to it sees the request's
// events, on any replica. Safe for concurrent use.
type PositionRecorder struct{ seq atomic.Uint64 }

type positionKey struct{}

// WithPositionRecorder returns a context whose Ingest calls record the
// position of their events in the returned recorder.
func WithPositionRecorder(ctx context.Context) (context.Context, *PositionRecorder) {
	r := &PositionRecorder{}
	return context.WithValue(ctx, positionKey{}, r), r
}

// Position is the highest position recorded: the position up to which a
// reader must have applied the log to see every event the request
// stored; 0 if none was.
func (r *PositionRecorder) Position() uint64 { return r.seq.Load() }

// recordPosition notes seq in ctx's recorder, if it has one.
func recordPosition(ctx context.Context, seq uint64) {
	r, ok := ctx.Value(positionKey{}).(*PositionRecorder)
	if !ok {
		return
	}
	for {
		cur := r.seq.Load()
		if seq <= cur || r.seq.CompareAndSwap(cur, seq) {
			return
		}
	}
}
