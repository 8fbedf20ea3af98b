package correlate

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// received stamps events as a receiver does: received at their own time
// plus a delivery delay.
func received(ev collector.Event, delay time.Duration) collector.Event {
	ev.ReceivedAt = ev.At.Add(delay)
	return ev
}

// TestFarFutureEventDoesNotMoveTheWatermark is issue 9's third defect:
// after one alert with startsAt 2099, the next sweep forgot every deploy
// and every settled incident, so a deploy two minutes before the first
// alert was no longer a suspect nor on the timeline, and a re-firing
// alert opened a new incident instead of reopening.
func TestFarFutureEventDoesNotMoveTheWatermark(t *testing.T) {
	cfg := config.Default()
	min := time.Minute
	deploy := received(deployEv("d-1", "checkout", "succeeded", m(-2*min)), time.Second)
	first := received(firing("checkout", "a", m(0)), 30*time.Second)
	end := received(resolved("checkout", "a", m(0), m(5*min)), time.Minute)
	future := received(firing("search", "x", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)), 0)
	future.ReceivedAt = m(6 * min)
	again := received(firing("checkout", "a", m(10*min)), 30*time.Second)
	newAlert := received(firing("checkout", "b", m(11*min)), 30*time.Second)

	c := NewCorrelator(cfg, State{})
	incs := map[string]*Incident{}
	var entries []Entry
	// The sweep runs at every sweepEvery-th log position: put the future
	// event there.
	for i, le := range []LoggedEvent{{1, deploy}, {2, first}, {3, end}, {sweepEvery, future}, {sweepEvery + 1, again}, {sweepEvery + 2, newAlert}} {
		_ = i
		c.Apply(le)
		ch := c.Flush()
		for id, inc := range ch.Incidents {
			incs[id] = inc
		}
		entries = append(entries, ch.Entries...)
	}
	byEvent := map[string]string{}
	for _, e := range entries {
		byEvent[e.EventID] = e.IncidentID
	}
	inc := incs[byEvent[first.ID]]
	require.NotContains(t, byEvent, future.ID, "the 2099 event is kept out of correlation")
	require.Equal(t, inc.ID, byEvent[again.ID], "the re-firing alert reopens its incident")
	require.Equal(t, inc.ID, byEvent[newAlert.ID])
	require.Equal(t, inc.ID, byEvent[deploy.ID], "the deploy is on the timeline")
	require.Equal(t, []string{"d-1"}, suspectIDs(incs[inc.ID]), "and a suspect")
	ch := c.Flush()
	require.Equal(t, m(11*min), ch.Checkpoint.Watermark, "the watermark is the newest believable event time")
}

// TestFarFutureEventIsRefusedAtIntake: the intake answers 400 naming the
// field and stores nothing of the request.
func TestFarFutureEventIsRefusedAtIntake(t *testing.T) {
	now := m(0)
	ok := firing("checkout", "a", now.Add(-time.Minute))
	ok.ReceivedAt = now
	bad := firing("checkout", "b", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	bad.ReceivedAt = now
	err := CheckEventTimes([]collector.Event{ok, bad}, 10*time.Minute)
	var re *collector.RequestError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, http.StatusBadRequest, re.Status)
	require.Contains(t, re.Error(), "alert HighErrorRate (fingerprint "+bad.Ref.Fingerprint+"): startsAt 2099-01-01T00:00:00Z is ")
	require.Contains(t, re.Error(), "ahead of this server's clock (more than correlation.max_future_skew 10m)")

	dep := deployEv("d-9", "checkout", "succeeded", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	dep.ReceivedAt = now
	require.ErrorContains(t, CheckEventTimes([]collector.Event{dep}, 10*time.Minute), "deploy d-9: at 9999-12-31T00:00:00Z")

	// A backfill of old data and a clock a few minutes ahead are fine.
	old := firing("checkout", "c", now.Add(-400*24*time.Hour))
	old.ReceivedAt = now
	skewed := firing("checkout", "d", now.Add(3*time.Minute))
	skewed.ReceivedAt = now
	require.NoError(t, CheckEventTimes([]collector.Event{old, skewed}, 10*time.Minute))
}
