package streamlog_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

var t0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

func logger() *slog.Logger {
	if os.Getenv("STREAMLOG_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// replica is one Hindsight replica's log: its own connection (to the
// servers given) and its own copy of the stream.
type replica struct {
	log *streamlog.Log
	nc  *nats.Conn
	reg *prometheus.Registry
}

func openReplica(t testing.TB, url string, o streamlog.Options) *replica {
	t.Helper()
	if o.Dir == "" && !o.InMemory {
		o.Dir = t.TempDir()
	}
	nc := natstest.Connect(t, url)
	reg := prometheus.NewRegistry()
	l, err := streamlog.Open(nc, o, logger(), reg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, l.WaitReady(ctx))
	return &replica{log: l, nc: nc, reg: reg}
}

// alert builds the event Alertmanager's receiver would produce for a
// firing alert of service with label instance.
func alert(service, instance string, start time.Time) collector.Event {
	labels := map[string]string{"alertname": "HighErrorRate", "service": service, "instance": instance, "severity": "critical"}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	fp := ls.Fingerprint().String()
	s := start
	return collector.Event{
		ID:      collector.EventID("alertmanager", fp, start.Format(time.RFC3339Nano), "firing"),
		Source:  collector.SourceAlertmanager,
		Kind:    collector.KindAlertFiring,
		At:      start,
		Service: service,
		Summary: "HighErrorRate firing",
		Labels:  labels,
		Ref:     collector.Ref{Fingerprint: fp, StartsAt: &s},
		Alert:   &collector.Alert{Name: "HighErrorRate", Status: "firing", Severity: "critical", StartsAt: start},
	}
}

// alerts builds n distinct firing alerts of one service.
func alerts(prefix string, n int) []collector.Event {
	out := make([]collector.Event, n)
	for i := range out {
		out[i] = alert("checkout", fmt.Sprintf("%s-%d", prefix, i), t0.Add(time.Duration(i)*time.Second))
	}
	return out
}

// readAll reads the whole copy.
func readAll(t testing.TB, l correlate.EventLog) []correlate.LoggedEvent {
	t.Helper()
	var out []correlate.LoggedEvent
	var after uint64
	for {
		evs, err := l.Read(context.Background(), after, 100)
		require.NoError(t, err)
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

func ids(evs []correlate.LoggedEvent) []string {
	out := make([]string, len(evs))
	for i, le := range evs {
		out[i] = le.Event.ID
	}
	return out
}

// waitCopied waits until the replica's copy reaches seq.
func waitCopied(t testing.TB, r *replica, seq uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return r.log.Copied() >= seq }, 30*time.Second, 10*time.Millisecond,
		"copy reaches %d (at %d)", seq, r.log.Copied())
}

// streamState asks the stream for its state through a plain client.
func streamState(t testing.TB, nc *nats.Conn, name string) jetstream.StreamState {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	return info.State
}

// projection is a replica's projection: the real projector over the log,
// into a real Badger store, as the daemon wires them.
type projection struct {
	proj *correlate.Projector
	db   streamlog.Store
}

func startProjection(t testing.TB, l *streamlog.Log) *projection {
	t.Helper()
	bdb, err := store.Open(t.TempDir(), store.Options{}, logger(), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = bdb.Close() })
	db := streamlog.Store{DB: bdb, Log: l}
	p, err := correlate.NewProjector(context.Background(), l, db, config.Default(), logger(), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &projection{proj: p, db: db}
}

// timelines returns every incident's timeline as event ids, by incident.
func (p *projection) timelines(t testing.TB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	out := map[string][]string{}
	var incs []string
	require.NoError(t, p.db.ScanIncidents(ctx, "", func(inc *correlate.Incident, _ string) bool {
		incs = append(incs, inc.ID)
		return true
	}))
	for _, id := range incs {
		tl, err := p.db.Timeline(ctx, id)
		require.NoError(t, err)
		for _, e := range tl {
			out[id] = append(out[id], e.EventID)
		}
	}
	return out
}
