package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// sections are the section headings of spec/postmortem.md, in order.
var sections = []string{
	"Overview", "Timeline", "Detection", "What happened", "Resolution", "Contributing factors", "Impact",
	"What went well?", "What didn't go so well?", "Where we got lucky", "Related incidents", "Action items",
	"Five whys", "Lessons learned", "Review",
}

const (
	errorRateURL = "http://prometheus.example.internal:9090/graph?g0.expr=job%3Acheckout_http_5xx%3Aratio5m+%3E+0.05&g0.tab=1"
	latencyURL   = "http://prometheus.example.internal:9090/graph?g0.expr=histogram_quantile%280.99%2C+job%3Acheckout_http_duration_seconds%3Arate5m%29+%3E+1&g0.tab=1"
	runbookURL   = "https://runbooks.example.internal/checkout/high-error-rate"
	amURL        = "http://alertmanager.example.internal:9093"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func testConfig() *config.Config {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {CustomerFacing: true, Tier: 1},
		"payments": {CustomerFacing: true, Tier: 1},
	}
	return cfg
}

// alertEntry builds a timeline entry the way the Alertmanager collector
// and the correlator do.
func alertEntry(id, status, name, fp, inst, sev, summary, gen string, starts, ends time.Time) correlate.Entry {
	labels := map[string]string{"alertname": name, "instance": inst, "service": "checkout", "env": "prod", "severity": sev}
	ann := map[string]string{"summary": summary}
	e := correlate.Entry{
		ID: id, IncidentID: "inc-01JD3CHECKOUT", Source: collector.SourceAlertmanager, Service: "checkout",
		Ref: collector.Ref{Fingerprint: fp, StartsAt: &starts}, Labels: labels, Annotations: ann,
		Alert: &collector.Alert{Name: name, Status: status, Severity: sev, StartsAt: starts, GeneratorURL: gen,
			Receiver: "hindsight", ExternalURL: amURL},
	}
	if status == "firing" {
		e.Kind, e.At = collector.KindAlertFiring, starts
		e.Summary = name + " firing on " + inst + " (" + sev + "): " + summary
	} else {
		e.Kind, e.At = collector.KindAlertResolved, ends
		e.Alert.EndsAt = ends
		e.Summary = name + " resolved on " + inst + " after " + ends.Sub(starts).String() + " (" + sev + ")"
	}
	e.ReceivedAt = e.At.Add(2 * time.Second)
	return e
}

