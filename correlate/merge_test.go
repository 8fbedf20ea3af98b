package correlate

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// replay applies evs to a fresh correlator and an in-memory projection,
// committing every batch events, as the projector does.
func replay(t *testing.T, cfg *config.Config, batch int, evs ...collector.Event) *memoryProjection {
	t.Helper()
	c := NewCorrelator(cfg, State{})
	p := newMemoryProjection()
	c.SetLookup(p)
	for i, ev := range evs {
		require.NoError(t, ev.Validate())
		c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: ev})
		if (i+1)%batch == 0 || i == len(evs)-1 {
			require.NoError(t, p.Commit(c.Flush()))
		}
	}
	return p
}

// correction builds a person's change as the API does: addressed by
// incident id and by an event of the incident.
func correction(kind, incID, anchor string, at time.Time, labels map[string]string) collector.Event {
	l := map[string]string{LabelIncidentID: incID, LabelAnchorEvents: anchor, LabelAuthor: "alice"}
	for k, v := range labels {
		l[k] = v
	}
	return collector.Event{
		ID: collector.EventID("hindsight", incID, kind, at.Format(time.RFC3339Nano)), Source: collector.SourceHindsight,
		Kind: kind, At: at, ReceivedAt: at, Summary: kind, Labels: l,
	}
}

func incidentOf(t *testing.T, p *memoryProjection, eventID string) *Incident {
	t.Helper()
	id, ok := p.IncidentOfEvent(eventID)
	require.True(t, ok, "event %s is on no timeline", eventID)
	inc, ok := p.StoredIncident(id)
	require.True(t, ok)
	return inc
}

func eventIDs(tl Timeline) []string {
	var out []string
	for _, e := range tl {
		out = append(out, e.EventID)
	}
	return out
}

func TestMerge(t *testing.T) {
	cfg := config.Default()
	min := time.Minute
	// Two unrelated services alert at the same time: two incidents, which
	// a person knows are one (a shared cause the config does not know).
	a1 := firing("search", "i1", m(0))
	b1 := firing("billing", "i1", m(2*min))
	b1r := resolved("billing", "i1", m(2*min), m(6*min))
	base := []collector.Event{a1, b1, b1r}
	for _, batch := range []int{1, 100} { // committed in between, or all in one batch
		p := replay(t, cfg, batch, base...)
		a, b := incidentOf(t, p, a1.ID), incidentOf(t, p, b1.ID)
		require.NotEqual(t, a.ID, b.ID)

		merge := correction(KindIncidentMerged, a.ID, a1.ID, m(10*min), map[string]string{
			LabelFrom: b.ID, LabelFromAnchors: b1.ID})
		// After the merge a new billing alert joins the merged incident
		// (its partition moved), and a note sent to the old id lands there.
		b2 := firing("billing", "i2", m(11*min))
		note := correction(KindNote, b.ID, "", m(12*min), nil)
		note.Source = collector.SourceNote
		evs := append(slices.Clone(base), merge, b2, note)
		p = replay(t, cfg, batch, evs...)

		got := p.Incidents()
		require.Len(t, got, 1, "batch %d: one incident after the merge", batch)
		inc := got[0]
		require.Equal(t, a.ID, inc.ID)
		require.Equal(t, []string{"billing", "search"}, inc.Services)
		require.Len(t, inc.Alerts, 3)
		require.Equal(t, 2, inc.FiringAlerts, "search i1 and billing i2 fire; billing i1 resolved")
		tl := p.StoredTimeline(inc.ID)
		require.Equal(t, []string{a1.ID, b1.ID, b1r.ID, merge.ID, b2.ID, note.ID}, eventIDs(tl))
		require.Equal(t, len(tl), inc.Entries)
		require.Contains(t, tl[1].Reasons, "moved: alice merged "+b.ID+" into this incident")
		require.Equal(t, []string{"merge by alice: " + b.ID + " merged into this incident"}, tl[3].Reasons)

		old, ok := p.StoredIncident(b.ID)
		require.True(t, ok, "the merged incident keeps its record")
		require.Equal(t, a.ID, old.MergedInto)
		require.Empty(t, p.StoredTimeline(b.ID))
		require.Empty(t, old.Alerts)
	}
}

