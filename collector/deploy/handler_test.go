package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
)

type fixture struct {
	h       http.Handler
	reg     *prometheus.Registry
	metrics *collector.Metrics
}

func newFixture(t *testing.T, cfg *config.Config, sink collector.Sink) *fixture {
	t.Helper()
	if cfg == nil {
		cfg = config.Default()
	}
	reg := prometheus.NewRegistry()
	m := collector.NewMetrics(reg, collector.SourceDeploy)
	h := deploy.NewHandler(func() *config.Config { return cfg }, sink, m, slog.New(slog.DiscardHandler))
	return &fixture{h: h, reg: reg, metrics: m}
}

func (f *fixture) post(t *testing.T, query, contentType string, body []byte, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, deploy.Path+query, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	return body["error"]
}

func TestHandlerSuccess(t *testing.T) {
	for _, tc := range []struct {
		name, query, ct string
		body            []byte
		headers         []string
		n               int
	}{
		{name: "canonical", ct: "application/json", body: readSample(t, sampleCanonical), n: 1},
		{name: "cloudevents", ct: "application/cloudevents+json; charset=utf-8", body: readSample(t, sampleCloudEvents), n: 1},
		{name: "cdevents", ct: "application/json", body: readSample(t, sampleCDEvents), n: 1},
		{name: "github", ct: "application/json", body: readSample(t, sampleGitHub), headers: []string{"X-GitHub-Event", "deployment_status"}, n: 1},
		{name: "github form", ct: "application/x-www-form-urlencoded", body: []byte("payload=" + url.QueryEscape(string(readSample(t, sampleGitHub)))),
			headers: []string{"X-GitHub-Event", "deployment_status"}, n: 1},
		{name: "flux", ct: "application/json", body: readSample(t, sampleFlux), headers: []string{"Gotk-Component", "helm-controller"}, n: 1},
		{name: "spinnaker", query: "?format=spinnaker", ct: "application/json", body: readSample(t, sampleSpinnaker), n: 1},
		{name: "argocd without content type", query: "?format=argocd", body: readSample(t, sampleCanonical), n: 1},
		{name: "array", ct: "application/json", body: []byte("[" + string(readSample(t, sampleCanonical)) + "," + string(readSample(t, sampleCloudEvents)) + "]"), n: 2},
		{name: "github ping", ct: "application/json", body: []byte(`{"zen": "hi"}`), headers: []string{"X-GitHub-Event", "ping"}, n: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &collectortest.Sink{}
			f := newFixture(t, nil, sink)
			w := f.post(t, tc.query, tc.ct, tc.body, tc.headers...)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.JSONEq(t, fmt.Sprintf(`{"status": "success", "accepted": %d}`, tc.n), w.Body.String())
			evs := sink.Events()
			require.Len(t, evs, tc.n)
			for _, ev := range evs {
				require.False(t, ev.ReceivedAt.IsZero())
				require.NoError(t, ev.Validate())
			}
			require.Equal(t, float64(tc.n), testutil.ToFloat64(f.metrics.Received.WithLabelValues(collector.SourceDeploy)))
		})
	}
}

