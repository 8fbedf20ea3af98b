package deploy_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

func deployMsg(run, i int) []byte {
	return fmt.Appendf(nil, `{"id":"d-%d-%d","service":"svc-%d","status":"succeeded","at":"2026-11-20T14:%02d:%02dZ","version":"v1.%d","author":"bench"}`,
		run, i, i%50, (i/60)%60, i%60, i)
}

// BenchmarkDeploysJetStream publishes deploys to the embedded server's
// stream (waiting for each publish ack from 32 publishers) and measures
// until the last one is consumed, in two setups in one run:
//
//   - raw: a durable pull consumer that acks each message: JetStream's own
//     publish-and-consume cost, the baseline;
//   - hindsight: Hindsight's consumer, which decodes each deploy, stores it
//     in the Badger event log, waits for its correlation and only then
//     acks: published -> durable -> on the timeline.
func BenchmarkDeploysJetStream(b *testing.B) {
	logger := promslog.NewNopLogger()
	var runs atomic.Int64
	setup := func(b *testing.B) (*natsSetup, func()) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ns, err := deploy.StartEmbedded(addr, b.TempDir(), logger)
		if err != nil {
			b.Fatal(err)
		}
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		return &natsSetup{ns: ns, nc: nc, js: js}, func() { nc.Close(); ns.Shutdown(); ns.WaitForShutdown() }
	}
	publish := func(b *testing.B, s *natsSetup) {
		run := int(runs.Add(1))
		var next atomic.Int64
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1))
				if _, err := s.js.Publish(context.Background(), fmt.Sprintf("deploys.svc-%d", i%50), deployMsg(run, i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}

	b.Run("raw", func(b *testing.B) {
		s, stop := setup(b)
		defer stop()
		ctx := context.Background()
		stream, err := s.js.CreateStream(ctx, jetstream.StreamConfig{Name: "RAW", Subjects: []string{"deploys.>"}})
		if err != nil {
			b.Fatal(err)
		}
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			b.Fatal(err)
		}
		var got atomic.Int64
		cc, err := cons.Consume(func(m jetstream.Msg) {
			_ = m.DoubleAck(ctx)
			got.Add(1)
		})
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Stop()
		b.ResetTimer()
		publish(b, s)
		for got.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deploys/s")
	})

	b.Run("hindsight", func(b *testing.B) {
		s, stop := setup(b)
		defer stop()
		cfg := config.Default()
		db, err := store.Open(b.TempDir(), store.Options{}, logger, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		proj, err := correlate.NewProjector(b.Context(), db, db, cfg, logger, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = proj.Run(ctx) }()
		var stored atomic.Int64
		ing := &correlate.Ingester{Log: db, Projector: proj}
		sink := collector.SinkFunc(func(ctx context.Context, evs ...collector.Event) error {
			if err := ing.Ingest(ctx, evs...); err != nil {
				return err
			}
			stored.Add(int64(len(evs)))
			return nil
		})
		opts := deploy.ConsumerOptions{Embedded: s.ns, CreateStream: true, NATS: cfg.NATS}
		opts.NATS.Stream = deploy.EmbeddedStream
		cons := deploy.NewConsumer(opts, sink, collector.NewMetrics(prometheus.NewRegistry()), logger, prometheus.NewRegistry())
		done := make(chan struct{})
		go func() { _ = cons.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		<-cons.Ready()
		b.ResetTimer()
		publish(b, s)
		for stored.Load() < int64(b.N) {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deploys/s")
	})
}

type natsSetup struct {
	ns *server.Server
	nc *nats.Conn
	js jetstream.JetStream
}