func TestSplit(t *testing.T) {
	cfg := topologyConfig() // checkout depends on postgres
	min := time.Minute
	// postgres fails, checkout alerts 2m later and joins through the
	// dependency. A person knows checkout had its own problem.
	p1 := firing("postgres", "p1", m(0), "cluster", "eu")
	c1 := firing("checkout", "c1", m(2*min), "cluster", "eu")
	c1r := resolved("checkout", "c1", m(2*min), m(5*min), "cluster", "eu")
	c1again := firing("checkout", "c1", m(7*min), "cluster", "eu") // the same alert re-fires
	for _, batch := range []int{1, 100} {
		p := replay(t, cfg, batch, p1, c1, c1r)
		src := incidentOf(t, p, p1.ID)
		require.Equal(t, src.ID, incidentOf(t, p, c1.ID).ID, "joined through the dependency")

		split := correction(KindIncidentSplit, src.ID, p1.ID, m(6*min), map[string]string{LabelEvents: c1.ID})
		p = replay(t, cfg, batch, p1, c1, c1r, split, c1again)

		orig, moved := incidentOf(t, p, p1.ID), incidentOf(t, p, c1.ID)
		require.NotEqual(t, orig.ID, moved.ID, "batch %d", batch)
		require.Equal(t, src.ID, orig.ID, "the original keeps its id")
		require.Equal(t, []string{"postgres"}, orig.Services)
		require.Equal(t, []string{"checkout"}, moved.Services)
		require.Equal(t, "checkout", moved.Anchor)
		require.Equal(t, m(2*min), moved.StartedAt)
		// The whole alert moved: its resolution too, and its episode, so
		// the re-firing joins the split-off incident.
		require.Equal(t, []string{c1.ID, c1r.ID, c1again.ID}, eventIDs(p.StoredTimeline(moved.ID)))
		require.Equal(t, []string{p1.ID, split.ID}, eventIDs(p.StoredTimeline(orig.ID)))
		require.Equal(t, 1, moved.FiringAlerts)
		require.Equal(t, 1, orig.FiringAlerts)
		require.Len(t, orig.Alerts, 1)
		last := p.StoredTimeline(orig.ID)[1]
		require.Equal(t, []string{"split by alice: 2 entries moved to " + moved.ID}, last.Reasons)
	}
}

// TestCorrectionsSurviveRecorrelation replays a log with a merge and a
// split under different rules: the corrections follow their events, and
// the same log gives the same bytes twice.
func TestCorrectionsSurviveRecorrelation(t *testing.T) {
	cfg := topologyConfig()
	min := time.Minute
	a1 := firing("search", "i1", m(0), "cluster", "eu")
	b1 := firing("billing", "i1", m(2*min), "cluster", "eu")
	p1 := firing("postgres", "p1", m(3*min), "cluster", "eu")
	c1 := firing("checkout", "c1", m(4*min), "cluster", "eu")
	p := replay(t, cfg, 1, a1, b1, p1, c1)
	a, b, pay := incidentOf(t, p, a1.ID), incidentOf(t, p, b1.ID), incidentOf(t, p, p1.ID)
	merge := correction(KindIncidentMerged, a.ID, a1.ID, m(5*min), map[string]string{LabelFrom: b.ID, LabelFromAnchors: b1.ID})
	split := correction(KindIncidentSplit, pay.ID, p1.ID, m(6*min), map[string]string{LabelEvents: c1.ID})
	log := []collector.Event{a1, b1, p1, c1, merge, split}

	dump := func(p *memoryProjection) string {
		var out []any
		for _, inc := range p.Incidents() {
			out = append(out, inc, inc.Alerts, p.StoredTimeline(inc.ID))
		}
		b, err := json.Marshal(out)
		require.NoError(t, err)
		return string(b)
	}
	first := dump(replay(t, cfg, 1, log...))
	require.Equal(t, first, dump(replay(t, cfg, 7, log...)), "batching does not change the result")
	require.Equal(t, first, dump(replay(t, cfg, 1, log...)), "the same log gives the same bytes")

	// New rules: a shorter window and no cluster grouping. The incidents'
	// ids may differ, but the person's decisions hold.
	cfg2 := topologyConfig()
	cfg2.Correlation.Window = cfg2.Correlation.Window / 2
	cfg2.Correlation.GroupBy = nil
	p2 := replay(t, cfg2, 3, log...)
	require.Equal(t, incidentOf(t, p2, a1.ID).ID, incidentOf(t, p2, b1.ID).ID, "merge kept")
	require.NotEqual(t, incidentOf(t, p2, p1.ID).ID, incidentOf(t, p2, c1.ID).ID, "split kept")
}

// TestMergeSharedDeploy: a deploy on the timelines of both incidents is
// one entry after the merge.
func TestMergeSharedDeploy(t *testing.T) {
	cfg := topologyConfig() // checkout and search depend on postgres
	min := time.Minute
	d := deployEv("d-9", "postgres", "succeeded", m(0))
	c1 := firing("checkout", "c", m(2*min), "cluster", "eu")
	// Past correlation.storm_window: two dependents of postgres failing
	// minutes apart would be one incident (what they share).
	s1 := firing("search", "s", m(9*min), "cluster", "eu")
	for _, batch := range []int{1, 100} {
		p := replay(t, cfg, batch, d, c1, s1)
		a, b := incidentOf(t, p, c1.ID), incidentOf(t, p, s1.ID)
		require.NotEqual(t, a.ID, b.ID)
		require.Len(t, p.StoredTimeline(a.ID), 2, "the deploy and the alert")
		require.Len(t, p.StoredTimeline(b.ID), 2)
		merge := correction(KindIncidentMerged, a.ID, c1.ID, m(10*min), map[string]string{LabelFrom: b.ID, LabelFromAnchors: s1.ID})
		p = replay(t, cfg, batch, d, c1, s1, merge)
		inc := incidentOf(t, p, c1.ID)
		tl := p.StoredTimeline(inc.ID)
		require.Equal(t, []string{d.ID, c1.ID, s1.ID, merge.ID}, eventIDs(tl), "batch %d", batch)
		require.Equal(t, len(tl), inc.Entries)
		require.Equal(t, []string{"d-9"}, suspectIDs(inc))
	}
}
