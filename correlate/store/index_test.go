package store

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
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

// indexCorpus appends n events over three sources and four services (some
// without one), with event times out of log order as a backfill gives,
// and returns them by position.
func indexCorpus(t *testing.T, db *DB, n int) []correlate.LoggedEvent {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	sources := []string{collector.SourceAlertmanager, collector.SourceDeploy, collector.SourcePagerDuty}
	services := []string{"checkout", "search", "payments", ""}
	var evs []collector.Event
	for i := range n {
		ev := event(i, services[rng.IntN(len(services))], t0.Add(time.Duration(rng.IntN(3600))*time.Second))
		ev.Source = sources[rng.IntN(len(sources))]
		evs = append(evs, ev)
	}
	// In several calls, so that the group commit writes several batches.
	for i := 0; i < len(evs); i += 37 {
		_, err := db.Append(t.Context(), evs[i:min(i+37, len(evs))]...)
		require.NoError(t, err)
	}
	logged, err := db.Read(t.Context(), 0, n+1)
	require.NoError(t, err)
	require.Len(t, logged, n)
	return logged
}

// want is what a query must list: the matching events, newest first by
// event time, then by position.
func want(all []correlate.LoggedEvent, q correlate.EventQuery) []uint64 {
	var out []correlate.LoggedEvent
	for _, le := range all {
		ev := le.Event
		if (q.Source != "" && ev.Source != q.Source) || (q.Service != "" && ev.Service != q.Service) ||
			(!q.Since.IsZero() && ev.At.Before(q.Since)) || (!q.Until.IsZero() && ev.At.After(q.Until)) {
			continue
		}
		out = append(out, le)
	}
	slices.SortFunc(out, func(a, b correlate.LoggedEvent) int {
		return cmp.Or(b.Event.At.Compare(a.Event.At), cmp.Compare(b.Seq, a.Seq))
	})
	seqs := []uint64{}
	for _, le := range out {
		seqs = append(seqs, le.Seq)
	}
	return seqs
}

// pages lists a query page by page through its cursors, pageSize
// candidates at a time, filtering them as the API does.
func pages(t *testing.T, db *DB, q correlate.EventQuery, pageSize int) []uint64 {
	t.Helper()
	got := []uint64{}
	cursor := ""
	for range 10000 {
		n, next := 0, ""
		err := db.QueryEvents(t.Context(), q, cursor, func(r correlate.EventRecord, cur string) bool {
			// The caller filters what the index does not (the source,
			// when the service index answers).
			if len(want([]correlate.LoggedEvent{r.LoggedEvent}, q)) == 1 {
				got = append(got, r.Seq)
			}
			n++
			next = cur
			return n < pageSize
		})
		require.NoError(t, err)
		if n < pageSize {
			return got
		}
		cursor = next
	}
	t.Fatal("the cursor never reached the end")
	return nil
}

func eventQueries(t0 time.Time) []correlate.EventQuery {
	since, until := t0.Add(20*time.Minute), t0.Add(40*time.Minute)
	var qs []correlate.EventQuery
	for _, src := range []string{"", collector.SourceDeploy, collector.SourceAlertmanager, "nosuchsource"} {
		for _, svc := range []string{"", "checkout", "payments", "nosuchservice"} {
			for _, b := range [][2]time.Time{{}, {since, time.Time{}}, {time.Time{}, until}, {since, until}, {until, since}} {
				qs = append(qs, correlate.EventQuery{Source: src, Service: svc, Since: b[0], Until: b[1]})
			}
		}
	}
	return qs
}

// Every combination of source, service and time bounds lists exactly the
// events a filter of the whole log finds, in order, whatever the page
// size, and a cursor of one query is refused by another.
func TestQueryEventsMatchesAFilterOfTheLog(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	all := indexCorpus(t, db, 600)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range eventQueries(t0) {
		name := fmt.Sprintf("source=%s,service=%s,since=%v,until=%v", q.Source, q.Service, !q.Since.IsZero(), !q.Until.IsZero())
		exp := want(all, q)
		for _, size := range []int{1, 7, 1000} {
			require.Equal(t, exp, pages(t, db, q, size), "%s, pages of %d", name, size)
		}
	}

	var cur string
	require.NoError(t, db.QueryEvents(t.Context(), correlate.EventQuery{Source: collector.SourceDeploy}, "", func(_ correlate.EventRecord, c string) bool {
		cur = c
		return false
	}))
	err := db.QueryEvents(t.Context(), correlate.EventQuery{Service: "checkout"}, cur, func(correlate.EventRecord, string) bool { return true })
	require.ErrorIs(t, err, correlate.ErrBadCursor)
}

// A store written before the indexes existed gets them when it is opened,
// and answers the same as one that always had them.
func TestEventIndexBuiltForAnOlderStore(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	all := indexCorpus(t, db, 300)
	// What an older version leaves: the events without index or marker.
	require.NoError(t, db.db.DropPrefix([]byte{pEventIndex}))
	require.NoError(t, db.db.Update(func(txn *badger.Txn) error { return txn.Delete(keyEventIndex) }))
	q := correlate.EventQuery{Source: collector.SourceDeploy}
	require.Empty(t, pages(t, db, q, 50))
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range eventQueries(t0) {
		require.Equal(t, want(all, q), pages(t, db, q, 50), "%+v", q)
	}
	// And new events are indexed as they are written.
	ev := event(100000, "checkout", t0.Add(2*time.Hour))
	ev.Source = collector.SourceDeploy
	seq, err := db.Append(t.Context(), ev)
	require.NoError(t, err)
	got := pages(t, db, correlate.EventQuery{Source: collector.SourceDeploy, Service: "checkout"}, 10)
	require.Equal(t, seq, got[0])
}

// A store whose incidents were written before the incident indexes
// existed gets them when it is opened: every query lists what it listed
// on a store that always had them.
func TestIncidentIndexBuiltForAnOlderStore(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := open(t, dir)
	p, err := correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	for i := range 60 {
		// Hours apart, so that each opens an incident of its own.
		_, err := db.Append(ctx, event(i, fmt.Sprintf("svc-%d", i%4), t0.Add(time.Duration(i)*3*time.Hour)))
		require.NoError(t, err)
	}
	require.NoError(t, p.CatchUp(ctx))

	queries := []correlate.IncidentQuery{
		{}, {Service: "svc-1"}, {Open: true, OpenSince: t0.Add(100 * time.Hour)},
		{Since: t0.Add(150 * time.Hour)}, {Service: "svc-2", Since: t0.Add(60 * time.Hour), Until: t0.Add(120 * time.Hour)},
	}
	answers := func(db *DB) [][]string {
		var out [][]string
		for _, q := range queries {
			ids := []string{}
			require.NoError(t, db.QueryIncidents(ctx, q, "", func(inc *correlate.Incident, _ string) bool {
				ids = append(ids, inc.ID)
				return true
			}))
			out = append(out, ids)
		}
		return out
	}
	before := answers(db)
	require.Greater(t, len(before[0]), 10)
	require.NotEmpty(t, before[1])
	require.Less(t, len(before[1]), len(before[0]))
	require.NoError(t, db.db.DropPrefix([]byte{pIncIndex}))
	require.NoError(t, db.db.Update(func(txn *badger.Txn) error { return txn.Delete(keyIncidentIndex) }))
	require.Empty(t, answers(db)[1], "the service index is gone")
	require.NoError(t, db.Close())

	db = open(t, dir)
	defer db.Close()
	require.Equal(t, before, answers(db))
}
