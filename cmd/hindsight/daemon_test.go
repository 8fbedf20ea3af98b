package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
)

// TestIdempotentRedelivery posts each notification of an alert group's
// life five times, as Alertmanager re-sends a group, partly concurrently:
// each alert state is stored and shown once.
func TestIdempotentRedelivery(t *testing.T) {
	d := startInProcess(t, t.TempDir(), "correlation:\n  resolve_after: 1s\n")
	firing := readTestdata(t, "alertmanager_webhook_firing.json")
	partial := readTestdata(t, "alertmanager_webhook_partial.json")
	resolved := readTestdata(t, "alertmanager_webhook_resolved.json")

	for range 5 {
		postWebhook(t, d, firing)
	}
	// The same notification from several senders at once (an HA pair of
	// Alertmanagers, a retry racing the original).
	for _, body := range [][]byte{partial, resolved} {
		var wg sync.WaitGroup
		codes := make([]int, 5)
		bodies := make([][]byte, 5)
		for i := range 5 {
			wg.Go(func() {
				codes[i], bodies[i], _ = tryPostJSON(t.Context(), d.URL+"/api/v1/ingest/alertmanager", body)
			})
		}
		wg.Wait()
		for i := range 5 {
			require.Equal(t, http.StatusOK, codes[i], "concurrent post %d: %s", i, bodies[i])
		}
	}
	postWebhook(t, d, firing) // a late repeat of the first notification

	const fpA, fpB = "d22af6f0ad867df4", "463275d6c2eb39fd"
	start := "2026-11-20T14:02:11Z"
	want := []stateKey{
		{fpA, start, "alert.firing"}, {fpB, start, "alert.firing"},
		{fpA, start, "alert.resolved"}, {fpB, start, "alert.resolved"},
	}

	incs := listIncidents(t, d.URL)
	require.Len(t, incs, 1, "one group of one service is one incident")
	inc := getIncident(t, d.URL, incs[0].ID)
	var got []stateKey
	ids := map[string]bool{}
	for _, e := range inc.Timeline {
		require.False(t, ids[e.ID], "entry %s twice in the timeline", e.ID)
		ids[e.ID] = true
		got = append(got, keyOf(e.Ref, e.Kind))
	}
	require.ElementsMatch(t, want, got, "one timeline entry per alert state")
	require.Equal(t, []string{"checkout"}, inc.Services)
	require.Equal(t, "resolved", inc.Status, "both alerts resolved two days ago; resolve_after is 1s")

	events := listEvents(t, d.URL)
	got = got[:0]
	for _, ev := range events {
		got = append(got, keyOf(ev.Ref, ev.Kind))
		require.NotNil(t, ev.IncidentID, "event %s", ev.ID)
		require.Equal(t, inc.ID, *ev.IncidentID, "event %s", ev.ID)
	}
	require.ElementsMatch(t, want, got, "one event per alert state")
}

// resolvedPair builds the firing and the resolved notification of one
// alert.
func resolvedPair(service, name, instance string, start, end time.Time) (firing, resolved []byte) {
	labels := map[string]string{"alertname": name, "service": service, "instance": instance, "severity": "critical", "cluster": "eu-1"}
	a := whAlert{
		Status:       "firing",
		Labels:       labels,
		Annotations:  map[string]string{"summary": name + " on " + service, "runbook_url": "https://runbooks.example.internal/" + name},
		StartsAt:     start,
		GeneratorURL: "http://prometheus.example.internal:9090/graph",
		Fingerprint:  fingerprintOf(labels),
	}
	f := newWebhook(name, service, []whAlert{a}).request().Body
	a.Status, a.EndsAt = "resolved", end
	r := newWebhook(name, service, []whAlert{a}).request().Body
	return f, r
}

// canonicalJSON re-marshals a JSON document so that two answers can be
// compared byte for byte regardless of key order and spacing.
func canonicalJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "%s", b)
	out, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	return out
}

// TestCleanShutdownAndRestart stops the daemon with SIGTERM, which must
// exit 0, and restarts it on the same storage: the incidents read the
// same, byte for byte.
func TestCleanShutdownAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := "correlation:\n  window: 10m\n  resolve_after: 1s\n  reopen_within: 15m\n"
	d := startInProcess(t, dir, cfg)

	// Every incident resolved (in the past), so that nothing in the
	// answer moves with the wall clock.
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Minute)
	type alert struct {
		service, name, instance string
		start, end              time.Duration
	}
	for _, a := range []alert{
		{"checkout", "HighErrorRate", "a", 0, 20 * time.Minute},
		{"checkout", "HighErrorRate", "b", 2 * time.Minute, 25 * time.Minute},
		{"checkout", "HighLatency", "a", 5 * time.Minute, 8 * time.Minute},
		{"payments", "HighErrorRate", "a", 3 * time.Minute, 30 * time.Minute},
		{"checkout", "HighErrorRate", "a", 3 * time.Hour, 3*time.Hour + 10*time.Minute},
		{"payments", "DiskFull", "x", 6 * time.Hour, 7 * time.Hour},
	} {
		f, r := resolvedPair(a.service, a.name, a.instance, base.Add(a.start), base.Add(a.end))
		postWebhook(t, d, f)
		postWebhook(t, d, r)
	}
	incs := listIncidents(t, d.URL)
	require.GreaterOrEqual(t, len(incs), 3)
	for _, inc := range incs {
		require.Equal(t, "resolved", inc.Status, "incident %s", inc.ID)
	}
	code, before := getBody(t, d.URL+"/api/v1/incidents")
	require.Equal(t, http.StatusOK, code)
	details := map[string][]byte{}
	for _, inc := range incs {
		code, b := getBody(t, d.URL+"/api/v1/incidents/"+inc.ID)
		require.Equal(t, http.StatusOK, code)
		details[inc.ID] = canonicalJSON(t, b)
	}
	code, eventsBefore := getBody(t, d.URL+"/api/v1/events")
	require.Equal(t, http.StatusOK, code)

	stopBegan := time.Now()
	d.Stop()
	t.Logf("clean shutdown took %s", time.Since(stopBegan).Round(time.Millisecond))

	d2 := startInProcess(t, dir, cfg)
	code, after := getBody(t, d2.URL+"/api/v1/incidents")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, string(canonicalJSON(t, before)), string(canonicalJSON(t, after)), "GET /api/v1/incidents before and after the restart")
	for id, want := range details {
		code, b := getBody(t, d2.URL+"/api/v1/incidents/"+id)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, string(want), string(canonicalJSON(t, b)), "GET /api/v1/incidents/%s before and after the restart", id)
	}
	code, eventsAfter := getBody(t, d2.URL+"/api/v1/events")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, string(canonicalJSON(t, eventsBefore)), string(canonicalJSON(t, eventsAfter)), "GET /api/v1/events before and after the restart")
	d2.Stop()
}

