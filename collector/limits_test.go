package collector_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

func TestCheckJSONText(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       string // "" = accepted
	}{
		{name: "plain", body: `{"a":"b","c":[{"a":1},{"a":2}],"d":{"a":"x"}}`},
		{name: "same key in sibling objects", body: `[{"id":"1"},{"id":"2"}]`},
		{name: "escaped backslash before u0000 is not a NUL", body: `{"a":"\\u0000"}`},
		{name: "braces inside strings", body: `{"a":"{\"a\":1}","b":"}]"}`},
		{name: "many keys", body: `{"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"k18":1}`},
		{name: "unicode", body: `{"summary":"Überlast — 東京 \ud83d\ude00"}`},

		{name: "duplicate at the top", body: `{"version":"4","version":"3"}`, want: `(body): the key "version" appears twice in one object`},
		{name: "duplicate label", body: `{"alerts":[{"labels":{"a":"1"}},{"labels":{"severity":"info","x":"y","severity":"critical"}}]}`,
			want: `alerts[1].labels: the key "severity" appears twice in one object`},
		{name: "duplicate spelled with an escape", body: `{"a":1,"\u0061":2}`, want: `(body): the key "a" appears twice in one object`},
		{name: "duplicate past the small-object list", body: `{"k1":1,"k2":1,"k3":1,"k4":1,"k5":1,"k6":1,"k7":1,"k8":1,"k9":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1,"k15":1,"k16":1,"k17":1,"k18":1,"k3":2}`,
			want: `(body): the key "k3" appears twice in one object`},
		{name: "NUL in a value", body: `{"alerts":[{"labels":{"job":"api\u0000"}}]}`, want: `alerts[0].labels.job: contains a NUL character (\u0000)`},
		{name: "NUL in a key", body: `{"labels":{"a\u0000b":"x"}}`, want: `labels (a key): contains a NUL character (\u0000)`},
		{name: "invalid UTF-8", body: "{\"event\":{\"data\":{\"title\":\"caf\xe9\"}}}", want: `event.data.title: is not valid UTF-8 (byte 30 of the body)`},
		{name: "odd key in the path", body: `{"labels":{"a b":"\u0000"}}`, want: `labels["a b"]: contains a NUL character (\u0000)`},
		{name: "long key is cut", body: `{"` + strings.Repeat("k", 100) + `":1,"` + strings.Repeat("k", 100) + `":2}`,
			want: `(body): the key "` + strings.Repeat("k", 40) + `"… appears twice in one object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := collector.CheckJSONText([]byte(tc.body))
			if tc.want == "" {
				require.Nil(t, re)
				return
			}
			require.NotNil(t, re)
			require.Equal(t, http.StatusBadRequest, re.Status)
			require.Equal(t, collector.ReasonBadRequest, re.Reason)
			require.Equal(t, tc.want, re.Error())
		})
	}
}

func TestDecodeObjectRefusesDuplicateKeys(t *testing.T) {
	var v struct{ A string }
	err := collector.DecodeObject([]byte(`{"A":"first","A":"second"}`), "a test object", &v)
	require.EqualError(t, err, `(body): the key "A" appears twice in one object`)
}

func TestCheckLabels(t *testing.T) {
	lim := config.Limits{MaxAlertsPerNotification: 2, MaxLabelsPerAlert: 3, MaxLabelNameBytes: 8, MaxLabelValueBytes: 10, MaxAnnotationBytes: 20}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{name: "long value", labels: map[string]string{"name": "HighLatency", "job": "api"}, want: `alerts[0].labels.name: the value is 11 bytes, over the limit of 10 (api.max_label_value_bytes)`},
		{name: "at the limits", labels: map[string]string{"12345678": "1234567890", "b": "", "c": "x"}},
		{name: "too many", labels: map[string]string{"a": "", "b": "", "c": "", "d": ""}, want: `alerts[0].labels: 4 labels, over the limit of 3 (api.max_labels_per_alert)`},
		{name: "long name", labels: map[string]string{"123456789": "x"}, want: `alerts[0].labels: the name "123456789" is 9 bytes, over the limit of 8 (api.max_label_name_bytes)`},
		{name: "first bad value by name", labels: map[string]string{"zz": strings.Repeat("v", 11), "aa": strings.Repeat("v", 12)},
			want: `alerts[0].labels.aa: the value is 12 bytes, over the limit of 10 (api.max_label_value_bytes)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := collector.CheckLabels(lim, "alerts[0].labels", tc.labels)
			if tc.want == "" {
				require.Nil(t, re)
				return
			}
			require.NotNil(t, re)
			require.Equal(t, http.StatusRequestEntityTooLarge, re.Status)
			require.Equal(t, collector.ReasonTooLarge, re.Reason)
			require.Equal(t, tc.want, re.Error())
		})
	}
}

