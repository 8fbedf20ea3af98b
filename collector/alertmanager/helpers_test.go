package alertmanager_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

// The samples were produced by the real Alertmanager v0.34.2 notifier.
const (
	sampleFiring   = "alertmanager_webhook_firing.json"
	samplePartial  = "alertmanager_webhook_partial.json"
	sampleResolved = "alertmanager_webhook_resolved.json"
)

var samples = []string{sampleFiring, samplePartial, sampleResolved}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err)
	return b
}

// sampleDoc returns a sample as a generic JSON document to be edited.
func sampleDoc(tb testing.TB, name string) map[string]any {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, json.Unmarshal(readSample(tb, name), &doc))
	return doc
}

// alertOf returns alerts[i] of a generic document.
func alertOf(doc map[string]any, i int) map[string]any {
	return doc["alerts"].([]any)[i].(map[string]any)
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

func ids(evs []collector.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
