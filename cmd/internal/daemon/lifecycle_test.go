package daemon_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/collector/deploy"
)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestReadyNamesWhatIsNotReady starts the daemon against a NATS server
// that is not there: /-/ready answers 503 and says the deploy consumer is
// not connected, /-/healthy answers 200; once the server is up the
// consumer connects and the daemon is ready.
func TestReadyNamesWhatIsNotReady(t *testing.T) {
	addr := freeAddr(t)
	d, err := daemontest.Run(t, t.TempDir(), "", func(o *daemon.Options) { o.NATSURL = "nats://" + addr })
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		code, body := get(t, d.URL+"/-/ready")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "deploys: ") && !strings.Contains(body, "lifecycle: starting")
	}, 10*time.Second, 20*time.Millisecond)
	code, body := get(t, d.URL+"/-/ready")
	t.Logf("/-/ready: %d\n%s", code, body)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.True(t, strings.HasPrefix(body, "Hindsight is not ready.\n"), body)
	require.Contains(t, body, "deploys: ")
	require.Contains(t, body, addr, "the reason names the NATS server")
	require.NotContains(t, body, "projector:", "only what is not ready is listed")
	code, _ = get(t, d.URL+"/-/healthy")
	require.Equal(t, http.StatusOK, code, "healthy while the process serves")

	ns, err := deploy.StartEmbedded(addr, filepath.Join(t.TempDir(), "nats"), d.Options.Logger)
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.NoError(t, d.WaitReady(30*time.Second))
	code, body = get(t, d.URL+"/-/ready")
	require.Equal(t, http.StatusOK, code, body)
	d.Stop()
}

// TestFailingPartStopsTheDaemon adds a part that fails while the daemon
// serves: Run returns its error, naming it, after stopping every other
// part and closing the store (a new daemon opens the same storage).
func TestFailingPartStopsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		run  func(context.Context) error
		want string
	}{
		{"failing", func(ctx context.Context) error {
			select {
			case <-time.After(300 * time.Millisecond):
				return errors.New("disk on fire")
			case <-ctx.Done():
				return nil
			}
		}, "exporter: disk on fire"},
		{"returning", func(context.Context) error { return nil }, "exporter: stopped unexpectedly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := daemontest.New(t, dir, "")
			require.NoError(t, err)
			d.Go("exporter", tc.run)
			d.Serve()
			select {
			case <-d.Done():
			case <-time.After(daemontest.StopTimeout):
				require.FailNow(t, "the daemon did not stop after its part failed")
			}
			err = d.Wait()
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
			require.Contains(t, d.Log(), "Store closed")

			again := daemontest.Start(t, dir, "")
			again.Stop()
		})
	}
}