// resolvedView is the checkout incident of the samples
// (alertmanager_webhook_firing.json and _resolved.json): two HighErrorRate
// alerts after a deploy, a latency alert that flapped three times, a note
// and a rollback.
func resolvedView() *correlate.View {
	t0 := at("2026-11-20T14:02:11Z")
	end := at("2026-11-20T14:31:40Z")
	lat := func(s string) time.Time { return at("2026-11-20T" + s + "Z") }
	const errSum = "checkout 5xx ratio above 5%"
	const latSum = "checkout p99 latency above 1s"
	tl := correlate.Timeline{
		{ID: "ent-deploy-4711", At: lat("13:56:10"), Source: collector.SourceDeploy, Kind: "deploy.succeeded", Service: "checkout",
			Summary: "checkout v2.3.1 deployed to production by dana (d-4711)", Ref: collector.Ref{DeployID: "d-4711"},
			Annotations: map[string]string{"url": "https://ci.example.com/runs/4711"}},
		alertEntry("ent-a1", "firing", "HighErrorRate", "d22af6f0ad867df4", "checkout-7d9f-abcde:8080", "page", errSum, errorRateURL, t0, time.Time{}),
		alertEntry("ent-a2", "firing", "HighErrorRate", "463275d6c2eb39fd", "checkout-7d9f-fghij:8080", "page", errSum, errorRateURL, t0, time.Time{}),
		alertEntry("ent-l1", "firing", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:04:30"), time.Time{}),
		alertEntry("ent-l2", "resolved", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:04:30"), lat("14:07:45")),
		alertEntry("ent-l3", "firing", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:09:00"), time.Time{}),
		alertEntry("ent-l4", "resolved", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:09:00"), lat("14:11:30")),
		alertEntry("ent-l5", "firing", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:14:00"), time.Time{}),
		{ID: "ent-note-1", At: lat("14:16:30"), Source: collector.SourceNote, Kind: "note",
			Summary: "Rolling back checkout to v2.3.0: errors started with the v2.3.1 deploy (dana)"},
		{ID: "ent-deploy-4712", At: lat("14:20:05"), Source: collector.SourceDeploy, Kind: "deploy.rolled_back", Service: "checkout",
			Summary: "checkout rolled back to v2.3.0 in production by dana (d-4712)", Ref: collector.Ref{DeployID: "d-4712"}},
		alertEntry("ent-l6", "resolved", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:14:00"), lat("14:24:40")),
		alertEntry("ent-a3", "resolved", "HighErrorRate", "d22af6f0ad867df4", "checkout-7d9f-abcde:8080", "page", errSum, errorRateURL, t0, end),
		alertEntry("ent-a4", "resolved", "HighErrorRate", "463275d6c2eb39fd", "checkout-7d9f-fghij:8080", "page", errSum, errorRateURL, t0, end),
	}
	errAlert := func(fp, inst string) *correlate.AlertState {
		return &correlate.AlertState{Fingerprint: fp, Name: "HighErrorRate", Service: "checkout", Severity: "page",
			Labels:  map[string]string{"alertname": "HighErrorRate", "instance": inst, "service": "checkout", "severity": "page"},
			Summary: errSum, Description: "5xx ratio is 7.3% over the last 5m", RunbookURL: runbookURL, GeneratorURL: errorRateURL,
			FirstStart: t0, StartsAt: t0, EndsAt: end, Firings: 1}
	}
	return &correlate.View{
		ID:         "inc-01JD3CHECKOUT",
		Title:      "checkout: HighErrorRate and 1 other alert",
		Status:     correlate.StatusResolved,
		StartedAt:  t0,
		ResolvedAt: &end,
		Services:   []string{"checkout"},
		Severity: correlate.SeverityView{Suggested: "SEV2", Effective: "SEV2", Reasons: []string{
			"SEV2: checkout customer-facing and alert HighErrorRate is page",
			"SEV3: alert HighErrorRate is page",
		}},
		Impact: correlate.Impact{
			Summary:         "checkout affected for 29m29s; 3 alert(s) fired; customer-facing: checkout",
			DurationSeconds: 1769, CustomerFacing: true,
			Metrics: []correlate.ImpactMetric{
				{Name: "requests_failed", Service: "checkout", Value: 18234, Query: `sum(increase(http_requests_total{service="checkout",code=~"5.."}[29m29s]))`},
				{Name: "error_ratio", Service: "checkout", Value: 0.031, Query: `sum(rate(http_requests_total{service="checkout",code=~"5.."}[29m29s])) / sum(rate(http_requests_total{service="checkout"}[29m29s]))`},
			},
		},
		SuspectedCauses: []correlate.SuspectedCause{{EntryID: "ent-deploy-4711", DeployID: "d-4711", Score: 0.82,
			Reasons: []string{"deploy of checkout v2.3.1 succeeded 6m1s before the first alert"}}},
		PagerDuty: []correlate.PagerDutyLink{},
		Anchor:    "checkout",
		Alerts: []*correlate.AlertState{
			errAlert("d22af6f0ad867df4", "checkout-7d9f-abcde:8080"),
			errAlert("463275d6c2eb39fd", "checkout-7d9f-fghij:8080"),
			{Fingerprint: "8b1f0c2a3d4e5f60", Name: "CheckoutLatencyHigh", Service: "checkout", Severity: "warning",
				Labels:  map[string]string{"alertname": "CheckoutLatencyHigh", "instance": "checkout-7d9f-abcde:8080", "service": "checkout", "severity": "warning"},
				Summary: latSum, GeneratorURL: latencyURL,
				FirstStart: lat("14:04:30"), StartsAt: lat("14:14:00"), EndsAt: lat("14:24:40"), Firings: 3},
		},
		Entries:  len(tl),
		Timeline: tl,
	}
}

// openView is an incident still open when the draft is made: consumer lag
// on three instances of a service that is not configured, a note, and no
// suspected cause.
func openView() *correlate.View {
	t0 := at("2026-11-21T09:10:00Z")
	lag := func(id, fp, inst string, starts time.Time) (correlate.Entry, *correlate.AlertState) {
		labels := map[string]string{"alertname": "KafkaConsumerLag", "instance": inst, "service": "payments-worker", "severity": "warning"}
		sum := "consumer group payments-worker is more than 10000 messages behind"
		e := correlate.Entry{ID: id, At: starts, Source: collector.SourceAlertmanager, Kind: collector.KindAlertFiring, Service: "payments-worker",
			Summary: "KafkaConsumerLag firing on " + inst + " (warning): " + sum, Ref: collector.Ref{Fingerprint: fp, StartsAt: &starts},
			Labels: labels, Annotations: map[string]string{"summary": sum, "runbook_url": "https://runbooks.example.internal/kafka/consumer-lag"},
			Alert: &collector.Alert{Name: "KafkaConsumerLag", Status: "firing", Severity: "warning", StartsAt: starts, ExternalURL: amURL,
				GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=kafka_consumergroup_lag+%3E+10000"}}
		a := &correlate.AlertState{Fingerprint: fp, Name: "KafkaConsumerLag", Service: "payments-worker", Severity: "warning", Labels: labels,
			Summary: sum, RunbookURL: "https://runbooks.example.internal/kafka/consumer-lag", GeneratorURL: e.Alert.GeneratorURL,
			Firing: true, FirstStart: starts, StartsAt: starts, Firings: 1}
		return e, a
	}
	e1, a1 := lag("ent-k1", "aa01", "payments-worker-0:9308", t0)
	e2, a2 := lag("ent-k2", "aa02", "payments-worker-1:9308", t0.Add(90*time.Second))
	e3, a3 := lag("ent-k3", "aa03", "payments-worker-2:9308", t0.Add(3*time.Minute))
	restartAt := t0.Add(12 * time.Minute)
	restart := correlate.Entry{ID: "ent-r1", At: restartAt, Source: collector.SourceAlertmanager, Kind: collector.KindAlertFiring,
		Service: "payments-worker", Summary: "PodRestarting firing on payments-worker-1 (warning)",
		Ref:    collector.Ref{Fingerprint: "bb01", StartsAt: &restartAt},
		Labels: map[string]string{"alertname": "PodRestarting", "pod": "payments-worker-1", "service": "payments-worker"},
		Alert:  &collector.Alert{Name: "PodRestarting", Status: "firing", Severity: "warning", StartsAt: restartAt, ExternalURL: amURL}}
	note := correlate.Entry{ID: "ent-n1", At: t0.Add(15 * time.Minute), Source: collector.SourceNote, Kind: "note",
		Summary: "Consumer group keeps rebalancing since the node drain; watching the lag (sam)"}
	return &correlate.View{
		ID: "inc-01JD5PAYMENTS", Title: "payments-worker: KafkaConsumerLag and 1 other alert", Status: correlate.StatusOpen,
		StartedAt: t0, Services: []string{"payments-worker"},
		Severity:        correlate.SeverityView{Suggested: "SEV4", Effective: "SEV4", Reasons: []string{"SEV4: alert KafkaConsumerLag is warning"}},
		Impact:          correlate.Impact{Summary: "payments-worker affected for 30m; 4 alert(s) fired", DurationSeconds: 1800, Metrics: []correlate.ImpactMetric{}},
		SuspectedCauses: []correlate.SuspectedCause{},
		PagerDuty:       []correlate.PagerDutyLink{},
		Anchor:          "payments-worker",
		Alerts: []*correlate.AlertState{a3, a1, a2, {Fingerprint: "bb01", Name: "PodRestarting", Service: "payments-worker", Severity: "warning",
			Labels: restart.Labels, Firing: true, FirstStart: restartAt, StartsAt: restartAt, Firings: 1}},
		Entries:  5,
		Timeline: correlate.Timeline{e1, e2, e3, restart, note},
	}
}

var cases = []struct {
	name      string
	view      func() *correlate.View
	generated time.Time
}{
	{"resolved", resolvedView, at("2026-11-20T14:45:00Z")},
	{"open", openView, at("2026-11-21T09:40:00Z")},
}

func render(t *testing.T, format string, d *Draft) []byte {
	t.Helper()
	r, err := ForFormat(format)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, r.Render(&b, d))
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range cases {
		for _, f := range []struct{ format, ext string }{{"markdown", "md"}, {"json", "json"}, {"html", "html"}} {
			t.Run(tc.name+"/"+f.format, func(t *testing.T) {
				got := render(t, f.format, NewDraft(tc.view(), testConfig(), tc.generated))
				path := filepath.Join("testdata", tc.name+"."+f.ext+".golden")
				if *update {
					require.NoError(t, os.WriteFile(path, got, 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test ./export/ -update to create the golden file")
				require.Equal(t, string(want), string(got), "output differs from %s; rerun with -update and review the diff", path)
			})
		}
	}
}

func TestJSONIsValidWithNullUnknownTimes(t *testing.T) {
	out := render(t, "json", NewDraft(openView(), testConfig(), at("2026-11-21T09:40:00Z")))
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	h := m["header"].(map[string]any)
	require.Nil(t, h["ended_at"])
	require.Nil(t, h["acknowledged_at"])
	require.Nil(t, h["time_to_acknowledge_seconds"])
	require.Equal(t, "2026-11-21T09:10:00Z", h["started_at"])
	require.InDelta(t, 1800, h["duration_seconds"], 0)
	require.Equal(t, DraftStatus, h["draft_status"])
}

func TestJSONRoundTrip(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, "json", NewDraft(tc.view(), testConfig(), tc.generated))
			var back Draft
			require.NoError(t, json.Unmarshal(out, &back))
			require.Equal(t, string(out), string(render(t, "json", &back)), "the JSON loses nothing a tool needs")
		})
	}
}

func headings(md string) []string {
	var hs []string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "## ") {
			hs = append(hs, strings.TrimPrefix(l, "## "))
		}
	}
	return hs
}

func TestSectionsInOrder(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			md := string(render(t, "md", NewDraft(tc.view(), testConfig(), tc.generated)))
			require.True(t, strings.HasPrefix(md, "# Post-mortem: "), "starts with the title: %.60q", md)
			require.Equal(t, sections, headings(md))
			html := string(render(t, "html", NewDraft(tc.view(), testConfig(), tc.generated)))
			var hs []string
			for _, m := range regexp.MustCompile(`<h2>(.*?)</h2>`).FindAllStringSubmatch(html, -1) {
				hs = append(hs, strings.ReplaceAll(m[1], "&#39;", "'"))
			}
			require.Equal(t, sections, hs)
		})
	}
	// An empty incident still has every section.
	md := string(render(t, "md", NewDraft(nil, nil, time.Time{})))
	require.Equal(t, sections, headings(md))
}

func TestEscapesTextFromAlerts(t *testing.T) {
	v := resolvedView()
	const evil = "errors | retries <script>alert(1)</script> *boom* [x](javascript:alert(1))"
	for _, a := range v.Alerts {
		a.Summary = evil
		a.Name = "High|Rate"
	}
	for i := range v.Timeline {
		v.Timeline[i].Summary = evil
		v.Timeline[i].Annotations = map[string]string{"summary": evil}
	}
	v.Title = "checkout: <b>High|Rate</b>"
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))

	md := string(render(t, "markdown", d))
	require.NotContains(t, md, "<script>")
	require.NotContains(t, md, "<b>")
	require.Contains(t, md, `errors \| retries &lt;script&gt;alert(1)&lt;/script&gt; \*boom\* \[x\](javascript:alert(1))`)
	require.NotRegexp(t, `[^\\]\]\(javascript:`, md, "no live javascript: link")
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| ") && strings.Contains(l, "retries") {
			// Only the table's own pipes are unescaped: 3 columns, 4 pipes.
			unescaped := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(l, -1))
			require.Equal(t, 4, unescaped, "row %q", l)
		}
	}

	html := string(render(t, "html", d))
	require.NotContains(t, html, "<script>")
	require.NotContains(t, html, "<b>High")
	require.Contains(t, html, "&lt;script&gt;")

	var back Draft
	require.NoError(t, json.Unmarshal(render(t, "json", d), &back))
	require.Contains(t, back.Timeline[1].Text, "<script>", "JSON keeps the text itself; its encoding escapes it")
}

