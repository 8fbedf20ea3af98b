package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

func deployEv(id, service, status string, at time.Time) collector.Event {
	return collector.Event{
		ID:      collector.EventID("deploy", id, status),
		Source:  collector.SourceDeploy,
		Kind:    "deploy." + status,
		At:      at,
		Service: service,
		Summary: service + " deploy " + status,
		Ref:     collector.Ref{DeployID: id},
	}
}

func onlyIncident(t *testing.T, incs map[string]*Incident, service string) *Incident {
	t.Helper()
	for _, inc := range incs {
		for _, s := range inc.Services {
			if s == service {
				return inc
			}
		}
	}
	t.Fatalf("no incident on %s", service)
	return nil
}

func suspectIDs(inc *Incident) []string {
	var ids []string
	for _, s := range inc.Suspects {
		ids = append(ids, s.DeployID)
	}
	return ids
}

func TestSuspectRanking(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {CustomerFacing: true, Tier: 1, DependsOn: []string{"payments"}},
	}
	min := time.Minute
	cases := []struct {
		name     string
		events   []collector.Event
		want     []string
		notOnTL  []string // deploy ids that must not be on the timeline
		reasonOf map[string]string
	}{
		{
			name: "the deploy minutes before the first alert is the top suspect",
			events: []collector.Event{
				deployEv("d-old", "checkout", "succeeded", m(-22*min)),
				deployEv("d-new", "checkout", "succeeded", m(-3*min)),
				firing("checkout", "a", m(0)),
			},
			want:     []string{"d-new", "d-old"},
			reasonOf: map[string]string{"d-new": "succeeded 3m before the first symptom"},
		},
		{
			name: "a coincidental deploy on an unrelated service is not suspected nor shown",
			events: []collector.Event{
				deployEv("d-search", "search", "succeeded", m(-2*min)),
				firing("checkout", "a", m(0)),
			},
			want:    nil,
			notOnTL: []string{"d-search"},
		},
		{
			name: "a deploy after the symptom started is shown but not blamed",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				deployEv("d-fix", "checkout", "succeeded", m(4*min)),
			},
			want: nil,
		},
		{
			name: "a dependency's deploy is a suspect",
			events: []collector.Event{
				deployEv("d-pay", "payments", "succeeded", m(-5*min)),
				firing("checkout", "a", m(0)),
			},
			want:     []string{"d-pay"},
			reasonOf: map[string]string{"d-pay": "a dependency of checkout"},
		},
		{
			name: "beside the service's own deploy at the same time, a dependency's ranks second",
			events: []collector.Event{
				deployEv("d-pay", "payments", "succeeded", m(-5*min)),
				deployEv("d-chk", "checkout", "succeeded", m(-5*min)),
				firing("checkout", "a", m(0)),
			},
			want:     []string{"d-chk", "d-pay"},
			reasonOf: map[string]string{"d-chk": "the service the incident is anchored on (weight 1.0)", "d-pay": "a dependency of checkout (weight 0.7)"},
		},
		{
			name: "a failed deploy scores above a succeeded one at the same time",
			events: []collector.Event{
				deployEv("d-ok", "checkout", "succeeded", m(-6*min)),
				deployEv("d-bad", "checkout", "failed", m(-6*min)),
				firing("checkout", "a", m(0)),
			},
			want: []string{"d-bad", "d-ok"},
		},
		{
			name: "a deploy rolled back during the incident stays the suspect, scored as it stood at the first symptom",
			events: []collector.Event{
				deployEv("d-bad", "checkout", "succeeded", m(-4*min)),
				firing("checkout", "a", m(0)),
				deployEv("d-bad", "checkout", "rolled_back", m(7*min)),
			},
			want:     []string{"d-bad"},
			reasonOf: map[string]string{"d-bad": "it rolled back 7m into the incident"},
		},
		{
			name: "a deploy older than deploy_lookback is ignored",
			events: []collector.Event{
				deployEv("d-ancient", "checkout", "succeeded", m(-45*min)),
				firing("checkout", "a", m(0)),
			},
			want:    nil,
			notOnTL: []string{"d-ancient"},
		},
		{
			name: "a deploy in progress at the first alert is a strong suspect",
			events: []collector.Event{
				deployEv("d-roll", "checkout", "started", m(-1*min)),
				firing("checkout", "a", m(0)),
				deployEv("d-roll", "checkout", "succeeded", m(2*min)),
			},
			want:     []string{"d-roll"},
			reasonOf: map[string]string{"d-roll": "in progress when the first symptom appeared"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			incs, entries := project(t, cfg, tc.events...)
			inc := onlyIncident(t, incs, "checkout")
			require.Equal(t, tc.want, suspectIDs(inc))
			for id, want := range tc.reasonOf {
				found := false
				for _, s := range inc.Suspects {
					if s.DeployID == id {
						for _, r := range s.Reasons {
							found = found || strings.Contains(r, want)
						}
						require.Greater(t, s.Score, 0.0)
						require.LessOrEqual(t, s.Score, 1.0)
					}
				}
				require.True(t, found, "reason %q for %s in %+v", want, id, inc.Suspects)
			}
			onTL := map[string]bool{}
			for _, e := range entries {
				if e.Source == collector.SourceDeploy && e.IncidentID == inc.ID {
					onTL[e.Ref.DeployID] = true
					require.NotEmpty(t, e.Reasons)
				}
			}
			for _, id := range tc.want {
				require.True(t, onTL[id], "suspect %s is on the timeline", id)
			}
			for _, id := range tc.notOnTL {
				require.False(t, onTL[id], "%s is not on the timeline", id)
			}
		})
	}
}

