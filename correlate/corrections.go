package correlate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Kinds of the events people make. They are events like any other, so a
// replay or a recorrelation keeps them.
const (
	KindNote            = "note"
	KindIncidentUpdated = "incident.updated"
	KindEntryUpdated    = "entry.updated"
)

// Labels a correction event carries.
const (
	// LabelIncidentID names the incident a correction was sent to, and
	// LabelAnchorEvents (a list) events that only that incident held: its
	// alert states and pages, never a deploy, which several incidents can
	// share. The id decides while it names an incident; after a
	// recorrelation under rules that give the incident another id, the
	// incident that now holds most of those events is the one.
	LabelIncidentID   = "incident_id"
	LabelAnchorEvents = "anchor_events"
	// LabelAnchorEvent is the single anchor of corrections written before
	// anchor_events; it is still read, after the id.
	LabelAnchorEvent = "anchor_event"
	LabelAuthor      = "author"
	LabelEntryID     = "entry_id"
	LabelTitle       = "title"
	LabelSeverity    = "severity"
	LabelStatus      = "status"
	LabelPinned      = "pinned"
	LabelHidden      = "hidden"
	LabelNote        = "note"
)

// maxAnchors bounds the events a correction names its incident by: enough
// that a regrouping which moves a few of them still leaves a clear holder.
const maxAnchors = 8

