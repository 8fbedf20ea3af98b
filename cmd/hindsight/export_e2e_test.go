package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestExportToDirectoryEndToEnd is the README's user story: configure a
// directory sink, resolve an incident, find the draft; review and
// publish it, find the published version beside it.
func TestExportToDirectoryEndToEnd(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cfg := `correlation:
  resolve_after: 1s
export:
  delay: 2s
  formats: [markdown, html]
  min_reviewers: 2
  sinks:
    - type: directory
      path: postmortems
`
	d := startDaemon(t, dir, cfg)
	start := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	f, r := resolvedPair("checkout", "HighErrorRate", "checkout-1:8080", start, start.Add(12*time.Minute))
	postWebhook(t, d, f)
	postWebhook(t, d, r)
	incs := listIncidents(t, d.URL)
	require.Len(t, incs, 1)
	id := incs[0].ID

	out := filepath.Join(dir, "postmortems")
	draft := filepath.Join(out, id+".v1.md")
	require.Eventually(t, func() bool { _, err := os.Stat(draft); return err == nil }, pollTimeout, 200*time.Millisecond,
		"the draft appears on its own after export.delay")
	md, err := os.ReadFile(draft)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(md), "# Post-mortem: checkout: HighErrorRate"), "%s", md)
	require.FileExists(t, filepath.Join(out, id+".v1.html"))

	var inc struct {
		Postmortem struct {
			Status  string `json:"status"`
			Exports []struct {
				Sink, Status string
				Version      int
			} `json:"exports"`
		} `json:"postmortem"`
	}
	getJSON(t, d.URL+"/api/v1/incidents/"+id, &inc)
	require.Equal(t, "draft", inc.Postmortem.Status)
	require.Len(t, inc.Postmortem.Exports, 1)
	require.Equal(t, "exported", inc.Postmortem.Exports[0].Status)
	require.Equal(t, "directory "+out, inc.Postmortem.Exports[0].Sink)

	pm := d.URL + "/api/v1/incidents/" + id + "/postmortem"
	for _, step := range []struct{ method, url, body string }{
		{"PATCH", pm, `{"author":"dana","status":"in_review"}`},
		{"POST", pm + "/reviews", `{"reviewer":"dana","approve":true}`},
		{"POST", pm + "/reviews", `{"reviewer":"priya","approve":true,"note":"clear"}`},
		{"POST", pm + "/publish", ``},
	} {
		req, err := http.NewRequestWithContext(t.Context(), step.method, step.url, strings.NewReader(step.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		var body json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s %s: %s", step.method, step.url, body)
	}
	published := filepath.Join(out, id+".v2.md")
	require.Eventually(t, func() bool { _, err := os.Stat(published); return err == nil }, pollTimeout, 200*time.Millisecond,
		"publishing exports the published version")
	md, err = os.ReadFile(published)
	require.NoError(t, err)
	require.Contains(t, string(md), "published")
	require.Contains(t, string(md), "dana and priya")

	// A restart exports nothing again.
	d.Stop()
	d = startDaemon(t, dir, cfg)
	time.Sleep(3 * time.Second)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, 4, "v1 and v2, markdown and html, once each")
	getJSON(t, d.URL+"/api/v1/incidents/"+id, &inc)
	require.Equal(t, "published", inc.Postmortem.Status)
}