// TestPreexistingAlertIsNotBlamedOnADeploy: the alert fired well before
// the deploy (an earlier incident, long forgotten by the correlator), then
// fires again just after it. The deploy is not named, with the reason; the
// answer is the same whether the earlier firing was committed long ago or
// is still in the batch.
func TestPreexistingAlertIsNotBlamedOnADeploy(t *testing.T) {
	cfg := config.Default()
	min := time.Minute
	before := firing("checkout", "a", m(0))
	evs := []collector.Event{
		before, resolved("checkout", "a", m(0), m(10*min)),
		firing("search", "x", m(80*min)), // moves the watermark: the sweep forgets the first incident
		deployEv("d-1", "checkout", "succeeded", m(90*min)),
		firing("checkout", "a", m(95*min)),
	}
	for _, batch := range []int{1, 100} {
		p := replay(t, cfg, batch, evs...)
		inc := incidentOf(t, p, evs[4].ID)
		require.NotEqual(t, incidentOf(t, p, before.ID).ID, inc.ID, "90m later: another incident")
		require.Empty(t, inc.Suspects, "batch %d", batch)
	}
	// Without the earlier firing the same deploy is the suspect.
	p := replay(t, cfg, 1, evs[2:]...)
	inc := incidentOf(t, p, evs[4].ID)
	require.Equal(t, []string{"d-1"}, suspectIDs(inc))

	// A deploy in progress at the first symptom that then failed still
	// scores enough to be named (0.8×0.3+0.1): the reason says what was
	// taken off.
	evs[3] = deployEv("d-1", "checkout", "started", m(90*min))
	evs = append(evs, deployEv("d-1", "checkout", "failed", m(100*min)))
	p = replay(t, cfg, 1, evs...)
	inc = incidentOf(t, p, evs[4].ID)
	require.Len(t, inc.Suspects, 1)
	require.Contains(t, inc.Suspects[0].Reasons, "but HighErrorRate on checkout already fired 1h30m before it, at "+m(0).UTC().Format(time.RFC3339)+" (pre-existing, ×0.3)")
}

// step builds a deploy step the way pipelines that give every step its
// own id report it: version, previous version and pipeline URL.
func step(id, service, status, version, prev, run string, at time.Time) collector.Event {
	ev := deployEv(id, service, status, at)
	ev.Deploy = &collector.Deploy{URL: "https://ci.example.com/pipelines/" + run, Version: version, PreviousVersion: prev}
	return ev
}

