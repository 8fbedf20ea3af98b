package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// generatedAt is the time a draft was rendered, in its status line.
var generatedAt = regexp.MustCompile(`not reviewed \([^)]*\)`)

func runMigrate(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"migrate-log"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// A single instance moves to replicas: stopped, its Badger log published
// into the stream by migrate-log at the same positions, it starts again
// as a replica on its own storage and answers what it did before; a new
// replica on empty storage answers the same, byte for byte; new events
// through either reach both. Run again, migrate-log has nothing to do;
// into a stream that holds other events it refuses.
func TestMigrateLogToStream(t *testing.T) {
	skipShort(t)
	dirA := t.TempDir()
	single := startInProcess(t, dirA, backupConfig)
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	load := backupLoad(t0, 40)
	sendAll(t, single.URL, load)
	var list struct{ Incidents []struct{ ID string } }
	getJSON(t, single.URL+"/api/v1/incidents", &list)
	code, body := postJSON(t, single.URL+"/api/v1/incidents/"+list.Incidents[0].ID+"/notes", []byte(`{"text":"rolled back by hand","author":"dana"}`))
	require.Equal(t, http.StatusCreated, code, "%s", body)
	time.Sleep(1500 * time.Millisecond) // resolve_after
	noStamp := func(s string) string { return generatedAt.ReplaceAllString(s, "not reviewed ()") }
	before := noStamp(incidentAnswers(t, single.URL))
	beforeEvents := eventsByPosition(t, single.URL)
	single.Stop()

	c := natstest.Start(t, 3)
	cfgFile := filepath.Join(t.TempDir(), "hindsight.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(replicasConfig), 0o600))
	storage := filepath.Join(dirA, "data")
	code, stdout, stderr := runMigrate(t, "--storage.path", storage, "--nats.url", c.URLs(), "--config.file", cfgFile)
	require.Equal(t, 0, code, "%s", stderr)
	n := len(load) + 1 // and the note
	require.Contains(t, stdout, fmt.Sprintf("Published %d events and 0 gap markers", n))
	require.Contains(t, stdout, fmt.Sprintf("positions 1 to %d", n))

	code, stdout, stderr = runMigrate(t, "--storage.path", storage, "--nats.url", c.URLs(), "--config.file", cfgFile)
	require.Equal(t, 0, code, "%s", stderr)
	require.Contains(t, stdout, "nothing to publish", "a second run resumes at the end")

	withNATS := func(o *daemon.Options) { o.NATSURL = c.URLs() }
	a := startInProcess(t, dirA, replicasConfig, withNATS)
	b := startInProcess(t, t.TempDir(), replicasConfig, withNATS)
	requireSameAnswers(t, a.URL, b.URL)
	// The single instance lists events by their time, replicas by
	// position: the same events, at the same positions.
	if got := noStamp(incidentAnswers(t, a.URL)); got != before {
		t.Fatalf("the former single instance does not answer what it did: %s", firstDifference(before, got))
	}
	require.Equal(t, beforeEvents, eventsByPosition(t, a.URL))

	for i := range 3 {
		for _, status := range []string{"firing", "resolved"} {
			postWebhook(t, []*daemonProc{a, b}[i%2], oneAlert(status, "ledger", fmt.Sprintf("after-%d", i), t0.Add(2*time.Hour)))
		}
	}
	time.Sleep(1500 * time.Millisecond)
	after := requireSameAnswers(t, a.URL, b.URL)
	require.NotEqual(t, before, noStamp(after))
	require.Len(t, eventsByPosition(t, a.URL), len(beforeEvents)+6)

	// Another instance's log into the same stream: refused.
	other := startInProcess(t, t.TempDir(), backupConfig)
	sendAll(t, other.URL, backupLoad(t0, 2))
	other.Stop()
	code, _, stderr = runMigrate(t, "--storage.path", other.Storage, "--nats.url", c.URLs(), "--config.file", cfgFile)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "past the log's end")
}
