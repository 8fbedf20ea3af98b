package correlate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// memoryProjection is a test double of the Badger store's projection
// (correlate/store, which correlate's own tests cannot import): committed
// changes, copied, so that what the correlator holds and what it looks up
// are not the same objects. The evaluation (cmd/hindsight-eval) runs on
// the real store. It is not safe for concurrent use.
type memoryProjection struct {
	incidents map[string][]byte                 // id -> incident JSON
	alerts    map[string]map[string]*AlertState // id -> fingerprint -> alert
	entries   map[string]map[uint64]Entry       // id -> seq -> entry
	eventInc  map[string]string                 // event id -> incident id
	firings   map[string][]time.Time            // fingerprint -> firing starts
	cp        Checkpoint
}

// newMemoryProjection returns an empty projection.
func newMemoryProjection() *memoryProjection {
	return &memoryProjection{
		incidents: map[string][]byte{},
		alerts:    map[string]map[string]*AlertState{},
		entries:   map[string]map[uint64]Entry{},
		eventInc:  map[string]string{},
		firings:   map[string][]time.Time{},
	}
}

// Commit applies ch in the order the Badger store does: removals first.
func (m *memoryProjection) Commit(ch *Changes) error {
	for _, r := range ch.RemovedEntries {
		delete(m.entries[r.IncidentID], r.Seq)
	}
	for _, r := range ch.RemovedAlerts {
		delete(m.alerts[r.IncidentID], r.Fingerprint)
	}
	for id, inc := range ch.Incidents {
		b, err := json.Marshal(inc)
		if err != nil {
			return fmt.Errorf("encode incident %s: %w", id, err)
		}
		m.incidents[id] = b
	}
	for id, as := range ch.Alerts {
		if m.alerts[id] == nil {
			m.alerts[id] = map[string]*AlertState{}
		}
		for fp, a := range as {
			c := *a
			m.alerts[id][fp] = &c
		}
	}
	for _, e := range ch.Entries {
		if m.entries[e.IncidentID] == nil {
			m.entries[e.IncidentID] = map[uint64]Entry{}
		}
		e.Reasons = slices.Clone(e.Reasons)
		m.entries[e.IncidentID][e.Seq] = e
		m.eventInc[e.EventID] = e.IncidentID
		if fp, s := e.Ref.Fingerprint, e.Ref.StartsAt; fp != "" && s != nil && !slices.ContainsFunc(m.firings[fp], s.Equal) {
			m.firings[fp] = append(m.firings[fp], *s)
		}
	}
	m.cp = ch.Checkpoint
	return nil
}

// IncidentOfEvent implements Lookup.
func (m *memoryProjection) IncidentOfEvent(eventID string) (string, bool) {
	id, ok := m.eventInc[eventID]
	return id, ok
}

// StoredIncident implements Lookup.
func (m *memoryProjection) StoredIncident(id string) (*Incident, bool) {
	b, ok := m.incidents[id]
	if !ok {
		return nil, false
	}
	inc := new(Incident)
	if err := json.Unmarshal(b, inc); err != nil {
		return nil, false
	}
	inc.Alerts = map[string]*AlertState{}
	for fp, a := range m.alerts[id] {
		c := *a
		inc.Alerts[fp] = &c
	}
	return inc, true
}

// StoredTimeline implements Lookup.
func (m *memoryProjection) StoredTimeline(id string) Timeline {
	tl := slices.Collect(maps.Values(m.entries[id]))
	slices.SortFunc(tl, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return tl
}

// FiredBetween implements FiringHistory.
func (m *memoryProjection) FiredBetween(fp string, from, to time.Time) (time.Time, bool) {
	var first time.Time
	for _, s := range m.firings[fp] {
		if !s.Before(from) && s.Before(to) && (first.IsZero() || s.Before(first)) {
			first = s
		}
	}
	return first, !first.IsZero()
}

// Incidents returns every incident that was not merged into another, with
// its alerts, ordered by id.
func (m *memoryProjection) Incidents() []*Incident {
	var out []*Incident
	for _, id := range slices.Sorted(maps.Keys(m.incidents)) {
		if inc, ok := m.StoredIncident(id); ok && inc.MergedInto == "" {
			out = append(out, inc)
		}
	}
	return out
}

// Checkpoint is the last committed checkpoint.
func (m *memoryProjection) Checkpoint() Checkpoint { return m.cp }
