package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
)

// TestAgainstDaemon runs hindsightctl against a real daemon started in
// the test's process.
func TestAgainstDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon")
	}
	base := daemontest.Start(t, t.TempDir(), "").URL

	body, err := os.ReadFile("../hindsight/testdata/alertmanager_webhook_firing.json")
	require.NoError(t, err)
	resp, err := http.Post(base+"/api/v1/ingest/alertmanager", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(t.Context(), append([]string{"--url", base}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := run("list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "checkout: HighErrorRate")
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	require.True(t, strings.HasPrefix(id, "inc-"))

	code, out, _ = run("show", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"fingerprint": "d22af6f0ad867df4"`)

	code, out, _ = run("export", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, "## Five whys")

	code, out, _ = run("events", "--source", "alertmanager")
	require.Equal(t, 0, code)
	require.Contains(t, out, id)

	code, _, errOut := run("backfill", "pagerduty", "--since", "24h")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "pagerduty.api_token_file is not set")

	code, out, _ = run("note", id, "--author", "dana", "rolled", "back")
	require.Equal(t, 0, code, out)
	code, out, _ = run("severity", id, "SEV1", "--author", "dana")
	require.Equal(t, 0, code, out)
	code, out, _ = run("recorrelate")
	require.Equal(t, 0, code, out)
	code, out, _ = run("show", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"summary": "rolled back"`)
	require.Contains(t, out, `"effective": "SEV1"`)

	// A second, unrelated incident, merged into the first and split off again.
	other := strings.NewReplacer("checkout", "search", "d22af6f0ad867df4", "5e4c0ffee0ddba11", "463275d6c2eb39fd", "5e4c0ffee0ddba12").Replace(string(body))
	resp, err = http.Post(base+"/api/v1/ingest/alertmanager", "application/json", strings.NewReader(other))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, out, _ = run("list")
	require.Equal(t, 0, code)
	var second string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "search") {
			second = strings.Fields(l)[0]
		}
	}
	require.NotEmpty(t, second, out)
	code, out, errOut = run("merge", id, "--author", "dana", second)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "merged "+second+" into "+id+" (services: checkout, search)")
	code, out, _ = run("show", second)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"merged_into": "`+id+`"`)
	code, out, _ = run("show", id)
	require.Equal(t, 0, code)
	var merged struct {
		Timeline []struct{ ID, Service string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &merged))
	var entry string
	for _, e := range merged.Timeline {
		if e.Service == "search" {
			entry = e.ID
		}
	}
	code, out, errOut = run("split", id, "--author", "dana", entry)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "1 entries moved there from "+id)
	code, _, errOut = run("merge", id)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "give the incidents to merge")

	code, _, errOut = run("show", "inc-nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "404")

	code, _, errOut = run("frobnicate")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "unknown command")
}
