package deploy_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("DEPLOY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startEmbedded(t *testing.T) *server.Server {
	t.Helper()
	ns, err := deploy.StartEmbedded("127.0.0.1:0", t.TempDir(), testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// running is a Consumer started by a test.
type running struct {
	c       *deploy.Consumer
	reg     *prometheus.Registry
	metrics *collector.Metrics
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned
	err     error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		require.NoError(t, r.err)
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer did not stop")
	}
}

func (r *running) count(result string) float64 {
	return testutil.ToFloat64(prometheusCounter(r.reg, result))
}

func prometheusCounter(reg *prometheus.Registry, result string) prometheus.Collector {
	return &gathered{reg: reg, result: result}
}

// gathered exposes one series of hindsight_collector_deploy_messages_total
// for testutil.ToFloat64.
type gathered struct {
	reg    *prometheus.Registry
	result string
}

func (g *gathered) Describe(ch chan<- *prometheus.Desc) {
	ch <- prometheus.NewDesc("x", "x", nil, nil)
}

func (g *gathered) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := g.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "hindsight_collector_deploy_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == g.result {
					ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				}
			}
		}
	}
}

func startConsumer(t *testing.T, opts deploy.ConsumerOptions, sink collector.Sink) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := collector.NewMetrics(reg, collector.SourceDeploy)
	c := deploy.NewConsumer(opts, sink, m, testLogger(t), reg)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, reg: reg, metrics: m, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = c.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
		}
	})
	return r
}

func embeddedOptions(ns *server.Server) deploy.ConsumerOptions {
	return deploy.ConsumerOptions{
		Embedded: ns,
		NATS: config.NATS{
			DeploySubject: "deploys.>",
			Stream:        deploy.EmbeddedStream,
			Consumer:      "hindsight",
			MaxDeliver:    5,
		},
		CreateStream:  true,
		AckWait:       time.Second,
		NakDelay:      100 * time.Millisecond,
		ReconnectWait: 100 * time.Millisecond,
	}
}

// publisherConn connects to url with JetStream.
func publisherConn(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.RetryOnFailedConnect(true))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// publisher connects to url and waits for the stream to exist.
func publisher(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	js := publisherConn(t, url)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.Stream(ctx, deploy.EmbeddedStream)
		return err == nil
	}, 15*time.Second, 50*time.Millisecond, "the consumer creates the stream")
	return js
}

func deployBody(id, status string) []byte {
	return fmt.Appendf(nil, `{"id": %q, "service": "checkout", "status": %q, "at": "2026-11-20T13:58:40Z", "version": "v1"}`, id, status)
}

func publish(t *testing.T, js jetstream.JetStream, subject string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := js.Publish(ctx, subject, body)
	require.NoError(t, err)
}

func TestStartEmbeddedBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, err = deploy.StartEmbedded(l.Addr().String(), t.TempDir(), testLogger(t))
	require.ErrorContains(t, err, l.Addr().String())
	_, err = deploy.StartEmbedded("nonsense", t.TempDir(), testLogger(t))
	require.ErrorContains(t, err, "nonsense")
}

func TestEmbeddedJetStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ns := startEmbedded(t)
	sink := &collectortest.Sink{}
	r := startConsumer(t, embeddedOptions(ns), sink)
	js := publisher(t, ns.ClientURL())

	for i := range 3 {
		publish(t, js, "deploys.checkout", deployBody(fmt.Sprintf("d-%d", i), "succeeded"))
	}
	got := map[string]bool{}
	for range 3 {
		ev := sink.Next(t, 10*time.Second)
		require.Equal(t, deploy.KindSucceeded, ev.Kind)
		require.False(t, ev.ReceivedAt.IsZero())
		got[ev.Ref.DeployID] = true
	}
	require.Equal(t, map[string]bool{"d-0": true, "d-1": true, "d-2": true}, got)
	require.Eventually(t, func() bool { return r.count(deploy.ResultAcked) == 3 }, 5*time.Second, 20*time.Millisecond)

	// An invalid message is terminated, counted, and never comes back.
	publish(t, js, "deploys.checkout", []byte(`{"id": "d-x", "service": "checkout", "status": "done", "at": "2026-11-20T13:58:40Z"}`))
	require.Eventually(t, func() bool { return r.count(deploy.ResultTerminated) == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, testutil.ToFloat64(r.metrics.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonBadRequest)))
	sink.None(t, 2500*time.Millisecond) // past AckWait (1s) twice
	require.Equal(t, 4.0, r.count(deploy.ResultReceived), "the terminated message was not redelivered")
	require.Equal(t, 1.0, r.count(deploy.ResultTerminated))

	// The same id + status twice is the same event (the store keeps one).
	publish(t, js, "deploys.checkout", deployBody("d-0", "succeeded"))
	again := sink.Next(t, 10*time.Second)
	require.Equal(t, collector.EventID("deploy", "d-0", "succeeded"), again.ID)
	first := sink.Events()[0]
	for _, ev := range sink.Events() {
		if ev.Ref.DeployID == "d-0" {
			first = ev
			break
		}
	}
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, 3.0, testutil.ToFloat64(r.metrics.Received.WithLabelValues(collector.SourceDeploy))-1)

	r.stop(t)
}

func TestEmbeddedRedeliveryAfterSinkErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ns := startEmbedded(t)
	sink := &collectortest.Sink{}
	sink.Fail = func(call int) error {
		if call <= 2 {
			return fmt.Errorf("disk full: %w", collector.ErrUnavailable)
		}
		return nil
	}
	r := startConsumer(t, embeddedOptions(ns), sink)
	js := publisher(t, ns.ClientURL())
	publish(t, js, "deploys.checkout", deployBody("d-retry", "started"))

	ev := sink.Next(t, 15*time.Second)
	require.Equal(t, "d-retry", ev.Ref.DeployID)
	require.Equal(t, 3, sink.Calls())
	require.Eventually(t, func() bool { return r.count(deploy.ResultAcked) == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 2.0, r.count(deploy.ResultNakd))
	require.Equal(t, 3.0, r.count(deploy.ResultReceived))
	// Acked: it does not come back.
	sink.None(t, 2500*time.Millisecond)
	require.Equal(t, 3, sink.Calls())
	r.stop(t)
}