func TestUnsafeLinksDropped(t *testing.T) {
	v := resolvedView()
	v.Alerts[0].RunbookURL = "javascript:alert(1)"
	v.Alerts[1].RunbookURL = "javascript:alert(1)"
	v.Alerts[2].GeneratorURL = "data:text/html,hi"
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))
	for _, f := range []string{"md", "json", "html"} {
		out := string(render(t, f, d))
		require.NotContains(t, out, "javascript:", f)
		require.NotContains(t, out, "data:text", f)
	}
}

func TestDeterministic(t *testing.T) {
	gen := at("2026-11-20T14:45:00Z")
	base := NewDraft(resolvedView(), testConfig(), gen)
	shuffled := resolvedView()
	slices.Reverse(shuffled.Alerts)
	slices.Reverse(shuffled.Impact.Metrics)
	shuffled.SuspectedCauses = append(shuffled.SuspectedCauses, correlate.SuspectedCause{DeployID: "d-4700", Score: 0.2, Reasons: []string{"older deploy"}})
	slices.Reverse(shuffled.SuspectedCauses)
	withExtra := resolvedView()
	withExtra.SuspectedCauses = append(withExtra.SuspectedCauses, correlate.SuspectedCause{DeployID: "d-4700", Score: 0.2, Reasons: []string{"older deploy"}})
	for _, f := range Formats() {
		t.Run(f, func(t *testing.T) {
			first := render(t, f, base)
			require.Equal(t, first, render(t, f, base), "same draft, same bytes")
			require.Equal(t, first, render(t, f, NewDraft(resolvedView(), testConfig(), gen)), "same view, same bytes")
			require.Equal(t, render(t, f, NewDraft(withExtra, testConfig(), gen)), render(t, f, NewDraft(shuffled, testConfig(), gen)),
				"order of alerts, metrics and causes in the view does not matter")
		})
	}
}

