package correlate

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// What 4033f7d (the last version before the events' typed parts) stored
// for a deploy of checkout and a PagerDuty page 4m later: the events, the
// timeline entries the page's incident got, and the deploy's step.
const (
	storedPageEventV0   = `{"id":"ev-e540ef064f89c55748fbd25f","source":"pagerduty","kind":"pagerduty.incident.triggered","at":"2026-11-20T14:03:02.418Z","received_at":"2026-11-20T14:03:03Z","service":"checkout","summary":"#4711 [FIRING:1] HighErrorRate checkout prod triggered on checkout (prod), assigned to Dana Oncall","labels":{"agent":"checkout (prod)","agent_type":"service_reference","assignees":"Dana Oncall","escalation_policy":"Checkout Primary","html_url":"https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD","incident_key":"1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c","pd_incident_number":"4711","pd_service":"checkout (prod)","pd_service_id":"PCHKOUT","priority":"P1","status":"triggered","title":"[FIRING:1] HighErrorRate checkout prod","urgency":"high"},"ref":{"pagerduty_incident_id":"Q2XK8LJ4N1ABCD","pagerduty_event_id":"01F8G2K4S3JY9V0QZ7W5X6T2AB"}}`
	storedDeployEventV0 = `{"id":"ev-3b97bf186d4a8dcf9c170860","source":"deploy","kind":"deploy.succeeded","at":"2026-11-20T13:58:40Z","received_at":"2026-11-20T13:58:41Z","service":"checkout","summary":"checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)","labels":{"author":"jdoe","cluster":"prod-eu-1","commit":"9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d","description":"checkout v2.42.0: new payment retry policy","environment":"prod","previous_version":"v2.41.0","team":"payments","url":"https://argocd.example.internal/applications/argocd/checkout-prod","version":"v2.42.0"},"annotations":{"description":"checkout v2.42.0: new payment retry policy","url":"https://argocd.example.internal/applications/argocd/checkout-prod"},"ref":{"deploy_id":"argocd:prod-eu-1:checkout-prod:9f3c2d1a"}}`
	storedPageEntryV0   = `{"id":"ent-e540ef064f89c55748fbd25f","incident_id":"inc-01M7WM93WJEX9JAW5YKXCEAMPM","seq":2,"event_id":"ev-e540ef064f89c55748fbd25f","at":"2026-11-20T14:03:02.418Z","received_at":"2026-11-20T14:03:03Z","source":"pagerduty","kind":"pagerduty.incident.triggered","summary":"#4711 [FIRING:1] HighErrorRate checkout prod triggered on checkout (prod), assigned to Dana Oncall","service":"checkout","ref":{"pagerduty_incident_id":"Q2XK8LJ4N1ABCD","pagerduty_event_id":"01F8G2K4S3JY9V0QZ7W5X6T2AB"},"reasons":["opened: PagerDuty incident #4711 has no alert behind it","monitoring gap: a page was raised before any alert fired"],"labels":{"agent":"checkout (prod)","agent_type":"service_reference","assignees":"Dana Oncall","escalation_policy":"Checkout Primary","html_url":"https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD","incident_key":"1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c","pd_incident_number":"4711","pd_service":"checkout (prod)","pd_service_id":"PCHKOUT","priority":"P1","status":"triggered","title":"[FIRING:1] HighErrorRate checkout prod","urgency":"high"}}`
	storedDeployEntryV0 = `{"id":"ent-3b97bf186d4a8dcf9c170860","incident_id":"inc-01M7WM93WJEX9JAW5YKXCEAMPM","seq":1,"event_id":"ev-3b97bf186d4a8dcf9c170860","at":"2026-11-20T13:58:40Z","received_at":"2026-11-20T13:58:41Z","source":"deploy","kind":"deploy.succeeded","summary":"checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)","service":"checkout","ref":{"deploy_id":"argocd:prod-eu-1:checkout-prod:9f3c2d1a"},"reasons":["deploy of checkout (same service) 4m22s before the first symptom (within correlation.deploy_lookback 30m)"],"labels":{"author":"jdoe","cluster":"prod-eu-1","commit":"9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d","description":"checkout v2.42.0: new payment retry policy","environment":"prod","previous_version":"v2.41.0","team":"payments","url":"https://argocd.example.internal/applications/argocd/checkout-prod","version":"v2.42.0"},"annotations":{"description":"checkout v2.42.0: new payment retry policy","url":"https://argocd.example.internal/applications/argocd/checkout-prod"}}`
	storedDeployStepV0  = `{"id":"argocd:prod-eu-1:checkout-prod:9f3c2d1a","service":"checkout","status":"succeeded","at":"2026-11-20T13:58:40Z","seq":1,"event_id":"ev-3b97bf186d4a8dcf9c170860","summary":"checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)","labels":{"author":"jdoe","cluster":"prod-eu-1","commit":"9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d","description":"checkout v2.42.0: new payment retry policy","environment":"prod","previous_version":"v2.41.0","team":"payments","url":"https://argocd.example.internal/applications/argocd/checkout-prod","version":"v2.42.0"},"annotations":{"description":"checkout v2.42.0: new payment retry policy","url":"https://argocd.example.internal/applications/argocd/checkout-prod"},"received_at":"2026-11-20T13:58:41Z","kind":"deploy.succeeded"}`
)

