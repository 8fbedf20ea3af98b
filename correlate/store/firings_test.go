package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// fired is FirstFiring that fails the test on a read error.
func fired(t *testing.T, db *DB, fp string, from, to time.Time) (time.Time, bool) {
	t.Helper()
	got, err := db.FirstFiring(t.Context(), fp, from, to)
	require.NoError(t, err)
	return got, !got.IsZero()
}

// TestFirstFiring: firing starts committed with the projection are found
// by fingerprint and window, survive a reopen, and go with a rebuild.
func TestFirstFiring(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	a, b := event(1, "checkout", t0), event(1, "checkout", t0.Add(time.Hour))
	other := event(2, "checkout", t0.Add(30*time.Minute))
	ch := &correlate.Changes{Checkpoint: correlate.Checkpoint{Seq: 3}}
	for i, ev := range []*collector.Event{&a, &b, &other} {
		ch.Entries = append(ch.Entries, correlate.Entry{ID: correlate.EntryID(ev.ID), IncidentID: "inc-x", Seq: uint64(i + 1), EventID: ev.ID, At: ev.At, Ref: ev.Ref})
	}
	require.NoError(t, db.Commit(t.Context(), ch))
	fp := a.Ref.Fingerprint

	got, ok := fired(t, db, fp, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	require.True(t, ok)
	require.Equal(t, t0, got, "the earliest in the window")
	got, ok = fired(t, db, fp, t0.Add(time.Minute), t0.Add(2*time.Hour))
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Hour), got)
	_, ok = fired(t, db, fp, t0.Add(time.Minute), t0.Add(time.Hour))
	require.False(t, ok, "the end of the window is excluded")
	_, ok = fired(t, db, fp, t0.Add(-3*time.Hour), t0)
	require.False(t, ok)
	_, ok = fired(t, db, other.Ref.Fingerprint, t0, t0.Add(20*time.Minute))
	require.False(t, ok, "another alert's firing does not count")

	require.NoError(t, db.Close())
	db = open(t, dir)
	defer db.Close()
	_, ok = fired(t, db, fp, t0, t0.Add(time.Minute))
	require.True(t, ok, "kept across a restart")
	require.NoError(t, db.ResetProjection(t.Context()))
	_, ok = fired(t, db, fp, t0, t0.Add(time.Minute))
	require.False(t, ok, "part of the projection: a rebuild starts it again")
}
