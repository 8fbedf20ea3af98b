// Package daemontest starts a real Hindsight daemon in the test's own
// process: real Badger under the test's directory, the embedded NATS
// server and the HTTP listener on free ports of 127.0.0.1, its log kept
// and printed when the test fails. Tests of cmd/hindsight, hindsightctl
// and the daemon package use it; tests that must kill or signal a
// process start the binary instead.
package daemontest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
)

const (
	// ReadyTimeout bounds how long a daemon may take to become ready.
	ReadyTimeout = 20 * time.Second
	// StopTimeout bounds a clean shutdown.
	StopTimeout = 30 * time.Second
)

// Daemon is a daemon running in the test process.
type Daemon struct {
	*daemon.Daemon
	t testing.TB
	// URL is the base URL of the HTTP listener (http:// even when a web
	// configuration file turns TLS on; use Addr then).
	URL        string
	Dir        string
	Storage    string
	ConfigFile string
	// Options are the options the daemon was built with.
	Options daemon.Options

	cancel context.CancelFunc
	done   chan struct{}
	runErr error
	log    *syncBuffer
	once   sync.Once
}

// Start builds and runs a daemon with its storage in dir/data and, when
// cfgYAML is not empty, the configuration written to dir/hindsight.yml;
// mods change the options before New. It returns once every readiness
// check passes. Calling it again with the same dir (after Stop) restarts
// on the same storage.
func Start(t testing.TB, dir, cfgYAML string, mods ...func(*daemon.Options)) *Daemon {
	t.Helper()
	d, err := TryStart(t, dir, cfgYAML, mods...)
	require.NoError(t, err)
	return d
}

// TryStart is Start returning the error of New, or of a daemon that
// stopped or did not become ready, instead of failing the test.
func TryStart(t testing.TB, dir, cfgYAML string, mods ...func(*daemon.Options)) (*Daemon, error) {
	t.Helper()
	d, err := Run(t, dir, cfgYAML, mods...)
	if err != nil {
		return nil, err
	}
	return d, d.WaitReady(ReadyTimeout)
}

// Run builds and runs a daemon as Start does, but returns at once,
// without waiting for it to be ready.
func Run(t testing.TB, dir, cfgYAML string, mods ...func(*daemon.Options)) (*Daemon, error) {
	t.Helper()
	d, err := New(t, dir, cfgYAML, mods...)
	if err != nil {
		return nil, err
	}
	d.Serve()
	return d, nil
}

// New builds a daemon as Start does without running it, so that a test
// can add parts (Daemon.Go) and checks before Serve.
func New(t testing.TB, dir, cfgYAML string, mods ...func(*daemon.Options)) (*Daemon, error) {
	t.Helper()
	d := &Daemon{t: t, Dir: dir, Storage: filepath.Join(dir, "data"), done: make(chan struct{}), log: &syncBuffer{}}
	if cfgYAML != "" {
		d.ConfigFile = filepath.Join(dir, "hindsight.yml")
		require.NoError(t, os.WriteFile(d.ConfigFile, []byte(cfgYAML), 0o600))
	}
	d.Options = daemon.Options{
		ConfigFile:        d.ConfigFile,
		ListenAddress:     "127.0.0.1:0",
		StoragePath:       d.Storage,
		NATSListen:        "127.0.0.1:0",
		Logger:            slog.New(slog.NewTextHandler(d.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NATSCheckInterval: 200 * time.Millisecond,
	}
	for _, m := range mods {
		m(&d.Options)
	}
	dd, err := daemon.New(d.Options)
	if err != nil {
		return nil, err
	}
	d.Daemon = dd
	d.URL = "http://" + dd.Addr()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("daemon %s log:\n%s", d.URL, d.Log())
		}
	})
	return d, nil
}

// Serve runs the daemon built by New in the background; Stop or the end
// of the test stops it.
func (d *Daemon) Serve() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.done)
		d.runErr = d.Daemon.Run(ctx)
	}()
}

// WaitReady waits until every readiness check passes, and returns an
// error naming the checks that do not when within passes first, or when
// the daemon stops.
func (d *Daemon) WaitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		select {
		case <-d.done:
			return errors.Join(errors.New("daemon stopped before it was ready"), d.runErr)
		default:
		}
		fails := d.Ready.Check(context.Background())
		if len(fails) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("daemon not ready within " + within.String() + ": " + describe(fails))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(fs []daemon.Failure) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Check+": "+f.Reason)
	}
	return strings.Join(parts, "; ")
}

func (d *Daemon) stop() {
	d.once.Do(func() {
		if d.cancel == nil { // never served
			return
		}
		d.cancel()
		select {
		case <-d.done:
		case <-time.After(StopTimeout):
			d.t.Errorf("daemon %s did not stop within %s", d.URL, StopTimeout)
		}
	})
}

// Stop cancels the daemon's context and requires a clean stop: Run
// returns nil within StopTimeout.
func (d *Daemon) Stop() {
	d.t.Helper()
	d.stop()
	require.NoError(d.t, d.Wait())
}

// Wait blocks until Run returns and gives its error.
func (d *Daemon) Wait() error {
	<-d.done
	return d.runErr
}

// Done is closed when Run has returned.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Log returns what the daemon logged so far.
func (d *Daemon) Log() string { return d.log.String() }

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
