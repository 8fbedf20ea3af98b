package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// resetScenario appends n alert events over a few services, firing and
// resolving, starting at event-time offset from.
func resetScenario(from, n int) []collector.Event {
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	var evs []collector.Event
	for i := from; i < from+n; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		svc := fmt.Sprint("svc-", i%7)
		evs = append(evs, alertEvent(svc, fmt.Sprint("i", i%13), "firing", at, time.Time{}))
		if i%3 == 0 {
			evs = append(evs, alertEvent(svc, fmt.Sprint("i", i%13), "resolved", at, at.Add(30*time.Second)))
		}
	}
	return evs
}

// referenceSnapshot is the projection a fresh store makes of db's log.
func referenceSnapshot(t *testing.T, db *DB) string {
	t.Helper()
	logged, err := db.Read(t.Context(), 0, 1<<20)
	require.NoError(t, err)
	var groups [][]collector.Event
	for _, le := range logged {
		groups = append(groups, []collector.Event{le.Event})
	}
	ref, err := Open("", Options{InMemory: true}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	defer func() { _ = ref.Close() }()
	require.Zero(t, projectEach(t, ref, ref, groups))
	return snapshot(t, ref)
}

// TestRebuildWhileIngesting: a recorrelation while events keep coming
// in answers every sender (it does not hold them for the replay), and
// once it has caught up the incidents equal those a fresh store makes of
// the same log.
func TestRebuildWhileIngesting(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	db := open(t, t.TempDir())
	defer func() { _ = db.Close() }()
	p, err := correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	db.SetInliner(p)
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = p.Run(ctx) }()
	defer func() { cancel(); <-runDone }()
	sink := &correlate.Ingester{Log: db, Projector: p}
	for _, ev := range resetScenario(0, 600) {
		require.NoError(t, sink.Ingest(ctx, ev))
	}

	var wg sync.WaitGroup
	rebuilt := make(chan error, 1)
	wg.Go(func() { rebuilt <- p.Rebuild(ctx) })
	during := resetScenario(600, 300)
	for _, ev := range during {
		require.NoError(t, sink.Ingest(ctx, ev))
	}
	wg.Wait()
	require.NoError(t, <-rebuilt)
	for _, ev := range resetScenario(900, 20) {
		require.NoError(t, sink.Ingest(ctx, ev))
	}
	head, err := db.readHead()
	require.NoError(t, err)
	require.NoError(t, p.WaitApplied(ctx, head))
	require.Equal(t, referenceSnapshot(t, db), snapshot(t, db))
}

// TestResetFinishedAfterCrash: a reset interrupted past its reset point
// (the marker set, old incidents still there) is finished by Open, and
// the rebuild gives the incidents of a fresh store.
func TestResetFinishedAfterCrash(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := open(t, dir)
	p, err := correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	db.SetInliner(p)
	_, err = db.Append(ctx, resetScenario(0, 300)...)
	require.NoError(t, err)
	require.NoError(t, p.CatchUp(ctx))
	st, err := db.LoadState(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, st.Live)
	require.NoError(t, db.Badger().Update(func(txn *badger.Txn) error { return txn.Set(keyResetting, nil) }))
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer func() { _ = db.Close() }()
	st, err = db.LoadState(ctx)
	require.NoError(t, err)
	require.Empty(t, st.Live, "the old projection is gone")
	require.Zero(t, st.Checkpoint.Seq)
	p, err = correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, p.CatchUp(ctx))
	require.Equal(t, referenceSnapshot(t, db), snapshot(t, db))
}
