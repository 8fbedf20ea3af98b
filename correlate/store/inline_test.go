package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// TestInlineCommit: with the projector as the store's Inliner, an
// Append returns with its events already correlated and committed with
// their checkpoint (one commit, no projector step in between), across a
// restart too; a batch too large for one transaction is left to the
// projector; and the incidents equal those the projector alone makes of
// the same log (correlation is a function of the log, whatever commits
// it).
func TestInlineCommit(t *testing.T) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	m := func(d time.Duration) time.Time { return t0.Add(d) }
	min := time.Minute
	dir := t.TempDir()
	db := open(t, dir)
	newProjector := func(db *DB) *correlate.Projector {
		p, err := correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
		require.NoError(t, err)
		return p
	}
	p := newProjector(db)
	db.SetInliner(p)

	var log [][]collector.Event
	// appendInline appends evs and checks that the projection covers
	// them when Append returns.
	appendInline := func(evs ...collector.Event) {
		t.Helper()
		seq, err := db.Append(ctx, evs...)
		require.NoError(t, err)
		cp, err := db.Checkpoint()
		require.NoError(t, err)
		require.Equal(t, seq, cp.Seq, "the checkpoint committed with the events")
		require.Equal(t, seq, p.Applied())
		log = append(log, evs)
	}
	idOf := func(ev collector.Event) string {
		t.Helper()
		id, err := db.IncidentOfEvent(ctx, ev.ID)
		require.NoError(t, err)
		require.NotEmpty(t, id, "event %s is on an incident", ev.ID)
		return id
	}

	first := alertEvent("checkout", "a", "firing", m(0), time.Time{})
	appendInline(first)
	idOf(first) // read-your-writes: on an incident as soon as Append returns
	appendInline(alertEvent("checkout", "a", "resolved", m(0), m(10*min)), alertEvent("search", "x", "firing", m(80*min), time.Time{}))
	appendInline(collector.Event{ID: collector.EventID("deploy", "d-1", "succeeded"), Source: collector.SourceDeploy, Kind: "deploy.succeeded",
		At: m(90 * min), ReceivedAt: m(90 * min), Service: "checkout", Summary: "checkout deploy succeeded", Ref: collector.Ref{DeployID: "d-1"}})
	again := alertEvent("checkout", "a", "firing", m(95*min), time.Time{})
	billing := alertEvent("billing", "b", "firing", m(96*min), time.Time{})
	appendInline(again, billing)
	appendInline(first) // a duplicate only
	appendInline(correctionEvent(correlate.KindIncidentMerged, idOf(again), again.ID, m(100*min),
		map[string]string{correlate.LabelFrom: idOf(billing), correlate.LabelFromAnchors: billing.ID}))

	// A restart: the new projector is at the head, so inline goes on.
	require.NoError(t, db.Close())
	db = open(t, dir)
	defer func() { _ = db.Close() }()
	p = newProjector(db)
	db.SetInliner(p)
	appendInline(alertEvent("billing", "b2", "firing", m(102*min), time.Time{}))
	seq, err := db.Append(ctx, alertEvent("billing", "b2", "firing", m(102*min), time.Time{}))
	require.NoError(t, err)
	require.Equal(t, p.Applied(), seq, "a repeat adds nothing and is answered at once")

	// Events that fit in one transaction with changes that do not: the
	// changes are committed right after them, before Append returns.
	// Sized from the store's own limit on one transaction.
	maxSize, _ := db.txnLimits()
	sample, err := json.Marshal(alertEvent("search", "y0", "firing", m(24*time.Hour), time.Time{}))
	require.NoError(t, err)
	perEvent, _ := db.entrySize(eventKey(1), sample)
	// (Less than half of it: each event is written with its index
	// keys, index.go.)
	fits := int(maxSize * 4 / 10 / perEvent)
	var big []collector.Event
	for i := range fits {
		big = append(big, alertEvent("search", fmt.Sprint("y", i), "firing", m(24*time.Hour), time.Time{}))
	}
	appendInline(big...)
	// More events than one transaction holds (in one request: a
	// backfill): stored, then applied by the projector.
	big = nil
	for i := range 3 * fits {
		big = append(big, alertEvent("search", fmt.Sprint("z", i), "firing", m(25*time.Hour), time.Time{}))
	}
	seq, err = db.Append(ctx, big...)
	require.NoError(t, err)
	log = append(log, big)
	require.Less(t, p.Applied(), seq, "too large to apply inline")
	require.NoError(t, p.CatchUp(ctx))
	require.Equal(t, seq, p.Applied())
	// Caught up again: the next batch is inline.
	appendInline(correctionEvent(correlate.KindNote, idOf(first), first.ID, m(25*time.Hour+min), nil))

	ref, err := Open("", Options{InMemory: true}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	defer func() { _ = ref.Close() }()
	require.Zero(t, projectEach(t, ref, ref, log))
	require.Equal(t, snapshot(t, ref), snapshot(t, db))
}
