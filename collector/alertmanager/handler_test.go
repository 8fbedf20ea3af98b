package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/config"
)

const path = "/api/v1/ingest/alertmanager"

type fixture struct {
	h       *alertmanager.Handler
	reg     *prometheus.Registry
	metrics *collector.Metrics
}

func newFixture(t *testing.T, cfg *config.Config, sink collector.Sink) *fixture {
	t.Helper()
	if cfg == nil {
		cfg = config.Default()
	}
	reg := prometheus.NewRegistry()
	m := collector.NewMetrics(reg, collector.SourceAlertmanager)
	h := alertmanager.NewHandler(func() *config.Config { return cfg }, sink, m, slog.New(slog.DiscardHandler), reg)
	return &fixture{h: h, reg: reg, metrics: m}
}

func newRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("User-Agent", "Alertmanager/0.34.2")
	return r
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *fixture) post(body []byte) *httptest.ResponseRecorder {
	return f.serve(newRequest("application/json", body))
}

// jsonBody checks the response is a JSON object and returns it.
func jsonBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	require.NoError(t, dec.Decode(&v), "body %q is not a JSON object", w.Body.String())
	require.False(t, dec.More(), "body %q has more than one JSON value", w.Body.String())
	return v
}

// errorMessage checks the response is exactly {"error": "<non-empty>"}.
func errorMessage(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	v := jsonBody(t, w)
	require.Len(t, v, 1, "error body %q has other keys", w.Body.String())
	msg, ok := v["error"].(string)
	require.True(t, ok, `error body %q has no string "error"`, w.Body.String())
	require.NotEmpty(t, msg)
	return msg
}

func (f *fixture) rejected(reason string) float64 {
	return testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(collector.SourceAlertmanager, reason))
}

func (f *fixture) received() float64 {
	return testutil.ToFloat64(f.metrics.Received.WithLabelValues(collector.SourceAlertmanager))
}