func TestCheckEventNamesTheField(t *testing.T) {
	lim := config.DefaultLimits()
	lim.MaxAnnotationBytes = 16
	lim.MaxLabelValueBytes = 8
	ev := collector.Event{PagerDuty: &collector.PagerDuty{Title: "short", Note: strings.Repeat("n", 17)}}
	require.EqualError(t, collector.CheckEvent(lim, "", &ev), `pagerduty.note: 17 bytes, over the limit of 16 (api.max_annotation_bytes)`)
	ev = collector.Event{Service: "checkout", Deploy: &collector.Deploy{Version: "v1.2.3-rc1"}}
	require.EqualError(t, collector.CheckEvent(lim, "[2]", &ev), `[2].deploy.version: 10 bytes, over the limit of 8 (api.max_label_value_bytes)`)
	ev = collector.Event{Service: "checkout-api"}
	require.EqualError(t, collector.CheckEvent(lim, "", &ev), `service: 12 bytes, over the limit of 8 (api.max_label_value_bytes)`)
	ev = collector.Event{Annotations: map[string]string{"description": strings.Repeat("d", 17)}}
	require.EqualError(t, collector.CheckEvent(lim, "", &ev), `annotations.description: the value is 17 bytes, over the limit of 16 (api.max_annotation_bytes)`)
}

// blockingSink holds every Ingest until release is closed.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSink) Ingest(ctx context.Context, _ ...collector.Event) error {
	s.entered <- struct{}{}
	<-s.release
	return nil
}

// TestIntakeBoundsRequestsInFlight: past api.max_ingests_in_flight a
// request is not read but answered 503 with Retry-After, so a storm of
// senders cannot pile bodies up in memory; once a slot frees, requests
// are taken again.
func TestIntakeBoundsRequestsInFlight(t *testing.T) {
	sink := &blockingSink{entered: make(chan struct{}, 4), release: make(chan struct{})}
	m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceDeploy)
	limit := 2
	h := &collector.Intake{
		Source: collector.SourceDeploy, MaxBodyBytes: func() int64 { return 1 << 10 }, MaxInFlight: func() int { return limit },
		Wait: 50 * time.Millisecond, Sink: sink, Metrics: m, Logger: slog.New(slog.DiscardHandler),
		Decode: func(*http.Request, []byte) ([]collector.Event, error) {
			return []collector.Event{{ID: "ev-1", Source: collector.SourceDeploy, Kind: "deploy.succeeded", At: time.Now()}}, nil
		},
	}
	post := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Go(func() { codes <- post().Code })
	}
	<-sink.entered
	<-sink.entered
	require.Equal(t, 2.0, testutil.ToFloat64(m.InFlight.WithLabelValues(collector.SourceDeploy)))

	w := post()
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	require.Contains(t, w.Body.String(), "api.max_ingests_in_flight")
	require.Equal(t, 1.0, testutil.ToFloat64(m.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonBusy)))

	// A reload that raises the limit applies to the next request.
	limit = 3
	done := make(chan int, 1)
	go func() { done <- post().Code }()
	<-sink.entered
	close(sink.release)
	wg.Wait()
	require.Equal(t, http.StatusOK, <-codes)
	require.Equal(t, http.StatusOK, <-codes)
	require.Equal(t, http.StatusOK, <-done)
	require.Equal(t, 0.0, testutil.ToFloat64(m.InFlight.WithLabelValues(collector.SourceDeploy)))
}
