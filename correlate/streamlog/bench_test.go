package streamlog_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// benchParallelism is how many appending goroutines run per GOMAXPROCS:
// many concurrent senders, as during an alert storm.
const benchParallelism = 8

// BenchmarkAppend measures durable appends of one event each from many
// concurrent senders: the Badger log (fsync'ed group commit, the
// single-instance default) against the JetStream log on one node (R1)
// and on three (R3, acknowledged by a quorum and copied by the replica),
// all Debian nats-server 2.9, which fsyncs its files every two minutes,
// not per write; and on the embedded server with sync_interval: always
// (fsync before every acknowledgement, as the Badger log), in the same
// run. Reported: ns/op as throughput (ns per event across
// all senders) and the per-call latency p50/p99.
func BenchmarkAppend(b *testing.B) {
	b.Run("log=badger", func(b *testing.B) {
		db := openBadger(b)
		benchAppend(b, db)
	})
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("log=jetstream-R%d", n), func(b *testing.B) {
			c := natstest.Start(b, n)
			r := openReplica(b, c.URLs(), streamlog.Options{Replicas: n})
			benchAppend(b, r.log)
		})
	}
	b.Run("log=jetstream-R1-embedded-fsync", func(b *testing.B) {
		s := natstest.Embedded(b, true)
		r := openReplica(b, s.ClientURL(), streamlog.Options{Replicas: 1})
		benchAppend(b, r.log)
	})
}

// BenchmarkIngest measures what a sender waits for: append and the
// projection reflecting it (correlate.Ingester, read-your-writes), the
// Badger log against the JetStream log, in the same run.
func BenchmarkIngest(b *testing.B) {
	b.Run("log=badger", func(b *testing.B) {
		db := openBadger(b)
		benchIngest(b, db, db)
	})
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("log=jetstream-R%d", n), func(b *testing.B) {
			c := natstest.Start(b, n)
			r := openReplica(b, c.URLs(), streamlog.Options{Replicas: n})
			benchIngest(b, r.log, openBadger(b))
		})
	}
	b.Run("log=jetstream-R1-embedded-fsync", func(b *testing.B) {
		s := natstest.Embedded(b, true)
		r := openReplica(b, s.ClientURL(), streamlog.Options{Replicas: 1})
		benchIngest(b, r.log, openBadger(b))
	})
}

func openBadger(b *testing.B) *store.DB {
	b.Helper()
	db, err := store.Open(b.TempDir(), store.Options{}, logger(), prometheus.NewRegistry())
	require.NoError(b, err)
	b.Cleanup(func() { _ = db.Close() })
	return db
}

var benchSeq atomic.Int64

func benchAppend(b *testing.B, l correlate.EventLog) {
	run(b, func(ctx context.Context, i int64) error {
		_, err := l.Append(ctx, alert(fmt.Sprintf("svc-%d", i%50), fmt.Sprintf("bench-%d", i), t0.Add(time.Duration(i)*time.Millisecond)))
		return err
	})
}

func benchIngest(b *testing.B, l correlate.EventLog, ps correlate.ProjectionStore) {
	p, err := correlate.NewProjector(context.Background(), l, ps, config.Default(), logger(), prometheus.NewRegistry())
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	ing := &correlate.Ingester{Log: l, Projector: p}
	run(b, func(ctx context.Context, i int64) error {
		return ing.Ingest(ctx, alert(fmt.Sprintf("svc-%d", i%50), fmt.Sprintf("bench-%d", i), t0.Add(time.Duration(i)*time.Millisecond)))
	})
}

// run calls op b.N times from parallel goroutines with fresh event
// numbers and reports latency quantiles.
func run(b *testing.B, op func(context.Context, int64) error) {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			i := benchSeq.Add(1)
			start := time.Now()
			if err := op(context.Background(), i); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCatchUp measures how fast a new replica copies a stream that
// already holds events (R3, three nodes): the rate a replica that was
// down, or a new one, catches up at, before its projection applies them.
func BenchmarkCatchUp(b *testing.B) {
	const events = 20000
	c := natstest.Start(b, 3)
	src := openReplica(b, c.URLs(), streamlog.Options{Replicas: 3})
	batch := make([]collector.Event, 0, 100)
	for i := range events {
		batch = append(batch, alert(fmt.Sprintf("svc-%d", i%50), fmt.Sprintf("cu-%d", i), t0.Add(time.Duration(i)*time.Millisecond)))
		if len(batch) == cap(batch) {
			_, err := src.log.Append(context.Background(), batch...)
			require.NoError(b, err)
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for range b.N {
		r := openReplica(b, c.URLs(), streamlog.Options{Replicas: 3})
		for r.log.Copied() < events {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		require.NoError(b, r.log.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
