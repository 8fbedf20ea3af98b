package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mountTmpfs mounts a tmpfs of size on dir for the test, or skips.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (mount -t tmpfs -o size=" + size + ")")
	}
	require.NoError(t, os.MkdirAll(dir, 0o750))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v: %s", dir, err, out)
	}
	// Registered after the temporary directory and before any daemon,
	// so it runs after the daemons are gone and before the directory is
	// removed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// growTmpfs grows the tmpfs on dir to size, as an operator grows a volume.
func growTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	out, err := exec.Command("mount", "-o", "remount,size="+size, dir).CombinedOutput()
	require.NoError(t, err, "remount %s: %s", dir, out)
}

// availBytes is the space left on the filesystem of dir.
func availBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return int64(st.Bavail) * st.Bsize
}

// fillDisk writes path until the filesystem is full, as another program
// filling the volume would.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the disk: %v", err)
			break
		}
	}
	// The last, partial blocks.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	require.Less(t, availBytes(t, filepath.Dir(path)), int64(64<<10), "the disk is full")
}

// stormSender sends unique notifications of a few firing alerts each, as
// an Alertmanager does, and remembers which alert states were
// acknowledged.
type stormSender struct {
	t      *testing.T
	n      int
	base   time.Time
	acked  map[stateKey]bool
	unsent []request // answered 503: Alertmanager sends them again
}

func (s *stormSender) next() request {
	s.n++
	svc := fmt.Sprintf("svc-%d", s.n%7)
	var alerts []whAlert
	for i := range 3 {
		labels := map[string]string{"alertname": "DiskFillTest", "service": svc, "cluster": "eu-" + svc,
			"instance": fmt.Sprintf("%s-%d-%d:8080", svc, s.n, i), "severity": "warning"}
		alerts = append(alerts, whAlert{
			Status: "firing", Labels: labels,
			Annotations:  map[string]string{"summary": "a notification of the disk-full test with some text to take room on the disk"},
			StartsAt:     s.base.Add(time.Duration(s.n) * time.Second),
			GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=up",
			Fingerprint:  fingerprintOf(labels),
		})
	}
	return newWebhook("DiskFillTest", svc, alerts).request()
}

// send posts r once and returns the status; a 503 must carry Retry-After
// and a plain reason.
func (s *stormSender) send(d *daemonProc, r request) int {
	s.t.Helper()
	code, body := postJSON(s.t, d.URL+"/api/v1/ingest/alertmanager", r.Body)
	switch code {
	case http.StatusOK:
		for _, k := range r.States {
			s.acked[k] = true
		}
	case http.StatusServiceUnavailable:
		s.unsent = append(s.unsent, r)
		require.Equal(s.t, `{"error":"the event store cannot accept writes right now: the disk is nearly full"}`,
			strings.TrimSpace(string(body)), "a 503 says why in plain words")
	default:
		require.FailNow(s.t, fmt.Sprintf("POST: %d %s", code, body))
	}
	return code
}

// untilRefused sends new notifications until the daemon refuses one.
func (s *stormSender) untilRefused(d *daemonProc) {
	s.t.Helper()
	for i := 0; ; i++ {
		require.Less(s.t, i, 20000, "the daemon never refused: is the disk that large?")
		if s.send(d, s.next()) == http.StatusServiceUnavailable {
			return
		}
	}
}