func TestHandlerBadInput(t *testing.T) {
	sample := readSample(t, sampleFiring)
	// edit returns the firing sample with one change applied.
	edit := func(change func(doc map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			doc := sampleDoc(t, sampleFiring)
			change(doc)
			return marshal(t, doc)
		}
	}
	raw := func(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }
	withSample := func(suffix string) func(*testing.T) []byte {
		return func(*testing.T) []byte { return append(bytes.Clone(sample), suffix...) }
	}
	alert0 := func(change func(a map[string]any)) func(t *testing.T) []byte {
		return edit(func(doc map[string]any) { change(alertOf(doc, 0)) })
	}
	resolved0 := func(change func(a map[string]any)) func(t *testing.T) []byte {
		return alert0(func(a map[string]any) {
			a["status"] = "resolved"
			a["endsAt"] = "2026-11-20T14:31:40Z"
			change(a)
		})
	}

	cases := []struct {
		name        string
		body        func(*testing.T) []byte
		contentType string // default application/json
		limit       int64  // api.max_body_bytes; 0 keeps the default
		chunked     bool   // send without Content-Length
		status      int
		reason      string
		want        []string // phrases the error message contains
	}{
		{name: "invalid JSON", body: raw(`{"version": "4", alerts: []}`),
			status: 400, want: []string{"invalid JSON", "line 1"}},
		{name: "invalid JSON on a later line", body: raw("{\n\"version\": \"4\",\n\"alerts\": [,]\n}"),
			status: 400, want: []string{"invalid JSON", "line 3"}},
		{name: "truncated JSON", body: func(*testing.T) []byte { return sample[:len(sample)/2] },
			status: 400, want: []string{"invalid JSON", "truncated"}},
		{name: "empty body", body: raw(""),
			status: 400, want: []string{"empty"}},
		{name: "whitespace body", body: raw(" \n\t"),
			status: 400, want: []string{"empty"}},
		{name: "JSON null", body: raw("null"),
			status: 400, want: []string{"must be an object", "null"}},
		{name: "top level is an array", body: raw(`[{"version": "4"}]`),
			status: 400, want: []string{"array"}},
		{name: "version missing", body: edit(func(d map[string]any) { delete(d, "version") }),
			status: 400, want: []string{"version", "missing"}},
		{name: "version 3", body: edit(func(d map[string]any) { d["version"] = "3" }),
			status: 400, want: []string{"version", `"3"`}},
		{name: "version is a number", body: edit(func(d map[string]any) { d["version"] = 4 }),
			status: 400, want: []string{"version", "number"}},
		{name: "alerts missing", body: edit(func(d map[string]any) { delete(d, "alerts") }),
			status: 400, want: []string{"alerts", "missing"}},
		{name: "alerts null", body: edit(func(d map[string]any) { d["alerts"] = nil }),
			status: 400, want: []string{"alerts"}},
		{name: "alerts empty", body: edit(func(d map[string]any) { d["alerts"] = []any{} }),
			status: 400, want: []string{"alerts", "no alerts"}},
		{name: "alerts not an array", body: edit(func(d map[string]any) { d["alerts"] = map[string]any{} }),
			status: 400, want: []string{"alerts"}},
		{name: "alert is a number", body: edit(func(d map[string]any) { d["alerts"] = []any{42} }),
			status: 400, want: []string{"alerts[0]"}},
		{name: "alert is a string", body: edit(func(d map[string]any) { d["alerts"] = []any{"alert"} }),
			status: 400, want: []string{"alerts[0]"}},
		{name: "alert is an array", body: edit(func(d map[string]any) { d["alerts"] = []any{[]any{}} }),
			status: 400, want: []string{"alerts[0]"}},
		{name: "labels missing", body: alert0(func(a map[string]any) { delete(a, "labels") }),
			status: 400, want: []string{"alerts[0].labels"}},
		{name: "labels empty", body: alert0(func(a map[string]any) { a["labels"] = map[string]any{} }),
			status: 400, want: []string{"alerts[0].labels"}},
		{name: "labels wrong type", body: alert0(func(a map[string]any) { a["labels"] = "alertname=X" }),
			status: 400, want: []string{"alerts[0].labels", "string"}},
		{name: "label value wrong type", body: alert0(func(a map[string]any) { a["labels"] = map[string]any{"alertname": 1} }),
			status: 400, want: []string{"alerts[0].labels"}},
		{name: "annotations wrong type", body: alert0(func(a map[string]any) { a["annotations"] = []any{"x"} }),
			status: 400, want: []string{"alerts[0].annotations"}},
		{name: "status pending", body: alert0(func(a map[string]any) { a["status"] = "pending" }),
			status: 400, want: []string{"alerts[0].status", "pending"}},
		{name: "status missing", body: alert0(func(a map[string]any) { delete(a, "status") }),
			status: 400, want: []string{"alerts[0].status"}},
		{name: "startsAt missing", body: alert0(func(a map[string]any) { delete(a, "startsAt") }),
			status: 400, want: []string{"alerts[0].startsAt", "missing"}},
		{name: "startsAt zero", body: alert0(func(a map[string]any) { a["startsAt"] = "0001-01-01T00:00:00Z" }),
			status: 400, want: []string{"alerts[0].startsAt"}},
		{name: "startsAt yesterday", body: alert0(func(a map[string]any) { a["startsAt"] = "yesterday" }),
			status: 400, want: []string{"alerts[0].startsAt", "yesterday"}},
		{name: "startsAt without zone", body: alert0(func(a map[string]any) { a["startsAt"] = "2026-11-20T14:02:11" }),
			status: 400, want: []string{"alerts[0].startsAt"}},
		{name: "startsAt a number", body: alert0(func(a map[string]any) { a["startsAt"] = 1763647331 }),
			status: 400, want: []string{"alerts[0].startsAt"}},
		{name: "endsAt garbage", body: alert0(func(a map[string]any) { a["endsAt"] = "soon" }),
			status: 400, want: []string{"alerts[0].endsAt", "soon"}},
		{name: "resolved without endsAt", body: resolved0(func(a map[string]any) { delete(a, "endsAt") }),
			status: 400, want: []string{"alerts[0].endsAt"}},
		{name: "resolved with zero endsAt", body: resolved0(func(a map[string]any) { a["endsAt"] = "0001-01-01T00:00:00Z" }),
			status: 400, want: []string{"alerts[0].endsAt"}},
		{name: "endsAt before startsAt", body: resolved0(func(a map[string]any) { a["endsAt"] = "2026-11-20T14:02:10Z" }),
			status: 400, want: []string{"alerts[0].endsAt", "before"}},
		{name: "fingerprint xyz", body: alert0(func(a map[string]any) { a["fingerprint"] = "xyz" }),
			status: 400, want: []string{"alerts[0].fingerprint", "xyz"}},
		{name: "fingerprint too long", body: alert0(func(a map[string]any) { a["fingerprint"] = "d22af6f0ad867df40" }),
			status: 400, want: []string{"alerts[0].fingerprint"}},
		{name: "fingerprint a number", body: alert0(func(a map[string]any) { a["fingerprint"] = 12 }),
			status: 400, want: []string{"alerts[0].fingerprint"}},
		{name: "second alert bad, first good", body: edit(func(d map[string]any) { alertOf(d, 1)["startsAt"] = "yesterday" }),
			status: 400, want: []string{"alerts[1].startsAt"}},
		{name: "third alert not an object", body: edit(func(d map[string]any) { d["alerts"] = append(d["alerts"].([]any), 7) }),
			status: 400, want: []string{"alerts[2]"}},
		{name: "second alert status", body: edit(func(d map[string]any) { alertOf(d, 1)["status"] = "pending" }),
			status: 400, want: []string{"alerts[1].status"}},
		{name: "trailing garbage", body: withSample("garbage"),
			status: 400, want: []string{"after"}},
		{name: "trailing second object", body: withSample("\n{}"),
			status: 400, want: []string{"after"}},
		{name: "trailing closing brace", body: withSample("}"),
			status: 400, want: []string{"after"}},
		{name: "trailing closing bracket", body: withSample("]"),
			status: 400, want: []string{"after"}},
		{name: "text/plain", body: func(*testing.T) []byte { return sample }, contentType: "text/plain",
			status: 415, reason: collector.ReasonMediaType, want: []string{"text/plain", "application/json"}},
		{name: "form", body: func(*testing.T) []byte { return sample }, contentType: "application/x-www-form-urlencoded",
			status: 415, reason: collector.ReasonMediaType, want: []string{"application/json"}},
		{name: "no content type", body: func(*testing.T) []byte { return sample }, contentType: "-",
			status: 415, reason: collector.ReasonMediaType, want: []string{"application/json"}},
		{name: "over the limit", body: func(*testing.T) []byte { return sample }, limit: 1024,
			status: 413, reason: collector.ReasonTooLarge, want: []string{"limit", "max_body_bytes"}},
		{name: "over the limit, chunked", body: func(*testing.T) []byte { return sample }, limit: 1024, chunked: true,
			status: 413, reason: collector.ReasonTooLarge, want: []string{"limit", "max_body_bytes"}},
		{name: "one byte over the limit", body: func(*testing.T) []byte { return sample }, limit: int64(len(sample)) - 1,
			status: 413, reason: collector.ReasonTooLarge, want: []string{"limit"}},
		{name: "one byte over the limit, chunked", body: func(*testing.T) []byte { return sample }, limit: int64(len(sample)) - 1, chunked: true,
			status: 413, reason: collector.ReasonTooLarge, want: []string{"limit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			if tc.limit > 0 {
				cfg.API.MaxBodyBytes = config.Bytes(tc.limit)
			}
			sink := &collectortest.Sink{}
			f := newFixture(t, cfg, sink)

			ct := tc.contentType
			switch ct {
			case "":
				ct = "application/json"
			case "-":
				ct = ""
			}
			r := newRequest(ct, tc.body(t))
			if tc.chunked {
				r.ContentLength = -1
			}
			w := f.serve(r)

			require.Equal(t, tc.status, w.Code, "body %s", w.Body.String())
			require.Empty(t, w.Header().Get("Retry-After"), "bad input is not retried")
			msg := errorMessage(t, w)
			for _, want := range tc.want {
				require.Contains(t, msg, want)
			}
			require.Zero(t, sink.Calls(), "the sink was called for a rejected request")
			require.Empty(t, sink.Events())

			reason := tc.reason
			if reason == "" {
				reason = collector.ReasonBadRequest
			}
			require.Equal(t, 1.0, f.rejected(reason))
			require.Equal(t, 0.0, f.received())
		})
	}
}

