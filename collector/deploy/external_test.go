package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/collector/deploy"
)

// natsServer is an external nats-server process (Debian package
// nats-server) with JetStream on a store directory kept across restarts.
type natsServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func natsServerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nats-server is not installed (apt-get install nats-server)")
	}
	t.Skip("nats-server is not installed (apt-get install nats-server)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	s := &natsServer{bin: natsServerBinary(t), dir: t.TempDir(), port: freePort(t)}
	s.start(t)
	t.Cleanup(s.kill)
	return s
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

func (s *natsServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "-js", "-sd", s.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port))
	if os.Getenv("DEPLOY_TEST_LOG") != "" {
		s.cmd.Stderr = os.Stderr
	}
	require.NoError(t, s.cmd.Start())
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 100*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, 10*time.Second, 50*time.Millisecond, "nats-server listens")
}

// kill stops the process the hard way (kill -9).
func (s *natsServer) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func externalOptions(s *natsServer) deploy.ConsumerOptions {
	o := embeddedOptions(nil)
	o.Embedded = nil
	o.URL = s.url()
	return o
}

// A consumer that stops after the sink got a message but before the ack
// (the sink fails because it is cut off) leaves it on the stream: the next
// consumer with the same durable name gets it again.
func TestExternalRedeliveryAfterConsumerStop(t *testing.T) {
	s := startNATSServer(t)
	opts := externalOptions(s)

	received := make(chan collector.Event, 1)
	blocking := collector.SinkFunc(func(ctx context.Context, evs ...collector.Event) error {
		received <- evs[0]
		<-ctx.Done()
		return errors.New("cut off before the write landed")
	})
	first := startConsumer(t, opts, blocking)
	js := publisher(t, s.url())
	publish(t, js, "deploys.checkout", deployBody("d-crash", "succeeded"))
	var ev collector.Event
	select {
	case ev = <-received:
	case <-time.After(10 * time.Second):
		t.Fatal("the first consumer got nothing")
	}
	first.stop(t)
	require.Zero(t, first.count(deploy.ResultAcked))

	sink := &collectortest.Sink{}
	second := startConsumer(t, opts, sink)
	again := sink.Next(t, 15*time.Second)
	require.Equal(t, ev.ID, again.ID, "the same event arrives again; the store keeps it once")
	require.Eventually(t, func() bool { return second.count(deploy.ResultAcked) == 1 }, 5*time.Second, 20*time.Millisecond)
	second.stop(t)

	// Acked by the second consumer: a third one gets nothing.
	sink3 := &collectortest.Sink{}
	third := startConsumer(t, opts, sink3)
	sink3.None(t, 2500*time.Millisecond)
	third.stop(t)
}

// The consumer survives a restart of the server (same store, same port).
func TestExternalServerRestart(t *testing.T) {
	s := startNATSServer(t)
	opts := externalOptions(s)
	sink := &collectortest.Sink{}
	r := startConsumer(t, opts, sink)
	js := publisher(t, s.url())
	publish(t, js, "deploys.checkout", deployBody("d-before", "succeeded"))
	require.Equal(t, "d-before", sink.Next(t, 10*time.Second).Ref.DeployID)
	require.Eventually(t, func() bool { return r.count(deploy.ResultAcked) == 1 }, 5*time.Second, 20*time.Millisecond)

	s.kill()
	s.start(t)

	publish(t, js, "deploys.checkout", deployBody("d-after", "succeeded"))
	require.Equal(t, "d-after", sink.Next(t, 45*time.Second).Ref.DeployID)
	require.Eventually(t, func() bool { return r.count(deploy.ResultAcked) == 2 }, 5*time.Second, 20*time.Millisecond)
	r.stop(t)
}

// Without CreateStream a missing stream is waited for, not created.
func TestExternalStreamMustExist(t *testing.T) {
	s := startNATSServer(t)
	opts := externalOptions(s)
	opts.CreateStream = false
	sink := &collectortest.Sink{}
	r := startConsumer(t, opts, sink)
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc := publisherConn(t, s.url())
	_, err := nc.Stream(ctx, deploy.EmbeddedStream)
	require.Error(t, err, "the consumer did not create the stream")
	r.stop(t)
}
