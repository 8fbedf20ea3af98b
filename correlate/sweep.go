package correlate

import (
	"slices"
	"time"
)

// The sweep forgets what no future event can join. Scanning every live
// incident and episode each time cost more than correlating (an episode
// per alert ever seen while its incident lives: hundreds of thousands in
// a replay), so the sweep keeps indexes of what may have settled instead.
// They are derived from the state alone (restore rebuilds them), so a
// sweep forgets exactly what a full scan would, at the same log positions.
//
// Why the indexes see every change:
//   - an incident's settle time (its latest activity or resolution) only
//     grows, and it can stop firing only through an event on its
//     timeline; every such event goes through addEntry, which marks it
//     touched. A touched incident is queued by its settle time at the next
//     sweep; one that is still firing when its time comes is dropped from
//     the queue until it is touched again.
//   - an episode changes only in setEpisode, which queues it by its last
//     end whenever it is not firing, and files it under its incident, so
//     that forgetting an incident forgets its episodes.

// sweepIndex is what the sweep looks at instead of everything in memory.
type sweepIndex struct {
	// touched are the incidents whose times or firing may have changed
	// since the last sweep.
	touched map[*Incident]struct{}
	// settling queues live incidents by settle time; queuedAt is the time
	// each is queued at (older entries of it are stale).
	settling deadlines[*Incident]
	queuedAt map[*Incident]time.Time
	// ended queues episodes that are not firing by their last end.
	ended deadlines[*Episode]
	// members are the episodes by incident id (with stale entries, see
	// episodeSet).
	members map[string]*episodeSet
	// orphans are restored episodes whose incident was not live.
	orphans []*Episode
}

func newSweepIndex() sweepIndex {
	return sweepIndex{
		touched:  map[*Incident]struct{}{},
		queuedAt: map[*Incident]time.Time{},
		members:  map[string]*episodeSet{},
	}
}

// episodeSet lists the episodes filed under one incident. An episode that
// moved to another incident or was forgotten stays listed until the list
// is compacted; stale counts them, roughly, to decide when.
type episodeSet struct {
	eps   []*Episode
	stale int
}

// touch notes that inc's times or firing may have changed.
func (c *Correlator) touch(inc *Incident) {
	c.sw.touched[inc] = struct{}{}
}

// settleTime is the time from which an incident with nothing firing
// counts as settled.
func settleTime(inc *Incident) time.Time {
	return maxTime(inc.LastActivity, inc.LastEnd)
}

// fileEpisode files ep under its incident.
func (c *Correlator) fileEpisode(ep *Episode) {
	m := c.sw.members[ep.IncidentID]
	if m == nil {
		m = &episodeSet{}
		c.sw.members[ep.IncidentID] = m
	}
	m.eps = append(m.eps, ep)
}

// unfileEpisode notes that ep no longer belongs under incID, and compacts
// the list when most of it is stale.
func (c *Correlator) unfileEpisode(incID string) {
	m := c.sw.members[incID]
	if m == nil {
		return
	}
	m.stale++
	if m.stale < 32 || 2*m.stale < len(m.eps) {
		return
	}
	keep := m.eps[:0]
	for _, ep := range m.eps {
		if ep.IncidentID == incID && c.episodes[ep.Fingerprint] == ep {
			keep = append(keep, ep)
		}
	}
	clear(m.eps[len(keep):])
	m.eps = keep
	m.stale = 0
	if len(keep) == 0 {
		delete(c.sw.members, incID)
	}
}

// queueEnded queues an episode that is not firing by its last end.
func (c *Correlator) queueEnded(ep *Episode) {
	c.sw.ended.push(ep.LastEnd, ep)
}