// AnchorEvents picks the events a correction names its incident by (see
// LabelAnchorEvents): the incident's own alert states and PagerDuty events,
// oldest first by log position, at most maxAnchors. An incident of deploys
// and notes only has none; its id alone names it.
func AnchorEvents(tl Timeline) []string {
	own := slices.Clone(tl)
	own = slices.DeleteFunc(own, func(e Entry) bool {
		return e.Source != collector.SourceAlertmanager && e.Source != collector.SourcePagerDuty
	})
	slices.SortStableFunc(own, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	var out []string
	for _, e := range own {
		if len(out) == maxAnchors {
			break
		}
		if !slices.Contains(out, e.EventID) {
			out = append(out, e.EventID)
		}
	}
	return out
}

// Curation is what people decided about one timeline entry.
type Curation struct {
	Pinned bool   `json:"pinned,omitempty"`
	Hidden bool   `json:"hidden,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Overrides are the incident fields people set by hand; they win over
// what correlation suggests.
type Overrides struct {
	Title    string `json:"title,omitempty"`
	Severity string `json:"severity,omitempty"`
	Status   string `json:"status,omitempty"`
	// By says who set each override and when, for the timeline and draft.
	By string `json:"by,omitempty"`
}

// Lookup answers, from the committed projection, which incident an event
// joined and what a stored incident is; the correlator uses it for
// corrections to incidents it no longer holds in memory.
type Lookup interface {
	IncidentOfEvent(eventID string) (string, bool)
	StoredIncident(id string) (*Incident, bool)
	// StoredTimeline is the committed timeline of an incident, for merges
	// and splits, which move entries.
	StoredTimeline(id string) Timeline
}

// SetLookup sets where corrections find incidents that left memory.
func (c *Correlator) SetLookup(l Lookup) { c.lookup = l }

func isCorrection(ev *collector.Event) bool {
	switch ev.Kind {
	case KindNote, KindIncidentUpdated, KindEntryUpdated, KindIncidentMerged, KindIncidentSplit:
		return ev.Source == collector.SourceNote || ev.Source == collector.SourceHindsight
	}
	return isPostmortemEvent(ev.Kind) && ev.Source == collector.SourceHindsight
}

// target finds the incident a correction is about (locate).
func (c *Correlator) target(ev *collector.Event) *Incident {
	anchors := SplitList(ev.Labels[LabelAnchorEvents])
	if len(anchors) == 0 && ev.Labels[LabelAnchorEvent] != "" {
		anchors = []string{ev.Labels[LabelAnchorEvent]}
	}
	return c.locate(ev.Labels[LabelIncidentID], anchors)
}

// locate finds the incident a person named by id and anchor events: the
// incident of that id while there is one, or the one it was merged into;
// else (a recorrelation under new rules gave it another id) the incident
// that now holds most of the anchor events, the earliest anchor breaking
// a tie. The id comes first because an anchor can be shared: a deploy sits
// on every incident it may relate to, and corrections named by one landed
// on another incident (issue 9, defect 4). It revives a stored incident
// that left memory, and only the one it returns.
func (c *Correlator) locate(id string, anchors []string) *Incident {
	if inc := c.followMerges(c.revive(id)); inc != nil {
		return inc
	}
	counts := map[string]int{}
	var order []string
	for _, a := range anchors {
		held, ok := c.incidentOfEvent(a)
		if !ok {
			continue
		}
		held = c.mergedInto(held)
		if counts[held] == 0 {
			order = append(order, held)
		}
		counts[held]++
	}
	best := ""
	for _, h := range order {
		if counts[h] > counts[best] {
			best = h
		}
	}
	return c.followMerges(c.revive(best))
}

// mergedInto follows an incident's merges by id, without reviving
// anything: the incident that holds what id held.
func (c *Correlator) mergedInto(id string) string {
	for range 16 { // as followMerges
		inc := c.live[id]
		if inc == nil {
			var ok bool
			if inc, ok = c.changes.Incidents[id]; !ok && c.lookup != nil {
				inc, ok = c.lookup.StoredIncident(id)
			}
			if !ok {
				return id
			}
		}
		if inc.MergedInto == "" {
			return id
		}
		id = inc.MergedInto
	}
	return id
}

func (c *Correlator) incidentOfEvent(eventID string) (string, bool) {
	for i := len(c.changes.Entries) - 1; i >= 0; i-- {
		if c.changes.Entries[i].EventID == eventID {
			return c.changes.Entries[i].IncidentID, true
		}
	}
	if c.lookup != nil {
		return c.lookup.IncidentOfEvent(eventID)
	}
	return "", false
}

func (c *Correlator) revive(id string) *Incident {
	if id == "" {
		return nil
	}
	if inc := c.live[id]; inc != nil {
		return inc
	}
	// This batch's version, if it changed since the last commit, is newer
	// than the stored one.
	inc, ok := c.changes.Incidents[id]
	if !ok && c.lookup != nil {
		inc, ok = c.lookup.StoredIncident(id)
	}
	if !ok {
		return nil
	}
	if inc.MergedInto != "" {
		return inc // holds nothing; followMerges leads on
	}
	// Back in memory until the next sweep; its partitions are not
	// reclaimed, so new alerts do not join an old incident through it.
	inc.Keys = nil
	c.live[id] = inc
	c.setAnchor(inc, inc.Anchor)
	c.index(inc)
	c.touch(inc)
	return inc
}

// correctionApplied applies a person's correction as an entry on the
// incident's timeline, so the draft shows who changed what and when.
func (c *Correlator) correctionApplied(seq uint64, ev *collector.Event) {
	switch ev.Kind {
	case KindIncidentMerged:
		c.mergeApplied(seq, ev)
		return
	case KindIncidentSplit:
		c.splitApplied(seq, ev)
		return
	}
	if isPostmortemEvent(ev.Kind) {
		c.postmortemApplied(ev)
		return
	}
	inc := c.target(ev)
	if inc == nil {
		return // the incident is gone (never existed, or retention): the event stays in the log
	}
	author := cmp.Or(ev.Labels[LabelAuthor], "someone")
	var reason string
	switch ev.Kind {
	case KindNote:
		reason = "note by " + author
	case KindIncidentUpdated:
		var set []string
		if v := ev.Labels[LabelTitle]; v != "" {
			inc.Overrides.Title = v
			set = append(set, fmt.Sprintf("title to %q", v))
		}
		if v, ok := ev.Labels[LabelSeverity]; ok {
			inc.Overrides.Severity = v
			set = append(set, "severity to "+cmp.Or(v, "the suggestion"))
		}
		if v, ok := ev.Labels[LabelStatus]; ok {
			inc.Overrides.Status = v
			set = append(set, "status to "+cmp.Or(v, "the computed one"))
		}
		inc.Overrides.By = author + " at " + ev.At.UTC().Format(time.RFC3339)
		reason = "override by " + author + ": " + strings.Join(set, ", ")
	case KindEntryUpdated:
		eid := ev.Labels[LabelEntryID]
		if inc.Curation == nil {
			inc.Curation = map[string]*Curation{}
		}
		cu := inc.Curation[eid]
		if cu == nil {
			cu = &Curation{}
			inc.Curation[eid] = cu
		}
		if v, ok := ev.Labels[LabelPinned]; ok {
			cu.Pinned = v == "true"
		}
		if v, ok := ev.Labels[LabelHidden]; ok {
			cu.Hidden = v == "true"
		}
		if v, ok := ev.Labels[LabelNote]; ok {
			cu.Note = v
		}
		c.changes.Incidents[inc.ID] = inc
		return // curation changes the entry, it is not an entry itself
	}
	c.addEntry(inc, seq, ev, "", []string{reason})
}
