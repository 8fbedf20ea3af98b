package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// retentionIncident is one alert of service firing at at and resolving
// ten minutes later: the two events of one incident.
func retentionIncident(i int, service string, at time.Time) []collector.Event {
	f := event(i, service, at)
	r := f
	end := at.Add(10 * time.Minute)
	r.ID = collector.EventID("alertmanager", f.Ref.Fingerprint, at.Format(time.RFC3339Nano), "resolved")
	r.Kind = collector.KindAlertResolved
	r.At = end
	r.Summary = "HighErrorRate resolved"
	r.Alert = &collector.Alert{Name: "HighErrorRate", Status: "resolved", StartsAt: at, EndsAt: end}
	return []collector.Event{f, r}
}

// later is n alerts of service "later" firing a second apart from at:
// enough log positions for the correlator's sweep (every 1024) to forget
// the incidents that settled before at.
func later(n int, at time.Time) []collector.Event {
	evs := make([]collector.Event, n)
	for i := range evs {
		evs[i] = event(100000+i, "later", at.Add(time.Duration(i)*time.Second))
	}
	return evs
}

// project applies everything in db's log to its projection.
func project(t *testing.T, db *DB) {
	t.Helper()
	p, err := correlate.NewProjector(t.Context(), db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, p.CatchUp(t.Context()))
}

// incidentSummary is what a user sees of every stored incident: its id,
// title, services and timeline (event ids in order).
func incidentSummary(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, db.ScanIncidents(t.Context(), "", func(inc *correlate.Incident, _ string) bool {
		tl, err := db.Timeline(t.Context(), inc.ID)
		require.NoError(t, err)
		var evs []string
		for _, e := range tl {
			evs = append(evs, e.EventID)
		}
		out[inc.ID] = fmt.Sprintf("%s %v %d events %v", inc.Title, inc.Services, len(evs), evs[:min(len(evs), 2)])
		return true
	}))
	return out
}

// keysNaming lists every stored key whose key or value holds s, but the
// timeline entries of other incidents: their reasons may cite it as it
// was when they were decided ("opened: inc-... began 3d earlier").
func keysNaming(t *testing.T, db *DB, s string) []string {
	t.Helper()
	var found []string
	require.NoError(t, db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			otherEntry := item.Key()[0] == pEntry && !bytes.HasPrefix(item.Key(), entryPrefix(s))
			if bytes.Contains(item.Key(), []byte(s)) || (!otherEntry && bytes.Contains(v, []byte(s))) {
				found = append(found, fmt.Sprintf("%q=%s", item.Key(), v))
			}
		}
		return nil
	}))
	return found
}

// TestRetentionRemovesExpiredIncidents: with a short retention.events, an
// incident whose events have all expired is removed with everything that
// names it, the others stay whole, and what is left is what a rebuild
// from the remaining log gives; a restart keeps it so.
func TestRetentionRemovesExpiredIncidents(t *testing.T) {
	const ttl = 6 * time.Second
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	db, err := Open(dir, Options{Retention: ttl}, promslog.NewNopLogger(), reg)
	require.NoError(t, err)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

	// Incident A is written with the short TTL; B (the same alert on the
	// same service three days later, so A is among its related
	// incidents) and C with retention switched off, as after a reload.
	_, err = db.Append(ctx, retentionIncident(1, "checkout", t0)...)
	require.NoError(t, err)
	written := time.Now()
	db.SetRetention(0)
	_, err = db.Append(ctx, retentionIncident(2, "checkout", t0.Add(72*time.Hour))...)
	require.NoError(t, err)
	_, err = db.Append(ctx, retentionIncident(3, "payments", t0.Add(144*time.Hour))...)
	require.NoError(t, err)
	_, err = db.Append(ctx, later(1100, t0.Add(200*time.Hour))...)
	require.NoError(t, err)
	project(t, db)

	before := incidentSummary(t, db)
	later := len(before) - 3
	var a string
	for id, s := range before {
		if bytes.Contains([]byte(s), []byte(retentionIncident(1, "checkout", t0)[0].ID)) {
			a = id
		}
	}
	require.NotEmpty(t, a, "incident A: %v", before)
	require.NotEmpty(t, keysNaming(t, db, a))

	// Before its events expire, a pass removes nothing (Badger's TTL is
	// in whole seconds: an entry may go up to a second early).
	n, err := db.RetainOnce(ctx, nil)
	require.NoError(t, err)
	if time.Since(written) < ttl-1500*time.Millisecond {
		require.Zero(t, n, "no event has expired yet")
		require.Equal(t, before, incidentSummary(t, db))
	} else {
		t.Logf("projection took %s: the pass before expiry was too late to tell", time.Since(written))
	}

	time.Sleep(time.Until(written.Add(ttl + 100*time.Millisecond)))
	n2, err := db.RetainOnce(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n+n2, "A removed once")

	after := incidentSummary(t, db)
	want := maps.Clone(before)
	delete(want, a)
	require.Equal(t, want, after, "B and C untouched")
	_, err = db.Incident(ctx, a)
	require.ErrorIs(t, err, correlate.ErrNotFound)
	require.Empty(t, keysNaming(t, db, a), "nothing of A is left: no alert, entry, list, signature or event index entry")
	var events []string
	require.NoError(t, db.ScanEvents(ctx, "", func(r correlate.EventRecord, _ string) bool {
		require.NotEqual(t, a, r.IncidentID)
		events = append(events, r.Event.ID)
		return true
	}))
	require.Len(t, events, 4+1100, "A's two events expired, the others remain")
	require.Equal(t, 1.0, testutil.ToFloat64(db.retain.removedTotal))
	require.Equal(t, float64(2+later), testutil.ToFloat64(db.retain.incidents))

	// What is left is what a rebuild from the remaining log gives.
	require.NoError(t, db.ResetProjection(ctx))
	project(t, db)
	require.Equal(t, after, incidentSummary(t, db), "same as a clean replay of the remaining log")

	// A second pass finds nothing; a restart keeps the result.
	n, err = db.RetainOnce(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, db.Close())
	db = open(t, dir)
	defer db.Close()
	_, err = correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	require.Equal(t, after, incidentSummary(t, db))
}

