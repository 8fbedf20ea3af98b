// Package collectortest holds test doubles for the collectors' tests.
package collectortest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// notifyBuffer bounds how many stored events wait for Next; past it the
// notifications are dropped, so a test that never calls Next never blocks.
const notifyBuffer = 4096

// Sink is a collector.Sink that keeps every event it is handed, so that a
// receiver's test can check what would have been stored. Err fails every
// call while it is set; Fail, when set, decides per call (counted from 1).
// Set them before the receiver runs, or use SetErr while it runs.
type Sink struct {
	Err  error
	Fail func(call int) error

	mu      sync.Mutex
	calls   int
	events  []collector.Event
	ctxErrs []error
	notify  chan collector.Event
}

var _ collector.Sink = (*Sink)(nil)

// Unavailable returns a sink that fails every call as a full or closed
// store does.
func Unavailable() *Sink {
	return &Sink{Err: fmt.Errorf("badger: write txn: %w", collector.ErrUnavailable)}
}

// SetErr changes Err while the receiver may be calling Ingest: a store
// that fails, then recovers.
func (s *Sink) SetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Err = err
}

// Ingest implements collector.Sink.
func (s *Sink) Ingest(ctx context.Context, evs ...collector.Event) error {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.ctxErrs = append(s.ctxErrs, ctx.Err())
	err, fail := s.Err, s.Fail
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if fail != nil {
		if err := fail(call); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.events = append(s.events, evs...)
	ch := s.ch()
	s.mu.Unlock()
	for _, ev := range evs {
		select {
		case ch <- ev:
		default:
		}
	}
	return nil
}

// ch returns the notification channel; s.mu is held.
func (s *Sink) ch() chan collector.Event {
	if s.notify == nil {
		s.notify = make(chan collector.Event, notifyBuffer)
	}
	return s.notify
}

// Events returns what was stored, in order.
func (s *Sink) Events() []collector.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Calls counts the Ingest calls, failed ones included.
func (s *Sink) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// CtxErrs are ctx.Err() as each call saw it.
func (s *Sink) CtxErrs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ctxErrs)
}

// Next waits for the next stored event.
func (s *Sink) Next(tb testing.TB, within time.Duration) collector.Event {
	tb.Helper()
	s.mu.Lock()
	ch := s.ch()
	s.mu.Unlock()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(within):
		tb.Fatalf("no event stored within %s", within)
		return collector.Event{}
	}
}

// None checks that nothing is stored for d.
func (s *Sink) None(tb testing.TB, d time.Duration) {
	tb.Helper()
	s.mu.Lock()
	ch := s.ch()
	s.mu.Unlock()
	select {
	case ev := <-ch:
		tb.Fatalf("unexpected event stored: %+v", ev)
	case <-time.After(d):
	}
}
