package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSignals drives the binary as an init system does: SIGHUP reloads
// the configuration; SIGTERM starts a clean shutdown, which waits for a
// request still being sent; a second SIGTERM exits at once with a
// non-zero status and says so.
func TestSignals(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	d := startDaemon(t, dir, "correlation:\n  resolve_after: 1s\n")
	const hash = "hindsight_config_hash"
	h0, found := metricValue(t, d.URL, hash)
	require.True(t, found)

	require.NoError(t, os.WriteFile(d.ConfigFile, []byte("correlation:\n  resolve_after: 2s\n"), 0o644))
	d.Signal(syscall.SIGHUP)
	eventually(t, pollTimeout, "the reloaded configuration", func() error {
		if h, _ := metricValue(t, d.URL, hash); h == h0 {
			return fmt.Errorf("%s still %v", hash, h)
		}
		return nil
	})

	// A request whose body never ends keeps the clean shutdown waiting
	// (up to its 15s drain timeout).
	conn, err := net.Dial("tcp", d.Addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /api/v1/ingest/alertmanager HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", d.Addr)
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)

	d.Signal(syscall.SIGTERM)
	eventually(t, pollTimeout, "the daemon to say it shuts down", func() error {
		if !strings.Contains(d.Log(), "shutting down cleanly") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	require.False(t, d.Exited(), "the clean shutdown waits for the request in flight")

	d.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "a second SIGTERM should exit at once")
	}
	require.Equal(t, 128+int(syscall.SIGTERM), d.cmd.ProcessState.ExitCode(), "log:\n%s", d.Log())
	require.Contains(t, d.Log(), "exited without a clean shutdown")
}

// TestFailingPartExits checks that a part that fails while the daemon
// runs stops it with its error and a non-zero exit, instead of leaving it
// up with a dead part: here the deploy consumer, whose TLS CA file does
// not exist.
func TestFailingPartExits(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hindsight.yml")
	require.NoError(t, os.WriteFile(cfg, []byte("nats:\n  tls_config: {ca_file: missing-ca.pem}\n"), 0o644))
	cmd := exec.Command(daemonBin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--nats.url=nats://127.0.0.1:1")
	out, err := runWithTimeout(cmd, stopTimeout)
	require.Error(t, err, "the daemon must exit non-zero; output:\n%s", out)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 1, ee.ExitCode(), "output:\n%s", out)
	last := lastLine(out)
	require.Contains(t, last, "deploy consumer")
	require.Contains(t, last, "nats.tls_config")
	require.Contains(t, last, "missing-ca.pem")
	require.Contains(t, out, "Store closed", "the daemon stops cleanly around the failure")
}

func runWithTimeout(cmd *exec.Cmd, timeout time.Duration) (string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("did not exit within %s", timeout)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
