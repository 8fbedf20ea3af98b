package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

func TestEventID(t *testing.T) {
	t.Run("stable", func(t *testing.T) {
		a := collector.EventID(collector.SourceAlertmanager, "d22af6f0ad867df4", "2026-11-20T14:02:11Z", "firing")
		for range 5 {
			require.Equal(t, a, collector.EventID(collector.SourceAlertmanager, "d22af6f0ad867df4", "2026-11-20T14:02:11Z", "firing"))
		}
		require.True(t, strings.HasPrefix(a, "ev-"), "id %q has no ev- prefix", a)
		require.Len(t, a, len("ev-")+24, "12 bytes of hash, hex encoded")
	})

	t.Run("length-prefixed parts do not collide", func(t *testing.T) {
		pairs := [][2][]string{
			{{"a", "bc"}, {"ab", "c"}},
			{{"a", ""}, {"a"}},
			{{"", "a"}, {"a", ""}},
			{{"ab"}, {"a", "b"}},
			{{"1:a"}, {"1", "a"}},
			{{"1:a1:b"}, {"a", "b"}},
			{{"x", "y", "z"}, {"x", "yz"}},
			{{"x", "y", "z"}, {"xy", "z"}},
		}
		for _, p := range pairs {
			require.NotEqual(t,
				collector.EventID("s", p[0]...), collector.EventID("s", p[1]...),
				"EventID(%q) and EventID(%q) collide", p[0], p[1])
		}
	})

	t.Run("source is part of the identity", func(t *testing.T) {
		require.NotEqual(t, collector.EventID(collector.SourceAlertmanager, "x"), collector.EventID(collector.SourcePagerDuty, "x"))
		// The source is itself length-prefixed: moving a byte between the
		// source and the first part changes the ID.
		require.NotEqual(t, collector.EventID("ab", "c"), collector.EventID("a", "bc"))
		require.NotEqual(t, collector.EventID("a"), collector.EventID("", "a"))
	})

	t.Run("order matters", func(t *testing.T) {
		require.NotEqual(t, collector.EventID("s", "a", "b"), collector.EventID("s", "b", "a"))
	})

	t.Run("every part counts", func(t *testing.T) {
		base := collector.EventID(collector.SourceAlertmanager, "fp", "2026-11-20T14:02:11Z", "firing")
		require.NotEqual(t, base, collector.EventID(collector.SourceAlertmanager, "fp", "2026-11-20T14:02:11Z", "resolved"))
		require.NotEqual(t, base, collector.EventID(collector.SourceAlertmanager, "fp", "2026-11-20T14:02:12Z", "firing"))
		require.NotEqual(t, base, collector.EventID(collector.SourceAlertmanager, "fq", "2026-11-20T14:02:11Z", "firing"))
	})
}

func TestEventValidate(t *testing.T) {
	good := collector.Event{
		ID:     "ev-1",
		Source: collector.SourceAlertmanager,
		Kind:   collector.KindAlertFiring,
		At:     time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC),
	}
	require.NoError(t, good.Validate())

	for name, tc := range map[string]struct {
		mutate func(*collector.Event)
		want   string
	}{
		"no id":     {func(e *collector.Event) { e.ID = "" }, "id"},
		"no source": {func(e *collector.Event) { e.Source = "" }, "source"},
		"no kind":   {func(e *collector.Event) { e.Kind = "" }, "kind"},
		"no time":   {func(e *collector.Event) { e.At = time.Time{} }, "time"},
	} {
		t.Run(name, func(t *testing.T) {
			e := good
			tc.mutate(&e)
			err := e.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
