package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
)

// jumpClock is a wall clock the test moves: real time plus an offset.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) Now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *jumpClock) jump(d time.Duration) { c.offset.Add(int64(d)) }

// clockIncidents is what a user compares of the incidents: title,
// services, status, and each entry's kind, time and reasons.
func clockIncidents(t *testing.T, base string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, inc := range incidentDetails(t, base) {
		s := inc.Title + " " + inc.Status + " " + inc.StartedAt.UTC().Format(time.RFC3339)
		for _, e := range inc.Timeline {
			s += "\n  " + e.Kind + " " + e.At.UTC().Format(time.RFC3339)
			for _, r := range e.Reasons {
				s += " | " + r
			}
		}
		out[id] = s
	}
	return out
}

// TestFaultClockJump moves the daemon's wall clock a day forward, then
// two hours behind real time, then back, while alerts come in. Events
// taken in across the jumps make the same incidents as on a steady
// clock (correlation goes by event time); while the daemon's clock is
// behind, current alerts look like they come from the future and are
// refused with a 400 that names the field, the skew and the fix (never
// stored half); once the clock is right they are taken again.
func TestFaultClockJump(t *testing.T) {
	skipShort(t)
	const cfg = "correlation:\n  resolve_after: 1s\n"
	clock := &jumpClock{}
	d := startInProcess(t, t.TempDir(), cfg, func(o *daemon.Options) { o.Now = clock.Now })

	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	steps := []struct {
		jump time.Duration
		body []byte
	}{
		{0, oneAlert("firing", "checkout", "a", t0)},
		{26 * time.Hour, oneAlert("firing", "checkout", "b", t0.Add(2*time.Minute))}, // a day ahead: NTP fixed a slow clock
		{0, oneAlert("resolved", "checkout", "a", t0)},
		{-28 * time.Hour, oneAlert("resolved", "checkout", "b", t0.Add(2*time.Minute))}, // back, now two hours behind
		{0, oneAlert("firing", "payments", "a", t0.Add(40*time.Minute))},
	}
	var accepted [][]byte
	for i, s := range steps {
		clock.jump(s.jump)
		code, body := postJSON(t, d.URL+"/api/v1/ingest/alertmanager", s.body)
		require.Equal(t, http.StatusOK, code, "step %d (clock %s): %s", i, clock.Now().UTC().Format(time.RFC3339), body)
		accepted = append(accepted, s.body)
	}

	// Two hours behind, an alert that starts now looks two hours ahead.
	now := time.Now().UTC().Truncate(time.Second)
	current := oneAlert("firing", "search", "a", now)
	before := len(listEvents(t, d.URL))
	code, body := postJSON(t, d.URL+"/api/v1/ingest/alertmanager", current)
	require.Equal(t, http.StatusBadRequest, code, "%s", body)
	for _, want := range []string{"startsAt " + now.Format(time.RFC3339), "ahead of this server's clock", "correlation.max_future_skew", "fix the sender's clock"} {
		require.Contains(t, string(body), want)
	}
	require.Len(t, listEvents(t, d.URL), before, "nothing of the refused notification is stored")
	code, _, err := tryGet(d.URL + "/-/ready")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "the daemon stays ready")

	// The clock is right again: the retry is taken.
	clock.jump(2 * time.Hour)
	code, body = postJSON(t, d.URL+"/api/v1/ingest/alertmanager", current)
	require.Equal(t, http.StatusOK, code, "%s", body)
	accepted = append(accepted, current)

	got := clockIncidents(t, d.URL)
	// The same notifications into a daemon whose clock never moved.
	ref := startInProcess(t, t.TempDir(), cfg)
	for _, b := range accepted {
		postWebhook(t, ref, b)
	}
	want := clockIncidents(t, ref.URL)
	require.Equal(t, want, got, "the clock jumps change no incident")
	require.Len(t, got, 3, "checkout, payments, search")
}

// TestFaultFarFutureTimestamps: an alert that starts in 2099 and a deploy
// dated 9999 are refused with a 400 naming the field, and nothing of
// them is stored; the alerts and deploys that follow correlate as on a
// daemon that never saw them.
func TestFaultFarFutureTimestamps(t *testing.T) {
	skipShort(t)
	const cfg = "correlation:\n  resolve_after: 1s\n"
	d := startInProcess(t, t.TempDir(), cfg)
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	code, body := postJSON(t, d.URL+"/api/v1/ingest/alertmanager", oneAlert("firing", "checkout", "a", far))
	require.Equal(t, http.StatusBadRequest, code, "%s", body)
	require.Contains(t, string(body), "startsAt 2099-01-01T00:00:00Z")
	dep := deployMsg{ID: "d-future", Service: "checkout", Status: "succeeded", At: "9999-12-31T23:59:59Z", Version: "v9"}
	code, body = postJSON(t, d.URL+"/api/v1/ingest/deploys", dep.json(t))
	require.Equal(t, http.StatusBadRequest, code, "%s", body)
	require.Contains(t, string(body), "at 9999-12-31T23:59:59Z")
	require.Empty(t, listEvents(t, d.URL), "nothing stored")

	// What follows is correlated as on a daemon that never saw them.
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	follow := [][]byte{
		deployMsg{ID: "d-1", Service: "checkout", Status: "succeeded", At: t0.Add(-3 * time.Minute).Format(time.RFC3339), Version: "v2"}.json(t),
		oneAlert("firing", "checkout", "a", t0),
		oneAlert("resolved", "checkout", "a", t0),
		oneAlert("firing", "checkout", "a", t0.Add(90*time.Minute)),
	}
	paths := []string{"/api/v1/ingest/deploys", "/api/v1/ingest/alertmanager", "/api/v1/ingest/alertmanager", "/api/v1/ingest/alertmanager"}
	ref := startInProcess(t, t.TempDir(), cfg)
	for i, b := range follow {
		for _, x := range []*daemonProc{d, ref} {
			code, body := postJSON(t, x.URL+paths[i], b)
			require.Equal(t, http.StatusOK, code, "%s", body)
		}
	}
	got := clockIncidents(t, d.URL)
	require.Equal(t, clockIncidents(t, ref.URL), got)
	require.Len(t, got, 2, "an incident, resolved, and a new one 90 minutes later")
}
