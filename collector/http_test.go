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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
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

	for name, err := range map[string]error{
		"unavailable": fmt.Errorf("badger: %w", collector.ErrUnavailable),
		"other error": errors.New("disk on fire"),
	} {
		t.Run(name, func(t *testing.T) {
			m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
			w := httptest.NewRecorder()
			collector.Respond(w, logger, m, collector.SourceDeploy, 0, err)
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			require.NotEmpty(t, w.Header().Get("Retry-After"))
			require.Contains(t, decode(t, w)["error"], "retry")
			require.Equal(t, 1.0, testutil.ToFloat64(m.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonUnavailable)))
		})
	}
}

func TestNewMetricsPreinitialises(t *testing.T) {
	reg := prometheus.NewRegistry()
	collector.NewMetrics(reg, collector.SourceAlertmanager, collector.SourcePagerDuty)
	// One received series per source, five rejected series per source.
	n, err := testutil.GatherAndCount(reg, "hindsight_collector_events_received_total")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = testutil.GatherAndCount(reg, "hindsight_collector_requests_rejected_total")
	require.NoError(t, err)
	require.Equal(t, 10, n)
}