func TestHandlerBadInput(t *testing.T) {
	small := config.Default()
	small.API.MaxBodyBytes = 100
	tight := config.Default()
	tight.API.MaxAlertsPerNotification = 1
	for _, tc := range []struct {
		name, query, ct string
		cfg             *config.Config
		body            []byte
		status          int
		reason          string
		want            string
	}{
		{name: "bad status", ct: "application/json", body: []byte(`{"id":"a","service":"s","at":"2026-11-20T13:58:40Z","status":"done"}`),
			status: 400, reason: collector.ReasonBadRequest, want: `status: "done" is not one of started, succeeded, failed, rolled_back`},
		{name: "array element", ct: "application/json", body: []byte(`[{"id":"a","service":"s","at":"2026-11-20T13:58:40Z","status":"started"},{"service":"s"}]`),
			status: 400, reason: collector.ReasonBadRequest, want: "[1].id: missing"},
		{name: "not json", ct: "application/json", body: []byte(`id=1`), status: 400, reason: collector.ReasonBadRequest, want: "invalid JSON"},
		{name: "format", query: "?format=jenkins", ct: "application/json", body: readSample(t, sampleCanonical),
			status: 400, reason: collector.ReasonBadRequest, want: `format: "jenkins"`},
		{name: "too large", ct: "application/json", cfg: small, body: readSample(t, sampleCanonical),
			status: 413, reason: collector.ReasonTooLarge, want: "max_body_bytes"},
		{name: "text/plain", ct: "text/plain", body: readSample(t, sampleCanonical),
			status: 415, reason: collector.ReasonMediaType, want: "is not application/json"},
		{name: "no content type", body: readSample(t, sampleCanonical),
			status: 415, reason: collector.ReasonMediaType, want: "is not application/json"},
		{name: "form without github", ct: "application/x-www-form-urlencoded", body: readSample(t, sampleCanonical),
			status: 415, reason: collector.ReasonMediaType, want: "is not application/json"},
		{name: "duplicate key", ct: "application/json", body: []byte(`{"id":"a","service":"s","service":"t","at":"2026-11-20T13:58:40Z","status":"started"}`),
			status: 400, reason: collector.ReasonBadRequest, want: `(body): the key "service" appears twice in one object`},
		{name: "NUL", ct: "application/json", body: []byte(`[{"id":"a\u0000","service":"s","at":"2026-11-20T13:58:40Z","status":"started"}]`),
			status: 400, reason: collector.ReasonBadRequest, want: `[0].id: contains a NUL character (\u0000)`},
		{name: "too many labels", ct: "application/json", body: deployWithLabels(200, "x"),
			status: 413, reason: collector.ReasonTooLarge, want: "labels: 200 labels, over the limit of 128 (api.max_labels_per_alert)"},
		{name: "long label value", ct: "application/json", body: deployWithLabels(1, strings.Repeat("v", 5000)),
			status: 413, reason: collector.ReasonTooLarge, want: "labels.l000: the value is 5000 bytes, over the limit of 4096 (api.max_label_value_bytes)"},
		{name: "long description in a batch", ct: "application/json",
			body:   []byte(`[{"id":"a","service":"s","at":"2026-11-20T13:58:40Z","status":"started"},{"id":"b","service":"s","at":"2026-11-20T13:58:40Z","status":"started","description":"` + strings.Repeat("d", 70<<10) + `"}]`),
			status: 413, reason: collector.ReasonTooLarge, want: "[1].deploy.description: 71680 bytes, over the limit of 65536 (api.max_annotation_bytes)"},
		{name: "batch too long", ct: "application/json", cfg: tight, body: []byte(`[{"id":"a","service":"s","at":"2026-11-20T13:58:40Z","status":"started"},{"id":"b","service":"s","at":"2026-11-20T13:58:40Z","status":"started"}]`),
			status: 413, reason: collector.ReasonTooLarge, want: "(body): 2 deploy events, over the limit of 1 (api.max_alerts_per_notification)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &collectortest.Sink{}
			f := newFixture(t, tc.cfg, sink)
			w := f.post(t, tc.query, tc.ct, tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Contains(t, errorOf(t, w), tc.want)
			require.Empty(t, w.Header().Get("Retry-After"), "bad input is not retried")
			require.Zero(t, sink.Calls(), "nothing reaches the sink")
			require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(collector.SourceDeploy, tc.reason)))
		})
	}
}

// deployWithLabels is a canonical deploy with n labels of value v.
func deployWithLabels(n int, v string) []byte {
	labels := map[string]string{}
	for i := range n {
		labels[fmt.Sprintf("l%03d", i)] = v
	}
	b, _ := json.Marshal(map[string]any{"id": "a", "service": "s", "at": "2026-11-20T13:58:40Z", "status": "started", "labels": labels})
	return b
}

func TestHandlerUnavailable(t *testing.T) {
	sink := &collectortest.Sink{}
	sink.Fail = func(int) error { return fmt.Errorf("write: %w", collector.ErrUnavailable) }
	f := newFixture(t, nil, sink)
	w := f.post(t, "", "application/json", readSample(t, sampleCanonical))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "5", w.Header().Get("Retry-After"))
	require.Equal(t, "the event store cannot accept writes right now: try again later", errorOf(t, w))
	require.Empty(t, sink.Events())
	require.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonUnavailable)))
	require.Zero(t, testutil.ToFloat64(f.metrics.Received.WithLabelValues(collector.SourceDeploy)))
}

// A sender hanging up does not abandon a write about to land.
func TestHandlerIgnoresRequestCancel(t *testing.T) {
	var seen error
	sink := collector.SinkFunc(func(ctx context.Context, _ ...collector.Event) error {
		seen = ctx.Err()
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		return nil
	})
	f := newFixture(t, nil, sink)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, deploy.Path, strings.NewReader(string(readSample(t, sampleCanonical))))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.NoError(t, seen)
}
