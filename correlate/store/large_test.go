package store

import (
	"context"
	"fmt"
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

// TestAppendLargerThanATransaction: one call with more events than one
// Badger transaction holds (an Alertmanager notification of a storm) is
// stored whole, in order, and a retry of it stores nothing twice.
func TestAppendLargerThanATransaction(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	ctx := t.Context()
	_, maxCount := db.txnLimits()
	n := int(maxCount) // two entries an event: two transactions' worth
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	evs := make([]collector.Event, n)
	for i := range evs {
		evs[i] = event(i, fmt.Sprintf("svc-%d", i%40), t0.Add(time.Duration(i)*time.Millisecond))
	}
	seq, err := db.Append(ctx, evs...)
	require.NoError(t, err)
	require.Equal(t, uint64(n), seq)

	got, err := db.Read(ctx, 0, 2*n)
	require.NoError(t, err)
	require.Len(t, got, n)
	for i, le := range got {
		require.Equal(t, uint64(i+1), le.Seq)
		require.Equal(t, evs[i].ID, le.Event.ID, "in the order of the request")
	}

	seq, err = db.Append(ctx, evs...)
	require.NoError(t, err, "the retry of a stored request")
	require.Equal(t, uint64(n), seq, "adds nothing")
	more := append(evs[n-10:], event(n, "svc", t0))
	seq, err = db.Append(ctx, more...)
	require.NoError(t, err)
	require.Equal(t, uint64(n+1), seq, "only the new event of a partly stored request")
}

// bigChanges is a projection commit that moves entries entries of one
// incident to another, as a merge of large incidents does.
func bigChanges(entries int, seq uint64) *correlate.Changes {
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	ch := &correlate.Changes{
		Checkpoint: correlate.Checkpoint{Seq: seq},
		Incidents: map[string]*correlate.Incident{
			"inc-a": {ID: "inc-a", Title: "A", StartedAt: t0, Entries: entries},
			"inc-b": {ID: "inc-b", Title: "B", StartedAt: t0, MergedInto: "inc-a"},
		},
		Alerts: map[string]map[string]*correlate.AlertState{"inc-a": {}},
	}
	for i := range entries {
		ev := event(i, "checkout", t0.Add(time.Duration(i)*time.Second))
		ch.Entries = append(ch.Entries, correlate.Entry{ID: correlate.EntryID(ev.ID), IncidentID: "inc-a",
			Seq: uint64(i + 1), EventID: ev.ID, At: ev.At, Ref: ev.Ref, Summary: ev.Summary,
			Reasons: []string{"moved: alice merged inc-b into this incident"}})
		ch.RemovedEntries = append(ch.RemovedEntries, correlate.EntryRef{IncidentID: "inc-b", Seq: uint64(i + 1)})
		ch.Alerts["inc-a"][ev.Ref.Fingerprint] = &correlate.AlertState{Fingerprint: ev.Ref.Fingerprint, Service: "checkout"}
		ch.RemovedAlerts = append(ch.RemovedAlerts, correlate.AlertRef{IncidentID: "inc-b", Fingerprint: ev.Ref.Fingerprint})
	}
	return ch
}

// checkBigCommit requires the state bigChanges(entries, seq) leaves.
func checkBigCommit(t *testing.T, db *DB, entries int, seq uint64) {
	t.Helper()
	ctx := t.Context()
	cp, err := db.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, seq, cp.Seq)
	tl, err := db.Timeline(ctx, "inc-a")
	require.NoError(t, err)
	require.Len(t, tl, entries)
	inc, err := db.Incident(ctx, "inc-a")
	require.NoError(t, err)
	require.Len(t, inc.Alerts, entries)
	old, err := db.Incident(ctx, "inc-b")
	require.NoError(t, err)
	require.Equal(t, "inc-a", old.MergedInto)
	tl, err = db.Timeline(ctx, "inc-b")
	require.NoError(t, err)
	require.Empty(t, tl)
	staged := 0
	require.NoError(t, db.db.View(func(txn *badger.Txn) error {
		return scanPrefix(ctx, txn, []byte{pStaged}, false, func(_, _ []byte) error { staged++; return nil })
	}))
	require.Zero(t, staged, "no staged chunk is left behind")
}

// TestCommitLargerThanATransaction: a projection commit with more writes
// than one transaction holds (a merge that moves thousands of entries) is
// committed whole with its checkpoint.
func TestCommitLargerThanATransaction(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	_, maxCount := db.txnLimits()
	entries := int(maxCount) / 2 // six writes an entry: three transactions' worth
	require.NoError(t, db.Commit(t.Context(), bigChanges(entries, 7)))
	checkBigCommit(t, db, entries, 7)
}

