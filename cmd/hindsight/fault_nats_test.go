package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// natsProc is a real nats-server (the Debian package) with JetStream
// on disk, started and killed by the test.
type natsProc struct {
	t    *testing.T
	bin  string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	URL  string
}

// startNATSServer runs nats-server with JetStream under dir on a free
// port of 127.0.0.1 and waits until it takes connections.
func startNATSServer(t *testing.T, dir string) *natsProc {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed (make test-deps installs it)")
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	host, port, _ := net.SplitHostPort(addr)
	p := &natsProc{t: t, bin: bin, URL: "nats://" + addr, log: filepath.Join(dir, "nats-server.log"),
		args: []string{"-js", "-sd", filepath.Join(dir, "jetstream"), "-a", host, "-p", port}}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *natsProc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(p.t, err)
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	require.NoError(p.t, p.cmd.Start())
	p.done = make(chan struct{})
	go func() { _ = p.cmd.Wait(); f.Close(); close(p.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(p.URL, nats.NoReconnect(), nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.log)
			require.FailNow(p.t, "nats-server did not start", "%v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *natsProc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// TestFaultNATSServerKilled kills the NATS server (SIGKILL) under the
// daemon's JetStream deploy consumer three times while a publisher sends
// deploys, and restarts it on the same store. The daemon stays up,
// reports not ready while NATS is gone, reconnects by itself, and in the
// end holds every deploy JetStream acknowledged to the publisher, each
// exactly once.
func TestFaultNATSServerKilled(t *testing.T) {
	needBinary(t)
	const total = 300
	dir := t.TempDir()
	ns := startNATSServer(t, dir)

	// The operator's stream (the daemon does not create streams on an
	// external server).
	{
		nc, err := nats.Connect(ns.URL)
		require.NoError(t, err)
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "DEPLOYS", Subjects: []string{"deploys.>"}, Storage: jetstream.FileStorage})
		cancel()
		require.NoError(t, err)
		nc.Close()
	}
	d := startDaemon(t, dir, "nats:\n  stream: DEPLOYS\n", "--nats.url="+ns.URL)

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	services := []string{"checkout", "payments", "search"}
	msgs := make([]deployMsg, total)
	for i := range msgs {
		status := "started"
		if i%2 == 1 {
			status = "succeeded"
		}
		msgs[i] = deployMsg{ID: fmt.Sprintf("nats-kill-%03d", i/2), Service: services[(i/2)%len(services)], Status: status,
			At: base.Add(time.Duration(i) * time.Second).Format(time.RFC3339), Version: fmt.Sprintf("v1.%d.0", i/2)}
	}

	// An at-least-once publisher: each message until JetStream acks it,
	// through reconnects.
	nc, err := nats.Connect(ns.URL, nats.Name("fault-test-publisher"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		acked    int
		failures int
	)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		deadline := time.Now().Add(3 * time.Minute)
		for _, m := range msgs {
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := js.Publish(ctx, "deploys."+m.Service, m.json(t), jetstream.WithMsgID(m.msgID()))
				cancel()
				if err == nil {
					break
				}
				mu.Lock()
				failures++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			acked++
			mu.Unlock()
			time.Sleep(3 * time.Millisecond)
		}
	}()
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return acked }

	var outages []string
	for kill := range 3 {
		target := (kill + 1) * total / 4
		eventually(t, pollTimeout, fmt.Sprintf("%d deploys published", target), func() error {
			if n := ackedNow(); n < target {
				return fmt.Errorf("%d published", n)
			}
			return nil
		})
		ns.kill()
		down := time.Now()
		// The daemon stays up and says why it is not ready.
		eventually(t, pollTimeout, "not ready while NATS is gone", func() error {
			code, body, err := tryGet(d.URL + "/-/ready")
			if err != nil {
				return err
			}
			if code == 200 {
				return fmt.Errorf("ready: %s", body)
			}
			return nil
		})
		require.False(t, d.Exited(), "the daemon exited when NATS went away")
		time.Sleep(500 * time.Millisecond)
		ns.start()
		eventually(t, pollTimeout, "ready again after NATS is back", func() error {
			code, body, err := tryGet(d.URL + "/-/ready")
			if err != nil {
				return err
			}
			if code != 200 {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
		outages = append(outages, "ready again "+time.Since(down).Round(time.Millisecond).String()+" after the kill")
	}
	select {
	case <-pubDone:
	case <-time.After(3 * time.Minute):
		require.FailNow(t, "the publisher did not finish")
	}
	require.Equal(t, total, ackedNow(), "every deploy acknowledged by JetStream in the end")

	// Messages delivered but not acked when the server died are
	// redelivered after the consumer's AckWait (30s).
	var evs []apiEvent
	eventually(t, 2*pollTimeout, fmt.Sprintf("all %d deploys stored", total), func() error {
		var err error
		if evs, err = tryDeployEvents(d.URL); err != nil {
			return err
		}
		if len(evs) < total {
			return fmt.Errorf("%d of %d stored", len(evs), total)
		}
		return nil
	})
	counts := countDeploys(evs)
	for _, m := range msgs {
		k := deployKey{m.ID, "deploy." + m.Status}
		require.Equal(t, 1, counts[k], "deploy %v stored %d times", k, counts[k])
	}
	require.Len(t, evs, total, "the deploys, each once")
	v, found := metricValue(t, d.URL, `hindsight_collector_deploy_messages_total{result="terminated"}`)
	require.True(t, found)
	require.Zero(t, v, "no valid deploy may be terminated")
	mu.Lock()
	t.Logf("figures: NATS server killed 3 times; %d deploys acknowledged by JetStream, %d stored by Hindsight, each once, 0 lost; %d publish attempts failed while it was down; %v",
		acked, len(evs), failures, outages)
	mu.Unlock()
}
