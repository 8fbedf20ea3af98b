package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// placementLog is a random log over a topology (relationsConfig) and
// services the configuration does not know: alerts in two clusters that
// fire and resolve, deploy steps of every kind, pages on mapped services
// and on none, and pages resolved by a merge in PagerDuty.
func placementLog(seed uint64, n int) (*config.Config, []collector.Event) {
	cfg := relationsConfig()
	rng := rand.New(rand.NewPCG(seed, seed))
	services := []string{"jira", "confluence", "opsgenie", "tenant-platform", "dns", "web", "backend", "network", "svc-a", "svc-b", "svc-c", "svc-d", "chg"}
	statuses := []string{"started", "succeeded", "failed", "rolled_back"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	var evs []collector.Event
	at := m(0)
	type firingAlert struct {
		svc, inst, cluster string
		start              time.Time
	}
	var open []firingAlert
	for i := 0; len(evs) < n; i++ {
		at = at.Add(time.Duration(rng.IntN(240)) * time.Second)
		switch r := rng.IntN(20); {
		case r < 9:
			a := firingAlert{pick(services), fmt.Sprint(rng.IntN(4)), pick([]string{"eu", "us"}), at}
			evs = append(evs, firing(a.svc, a.inst, at, "cluster", a.cluster))
			open = append(open, a)
		case r < 14 && len(open) > 0:
			k := rng.IntN(len(open))
			a := open[k]
			open = slices.Delete(open, k, k+1)
			evs = append(evs, resolved(a.svc, a.inst, a.start, at, "cluster", a.cluster))
		case r < 17:
			evs = append(evs, deployEv(fmt.Sprintf("d-%d", rng.IntN(30)), pick(services), pick(statuses), at))
		case r < 19:
			svc := pick(append(services, "", ""))
			ev := pageOn(svc, fmt.Sprintf("P%d", rng.IntN(40)), at)
			if svc == "" {
				ev.PagerDuty.Title = "[FIRING:1] HighErrorRate " + pick(services)
			}
			evs = append(evs, ev)
		default:
			ev := pdEv(fmt.Sprintf("P%d", rng.IntN(40)), "resolved", at, collector.PagerDuty{ResolveReason: fmt.Sprintf("merge into P%d", rng.IntN(40))})
			ev.Service = pick(services)
			evs = append(evs, ev)
		}
	}
	return cfg, evs
}

// Deploy and page placement look only at the incidents of the service
// (and its neighbours in the topology); every live incident a walk of all
// of them would place the event on is among those looked at.
func TestPlacementLooksAtEveryIncidentThatCanMatch(t *testing.T) {
	for seed := range uint64(3) {
		cfg, evs := placementLog(seed, 2000)
		c := NewCorrelator(cfg, State{})
		checked := 0
		for i, ev := range evs {
			require.NoError(t, ev.Validate())
			if isDeploy(&ev) {
				var cands []string
				for _, inc := range c.deployCandidates(ev.Service) {
					cands = append(cands, inc.ID)
				}
				require.True(t, slices.IsSorted(cands))
				for _, id := range c.liveIDs() {
					if c.relationOf(c.live[id], ev.Service).kind != relNone {
						require.Contains(t, cands, id, "seed %d event %d: deploy of %s", seed, i, ev.Service)
						checked++
					}
				}
			}
			if isPagerDuty(&ev) && ev.Service != "" {
				var want *Incident
				for _, id := range c.liveIDs() {
					inc := c.live[id]
					if !slices.Contains(inc.Services, ev.Service) || c.resolved(inc, ev.At) || ev.At.Before(inc.StartedAt.Add(-c.s.window)) {
						continue
					}
					if want == nil || inc.StartedAt.After(want.StartedAt) {
						want = inc
					}
				}
				require.Equal(t, want, c.openIncidentOf(ev.Service, ev.At), "seed %d event %d", seed, i)
			}
			c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: ev})
			if i%50 == 49 {
				c.Flush()
			}
		}
		require.Positive(t, checked, "seed %d: no deploy related to an incident", seed)
	}
}