func TestEmbeddedMetricsPreinitialised(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := collector.NewMetrics(reg, collector.SourceDeploy)
	deploy.NewConsumer(deploy.ConsumerOptions{}, &collectortest.Sink{}, m, testLogger(t), reg)
	for _, res := range []string{deploy.ResultReceived, deploy.ResultAcked, deploy.ResultAckFailed, deploy.ResultTerminated, deploy.ResultNakd, deploy.ResultLost} {
		require.Equal(t, 0.0, testutil.ToFloat64(prometheusCounter(reg, res)), res)
	}
	n, err := testutil.GatherAndCount(reg, "hindsight_collector_deploy_messages_total")
	require.NoError(t, err)
	require.Equal(t, 6, n)
}

// Without a stream, a plain subscription delivers at most once.
func TestEmbeddedPlainSubscription(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ns := startEmbedded(t)
	sink := &collectortest.Sink{}
	opts := embeddedOptions(ns)
	opts.NATS.Stream = ""
	opts.CreateStream = false
	opts.Embedded = nil
	opts.URL = ns.ClientURL()
	r := startConsumer(t, opts, sink)
	nc, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	// A request gets the outcome; retry until the subscription is up.
	require.Eventually(t, func() bool {
		msg, err := nc.Request("deploys.checkout", deployBody("d-plain", "failed"), 200*time.Millisecond)
		return err == nil && string(msg.Data) == `{"status":"success"}`
	}, 10*time.Second, 50*time.Millisecond)
	ev := sink.Next(t, 5*time.Second)
	require.Equal(t, deploy.KindFailed, ev.Kind)
	msg, err := nc.Request("deploys.checkout", []byte(`{}`), 2*time.Second)
	require.NoError(t, err)
	require.Contains(t, string(msg.Data), "id: missing")
	require.Equal(t, 1.0, r.count(deploy.ResultTerminated))
	r.stop(t)
}

// TestEmbeddedStreamRecreated deletes the stream under a running
// consumer, as an operator (or anyone with the rights) might: the
// consumer reports why it is not taking deploys, creates the stream and
// its durable consumer again, and takes the next deploy.
func TestEmbeddedStreamRecreated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ns := startEmbedded(t)
	sink := &collectortest.Sink{}
	opts := embeddedOptions(ns)
	// The error stays reported for one check interval after the stream is
	// set up again: long enough that a poll on a loaded machine sees it.
	opts.CheckInterval = time.Second
	r := startConsumer(t, opts, sink)
	js := publisher(t, ns.ClientURL())
	require.Eventually(t, func() bool { return r.c.Status(t.Context()) == nil }, 10*time.Second, 20*time.Millisecond)
	publish(t, js, "deploys.checkout", deployBody("d-before", "succeeded"))
	require.Equal(t, "d-before", sink.Next(t, 10*time.Second).Ref.DeployID)

	require.NoError(t, js.DeleteStream(t.Context(), deploy.EmbeddedStream))
	var reported error
	require.Eventually(t, func() bool {
		if err := r.c.Status(t.Context()); err != nil {
			reported = err
			return true
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the consumer notices the stream is gone")
	t.Logf("status while the stream was gone: %v", reported)
	require.Contains(t, reported.Error(), deploy.EmbeddedStream)

	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := js.Stream(ctx, deploy.EmbeddedStream)
		return err == nil && r.c.Status(t.Context()) == nil
	}, 10*time.Second, 20*time.Millisecond, "the consumer creates the stream again")
	publish(t, js, "deploys.checkout", deployBody("d-after", "succeeded"))
	require.Equal(t, "d-after", sink.Next(t, 10*time.Second).Ref.DeployID)
	r.stop(t)
}

// TestEmbeddedLimits: a message past the running limits is terminated
// (never redelivered), counted as too large, and the limits are read per
// message.
func TestEmbeddedLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server")
	}
	ns := startEmbedded(t)
	sink := &collectortest.Sink{}
	var mu sync.Mutex
	lim := config.DefaultLimits()
	opts := embeddedOptions(ns)
	opts.Limits = func() config.Limits { mu.Lock(); defer mu.Unlock(); return lim }
	r := startConsumer(t, opts, sink)
	js := publisher(t, ns.ClientURL())

	publish(t, js, "deploys.checkout", deployBody("d-1", "succeeded"))
	require.Equal(t, "d-1", sink.Next(t, 10*time.Second).Ref.DeployID)

	mu.Lock()
	lim.MaxLabelValueBytes = 1 // the service and version are label values in all but name
	mu.Unlock()
	publish(t, js, "deploys.checkout", deployBody("d-2", "succeeded"))
	require.Eventually(t, func() bool { return r.count(deploy.ResultTerminated) == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, testutil.ToFloat64(r.metrics.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonTooLarge)))
	publish(t, js, "deploys.checkout", []byte(`{"id":"d-3","id":"d-4","service":"checkout","status":"started","at":"2026-11-20T13:58:40Z"}`))
	require.Eventually(t, func() bool { return r.count(deploy.ResultTerminated) == 2 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, testutil.ToFloat64(r.metrics.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonBadRequest)))
	sink.None(t, 2500*time.Millisecond) // past AckWait (1s) twice: not redelivered
	r.stop(t)
}