// checkRefusing requires what a full disk looks like from outside: the
// daemon is alive and healthy, not ready, says why, answers 503 with
// Retry-After, and serves what it stored.
func (s *stormSender) checkRefusing(d *daemonProc) {
	t := s.t
	t.Helper()
	require.False(t, d.Exited(), "the daemon is running")
	code, body := getBody(t, d.URL+"/-/healthy")
	require.Equal(t, http.StatusOK, code, "healthy: the process is fine")
	code, body = getBody(t, d.URL+"/-/ready")
	require.Equal(t, http.StatusServiceUnavailable, code, "not ready: it cannot take events")
	require.Contains(t, string(body), "the event store cannot accept writes")
	require.Contains(t, string(body), "free on the filesystem of "+d.Storage)
	require.Contains(t, string(body), "--storage.min-free-space")
	req, err := http.NewRequest(http.MethodPost, d.URL+"/api/v1/ingest/alertmanager", strings.NewReader(string(s.next().Body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is delay-seconds")
	require.Positive(t, secs)
	s.checkStored(d)
}

// checkStored requires every acknowledged alert state in the event log
// exactly once.
func (s *stormSender) checkStored(d *daemonProc) {
	t := s.t
	t.Helper()
	seen := map[stateKey]int{}
	for _, ev := range listEvents(t, d.URL) {
		seen[keyOf(ev.Ref, ev.Kind)]++
	}
	for k := range s.acked {
		require.Equal(t, 1, seen[k], "acknowledged state %v stored exactly once", k)
	}
	for k, n := range seen {
		require.Equal(t, 1, n, "state %v stored once", k)
	}
}

func checkNoCrash(t *testing.T, d *daemonProc) {
	t.Helper()
	log := d.Log()
	for _, bad := range []string{"SIGBUS", "fatal error", "unexpected fault address", "\npanic: "} {
		require.NotContains(t, log, bad, "the daemon crashed (log %s)", d.LogFile)
	}
}

// TestDiskFull: on a small filesystem, a daemon filling it refuses events
// with 503 and Retry-After before the disk is full (Badger writes through
// mmap: a full disk is a SIGBUS), stays healthy, says in /-/ready why it
// is not ready, restarts and serves reads on the full disk, survives
// something else taking the last byte, and takes events again once there
// is room, with every acknowledged event there exactly once.
func TestDiskFull(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "data")
	mountTmpfs(t, storage, "40m")
	args := []string{"--storage.min-free-space=4MiB"}
	s := &stormSender{t: t, base: time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour), acked: map[stateKey]bool{}}

	// The daemon fills the disk itself, up to what it keeps free.
	d := startDaemon(t, dir, "", args...)
	s.untilRefused(d)
	require.Greater(t, len(s.acked), 1000, "a 40 MiB disk holds more than this before the store stops")
	t.Logf("refused after %d acknowledged alert states; %d KiB left free", len(s.acked), availBytes(t, storage)>>10)
	s.checkRefusing(d)
	d.Stop()
	checkNoCrash(t, d)

	// It starts again on that disk and serves what it has (and takes what
	// the space freed by the shutdown's flush allows).
	d = startDaemonProbe(t, "/-/healthy", dir, "", args...)
	s.untilRefused(d)
	s.checkRefusing(d)

	// Something else takes the last byte while it runs: it gives up its
	// reserve so it can still flush and stop cleanly.
	fillDisk(t, filepath.Join(storage, "other-program.log"))
	eventually(t, 10*time.Second, "the reserve file released", func() error {
		if _, err := os.Stat(filepath.Join(storage, "SPACE_RESERVE")); err == nil {
			return errors.New("SPACE_RESERVE still there")
		}
		return nil
	})
	s.checkRefusing(d)
	d.Stop()
	checkNoCrash(t, d)

	// Space returns (the other program's file is deleted, the volume
	// grown): events are taken again, and the reserve is made again.
	require.NoError(t, os.Remove(filepath.Join(storage, "other-program.log")))
	growTmpfs(t, storage, "64m")
	d = startDaemonProbe(t, "/-/healthy", dir, "", args...)
	s.resend(d)
	eventually(t, 10*time.Second, "the reserve file made again", func() error {
		_, err := os.Stat(filepath.Join(storage, "SPACE_RESERVE"))
		return err
	})
	s.untilRefused(d)
	d.Stop()
	checkNoCrash(t, d)

	// The disk fills up to the last byte while the daemon is stopped: it
	// starts on it anyway (on its reserve) and serves reads.
	fillDisk(t, filepath.Join(storage, "other-program.log"))
	d = startDaemonProbe(t, "/-/healthy", dir, "", args...)
	s.checkRefusing(d)

	// Room again, without a restart: it takes events, reports ready, and
	// every refused notification goes in when sent again.
	require.NoError(t, os.Remove(filepath.Join(storage, "other-program.log")))
	growTmpfs(t, storage, "96m")
	eventually(t, 20*time.Second, "ready again", func() error {
		code, body, err := tryGet(d.URL + "/-/ready")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})
	s.resend(d)
	for range 50 {
		require.Equal(t, http.StatusOK, s.send(d, s.next()))
	}
	s.checkStored(d)
	d.Stop()
	checkNoCrash(t, d)
}

// resend sends the refused notifications again until each is taken, as
// Alertmanager retries a 5xx.
func (s *stormSender) resend(d *daemonProc) {
	s.t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for len(s.unsent) > 0 {
		r := s.unsent[0]
		s.unsent = s.unsent[1:]
		if s.send(d, r) == http.StatusOK {
			continue
		}
		require.True(s.t, time.Now().Before(deadline), "refused notifications not taken again in time")
		time.Sleep(200 * time.Millisecond)
	}
}

func tryGet(u string) (int, string, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
