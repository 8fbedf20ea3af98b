package alertmanager_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/config"
)

// TestHandlerHostileInput: what no Alertmanager sends is refused with
// a 4xx naming the field and the limit, and nothing of it is stored.
func TestHandlerHostileInput(t *testing.T) {
	edit := func(change func(doc map[string]any)) []byte {
		doc := sampleDoc(t, sampleFiring)
		change(doc)
		return marshal(t, doc)
	}
	labels0 := func(change func(l map[string]any)) []byte {
		return edit(func(doc map[string]any) { change(alertOf(doc, 0)["labels"].(map[string]any)) })
	}
	many := labels0(func(l map[string]any) {
		for i := range 200 {
			l[fmt.Sprintf("l%03d", i)] = "x"
		}
	})
	sample := string(readSample(t, sampleFiring))
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"too many labels", many, http.StatusRequestEntityTooLarge,
			"alerts[0].labels: 206 labels, over the limit of 128 (api.max_labels_per_alert)"},
		{"a 1 MB label value", labels0(func(l map[string]any) { l["instance"] = strings.Repeat("x", 900<<10) }), http.StatusRequestEntityTooLarge,
			"alerts[0].labels.instance: the value is 921600 bytes, over the limit of 4096 (api.max_label_value_bytes)"},
		{"a long label name", labels0(func(l map[string]any) { l[strings.Repeat("n", 300)] = "x" }), http.StatusRequestEntityTooLarge,
			`alerts[0].labels: the name "` + strings.Repeat("n", 40) + `"… is 300 bytes, over the limit of 256 (api.max_label_name_bytes)`},
		{"a huge annotation", edit(func(doc map[string]any) {
			alertOf(doc, 0)["annotations"].(map[string]any)["description"] = strings.Repeat("d", 70<<10)
		}), http.StatusRequestEntityTooLarge,
			"alerts[0].annotations.description: the value is 71680 bytes, over the limit of 65536 (api.max_annotation_bytes)"},
		{"NUL in a label", labels0(func(l map[string]any) { l["job"] = "api\x00" }), http.StatusBadRequest,
			`alerts[0].labels.job: contains a NUL character (\u0000)`},
		{"invalid UTF-8", []byte(strings.Replace(sample, `"receiver"`, "\"receiver\xff\"", 1)), http.StatusBadRequest,
			"a key: is not valid UTF-8 (byte 15 of the body)"},
		{"a duplicate key", []byte(strings.Replace(sample, `"version": "4"`, `"version": "4", "version": "4"`, 1)), http.StatusBadRequest,
			`(body): the key "version" appears twice in one object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.API.MaxBodyBytes = 2 << 20
			sink := &collectortest.Sink{}
			f := newFixture(t, cfg, sink)
			w := f.post(tc.body)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Contains(t, errorMessage(t, w), tc.want)
			require.Empty(t, sink.Events())
			reason := collector.ReasonBadRequest
			if tc.status == http.StatusRequestEntityTooLarge {
				reason = collector.ReasonTooLarge
			}
			require.Equal(t, 1.0, f.rejected(reason))
		})
	}
}

// TestHandlerLimitsReload: the limits are the running configuration's,
// read per request.
func TestHandlerLimitsReload(t *testing.T) {
	current := config.Default()
	sink := &collectortest.Sink{}
	m := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceAlertmanager)
	h := alertmanager.NewHandler(func() *config.Config { return current }, sink, m, slog.New(slog.DiscardHandler), nil)
	f := &fixture{h: h, metrics: m}
	body := readSample(t, sampleFiring) // two alerts
	require.Equal(t, http.StatusOK, f.post(body).Code)

	tight := config.Default()
	tight.API.MaxAlertsPerNotification = 1
	current = tight
	w := f.post(body)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Equal(t, "alerts: 2 alerts, over the limit of 1 (api.max_alerts_per_notification); set max_alerts on the Alertmanager webhook receiver to at most 1",
		errorMessage(t, w))
}
