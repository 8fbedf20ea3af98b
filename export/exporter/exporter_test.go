package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/export"
	"github.com/hindsight-ops/hindsight/export/api"
	"github.com/hindsight-ops/hindsight/export/sink"
)

// receiver is a webhook that records each delivery by Idempotency-Key.
type receiver struct {
	mu       sync.Mutex
	requests int
	bodies   map[string]string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if rc.bodies == nil {
		rc.bodies = map[string]string{}
	}
	if k := r.Header.Get("Idempotency-Key"); rc.bodies[k] == "" {
		rc.bodies[k] = string(b)
	}
}

func (rc *receiver) count() (int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, len(rc.bodies)
}

// fixture is the daemon's export path over a real Badger store: the
// projector, the ingester, the API (for ingestion and reviews) and an
// exporter on a clock the test moves.
type fixture struct {
	t      *testing.T
	cfg    *config.Config
	db     *store.DB
	proj   *correlate.Projector
	sink   collector.Sink
	srv    *httptest.Server
	dir    string
	hook   *receiver
	reg    *prometheus.Registry
	offset atomic.Int64 // added to the wall clock, in nanoseconds
}

func newFixture(t *testing.T, sinks ...config.Sink) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: filepath.Join(t.TempDir(), "postmortems"), hook: &receiver{}}
	hook := httptest.NewServer(f.hook)
	t.Cleanup(hook.Close)
	cfg := config.Default()
	cfg.Export.Delay = model.Duration(time.Minute)
	cfg.Export.Formats = []string{config.FormatMarkdown, config.FormatHTML, config.FormatJSON}
	cfg.Export.Sinks = append([]config.Sink{{Type: config.SinkDirectory, Path: f.dir}, {Type: config.SinkWebhook, URL: hook.URL + "/wiki"}}, sinks...)
	f.cfg = cfg
	db, err := store.Open(t.TempDir(), store.Options{}, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	f.db = db
	f.proj, err = correlate.NewProjector(t.Context(), db, db, cfg, promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.proj.Run(ctx); close(done) }()
	f.sink = &correlate.Ingester{Log: db, Projector: f.proj}
	mux := http.NewServeMux()
	a := api.New(db, f.sink, f.proj.Rebuild, func() *config.Config { return cfg }, promslog.NewNopLogger())
	for p, h := range a.Routes() {
		mux.Handle(p, h)
	}
	reg := prometheus.NewRegistry()
	mux.Handle("POST /api/v1/ingest/alertmanager", alertmanager.NewHandler(func() *config.Config { return cfg }, f.sink, collector.NewMetrics(reg), promslog.NewNopLogger(), reg))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.srv.Close()
		cancel()
		<-done
		require.NoError(t, db.Close())
	})
	return f
}

func (f *fixture) now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

func (f *fixture) advance(d time.Duration) { f.offset.Add(int64(d)) }

// exporter starts an exporter as the daemon does; a second call is a
// restart (nothing in memory).
func (f *fixture) exporter(o Options) *Exporter {
	f.t.Helper()
	sinks, err := sink.New(f.cfg, "", sink.Options{Attempts: 1, MinBackoff: time.Millisecond})
	require.NoError(f.t, err)
	r, err := export.NewRendererSet(f.cfg, "")
	require.NoError(f.t, err)
	f.reg = prometheus.NewRegistry()
	o.Log, o.Reader, o.Lookup, o.Position, o.Record = f.db, f.db, f.db, f.proj.Applied, f.sink
	o.Source = &export.Source{Reader: f.db, Config: func() *config.Config { return f.cfg }}
	o.Now, o.Registerer, o.Logger = f.now, f.reg, promslog.NewNopLogger()
	return New(o, Setup{Config: f.cfg, Renderers: r, Sinks: sinks})
}

func (f *fixture) do(method, path, body string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp.StatusCode, b
}

func (f *fixture) ok(method, path, body string) []byte {
	f.t.Helper()
	code, b := f.do(method, path, body)
	require.Less(f.t, code, 300, "%s %s: %s", method, path, b)
	return b
}