// TestReload checks that a bad configuration is refused on reload, by
// HTTP and by the SIGHUP channel, and the running one kept; a good one is
// taken; a change of a key fixed at start is refused naming the key; a
// malformed file's secret is in no answer and no log line; reloads from
// both doors at once are served one after the other.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	hup := make(chan struct{}, 1)
	d := startInProcess(t, dir, "correlation:\n  resolve_after: 1s\n", func(o *daemon.Options) { o.Reload = hup })
	const ok, hash = "hindsight_config_last_reload_successful", "hindsight_config_hash"
	metric := func(name string) float64 {
		t.Helper()
		v, found := metricValue(t, d.URL, name)
		require.True(t, found, "metric %s not exposed", name)
		return v
	}
	waitMetric := func(name string, want float64) {
		t.Helper()
		eventually(t, pollTimeout, fmt.Sprintf("%s == %v", name, want), func() error {
			if v, _ := metricValue(t, d.URL, name); v != want {
				return fmt.Errorf("%s is %v", name, v)
			}
			return nil
		})
	}
	reloadError := func(wantIn string) string {
		t.Helper()
		code, body := postJSON(t, d.URL+"/-/reload", nil)
		require.Equal(t, http.StatusBadRequest, code, "%s", body)
		var e struct {
			Error string `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &e), "%s", body)
		require.Contains(t, e.Error, wantIn)
		require.Contains(t, e.Error, "running configuration kept")
		return e.Error
	}
	require.Equal(t, 1.0, metric(ok))
	h0 := metric(hash)

	// A bad file through POST /-/reload.
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation:\n  resolve_after: 1s\n  windwo: 5m\n"), 0o644))
	reloadError(`unknown key "windwo"`)
	require.Equal(t, 0.0, metric(ok))
	require.Equal(t, h0, metric(hash), "the running configuration is kept")
	code, _ := getBody(t, d.URL+"/-/ready")
	require.Equal(t, http.StatusOK, code)
	postWebhook(t, d, readTestdata(t, "alertmanager_webhook_firing.json"))
	require.Len(t, listIncidents(t, d.URL), 1, "the daemon still ingests and serves")

	// A key fixed at start: refused, naming it.
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation:\n  resolve_after: 1s\nnats:\n  deploy_subject: ci.deploys.>\n"), 0o644))
	msg := reloadError("nats.deploy_subject cannot change while Hindsight runs")
	require.NotContains(t, msg, "nats.stream", "only the key that changed is named")
	require.Equal(t, h0, metric(hash))
	require.Equal(t, "deploys.>", d.inproc.Config().NATS.DeploySubject)

	// A malformed file holding secrets: named by key, never quoted.
	const secret = "Tok3n-never-to-be-seen"
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("api:\n  tokens: ["+secret+"]\n  ingest_tokens:\n    - {name: am, "+secret+"-2}\n"), 0o644))
	msg = reloadError("api.tokens[0]")
	require.NotContains(t, msg, secret[:8])
	require.NotContains(t, d.Log(), secret[:8], "no secret in the log")

	// A good file through the SIGHUP channel.
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation:\n  resolve_after: 2s\n"), 0o644))
	hup <- struct{}{}
	waitMetric(ok, 1)
	require.NotEqual(t, h0, metric(hash), "the new configuration is loaded")
	h1 := metric(hash)

	// A bad file through the SIGHUP channel: refused, the daemon lives on.
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation: [\n"), 0o644))
	hup <- struct{}{}
	waitMetric(ok, 0)
	require.Equal(t, h1, metric(hash))
	require.False(t, d.Exited(), "a bad configuration on SIGHUP must not stop the daemon")

	// Both doors at once, many times: each reload runs alone (the race
	// detector watches), and every one succeeds.
	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation:\n  resolve_after: 3s\n"), 0o644))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range 8 {
		wg.Go(func() {
			code, body, err := tryPostJSON(context.Background(), d.URL+"/-/reload", nil)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("%d %s", code, body)
			}
			errs[i] = err
		})
		wg.Go(func() {
			select {
			case hup <- struct{}{}:
			default:
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, 1.0, metric(ok))
	require.NotEqual(t, h1, metric(hash))
	d.Stop()
}
