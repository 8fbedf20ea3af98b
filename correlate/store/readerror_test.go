package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// flakyReads is the store whose reads of the committed projection fail
// once, at the failAt-th read (counting all four kinds): what a transient
// Badger read error does.
type flakyReads struct {
	*DB
	failAt int
	n      int
	calls  map[string]int
}

var errInjected = errors.New("injected read failure")

func (f *flakyReads) read(kind string) error {
	f.n++
	f.calls[kind]++
	if f.n == f.failAt {
		return errInjected
	}
	return nil
}

func (f *flakyReads) IncidentOfEvent(ctx context.Context, id string) (string, error) {
	if err := f.read("IncidentOfEvent"); err != nil {
		return "", err
	}
	return f.DB.IncidentOfEvent(ctx, id)
}

func (f *flakyReads) Incident(ctx context.Context, id string) (*correlate.Incident, error) {
	if err := f.read("Incident"); err != nil {
		return nil, err
	}
	return f.DB.Incident(ctx, id)
}

func (f *flakyReads) Timeline(ctx context.Context, id string) (correlate.Timeline, error) {
	if err := f.read("Timeline"); err != nil {
		return nil, err
	}
	return f.DB.Timeline(ctx, id)
}

func (f *flakyReads) FirstFiring(ctx context.Context, fp string, from, to time.Time) (time.Time, error) {
	if err := f.read("FirstFiring"); err != nil {
		return time.Time{}, err
	}
	return f.DB.FirstFiring(ctx, fp, from, to)
}

var _ correlate.ProjectionStore = (*flakyReads)(nil)

func alertEvent(service, instance, status string, start, end time.Time) collector.Event {
	labels := map[string]string{"alertname": "HighErrorRate", "service": service, "instance": instance, "severity": "critical"}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	fp := ls.Fingerprint().String()
	s := start
	ev := collector.Event{
		ID: collector.EventID("alertmanager", fp, start.Format(time.RFC3339Nano), status), Source: collector.SourceAlertmanager,
		Kind: "alert." + status, At: start, ReceivedAt: start, Service: service, Labels: labels, Summary: "HighErrorRate " + status,
		Ref:   collector.Ref{Fingerprint: fp, StartsAt: &s},
		Alert: &collector.Alert{Name: "HighErrorRate", Status: status, Severity: "critical", StartsAt: start, EndsAt: end},
	}
	if status == "resolved" {
		ev.At = end
	}
	return ev
}

func correctionEvent(kind, incID, anchor string, at time.Time, labels map[string]string) collector.Event {
	l := map[string]string{correlate.LabelIncidentID: incID, correlate.LabelAnchorEvent: anchor, correlate.LabelAuthor: "alice"}
	for k, v := range labels {
		l[k] = v
	}
	src := collector.SourceHindsight
	if kind == correlate.KindNote {
		src = collector.SourceNote
	}
	return collector.Event{
		ID: collector.EventID(src, incID, kind, at.Format(time.RFC3339Nano)), Source: src,
		Kind: kind, At: at, ReceivedAt: at, Summary: kind, Labels: l,
	}
}

