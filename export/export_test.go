package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
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
			Deploy: &collector.Deploy{URL: "https://ci.example.com/runs/4711"}},
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
		}, History: []correlate.SeverityPeriod{
			{Level: "SEV2", Since: t0, Until: end, Seconds: 1769, Reason: "checkout customer-facing and alert HighErrorRate is page"},
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
		Related: []correlate.RelatedIncident{{
			ID: "inc-01JC9CHECKOUT", Title: "checkout: HighErrorRate after the v2.2.0 deploy", StartedAt: at("2026-10-02T09:12:00Z"), Score: 0.67,
			Reasons:       []string{"same alerts: HighErrorRate on checkout, CheckoutLatencyHigh on checkout; 2 of the 2 alerts seen in either incident"},
			PostmortemURL: "/api/v1/incidents/inc-01JC9CHECKOUT/postmortem",
		}},
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

const (
	pdCheckoutID  = "Q3CHK7ZK2P0ABC"
	pdCheckoutURL = "https://acme.pagerduty.com/incidents/" + pdCheckoutID
	pipelineURL   = "https://ci.example.com/runs/4711"
)

// pdEntry builds a timeline entry of a PagerDuty webhook event the way the
// PagerDuty collector and the correlator do: the summary is a sentence.
// The details are given in the label form the API shows (and the store
// keeps) and read into the typed part as a stored entry is.
func pdEntry(id, pdID, action, summary string, at time.Time, labels map[string]string) correlate.Entry {
	l := map[string]string{"html_url": "https://acme.pagerduty.com/incidents/" + pdID}
	for k, v := range labels {
		l[k] = v
	}
	p := collector.Lift(collector.SourcePagerDuty, l, nil)
	return correlate.Entry{ID: id, At: at, ReceivedAt: at.Add(time.Second), Source: collector.SourcePagerDuty,
		Kind: "pagerduty.incident." + action, Summary: summary, Labels: p.Labels, PagerDuty: p.PagerDuty,
		Ref:     collector.Ref{PagerDutyIncidentID: pdID, PagerDutyEventID: "01" + strings.ToUpper(id)},
		Reasons: []string{"joined: PagerDuty incident is linked to this incident"}}
}

// deployEntry builds a timeline entry of a deploy step the way the deploy
// collector and the correlator do, its details given as pdEntry's are.
func deployEntry(id, deployID, status, service, summary string, at time.Time, labels map[string]string, reason string) correlate.Entry {
	p := collector.Lift(collector.SourceDeploy, labels, nil)
	return correlate.Entry{ID: id, At: at, ReceivedAt: at.Add(time.Second), Source: collector.SourceDeploy,
		Kind: "deploy." + status, Service: service, Summary: summary, Labels: p.Labels, Deploy: p.Deploy,
		Ref: collector.Ref{DeployID: deployID}, Reasons: []string{reason}}
}

func ptr[T any](v T) *T { return &v }

// pagedView is a checkout incident with everything the correlator links
// to it: deploy d-4711 (v2.3.1) went out 6m before the first alert and is
// the suspect; Alertmanager paged Dana Oncall through PagerDuty, who
// acknowledged 4m after the first symptom, added Priya as a responder,
// rolled checkout back to v2.3.0 and said so in a note; the alerts
// resolved 7m after the rollback and Dana resolved the page.
func pagedView() *correlate.View {
	t0 := at("2026-11-20T14:02:11Z")
	lat := func(s string) time.Time { return at("2026-11-20T" + s + "Z") }
	const errSum = "checkout 5xx ratio above 5%"
	const latSum = "checkout p99 latency above 1s"
	deployLabels := map[string]string{"version": "v2.3.1", "previous_version": "v2.3.0", "author": "dana",
		"commit": "9f1c2e7d4b5a6c3e8f9a0b1c2d3e4f5a6b7c8d9e", "environment": "production", "url": pipelineURL,
		"description": "Switch the payment client to async retries"}
	// On the rollback step version is what runs afterwards.
	rollbackLabels := maps.Clone(deployLabels)
	rollbackLabels["version"], rollbackLabels["previous_version"] = "v2.3.0", "v2.3.1"
	pdLabels := func(extra map[string]string) map[string]string {
		l := map[string]string{"pd_incident_number": "8812", "title": "[FIRING:2] HighErrorRate checkout"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	tl := correlate.Timeline{
		deployEntry("ent-d4711-started", "d-4711", "started", "checkout", "checkout v2.3.1 deploy started (dana, 9f1c2e7)",
			lat("13:53:40"), deployLabels, "deploy of checkout (same service) 8m31s before the first alert (within correlation.deploy_lookback 1h)"),
		deployEntry("ent-d4711-succeeded", "d-4711", "succeeded", "checkout", "checkout v2.3.1 deploy succeeded (dana, 9f1c2e7)",
			lat("13:56:11"), deployLabels, "deploy of checkout (same service) 6m before the first alert (within correlation.deploy_lookback 1h)"),
		alertEntry("ent-a1", "firing", "HighErrorRate", "d22af6f0ad867df4", "checkout-7d9f-abcde:8080", "page", errSum, errorRateURL, t0, time.Time{}),
		alertEntry("ent-a2", "firing", "HighErrorRate", "463275d6c2eb39fd", "checkout-7d9f-fghij:8080", "page", errSum, errorRateURL, t0, time.Time{}),
		pdEntry("ent-pd-trig", pdCheckoutID, "triggered", "Incident #8812 triggered on PagerDuty service Checkout (P1, high urgency), assigned to Dana Oncall",
			lat("14:03:11"), pdLabels(map[string]string{"priority": "P1", "urgency": "high", "assignees": "Dana Oncall",
				"incident_key": "1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c"})),
		alertEntry("ent-l1", "firing", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:04:30"), time.Time{}),
		pdEntry("ent-pd-ack", pdCheckoutID, "acknowledged", "Dana Oncall acknowledged incident #8812", lat("14:06:11"),
			pdLabels(map[string]string{"agent": "Dana Oncall", "agent_type": "user_reference"})),
		pdEntry("ent-pd-resp", pdCheckoutID, "responder.added", "Dana Oncall asked Priya Payments to respond to incident #8812", lat("14:08:00"),
			pdLabels(map[string]string{"agent": "Dana Oncall", "agent_type": "user_reference", "responder": "Priya Payments",
				"message": "Payment client errors after v2.3.1, can you look?"})),
		{ID: "ent-note-1", At: lat("14:10:05"), Source: collector.SourceNote, Kind: "note",
			Summary: "Errors all come from the new async retry path of v2.3.1; rolling back (dana)"},
		deployEntry("ent-d4711-rolled-back", "d-4711", "rolled_back", "checkout", "checkout rolled back to v2.3.0 (dana)",
			lat("14:12:40"), rollbackLabels, "deploy of checkout (same service) during the incident, 10m29s after the first alert"),
		pdEntry("ent-pd-note", pdCheckoutID, "annotated", "Dana Oncall added a note to incident #8812", lat("14:13:30"),
			pdLabels(map[string]string{"agent": "Dana Oncall", "agent_type": "user_reference", "note": "rolled back checkout to v2.3.0"})),
		alertEntry("ent-l2", "resolved", "CheckoutLatencyHigh", "8b1f0c2a3d4e5f60", "checkout-7d9f-abcde:8080", "warning", latSum, latencyURL, lat("14:04:30"), lat("14:16:00")),
		alertEntry("ent-a3", "resolved", "HighErrorRate", "d22af6f0ad867df4", "checkout-7d9f-abcde:8080", "page", errSum, errorRateURL, t0, lat("14:19:50")),
		alertEntry("ent-a4", "resolved", "HighErrorRate", "463275d6c2eb39fd", "checkout-7d9f-fghij:8080", "page", errSum, errorRateURL, t0, lat("14:19:50")),
		pdEntry("ent-pd-res", pdCheckoutID, "resolved", "Dana Oncall resolved incident #8812", lat("14:21:00"),
			pdLabels(map[string]string{"agent": "Dana Oncall", "agent_type": "user_reference",
				"resolve_reason": "error rate back to baseline after the rollback"})),
	}
	end := lat("14:21:00")
	errAlert := func(fp, inst string) *correlate.AlertState {
		return &correlate.AlertState{Fingerprint: fp, Name: "HighErrorRate", Service: "checkout", Severity: "page",
			Labels:  map[string]string{"alertname": "HighErrorRate", "instance": inst, "service": "checkout", "severity": "page"},
			Summary: errSum, RunbookURL: runbookURL, GeneratorURL: errorRateURL,
			FirstStart: t0, StartsAt: t0, EndsAt: lat("14:19:50"), Firings: 1}
	}
	return &correlate.View{
		ID: "inc-01JD3PAGED", Title: "checkout: HighErrorRate and 1 other alert", Status: correlate.StatusResolved,
		StartedAt: t0, ResolvedAt: &end, Services: []string{"checkout"},
		Severity: correlate.SeverityView{Suggested: "SEV1", Effective: "SEV1", Reasons: []string{
			"SEV2: checkout customer-facing and alert HighErrorRate is page",
			"SEV1: PagerDuty priority P1 of #8812 sets at least SEV1 (pagerduty.priority_floor)",
		}, History: []correlate.SeverityPeriod{
			{Level: "SEV2", Since: t0, Until: lat("14:03:11"), Seconds: 60, Reason: "checkout customer-facing and alert HighErrorRate is page"},
			{Level: "SEV1", Since: lat("14:03:11"), Until: end, Seconds: 1069, Reason: "PagerDuty priority P1 of #8812 sets at least SEV1 (pagerduty.priority_floor)"},
		}},
		Impact: correlate.Impact{Summary: "checkout affected for 18m49s; 3 alert(s) fired; customer-facing: checkout",
			DurationSeconds: 1129, CustomerFacing: true, Metrics: []correlate.ImpactMetric{
				{Name: "error_ratio", Service: "checkout", Value: 0.052, Query: `sum(rate(http_requests_total{service="checkout",code=~"5.."}[18m49s])) / sum(rate(http_requests_total{service="checkout"}[18m49s]))`},
			}},
		SuspectedCauses: []correlate.SuspectedCause{{EntryID: "ent-d4711-rolled-back", DeployID: "d-4711", Score: 0.78, Reasons: []string{
			"deploy of checkout, a service of this incident (+40)",
			"succeeded 6m before the first alert (+20)",
			"its last step is rolled_back (+10)",
		}}},
		PagerDuty: []correlate.PagerDutyLink{{IncidentID: pdCheckoutID, URL: pdCheckoutURL, Number: "8812",
			Title: "[FIRING:2] HighErrorRate checkout", Status: "resolved", Priority: "P1", Urgency: "high",
			TriggeredAt: ptr(lat("14:03:11")), AcknowledgedAt: ptr(lat("14:06:11")), ResolvedAt: ptr(end),
			Assignees: []string{"Dana Oncall"}, Responders: []string{"Priya Payments", "Dana Oncall"},
			LinkReason: "linked exactly: the incident key of PagerDuty incident #8812 is sha256 of the Alertmanager group key of this incident's alerts"}},
		PagedAt: ptr(lat("14:03:11")), AcknowledgedAt: ptr(lat("14:06:11")),
		TimeToAcknowledgeSeconds: ptr(int64(240)), TimeToResolveSeconds: ptr(int64(1129)),
		Responders: []string{"Dana Oncall", "Priya Payments"},
		Anchor:     "checkout",
		Alerts: []*correlate.AlertState{
			errAlert("d22af6f0ad867df4", "checkout-7d9f-abcde:8080"),
			errAlert("463275d6c2eb39fd", "checkout-7d9f-fghij:8080"),
			{Fingerprint: "8b1f0c2a3d4e5f60", Name: "CheckoutLatencyHigh", Service: "checkout", Severity: "warning",
				Labels:  map[string]string{"alertname": "CheckoutLatencyHigh", "instance": "checkout-7d9f-abcde:8080", "service": "checkout", "severity": "warning"},
				Summary: latSum, RunbookURL: "https://runbooks.example.internal/checkout/latency", GeneratorURL: latencyURL,
				FirstStart: lat("14:04:30"), StartsAt: lat("14:04:30"), EndsAt: lat("14:16:00"), Firings: 1},
		},
		Entries:  len(tl),
		Timeline: tl,
	}
}

// gapView is a payments incident no alert caught: support raised a page
// by hand, PagerDuty escalated it when nobody acknowledged, a rollback
// failed, and a fix went out instead. Deploy d-5120 is the suspect.
func gapView() *correlate.View {
	const pdID = "Q7PAY3GAP0XYZ"
	t0 := at("2026-11-22T11:00:00Z")
	lat := func(s string) time.Time { return at("2026-11-22T" + s + "Z") }
	pd := func(extra map[string]string) map[string]string {
		l := map[string]string{"pd_incident_number": "8830", "title": "Customers report card payments declined"}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	const u5120, u5121, u5122 = "https://ci.example.com/runs/5120", "https://ci.example.com/runs/5121", "https://ci.example.com/runs/5122"
	tl := correlate.Timeline{
		deployEntry("ent-d5120", "d-5120", "succeeded", "payments", "payments v4.2.0 deploy succeeded (lee, 1a2b3c4)", lat("10:40:00"),
			map[string]string{"version": "v4.2.0", "previous_version": "v4.1.3", "author": "lee", "commit": "1a2b3c4", "environment": "production", "url": u5120},
			"deploy of payments (same service) 20m before the first alert (within correlation.deploy_lookback 1h)"),
		pdEntry("ent-g-trig", pdID, "triggered", "Sam Support triggered incident #8830 on PagerDuty service Payments, assigned to Lee Oncall", t0,
			pd(map[string]string{"agent": "Sam Support", "agent_type": "user_reference", "priority": "P2", "urgency": "high", "assignees": "Lee Oncall"})),
		pdEntry("ent-g-esc", pdID, "escalated", "Incident #8830 escalated to Kim Lead (level 2) after 15m without acknowledgement", lat("11:15:00"),
			pd(map[string]string{"assignees": "Kim Lead"})),
		pdEntry("ent-g-ack", pdID, "acknowledged", "Kim Lead acknowledged incident #8830", lat("11:16:00"),
			pd(map[string]string{"agent": "Kim Lead", "agent_type": "user_reference"})),
		deployEntry("ent-d5121", "d-5121", "failed", "payments", "payments v4.1.3 deploy failed (kim)", lat("11:19:00"),
			map[string]string{"version": "v4.1.3", "previous_version": "v4.2.0", "author": "kim", "environment": "production", "url": u5121},
			"deploy of payments (same service) during the incident, 19m after the first alert"),
		pdEntry("ent-g-note", pdID, "annotated", "Kim Lead added a note to incident #8830", lat("11:20:30"),
			pd(map[string]string{"agent": "Kim Lead", "agent_type": "user_reference",
				"note": "rollback to v4.1.3 failed: the card token migration cannot be reversed; fixing forward"})),
		pdEntry("ent-g-status", pdID, "status_update_published", "Kim Lead published a status update on incident #8830", lat("11:25:00"),
			pd(map[string]string{"agent": "Kim Lead", "agent_type": "user_reference",
				"message": "Some card payments are declined; a fix is on its way"})),
		deployEntry("ent-d5122", "d-5122", "succeeded", "payments", "payments v4.2.1 deploy succeeded (kim, 9e8d7c6)", lat("11:31:00"),
			map[string]string{"version": "v4.2.1", "previous_version": "v4.2.0", "author": "kim", "commit": "9e8d7c6", "environment": "production",
				"url": u5122, "description": "Accept card tokens of both formats"},
			"deploy of payments (same service) during the incident, 31m after the first alert"),
		pdEntry("ent-g-res", pdID, "resolved", "Kim Lead resolved incident #8830", lat("11:38:00"),
			pd(map[string]string{"agent": "Kim Lead", "agent_type": "user_reference", "resolve_reason": "fixed forward with v4.2.1"})),
	}
	end := lat("11:38:00")
	return &correlate.View{
		ID: "inc-01JD7GAP", Title: "payments: Customers report card payments declined", Status: correlate.StatusResolved,
		StartedAt: t0, ResolvedAt: &end, Services: []string{"payments"},
		Severity: correlate.SeverityView{Suggested: "SEV2", Effective: "SEV2", Reasons: []string{
			"SEV5: no severity rule matched",
			"SEV2: PagerDuty priority P2 of #8830 sets at least SEV2 (pagerduty.priority_floor)",
		}, History: []correlate.SeverityPeriod{
			{Level: "SEV2", Since: t0, Until: end, Seconds: 2280, Reason: "PagerDuty priority P2 of #8830 sets at least SEV2 (pagerduty.priority_floor)"},
		}},
		Impact: correlate.Impact{Summary: "payments affected for 38m; 0 alert(s) fired; customer-facing: payments",
			DurationSeconds: 2280, CustomerFacing: true, Metrics: []correlate.ImpactMetric{}},
		SuspectedCauses: []correlate.SuspectedCause{{EntryID: "ent-d5120", DeployID: "d-5120", Score: 0.48, Reasons: []string{
			"deploy of payments, a service of this incident (+40)",
			"succeeded 20m before the first alert (+8)",
		}}},
		PagerDuty: []correlate.PagerDutyLink{{IncidentID: pdID, URL: "https://acme.pagerduty.com/incidents/" + pdID, Number: "8830",
			Title: "Customers report card payments declined", Status: "resolved", Priority: "P2", Urgency: "high",
			TriggeredAt: ptr(t0), AcknowledgedAt: ptr(lat("11:16:00")), ResolvedAt: ptr(end), Escalations: 1,
			Assignees: []string{"Kim Lead"}, Responders: []string{"Sam Support", "Kim Lead"},
			LinkReason: "opened: PagerDuty incident #8830 has no alert behind it"}},
		PagedAt: ptr(t0), AcknowledgedAt: ptr(lat("11:16:00")),
		TimeToAcknowledgeSeconds: ptr(int64(960)), TimeToResolveSeconds: ptr(int64(2280)),
		Escalations: 1, Responders: []string{"Kim Lead", "Sam Support"}, MonitoringGap: true,
		Anchor: "payments", Alerts: []*correlate.AlertState{},
		Entries: len(tl), Timeline: tl, Related: []correlate.RelatedIncident{},
	}
}

var cases = []struct {
	name      string
	view      func() *correlate.View
	generated time.Time
}{
	{"resolved", resolvedView, at("2026-11-20T14:45:00Z")},
	{"open", openView, at("2026-11-21T09:40:00Z")},
	{"paged", pagedView, at("2026-11-20T14:45:00Z")},
	{"gap", gapView, at("2026-11-22T12:00:00Z")},
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
			// Only the table's own pipes are unescaped: 4 columns, 5 pipes.
			unescaped := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(l, -1))
			require.Equal(t, 5, unescaped, "row %q", l)
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
	require.True(t, strings.HasPrefix(o, "On the afternoon of 20 November 2026 (UTC), checkout suffered a 29-minute SEV2 incident due to a change to checkout (deploy d-4711)."), o)
	require.Contains(t, o, "This caused roughly 3.1% of checkout requests to fail (18,234 requests), as the impact queries measured.")
	require.Contains(t, o, "Alerts caught it at once, and it was mitigated by rolling back 18 minutes in.")
	require.NotContains(t, o, "not confirmed", "no hedging: the whole Overview is marked as a suggestion")
	require.NotContains(t, o, "dana", "blameless: changes, not people")

	paged := NewDraft(pagedView(), testConfig(), at("2026-11-20T14:45:00Z")).Overview.Text
	require.Equal(t, "On the afternoon of 20 November 2026 (UTC), checkout suffered a 19-minute SEV1 incident due to a change to checkout "+
		"(v2.3.1: Switch the payment client to async retries; deploy d-4711). This caused roughly 5.2% of checkout requests to fail, "+
		"as the impact queries measured. Alerts caught it at once, and it was mitigated by rolling back checkout to v2.3.0 10 minutes in.", paged)

	open := NewDraft(openView(), testConfig(), at("2026-11-21T09:40:00Z")).Overview.Text
	require.Equal(t, "On the morning of 21 November 2026 (UTC), payments-worker suffered a 30-minute SEV4 incident. It is still going on. "+
		"No customer-facing service was involved. Alerts caught it at once.", open)

	// Without impact queries, the numbers the alerts give, marked as such.
	v := resolvedView()
	v.Impact.Metrics = nil
	v.Alerts[0].Description = "12.4% of checkout requests fail"
	figured := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z")).Overview.Text
	require.Contains(t, figured, "The alerts reported “12.4% of checkout requests fail” (HighErrorRate on checkout) (the alerts' own annotations, not measured).")

	md := string(render(t, "md", NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))))
	require.Contains(t, md, "## Overview\n\n_Suggested:_ On the afternoon of 20 November 2026 (UTC), checkout suffered")
}

func TestObservations(t *testing.T) {
	d := NewDraft(resolvedView(), testConfig(), at("2026-11-20T14:45:00Z"))
	md := string(render(t, "md", d))
	require.Contains(t, md, "CheckoutLatencyHigh on checkout-7d9f-abcde:8080 flapped: it fired 3 times")
	require.Contains(t, md, "Alert CheckoutLatencyHigh has no runbook")
	require.Contains(t, md, "_Suggested:_ Write a runbook for CheckoutLatencyHigh")
	require.Contains(t, md, "_Suggested:_ Tune the flapping alert CheckoutLatencyHigh")
	require.Contains(t, md, "Alerts detected the problem: HighErrorRate on 2 instances of checkout fired at 2026-11-20 14:02:11 UTC.")
	require.Contains(t, md, "2 HighErrorRate alerts (page) on 2 instances of checkout fired at 14:02:11 UTC")
	require.Contains(t, md, "| T+2m19s | 14:04:30 | alertmanager | CheckoutLatencyHigh (warning) on checkout-7d9f-abcde:8080 fired twice between 14:04:30 and 14:09:00 UTC: checkout p99 latency above 1s",
		"firings of one alert collapse, also with other entries between them")
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
	require.Contains(t, md, "Acknowledgement was slow: the on-call responder acknowledged the page 26m after it was raised.")
	require.Contains(t, md, "[PagerDuty incident Q2XK8LJ4N1ABCD](https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD)")
	require.Contains(t, md, "_Suggested:_ Add an alert that would have caught this")
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

// section returns the Markdown of one section, from its heading to the
// next.
func section(md, heading string) string {
	_, rest, ok := strings.Cut(md, "\n## "+heading+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

func TestPagedIncident(t *testing.T) {
	d := NewDraft(pagedView(), testConfig(), at("2026-11-20T14:45:00Z"))
	h := d.Header
	require.Equal(t, "2026-11-20T14:02:11Z", h.DetectedAt.Format(time.RFC3339), "detection is the first alert")
	require.Equal(t, "2026-11-20T14:06:11Z", h.AcknowledgedAt.Format(time.RFC3339))
	require.Equal(t, "the on-call engineer", h.AcknowledgedBy, "a role, not a name, outside the responders table")
	require.Equal(t, Duration(4*time.Minute), *h.TimeToAcknowledge, "from the first symptom, as the API says")
	require.Equal(t, Duration(1129*time.Second), *h.TimeToResolve)
	require.Equal(t, []string{"Dana Oncall", "Priya Payments"}, h.Responders, "assignees and responders")
	require.Equal(t, []Person{{Name: "Dana Oncall", Role: "the on-call engineer"}, {Name: "Priya Payments", Role: "another engineer"},
		{Name: "dana", Role: "the deployer"}}, h.People)
	require.Equal(t, "2026-11-20T14:12:40Z", h.MitigatedAt.Format(time.RFC3339))
	require.Equal(t, "rollback of checkout to v2.3.0 (d-4711)", h.MitigatedBy)
	require.Equal(t, "critical; warrants public notification and executives", h.Severity.Meaning)
	require.Contains(t, h.Links, Link{Kind: LinkPagerDuty, Text: "PagerDuty incident #8812: [FIRING:2] HighErrorRate checkout", URL: pdCheckoutURL})
	require.Contains(t, h.Links, Link{Kind: LinkPipeline, Text: "d-4711: checkout v2.3.1 to production", URL: pipelineURL})
	require.Equal(t, 1, d.Impact.Pages)

	md := string(render(t, "md", d))
	require.Contains(t, md, "| Severity | **SEV1**: critical; warrants public notification and executives (suggested by Hindsight) |")
	require.Contains(t, md, "| Acknowledged | 2026-11-20 14:06:11 UTC by the on-call engineer |")
	require.Contains(t, md, "| Time to acknowledge | 4m from the first symptom |")
	require.Contains(t, md, "| Responders | Dana Oncall (the on-call engineer), Priya Payments (another engineer) |")
	for _, name := range []string{"Dana", "Priya", "dana"} {
		rest := strings.Replace(md, "| Responders | Dana Oncall (the on-call engineer), Priya Payments (another engineer) |", "", 1)
		require.NotContains(t, rest, name, "blameless: %s appears only in the responders table", name)
	}

	tl := section(md, "Timeline")
	require.Contains(t, tl, "### Lead-up: changes before the first symptom\n\nT−8m31s to T−6m, 13:53:40 to 13:56:11 UTC")
	require.Contains(t, tl, "### Escalation: from the page until the first fix or rollback")
	require.Contains(t, tl, "### Recovery: the alerts and pages resolving")
	require.Contains(t, tl, `| T+11m19s | 14:13:30 | pagerduty | The on-call engineer added a note to incident #8812: "rolled back checkout to v2.3.0"`, "a note shows its text")
	require.Contains(t, tl, "checkout v2.3.1 deploy succeeded (9f1c2e7, d-4711): Switch the payment client to async retries")
	require.Contains(t, tl, "checkout rolled back to v2.3.0 (from v2.3.1, d-4711) ([source](https://ci.example.com/runs/4711))",
		"a rollback names what it undid, not the description of the change")
	require.Contains(t, tl, "**Note:** Errors all come from the new async retry path", "people's notes stay")
	require.Equal(t, PhaseMitigation, d.Timeline[slices.IndexFunc(d.Timeline, func(l TimelineLine) bool { return l.EventKind == "deploy.rolled_back" })].Phase)

	det := section(md, "Detection")
	require.Contains(t, det, "The first page, PagerDuty incident #8812, was triggered at 2026-11-20 14:03:11 UTC, 1m after the first symptom; it went to the on-call engineer.")
	require.Contains(t, det, "The on-call engineer acknowledged it at 2026-11-20 14:06:11 UTC, 3m after the page and 4m after the first symptom.")
	require.NotContains(t, md, "monitoring gap")

	wh := section(md, "What happened")
	require.Contains(t, wh, "PagerDuty incident #8812 paged the on-call engineer (priority P1); the on-call engineer acknowledged it at 2026-11-20 14:06:11 UTC, 3m later.")
	require.Contains(t, wh, "**Mitigation** (2026-11-20 14:12:40 UTC): The change was rolled back")
	require.Contains(t, wh, `"rolled back checkout to v2.3.0"`, "the PagerDuty note is part of the mitigation")

	res := section(md, "Resolution")
	require.Contains(t, res, "- Rollback at 2026-11-20 14:12:40 UTC: checkout rolled back to v2.3.0 (from v2.3.1, d-4711). ([source](https://ci.example.com/runs/4711))")
	require.Contains(t, res, `- PagerDuty resolve at 2026-11-20 14:21:00 UTC: the on-call engineer resolved incident #8812 (resolve reason: "error rate back to baseline after the rollback"). ([source](`+pdCheckoutURL+"))")
	require.Contains(t, res, "- The last alert to resolve was HighErrorRate on 2 instances of checkout, at 2026-11-20 14:19:50 UTC.")

	cf := section(md, "Contributing factors")
	require.Contains(t, cf, "_Suggested:_ Suspect 1 of 1 (score 0.78): deploy d-4711 of checkout v2.3.1 to production. "+
		"Why it is suspected: deploy of checkout, a service of this incident (+40); succeeded 6m before the first alert (+20); its last step is rolled\\_back (+10). ([source](https://ci.example.com/runs/4711))")
	require.NotRegexp(t, `(?i)\bcause[ds]? (was|is)\b`, cf, "a suspect is never called the cause")

	well := section(md, "What went well?")
	require.Contains(t, well, "The page was acknowledged quickly by the on-call engineer: 3m after it was raised.")
	require.Contains(t, well, "_Suggested:_ The rollback of d-4711 at 2026-11-20 14:12:40 UTC worked: every alert had resolved 7m10s after it.")
	require.Contains(t, well, "_Suggested:_ Detection was quick after the suspected change: the first alert fired 6m after checkout v2.3.1 deploy succeeded",
		"the suspect's entry is the rollback step; the draft measures from the step that was live")

	ai := section(md, "Action items")
	require.Contains(t, ai, "| 1 | _Suggested:_ Catch a bad change to checkout before it reaches every user: roll out in stages behind a canary that watches HighErrorRate")
	require.NotContains(t, strings.Split(ai, "Follow-ups")[0], "status page", "chores are follow-ups, not action items")
	require.Contains(t, ai, "Follow-ups (chores of every incident, not action items):\n\n- [ ] _Suggested:_ Send the internal follow-up message")

	require.Contains(t, section(md, "Five whys"), "_Suggested:_ Because of a change to checkout (v2.3.1: Switch the payment client to async retries; deploy d-4711), "+
		"Hindsight's top suspect (deploy of checkout, a service of this incident (+40)")
}

func TestMonitoringGapIncident(t *testing.T) {
	d := NewDraft(gapView(), testConfig(), at("2026-11-22T12:00:00Z"))
	require.Equal(t, "2026-11-22T11:00:00Z", d.Header.DetectedAt.Format(time.RFC3339))
	require.Equal(t, "PagerDuty incident #8830, raised by hand before any alert fired", d.Header.DetectedBy)
	require.Equal(t, Duration(16*time.Minute), *d.Header.TimeToAcknowledge)
	require.Equal(t, "deploy of payments v4.2.1 (d-5122)", d.Header.MitigatedBy, "a fix that went out mitigates; the failed rollback does not")

	md := string(render(t, "md", d))
	const gap = "PagerDuty incident #8830 was raised by hand by a colleague at 2026-11-22 11:00:00 UTC, before any alert fired: " +
		"a monitoring gap, since monitoring did not catch what a person noticed."
	for _, s := range []string{"Detection", "What didn't go so well?"} {
		require.Contains(t, section(md, s), "- "+gap, s)
	}
	var gapItem Item
	for _, it := range d.Detection {
		if strings.Contains(it.Text, "monitoring gap") {
			gapItem = it
		}
	}
	require.Equal(t, Fact, gapItem.Kind, "the monitoring gap is stated as a fact")
	require.Contains(t, section(md, "Action items"), "_Suggested:_ Add an alert that would have caught this: PagerDuty incident #8830 was raised by hand "+
		"at 2026-11-22 11:00:00 UTC, before any alert fired (Customers report card payments declined).")
	require.Contains(t, section(md, "Detection"), "- No alert fired for this incident.")
	require.Contains(t, d.Overview.Text, "A person raised it by hand before any alert fired, and it was mitigated by deploying payments v4.2.1 (Accept card tokens of both formats) 31 minutes in.")

	bad := section(md, "What didn't go so well?")
	require.Contains(t, bad, "Acknowledgement was slow: the engineer the page escalated to acknowledged the page 16m after it was raised.")
	require.Contains(t, bad, "The page was escalated at 2026-11-22 11:15:00 UTC: Incident #8830 escalated to the engineer the page escalated to (level 2)")
	require.Contains(t, section(md, "Contributing factors"), "- Made it worse: a rollback failed during the incident, at 2026-11-22 11:19:00 UTC: "+
		"payments v4.1.3 deploy failed (d-5121). The incident went on for 19m after it. ([source](https://ci.example.com/runs/5121))")
	require.Contains(t, section(md, "Resolution"), "- New deploy at 2026-11-22 11:31:00 UTC: payments v4.2.1 deploy succeeded (9e8d7c6, d-5122): Accept card tokens of both formats.")
	require.Contains(t, section(md, "Five whys"), "_Suggested:_ Because a colleague raised PagerDuty incident #8830: Customers report card payments declined.")
	require.NotContains(t, section(md, "What went well?"), "Alerts detected the problem")
}

// TestPagerDutyFromLinksOnly: the view's PagerDuty links are enough for
// the header and the observations when the timeline lacks the events.
func TestPagerDutyFromLinksOnly(t *testing.T) {
	v := pagedView()
	var kept correlate.Timeline
	for _, e := range v.Timeline {
		if e.Source != collector.SourcePagerDuty {
			kept = append(kept, e)
		}
	}
	v.Timeline = kept
	v.TimeToAcknowledgeSeconds, v.TimeToResolveSeconds = nil, nil
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))
	require.Equal(t, "2026-11-20T14:06:11Z", d.Header.AcknowledgedAt.Format(time.RFC3339))
	require.Equal(t, Duration(4*time.Minute), *d.Header.TimeToAcknowledge)
	require.Equal(t, Duration(1129*time.Second), *d.Header.TimeToResolve)
	md := string(render(t, "md", d))
	require.Contains(t, md, "The first page, PagerDuty incident #8812, was triggered at 2026-11-20 14:03:11 UTC")
	require.Contains(t, md, "The page was acknowledged quickly: 3m after it was raised.")
}

func TestPagerDutyAndDeployTextEscaped(t *testing.T) {
	v := pagedView()
	const evil = "fixed | <script>alert(1)</script> *now* [x](javascript:alert(1))"
	for i := range v.Timeline {
		e := &v.Timeline[i]
		switch e.Source {
		case collector.SourcePagerDuty:
			e.PagerDuty = &collector.PagerDuty{Note: evil, ResolveReason: evil, Agent: "<b>Eve</b>", HTMLURL: "javascript:alert(1)"}
		case collector.SourceDeploy:
			e.Deploy = &collector.Deploy{Author: "<b>Eve</b>", Version: "v|1", URL: "javascript:alert(1)", Description: evil}
			if i%2 == 0 {
				e.Deploy.URL = "data:text/html,hi"
			}
		}
	}
	v.PagerDuty[0].URL = "javascript:alert(2)"
	v.PagerDuty[0].Title = evil
	v.Responders = []string{"<b>Eve</b>"}
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))
	md := string(render(t, "md", d))
	html := string(render(t, "html", d))
	for _, out := range []string{md, html} {
		require.NotContains(t, out, "<script>")
		require.NotContains(t, out, "<b>Eve")
		require.NotContains(t, out, "javascript:alert(2)")
		require.NotContains(t, out, "data:text")
	}
	require.NotRegexp(t, `[^\\]\]\(javascript:`, md, "no live javascript: link")
	require.NotContains(t, html, `href="javascript:`)
	for _, l := range strings.Split(section(md, "Timeline"), "\n") {
		if strings.HasPrefix(l, "| ") && strings.Contains(l, "fixed") {
			require.Len(t, regexp.MustCompile(`(^|[^\\])\|`).FindAllString(l, -1), 5, "row %q", l)
		}
	}
}

func TestPagedDeterministic(t *testing.T) {
	gen := at("2026-11-20T14:45:00Z")
	shuffled := pagedView()
	slices.Reverse(shuffled.Alerts)
	slices.Reverse(shuffled.Responders)
	slices.Reverse(shuffled.PagerDuty[0].Responders)
	slices.Reverse(shuffled.Timeline)
	shuffled.PagerDuty = append(shuffled.PagerDuty, correlate.PagerDutyLink{IncidentID: "Q0OTHER", URL: "https://acme.pagerduty.com/incidents/Q0OTHER"})
	slices.Reverse(shuffled.PagerDuty)
	withOther := pagedView()
	withOther.PagerDuty = append(withOther.PagerDuty, correlate.PagerDutyLink{IncidentID: "Q0OTHER", URL: "https://acme.pagerduty.com/incidents/Q0OTHER"})
	for _, f := range Formats() {
		require.Equal(t, render(t, f, NewDraft(withOther, testConfig(), gen)), render(t, f, NewDraft(shuffled, testConfig(), gen)), f)
	}
}

// TestTimeAtSeverity: the Impact section totals the time at each level,
// most severe first, lists the periods when the level changed, and says
// so when a person set the severity only after the incident ended.
func TestTimeAtSeverity(t *testing.T) {
	v := pagedView()
	v.Severity.History = append(v.Severity.History[:1:1], correlate.SeverityPeriod{
		Level: "SEV1", Since: at("2026-11-20T14:03:11Z"), Until: at("2026-11-20T14:10:00Z"), Reason: "floor"},
		correlate.SeverityPeriod{Level: "SEV2", Since: at("2026-11-20T14:10:00Z"), Until: at("2026-11-20T14:21:00Z"),
			Reason: "set by hand (dana at 2026-11-20T14:10:00Z)", Override: true})
	d := NewDraft(v, testConfig(), at("2026-11-20T14:45:00Z"))
	require.Equal(t, []SeverityTime{
		{Level: "SEV1", Duration: Duration(6*time.Minute + 49*time.Second)},
		{Level: "SEV2", Duration: Duration(12 * time.Minute)},
	}, d.Impact.TimeAtSeverity)
	require.Len(t, d.Impact.SeverityHistory, 3)
	require.True(t, d.Impact.SeverityHistory[2].SetByHand)
	md := section(string(render(t, "markdown", d)), "Impact")
	require.Contains(t, md, "- **Time at each severity:** SEV1 6m49s, SEV2 12m")
	require.Contains(t, md, "| SEV2 | 2026-11-20 14:10:00 UTC | 2026-11-20 14:21:00 UTC | 11m | set by hand (dana at 2026-11-20T14:10:00Z) |")
	require.NotContains(t, md, "after the incident ended")

	// Set to SEV3 during the review, after the end.
	sev3 := "SEV3"
	v.Severity.Override, v.Severity.Effective = &sev3, sev3
	md = section(string(render(t, "markdown", NewDraft(v, testConfig(), at("2026-11-20T16:00:00Z")))), "Impact")
	require.Contains(t, md, "Severity set to SEV3 by a person after the incident ended")
}

// TestRollbackReadsForwards is issue 9's defect 6: on a rolled_back step
// version is the release rolled back to and previous_version the one
// rolled back from (spec/deploy-event.md), through the collector and the
// draft.
func TestRollbackReadsForwards(t *testing.T) {
	evs, err := deploy.Decode([]byte(`{"id":"d-4711","service":"checkout","status":"rolled_back",
"version":"v2.3.0","previous_version":"v2.3.1","at":"2026-11-20T14:12:40Z","url":"https://ci.example.com/runs/4711"}`), "", nil)
	require.NoError(t, err)
	ev := evs[0]
	require.Equal(t, "checkout rolled back to v2.3.0 (from v2.3.1)", ev.Summary)
	t0 := time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC)
	end := t0.Add(20 * time.Minute)
	v := &correlate.View{ID: "inc-rb", Title: "checkout: HighErrorRate", Status: correlate.StatusResolved,
		StartedAt: t0, ResolvedAt: &end, Services: []string{"checkout"},
		Timeline: correlate.Timeline{{ID: "ent-rb", At: ev.At, Source: ev.Source, Kind: ev.Kind, Service: ev.Service,
			Summary: ev.Summary, Ref: ev.Ref, Labels: ev.Labels, Annotations: ev.Annotations, Deploy: ev.Deploy}}}
	d := NewDraft(v, nil, end)
	require.Equal(t, "rollback of checkout to v2.3.0 (d-4711)", d.Header.MitigatedBy)
	md := string(render(t, "md", d))
	require.Contains(t, md, "checkout rolled back to v2.3.0 (from v2.3.1")
	require.NotContains(t, md, "rolled back to v2.3.1")
	require.NotContains(t, md, "to v2.3.1")

	// A step stored by a collector that wrote the summary backwards reads
	// right too: the draft tells it from its fields.
	v.Timeline[0].Summary = "checkout rolled back to v2.3.1"
	md = string(render(t, "md", NewDraft(v, nil, end)))
	require.Contains(t, md, "checkout rolled back to v2.3.0 (from v2.3.1")
	require.NotContains(t, md, "rolled back to v2.3.1")
}
