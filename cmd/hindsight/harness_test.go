package main

// The shared harness of the daemon's tests. Most tests run the daemon in
// the test's process with startInProcess (cmd/internal/daemon, through
// daemontest). Tests that kill the process or send it signals need the
// binary: TestMain builds it once, and startDaemon starts it with a free
// port, its own log file (printed when the test fails) and a storage
// path under the test's directory, so a restart on the same directory
// finds the same data.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
)

const (
	// readyTimeout bounds how long a daemon may take to report ready,
	// recovery of a killed store included.
	readyTimeout = 20 * time.Second
	// stopTimeout bounds a clean shutdown after SIGTERM.
	stopTimeout = 30 * time.Second
	// pollTimeout bounds waiting for an asynchronous effect (an
	// Alertmanager notification, a resolution on the wall clock).
	pollTimeout = 60 * time.Second
)

var (
	// daemonBin is the daemon built by TestMain; empty in -short runs.
	daemonBin string
	// buildErr is why the build failed, reported by the tests that need
	// the binary rather than by TestMain, so in-process tests still run.
	buildErr error

	httpClient = &http.Client{Timeout: 30 * time.Second}
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "hindsight-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "hindsight")
		args := []string{"build", "-o", bin}
		// HINDSIGHT_DAEMON_RACE=1 builds the daemon with the race detector
		// too: slower, but it checks the daemon under the crash test's load.
		if os.Getenv("HINDSIGHT_DAEMON_RACE") == "1" {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build of the daemon failed: %w\n%s", err, out)
		} else {
			daemonBin = bin
		}
	}
	return m.Run()
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// needBinary skips in -short runs and fails when the build failed.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("subprocess test; skipped with -short")
	}
	require.NoError(t, buildErr)
	require.NotEmpty(t, daemonBin, "the daemon binary was not built")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemonProc is a running daemon: a hindsight subprocess, or one in the
// test's process (inproc set), which cannot be killed or signalled.
type daemonProc struct {
	t          *testing.T
	URL        string
	Addr       string
	Dir        string
	Storage    string
	ConfigFile string
	LogFile    string

	inproc  *daemontest.Daemon
	cmd     *exec.Cmd
	logf    *os.File
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// skipShort skips tests that take long or start external programs.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
}

// startInProcess runs the daemon in the test's process with its storage
// in dir/data and, when cfgYAML is not empty, the configuration in
// dir/hindsight.yml; it returns once the daemon is ready. mods change its
// options (the flags).
func startInProcess(t *testing.T, dir, cfgYAML string, mods ...func(*daemon.Options)) *daemonProc {
	t.Helper()
	d := daemontest.Start(t, dir, cfgYAML, mods...)
	return &daemonProc{t: t, URL: d.URL, Addr: d.Addr(), Dir: dir, Storage: d.Storage, ConfigFile: d.ConfigFile, inproc: d}
}

var logSeq struct {
	sync.Mutex
	n int
}

// startDaemon runs the daemon on a free port of 127.0.0.1 with its storage
// in dir/data and, when cfgYAML is not empty, the configuration written to
// dir/hindsight.yml. It returns once /-/ready answers 200. Calling it again
// with the same dir restarts on the same storage.
func startDaemon(t *testing.T, dir, cfgYAML string, extraArgs ...string) *daemonProc {
	t.Helper()
	return startDaemonProbe(t, "/-/ready", dir, cfgYAML, extraArgs...)
}

