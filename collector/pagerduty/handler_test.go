package pagerduty_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
)

const path = "/api/v1/ingest/pagerduty"

type fixture struct {
	h       http.Handler
	sink    *collectortest.Sink
	metrics *collector.Metrics
	logs    *syncBuffer
	bodies  []string // every response body, to check for leaked secrets
}

func newFixture(t *testing.T, cfg *config.Config) *fixture {
	t.Helper()
	f := &fixture{sink: &collectortest.Sink{}, logs: &syncBuffer{}}
	f.metrics = collector.NewMetrics(prometheus.NewRegistry(), collector.SourcePagerDuty)
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.h = pagerduty.NewHandler(func() *config.Config { return cfg }, f.sink, f.metrics, logger)
	return f
}

func (f *fixture) post(t *testing.T, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "PagerDuty-Webhook/V3.0")
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	f.bodies = append(f.bodies, w.Body.String())
	return w
}

func (f *fixture) rejected(reason string) float64 {
	return testutil.ToFloat64(f.metrics.Rejected.WithLabelValues(collector.SourcePagerDuty, reason))
}

func (f *fixture) received() float64 {
	return testutil.ToFloat64(f.metrics.Received.WithLabelValues(collector.SourcePagerDuty))
}

// noSecretLeaked checks every response body and the log.
func (f *fixture) noSecretLeaked(t *testing.T) {
	t.Helper()
	for _, s := range []string{secretNew, secretOld, secretWrong} {
		for _, b := range f.bodies {
			require.NotContains(t, b, s)
		}
		require.NotContains(t, f.logs.String(), s)
	}
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var got map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), w.Body.String())
	require.NotEmpty(t, got["error"])
	return got["error"]
}

func TestHandlerSignedSamples(t *testing.T) {
	for _, sample := range samples {
		for _, secret := range []string{secretNew, secretOld} {
			t.Run(fmt.Sprintf("%s/%s", sample, secret[:3]), func(t *testing.T) {
				f := newFixture(t, testConfig(secret))
				body := readSample(t, sample)
				w := f.post(t, body, sampleHeaders(t, sample))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
				require.JSONEq(t, `{"status":"success","accepted":1}`, w.Body.String())

				stored := f.sink.Events()
				require.Len(t, stored, 1)
				_, want, err := pagerduty.Decode(body)
				require.NoError(t, err)
				got := stored[0]
				require.WithinDuration(t, time.Now(), got.ReceivedAt, time.Minute)
				got.ReceivedAt = time.Time{}
				if want.PagerDuty.ServiceID == "PCHKOUT" {
					want.Service = "checkout"
				}
				require.Equal(t, *want, got)
				require.Equal(t, 1.0, f.received())
				f.noSecretLeaked(t)
			})
		}
	}
}

func TestHandlerMapsService(t *testing.T) {
	f := newFixture(t, testConfig(secretNew))
	f.post(t, readSample(t, sampleTriggered), sampleHeaders(t, sampleTriggered))
	require.Equal(t, "checkout", f.sink.Events()[0].Service)

	// Unmapped PagerDuty service: no service.
	body := variant(t, nil, map[string]any{"service": map[string]any{"id": "PNOPE", "summary": "other"}})
	w := f.post(t, body, map[string]string{"X-PagerDuty-Signature": sign(body, secretNew)})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Empty(t, f.sink.Events()[1].Service)
}

