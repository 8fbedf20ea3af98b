package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	return db
}

func event(i int, service string, at time.Time) collector.Event {
	fp := fmt.Sprintf("%016x", i)
	s := at
	return collector.Event{
		ID:      collector.EventID("alertmanager", fp, at.Format(time.RFC3339Nano), "firing"),
		Source:  collector.SourceAlertmanager,
		Kind:    collector.KindAlertFiring,
		At:      at,
		Service: service,
		Summary: "HighErrorRate firing",
		Labels:  map[string]string{"alertname": "HighErrorRate", "service": service, "instance": fmt.Sprint(i)},
		Ref:     collector.Ref{Fingerprint: fp, StartsAt: &s},
		Alert:   &collector.Alert{Name: "HighErrorRate", Status: "firing", StartsAt: at},
	}
}

// TestAppendConcurrentDedup: concurrent appends, many of them repeats, give
// a gapless log holding each event once, and each call returns a position
// at or past its own events.
func TestAppendConcurrentDedup(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				// Every event is sent by two workers.
				n := (w/2)*50 + i
				seq, err := db.Append(ctx, event(n, "svc", t0.Add(time.Duration(n)*time.Second)))
				require.NoError(t, err)
				require.Positive(t, seq)
			}
		})
	}
	wg.Wait()
	evs, err := db.Read(ctx, 0, 10000)
	require.NoError(t, err)
	require.Len(t, evs, 8*50)
	ids := map[string]bool{}
	for i, le := range evs {
		require.Equal(t, uint64(i+1), le.Seq, "gapless positions")
		require.False(t, ids[le.Event.ID], "stored once")
		ids[le.Event.ID] = true
		require.False(t, le.Event.ReceivedAt.IsZero())
	}

	// A restart keeps the log and its head.
	require.NoError(t, db.Close())
	db = open(t, dir)
	defer db.Close()
	seq, err := db.Append(ctx, event(100000, "svc", t0))
	require.NoError(t, err)
	require.Equal(t, uint64(401), seq)
	seq, err = db.Append(ctx, event(0, "svc", t0))
	require.NoError(t, err)
	require.Equal(t, uint64(401), seq, "a duplicate returns the head, adds nothing")
}

// An in-memory store keeps what a disk one does, values of any size up
// to Badger's limit included (the evaluation runs on it).
func TestInMemoryStoresLargeValues(t *testing.T) {
	db, err := Open("", Options{InMemory: true}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	ev := event(1, "checkout", time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC))
	ev.Annotations = map[string]string{"description": strings.Repeat("x", 64<<10)}
	seq, err := db.Append(ctx, ev)
	require.NoError(t, err)
	got, err := db.Read(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, seq, got[0].Seq)
	require.Equal(t, ev.Annotations, got[0].Event.Annotations)
}

func TestAppendRejectsInvalid(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	_, err := db.Append(t.Context(), event(1, "svc", time.Now()), collector.Event{ID: "x"})
	require.ErrorContains(t, err, "event 1: event has no source")
	evs, err := db.Read(t.Context(), 0, 10)
	require.NoError(t, err)
	require.Empty(t, evs, "nothing half-written")
}

// TestProjectionRoundTrip runs the projector over a real store, restarts
// it, and checks that queries and the restored state agree.
func TestProjectionRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

	run := func(evs ...collector.Event) *DB {
		db := open(t, dir)
		p, err := correlate.NewProjector(ctx, db, db, cfg, promslog.NewNopLogger(), prometheus.NewRegistry())
		require.NoError(t, err)
		ing := &correlate.Ingester{Log: db, Projector: p}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Run(pctx); close(done) }()
		for _, ev := range evs {
			require.NoError(t, ing.Ingest(ctx, ev))
		}
		cancel()
		<-done
		return db
	}
	var evs []collector.Event
	for i := range 30 {
		evs = append(evs, event(i, fmt.Sprintf("svc-%d", i%3), t0.Add(time.Duration(i)*time.Minute)))
	}
	db := run(evs[:20]...)
	cp, err := db.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, uint64(20), cp.Seq)
	require.NoError(t, db.Close())

	db = run(evs[20:]...)
	defer db.Close()
	var incs []*correlate.Incident
	var pages int
	cursor := ""
	for {
		var page []*correlate.Incident
		next := ""
		require.NoError(t, db.ScanIncidents(ctx, cursor, func(inc *correlate.Incident, c string) bool {
			if len(page) == 2 {
				return false
			}
			page = append(page, inc)
			next = c
			return true
		}))
		pages++
		incs = append(incs, page...)
		if len(page) < 2 {
			break
		}
		cursor = next
	}
	require.Len(t, incs, 3, "one incident per service")
	require.Equal(t, 2, pages, "3 incidents at 2 a page")
	for i := 1; i < len(incs); i++ {
		require.False(t, incs[i].StartedAt.After(incs[i-1].StartedAt), "newest first")
	}
	total := 0
	for _, inc := range incs {
		tl, err := db.Timeline(ctx, inc.ID)
		require.NoError(t, err)
		require.Len(t, tl, 10)
		require.Equal(t, inc.Entries, len(tl))
		for i := 1; i < len(tl); i++ {
			require.False(t, tl[i].At.Before(tl[i-1].At), "oldest first")
		}
		total += len(tl)
	}
	require.Equal(t, 30, total)

	var events []correlate.EventRecord
	require.NoError(t, db.ScanEvents(ctx, "", func(r correlate.EventRecord, _ string) bool {
		events = append(events, r)
		return true
	}))
	require.Len(t, events, 30)
	require.Equal(t, uint64(30), events[0].Seq, "newest first")
	for _, r := range events {
		require.NotEmpty(t, r.IncidentID)
	}
	_, err = db.Incident(ctx, "inc-nope")
	require.ErrorIs(t, err, correlate.ErrNotFound)
	require.ErrorIs(t, db.ScanEvents(ctx, "garbage!", func(correlate.EventRecord, string) bool { return true }), correlate.ErrBadCursor)
}