func TestHandlerSuccess(t *testing.T) {
	t.Run("samples", func(t *testing.T) {
		for _, name := range samples {
			t.Run(name, func(t *testing.T) {
				sink := &collectortest.Sink{}
				f := newFixture(t, nil, sink)
				body := readSample(t, name)
				_, want, err := alertmanager.Decode(body)
				require.NoError(t, err)

				before := time.Now()
				w := f.serve(newRequest("application/json; charset=utf-8", body))
				after := time.Now()

				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				v := jsonBody(t, w)
				require.Equal(t, "success", v["status"])
				require.EqualValues(t, 2, v["accepted"])
				require.Empty(t, w.Header().Get("Retry-After"))

				require.Equal(t, 1, sink.Calls(), "one notification, one Ingest call")
				got := sink.Events()
				require.Equal(t, ids(want), ids(got))
				for i, ev := range got {
					require.NoError(t, ev.Validate())
					require.False(t, ev.ReceivedAt.IsZero(), "ReceivedAt not set")
					require.False(t, ev.ReceivedAt.Before(before) || ev.ReceivedAt.After(after),
						"ReceivedAt %v outside [%v, %v]", ev.ReceivedAt, before, after)
					require.Equal(t, time.UTC, ev.ReceivedAt.Location())
					require.Equal(t, got[0].ReceivedAt, ev.ReceivedAt, "one notification, one arrival time")
					require.Equal(t, "checkout", ev.Service)
					require.True(t, ev.At.Equal(want[i].At), "At is the source's time, not the arrival")
					require.Equal(t, want[i].Kind, ev.Kind)
				}
			})
		}
	})

	t.Run("service from service_labels", func(t *testing.T) {
		doc := sampleDoc(t, sampleFiring)
		base := alertOf(doc, 0)
		mk := func(labels map[string]any) any {
			a := map[string]any{}
			for k, v := range base {
				a[k] = v
			}
			delete(a, "fingerprint")
			labels["alertname"] = "HighErrorRate"
			a["labels"] = labels
			return a
		}
		doc["alerts"] = []any{
			mk(map[string]any{"service": "svc", "app": "app", "job": "job"}),
			mk(map[string]any{"app": "app", "job": "job"}),
			mk(map[string]any{"job": "job", "instance": "i"}),
			mk(map[string]any{"instance": "i", "team": "t"}),
			mk(map[string]any{"job": "job", "service": "svc"}),
		}
		sink := &collectortest.Sink{}
		f := newFixture(t, nil, sink)
		w := f.post(marshal(t, doc))
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		got := sink.Events()
		require.Len(t, got, 5)
		var services []string
		for _, ev := range got {
			services = append(services, ev.Service)
		}
		require.Equal(t, []string{"svc", "app", "job", "", "svc"}, services)
	})

	t.Run("configured service_labels and reload", func(t *testing.T) {
		def := config.Default()
		custom := config.Default()
		custom.ServiceLabels = append(custom.ServiceLabels[:0:0], "env")
		var mu sync.Mutex
		current := def
		reg := prometheus.NewRegistry()
		sink := &collectortest.Sink{}
		h := alertmanager.NewHandler(func() *config.Config { mu.Lock(); defer mu.Unlock(); return current },
			sink, collector.NewMetrics(reg, collector.SourceAlertmanager), slog.New(slog.DiscardHandler), reg)
		body := readSample(t, sampleFiring)

		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRequest("application/json", body))
		require.Equal(t, http.StatusOK, w.Code)
		mu.Lock()
		current = custom
		mu.Unlock()
		w = httptest.NewRecorder()
		h.ServeHTTP(w, newRequest("application/json", body))
		require.Equal(t, http.StatusOK, w.Code)

		got := sink.Events()
		require.Len(t, got, 4)
		require.Equal(t, "checkout", got[0].Service)
		require.Equal(t, "prod", got[2].Service, "a reloaded config applies to the next request")
	})

	t.Run("redelivery is accepted again", func(t *testing.T) {
		sink := &collectortest.Sink{}
		f := newFixture(t, nil, sink)
		body := readSample(t, sampleFiring)
		for range 3 {
			w := f.post(body)
			require.Equal(t, http.StatusOK, w.Code)
		}
		got := sink.Events()
		require.Len(t, got, 6)
		require.Equal(t, ids(got[:2]), ids(got[2:4]))
		require.Equal(t, ids(got[:2]), ids(got[4:]))
	})

	t.Run("sender gone does not abandon the write", func(t *testing.T) {
		sink := &collectortest.Sink{}
		f := newFixture(t, nil, sink)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := f.serve(newRequest("application/json", readSample(t, sampleFiring)).WithContext(ctx))
		require.Equal(t, http.StatusOK, w.Code)
		require.Len(t, sink.Events(), 2)
		require.NoError(t, sink.CtxErrs()[0], "the sink got the request's cancelled context")
	})

	t.Run("sink context has a deadline", func(t *testing.T) {
		var deadline bool
		sink := collector.SinkFunc(func(ctx context.Context, _ ...collector.Event) error {
			_, deadline = ctx.Deadline()
			return nil
		})
		f := newFixture(t, nil, sink)
		require.Equal(t, http.StatusOK, f.post(readSample(t, sampleFiring)).Code)
		require.True(t, deadline, "a stuck store must not hold the request forever")
	})

	t.Run("concurrent", func(t *testing.T) {
		sink := &collectortest.Sink{}
		f := newFixture(t, nil, sink)
		body := readSample(t, sampleFiring)
		var wg sync.WaitGroup
		codes := make([]int, 16)
		for i := range codes {
			wg.Go(func() { codes[i] = f.post(body).Code })
		}
		wg.Wait()
		for _, c := range codes {
			require.Equal(t, http.StatusOK, c)
		}
		distinct := map[string]bool{}
		for _, ev := range sink.Events() {
			distinct[ev.ID] = true
		}
		require.Len(t, distinct, 2)
		require.Equal(t, 32.0, f.received())
	})
}

