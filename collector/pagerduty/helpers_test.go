package pagerduty_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	commoncfg "github.com/prometheus/common/config"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Webhook samples: exact bodies (no trailing newline) with, in the
// .headers.txt beside each, X-PagerDuty-Signature for the two TEST secrets.
const (
	sampleTriggered  = "pagerduty_webhook_v3_incident_triggered.json"
	sampleAnnotated  = "pagerduty_webhook_v3_incident_annotated.json"
	sampleResolved   = "pagerduty_webhook_v3_incident_resolved.json"
	sampleLogEntries = "pagerduty_incident_log_entries.json"

	// The samples are signed with both (a rotation in progress).
	secretNew = "new-test-secret-not-real"
	secretOld = "old-test-secret-not-real"
	// secretWrong signs nothing.
	secretWrong = "wrong-test-secret-not-real"

	incidentID = "Q2XK8LJ4N1ABCD"
)

var samples = []string{sampleTriggered, sampleAnnotated, sampleResolved}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err)
	return b
}

// sampleHeaders returns the headers recorded with a webhook sample.
func sampleHeaders(tb testing.TB, name string) map[string]string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".headers.txt"))
	require.NoError(tb, err)
	defer f.Close()
	h := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		require.True(tb, ok, "header line %q", line)
		h[k] = v
	}
	require.NoError(tb, sc.Err())
	require.NotEmpty(tb, h["X-PagerDuty-Signature"])
	return h
}

// sign returns an X-PagerDuty-Signature value for body, one v1= per secret.
func sign(body []byte, secrets ...string) string {
	var sigs []string
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write(body)
		sigs = append(sigs, "v1="+hex.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, ",")
}

// sampleDoc returns a sample as a generic JSON document to be edited.
func sampleDoc(tb testing.TB, name string) map[string]any {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, json.Unmarshal(readSample(tb, name), &doc))
	return doc
}

// eventOf returns doc["event"].
func eventOf(doc map[string]any) map[string]any { return doc["event"].(map[string]any) }

// dataOf returns doc["event"]["data"].
func dataOf(doc map[string]any) map[string]any { return eventOf(doc)["data"].(map[string]any) }

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

// testConfig maps PagerDuty service PCHKOUT to our service checkout.
func testConfig(secrets ...string) *config.Config {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {CustomerFacing: true, Tier: 1, PagerDutyServiceIDs: []string{"PCHKOUT"}},
		"payments": {Tier: 1, PagerDutyServiceIDs: []string{"PPAYMNT"}},
	}
	for _, s := range secrets {
		cfg.PagerDuty.WebhookSecrets = append(cfg.PagerDuty.WebhookSecrets, commoncfg.Secret(s))
	}
	return cfg
}

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// byKind indexes events by kind; each kind must occur once.
func byKind(tb testing.TB, evs []collector.Event) map[string]collector.Event {
	tb.Helper()
	m := map[string]collector.Event{}
	for _, e := range evs {
		_, dup := m[e.Kind]
		require.False(tb, dup, "two events of kind %s", e.Kind)
		m[e.Kind] = e
	}
	return m
}
