package correlate

import (
	"cmp"
	"fmt"
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
	LabelIncidentID  = "incident_id"
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
	return false
}

// target finds the incident a correction is about: the incident that now
// holds its anchor event (so corrections follow their events through a
// recorrelation), else the incident by id, or the one it was merged into.
// It revives a stored incident that left memory.
func (c *Correlator) target(ev *collector.Event) *Incident {
	if anchor := ev.Labels[LabelAnchorEvent]; anchor != "" {
		if id, ok := c.incidentOfEvent(anchor); ok {
			if inc := c.followMerges(c.revive(id)); inc != nil {
				return inc
			}
		}
	}
	return c.followMerges(c.revive(ev.Labels[LabelIncidentID]))
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