func TestHandlerWrongSignature(t *testing.T) {
	f := newFixture(t, testConfig(secretWrong))
	for _, sample := range samples {
		w := f.post(t, readSample(t, sample), sampleHeaders(t, sample))
		require.Equal(t, http.StatusForbidden, w.Code)
		require.Contains(t, errorOf(t, w), "X-PagerDuty-Signature: no signature matches")
	}
	// A body changed after signing fails too.
	body := readSample(t, sampleTriggered)
	tampered := bytes.Replace(body, []byte(`"P1"`), []byte(`"P5"`), 1)
	f2 := newFixture(t, testConfig(secretNew))
	w := f2.post(t, tampered, sampleHeaders(t, sampleTriggered))
	require.Equal(t, http.StatusForbidden, w.Code)

	require.Zero(t, f.sink.Calls())
	require.Zero(t, f2.sink.Calls())
	require.Equal(t, 3.0, f.rejected(collector.ReasonUnauthorized))
	require.Equal(t, 1.0, f2.rejected(collector.ReasonUnauthorized))
	f.noSecretLeaked(t)
	f2.noSecretLeaked(t)
}

func TestHandlerMalformedSignatureHeader(t *testing.T) {
	f := newFixture(t, testConfig(secretNew, secretOld))
	body := readSample(t, sampleTriggered)
	for name, h := range map[string]map[string]string{
		"missing":    nil,
		"empty":      {"X-PagerDuty-Signature": ""},
		"no v1":      {"X-PagerDuty-Signature": "v0=abc"},
		"not hex":    {"X-PagerDuty-Signature": "v1=zz"},
		"only comma": {"X-PagerDuty-Signature": " , "},
	} {
		t.Run(name, func(t *testing.T) {
			w := f.post(t, body, h)
			require.Equal(t, http.StatusForbidden, w.Code, "unsigned is unauthenticated when secrets are set")
			require.Contains(t, errorOf(t, w), "X-PagerDuty-Signature: missing, or holds no v1= signature")
		})
	}
	t.Run("empty body", func(t *testing.T) {
		w := f.post(t, nil, map[string]string{"X-PagerDuty-Signature": sign(nil, secretNew)})
		require.Equal(t, http.StatusBadRequest, w.Code)
		require.Contains(t, errorOf(t, w), "the body is empty")
	})
	require.Zero(t, f.sink.Calls())
	require.Equal(t, 5.0, f.rejected(collector.ReasonUnauthorized))
	require.Equal(t, 1.0, f.rejected(collector.ReasonBadRequest), "only the empty body is a bad request")
	f.noSecretLeaked(t)
}

func TestHandlerRotation(t *testing.T) {
	for _, secrets := range [][]string{
		{secretWrong, secretNew},
		{secretWrong, secretOld},
		{secretOld, secretWrong},
		{"", secretWrong, secretNew}, // an empty entry is no secret
	} {
		t.Run(strings.Join(secrets, "+"), func(t *testing.T) {
			f := newFixture(t, testConfig(secrets...))
			for _, sample := range samples {
				w := f.post(t, readSample(t, sample), sampleHeaders(t, sample))
				require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			}
			require.Len(t, f.sink.Events(), 3)
			f.noSecretLeaked(t)
		})
	}
	t.Run("only the second of the sender's signatures matches", func(t *testing.T) {
		f := newFixture(t, testConfig(secretOld))
		body := readSample(t, sampleAnnotated)
		// As a proxy might rewrite it: spaces after the commas.
		w := f.post(t, body, map[string]string{"X-PagerDuty-Signature": sign(body, secretWrong) + ", " + sign(body, secretOld)})
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	})
	t.Run("reload rotates", func(t *testing.T) {
		cfg := testConfig(secretOld)
		f := newFixture(t, cfg)
		body := readSample(t, sampleResolved)
		oldOnly := map[string]string{"X-PagerDuty-Signature": sign(body, secretOld)}
		require.Equal(t, http.StatusOK, f.post(t, body, oldOnly).Code)
		cfg.PagerDuty.WebhookSecrets = testConfig(secretNew).PagerDuty.WebhookSecrets
		require.Equal(t, http.StatusForbidden, f.post(t, body, oldOnly).Code)
	})
}

