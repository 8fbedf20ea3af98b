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
			name: "beside the service's own deploy at the same time, a dependency's falls below the bar",
			events: []collector.Event{
				deployEv("d-pay", "payments", "succeeded", m(-5*min)),
				deployEv("d-chk", "checkout", "succeeded", m(-5*min)),
				firing("checkout", "a", m(0)),
			},
			want:     []string{"d-chk"},
			reasonOf: map[string]string{"d-chk": "credit shared with 1 other deploy"},
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
	// scores enough to be named (40+30+10-40): the reason says what was
	// taken off.
	evs[3] = deployEv("d-1", "checkout", "started", m(90*min))
	evs = append(evs, deployEv("d-1", "checkout", "failed", m(100*min)))
	p = replay(t, cfg, 1, evs...)
	inc = incidentOf(t, p, evs[4].ID)
	require.Len(t, inc.Suspects, 1)
	require.Contains(t, inc.Suspects[0].Reasons, "but HighErrorRate on checkout already fired 1h30m before it, at "+m(0).UTC().Format(time.RFC3339)+" (pre-existing, −40)")
}