// sweep forgets what no future event can join: incidents with nothing
// firing, settled for longer than every window, and their episodes.
func (c *Correlator) sweep() {
	h := c.s.horizon()
	expired := func(t time.Time) bool { return c.watermark.Sub(t) > h }

	for inc := range c.sw.touched {
		if c.live[inc.ID] != inc {
			continue
		}
		at := settleTime(inc)
		if q, ok := c.sw.queuedAt[inc]; ok && q.Equal(at) {
			continue
		}
		c.sw.queuedAt[inc] = at
		c.sw.settling.push(at, inc)
	}
	clear(c.sw.touched)

	for c.sw.settling.len() > 0 && expired(c.sw.settling.min()) {
		d := c.sw.settling.pop()
		inc := d.item
		if q, ok := c.sw.queuedAt[inc]; !ok || !q.Equal(d.at) || c.live[inc.ID] != inc {
			continue // queued again later, or gone
		}
		delete(c.sw.queuedAt, inc)
		if inc.Firing() > 0 {
			continue // touched again before it can stop firing
		}
		c.forgetIncident(inc)
	}

	for c.sw.ended.len() > 0 && expired(c.sw.ended.min()) {
		d := c.sw.ended.pop()
		ep := d.item
		if c.episodes[ep.Fingerprint] != ep || ep.Firing || !ep.LastEnd.Equal(d.at) {
			continue // forgotten, firing again, or queued again
		}
		c.forgetEpisode(ep)
		c.unfileEpisode(ep.IncidentID)
	}

	for _, ep := range c.sw.orphans {
		if c.episodes[ep.Fingerprint] == ep && c.live[ep.IncidentID] == nil {
			c.forgetEpisode(ep)
			c.unfileEpisode(ep.IncidentID)
		}
	}
	c.sw.orphans = nil

	c.forgetDeploys(h)
	slices.Sort(c.changes.ForgottenIncidents)
	slices.Sort(c.changes.ForgottenEpisodes)
	slices.Sort(c.changes.ForgottenSteps)
}

// forgetIncident drops a settled incident, and the episodes filed under
// it, from memory.
func (c *Correlator) forgetIncident(inc *Incident) {
	id := inc.ID
	delete(c.live, id)
	delete(c.sw.queuedAt, inc)
	c.unindex(inc)
	for _, k := range inc.Keys {
		if c.byKey[k] == id {
			delete(c.byKey, k)
		}
	}
	for _, p := range inc.PagerDuty {
		if c.pdIncidents[p.IncidentID] == id {
			delete(c.pdIncidents, p.IncidentID)
		}
	}
	for _, h := range inc.GroupKeyHashes {
		if c.groupKeys[h] == id {
			delete(c.groupKeys, h)
		}
	}
	c.changes.ForgottenIncidents = append(c.changes.ForgottenIncidents, id)
	if m := c.sw.members[id]; m != nil {
		for _, ep := range m.eps {
			if ep.IncidentID == id && c.episodes[ep.Fingerprint] == ep {
				c.forgetEpisode(ep)
			}
		}
		delete(c.sw.members, id)
	}
}

func (c *Correlator) forgetEpisode(ep *Episode) {
	delete(c.episodes, ep.Fingerprint)
	delete(c.changes.Episodes, ep.Fingerprint)
	c.changes.ForgottenEpisodes = append(c.changes.ForgottenEpisodes, ep.Fingerprint)
}

// deadlines is a min-heap of items by time. Entries are not removed when
// their item changes: whoever pops one checks it against the item.
type deadlines[T any] struct {
	q []deadline[T]
}

type deadline[T any] struct {
	at   time.Time
	item T
}

func (d *deadlines[T]) len() int { return len(d.q) }

// min returns the earliest time queued; the heap must not be empty.
func (d *deadlines[T]) min() time.Time { return d.q[0].at }

func (d *deadlines[T]) push(at time.Time, item T) {
	d.q = append(d.q, deadline[T]{at: at, item: item})
	i := len(d.q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !d.q[i].at.Before(d.q[p].at) {
			break
		}
		d.q[i], d.q[p] = d.q[p], d.q[i]
		i = p
	}
}

// pop removes and returns the earliest entry; the heap must not be empty.
func (d *deadlines[T]) pop() deadline[T] {
	top := d.q[0]
	n := len(d.q) - 1
	d.q[0] = d.q[n]
	d.q[n] = deadline[T]{} // do not keep the item alive
	d.q = d.q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && d.q[r].at.Before(d.q[l].at) {
			m = r
		}
		if !d.q[m].at.Before(d.q[i].at) {
			break
		}
		d.q[i], d.q[m] = d.q[m], d.q[i]
		i = m
	}
	return top
}
