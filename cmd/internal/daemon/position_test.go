package daemon_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// request sends a request with headers and returns the status, the
// Hindsight-Log-Position of the answer (0 if none) and the body.
func request(t *testing.T, method, u, body string, hdr ...string) (int, uint64, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var pos uint64
	if v := resp.Header.Get(daemon.HeaderLogPosition); v != "" {
		pos, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "%s: %q", daemon.HeaderLogPosition, v)
	}
	return resp.StatusCode, pos, string(b), resp.Header
}

// An intake answer says the log position of its events, a query the
// position it reflects at least; a query can ask for a position and
// waits for it, or is told that this daemon is not there yet.
func TestLogPositionHeaders(t *testing.T) {
	d := daemontest.Start(t, t.TempDir(), "correlation:\n  resolve_after: 1s\n")
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var last uint64
	for i := range 3 {
		code, pos, body, _ := request(t, http.MethodPost, d.URL+"/api/v1/ingest/alertmanager", webhook("firing", "checkout", fmt.Sprintf("i-%d", i), t0))
		require.Equal(t, http.StatusOK, code, body)
		require.Greater(t, pos, last, "each new event is at a later position")
		last = pos
	}
	code, pos, body, _ := request(t, http.MethodPost, d.URL+"/api/v1/ingest/alertmanager", webhook("firing", "checkout", "i-0", t0))
	require.Equal(t, http.StatusOK, code, body)
	require.LessOrEqual(t, pos, last, "a re-sent event takes no new position")

	code, pos, _, _ = request(t, http.MethodGet, d.URL+"/api/v1/incidents", "")
	require.Equal(t, http.StatusOK, code)
	require.GreaterOrEqual(t, pos, last)
	code, _, body, _ = request(t, http.MethodGet, d.URL+"/api/v1/incidents", "", daemon.HeaderMinLogPosition, strconv.FormatUint(last, 10))
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "checkout")

	// A change is an event too.
	id := body[strings.Index(body, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	code, pos, body, _ = request(t, http.MethodPost, d.URL+"/api/v1/incidents/"+id+"/notes", `{"text":"looked","author":"dana"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Greater(t, pos, last)

	code, _, body, _ = request(t, http.MethodGet, d.URL+"/api/v1/incidents", "", daemon.HeaderMinLogPosition, "soon")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "Hindsight-Min-Log-Position")

	start := time.Now()
	code, _, body, hdr := request(t, http.MethodGet, d.URL+"/api/v1/incidents", "", daemon.HeaderMinLogPosition, strconv.FormatUint(pos+1000, 10))
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.Equal(t, "1", hdr.Get("Retry-After"))
	require.Contains(t, body, fmt.Sprintf("applied the event log up to position %d, not yet the %d", pos, pos+1000))
	require.Less(t, time.Since(start), 20*time.Second, "the wait is bounded")

	code, pos, _, _ = request(t, http.MethodGet, d.URL+"/-/ready", "")
	require.Equal(t, http.StatusOK, code)
	require.Zero(t, pos, "ops endpoints carry no position")
}

// Read-your-writes across replicas: a write acknowledged by A, then a
// query to B that asks for A's position, sees the write, every time.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	c := natstest.Start(t, 3)
	withNATS := func(o *daemon.Options) { o.NATSURL = c.URLs() }
	a := daemontest.Start(t, t.TempDir(), replicatedConfig, withNATS)
	b := daemontest.Start(t, t.TempDir(), replicatedConfig, withNATS)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range 30 {
		writer, reader := a, b
		if i%2 == 1 {
			writer, reader = b, a
		}
		inst := fmt.Sprintf("ryw-%d", i)
		code, pos, body, _ := request(t, http.MethodPost, writer.URL+"/api/v1/ingest/alertmanager", webhook("firing", fmt.Sprintf("svc-%d", i%3), inst, t0.Add(time.Duration(i)*time.Minute)))
		require.Equal(t, http.StatusOK, code, body)
		code, got, body, _ := request(t, http.MethodGet, reader.URL+"/api/v1/events?limit=1000", "", daemon.HeaderMinLogPosition, strconv.FormatUint(pos, 10))
		require.Equal(t, http.StatusOK, code, body)
		require.GreaterOrEqual(t, got, pos)
		require.Contains(t, body, inst, "the other replica answers with the write it was asked to reflect")
	}
}