// TestStagedCommitFinishedAfterCrash: a large commit interrupted after its
// commit point (the marker) is finished when the store opens again; one
// interrupted before it is not applied at all.
func TestStagedCommitFinishedAfterCrash(t *testing.T) {
	ctx := t.Context()
	probe := open(t, t.TempDir())
	_, maxCount := probe.txnLimits()
	require.NoError(t, probe.Close())
	entries := int(maxCount) / 2
	stage := func(db *DB, seq uint64) [][]op {
		var ops []op
		require.NoError(t, db.db.View(func(txn *badger.Txn) (err error) {
			ops, err = db.projectionOps(txn, bigChanges(entries, seq))
			return err
		}))
		ops = append(ops, op{key: keyCheckpoint, value: fmt.Appendf(nil, `{"seq":%d}`, seq)})
		runs, disk := db.chunks(ops)
		require.Greater(t, len(runs), 1, "the commit needs staging")
		for i, run := range runs {
			require.NoError(t, db.applyOps([]op{{key: stagedKey(uint32(i)), value: encodeOps(run)}}, disk[i]))
		}
		return runs
	}

	t.Run("after the commit point", func(t *testing.T) {
		dir := t.TempDir()
		db := open(t, dir)
		runs := stage(db, 9)
		require.NoError(t, db.applyOps([]op{{key: keyStaged, value: []byte{0, 0, 0, byte(len(runs))}}}, 0))
		// Part of it applied, then the crash.
		require.NoError(t, db.applyOps(runs[0], 0))
		require.NoError(t, db.Close())

		db = open(t, dir)
		defer db.Close()
		checkBigCommit(t, db, entries, 9)
	})
	t.Run("before the commit point", func(t *testing.T) {
		dir := t.TempDir()
		db := open(t, dir)
		stage(db, 9)
		require.NoError(t, db.Close())

		db = open(t, dir)
		defer db.Close()
		cp, err := db.Checkpoint()
		require.NoError(t, err)
		require.Zero(t, cp.Seq, "nothing committed")
		_, err = db.Incident(ctx, "inc-a")
		require.ErrorIs(t, err, correlate.ErrNotFound)
		// The next commit goes through, and leaves no leftover behind.
		require.NoError(t, db.Commit(ctx, bigChanges(entries, 11)))
		checkBigCommit(t, db, entries, 11)
	})
}

// TestMergeOfLargeIncidents: a person merges an incident of thousands of
// alerts into another; the projector commits the merge (more writes than
// one transaction holds) and the ingest of the merge returns.
func TestMergeOfLargeIncidents(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of events through the projector; skipped with -short")
	}
	db := open(t, t.TempDir())
	defer db.Close()
	ctx := t.Context()
	cfg := config.Default()
	cfg.Correlation.MaxAlerts = 100000
	cfg.Correlation.StormIncidents = 0
	p, err := correlate.NewProjector(ctx, db, db, cfg, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = p.Run(pctx); close(done) }()
	defer func() { stop(); <-done }()
	ing := &correlate.Ingester{Log: db, Projector: p}

	_, maxCount := db.txnLimits()
	n := int(maxCount) / 2
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	big := make([]collector.Event, n)
	for i := range big {
		big[i] = event(i, "search", t0.Add(time.Duration(i)*time.Millisecond))
	}
	small := event(n, "billing", t0.Add(time.Second))
	require.NoError(t, ing.Ingest(ctx, big...))
	require.NoError(t, ing.Ingest(ctx, small))
	from, err := db.IncidentOfEvent(ctx, big[0].ID)
	require.NoError(t, err)
	into, err := db.IncidentOfEvent(ctx, small.ID)
	require.NoError(t, err)
	require.NotEqual(t, from, into)

	at := t0.Add(time.Hour)
	merge := collector.Event{
		ID: collector.EventID("hindsight", into, correlate.KindIncidentMerged, at.Format(time.RFC3339Nano)), Source: collector.SourceHindsight,
		Kind: correlate.KindIncidentMerged, At: at, ReceivedAt: at, Summary: "alice merged " + from,
		Labels: map[string]string{correlate.LabelIncidentID: into, correlate.LabelAnchorEvent: small.ID, correlate.LabelAuthor: "alice",
			correlate.LabelFrom: from, correlate.LabelFromAnchors: big[0].ID},
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, ing.Ingest(wctx, merge), "the merge is committed")
	tl, err := db.Timeline(ctx, into)
	require.NoError(t, err)
	require.Len(t, tl, n+2, "every entry moved, beside the small incident's alert and the merge")
	inc, err := db.Incident(ctx, into)
	require.NoError(t, err)
	require.Len(t, inc.Alerts, n+1)
	tl, err = db.Timeline(ctx, from)
	require.NoError(t, err)
	require.Empty(t, tl)
}

// TestMovedEntriesLeaveTheirIncident: an entry a merge or split moves is
// deleted from the incident it left (its key holds its time, which the
// reference to it does not).
func TestMovedEntriesLeaveTheirIncident(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	var entries []correlate.Entry
	for i := range 3 {
		ev := event(i, "checkout", t0.Add(time.Duration(i)*time.Minute))
		entries = append(entries, correlate.Entry{ID: correlate.EntryID(ev.ID), IncidentID: "inc-b", Seq: uint64(i + 1), EventID: ev.ID, At: ev.At, Ref: ev.Ref})
	}
	require.NoError(t, db.Commit(ctx, &correlate.Changes{Checkpoint: correlate.Checkpoint{Seq: 3}, Entries: entries}))
	moved := entries[1]
	moved.IncidentID = "inc-a"
	require.NoError(t, db.Commit(ctx, &correlate.Changes{Checkpoint: correlate.Checkpoint{Seq: 4}, Entries: []correlate.Entry{moved},
		RemovedEntries: []correlate.EntryRef{{IncidentID: "inc-b", Seq: moved.Seq}}}))
	tl, err := db.Timeline(ctx, "inc-b")
	require.NoError(t, err)
	require.Equal(t, []string{entries[0].EventID, entries[2].EventID}, eventIDs(tl), "the moved entry is gone")
	tl, err = db.Timeline(ctx, "inc-a")
	require.NoError(t, err)
	require.Equal(t, []string{moved.EventID}, eventIDs(tl))
}

func eventIDs(tl correlate.Timeline) []string {
	var out []string
	for _, e := range tl {
		out = append(out, e.EventID)
	}
	return out
}
