package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

var bt0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func min2t(m float64) time.Time { return bt0.Add(time.Duration(m * float64(time.Minute))) }

// amEv is an alert event of fingerprint fp in group gk that started at
// start (minutes) and, when end >= 0, resolved at end.
func amEv(id, gk, fp string, start, end float64) collector.Event {
	s := min2t(start)
	ev := collector.Event{
		ID: id, Source: collector.SourceAlertmanager, Kind: collector.KindAlertFiring, At: s,
		Ref:   collector.Ref{Fingerprint: fp, StartsAt: &s},
		Alert: &collector.Alert{GroupKey: gk, StartsAt: s},
	}
	if end >= 0 {
		ev.Kind, ev.At = collector.KindAlertResolved, min2t(end)
		ev.Alert.EndsAt = ev.At
	}
	return ev
}

func TestGroupKeyBaseline(t *testing.T) {
	evs := []collector.Event{
		amEv("f1", "g1", "a", 0, -1),
		amEv("g2", "g2", "c", 1, -1),
		amEv("r1", "g1", "a", 0, 2),
		// b starts 3m after the group went quiet: same aggregation group.
		amEv("f2", "g1", "b", 5, -1),
		amEv("r2", "g1", "b", 5, 6),
		// a fires again 14m after the group went quiet: a new group.
		amEv("f3", "g1", "a", 20, -1),
		// c of g2 fires again while its first firing still fires: same.
		amEv("g3", "g2", "c2", 30, -1),
		// Delivered before its firing; events are taken in event-time order.
		amEv("r4", "g1", "d", 21, 25),
		amEv("f4", "g1", "d", 21, -1),
	}
	got := GroupKeyBaseline(evs)
	require.Equal(t, got["f1"], got["r1"])
	require.Equal(t, got["f1"], got["f2"])
	require.Equal(t, got["f2"], got["r2"])
	require.NotEqual(t, got["f1"], got["f3"])
	require.Equal(t, got["f3"], got["f4"])
	require.Equal(t, got["f4"], got["r4"])
	require.Equal(t, got["g2"], got["g3"])
	require.NotEqual(t, got["f1"], got["g2"])
	require.Len(t, got, len(evs))
}

func TestWindowBaseline(t *testing.T) {
	evs := []collector.Event{
		amEv("a", "g1", "a", 0, -1),
		amEv("b", "g2", "b", 1, -1),
		// 11m after b started: a new cluster.
		amEv("c", "g3", "c", 12, -1),
		// 9m after c: joins, and so does its resolution, even 30m later.
		amEv("d", "g1", "d", 21, -1),
		amEv("d-res", "g1", "d", 21, 51),
		amEv("e", "g2", "e", 40, -1),
	}
	got := WindowBaseline(evs, 10*time.Minute)
	require.Equal(t, got["a"], got["b"])
	require.NotEqual(t, got["b"], got["c"])
	require.Equal(t, got["c"], got["d"])
	require.Equal(t, got["d"], got["d-res"])
	require.NotEqual(t, got["d"], got["e"])
}
