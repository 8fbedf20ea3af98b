package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

// postmortemSections are the headings every draft has (spec/postmortem.md).
var postmortemSections = []string{
	"Overview", "Timeline", "Detection", "What happened", "Resolution",
	"Contributing factors", "Impact", "What went well?", "What didn't go so well?",
	"Where we got lucky", "Related incidents", "Action items", "Five whys",
	"Lessons learned", "Review",
}

// startAlertmanager runs the real Alertmanager with a webhook receiver
// pointing at hook, and returns its base URL once ready.
func startAlertmanager(t *testing.T, hook string) string {
	t.Helper()
	return startAlertmanagerWithConfig(t, fmt.Sprintf(`route:
  receiver: hindsight
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hindsight
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook))
}

type amPostable struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL"`
}

type amGettable struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	StartsAt    time.Time         `json:"startsAt"`
}

// TestAlertmanagerEndToEnd drives Hindsight with the real Alertmanager:
// two alerts fire and resolve through its API, its webhook notifier
// delivers them, and Hindsight builds one incident with the fingerprints
// Alertmanager reports, resolves it and drafts its post-mortem.
func TestAlertmanagerEndToEnd(t *testing.T) {
	skipShort(t)
	d := startInProcess(t, t.TempDir(), "correlation:\n  resolve_after: 1s\n")
	am := startAlertmanager(t, d.URL+"/api/v1/ingest/alertmanager")

	const runbook = "https://runbooks.example.internal/checkout/high-error-rate"
	startsAt := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	alerts := func(endsAt *time.Time) []byte {
		var as []amPostable
		for _, inst := range []string{"a", "b"} {
			as = append(as, amPostable{
				Labels: map[string]string{
					"alertname": "HighErrorRate", "service": "checkout", "instance": inst, "severity": "critical",
				},
				Annotations: map[string]string{
					"summary":     "checkout 5xx ratio above 5% on " + inst,
					"description": "5xx ratio is 7.3% over the last 5m",
					"runbook_url": runbook,
				},
				StartsAt:     startsAt,
				EndsAt:       endsAt,
				GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=job%3Acheckout_http_5xx%3Aratio5m+%3E+0.05",
			})
		}
		b, err := json.Marshal(as)
		require.NoError(t, err)
		return b
	}
	code, body := postJSON(t, am+"/api/v2/alerts", alerts(nil))
	require.Equal(t, http.StatusOK, code, "POST /api/v2/alerts: %s", body)

	var amAlerts []amGettable
	eventually(t, pollTimeout, "Alertmanager to list both alerts", func() error {
		amAlerts = nil
		if err := tryGetJSON(am+`/api/v2/alerts?filter=service%3D%22checkout%22`, &amAlerts); err != nil {
			return err
		}
		if len(amAlerts) != 2 {
			return fmt.Errorf("%d alerts", len(amAlerts))
		}
		return nil
	})
	var fps []string
	for _, a := range amAlerts {
		require.NotEmpty(t, a.Fingerprint)
		require.True(t, startsAt.Equal(a.StartsAt), "Alertmanager kept startsAt %s, want %s", a.StartsAt, startsAt)
		fps = append(fps, a.Fingerprint)
	}
	slices.Sort(fps)

	// entriesOf waits for the one incident to have two entries of kind.
	var inc apiIncident
	waitEntries := func(kind string) {
		t.Helper()
		eventually(t, pollTimeout, "one incident with two "+kind+" entries", func() error {
			var list struct {
				Incidents []apiIncident `json:"incidents"`
			}
			if err := tryGetJSON(d.URL+"/api/v1/incidents", &list); err != nil {
				return err
			}
			if len(list.Incidents) != 1 {
				return fmt.Errorf("%d incidents", len(list.Incidents))
			}
			inc = apiIncident{}
			if err := tryGetJSON(d.URL+"/api/v1/incidents/"+list.Incidents[0].ID, &inc); err != nil {
				return err
			}
			n := 0
			for _, e := range inc.Timeline {
				if e.Kind == kind {
					n++
				}
			}
			if n < 2 {
				return fmt.Errorf("%d %s entries", n, kind)
			}
			return nil
		})
		var got []string
		for _, e := range inc.Timeline {
			if e.Kind != kind {
				continue
			}
			require.Equal(t, "alertmanager", e.Source)
			require.NotNil(t, e.Ref.StartsAt, "entry %s has no ref.starts_at", e.ID)
			require.True(t, startsAt.Equal(*e.Ref.StartsAt), "entry %s ref.starts_at %s, want %s", e.ID, e.Ref.StartsAt, startsAt)
			require.Contains(t, e.Summary, "HighErrorRate")
			got = append(got, e.Ref.Fingerprint)
		}
		slices.Sort(got)
		require.Equal(t, fps, got, "%s entries should carry the fingerprints Alertmanager reports", kind)
	}

	waitEntries("alert.firing")
	require.Equal(t, []string{"checkout"}, inc.Services)
	require.Equal(t, "open", inc.Status)
	require.NotEmpty(t, inc.Severity.Suggested, "severity.suggested")
	require.NotEmpty(t, inc.Severity.Effective, "severity.effective")
	require.NotEmpty(t, inc.Severity.Reasons, "severity.reasons")
	require.True(t, startsAt.Equal(inc.StartedAt), "started_at %s, want %s", inc.StartedAt, startsAt)

	// Resolve both: the same alerts with endsAt now.
	now := time.Now().UTC()
	code, body = postJSON(t, am+"/api/v2/alerts", alerts(&now))
	require.Equal(t, http.StatusOK, code, "POST /api/v2/alerts: %s", body)
	waitEntries("alert.resolved")
	require.Len(t, inc.Timeline, 4, "two firings and two resolutions, each once")
	eventually(t, pollTimeout, "the incident to resolve (resolve_after 1s)", func() error {
		var v apiIncident
		if err := tryGetJSON(d.URL+"/api/v1/incidents/"+inc.ID, &v); err != nil {
			return err
		}
		if v.Status != "resolved" {
			return fmt.Errorf("status %q", v.Status)
		}
		if v.ResolvedAt == nil {
			return fmt.Errorf("resolved without resolved_at")
		}
		return nil
	})

	code, md := getBody(t, d.URL+"/api/v1/incidents/"+inc.ID+"/postmortem?format=markdown")
	require.Equal(t, http.StatusOK, code, "%s", md)
	draft := string(md)
	headings := map[string]int{}
	for i, line := range strings.Split(draft, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimRight(line, " \r"), "## "); ok {
			if _, dup := headings[strings.TrimSpace(h)]; !dup {
				headings[strings.TrimSpace(h)] = i
			}
		}
	}
	last := -1
	for _, s := range postmortemSections {
		line, ok := headings[s]
		require.True(t, ok, "the draft has no %q heading; draft:\n%s", "## "+s, draft)
		require.Greater(t, line, last, "section %q is out of the order of spec/postmortem.md; draft:\n%s", s, draft)
		last = line
	}
	require.Contains(t, draft, "HighErrorRate")
	require.Contains(t, draft, runbook)
	require.Contains(t, draft, "checkout")

	v, found := metricValue(t, d.URL, `hindsight_collector_events_received_total{source="alertmanager"}`)
	require.True(t, found, "hindsight_collector_events_received_total{source=\"alertmanager\"} not exposed")
	require.Greater(t, v, 0.0)
}
