package correlate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// TestAbandonedPageDoesNotSwallowLaterDeploys is issue 9's fifth defect:
// the incident of a page nobody resolved stayed open for days and took in
// every later deploy of its service ("during the incident, 11d6h after
// the first symptom"), and every later alert.
func TestAbandonedPageDoesNotSwallowLaterDeploys(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {CustomerFacing: true, Tier: 1}}
	day := 24 * time.Hour
	page := pdEv("QOLD", "triggered", m(0), collector.PagerDuty{})
	page.Service = "checkout"
	ack := pdEv("QOLD", "acknowledged", m(10*time.Minute), collector.PagerDuty{})
	ack.Service = "checkout"
	later := m(11*day + 6*time.Hour)
	deploy := deployEv("d-today", "checkout", "succeeded", later)
	alert := firing("checkout", "a", later.Add(2*time.Minute))

	incs, entries := project(t, cfg, page, ack, deploy, alert)
	old := entries[0].IncidentID
	for _, e := range entries[2:] {
		require.NotEqual(t, old, e.IncidentID, "%s landed on the 11-day-old page's incident", e.EventID)
	}
	require.Len(t, incs, 2)
	v := NewView(incs[old], nil, cfg, later)
	require.Equal(t, StatusResolved, v.Status, "a page with no event for page_stale_after no longer holds its incident open")
	require.Equal(t, m(10*time.Minute), *v.ResolvedAt, "it ended at its last event")

	// Today's deploy is a suspect of today's alert.
	for _, inc := range incs {
		if inc.ID != old {
			require.Equal(t, []string{"d-today"}, suspectIDs(inc))
		}
	}
}

// TestDeployNeedsActivityNearIt: even before a page goes stale, a deploy
// hours after anything happened on an incident with nothing firing is
// not put on its timeline.
func TestDeployNeedsActivityNearIt(t *testing.T) {
	cfg := config.Default()
	page := pdEv("Q1", "triggered", m(0), collector.PagerDuty{})
	page.Service = "checkout"
	note := pdEv("Q1", "annotated", m(2*time.Hour), collector.PagerDuty{})
	note.Service = "checkout"
	near := deployEv("d-near", "checkout", "succeeded", m(2*time.Hour+10*time.Minute))
	far := deployEv("d-far", "checkout", "succeeded", m(6*time.Hour))
	_, entries := project(t, cfg, page, note, near, far)
	on := map[string]string{}
	for _, e := range entries {
		if e.Source == collector.SourceDeploy {
			on[e.Ref.DeployID] = e.IncidentID
		}
	}
	require.Equal(t, entries[0].IncidentID, on["d-near"], "10 minutes after a note on the page: near activity")
	require.NotContains(t, on, "d-far", "4 hours after the last event, with nothing firing")
}
