package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

func TestLimitsAndFlapping(t *testing.T) {
	min := time.Minute
	t.Run("a flapping alert stays in its incident past reopen_within", func(t *testing.T) {
		cfg := config.Default()
		cfg.Correlation.FlapFirings = 3
		var evs []collector.Event
		for i := range 4 { // fires every 17m for 1m: each gap is past reopen_within (15m)
			s := m(time.Duration(i) * 17 * min)
			evs = append(evs, firing("checkout", "a", s), resolved("checkout", "a", s, s.Add(min)))
		}
		p := replay(t, cfg, 1, evs...)
		require.Len(t, p.Incidents(), 2, "the second firing opens anew; from the third the alert flaps and stays")
		inc := incidentOf(t, p, evs[6].ID)
		require.Equal(t, inc.ID, incidentOf(t, p, evs[2].ID).ID)
		a := inc.Alerts[evs[0].Ref.Fingerprint]
		require.True(t, a.Flapping)
		require.Equal(t, 3, a.Firings)
		tl := p.StoredTimeline(inc.ID)
		require.Contains(t, tl[2].Reasons[0], "the alert is flapping, 3 firings within correlation.flap_window 1h")

		cfg.Correlation.FlapFirings = 5
		require.Len(t, replay(t, cfg, 1, evs...).Incidents(), 4, "below flap_firings each firing past reopen_within opens anew")
	})
	t.Run("max_alerts opens a new incident", func(t *testing.T) {
		cfg := config.Default()
		cfg.Correlation.MaxAlerts = 3
		var evs []collector.Event
		for i := range 5 {
			evs = append(evs, firing("checkout", fmt.Sprint("i", i), m(time.Duration(i)*min)))
		}
		p := replay(t, cfg, 1, evs...)
		require.Len(t, p.Incidents(), 2)
		second := incidentOf(t, p, evs[3].ID)
		require.Len(t, second.Alerts, 2)
		require.Contains(t, p.StoredTimeline(second.ID)[0].Reasons[0], "holds correlation.max_alerts (3) alerts, so a new incident for same service checkout")
		// An alert of the full incident still comes back to it.
		again := firing("checkout", "i0", m(20*min))
		p = replay(t, cfg, 1, append(evs, resolved("checkout", "i0", m(0), m(6*min)), again)...)
		require.Equal(t, incidentOf(t, p, evs[0].ID).ID, incidentOf(t, p, again.ID).ID)
	})
	t.Run("max_span stops an incident taking new alerts", func(t *testing.T) {
		cfg := config.Default()
		cfg.Correlation.MaxSpan = model.Duration(30 * min)
		var evs []collector.Event
		for i := range 8 { // a new alert every 5m, all still firing
			evs = append(evs, firing("checkout", fmt.Sprint("i", i), m(time.Duration(i)*5*min)))
		}
		p := replay(t, cfg, 1, evs...)
		require.Len(t, p.Incidents(), 2)
		require.Len(t, incidentOf(t, p, evs[0].ID).Alerts, 7, "0m..30m")
		require.Contains(t, p.StoredTimeline(incidentOf(t, p, evs[7].ID).ID)[0].Reasons[0], "past correlation.max_span 30m")
	})
}

func TestSlowBurnReason(t *testing.T) {
	cfg := topologyConfig()
	_, entries := project(t, cfg, firing("postgres", "a", m(0)), firing("checkout", "a", m(100*time.Minute)))
	require.Equal(t, "joined through the dependency graph: checkout depends on postgres, the incident's anchor, whose alert HighErrorRate has been firing since "+
		m(0).Format(time.RFC3339)+", 1h40m after the incident's first event (within correlation.max_span 12h)", entries[1].Reasons[0])
	cfg.Correlation.MaxSpan = model.Duration(90 * time.Minute)
	incs, _ := project(t, cfg, firing("postgres", "a", m(0)), firing("checkout", "a", m(100*time.Minute)))
	require.Len(t, incs, 2, "past max_span the incident takes no new alerts")
}