// alert sends one Alertmanager notification of checkout's HighErrorRate.
func (f *fixture) alert(status string, start, end time.Time) {
	f.t.Helper()
	endText := "0001-01-01T00:00:00Z"
	if !end.IsZero() {
		endText = end.UTC().Format(time.RFC3339)
	}
	f.ok("POST", "/api/v1/ingest/alertmanager", fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","status":%q,
"receiver":"hindsight","groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093",
"alerts":[{"status":%q,"labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical","instance":"checkout-1:8080"},
"annotations":{"summary":"checkout 5xx ratio above 5%%","description":"12.4%% of checkout requests fail"},
"startsAt":%q,"endsAt":%q,"generatorURL":"http://prom/graph","fingerprint":"00000000000000aa"}]}`,
		status, status, start.UTC().Format(time.RFC3339), endText))
}

func (f *fixture) view(id string) correlate.View {
	f.t.Helper()
	var v correlate.View
	require.NoError(f.t, json.Unmarshal(f.ok("GET", "/api/v1/incidents/"+id, ""), &v))
	return v
}

func (f *fixture) only() string {
	f.t.Helper()
	var l struct{ Incidents []correlate.View }
	require.NoError(f.t, json.Unmarshal(f.ok("GET", "/api/v1/incidents", ""), &l))
	require.Len(f.t, l.Incidents, 1)
	return l.Incidents[0].ID
}

func (f *fixture) files() []string {
	f.t.Helper()
	entries, err := os.ReadDir(f.dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(f.t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestExportAfterDelayNewVersionsAndRestart(t *testing.T) {
	f := newFixture(t)
	e := f.exporter(Options{})
	ctx := t.Context()
	start := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	f.alert("firing", start, time.Time{})
	f.alert("resolved", start, start.Add(10*time.Minute))
	id := f.only()
	require.Equal(t, correlate.StatusResolved, f.view(id).Status)

	require.NoError(t, e.Round(ctx))
	require.Empty(t, f.files(), "export.delay (1m) has not passed since the last event arrived")

	f.advance(2 * time.Minute)
	require.NoError(t, e.Round(ctx))
	require.Equal(t, []string{id + ".v1.html", id + ".v1.json", id + ".v1.md"}, f.files())
	md, err := os.ReadFile(filepath.Join(f.dir, id+".v1.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "# Post-mortem: checkout: HighErrorRate")
	requests, delivered := f.hook.count()
	require.Equal(t, 3, requests, "one POST per format")
	require.Equal(t, 3, delivered)
	pm := f.view(id).Postmortem
	require.Len(t, pm.Exports, 2)
	for _, x := range pm.Exports {
		require.Equal(t, correlate.ExportExported, x.Status, x.Sink)
		require.Equal(t, 1, x.Version)
		require.Equal(t, "resolved 1", x.Mark)
	}
	require.Equal(t, 2.0, testutil.ToFloat64(e.deliveries.WithLabelValues("directory", "exported"))+testutil.ToFloat64(e.deliveries.WithLabelValues("webhook", "exported")))

	require.NoError(t, e.Round(ctx))
	requests, _ = f.hook.count()
	require.Equal(t, 3, requests, "exported once per version")

	// A person edits version 1; the incident reopens and resolves again.
	edited := "# Checkout errors, 20 Nov: our words\n"
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, id+".v1.md"), []byte(edited), 0o644))
	again := start.Add(15 * time.Minute)
	f.alert("firing", again, time.Time{})
	require.Equal(t, id, f.only(), "the same alert firing again soon reopens the incident")
	f.advance(2 * time.Minute)
	require.NoError(t, e.Round(ctx))
	require.Len(t, f.files(), 3, "open again: nothing exported")
	f.alert("resolved", again, again.Add(5*time.Minute))
	f.advance(2 * time.Minute)
	require.NoError(t, e.Round(ctx))
	require.Contains(t, f.files(), id+".v2.md")
	b, err := os.ReadFile(filepath.Join(f.dir, id+".v1.md"))
	require.NoError(t, err)
	require.Equal(t, edited, string(b), "version 1, as the person left it")

	// Publishing exports the published version.
	pmPath := "/api/v1/incidents/" + id + "/postmortem"
	f.ok("PATCH", pmPath, `{"author":"dana"}`)
	for _, r := range []string{"dana", "priya", "sam"} {
		f.ok("POST", pmPath+"/reviews", `{"reviewer":"`+r+`","approve":true}`)
	}
	f.ok("POST", pmPath+"/publish", "")
	require.NoError(t, e.Round(ctx))
	require.Contains(t, f.files(), id+".v3.md")
	v3, err := os.ReadFile(filepath.Join(f.dir, id+".v3.json"))
	require.NoError(t, err)
	var d export.Draft
	require.NoError(t, json.Unmarshal(v3, &d))
	require.Equal(t, 3, d.Header.ExportVersion)
	require.Equal(t, correlate.PostmortemPublished, d.Review.Status)
	requests, delivered = f.hook.count()
	require.Equal(t, 9, requests)
	require.Equal(t, 9, delivered)

	// A restart (an exporter with nothing in memory) and a rebuild of
	// the projection from the log export nothing again: what was
	// exported where is in the log.
	f.ok("POST", "/api/v1/recorrelate", "")
	e2 := f.exporter(Options{})
	f.advance(time.Hour)
	require.NoError(t, e2.Round(ctx))
	requests, _ = f.hook.count()
	require.Equal(t, 9, requests)
	require.Len(t, f.files(), 9)
	pm = f.view(id).Postmortem
	require.Len(t, pm.Exports, 6, "3 versions to 2 sinks")
}

func TestExportFailureIsRecordedAndRetried(t *testing.T) {
	// A webhook on a port nobody listens on yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFixture(t, config.Sink{Type: config.SinkWebhook, URL: "http://" + addr + "/hooks/T0KEN"})
	e := f.exporter(Options{MinBackoff: time.Minute, MaxBackoff: 4 * time.Minute})
	ctx := t.Context()
	start := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	f.alert("firing", start, time.Time{})
	f.alert("resolved", start, start.Add(10*time.Minute))
	id := f.only()
	f.advance(2 * time.Minute)

	require.NoError(t, e.Round(ctx))
	var failed correlate.Export
	for _, x := range f.view(id).Postmortem.Exports {
		if x.Status == correlate.ExportFailed {
			failed = x
		}
	}
	require.Equal(t, 1, failed.Attempts)
	require.Contains(t, failed.Error, "unreachable")
	require.NotContains(t, failed.Error, "T0KEN", "no secret from the URL in the incident")
	require.Equal(t, 1.0, testutil.ToFloat64(e.deliveries.WithLabelValues("webhook", "failed")))
	require.Equal(t, 1.0, testutil.ToFloat64(e.pending))

	require.NoError(t, e.Round(ctx))
	require.Equal(t, 1.0, testutil.ToFloat64(e.deliveries.WithLabelValues("webhook", "failed")), "not retried before its backoff")

	rc := &receiver{}
	up, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(up) }()
	defer srv.Close()
	f.advance(2 * time.Minute)
	require.NoError(t, e.Round(ctx))
	_, delivered := rc.count()
	require.Equal(t, 3, delivered, "delivered once the receiver is back")
	for _, x := range f.view(id).Postmortem.Exports {
		require.Equal(t, correlate.ExportExported, x.Status, x.Sink)
	}
	require.Equal(t, 0.0, testutil.ToFloat64(e.pending))
}

// TestWebhookDownForAMinute runs the exporter on the wall clock against a
// webhook that refuses connections for a minute.
func TestWebhookDownForAMinute(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a minute of wall clock")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFixture(t, config.Sink{Type: config.SinkWebhook, URL: "http://" + addr + "/hook"})
	f.cfg.Export.Delay = 0
	e := f.exporter(Options{Tick: 200 * time.Millisecond, MinBackoff: time.Second, MaxBackoff: 5 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	start := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	f.alert("firing", start, time.Time{})
	f.alert("resolved", start, start.Add(10*time.Minute))
	down := time.Now()
	time.Sleep(time.Minute)
	rc := &receiver{}
	up, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(up) }()
	defer srv.Close()
	require.Eventually(t, func() bool { _, n := rc.count(); return n == 3 }, 20*time.Second, 100*time.Millisecond)
	require.Greater(t, time.Since(down), time.Minute)
	requests, delivered := rc.count()
	require.Equal(t, 3, delivered)
	require.Equal(t, 3, requests, "once it is up, each format is delivered once")
	require.Greater(t, testutil.ToFloat64(e.deliveries.WithLabelValues("webhook", "failed")), 3.0, "retried while it was down")
}

func TestLeaderOnly(t *testing.T) {
	f := newFixture(t)
	var leading atomic.Bool
	e := f.exporter(Options{Owner: ownerFunc(func(task string) bool { return task == lease.TaskExport && leading.Load() })})
	start := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	f.alert("firing", start, time.Time{})
	f.alert("resolved", start, start.Add(10*time.Minute))
	f.advance(2 * time.Minute)
	require.NoError(t, e.Round(t.Context()))
	require.Empty(t, f.files(), "a replica that does not lead exports nothing")
	leading.Store(true)
	require.NoError(t, e.Round(t.Context()))
	require.Len(t, f.files(), 3)
}

type ownerFunc func(task string) bool

func (o ownerFunc) Owns(task string) bool { return o(task) }