func TestOverview(t *testing.T) {
	d := NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))
	require.Equal(t, Suggestion, d.Overview.Kind)
	o := d.Overview.Text
	require.True(t, strings.HasPrefix(o, "On 2026-11-20, checkout suffered a 29m29s SEV2 incident due to deploy d-4711"), o)
	require.Contains(t, o, "error_ratio on checkout was 3.1%")
	require.Contains(t, o, "customer-facing: checkout")

	open := NewDraft(openView(), testConfig(), at("2026-11-21T09:40:00Z")).Overview.Text
	require.Contains(t, open, "payments-worker")
	require.Contains(t, open, correlate.FormatDuration(30*time.Minute))
	require.Contains(t, open, "SEV4")
	require.Contains(t, open, "due to a cause not yet identified (to be completed)")

	md := string(render(t, "md", NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))))
	require.Contains(t, md, "## Overview\n\n_Suggested:_ On 2026-11-20, checkout suffered a 29m29s SEV2 incident")
}

func TestObservations(t *testing.T) {
	d := NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))
	md := string(render(t, "md", d))
	require.Contains(t, md, "CheckoutLatencyHigh on checkout-7d9f-abcde:8080 flapped: it fired 3 times")
	require.Contains(t, md, "Alert CheckoutLatencyHigh has no runbook")
	require.Contains(t, md, "_Suggested:_ Write a runbook for alert CheckoutLatencyHigh")
	require.Contains(t, md, "_Suggested:_ Tune the flapping alert CheckoutLatencyHigh")
	require.Contains(t, md, "Alerts detected the problem: HighErrorRate on 2 instances of checkout fired at 2026-11-20 14:02:11 UTC.")
	require.Contains(t, md, "2 alerts HighErrorRate (page) on 2 instances of checkout fired at 14:02:11 UTC")
	require.Contains(t, md, "Time to page and to acknowledge: unknown")
	require.NotContains(t, md, "monitoring gap", "no PagerDuty data, no claim about pages")
	require.Equal(t, "2026-11-20T14:20:05Z", d.Header.MitigatedAt.Format(time.RFC3339))
	require.Nil(t, d.Header.TimeToAcknowledge)
}

