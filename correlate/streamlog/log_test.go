package streamlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// An append is in the stream and in the copy when it returns, at the
// position it returned; appending it again stores nothing and returns the
// same position.
func TestAppendRead(t *testing.T) {
	c := natstest.Start(t, 1)
	r := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	ctx := t.Context()

	evs := alerts("a", 3)
	pos, err := r.log.Append(ctx, evs...)
	require.NoError(t, err)
	require.Equal(t, uint64(3), pos)
	got := readAll(t, r.log)
	require.Equal(t, []string{evs[0].ID, evs[1].ID, evs[2].ID}, ids(got))
	for i, le := range got {
		require.Equal(t, uint64(i+1), le.Seq)
		require.False(t, le.Event.ReceivedAt.IsZero(), "reception time stamped")
		require.True(t, le.Event.At.Equal(evs[i].At))
	}

	again, err := r.log.Append(ctx, evs[1])
	require.NoError(t, err)
	require.Equal(t, uint64(2), again, "the position of the event's first copy")
	require.Equal(t, uint64(3), streamState(t, r.nc, streamlog.DefaultStream).Msgs, "nothing published again")
	require.InDelta(t, 1, metric(t, r, "hindsight_log_events_known_total"), 0)

	// Read from a position in the middle, and a limit.
	part, err := r.log.Read(ctx, 1, 1)
	require.NoError(t, err)
	require.Equal(t, []string{evs[1].ID}, ids(part))

	// Invalid events are refused before anything is published.
	bad := alert("checkout", "x", t0)
	bad.Kind = ""
	_, err = r.log.Append(ctx, evs[0], bad)
	require.ErrorContains(t, err, "event 1: event has no kind")
	require.NotErrorIs(t, err, collector.ErrUnavailable)
}

// The stream Open creates has the settings the package doc promises.
func TestStreamSettings(t *testing.T) {
	c := natstest.Start(t, 1)
	r := openReplica(t, c.URLs(), streamlog.Options{Stream: "HS_TEST", Replicas: 1, Retention: 24 * time.Hour, DuplicateWindow: 5 * time.Minute, MaxBytes: 1 << 30})
	js, err := jetstream.New(r.nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), "HS_TEST")
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	require.Equal(t, []string{"HS_TEST.>"}, cfg.Subjects)
	require.Equal(t, jetstream.FileStorage, cfg.Storage)
	require.Equal(t, jetstream.LimitsPolicy, cfg.Retention)
	require.Equal(t, jetstream.DiscardNew, cfg.Discard, "a full stream refuses new events instead of dropping old ones")
	require.Equal(t, 24*time.Hour, cfg.MaxAge)
	require.Equal(t, int64(1<<30), cfg.MaxBytes)
	require.Equal(t, 5*time.Minute, cfg.Duplicates)
	require.True(t, cfg.DenyDelete)
	require.True(t, cfg.DenyPurge)
	require.Equal(t, 1, cfg.Replicas)

	// A stream that does not capture where events go is refused, by name.
	_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}})
	require.NoError(t, err)
	l, err := streamlog.Open(r.nc, streamlog.Options{Stream: "OTHER", Replicas: 1, InMemory: true}, logger(), nil)
	require.NoError(t, err)
	defer l.Close()
	err = l.WaitReady(t.Context())
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
	require.ErrorContains(t, err, `"OTHER.>"`)
	_, err = l.Append(t.Context(), alert("checkout", "x", t0))
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
}

