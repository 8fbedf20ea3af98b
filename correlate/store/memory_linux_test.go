package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

// TestMappedPagesGivenBack: the tables a store writes are mapped into
// the process and stay resident (VmRSS) until the store gives their
// pages back; after pageOut most of them are gone from the resident set,
// the data is still read back whole, and the size metric shows where the
// bytes are.
func TestMappedPagesGivenBack(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	db, err := Open(t.TempDir(), Options{}, promslog.NewNopLogger(), reg)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	const n = 40000
	for i := 0; i < n; i += 500 {
		var evs []collector.Event
		for j := i; j < i+500; j++ {
			ev := event(j, "svc", t0.Add(time.Duration(j)*time.Second))
			ev.Labels["description"] = strings.Repeat(fmt.Sprint(j), 80) // ~1 KB, not all alike
			evs = append(evs, ev)
		}
		_, err := db.Append(ctx, evs...)
		require.NoError(t, err)
	}
	// Flush the memtables into tables.
	require.NoError(t, db.Badger().Flatten(1))
	tables := func(path string) bool { return db.trimmable(path) && strings.HasSuffix(path, ".sst") }
	before, err := residentOf(tables)
	require.NoError(t, err)
	require.Positive(t, before, "the tables written are mapped and resident")

	_, err = pageOut(db.trimmable)
	require.NoError(t, err)
	after, err := residentOf(tables)
	require.NoError(t, err)
	require.Less(t, after, before/4, "most table pages are given back (before %d, after %d)", before, after)

	evs, err := db.Read(ctx, 0, n+1)
	require.NoError(t, err)
	require.Len(t, evs, n)
	require.Equal(t, strings.Repeat(fmt.Sprint(n-1), 80), evs[n-1].Event.Labels["description"])

	require.Positive(t, gaugeValue(t, reg, "hindsight_store_size_bytes", "tables"))
}

// gaugeValue is the value of the gauge name whose part label is part.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, part string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "part" && l.GetValue() == part {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{part=%q}", name, part)
	return 0
}
