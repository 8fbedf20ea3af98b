package collector_test

import (
	"encoding/json"
	"errors"
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
)

func TestCheckJSON(t *testing.T) {
	for ct, ok := range map[string]bool{
		"application/json":                      true,
		"application/json; charset=utf-8":       true,
		"Application/JSON":                      true,
		"application/cloudevents+json":          true,
		"":                                      false,
		"text/plain":                            false,
		"application/x-www-form-urlencoded":     false,
		"application/json; charset=\"unclosed":  false,
		"multipart/form-data; boundary=xyz":     false,
		"application/jsonx":                     false,
		"application/vnd.something+json-broken": false,
	} {
		t.Run(ct, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			re := collector.CheckJSON(r)
			if ok {
				require.Nil(t, re)
				return
			}
			require.NotNil(t, re)
			require.Equal(t, http.StatusUnsupportedMediaType, re.Status)
			require.Equal(t, collector.ReasonMediaType, re.Reason)
			require.Contains(t, re.Error(), "application/json")
		})
	}
}

func TestReadBody(t *testing.T) {
	t.Run("within the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789"))
		body, re := collector.ReadBody(r, 10)
		require.Nil(t, re)
		require.Equal(t, "0123456789", string(body))
	})
	t.Run("declared length over the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789a"))
		_, re := collector.ReadBody(r, 10)
		require.NotNil(t, re)
		require.Equal(t, http.StatusRequestEntityTooLarge, re.Status)
		require.Equal(t, collector.ReasonTooLarge, re.Reason)
		require.Contains(t, re.Error(), "max_body_bytes")
	})
	t.Run("unknown length over the limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789a"))
		r.ContentLength = -1 // chunked
		_, re := collector.ReadBody(r, 10)
		require.NotNil(t, re)
		require.Equal(t, http.StatusRequestEntityTooLarge, re.Status)
		require.Equal(t, collector.ReasonTooLarge, re.Reason)
		require.Contains(t, re.Error(), "max_body_bytes")
	})
}

func TestRespond(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)

	decode := func(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
		t.Helper()
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		var v map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), "body %q", w.Body.String())
		return v
	}

	t.Run("success", func(t *testing.T) {
		m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
		w := httptest.NewRecorder()
		collector.Respond(w, logger, m, collector.SourceDeploy, 3, nil)
		require.Equal(t, http.StatusOK, w.Code)
		v := decode(t, w)
		require.Equal(t, "success", v["status"])
		require.EqualValues(t, 3, v["accepted"])
		require.Equal(t, 3.0, testutil.ToFloat64(m.Received.WithLabelValues(collector.SourceDeploy)))
	})

	t.Run("request error", func(t *testing.T) {
		m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
		w := httptest.NewRecorder()
		collector.Respond(w, logger, m, collector.SourceDeploy, 0, fmt.Errorf("wrapped: %w", collector.BadRequest("id: missing")))
		require.Equal(t, http.StatusBadRequest, w.Code)
		require.Empty(t, w.Header().Get("Retry-After"))
		require.Equal(t, "id: missing", decode(t, w)["error"])
		require.Equal(t, 1.0, testutil.ToFloat64(m.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonBadRequest)))
		require.Equal(t, 0.0, testutil.ToFloat64(m.Received.WithLabelValues(collector.SourceDeploy)))
	})

	// A 503 says why in plain words and never passes on the store's
	// internals, which are logged instead.
	for name, tc := range map[string]struct {
		err  error
		want string
	}{
		"unavailable": {fmt.Errorf("badger: %w", collector.ErrUnavailable), "try again later"},
		"other error": {errors.New("disk on fire"), "try again later"},
		"with a reason": {fmt.Errorf("append: %w", collector.Unavailable("the disk is nearly full",
			errors.New("badger: Txn is too big to fit into one request"))), "the disk is nearly full"},
	} {
		t.Run(name, func(t *testing.T) {
			m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
			w := httptest.NewRecorder()
			collector.Respond(w, logger, m, collector.SourceDeploy, 0, tc.err)
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			require.NotEmpty(t, w.Header().Get("Retry-After"))
			require.Equal(t, "the event store cannot accept writes right now: "+tc.want, decode(t, w)["error"])
			require.True(t, errors.Is(tc.err, collector.ErrUnavailable) || name == "other error")
			require.Equal(t, 1.0, testutil.ToFloat64(m.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonUnavailable)))
		})
	}
}

