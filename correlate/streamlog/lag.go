package streamlog

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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

// contactTimeout is how long the copy may go without hearing from the
// stream (an idle copy asks for its head every headEvery) before
// readiness fails.
const contactTimeout = 4 * headEvery

// CaughtUp returns a readiness check for the projection whose committed
// position applied returns. It fails while the projection is more than
// within positions behind the stream's head, while the copy has not
// heard from the stream for a while (the cluster is unreachable: appends
// fail too), and when the projection is past the stream's end (the
// stream was recreated: the projection describes events the stream no
// longer has). It reads state the copy keeps up to date and never waits
// for the network, so it can be asked on every probe.
func (l *Log) CaughtUp(applied func() uint64, within uint64) func(context.Context) error {
	return func(context.Context) error {
		a := applied()
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case l.failed != nil:
			return l.failed
		case l.stream == nil:
			return fmt.Errorf("%w: event stream %s not reached yet", ErrNotReady, l.opts.Stream)
		case time.Since(l.contact) > contactTimeout:
			return fmt.Errorf("no answer from event stream %s for %s", l.opts.Stream, time.Since(l.contact).Round(time.Second))
		case a > l.head:
			return fmt.Errorf("%w: the projection is at position %d, the stream %s ends at %d", ErrStreamMismatch, a, l.opts.Stream, l.head)
		}
		if lag := l.lagLocked(a); lag > within {
			return fmt.Errorf("%d positions behind event stream %s (ready within %d)", lag, l.opts.Stream, within)
		}
		return nil
	}
}
