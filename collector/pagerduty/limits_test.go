package pagerduty_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

// TestHandlerHostileInput: a signed webhook is still held to the intake
// limits and to clean JSON text; the answer names the field and the
// limit, and nothing is stored.
func TestHandlerHostileInput(t *testing.T) {
	f := newFixture(t, testConfig(secretNew))
	sample := string(readSample(t, sampleTriggered))
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"a huge title", variant(t, nil, map[string]any{"title": strings.Repeat("t", 70<<10)}), http.StatusRequestEntityTooLarge,
			"pagerduty.title: 71680 bytes, over the limit of 65536 (api.max_annotation_bytes)"},
		{"a duplicate key", []byte(strings.Replace(sample, `"event_type":`, `"event_type": "incident.resolved", "event_type":`, 1)), http.StatusBadRequest,
			`event: the key "event_type" appears twice in one object`},
		{"NUL in the title", variant(t, nil, map[string]any{"title": "checkout\x00down"}), http.StatusBadRequest,
			`event.data.title: contains a NUL character (\u0000)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.post(t, tc.body, map[string]string{"X-PagerDuty-Signature": sign(tc.body, secretNew)})
			require.Equal(t, tc.status, w.Code, w.Body.String())
			require.Equal(t, tc.want, errorOf(t, w))
		})
	}
	require.Zero(t, f.sink.Calls())
	require.Equal(t, 1.0, f.rejected(collector.ReasonTooLarge))
	require.Equal(t, 2.0, f.rejected(collector.ReasonBadRequest))
}