// startDaemonProbe is startDaemon returning once probe answers 200: a
// daemon that is up but not ready (a full disk) answers /-/healthy only.
func startDaemonProbe(t *testing.T, probe, dir, cfgYAML string, extraArgs ...string) *daemonProc {
	t.Helper()
	needBinary(t)
	var lastErr error
	// A port found free can be taken before the daemon binds it; try a few.
	for range 3 {
		d, err := tryStartDaemon(t, probe, dir, cfgYAML, extraArgs)
		if err == nil {
			return d
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	require.NoError(t, lastErr)
	return nil
}

func tryStartDaemon(t *testing.T, probe, dir, cfgYAML string, extraArgs []string) (*daemonProc, error) {
	t.Helper()
	d := &daemonProc{t: t, Dir: dir, Storage: filepath.Join(dir, "data"), done: make(chan struct{})}
	d.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	d.URL = "http://" + d.Addr
	// Each daemon gets its own embedded NATS port: tests run several.
	natsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	args := []string{"--web.listen-address=" + d.Addr, "--storage.path=" + d.Storage, "--log.level=debug",
		"--nats.listen-address=" + natsAddr}
	if cfgYAML != "" {
		d.ConfigFile = filepath.Join(dir, "hindsight.yml")
		require.NoError(t, os.WriteFile(d.ConfigFile, []byte(cfgYAML), 0o644))
		args = append(args, "--config.file="+d.ConfigFile)
	}
	args = append(args, extraArgs...)

	logSeq.Lock()
	logSeq.n++
	n := logSeq.n
	logSeq.Unlock()
	d.LogFile = filepath.Join(dir, fmt.Sprintf("hindsight-%d.log", n))
	f, err := os.Create(d.LogFile)
	require.NoError(t, err)
	d.logf = f
	d.cmd = exec.Command(daemonBin, args...)
	d.cmd.Dir = dir
	d.cmd.Stdout = f
	d.cmd.Stderr = f
	require.NoError(t, d.cmd.Start())
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.Kill()
		// A daemon built with HINDSIGHT_DAEMON_RACE=1 reports races in its
		// log; a panic anywhere is a bug too.
		if log := d.Log(); strings.Contains(log, "WARNING: DATA RACE") || strings.Contains(log, "\npanic: ") {
			t.Errorf("daemon %s reported a data race or a panic (log %s)", d.Addr, d.LogFile)
		}
		if t.Failed() {
			t.Logf("daemon %s (%s) log:\n%s", d.Addr, d.LogFile, d.Log())
		}
		_ = d.logf.Close()
	})

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-d.done:
			log := d.Log()
			return nil, fmt.Errorf("daemon exited before it was ready (%v); args %q; log:\n%s", d.waitErr, args, log)
		default:
		}
		resp, err := httpClient.Get(d.URL + probe)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.Kill()
			return nil, fmt.Errorf("daemon not answering %s within %s (last: %v); log:\n%s", probe, readyTimeout, err, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log returns what the daemon wrote so far.
func (d *daemonProc) Log() string {
	if d.inproc != nil {
		return d.inproc.Log()
	}
	b, err := os.ReadFile(d.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", d.LogFile, err)
	}
	return string(b)
}

// Exited reports whether the process is gone.
func (d *daemonProc) Exited() bool {
	var done <-chan struct{} = d.done
	if d.inproc != nil {
		done = d.inproc.Done()
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (d *daemonProc) Kill() {
	require.Nil(d.t, d.inproc, "a daemon in the test's process cannot be killed")
	d.once.Do(func() {
		if !d.Exited() {
			_ = d.cmd.Process.Signal(syscall.SIGKILL)
		}
	})
	<-d.done
}

// Signal sends sig to the daemon.
func (d *daemonProc) Signal(sig os.Signal) {
	d.t.Helper()
	require.Nil(d.t, d.inproc, "a daemon in the test's process takes no signals")
	require.NoError(d.t, d.cmd.Process.Signal(sig))
}

// Stop sends SIGTERM (cancels an in-process daemon) and requires a clean
// exit with status 0 (Run returning nil).
func (d *daemonProc) Stop() {
	d.t.Helper()
	if d.inproc != nil {
		d.inproc.Stop()
		return
	}
	var stopped bool
	d.once.Do(func() {
		stopped = true
		require.NoError(d.t, d.cmd.Process.Signal(syscall.SIGTERM))
	})
	require.True(d.t, stopped, "Stop after Kill or Stop")
	select {
	case <-d.done:
	case <-time.After(stopTimeout):
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
		require.FailNow(d.t, "daemon did not exit within "+stopTimeout.String()+" of SIGTERM")
	}
	require.NoError(d.t, d.waitErr, "daemon should exit 0 on SIGTERM")
	require.Equal(d.t, 0, d.cmd.ProcessState.ExitCode())
}

// ---- JSON shapes of the API (the fields the tests read) ----

type apiRef struct {
	Fingerprint         string     `json:"fingerprint"`
	StartsAt            *time.Time `json:"starts_at"`
	PagerDutyIncidentID string     `json:"pagerduty_incident_id"`
	PagerDutyEventID    string     `json:"pagerduty_event_id"`
	DeployID            string     `json:"deploy_id"`
}

type apiEntry struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Source  string    `json:"source"`
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
	Service string    `json:"service"`
	Ref     apiRef    `json:"ref"`
	Reasons []string  `json:"reasons"`
}

type apiSeverity struct {
	Suggested string   `json:"suggested"`
	Effective string   `json:"effective"`
	Override  *string  `json:"override"`
	Reasons   []string `json:"reasons"`
}

type apiIncident struct {
	ID         string      `json:"id"`
	Title      string      `json:"title"`
	Status     string      `json:"status"`
	StartedAt  time.Time   `json:"started_at"`
	ResolvedAt *time.Time  `json:"resolved_at"`
	Services   []string    `json:"services"`
	Severity   apiSeverity `json:"severity"`
	Timeline   []apiEntry  `json:"timeline"`
}

type apiEvent struct {
	ID         string    `json:"id"`
	Seq        uint64    `json:"seq"`
	At         time.Time `json:"at"`
	Source     string    `json:"source"`
	Kind       string    `json:"kind"`
	Service    string    `json:"service"`
	Summary    string    `json:"summary"`
	Ref        apiRef    `json:"ref"`
	IncidentID *string   `json:"incident_id"`
}

// stateKey identifies an alert state as Alertmanager sends it:
// fingerprint, startsAt and status (as the event kind).
type stateKey struct {
	Fingerprint string
	StartsAt    string // RFC 3339 in UTC
	Kind        string
}

func keyOf(r apiRef, kind string) stateKey {
	k := stateKey{Fingerprint: r.Fingerprint, Kind: kind}
	if r.StartsAt != nil {
		k.StartsAt = r.StartsAt.UTC().Format(time.RFC3339Nano)
	}
	return k
}

// ---- HTTP helpers ----

// getBody GETs url and returns the status and body.
func getBody(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(u)
	require.NoError(t, err, "GET %s", u)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "GET %s: read body", u)
	return resp.StatusCode, b
}

// getJSON GETs url, requires 200 and decodes the body into v.
func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	code, b := getBody(t, u)
	require.Equal(t, http.StatusOK, code, "GET %s: %s", u, b)
	require.NoError(t, json.Unmarshal(b, v), "GET %s: %s", u, b)
}

