package correlate

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// TestSweepForgetsWhatAFullScanWould checks the sweep's indexes against
// the rule they stand for: after every sweep, nothing left in memory is
// forgettable, and everything forgotten was. The log mixes alerts that
// resolve, flap, never resolve and resolve late, pages, gaps of hours,
// and restarts from the correlator's own state.
func TestSweepForgetsWhatAFullScanWould(t *testing.T) {
	cfg := config.Default()
	var evs []collector.Event
	at := t0
	for round := range 40 {
		for i := range 60 {
			svc := fmt.Sprintf("svc-%d", (round*7+i)%25)
			inst := fmt.Sprintf("%d", i%17)
			start := at.Add(time.Duration(i) * 20 * time.Second)
			evs = append(evs, firing(svc, inst, start, "cluster", fmt.Sprintf("c-%d", i%3)))
			switch i % 4 {
			case 0: // resolves soon
				evs = append(evs, resolved(svc, inst, start, start.Add(2*time.Minute), "cluster", fmt.Sprintf("c-%d", i%3)))
			case 1: // resolves late, before its firing is seen again
				evs = append(evs, resolved(svc, inst, start.Add(-time.Hour), start.Add(-30*time.Minute), "cluster", fmt.Sprintf("c-%d", i%3)))
			case 2:
				if round%4 != 0 { // now and then it never resolves
					evs = append(evs, resolved(svc, inst, start, start.Add(30*time.Minute), "cluster", fmt.Sprintf("c-%d", i%3)))
				}
			}
		}
		pd := fmt.Sprintf("P%d", round)
		evs = append(evs, pdEv(pd, "triggered", at, collector.PagerDuty{ServiceName: "billing"}))
		if round%3 != 0 {
			evs = append(evs, pdEv(pd, "resolved", at.Add(20*time.Minute), collector.PagerDuty{}))
		}
		at = at.Add(time.Duration(10+round%5*40) * time.Minute)
	}

	c := NewCorrelator(cfg, State{})
	h := c.s.horizon()
	expired := func(x time.Time) bool { return c.watermark.Sub(x) > h }
	forgotten, forgottenEps, sweeps := 0, 0, 0
	for i, ev := range evs {
		seq := uint64(i+1) * sweepEvery / 16 // a sweep every 16 events
		before := maps.Clone(c.live)
		beforeEps := maps.Clone(c.episodes)
		c.Apply(LoggedEvent{Seq: seq, Event: ev})
		if seq%sweepEvery != 0 {
			continue
		}
		sweeps++
		for id, inc := range c.live {
			require.False(t, inc.Firing() == 0 && expired(settleTime(inc)), "incident %s is forgettable but still in memory", id)
		}
		for fp, ep := range c.episodes {
			require.False(t, c.live[ep.IncidentID] == nil || (!ep.Firing && expired(ep.LastEnd)), "episode %s is forgettable but still in memory", fp)
		}
		for id, inc := range before {
			if c.live[id] == nil && inc.MergedInto == "" { // a storm merge also takes incidents out of memory
				forgotten++
				require.True(t, inc.Firing() == 0 && expired(settleTime(inc)), "incident %s forgotten too early", id)
			}
		}
		for fp, ep := range beforeEps {
			if c.episodes[fp] == nil {
				forgottenEps++
				require.True(t, c.live[ep.IncidentID] == nil || (!ep.Firing && expired(ep.LastEnd)), "episode %s forgotten too early", fp)
			}
		}
		if sweeps%50 == 0 { // restart from what memory holds
			st := State{Checkpoint: Checkpoint{Seq: seq, Watermark: c.watermark}}
			for _, id := range slices.Sorted(maps.Keys(c.live)) {
				st.Live = append(st.Live, c.live[id])
			}
			for _, fp := range slices.Sorted(maps.Keys(c.episodes)) {
				st.Episodes = append(st.Episodes, c.episodes[fp])
			}
			c = NewCorrelator(cfg, st)
		}
	}
	require.Greater(t, forgotten, 20, "the log must make the sweep forget incidents")
	require.Greater(t, forgottenEps, 200, "the log must make the sweep forget episodes")
	require.NotZero(t, c.Live())
}

// TestForgottenThenBackInOneBatch: an episode the sweep forgets and that
// begins again before the batch is flushed is in memory, so the flush
// must not tell the store to delete it (the store deletes after it
// writes); otherwise a restart would lose it.
func TestForgottenThenBackInOneBatch(t *testing.T) {
	cfg := config.Default()
	c := NewCorrelator(cfg, State{})
	first := firing("checkout", "a", t0)
	c.Apply(LoggedEvent{Seq: 1, Event: first})
	c.Apply(LoggedEvent{Seq: 2, Event: resolved("checkout", "a", t0, t0.Add(time.Minute))})
	c.Flush()
	// Much later: something else moves the watermark, the sweep at the
	// next multiple of sweepEvery forgets the old incident and episode, and
	// the same alert fires again in the same batch.
	later := t0.Add(6 * time.Hour)
	c.Apply(LoggedEvent{Seq: sweepEvery, Event: firing("search", "b", later)})
	again := firing("checkout", "a", later.Add(time.Minute))
	c.Apply(LoggedEvent{Seq: sweepEvery + 1, Event: again})
	ch := c.Flush()
	fp := again.Ref.Fingerprint
	require.NotNil(t, ch.Episodes[fp], "the new episode is written")
	require.NotContains(t, ch.ForgottenEpisodes, fp, "and not deleted after")
	require.Len(t, ch.ForgottenIncidents, 1, "the old incident is forgotten")
}