// Replaying events stored by the previous version gives the entries it
// stored, byte for byte: the timeline JSON (which the API serves) keeps
// its form, and a store written before the upgrade replays the same.
func TestStoredEventsOfPreviousVersionReplayTheSame(t *testing.T) {
	c := NewCorrelator(config.Default(), State{})
	for i, s := range []string{storedDeployEventV0, storedPageEventV0} {
		var ev collector.Event
		require.NoError(t, json.Unmarshal([]byte(s), &ev))
		c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: ev})
	}
	ch := c.Flush()
	got := map[string]string{}
	for _, e := range ch.Entries {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		got[e.Source] = string(b)
	}
	require.Equal(t, storedDeployEntryV0, got[collector.SourceDeploy])
	require.Equal(t, storedPageEntryV0, got[collector.SourcePagerDuty])
	require.Len(t, ch.DeploySteps, 1)
	for _, d := range ch.DeploySteps {
		require.Equal(t, "v2.42.0", d.Info.Version)
	}
}

// Stored entries and deploy steps of the previous version read with their
// typed parts, and an entry writes back as it was read.
func TestStoredEntriesOfPreviousVersionDecode(t *testing.T) {
	var page Entry
	require.NoError(t, json.Unmarshal([]byte(storedPageEntryV0), &page))
	require.NotNil(t, page.PagerDuty)
	require.Equal(t, "P1", page.PagerDuty.Priority)
	require.Equal(t, "4711", page.PagerDuty.IncidentNumber)
	require.Equal(t, []string{"Dana Oncall"}, page.PagerDuty.Assignees)
	require.Nil(t, page.Labels)

	var dep Entry
	require.NoError(t, json.Unmarshal([]byte(storedDeployEntryV0), &dep))
	require.Equal(t, &collector.Deploy{Environment: "prod", Version: "v2.42.0", PreviousVersion: "v2.41.0", Author: "jdoe",
		Commit: "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d", URL: "https://argocd.example.internal/applications/argocd/checkout-prod",
		Description: "checkout v2.42.0: new payment retry policy"}, dep.Deploy)
	require.Equal(t, map[string]string{"cluster": "prod-eu-1", "team": "payments"}, dep.Labels)
	require.Nil(t, dep.Annotations)

	for _, s := range []string{storedPageEntryV0, storedDeployEntryV0} {
		var e Entry
		require.NoError(t, json.Unmarshal([]byte(s), &e))
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.Equal(t, s, string(b))
	}

	var step Deploy
	require.NoError(t, json.Unmarshal([]byte(storedDeployStepV0), &step))
	require.Equal(t, dep.Deploy, step.Info)
	require.Equal(t, dep.Labels, step.Labels)
	require.Nil(t, step.Annotations)
	require.Equal(t, dep.Deploy, step.entry("inc-1", nil).Deploy)
}