// postJSON POSTs body as JSON and returns the status and response body.
func postJSON(t *testing.T, u string, body []byte) (int, []byte) {
	t.Helper()
	code, b, err := tryPostJSON(context.Background(), u, body)
	require.NoError(t, err, "POST %s", u)
	return code, b
}

func tryPostJSON(ctx context.Context, u string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postWebhook posts an Alertmanager notification and requires a 200.
func postWebhook(t *testing.T, d *daemonProc, body []byte) {
	t.Helper()
	code, b := postJSON(t, d.URL+"/api/v1/ingest/alertmanager", body)
	require.Equal(t, http.StatusOK, code, "POST webhook: %s", b)
}

// listIncidents returns every incident, following the pagination.
func listIncidents(t *testing.T, base string) []apiIncident {
	t.Helper()
	var all []apiIncident
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 10000, "incident pagination does not end")
		u := base + "/api/v1/incidents?limit=20"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var resp struct {
			Incidents []apiIncident `json:"incidents"`
			Next      string        `json:"next"`
		}
		getJSON(t, u, &resp)
		require.NotNil(t, resp.Incidents, "incidents must be a list, never null")
		for _, inc := range resp.Incidents {
			require.False(t, seen[inc.ID], "incident %s listed twice across pages", inc.ID)
			seen[inc.ID] = true
		}
		all = append(all, resp.Incidents...)
		if resp.Next == "" {
			return all
		}
		require.NotEqual(t, cursor, resp.Next, "the cursor does not advance")
		cursor = resp.Next
	}
}

// getIncident returns one incident with its timeline.
func getIncident(t *testing.T, base, id string) apiIncident {
	t.Helper()
	var inc apiIncident
	getJSON(t, base+"/api/v1/incidents/"+url.PathEscape(id), &inc)
	require.Equal(t, id, inc.ID)
	return inc
}

// listEvents returns every event of the log, following the pagination.
func listEvents(t *testing.T, base string) []apiEvent {
	t.Helper()
	var all []apiEvent
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 100000, "event pagination does not end")
		u := base + "/api/v1/events?limit=200"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var resp struct {
			Events []apiEvent `json:"events"`
			Next   string     `json:"next"`
		}
		getJSON(t, u, &resp)
		require.NotNil(t, resp.Events, "events must be a list, never null")
		all = append(all, resp.Events...)
		if resp.Next == "" {
			return all
		}
		require.NotEqual(t, cursor, resp.Next, "the cursor does not advance")
		cursor = resp.Next
	}
}

// metricValue returns the value of the sample whose name and labels are
// exactly series (as written in the text format, labels in the order the
// daemon writes them), and whether it was found.
func metricValue(t *testing.T, base, series string) (float64, bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, series+" ") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, series+" "))
		require.NotEmpty(t, fields, "metric line %q", line)
		v, err := strconv.ParseFloat(fields[0], 64)
		require.NoError(t, err, "metric line %q", line)
		return v, true
	}
	require.NoError(t, sc.Err())
	return 0, false
}

// eventually polls cond every interval until it returns nil or timeout
// passes, then fails with the last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := 50 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("timed out after %s waiting for %s: %v", timeout, what, err))
		}
		time.Sleep(interval)
		interval = min(interval*2, 500*time.Millisecond)
	}
}

// tryGetJSON is getJSON for use inside eventually: it returns errors
// instead of failing.
func tryGetJSON(u string, v any) error {
	resp, err := httpClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", u, err, b)
	}
	return nil
}

// readTestdata returns a file of testdata/.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}
