package correlate

import (
	"slices"
	"sync"
)

// Commit says what one projection commit changed, so that a live view
// (the API's event stream) can tell its clients without polling.
type Commit struct {
	// Seq is the log position the projection reflects after the commit.
	Seq uint64
	// Incidents are the incidents the commit created or changed, or
	// moved entries off (a merge or a split), sorted by id.
	Incidents []string
	// Reset is set, with no incidents, when the projection was dropped
	// for a rebuild: positions start again from 0 and every incident may
	// change.
	Reset bool
}

// commitSubs are the functions told about each commit.
type commitSubs struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Commit)
}

// Subscribe calls fn after every projection commit that changed an
// incident, and after a reset, in commit order, on the projector's
// goroutine. Correlation waits for fn, so fn must return at once: hand
// the commit on without blocking and drop what a slow reader cannot
// take. The returned func unsubscribes.
func (p *Projector) Subscribe(fn func(Commit)) (cancel func()) {
	s := &p.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(Commit){}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
	}
}

// publish tells the subscribers about one commit.
func (s *commitSubs) publish(c Commit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fn := range s.fns {
		fn(c)
	}
}

// changedIncidents lists the incidents ch touches, sorted.
func changedIncidents(ch *Changes) []string {
	ids := make([]string, 0, len(ch.Incidents))
	for id := range ch.Incidents {
		ids = append(ids, id)
	}
	for _, e := range ch.Entries {
		ids = append(ids, e.IncidentID)
	}
	for _, r := range ch.RemovedEntries {
		ids = append(ids, r.IncidentID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
