package collector_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
)

// Events as 4033f7d (the last version before the typed parts) stored them
// in Badger, for the triggered PagerDuty sample and the canonical deploy
// sample: every detail among the labels, a deploy's description and url
// copied into the annotations.
const (
	storedPageV0   = `{"id":"ev-e540ef064f89c55748fbd25f","source":"pagerduty","kind":"pagerduty.incident.triggered","at":"2026-11-20T14:03:02.418Z","received_at":"2026-11-20T14:03:03Z","service":"checkout","summary":"#4711 [FIRING:1] HighErrorRate checkout prod triggered on checkout (prod), assigned to Dana Oncall","labels":{"agent":"checkout (prod)","agent_type":"service_reference","assignees":"Dana Oncall","escalation_policy":"Checkout Primary","html_url":"https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD","incident_key":"1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c","pd_incident_number":"4711","pd_service":"checkout (prod)","pd_service_id":"PCHKOUT","priority":"P1","status":"triggered","title":"[FIRING:1] HighErrorRate checkout prod","urgency":"high"},"ref":{"pagerduty_incident_id":"Q2XK8LJ4N1ABCD","pagerduty_event_id":"01F8G2K4S3JY9V0QZ7W5X6T2AB"}}`
	storedDeployV0 = `{"id":"ev-3b97bf186d4a8dcf9c170860","source":"deploy","kind":"deploy.succeeded","at":"2026-11-20T13:58:40Z","received_at":"2026-11-20T13:58:41Z","service":"checkout","summary":"checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)","labels":{"author":"jdoe","cluster":"prod-eu-1","commit":"9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d","description":"checkout v2.42.0: new payment retry policy","environment":"prod","previous_version":"v2.41.0","team":"payments","url":"https://argocd.example.internal/applications/argocd/checkout-prod","version":"v2.42.0"},"annotations":{"description":"checkout v2.42.0: new payment retry policy","url":"https://argocd.example.internal/applications/argocd/checkout-prod"},"ref":{"deploy_id":"argocd:prod-eu-1:checkout-prod:9f3c2d1a"}}`
)

func sample(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// An event stored by the previous version reads as the event the
// collectors make now from the same input: the details move from the
// labels into the typed part, the sender's own labels stay.
func TestStoredEventOfPreviousVersionDecodes(t *testing.T) {
	t.Run("pagerduty", func(t *testing.T) {
		_, want, err := pagerduty.Decode(sample(t, "pagerduty/testdata/pagerduty_webhook_v3_incident_triggered.json"))
		require.NoError(t, err)
		want.ReceivedAt = time.Date(2026, 11, 20, 14, 3, 3, 0, time.UTC)
		want.Service = "checkout"

		var got collector.Event
		require.NoError(t, json.Unmarshal([]byte(storedPageV0), &got))
		require.Equal(t, *want, got)
		require.Equal(t, []string{"Dana Oncall"}, got.PagerDuty.Assignees)
		require.Equal(t, "PCHKOUT", got.PagerDuty.ServiceID)
		require.Nil(t, got.Labels)
	})
	t.Run("deploy", func(t *testing.T) {
		evs, err := deploy.Decode(sample(t, "deploy/testdata/deploy_event_canonical.json"), "", nil)
		require.NoError(t, err)
		want := evs[0]
		want.ReceivedAt = time.Date(2026, 11, 20, 13, 58, 41, 0, time.UTC)

		var got collector.Event
		require.NoError(t, json.Unmarshal([]byte(storedDeployV0), &got))
		require.Equal(t, want, got)
		require.Equal(t, map[string]string{"cluster": "prod-eu-1", "team": "payments"}, got.Labels)
		require.Equal(t, "v2.41.0", got.Deploy.PreviousVersion)
		require.Nil(t, got.Annotations)
	})
}

// The new form round-trips, and the events API's labels are what they
// were.
func TestEventJSONRoundTripAndFlatLabels(t *testing.T) {
	for _, stored := range []string{storedPageV0, storedDeployV0} {
		var old struct {
			Labels map[string]string `json:"labels"`
		}
		require.NoError(t, json.Unmarshal([]byte(stored), &old))
		var ev collector.Event
		require.NoError(t, json.Unmarshal([]byte(stored), &ev))
		require.Equal(t, old.Labels, ev.FlatLabels())

		b, err := json.Marshal(&ev)
		require.NoError(t, err)
		var again collector.Event
		require.NoError(t, json.Unmarshal(b, &again))
		require.Equal(t, ev, again)
	}
}

// Other sources' labels are theirs: a correction's "title" or "status"
// label is not read as a PagerDuty field.
func TestLiftLeavesOtherSources(t *testing.T) {
	l := map[string]string{"title": "t", "status": "resolved", "version": "v1"}
	for _, src := range []string{collector.SourceNote, collector.SourceHindsight, collector.SourceAlertmanager} {
		p := collector.Lift(src, l, nil)
		require.Equal(t, l, p.Labels)
		require.Nil(t, p.PagerDuty)
		require.Nil(t, p.Deploy)
	}
	var ev collector.Event
	require.NoError(t, json.Unmarshal([]byte(`{"id":"ev-1","source":"note","kind":"note","at":"2026-11-20T14:00:00Z","labels":{"title":"t"}}`), &ev))
	require.Equal(t, map[string]string{"title": "t"}, ev.Labels)
	require.Nil(t, ev.PagerDuty)
}
