package streamlog

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hindsight-ops/hindsight/collector"
)

// Lag is how many stream positions a projection at applied is behind the
// stream's head as last seen. Positions after the last copied event that
// hold none (a second copy of an event, a removed message) count as
// applied once that event is.
func (l *Log) Lag(applied uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lagLocked(applied)
}

func (l *Log) lagLocked(applied uint64) uint64 {
	eff := applied
	if applied >= l.kept {
		eff = max(applied, l.copied)
	}
	if l.head <= eff {
		return 0
	}
	return l.head - eff
}

// ObserveProjection exports hindsight_log_replication_lag for the
// projection whose committed position applied returns (the projector's
// Applied): stream head minus applied position, the number a replica's
// answers may be behind the cluster's. Call it once.
func (l *Log) ObserveProjection(applied func() uint64) {
	l.lagRegistration.Do(func() {
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hindsight_log_replication_lag",
			Help: "Stream positions this replica's projection is behind the event stream's head (stream last sequence minus applied position).",
		}, func() float64 { return float64(l.Lag(applied())) })
		if l.reg != nil {
			l.reg.MustRegister(g)
		}
	})
}

// CaughtUp returns a readiness check for the projection whose committed
// position applied returns: it asks the stream for its head (within
// ctx) and fails while the projection is more than within positions
// behind it, while the stream cannot be reached, and when the projection
// is past the stream's end (the stream was recreated: the projection
// describes events the stream no longer has).
func (l *Log) CaughtUp(applied func() uint64, within uint64) func(context.Context) error {
	return func(ctx context.Context) error {
		l.mu.Lock()
		stream, failed := l.stream, l.failed
		l.mu.Unlock()
		if failed != nil {
			return failed
		}
		if stream == nil {
			return fmt.Errorf("%w: %w", collector.ErrUnavailable, ErrNotReady)
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("%w: event stream %s: %w", collector.ErrUnavailable, l.opts.Stream, err)
		}
		a := applied()
		l.mu.Lock()
		l.head = max(l.head, info.State.LastSeq)
		lag := l.lagLocked(a)
		l.mu.Unlock()
		if a > info.State.LastSeq {
			return fmt.Errorf("%w: the projection is at position %d, the stream %s ends at %d", ErrStreamMismatch, a, l.opts.Stream, info.State.LastSeq)
		}
		if lag > within {
			return fmt.Errorf("%w: %d positions behind the event stream (ready within %d)", collector.ErrUnavailable, lag, within)
		}
		return nil
	}
}