func TestPageBeforeAlertIsMonitoringGap(t *testing.T) {
	v := resolvedView()
	v.PagerDuty = []correlate.PagerDutyLink{{IncidentID: "Q2XK8LJ4N1ABCD", URL: "https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD"}}
	v.StartedAt = at("2026-11-20T13:55:00Z")
	ref := collector.Ref{PagerDutyIncidentID: "Q2XK8LJ4N1ABCD"}
	v.Timeline = append(v.Timeline,
		correlate.Entry{ID: "ent-pd1", At: at("2026-11-20T13:55:00Z"), Source: collector.SourcePagerDuty, Kind: kindPageTriggered,
			Summary: "Checkout failing for customers (raised by support)", Ref: ref},
		correlate.Entry{ID: "ent-pd2", At: at("2026-11-20T14:21:00Z"), Source: collector.SourcePagerDuty, Kind: kindPageAcknowledged,
			Summary: "acknowledged by Dana Oncall", Ref: ref},
		correlate.Entry{ID: "ent-pd3", At: at("2026-11-20T14:33:00Z"), Source: collector.SourcePagerDuty, Kind: kindPageResolved,
			Summary: "resolved: rolled back to v2.3.0", Ref: ref},
	)
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))
	require.Equal(t, "2026-11-20T13:55:00Z", d.Header.DetectedAt.Format(time.RFC3339))
	require.Equal(t, Duration(26*time.Minute), *d.Header.TimeToAcknowledge)
	require.Equal(t, Duration(38*time.Minute), *d.Header.TimeToResolve)
	require.Equal(t, 1, d.Impact.Pages)
	md := string(render(t, "md", d))
	require.Contains(t, md, "monitoring gap")
	require.Contains(t, md, "Detection was late: the first alert fired 7m11s after the first symptom.")
	require.Contains(t, md, "Acknowledgement was slow: 26m after the page.")
	require.Contains(t, md, "[PagerDuty incident Q2XK8LJ4N1ABCD](https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD)")
	require.Contains(t, md, "_Suggested:_ Add an alert that catches this before a person has to")
}