func TestHandlerStoreUnavailable(t *testing.T) {
	for name, sink := range map[string]*collectortest.Sink{
		"ErrUnavailable":    collectortest.Unavailable(),
		"generic error":     {Err: errors.New("disk I/O error")},
		"deadline exceeded": {Err: context.DeadlineExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil, sink)
			w := f.post(readSample(t, sampleFiring))

			require.Equal(t, http.StatusServiceUnavailable, w.Code, "Alertmanager retries 5xx only")
			ra := w.Header().Get("Retry-After")
			require.NotEmpty(t, ra)
			secs, err := strconv.Atoi(ra)
			require.NoError(t, err, "Retry-After %q is not delay-seconds", ra)
			require.Positive(t, secs)
			msg := errorMessage(t, w)
			require.Contains(t, msg, "the event store cannot accept writes right now")
			for _, internal := range []string{"badger", "txn", "disk I/O", "deadline"} {
				require.NotContains(t, msg, internal, "a 503 tells the sender why in plain words, never the store's internals")
			}

			require.Equal(t, 1, sink.Calls())
			require.Equal(t, 1.0, f.rejected(collector.ReasonUnavailable))
			require.Equal(t, 0.0, f.rejected(collector.ReasonBadRequest))
			require.Equal(t, 0.0, f.received(), "nothing acknowledged")
		})
	}

	t.Run("retry after recovery is stored with the same IDs", func(t *testing.T) {
		sink := collectortest.Unavailable()
		f := newFixture(t, nil, sink)
		body := readSample(t, sampleFiring)
		require.Equal(t, http.StatusServiceUnavailable, f.post(body).Code)
		sink.SetErr(nil)
		require.Equal(t, http.StatusOK, f.post(body).Code)
		_, want, err := alertmanager.Decode(body)
		require.NoError(t, err)
		require.Equal(t, ids(want), ids(sink.Events()))
	})
}