// Two replicas on different nodes of a three-node cluster append at the
// same time; both read every acknowledged event once, in the same order.
func TestConcurrentAppendsSameOrder(t *testing.T) {
	c := natstest.Start(t, 3)
	a := openReplica(t, c.Servers[0].URL(), streamlog.Options{Replicas: 3})
	b := openReplica(t, c.Servers[1].URL(), streamlog.Options{Replicas: 3})

	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	var top uint64
	for w := range writers {
		r := a
		if w%2 == 1 {
			r = b
		}
		wg.Go(func() {
			for i := range perWriter {
				// Two events per call, one of them also sent by the
				// writer on the other replica (Alertmanager HA pairs do).
				own := alert("checkout", fmt.Sprintf("w%d-%d", w, i), t0)
				shared := alert("payments", fmt.Sprintf("s%d-%d", w/2, i), t0)
				pos, err := r.log.Append(context.Background(), own, shared)
				if !errors.Is(err, nil) {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, own.ID, shared.ID)
				top = max(top, pos)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitCopied(t, a, top)
	waitCopied(t, b, top)
	ga, gb := readAll(t, a.log), readAll(t, b.log)
	require.Equal(t, ga, gb, "both replicas read the same events at the same positions")
	got := ids(ga)
	for _, id := range acked {
		require.Contains(t, got, id)
	}
	seen := map[string]bool{}
	for _, id := range got {
		require.False(t, seen[id], "event %s read twice", id)
		seen[id] = true
	}
	require.Len(t, got, writers*perWriter+writers/2*perWriter)
	for i := 1; i < len(ga); i++ {
		require.Less(t, ga[i-1].Seq, ga[i].Seq)
	}
}

// Within the duplicate window, JetStream stores an event published twice
// (by two replicas at once, or a retry) once.
func TestDuplicateWithinWindowStoredOnce(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	b := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	ev := alert("checkout", "dup", t0)

	var wg sync.WaitGroup
	var pa, pb uint64
	var ea, eb error
	wg.Go(func() { pa, ea = a.log.Append(context.Background(), ev) })
	wg.Go(func() { pb, eb = b.log.Append(context.Background(), ev) })
	wg.Wait()
	require.NoError(t, ea)
	require.NoError(t, eb)
	require.Equal(t, pa, pb)

	// A replica whose copy lags publishes it once more: still one.
	ack := publishRaw(t, a.nc, ev)
	require.True(t, ack.Duplicate)
	require.Equal(t, pa, ack.Sequence)
	require.Equal(t, uint64(1), streamState(t, a.nc, streamlog.DefaultStream).Msgs)
}

// Beyond the duplicate window, a replica that already copied the event
// publishes nothing; one whose copy lagged publishes a second copy, which
// every replica, old or new, skips, so the projection applies the event
// once.
func TestDuplicateBeyondWindowAppliedOnce(t *testing.T) {
	c := natstest.Start(t, 1)
	o := streamlog.Options{Replicas: 1, DuplicateWindow: 500 * time.Millisecond}
	a := openReplica(t, c.URLs(), o)
	pa := startProjection(t, a.log)
	ctx := t.Context()

	first := alert("checkout", "late", t0)
	pos, err := a.log.Append(ctx, first)
	require.NoError(t, err)
	time.Sleep(time.Second) // past the window

	again, err := a.log.Append(ctx, first)
	require.NoError(t, err)
	require.Equal(t, pos, again)
	require.Equal(t, uint64(1), streamState(t, a.nc, streamlog.DefaultStream).Msgs, "the copy knew it: nothing published")

	ack := publishRaw(t, a.nc, first)
	require.False(t, ack.Duplicate, "past the window JetStream takes it")
	other := alert("checkout", "other", t0.Add(time.Minute))
	last, err := a.log.Append(ctx, other)
	require.NoError(t, err)
	require.Equal(t, ack.Sequence+1, last)
	require.Equal(t, uint64(3), streamState(t, a.nc, streamlog.DefaultStream).Msgs)

	// Applied once, on the replica that saw it come and on one that
	// copies the stream from scratch.
	require.NoError(t, pa.proj.WaitApplied(ctx, last))
	b := openReplica(t, c.URLs(), o)
	waitCopied(t, b, last)
	require.Equal(t, []string{first.ID, other.ID}, ids(readAll(t, b.log)))
	require.Equal(t, readAll(t, a.log), readAll(t, b.log))
	pb := startProjection(t, b.log)
	require.NoError(t, pb.proj.WaitApplied(ctx, last))
	for _, p := range []*projection{pa, pb} {
		tls := p.timelines(t)
		require.Len(t, tls, 1)
		for _, tl := range tls {
			require.Equal(t, []string{first.ID, other.ID}, tl, "one entry per event")
		}
	}
	require.InDelta(t, 1, metric(t, b, "hindsight_log_stream_duplicates_total"), 0)

	// The position after the skipped copy is applied: no lag.
	require.Zero(t, a.log.Lag(pa.proj.Applied()))
}

// publishRaw publishes ev the way Append does, bypassing the copy's
// knowledge: what a replica whose copy lags behind sends.
func publishRaw(t testing.TB, nc *nats.Conn, ev collector.Event) *jetstream.PubAck {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ev.ReceivedAt = time.Now().UTC()
	data, err := json.Marshal(&ev)
	require.NoError(t, err)
	ack, err := js.Publish(t.Context(), streamlog.DefaultStream+"."+ev.Source, data, jetstream.WithMsgID(ev.ID))
	require.NoError(t, err)
	return ack
}

// metric reads a counter or gauge of the replica's registry.
func metric(t testing.TB, r *replica, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// The same against the nats-server this module embeds (a newer release
// than Debian's): appends, reads, and a second copy past the window
// skipped.
func TestEmbeddedServer(t *testing.T) {
	s := natstest.Embedded(t, false)
	o := streamlog.Options{Replicas: 1, DuplicateWindow: 200 * time.Millisecond}
	a := openReplica(t, s.ClientURL(), o)
	evs := alerts("e", 5)
	pos, err := a.log.Append(t.Context(), evs...)
	require.NoError(t, err)
	require.Equal(t, uint64(5), pos)
	time.Sleep(400 * time.Millisecond)
	publishRaw(t, a.nc, evs[2])
	b := openReplica(t, s.ClientURL(), o)
	waitCopied(t, b, 6)
	require.Equal(t, readAll(t, a.log), readAll(t, b.log))
	require.Len(t, readAll(t, b.log), 5)
}

// A full stream (max bytes reached) refuses new events with a retryable
// error and keeps the old ones: discard new, never old.
func TestFullStreamRefusesNewEvents(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1, MaxBytes: 8 << 10})
	var stored []string
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		ev := alert("checkout", fmt.Sprintf("full-%d", i), t0)
		if _, err = a.log.Append(t.Context(), ev); err == nil {
			stored = append(stored, ev.ID)
		}
	}
	require.Error(t, err, "the stream filled up")
	t.Log(err)
	require.ErrorIs(t, err, collector.ErrUnavailable)
	require.NotEmpty(t, stored)
	require.Equal(t, stored, ids(readAll(t, a.log)), "nothing acknowledged was dropped")
	require.Equal(t, uint64(1), streamState(t, a.nc, streamlog.DefaultStream).FirstSeq)
}

// The replica's store answers the events API from the copy, newest
// first, page by page, with the incident each event joined; and finds the
// incident of an event for corrections.
func TestStoreEventsAndLookup(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	p := startProjection(t, a.log)
	evs := alerts("s", 5)
	top, err := a.log.Append(t.Context(), evs...)
	require.NoError(t, err)
	require.NoError(t, p.proj.WaitApplied(t.Context(), top))

	var got []correlate.EventRecord
	cursor := ""
	for {
		var page []correlate.EventRecord
		next := ""
		require.NoError(t, p.db.ScanEvents(t.Context(), cursor, func(r correlate.EventRecord, cur string) bool {
			page = append(page, r)
			next = cur
			return len(page) < 2
		}))
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		cursor = next
	}
	require.Len(t, got, 5)
	for i, r := range got {
		require.Equal(t, evs[4-i].ID, r.Event.ID, "newest first")
		require.Equal(t, uint64(5-i), r.Seq)
		require.NotEmpty(t, r.IncidentID)
		inc, err := p.db.IncidentOfEvent(t.Context(), r.Event.ID)
		require.NoError(t, err)
		require.Equal(t, r.IncidentID, inc)
	}
	inc, err := p.db.IncidentOfEvent(t.Context(), "no-such-event")
	require.NoError(t, err)
	require.Empty(t, inc)
	err = p.db.ScanEvents(t.Context(), "bogus", func(correlate.EventRecord, string) bool { return true })
	require.ErrorIs(t, err, correlate.ErrBadCursor)
}