func TestForFormat(t *testing.T) {
	for _, tc := range []struct{ format, contentType string }{
		{"markdown", "text/markdown; charset=utf-8"},
		{"md", "text/markdown; charset=utf-8"},
		{" JSON ", "application/json"},
		{"html", "text/html; charset=utf-8"},
	} {
		r, err := ForFormat(tc.format)
		require.NoError(t, err, tc.format)
		require.Equal(t, tc.contentType, r.ContentType())
	}
	_, err := ForFormat("pdf")
	require.True(t, errors.Is(err, ErrUnknownFormat))
	require.EqualError(t, err, `unknown format "pdf": use one of markdown, md, json, html`)

	rs := Renderers()
	delete(rs, "json")
	_, err = ForFormat("json")
	require.NoError(t, err, "Renderers returns a copy")
}

func TestNewMarkdown(t *testing.T) {
	for _, tc := range []struct{ name, tmpl, err string }{
		{"parse error names the line", "# {{.Header.Title}}\n\n{{.Header.Title}\n", "parse markdown template: template: postmortem.md:3:"},
		{"unknown function", "{{nope .Header.Title}}", `function "nope" not defined`},
		{"misspelt field inside a range", "{{range .Timeline}}{{.Txt}}{{end}}", "check markdown template: render markdown: template: postmortem.md:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewMarkdown(tc.tmpl)
			require.ErrorContains(t, err, tc.err)
		})
	}
	r, err := NewMarkdown("# {{md .Header.Title}}\n\n\n\n{{range .Header.Links}}- {{link .Text .URL}}\n{{end}}")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, r.Render(&b, NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))))
	require.True(t, strings.HasPrefix(b.String(), "# checkout: HighErrorRate and 1 other alert\n\n- "), b.String())

	builtin, err := NewMarkdown(MarkdownTemplate())
	require.NoError(t, err)
	require.NotNil(t, builtin)
}

func TestRenderNilDraft(t *testing.T) {
	for _, f := range Formats() {
		r, err := ForFormat(f)
		require.NoError(t, err)
		var b bytes.Buffer
		require.Error(t, r.Render(&b, nil))
		require.Zero(t, b.Len(), "a failed render writes nothing")
	}
}
