package streamlog_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// load appends distinct events from several writers through the
// replicas, each retried until it is acknowledged (as Alertmanager
// retries a 503), until stop is closed. It returns what was acknowledged
// and the highest position returned.
type load struct {
	mu      sync.Mutex
	acked   []string
	top     uint64
	errs    atomic.Int64
	errKind atomic.Value // last error
	wg      sync.WaitGroup
	stop    chan struct{}
}

func startLoad(replicas []*replica, writers int) *load {
	ld := &load{stop: make(chan struct{})}
	for w := range writers {
		r := replicas[w%len(replicas)]
		ld.wg.Go(func() {
			for i := 0; ; i++ {
				ev := alert("checkout", fmt.Sprintf("w%d-%d", w, i), t0)
				for {
					select {
					case <-ld.stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					pos, err := r.log.Append(ctx, ev)
					cancel()
					if err == nil {
						ld.mu.Lock()
						ld.acked = append(ld.acked, ev.ID)
						ld.top = max(ld.top, pos)
						ld.mu.Unlock()
						break
					}
					ld.errs.Add(1)
					ld.errKind.Store(err)
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	return ld
}

func (ld *load) finish() ([]string, uint64) {
	close(ld.stop)
	ld.wg.Wait()
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return ld.acked, ld.top
}

func (ld *load) count() int {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return len(ld.acked)
}

// waitMore waits until n more events have been acknowledged.
func (ld *load) waitMore(t *testing.T, n int) {
	t.Helper()
	from := ld.count()
	require.Eventually(t, func() bool { return ld.count() >= from+n }, 60*time.Second, 10*time.Millisecond,
		"%d more events acknowledged (last error: %v)", n, ld.errKind.Load())
}

// requireAll checks that the replica's copy holds every acknowledged
// event exactly once.
func requireAll(t *testing.T, r *replica, acked []string) {
	t.Helper()
	got := ids(readAll(t, r.log))
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	for _, id := range acked {
		require.Equal(t, 1, count[id], "acknowledged event %s in the copy once", id)
	}
	for id, n := range count {
		require.Equal(t, 1, n, "event %s in the copy %d times", id, n)
	}
}

// One node of three killed (the stream's leader, the hardest case) under
// load loses no acknowledged event: both replicas hold every one, and so
// does a replica that copies the stream through the restarted node.
func TestNodeKilledLosesNothing(t *testing.T) {
	c := natstest.Start(t, 3)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 3})
	b := openReplica(t, c.URLs(), streamlog.Options{Replicas: 3})
	ld := startLoad([]*replica{a, b}, 4)
	ld.waitMore(t, 100)

	leader := streamLeader(t, a, c)
	leader.Kill()
	ld.waitMore(t, 100) // the two others elect a leader and go on
	leader.Start(t)
	ld.waitMore(t, 100)
	acked, top := ld.finish()
	t.Logf("%d events acknowledged, %d append attempts failed during the outage", len(acked), ld.errs.Load())

	waitCopied(t, a, top)
	waitCopied(t, b, top)
	requireAll(t, a, acked)
	requireAll(t, b, acked)
	require.Equal(t, readAll(t, a.log), readAll(t, b.log))

	fresh := openReplica(t, leader.URL(), streamlog.Options{Replicas: 3})
	waitCopied(t, fresh, top)
	require.Equal(t, readAll(t, a.log), readAll(t, fresh.log))
}

// streamLeader is the server leading the event stream.
func streamLeader(t *testing.T, r *replica, c *natstest.Cluster) *natstest.Server {
	t.Helper()
	js, err := jetstream.New(r.nc)
	require.NoError(t, err)
	s, err := js.Stream(t.Context(), streamlog.DefaultStream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	require.NotNil(t, info.Cluster)
	for _, srv := range c.Servers {
		if srv.Name == info.Cluster.Leader {
			return srv
		}
	}
	t.Fatalf("no server named %q", info.Cluster.Leader)
	return nil
}

// The only server, killed with SIGKILL under load and restarted on its
// store: appends fail as unavailable meanwhile (the sender retries), no
// acknowledged event is lost, and the replica goes on by itself.
func TestServerRestartLosesNothing(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	ld := startLoad([]*replica{a}, 4)
	ld.waitMore(t, 100)

	c.Servers[0].Kill()
	require.Eventually(t, func() bool { return ld.errs.Load() > 0 }, 30*time.Second, 10*time.Millisecond)
	err, _ := ld.errKind.Load().(error)
	require.ErrorIs(t, err, collector.ErrUnavailable, "a sender is told to retry: %v", err)
	c.Servers[0].Start(t)
	ld.waitMore(t, 100)
	acked, top := ld.finish()

	waitCopied(t, a, top)
	requireAll(t, a, acked)
}

// A replica restarted on its copy resumes where it was, and its reads are
// the same as before.
func TestCopyResumesAfterRestart(t *testing.T) {
	c := natstest.Start(t, 1)
	dir := t.TempDir()
	o := streamlog.Options{Replicas: 1, Dir: dir}
	a := openReplica(t, c.URLs(), o)
	pos, err := a.log.Append(t.Context(), alerts("before", 20)...)
	require.NoError(t, err)
	before := readAll(t, a.log)
	require.NoError(t, a.log.Close())

	// Others append while it is away.
	other := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	top, err := other.log.Append(t.Context(), alerts("away", 10)...)
	require.NoError(t, err)
	require.Greater(t, top, pos)

	again := openReplica(t, c.URLs(), o)
	require.GreaterOrEqual(t, again.log.Copied(), pos, "starts from its copy")
	waitCopied(t, again, top)
	got := readAll(t, again.log)
	require.Equal(t, before, got[:len(before)])
	require.Equal(t, readAll(t, other.log), got)
}

// A stream recreated under a replica (its copy reaches past the new
// stream's end) stops the copy with ErrStreamMismatch instead of
// skipping the new stream's first events; readiness says so.
func TestRecreatedStreamRefused(t *testing.T) {
	c := natstest.Start(t, 1)
	dir := t.TempDir()
	o := streamlog.Options{Replicas: 1, Dir: dir}
	a := openReplica(t, c.URLs(), o)
	_, err := a.log.Append(t.Context(), alerts("old", 5)...)
	require.NoError(t, err)
	require.NoError(t, a.log.Close())

	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	require.NoError(t, js.DeleteStream(t.Context(), streamlog.DefaultStream))
	fresh := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	_, err = fresh.log.Append(t.Context(), alerts("new", 2)...)
	require.NoError(t, err)

	again, err := streamlog.Open(a.nc, o, logger(), nil)
	require.NoError(t, err)
	err = again.WaitReady(t.Context())
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
	require.ErrorContains(t, err, "ends at 2, the copy at 5")
	_, err = again.Append(t.Context(), alert("checkout", "x", t0))
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
	require.ErrorIs(t, again.CaughtUp(func() uint64 { return 5 }, 0)(t.Context()), streamlog.ErrStreamMismatch)
	require.NoError(t, again.Close())

	// The new stream grown past the copy: the event at the copy's last
	// position is another one.
	_, err = fresh.log.Append(t.Context(), alerts("newer", 5)...)
	require.NoError(t, err)
	again, err = streamlog.Open(a.nc, o, logger(), nil)
	require.NoError(t, err)
	defer again.Close()
	err = again.WaitReady(t.Context())
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
	require.ErrorContains(t, err, "at 5, the copy")
}

// A message removed from the stream (by an operator who lifted
// deny_delete) is a gap: readers skip its position, the projection
// catches up past it, and the lag counts it as applied.
func TestGapsInTheStream(t *testing.T) {
	c := natstest.Start(t, 1)
	nc := natstest.Connect(t, c.URLs())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	// The operator's own stream, without deny_delete.
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OPS", Subjects: []string{"OPS.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	a := openReplica(t, c.URLs(), streamlog.Options{Stream: "OPS", Replicas: 1})
	evs := alerts("g", 4)
	top, err := a.log.Append(t.Context(), evs...)
	require.NoError(t, err)
	require.NoError(t, s.DeleteMsg(t.Context(), 2))
	require.NoError(t, s.DeleteMsg(t.Context(), 4))

	b := openReplica(t, c.URLs(), streamlog.Options{Stream: "OPS", Replicas: 1})
	waitCopied(t, b, 3)
	got := readAll(t, b.log)
	require.Equal(t, []uint64{1, 3}, []uint64{got[0].Seq, got[1].Seq})
	require.Equal(t, []string{evs[0].ID, evs[2].ID}, ids(got))
	p := startProjection(t, b.log)
	require.NoError(t, p.proj.WaitApplied(t.Context(), 3))
	// The deleted last message: the copy moves past it once it finds
	// the stream holds nothing more.
	require.Eventually(t, func() bool { return b.log.Lag(p.proj.Applied()) == 0 }, 15*time.Second, 20*time.Millisecond, "nothing left to apply")
	require.Equal(t, top, b.log.Copied())
	require.NoError(t, b.log.CaughtUp(p.proj.Applied, 0)(t.Context()))
}

// Lag and readiness follow the projection: behind while it has not
// applied what the stream holds, caught up once it has.
func TestLagAndReadiness(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openReplica(t, c.URLs(), streamlog.Options{Replicas: 1})
	top, err := a.log.Append(t.Context(), alerts("l", 10)...)
	require.NoError(t, err)

	var applied atomic.Uint64
	a.log.ObserveProjection(applied.Load)
	ready := a.log.CaughtUp(applied.Load, 3)
	err = ready(t.Context())
	require.ErrorContains(t, err, "10 positions behind event stream HINDSIGHT_EVENTS (ready within 3)")
	require.InDelta(t, 10, metric(t, a, "hindsight_log_replication_lag"), 0)

	applied.Store(7)
	require.NoError(t, ready(t.Context()))
	require.InDelta(t, 3, metric(t, a, "hindsight_log_replication_lag"), 0)
	applied.Store(top)
	require.InDelta(t, 0, metric(t, a, "hindsight_log_replication_lag"), 0)
	require.InDelta(t, float64(top), metric(t, a, "hindsight_log_stream_head_position"), 0)

	// A projection past the stream's end describes another stream.
	err = a.log.CaughtUp(func() uint64 { return top + 5 }, 3)(t.Context())
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)

	// Without the stream, not ready, within a few head refreshes.
	c.Servers[0].Kill()
	require.Eventually(t, func() bool {
		err = ready(t.Context())
		return err != nil
	}, 20*time.Second, 50*time.Millisecond)
	require.ErrorContains(t, err, "no answer from event stream HINDSIGHT_EVENTS")
	c.Servers[0].Start(t)
	require.Eventually(t, func() bool { return ready(t.Context()) == nil }, 20*time.Second, 50*time.Millisecond, "ready again")
}
