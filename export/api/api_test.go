package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	pdcollector "github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

type fixture struct {
	api  *API
	srv  *httptest.Server
	db   *store.DB
	proj *correlate.Projector
	cfg  atomic.Pointer[config.Config]
}

// newFixture wires the API over a real Badger store and projector, as the
// daemon does, with the Alertmanager, PagerDuty and deploy receivers for
// input.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, config.Default())
}

func newFixtureWith(t *testing.T, cfg *config.Config) *fixture {
	t.Helper()
	f := &fixture{}
	f.cfg.Store(cfg)
	db, err := store.Open(t.TempDir(), store.Options{}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	f.db = db
	f.proj, err = correlate.NewProjector(t.Context(), db, db, f.cfg.Load(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.proj.Run(ctx); close(done) }()
	sink := &correlate.Ingester{Log: db, Projector: f.proj}
	mux := http.NewServeMux()
	a := New(db, sink, f.proj.Rebuild, f.cfg.Load, promslog.NewNopLogger())
	a.SetStream(ctx, f.proj)
	f.api = a
	for p, h := range a.Routes() {
		mux.Handle(p, h)
	}
	reg := prometheus.NewRegistry()
	m := collector.NewMetrics(reg)
	mux.Handle("POST /api/v1/ingest/alertmanager", alertmanager.NewHandler(f.cfg.Load, sink, m, promslog.NewNopLogger(), reg))
	mux.Handle("POST /api/v1/ingest/pagerduty", pdcollector.NewHandler(f.cfg.Load, sink, m, promslog.NewNopLogger()))
	mux.Handle("POST "+deploy.Path, deploy.NewHandler(f.cfg.Load, sink, m, promslog.NewNopLogger()))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		<-done
		require.NoError(t, db.Close())
	})
	return f
}

func (f *fixture) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func (f *fixture) incident(t *testing.T, id string) *correlate.View {
	t.Helper()
	code, b := f.do(t, "GET", "/api/v1/incidents/"+id, "")
	require.Equal(t, http.StatusOK, code, string(b))
	v := new(correlate.View)
	require.NoError(t, json.Unmarshal(b, v))
	return v
}

func (f *fixture) ingestSamples(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"firing", "resolved"} {
		body, err := os.ReadFile("testdata/alertmanager_webhook_" + name + ".json")
		require.NoError(t, err)
		code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", string(body))
		require.Equal(t, http.StatusOK, code, string(b))
	}
	code, b := f.do(t, "GET", "/api/v1/incidents", "")
	require.Equal(t, http.StatusOK, code)
	var list struct{ Incidents []correlate.View }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Incidents, 1)
	return list.Incidents[0].ID
}

