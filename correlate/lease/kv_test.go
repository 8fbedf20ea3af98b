package lease_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

const ttl = 1500 * time.Millisecond

func testLogger() *slog.Logger {
	if os.Getenv("LEASE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type contender struct {
	kv     *lease.KV
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t *testing.T, url, holder string, tasks ...string) *contender {
	t.Helper()
	nc := natstest.Connect(t, url)
	kv, err := lease.NewKV(nc, lease.KVOptions{Replicas: 3, TTL: ttl, Holder: holder, Tasks: tasks},
		testLogger().With("holder", holder), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c := &contender{kv: kv, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = kv.Run(ctx)
	}()
	t.Cleanup(c.stop)
	return c
}

// ready waits until every contender contends.
func ready(t *testing.T, cs ...*contender) {
	t.Helper()
	for _, c := range cs {
		select {
		case <-c.kv.Ready():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s never got the lease bucket", c.kv.Holder())
		}
	}
}

func (c *contender) stop() {
	c.cancel()
	<-c.done
}

// watcher samples both contenders and fails the test if both own the
// task at once.
type watcher struct {
	mu    sync.Mutex
	stop  chan struct{}
	done  chan struct{}
	both  int
	owner map[string]time.Time // holder -> last time seen owning
}

func watch(a, b *contender, task string) *watcher {
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{}), owner: map[string]time.Time{}}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			oa, ob := a.kv.Owns(task), b.kv.Owns(task)
			w.mu.Lock()
			if oa && ob {
				w.both++
			}
			now := time.Now()
			if oa {
				w.owner[a.kv.Holder()] = now
			}
			if ob {
				w.owner[b.kv.Holder()] = now
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *watcher) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	require.Zero(t, w.both, "both contenders owned the task at the same time")
}

// owner waits until exactly one of the contenders owns task and returns
// it and the other.
func owner(t *testing.T, task string, cs ...*contender) (*contender, *contender) {
	t.Helper()
	var got, other *contender
	require.Eventually(t, func() bool {
		got, other = nil, nil
		n := 0
		for _, c := range cs {
			if c.kv.Owns(task) {
				got = c
				n++
			} else {
				other = c
			}
		}
		return n == 1
	}, 10*time.Second, 5*time.Millisecond, "one contender owns %s", task)
	return got, other
}

// Of two replicas, one holds the lease; when it stops (and releases it),
// the other takes over at once; they never hold it together.
func TestLeaseMovesWhenHolderStops(t *testing.T) {
	c := natstest.Start(t, 3)
	a := start(t, c.Servers[0].URL(), "a", lease.TaskExport)
	b := start(t, c.Servers[1].URL(), "b", lease.TaskExport)
	ready(t, a, b)
	w := watch(a, b, lease.TaskExport)

	holder, other := owner(t, lease.TaskExport, a, b)
	// It keeps it over several renewals.
	time.Sleep(2 * ttl)
	require.True(t, holder.kv.Owns(lease.TaskExport))
	require.False(t, other.kv.Owns(lease.TaskExport))

	stopped := time.Now()
	holder.stop()
	require.False(t, holder.kv.Owns(lease.TaskExport), "a stopped replica owns nothing")
	require.Eventually(t, func() bool { return other.kv.Owns(lease.TaskExport) }, ttl, 5*time.Millisecond,
		"released: taken over well before it would expire")
	t.Logf("handed over in %s after a release", time.Since(stopped))
	w.finish(t)
}

// A holder cut off from the cluster without releasing (its process died,
// or its network did) stops owning before its lease expires in the
// bucket, and the other replica takes over within TTL and a renewal
// period.
func TestLeaseMovesWhenHolderDies(t *testing.T) {
	c := natstest.Start(t, 3)
	a := start(t, c.Servers[0].URL(), "a", lease.TaskExport, lease.TaskPagerDutyPoll)
	b := start(t, c.Servers[1].URL(), "b", lease.TaskExport, lease.TaskPagerDutyPoll)
	ready(t, a, b)
	w := watch(a, b, lease.TaskExport)

	holder, other := owner(t, lease.TaskExport, a, b)
	cut := time.Now()
	holder.nc.Close()
	require.Eventually(t, func() bool { return !holder.kv.Owns(lease.TaskExport) }, ttl, 5*time.Millisecond,
		"the cut-off holder gives up by itself")
	require.Eventually(t, func() bool { return other.kv.Owns(lease.TaskExport) }, ttl+ttl/3+2*time.Second, 5*time.Millisecond,
		"taken over once the lease expires")
	t.Logf("handed over in %s after the holder was cut off (TTL %s)", time.Since(cut), ttl)
	w.finish(t)

	// The other task went the same way.
	require.Eventually(t, func() bool { return other.kv.Owns(lease.TaskPagerDutyPoll) }, ttl+ttl/3+2*time.Second, 5*time.Millisecond)
}

// A task first asked about is contended for from then on.
func TestLeaseTaskAddedByOwns(t *testing.T) {
	c := natstest.Start(t, 1)
	nc := natstest.Connect(t, c.URLs())
	kv, err := lease.NewKV(nc, lease.KVOptions{TTL: ttl}, testLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = kv.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	require.False(t, kv.Owns("recompute"), "not held yet")
	require.Eventually(t, func() bool { return kv.Owns("recompute") }, 5*time.Second, 5*time.Millisecond)
	require.False(t, kv.Owns("no spaces"), "not a valid key")

	// The bucket says who holds it, for operators.
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	b, err := js.KeyValue(t.Context(), lease.DefaultBucket)
	require.NoError(t, err)
	e, err := b.Get(t.Context(), "recompute")
	require.NoError(t, err)
	require.Contains(t, string(e.Value()), kv.Holder())
}

func TestSingleOwnsEverything(t *testing.T) {
	require.True(t, lease.Single.Owns(lease.TaskExport))
	require.True(t, lease.Single.Owns("anything"))
}
