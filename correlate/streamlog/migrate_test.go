package streamlog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// fixedLog is a log with events at chosen positions: the shape of a log
// whose middle expired, or of a replica's copy that skipped a second
// copy of an event.
type fixedLog struct {
	evs  []correlate.LoggedEvent
	head uint64
}

func (f fixedLog) Head() (uint64, error) { return f.head, nil }

func (f fixedLog) Read(_ context.Context, after uint64, limit int) ([]correlate.LoggedEvent, error) {
	var out []correlate.LoggedEvent
	for _, le := range f.evs {
		if le.Seq > after && len(out) < limit {
			out = append(out, le)
		}
	}
	return out, nil
}

// Migrate puts each event at its position, positions without one become
// gaps the copy skips, and the copy of a replica on the stream reads
// exactly the source; a second run publishes nothing, and another log
// is refused.
func TestMigrateKeepsPositions(t *testing.T) {
	ns := natstest.Embedded(t, false)
	src := fixedLog{head: 9}
	for i, seq := range []uint64{2, 3, 6} {
		src.evs = append(src.evs, correlate.LoggedEvent{Seq: seq, Event: alert("checkout", fmt.Sprintf("i-%d", i), t0.Add(time.Duration(i)*time.Minute))})
	}
	o := streamlog.Options{Stream: "MIGRATED", Replicas: 1}
	nc := natstest.Connect(t, ns.ClientURL())
	res, err := streamlog.Migrate(t.Context(), nc, o, src, logger())
	require.NoError(t, err)
	require.Equal(t, streamlog.MigrateResult{From: 0, Head: 9, Events: 3, Gaps: 6}, res)

	r := openReplica(t, ns.ClientURL(), streamlog.Options{Stream: "MIGRATED", Replicas: 1})
	require.Eventually(t, func() bool { return r.log.Copied() == 9 }, 10*time.Second, 10*time.Millisecond)
	got, err := r.log.Read(t.Context(), 0, 100)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, le := range got {
		require.Equal(t, src.evs[i].Seq, le.Seq)
		require.Equal(t, src.evs[i].Event.ID, le.Event.ID)
	}
	require.Zero(t, r.log.Lag(9), "gaps count as applied")
	require.Zero(t, metric(t, r, "hindsight_log_stream_invalid_messages_total"), "gap markers are not invalid messages")

	res, err = streamlog.Migrate(t.Context(), nc, o, src, logger())
	require.NoError(t, err)
	require.Equal(t, streamlog.MigrateResult{From: 9, Head: 9}, res, "run again: nothing to publish")

	src.head = 12
	src.evs = append(src.evs, correlate.LoggedEvent{Seq: 11, Event: alert("checkout", "late", t0.Add(time.Hour))})
	res, err = streamlog.Migrate(t.Context(), nc, o, src, logger())
	require.NoError(t, err)
	require.Equal(t, streamlog.MigrateResult{From: 9, Head: 12, Events: 1, Gaps: 2}, res, "a grown log resumes at the stream's end")

	other := fixedLog{head: 12, evs: []correlate.LoggedEvent{{Seq: 12, Event: alert("search", "x", t0)}}}
	_, err = streamlog.Migrate(t.Context(), nc, o, other, logger())
	require.ErrorIs(t, err, streamlog.ErrStreamMismatch)
}