// TestRetentionRefusesStaleCommit: a projection commit prepared from an
// incident that a retention pass removed meanwhile (a correction read it
// just before) is refused once, so it cannot bring back part of it; the
// projector then applies its batch again from the committed state.
func TestRetentionRefusesStaleCommit(t *testing.T) {
	db, err := Open(t.TempDir(), Options{Retention: time.Second}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	_, err = db.Append(ctx, retentionIncident(1, "checkout", t0)...)
	require.NoError(t, err)
	db.SetRetention(0)
	_, err = db.Append(ctx, retentionIncident(2, "payments", t0.Add(72*time.Hour))...)
	require.NoError(t, err)
	_, err = db.Append(ctx, later(1100, t0.Add(200*time.Hour))...)
	require.NoError(t, err)
	project(t, db)
	var stale *correlate.Incident
	require.NoError(t, db.ScanIncidents(ctx, "", func(inc *correlate.Incident, _ string) bool {
		if slices.Contains(inc.Services, "checkout") {
			stale = inc
		}
		return true
	}))
	require.NotNil(t, stale)
	cp, err := db.Checkpoint()
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		n, err := db.RetainOnce(ctx, nil)
		require.NoError(t, err)
		return n == 1
	}, 10*time.Second, 100*time.Millisecond)

	stale.Title = "edited by a note"
	ch := &correlate.Changes{
		Checkpoint: correlate.Checkpoint{Seq: cp.Seq + 1},
		Incidents:  map[string]*correlate.Incident{stale.ID: stale},
	}
	err = db.Commit(ctx, ch)
	require.ErrorIs(t, err, errRemovedMeanwhile)
	require.Empty(t, keysNaming(t, db, stale.ID), "the refused commit wrote nothing")
	got, err := db.Checkpoint()
	require.NoError(t, err)
	require.Equal(t, cp, got, "the checkpoint did not move")
}

// TestRunRetentionAndGCOnTimers: the daemon's housekeeping loops run by
// themselves: retention removes an expired incident, and value-log GC
// passes are counted, within a few short intervals.
func TestRunRetentionAndGCOnTimers(t *testing.T) {
	reg := prometheus.NewRegistry()
	db, err := Open(t.TempDir(), Options{Retention: time.Second, GCInterval: 50 * time.Millisecond}, promslog.NewNopLogger(), reg)
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	_, err = db.Append(ctx, retentionIncident(1, "checkout", t0)...)
	require.NoError(t, err)
	db.SetRetention(0)
	_, err = db.Append(ctx, retentionIncident(2, "payments", t0.Add(72*time.Hour))...)
	require.NoError(t, err)
	_, err = db.Append(ctx, later(1100, t0.Add(200*time.Hour))...)
	require.NoError(t, err)
	project(t, db)
	stored := len(incidentSummary(t, db))

	done := make(chan error, 2)
	go func() { done <- db.RunRetention(ctx, RetentionOptions{Interval: 50 * time.Millisecond}) }()
	go func() { done <- db.RunGC(ctx) }()
	require.Eventually(t, func() bool { return len(incidentSummary(t, db)) == stored-1 }, 10*time.Second, 50*time.Millisecond)
	require.Eventually(t, func() bool {
		var runs float64
		for _, r := range []string{"rewritten", "nothing"} {
			runs += testutil.ToFloat64(db.gcRuns.WithLabelValues(r))
		}
		return runs >= 2
	}, 10*time.Second, 50*time.Millisecond, "value-log GC runs on its timer")
	require.Positive(t, testutil.ToFloat64(db.retain.lastRun))
	cancel()
	for range 2 {
		require.NoError(t, <-done)
	}
}

// A failed read of the log keeps the incident: "not held" is only ever a
// real answer.
func TestRetentionKeepsOnReadError(t *testing.T) {
	db, err := Open(t.TempDir(), Options{Retention: time.Second}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	_, err = db.Append(ctx, retentionIncident(1, "checkout", t0)...)
	require.NoError(t, err)
	db.SetRetention(0)
	_, err = db.Append(ctx, retentionIncident(2, "payments", t0.Add(72*time.Hour))...)
	require.NoError(t, err)
	_, err = db.Append(ctx, later(1100, t0.Add(200*time.Hour))...)
	require.NoError(t, err)
	project(t, db)
	stored := len(incidentSummary(t, db))
	time.Sleep(1100 * time.Millisecond)
	broken := errors.New("stream unreachable")
	n, err := db.RetainOnce(ctx, func(context.Context, string) (bool, error) { return false, broken })
	require.ErrorIs(t, err, broken)
	require.Zero(t, n)
	require.Len(t, incidentSummary(t, db), stored)
}