func TestNewMetricsPreinitialises(t *testing.T) {
	reg := prometheus.NewRegistry()
	collector.NewMetrics(reg, collector.SourceAlertmanager, collector.SourcePagerDuty)
	// One received series per source, six rejected series per source.
	n, err := testutil.GatherAndCount(reg, "hindsight_collector_events_received_total")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = testutil.GatherAndCount(reg, "hindsight_collector_requests_rejected_total")
	require.NoError(t, err)
	require.Equal(t, 12, n)
}

// TestIntake walks a request through each step of the shared shape: the
// answer every source gives for the same problem is the same.
func TestIntake(t *testing.T) {
	newIntake := func(sink *collectortest.Sink, decode func(*http.Request, []byte) ([]collector.Event, error)) (*collector.Intake, *collector.Metrics) {
		m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
		return &collector.Intake{
			Source: collector.SourceDeploy, MaxBodyBytes: func() int64 { return 16 }, Decode: decode,
			Sink: sink, Metrics: m, Logger: slog.New(slog.DiscardHandler),
		}, m
	}
	one := func(*http.Request, []byte) ([]collector.Event, error) {
		return []collector.Event{{ID: "ev-1", Source: collector.SourceDeploy, Kind: "deploy.succeeded", At: time.Now()}}, nil
	}
	post := func(h http.Handler, ct, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, tc := range []struct {
		name, ct, body string
		decode         func(*http.Request, []byte) ([]collector.Event, error)
		sinkErr        error
		status         int
		reason, msg    string
		stored         int
	}{
		{name: "stored", ct: "application/json", body: "{}", decode: one, status: http.StatusOK, stored: 1},
		{name: "not JSON", ct: "text/plain", body: "{}", decode: one, status: http.StatusUnsupportedMediaType, reason: collector.ReasonMediaType, msg: "application/json"},
		{name: "too large", ct: "application/json", body: strings.Repeat("x", 17), decode: one, status: http.StatusRequestEntityTooLarge, reason: collector.ReasonTooLarge, msg: "max_body_bytes"},
		{name: "bad body", ct: "application/json", body: "{}", status: http.StatusBadRequest, reason: collector.ReasonBadRequest, msg: "id: missing",
			decode: func(*http.Request, []byte) ([]collector.Event, error) { return nil, errors.New("id: missing") }},
		{name: "refused with its own status", ct: "application/json", body: "{}", status: http.StatusForbidden, reason: collector.ReasonUnauthorized, msg: "no signature",
			decode: func(*http.Request, []byte) ([]collector.Event, error) {
				return nil, &collector.RequestError{Status: http.StatusForbidden, Reason: collector.ReasonUnauthorized, Err: errors.New("no signature matches")}
			}},
		{name: "nothing to store", ct: "application/json", body: "{}", status: http.StatusOK,
			decode: func(*http.Request, []byte) ([]collector.Event, error) { return nil, nil }},
		{name: "store unavailable", ct: "application/json", body: "{}", decode: one, sinkErr: fmt.Errorf("badger: %w", collector.ErrUnavailable),
			status: http.StatusServiceUnavailable, reason: collector.ReasonUnavailable, msg: "the event store cannot accept writes right now: try again later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &collectortest.Sink{}
			sink.SetErr(tc.sinkErr)
			h, m := newIntake(sink, tc.decode)
			w := post(h, tc.ct, tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Len(t, sink.Events(), tc.stored)
			if tc.status == http.StatusOK {
				require.JSONEq(t, fmt.Sprintf(`{"status":"success","accepted":%d}`, tc.stored), w.Body.String())
				for _, ev := range sink.Events() {
					require.WithinDuration(t, time.Now(), ev.ReceivedAt, time.Minute, "the intake stamps ReceivedAt")
				}
				return
			}
			require.Contains(t, w.Body.String(), tc.msg)
			require.Equal(t, 1.0, testutil.ToFloat64(m.Rejected.WithLabelValues(collector.SourceDeploy, tc.reason)))
			require.Equal(t, tc.status == http.StatusServiceUnavailable, w.Header().Get("Retry-After") != "")
		})
	}
}