func TestHandlerUnsigned(t *testing.T) {
	f := newFixture(t, testConfig())
	require.Contains(t, f.logs.String(), "level=WARN")
	require.Contains(t, f.logs.String(), "signatures are not checked")
	for _, sample := range samples {
		w := f.post(t, readSample(t, sample), nil) // no signature at all
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	require.Len(t, f.sink.Events(), 3)

	g := newFixture(t, testConfig(secretNew))
	require.NotContains(t, g.logs.String(), "signatures are not checked")
}

func TestHandlerPing(t *testing.T) {
	f := newFixture(t, testConfig(secretNew))
	body := []byte(`{"event":{"id":"01PING","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-11-20T14:00:00.000Z","agent":null,"client":null,"data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`)
	w := f.post(t, body, map[string]string{"X-PagerDuty-Signature": sign(body, secretNew)})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"status":"success","accepted":0}`, w.Body.String())
	require.Zero(t, f.sink.Calls(), "a ping is not stored")

	// A ping is still checked.
	w = f.post(t, body, map[string]string{"X-PagerDuty-Signature": sign(body, secretWrong)})
	require.Equal(t, http.StatusForbidden, w.Code)
}

func TestHandlerMalformedBody(t *testing.T) {
	f := newFixture(t, testConfig(secretNew))
	for _, tc := range []struct {
		body []byte
		want string
	}{
		{variant(t, map[string]any{"event_type": nil}, nil), "event.event_type: missing"},
		{variant(t, map[string]any{"occurred_at": "x"}, nil), `event.occurred_at: "x" is not an RFC 3339 time`},
		{[]byte(`{"event":`), "invalid JSON"},
	} {
		w := f.post(t, tc.body, map[string]string{"X-PagerDuty-Signature": sign(tc.body, secretNew)})
		require.Equal(t, http.StatusBadRequest, w.Code)
		require.Contains(t, errorOf(t, w), tc.want)
	}
	require.Zero(t, f.sink.Calls())
	require.Equal(t, 3.0, f.rejected(collector.ReasonBadRequest))
}

func TestHandlerContentTypeAndSize(t *testing.T) {
	cfg := testConfig()
	cfg.API.MaxBodyBytes = 1000
	f := newFixture(t, cfg)
	w := f.post(t, readSample(t, sampleTriggered), nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)

	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(readSample(t, sampleAnnotated)))
	r.Header.Set("Content-Type", "text/plain")
	rw := httptest.NewRecorder()
	f.h.ServeHTTP(rw, r)
	require.Equal(t, http.StatusUnsupportedMediaType, rw.Code)
	require.Zero(t, f.sink.Calls())

	// Over the 2 MiB that signatures can be checked on.
	big := testConfig(secretNew)
	big.API.MaxBodyBytes = 4 << 20
	g := newFixture(t, big)
	body := variant(t, nil, map[string]any{"padding": strings.Repeat("x", 2<<20)})
	w = g.post(t, body, map[string]string{"X-PagerDuty-Signature": sign(body, secretNew)})
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Contains(t, errorOf(t, w), "signature")
}

func TestHandlerStoreUnavailable(t *testing.T) {
	f := newFixture(t, testConfig(secretNew))
	f.sink.SetErr(fmt.Errorf("badger: %w", collector.ErrUnavailable))
	w := f.post(t, readSample(t, sampleTriggered), sampleHeaders(t, sampleTriggered))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "5", w.Header().Get("Retry-After"))
	require.Equal(t, 1.0, f.rejected(collector.ReasonUnavailable))
	f.noSecretLeaked(t)
}

// A client that has gone away does not abandon a write about to land.
func TestHandlerIgnoresCanceledRequest(t *testing.T) {
	var ctxErr error
	sink := collector.SinkFunc(func(ctx context.Context, _ ...collector.Event) error {
		ctxErr = ctx.Err()
		return nil
	})
	m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourcePagerDuty)
	h := pagerduty.NewHandler(func() *config.Config { return testConfig() }, sink, m, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(readSample(t, sampleTriggered)))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, ctxErr)
}