// gathered returns the value of the series of name with exactly labels,
// read through the registry, so the exposed metric names are checked too.
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	require.Failf(t, "series not found", "%s%v", name, labels)
	return 0
}

func TestHandlerMetrics(t *testing.T) {
	sink := &collectortest.Sink{}
	f := newFixture(t, nil, sink)
	const (
		receivedName = "hindsight_collector_events_received_total"
		rejectedName = "hindsight_collector_requests_rejected_total"
		truncName    = "hindsight_collector_alertmanager_truncated_alerts_total"
	)
	src := map[string]string{"source": "alertmanager"}
	rej := func(reason string) map[string]string {
		return map[string]string{"source": "alertmanager", "reason": reason}
	}

	// Series exist at zero before the first request.
	require.Equal(t, 0.0, gathered(t, f.reg, receivedName, src))
	for _, r := range []string{collector.ReasonBadRequest, collector.ReasonTooLarge, collector.ReasonMediaType, collector.ReasonUnavailable} {
		require.Equal(t, 0.0, gathered(t, f.reg, rejectedName, rej(r)))
	}

	require.Equal(t, http.StatusOK, f.post(readSample(t, sampleFiring)).Code)
	require.Equal(t, 2.0, f.received())
	require.Equal(t, 2.0, gathered(t, f.reg, receivedName, src))

	// Duplicates count: received means acknowledged.
	require.Equal(t, http.StatusOK, f.post(readSample(t, sampleFiring)).Code)
	require.Equal(t, 4.0, testutil.ToFloat64(f.metrics.Received.WithLabelValues("alertmanager")))

	require.Equal(t, http.StatusBadRequest, f.post([]byte(`{"version":"3"}`)).Code)
	require.Equal(t, http.StatusBadRequest, f.post([]byte(`{`)).Code)
	require.Equal(t, 2.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues("alertmanager", "bad_request")))
	require.Equal(t, 2.0, gathered(t, f.reg, rejectedName, rej("bad_request")))
	require.Equal(t, 4.0, f.received(), "rejections are not received events")

	require.Equal(t, http.StatusUnsupportedMediaType, f.serve(newRequest("text/plain", readSample(t, sampleFiring))).Code)
	require.Equal(t, 1.0, gathered(t, f.reg, rejectedName, rej("unsupported_media_type")))

	// Alertmanager's max_alerts drops alerts it tells us about.
	doc := sampleDoc(t, sampleFiring)
	doc["truncatedAlerts"] = 3
	require.Equal(t, http.StatusOK, f.post(marshal(t, doc)).Code)
	require.Equal(t, 3.0, gathered(t, f.reg, truncName, nil))
	require.Equal(t, 6.0, f.received())

	require.Equal(t, 0.0, f.rejected(collector.ReasonUnavailable))
	require.Equal(t, 0.0, f.rejected(collector.ReasonTooLarge))
}

func TestHandlerMetricsUnavailable(t *testing.T) {
	f := newFixture(t, nil, collectortest.Unavailable())
	require.Equal(t, http.StatusServiceUnavailable, f.post(readSample(t, sampleFiring)).Code)
	require.Equal(t, 1.0, gathered(t, f.reg, "hindsight_collector_requests_rejected_total",
		map[string]string{"source": "alertmanager", "reason": "unavailable"}))
	require.Equal(t, 0.0, gathered(t, f.reg, "hindsight_collector_events_received_total",
		map[string]string{"source": "alertmanager"}))
}