func TestCorrections(t *testing.T) {
	f := newFixture(t)
	id := f.ingestSamples(t)

	code, b := f.do(t, "POST", "/api/v1/incidents/"+id+"/notes", `{"author":"dana","text":"rolled back checkout to v2.3.0","at":"2026-11-20T14:20:00Z"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	v := f.incident(t, id)
	var note *correlate.Entry
	for i := range v.Timeline {
		if v.Timeline[i].Kind == correlate.KindNote {
			note = &v.Timeline[i]
		}
	}
	require.NotNil(t, note)
	require.Equal(t, "rolled back checkout to v2.3.0", note.Summary)
	require.Equal(t, "dana", note.Labels["author"])
	require.Equal(t, time.Date(2026, 11, 20, 14, 20, 0, 0, time.UTC), note.At)
	require.Equal(t, time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC), v.StartedAt, "a note does not move the incident")

	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+id, `{"severity":"sev1","title":"Checkout errors after v2.3.1","author":"dana"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	v = f.incident(t, id)
	require.Equal(t, "SEV1", v.Severity.Effective)
	require.NotNil(t, v.Severity.Override)
	require.NotEqual(t, "SEV1", v.Severity.Suggested, "the suggestion stays visible")
	require.Equal(t, "Checkout errors after v2.3.1", v.Title)
	require.Contains(t, strings.Join(v.Severity.Reasons, "|"), "set by hand (dana")

	alertEntry := v.Timeline[0].ID
	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+id+"/entries/"+alertEntry, `{"hidden":true,"author":"dana"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	v = f.incident(t, id)
	require.True(t, v.Timeline[0].Hidden)

	code, b = f.do(t, "GET", "/api/v1/incidents/"+id+"/postmortem?format=markdown", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(b), "rolled back checkout to v2.3.0", "the note is in the draft")

	for _, tc := range []struct{ method, path, body, want string }{
		{"PATCH", "/api/v1/incidents/" + id, `{"severty":"SEV1"}`, "unknown field"},
		{"PATCH", "/api/v1/incidents/" + id, `{"severity":"SEV9"}`, "not one of SEV1..SEV5"},
		{"PATCH", "/api/v1/incidents/" + id, `{"status":"closed"}`, "not open or resolved"},
		{"PATCH", "/api/v1/incidents/" + id, `{}`, "nothing to change"},
		{"PATCH", "/api/v1/incidents/" + id, `{"severity":"SEV2"}`, "author: missing"},
		{"PATCH", "/api/v1/incidents/" + id, `{"severity":"SEV2","author":"  "}`, "author: missing"},
		{"POST", "/api/v1/incidents/" + id + "/notes", `{"text":"no name"}`, "author: missing"},
		{"POST", "/api/v1/incidents/" + id + "/notes", `{"author":"dana"}`, "text: missing"},
		{"POST", "/api/v1/incidents/" + id + "/notes", `{"text":`, "invalid JSON"},
		{"PATCH", "/api/v1/incidents/" + id + "/entries/ent-nope", `{"pinned":true}`, "is not on the timeline"},
		{"POST", "/api/v1/incidents/inc-nope/notes", `{"text":"x"}`, "not found"},
		{"POST", "/api/v1/incidents/" + id + "/merge", `{"from":["inc-x"]}`, `incident "inc-x" not found`},
	} {
		code, b := f.do(t, tc.method, tc.path, tc.body)
		require.GreaterOrEqual(t, code, 400, "%s %s %s", tc.method, tc.path, tc.body)
		var e map[string]string
		require.NoError(t, json.Unmarshal(b, &e), string(b))
		require.Contains(t, e["error"], tc.want)
	}
	events := f.eventCount(t)
	require.Equal(t, 4+3, events, "4 alert states and 3 corrections, nothing from the refused requests")
}

// eventCount is how many events the log holds.
func (f *fixture) eventCount(t *testing.T) int {
	code, b := f.do(t, "GET", "/api/v1/events?limit=1000", "")
	require.Equal(t, http.StatusOK, code)
	var list struct{ Events []json.RawMessage }
	require.NoError(t, json.Unmarshal(b, &list))
	return len(list.Events)
}

// snapshot returns every incident and timeline as the API serves them,
// for byte comparison.
func (f *fixture) snapshot(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, f.db.ScanIncidents(t.Context(), "", func(inc *correlate.Incident, _ string) bool {
		tl, err := f.db.Timeline(t.Context(), inc.ID)
		require.NoError(t, err)
		inc.ListedAt = time.Time{}
		require.NoError(t, json.NewEncoder(&buf).Encode(inc))
		require.NoError(t, json.NewEncoder(&buf).Encode(tl))
		return true
	}))
	return buf.Bytes()
}

func TestRecorrelate(t *testing.T) {
	f := newFixture(t)
	id := f.ingestSamples(t)
	code, b := f.do(t, "POST", "/api/v1/incidents/"+id+"/notes", `{"author":"dana","text":"paged the DBA"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+id, `{"severity":"SEV2","author":"dana"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	before := f.snapshot(t)

	code, b = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	first := f.snapshot(t)
	code, _ = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code)
	second := f.snapshot(t)
	require.Equal(t, string(first), string(second), "the same log gives byte-identical incidents")
	require.Equal(t, string(before), string(first), "rebuilding with the same rules changes nothing")

	// A rules change that gives the incident another id: the corrections
	// follow its first event.
	cfg := config.Default()
	cfg.Correlation.GroupBy = []string{"env"}
	f.cfg.Store(cfg)
	f.proj.SetConfig(cfg)
	code, _ = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code)
	code, b = f.do(t, "GET", "/api/v1/incidents", "")
	require.Equal(t, http.StatusOK, code)
	var list struct{ Incidents []correlate.View }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Incidents, 1)
	v := f.incident(t, list.Incidents[0].ID)
	require.Equal(t, "SEV2", v.Severity.Effective, "the override survived")
	require.Equal(t, map[string]string{"env": "prod"}, v.GroupLabels)
	found := false
	for _, e := range v.Timeline {
		found = found || e.Summary == "paged the DBA"
	}
	require.True(t, found, "the note survived")
}

type measurerFunc func(ctx context.Context, key string, services []string, start, end time.Time) ([]correlate.ImpactMetric, []string)

func (f measurerFunc) Measure(ctx context.Context, key string, services []string, start, end time.Time) ([]correlate.ImpactMetric, []string) {
	return f(ctx, key, services, start, end)
}

func TestImpactInViewAndDraft(t *testing.T) {
	f := newFixture(t)
	id := f.ingestSamples(t)
	var gotStart, gotEnd time.Time
	a := New(f.db, nil, nil, f.cfg.Load, promslog.NewNopLogger())
	a.SetImpact(measurerFunc(func(_ context.Context, _ string, services []string, start, end time.Time) ([]correlate.ImpactMetric, []string) {
		gotStart, gotEnd = start, end
		require.Equal(t, []string{"checkout"}, services)
		return []correlate.ImpactMetric{{Name: "error_ratio", Service: "checkout", Value: 0.031, Query: "sum(...)"}},
			[]string{`service "checkout" query "latency_p99": prometheus unreachable: connection refused`}
	}))
	mux := http.NewServeMux()
	for p, h := range a.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/v1/incidents/" + id)
	require.NoError(t, err)
	var v correlate.View
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	resp.Body.Close()
	require.Equal(t, time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC), gotStart)
	require.Equal(t, time.Date(2026, 11, 20, 14, 31, 40, 0, time.UTC), gotEnd, "the incident's window")
	require.Len(t, v.Impact.Metrics, 1)
	require.Contains(t, v.Impact.Summary, "3.1%")
	require.Len(t, v.Impact.Errors, 1)

	resp, err = http.Get(srv.URL + "/api/v1/incidents/" + id + "/postmortem?format=markdown")
	require.NoError(t, err)
	md, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(md), "3.1%")
	require.Contains(t, string(md), "- Not measured: Prometheus unreachable (latency\\_p99 on checkout).", "one plain line, no Go error")
	require.NotContains(t, string(md), "connection refused")
}

// amAlert is an Alertmanager notification with one critical alert on a
// service.
func amAlert(service, name, status string, start, end time.Time) string {
	endText := "0001-01-01T00:00:00Z"
	if !end.IsZero() {
		endText = end.Format(time.RFC3339)
	}
	fp := fnv.New64a()
	fp.Write([]byte(service + "/" + name))
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=%s}","truncatedAlerts":0,"status":%q,"receiver":"hindsight",
"groupLabels":{"alertname":%q},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093",
"alerts":[{"status":%q,"labels":{"alertname":%q,"service":%q,"severity":"critical"},"annotations":{"summary":"%s is failing"},
"startsAt":%q,"endsAt":%q,"generatorURL":"http://prom/graph","fingerprint":"%016x"}]}`,
		name, status, name, status, name, service, service, start.Format(time.RFC3339), endText, fp.Sum64())
}

// TestRelatedAndSeverityHistory: the same alert on the same service nine
// days after a first incident is linked to it with the reason and its
// post-mortem, in the incident JSON and in the draft; an unrelated
// incident is not, the first incident lists no later one, and each
// incident carries the time it spent at each severity.
func TestRelatedAndSeverityHistory(t *testing.T) {
	f := newFixture(t)
	day := func(d int, hm string) time.Time {
		at, err := time.Parse(time.RFC3339, fmt.Sprintf("2025-03-%02dT%s:00Z", d, hm))
		require.NoError(t, err)
		return at
	}
	ingest := func(service, name string, start, end time.Time) {
		t.Helper()
		for _, body := range []string{amAlert(service, name, "firing", start, time.Time{}), amAlert(service, name, "resolved", start, end)} {
			code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", body)
			require.Equal(t, http.StatusOK, code, string(b))
		}
	}
	ingest("checkout", "HighErrorRate", day(1, "10:00"), day(1, "10:30"))
	ingest("search", "IndexStale", day(5, "10:00"), day(5, "10:10"))
	ingest("checkout", "HighErrorRate", day(10, "10:00"), day(10, "10:20"))
	code, b := f.do(t, "GET", "/api/v1/incidents", "")
	require.Equal(t, http.StatusOK, code, string(b))
	var list struct{ Incidents []correlate.View }
	require.NoError(t, json.Unmarshal(b, &list))
	ids := map[string]string{}
	for _, v := range list.Incidents {
		ids[v.Services[0]+v.StartedAt.Format(" 2")] = v.ID
	}
	first, unrelated, second := ids["checkout 1"], ids["search 5"], ids["checkout 10"]
	require.NotEmpty(t, first)
	require.NotEmpty(t, unrelated)
	require.NotEmpty(t, second)

	code, b = f.do(t, "GET", "/api/v1/incidents/"+second, "")
	require.Equal(t, http.StatusOK, code, string(b))
	var raw struct {
		Related  []map[string]any `json:"related"`
		Severity struct {
			History []map[string]any `json:"history"`
		} `json:"severity"`
	}
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, []map[string]any{{
		"id": first, "title": "checkout: HighErrorRate", "started_at": "2025-03-01T10:00:00Z", "score": 0.67,
		"reasons":        []any{"same alerts: HighErrorRate on checkout; 1 of the 1 alerts seen in either incident"},
		"postmortem_url": "/api/v1/incidents/" + first + "/postmortem", "postmortem_status": "draft",
	}}, raw.Related)
	require.Equal(t, []map[string]any{{
		"level": "SEV4", "since": "2025-03-10T10:00:00Z", "until": "2025-03-10T10:20:00Z", "seconds": 1200.0,
		"reason": "alert HighErrorRate is critical",
	}}, raw.Severity.History)

	v := f.incident(t, first)
	require.NotNil(t, v.Related)
	require.Empty(t, v.Related, "a later incident is never related to an earlier one")
	require.Len(t, v.Severity.History, 1)
	require.Equal(t, int64(1800), v.Severity.History[0].Seconds)
	require.Empty(t, f.incident(t, unrelated).Related)

	// An action item of the first incident, still open, shows in the
	// second one's draft; one that is done does not.
	code, b = f.do(t, "POST", "/api/v1/incidents/"+first+"/action-items", `{"text":"Add a canary stage to checkout deploys","owner":"dana","author":"sam"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	code, b = f.do(t, "POST", "/api/v1/incidents/"+first+"/action-items", `{"text":"Page on checkout error budget burn","author":"sam"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	var done ActionItemView
	require.NoError(t, json.Unmarshal(b, &done))
	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+first+"/action-items/"+done.ID, `{"status":"done","author":"sam"}`)
	require.Equal(t, http.StatusOK, code, string(b))

	code, b = f.do(t, "GET", "/api/v1/incidents/"+second+"/postmortem?format=markdown", "")
	require.Equal(t, http.StatusOK, code, string(b))
	md := string(b)
	require.Contains(t, md, "| draft: `/api/v1/incidents/"+first+"/postmortem` | Add a canary stage to checkout deploys (dana) |")
	require.Contains(t, md, "Still open from their post-mortems: “Add a canary stage to checkout deploys” ("+first+")")
	require.NotContains(t, md, "Page on checkout error budget burn", "a done item is not listed")
	rel := md[strings.Index(md, "## Related incidents"):strings.Index(md, "## Action items")]
	require.Contains(t, rel, "checkout: HighErrorRate ("+first+") | 2025-03-01 10:00:00 UTC | same alerts: HighErrorRate on checkout")
	require.Contains(t, rel, "`/api/v1/incidents/"+first+"/postmortem`")
	require.NotContains(t, rel, unrelated)
	require.Contains(t, md, "- **Time at each severity:** SEV4 20m")
}