// projectEach appends the groups of events one at a time and brings the
// projection up to date after each, retrying a failed batch as
// Projector.Run does. It returns how many batches failed.
func projectEach(t *testing.T, db *DB, store correlate.ProjectionStore, groups [][]collector.Event) int {
	t.Helper()
	ctx := t.Context()
	p, err := correlate.NewProjector(ctx, db, store, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	require.NoError(t, err)
	failed := 0
	for _, evs := range groups {
		_, err := db.Append(ctx, evs...)
		require.NoError(t, err)
		for try := 0; ; try++ {
			err := p.CatchUp(ctx)
			if err == nil {
				break
			}
			require.ErrorIs(t, err, errInjected)
			require.Less(t, try, 3, "a transient failure passes on retry")
			failed++
		}
	}
	return failed
}

// snapshot is everything the projection holds: every incident with its
// timeline, and the correlation state a restart resumes from.
func snapshot(t *testing.T, db *DB) string {
	t.Helper()
	ctx := t.Context()
	var out []any
	require.NoError(t, db.ScanIncidents(ctx, "", func(inc *correlate.Incident, _ string) bool {
		tl, err := db.Timeline(ctx, inc.ID)
		require.NoError(t, err)
		out = append(out, inc, tl)
		return true
	}))
	st, err := db.LoadState(ctx)
	require.NoError(t, err)
	out = append(out, st)
	b, err := json.MarshalIndent(out, "", " ")
	require.NoError(t, err)
	return string(b)
}

// TestReadErrorsDoNotChangeIncidents: a read of the committed projection
// that fails (the correlator asks it whether an alert fired before a
// deploy, for the timeline of an incident it merges, for the incident a
// correction's event is on, for an incident that left memory) fails its
// batch, which is applied again: whichever read fails, the incidents
// equal those of a run where none does (correlate/doc.go: the same log
// gives the same incidents).
func TestReadErrorsDoNotChangeIncidents(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	m := func(d time.Duration) time.Time { return t0.Add(d) }
	min := time.Minute
	first := alertEvent("checkout", "a", "firing", m(0), time.Time{})
	again := alertEvent("checkout", "a", "firing", m(95*min), time.Time{})
	billing := alertEvent("billing", "b", "firing", m(96*min), time.Time{})
	evs := [][]collector.Event{
		{first},
		{alertEvent("checkout", "a", "resolved", m(0), m(10*min))},
		{alertEvent("search", "x", "firing", m(80*min), time.Time{})},
		{{ID: collector.EventID("deploy", "d-1", "succeeded"), Source: collector.SourceDeploy, Kind: "deploy.succeeded",
			At: m(90 * min), ReceivedAt: m(90 * min), Service: "checkout", Summary: "checkout deploy succeeded", Ref: collector.Ref{DeployID: "d-1"}}},
		{again}, // the deploy is not blamed: the alert fired before it (a committed firing)
		{billing},
	}
	inMemory := func() *DB {
		db, err := Open("", Options{InMemory: true}, promslog.NewNopLogger(), prometheus.NewRegistry())
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}

	// The corrections name incidents by id, as the API sends them.
	db := inMemory()
	projectEach(t, db, db, evs)
	ctx := t.Context()
	idOf := func(ev collector.Event) string {
		id, err := db.IncidentOfEvent(ctx, ev.ID)
		require.NoError(t, err)
		require.NotEmpty(t, id, "event %s is on an incident", ev.ID)
		return id
	}
	old, into, from := idOf(first), idOf(again), idOf(billing)
	require.NotEqual(t, old, into)
	var later []collector.Event
	for i := range 1100 { // the correlator sweeps every 1024 events
		later = append(later, alertEvent("search", fmt.Sprint("y", i), "firing", m(24*time.Hour), time.Time{}))
	}
	evs = append(evs,
		[]collector.Event{correctionEvent(correlate.KindIncidentMerged, into, again.ID, m(100*min),
			map[string]string{correlate.LabelFrom: from, correlate.LabelFromAnchors: billing.ID})},
		[]collector.Event{alertEvent("billing", "b2", "firing", m(102*min), time.Time{})}, // joins the merged incident
		// A day later, past a sweep, every incident above has left
		// memory: a note on one revives it from the store.
		later,
		[]collector.Event{correctionEvent(correlate.KindNote, old, first.ID, m(24*time.Hour+min), nil)},
		// A note whose incident id names nothing (as after a recorrelation
		// under rules that changed the ids) finds its incident by the
		// event it names.
		[]collector.Event{correctionEvent(correlate.KindNote, "inc-renamed", again.ID, m(24*time.Hour+2*min), nil)},
	)

	clean := &flakyReads{DB: inMemory(), calls: map[string]int{}}
	require.Zero(t, projectEach(t, clean.DB, clean, evs))
	want := snapshot(t, clean.DB)
	for _, kind := range []string{"IncidentOfEvent", "Incident", "Timeline", "FirstFiring"} {
		require.Positive(t, clean.calls[kind], "the scenario reads the committed projection with %s", kind)
	}
	inc, err := clean.DB.Incident(ctx, into)
	require.NoError(t, err)
	require.Empty(t, inc.Suspects, "the alert fired before the deploy (the clean run's outcome)")
	tl, err := clean.DB.Timeline(ctx, old)
	require.NoError(t, err)
	require.Equal(t, correlate.KindNote, tl[len(tl)-1].Kind, "the note is on the incident that left memory")

	for failAt := 1; failAt <= clean.n; failAt++ {
		t.Run(fmt.Sprintf("read %d of %d fails", failAt, clean.n), func(t *testing.T) {
			f := &flakyReads{DB: inMemory(), failAt: failAt, calls: map[string]int{}}
			require.Equal(t, 1, projectEach(t, f.DB, f, evs), "the batch of the failed read fails once")
			require.Equal(t, want, snapshot(t, f.DB))
		})
	}
}