func TestSuspectsBeyondTheLatestDeploy(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"search":         {CustomerFacing: true, Tier: 2, DependsOn: []string{"search-es"}},
		"search-es":      {Tier: 2},
		"search-indexer": {Tier: 3, DependsOn: []string{"search-es"}},
		"cart":           {CustomerFacing: true, Tier: 1, DependsOn: []string{"platform"}},
		"platform":       {Tier: 2},
	}
	min := time.Minute

	t.Run("the steps of one rollout reported under their own ids are one suspect", func(t *testing.T) {
		incs, _ := project(t, cfg,
			step("r-1-s", "search-es", "started", "v2", "v1", "r-1", m(-8*min)),
			step("r-1", "search-es", "succeeded", "v2", "v1", "r-1", m(-3*min)),
			firing("search-es", "es-0", m(0)))
		inc := onlyIncident(t, incs, "search-es")
		require.Equal(t, []string{"r-1"}, suspectIDs(inc), "one run, named by its step at the first symptom")
		require.Equal(t, 0.8, inc.Suspects[0].Score, "the anchor's own deploy 3m before: weight 1.0, time 1.00")
	})

	t.Run("a consumer's change before its dependency failed is a suspect; its rollback that ended the symptoms raises it", func(t *testing.T) {
		evs := []collector.Event{
			step("reindex-s", "search-indexer", "started", "v2.8.0", "v2.7.4", "reindex", m(-14*min)),
			step("reindex", "search-indexer", "succeeded", "v2.8.0", "v2.7.4", "reindex", m(-9*min)),
			firing("search-es", "es-0", m(0)),
			step("reindex-rb", "search-indexer", "rolled_back", "v2.7.4", "v2.8.0", "reindex", m(24*min)),
			resolved("search-es", "es-0", m(0), m(37*min)),
		}
		incs, _ := project(t, cfg, evs[:3]...)
		inc := onlyIncident(t, incs, "search-es")
		require.Equal(t, []string{"reindex"}, suspectIDs(inc))
		before := inc.Suspects[0].Score
		require.Contains(t, inc.Suspects[0].Reasons[0], "a service that depends on search-es, the incident's anchor, and did not alert itself (weight 0.5)")

		incs, entries := project(t, cfg, evs...)
		inc = onlyIncident(t, incs, "search-es")
		require.Equal(t, []string{"reindex"}, suspectIDs(inc))
		require.Greater(t, inc.Suspects[0].Score, before)
		require.Contains(t, strings.Join(inc.Suspects[0].Reasons, "; "), "it rolled back 24m into the incident, and every alert of the incident resolved within 13m of it (+0.20)")
		onTL := false
		for _, e := range entries {
			onTL = onTL || (e.Ref.DeployID == "reindex-rb" && e.IncidentID == inc.ID)
		}
		require.True(t, onTL, "the consumer's rollback is on the timeline: a step of a suspect")
	})

	t.Run("a consumer's deploy after the first symptom is not on the timeline", func(t *testing.T) {
		_, entries := project(t, cfg,
			firing("search-es", "es-0", m(0)),
			step("other", "search-indexer", "succeeded", "v3", "v2", "other", m(5*min)))
		for _, e := range entries {
			require.NotEqual(t, "other", e.Ref.DeployID)
		}
	})

	t.Run("a rollback whose symptoms went on does not raise it", func(t *testing.T) {
		incs, _ := project(t, cfg,
			step("d", "cart", "succeeded", "v5", "v4", "d", m(-4*min)),
			firing("cart", "a", m(0)),
			step("d-rb", "cart", "rolled_back", "v4", "v5", "d", m(10*min)),
			resolved("cart", "a", m(0), m(90*min)))
		inc := onlyIncident(t, incs, "cart")
		require.Equal(t, []string{"d"}, suspectIDs(inc))
		require.Contains(t, strings.Join(inc.Suspects[0].Reasons, "; "), "it rolled back 10m into the incident (the symptoms did not end with it)")
		require.Equal(t, 0.8, inc.Suspects[0].Score)
	})

	t.Run("an innocent deploy of a consumer 24 minutes before an infrastructure failure is not named", func(t *testing.T) {
		incs, _ := project(t, cfg,
			step("cart-v4", "cart", "succeeded", "v4", "v3", "cart-v4", m(-24*min)),
			firing("cart", "a", m(0)),
			firing("platform", "node-1", m(13*min)))
		inc := onlyIncident(t, incs, "cart")
		require.Equal(t, "platform", inc.Anchor, "the node failure under cart")
		require.Empty(t, suspectIDs(inc))
	})

	t.Run("a change the configuration does not place, before a broad failure", func(t *testing.T) {
		cfg := config.Default()
		evs := []collector.Event{
			deployEv("net-maint", "network-maintenance", "succeeded", m(-2*min)),
			firing("api", "a", m(0)),
			firing("web", "a", m(1*min)),
			firing("billing", "a", m(2*min)),
		}
		incs, entries := project(t, cfg, evs...)
		require.Len(t, incs, 1, "services that begin failing together minutes after it are one incident")
		require.Contains(t, entries[2].Reasons[0], "after a change on network-maintenance (deploy net-maint succeeded), which no configured service places")
		var inc *Incident
		for _, v := range incs {
			inc = v
		}
		require.Equal(t, []string{"net-maint"}, suspectIDs(inc))
		// Without the change they are three.
		incs, _ = project(t, cfg, evs[1:]...)
		require.Len(t, incs, 3)
	})
}
