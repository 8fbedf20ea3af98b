package correlate

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hindsight-ops/hindsight/collector"
)

// Kinds of the events that regroup incidents by hand. Like every
// correction they are events in the log, so a recorrelation replays them.
const (
	KindIncidentMerged = "incident.merged"
	KindIncidentSplit  = "incident.split"
)

// Labels of merge and split events. Lists are comma-separated.
const (
	// LabelFrom names the incidents merged into the target, and
	// LabelFromAnchors the anchor events of each (AnchorEvents; same order,
	// one group per incident, groups separated by ";"), so that after a
	// recorrelation under new rules the merge follows those events.
	LabelFrom        = "from"
	LabelFromAnchors = "from_anchors"
	// LabelFromAnchorEvents is the single anchor per incident that merges
	// written before from_anchors carry; it is still read.
	LabelFromAnchorEvents = "from_anchor_events"
	// LabelEvents names the events whose entries a split moves.
	LabelEvents = "events"
)

// EntryRef names one stored timeline entry: an incident and a log position.
type EntryRef struct {
	IncidentID string `json:"incident_id"`
	Seq        uint64 `json:"seq"`
}

// AlertRef names one alert of one incident.
type AlertRef struct {
	IncidentID  string `json:"incident_id"`
	Fingerprint string `json:"fingerprint"`
}

// JoinList and SplitList encode the list labels of merge and split events.
func JoinList(ids []string) string { return strings.Join(ids, ",") }

// SplitList decodes a list label; empty items are dropped.
func SplitList(s string) []string { return splitList(s) }

// timelineOf returns inc's entries as they stand in this batch: what the
// store committed, less what was moved away since, plus what is pending,
// ordered by log position.
func (c *Correlator) timelineOf(id string) Timeline {
	var tl Timeline
	if c.lookup != nil {
		gone := c.changes.removed[id]
		for _, e := range c.lookup.StoredTimeline(id) {
			if !gone[e.Seq] {
				tl = append(tl, e)
			}
		}
	}
	pending := map[uint64]bool{}
	for _, e := range c.changes.Entries {
		if e.IncidentID == id {
			pending[e.Seq] = true
		}
	}
	if len(pending) > 0 {
		tl = slices.DeleteFunc(tl, func(e Entry) bool { return pending[e.Seq] })
		for _, e := range c.changes.Entries {
			if e.IncidentID == id {
				tl = append(tl, e)
			}
		}
	}
	slices.SortStableFunc(tl, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	// One event is one entry per incident: a deploy step both incidents of
	// a merge had is kept once (the later copy, as the store keeps it).
	for i := len(tl) - 1; i > 0; i-- {
		if tl[i-1].Seq == tl[i].Seq {
			tl = slices.Delete(tl, i-1, i)
		}
	}
	return tl
}

// moveEntries moves entries from one incident to another, with why.
// Pending entries are rewritten in place; committed ones are written anew
// and their old keys removed.
func (c *Correlator) moveEntries(from, to *Incident, entries Timeline, why string) {
	moving := make(map[uint64]bool, len(entries))
	for _, e := range entries {
		moving[e.Seq] = true
	}
	inPending := map[uint64]bool{}
	for i := range c.changes.Entries {
		e := &c.changes.Entries[i]
		if e.IncidentID == from.ID && moving[e.Seq] {
			e.IncidentID = to.ID
			e.Reasons = append(slices.Clip(e.Reasons), why)
			inPending[e.Seq] = true
		}
	}
	for _, e := range entries {
		if inPending[e.Seq] {
			continue
		}
		if c.changes.removed == nil {
			c.changes.removed = map[string]map[uint64]bool{}
		}
		if c.changes.removed[from.ID] == nil {
			c.changes.removed[from.ID] = map[uint64]bool{}
		}
		c.changes.removed[from.ID][e.Seq] = true
		c.changes.RemovedEntries = append(c.changes.RemovedEntries, EntryRef{IncidentID: from.ID, Seq: e.Seq})
		e.IncidentID = to.ID
		e.Reasons = append(slices.Clip(e.Reasons), why)
		c.changes.Entries = append(c.changes.Entries, e)
	}
	for _, e := range entries {
		if cu := from.Curation[e.ID]; cu != nil {
			if to.Curation == nil {
				to.Curation = map[string]*Curation{}
			}
			to.Curation[e.ID] = cu
			delete(from.Curation, e.ID)
		}
		if e.Source == collector.SourceDeploy {
			delete(from.DeployEntries, e.EventID)
			if to.DeployEntries == nil {
				to.DeployEntries = map[string]bool{}
			}
			to.DeployEntries[e.EventID] = true
		}
	}
	c.changes.Incidents[from.ID] = from
	c.changes.Incidents[to.ID] = to
}

// moveAlert moves one alert (all its firings) to another incident, with
// its episode.
func (c *Correlator) moveAlert(from, to *Incident, fp string) {
	a := from.Alerts[fp]
	if a == nil {
		return
	}
	from.setFiring(a, false)
	delete(from.Alerts, fp)
	if dirty := c.changes.Alerts[from.ID]; dirty != nil {
		delete(dirty, fp)
	}
	c.changes.RemovedAlerts = append(c.changes.RemovedAlerts, AlertRef{IncidentID: from.ID, Fingerprint: fp})
	firing := a.Firing
	a.Firing = false
	if b := to.Alerts[fp]; b != nil {
		// The same alert fired in both: one alert with every firing.
		if a.StartsAt.After(b.StartsAt) {
			a.Firings += b.Firings
			a.FirstStart = minTime(a.FirstStart, b.FirstStart)
			to.setFiring(b, false)
			to.Alerts[fp] = a
		} else {
			b.Firings += a.Firings
			b.FirstStart = minTime(a.FirstStart, b.FirstStart)
			firing = b.Firing
			a = b
		}
	} else {
		to.Alerts[fp] = a
	}
	to.setFiring(a, firing)
	dirty := c.changes.Alerts[to.ID]
	if dirty == nil {
		dirty = map[string]*AlertState{}
		c.changes.Alerts[to.ID] = dirty
	}
	dirty[fp] = a
	if ep := c.episodes[fp]; ep != nil && ep.IncidentID == from.ID {
		c.unfileEpisode(from.ID)
		ep.IncidentID = to.ID
		c.fileEpisode(ep)
		c.changes.Episodes[fp] = ep
	}
}

// movePage moves a linked PagerDuty incident to another incident.
func (c *Correlator) movePage(from, to *Incident, pdID string) {
	i := slices.IndexFunc(from.PagerDuty, func(p *PagerDutyState) bool { return p.IncidentID == pdID })
	if i < 0 {
		return
	}
	p := from.PagerDuty[i]
	from.PagerDuty = slices.Delete(from.PagerDuty, i, i+1)
	if !slices.ContainsFunc(to.PagerDuty, func(q *PagerDutyState) bool { return q.IncidentID == pdID }) {
		to.PagerDuty = append(to.PagerDuty, p)
	}
	if c.pdIncidents[pdID] == from.ID {
		c.pdIncidents[pdID] = to.ID
	}
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// settle recomputes what an incident's timeline decides after entries
// moved in or out: its times, services, counts and group keys.
func (c *Correlator) settle(inc *Incident) {
	tl := c.timelineOf(inc.ID)
	inc.Entries = len(tl)
	inc.FirstSeq, inc.LastSeq = 0, 0
	inc.StartedAt, inc.LastActivity, inc.LastEnd = time.Time{}, time.Time{}, time.Time{}
	for _, s := range inc.Services {
		if s != inc.Anchor {
			c.unindexService(inc, s) // indexed again below if it stays
		}
	}
	inc.Services = nil
	var hashes []string
	for _, e := range tl {
		if inc.FirstSeq == 0 || e.Seq < inc.FirstSeq {
			inc.FirstSeq = e.Seq
		}
		inc.LastSeq = max(inc.LastSeq, e.Seq)
		switch e.Source {
		case collector.SourceNote, collector.SourceHindsight, collector.SourceDeploy:
			continue // people's changes and deploys do not move the incident's times or services
		}
		if e.Service != "" && !slices.Contains(inc.Services, e.Service) {
			inc.Services = append(inc.Services, e.Service)
		}
		inc.StartedAt = minTime(inc.StartedAt, e.At)
		inc.LastActivity = maxTime(inc.LastActivity, e.At)
		if e.Kind == collector.KindAlertResolved || e.Kind == kindPagerDutyPrefix+"incident.resolved" {
			inc.LastEnd = maxTime(inc.LastEnd, e.At)
		}
		if e.Alert != nil && e.Alert.GroupKey != "" {
			if h := GroupKeyHash(e.Alert.GroupKey); !slices.Contains(hashes, h) {
				hashes = append(hashes, h)
			}
		}
	}
	for _, a := range inc.Alerts {
		inc.StartedAt = minTime(inc.StartedAt, a.FirstStart)
	}
	slices.Sort(inc.Services)
	for _, h := range hashes {
		if c.live[c.groupKeys[h]] == nil || !slices.Contains(inc.GroupKeyHashes, h) {
			c.groupKeys[h] = inc.ID
		}
	}
	inc.GroupKeyHashes = hashes
	inc.MonitoringGap = monitoringGap(inc)
	for _, s := range inc.Services {
		c.indexService(inc, s)
	}
	c.indexTargets(inc)
	c.touch(inc)
	c.changes.Incidents[inc.ID] = inc
	c.attachDeploys(inc)
	if len(inc.DeployEntries) > 0 || len(inc.Suspects) > 0 {
		c.rankSuspects(inc)
	}
}

// monitoringGap reports whether a page was raised before any alert of inc
// fired.
func monitoringGap(inc *Incident) bool {
	var page time.Time
	for _, p := range inc.PagerDuty {
		page = minTime(page, p.TriggeredAt)
	}
	if page.IsZero() {
		return false
	}
	for _, a := range inc.Alerts {
		if !a.FirstStart.After(page) {
			return false
		}
	}
	return true
}

// followMerges returns the incident inc was merged into, if it was.
func (c *Correlator) followMerges(inc *Incident) *Incident {
	for range 16 { // merges form chains; a bound guards against a cycle
		if inc == nil || inc.MergedInto == "" {
			return inc
		}
		inc = c.revive(inc.MergedInto)
	}
	return inc
}

// merge moves everything of from into into: entries, alerts with their
// episodes, pages, partitions, curation. from stays in the store, marked
// as merged, so its id still leads somewhere.
func (c *Correlator) merge(into, from *Incident, why string) {
	if into == from || from.MergedInto != "" {
		return
	}
	c.moveEntries(from, into, c.timelineOf(from.ID), why)
	for _, fp := range slices.Sorted(maps.Keys(from.Alerts)) {
		c.moveAlert(from, into, fp)
	}
	for _, p := range slices.Clone(from.PagerDuty) {
		c.movePage(from, into, p.IncidentID)
	}
	for _, k := range slices.Clone(from.Keys) {
		c.claim(k, into)
	}
	into.Storm = into.Storm || from.Storm
	into.LastOnset = maxTime(into.LastOnset, from.LastOnset)
	into.Reopens += from.Reopens
	// People's follow-ups go with the incident; the review and exports of
	// from's post-mortem stay with it, as history.
	for _, a := range from.ActionItems {
		if !slices.ContainsFunc(into.ActionItems, func(b ActionItem) bool { return b.ID == a.ID }) {
			into.ActionItems = append(into.ActionItems, a)
		}
	}
	from.ActionItems = nil
	from.MergedInto = into.ID
	from.Keys = nil
	from.Suspects = nil
	from.Entries = 0
	c.forget(from)
	c.settle(into)
}

// forget takes a merged incident out of memory and its indexes; its
// record is written once more, with MergedInto.
func (c *Correlator) forget(inc *Incident) {
	c.forgetIncident(inc)
	c.changes.Incidents[inc.ID] = inc
}

// mergeApplied applies a person's merge: the incidents named in the event
// (found by their anchor events first, so a recorrelation keeps the
// merge) move into the target.
func (c *Correlator) mergeApplied(seq uint64, ev *collector.Event) {
	into := c.target(ev)
	if into == nil {
		return
	}
	author := cmp.Or(ev.Labels[LabelAuthor], "someone")
	ids := SplitList(ev.Labels[LabelFrom])
	var groups [][]string
	if g := ev.Labels[LabelFromAnchors]; g != "" {
		for _, part := range strings.Split(g, ";") {
			groups = append(groups, SplitList(part))
		}
	} else {
		for _, a := range SplitList(ev.Labels[LabelFromAnchorEvents]) {
			groups = append(groups, []string{a})
		}
	}
	var merged []string
	for i, id := range ids {
		var anchors []string
		if i < len(groups) {
			anchors = groups[i]
		}
		from := c.locate(id, anchors)
		if from == nil || from == into {
			continue
		}
		merged = append(merged, from.ID)
		c.merge(into, from, fmt.Sprintf("moved: %s merged %s into this incident", author, from.ID))
	}
	reason := "merge by " + author + ": nothing to merge (the incidents are already one)"
	if len(merged) > 0 {
		reason = "merge by " + author + ": " + strings.Join(merged, ", ") + " merged into this incident"
	}
	c.addEntry(into, seq, ev, "", []string{reason})
}

// splitApplied applies a person's split: the entries of the named events
// move to a new incident, each alert and page whole (all its entries),
// since one alert firing belongs to one incident.
func (c *Correlator) splitApplied(seq uint64, ev *collector.Event) {
	src := c.target(ev)
	if src == nil {
		return
	}
	author := cmp.Or(ev.Labels[LabelAuthor], "someone")
	named := map[string]bool{}
	for _, id := range SplitList(ev.Labels[LabelEvents]) {
		named[id] = true
	}
	tl := c.timelineOf(src.ID)
	fps, pages := map[string]bool{}, map[string]bool{}
	for _, e := range tl {
		if !named[e.EventID] {
			continue
		}
		if fp := e.Ref.Fingerprint; fp != "" && src.Alerts[fp] != nil {
			fps[fp] = true
		}
		if p := e.Ref.PagerDutyIncidentID; p != "" {
			pages[p] = true
		}
	}
	var moving, staying Timeline
	for _, e := range tl {
		if named[e.EventID] || fps[e.Ref.Fingerprint] || pages[e.Ref.PagerDutyIncidentID] {
			moving = append(moving, e)
		} else {
			staying = append(staying, e)
		}
	}
	if len(moving) == 0 || len(staying) == 0 {
		c.addEntry(src, seq, ev, "", []string{"split by " + author + ": nothing moved (the entries are not on this incident, or they are all of it)"})
		return
	}
	first := moving[0]
	for _, e := range moving {
		if e.Source != collector.SourceNote && e.Source != collector.SourceHindsight && e.Source != collector.SourceDeploy {
			first = e
			break
		}
	}
	anchor := cmp.Or(first.Service, entryAlertName(first), src.Anchor)
	h := sha256.Sum256([]byte("split\x00" + ev.ID))
	id := ulid.ULID{}
	_ = id.SetTime(ulid.Timestamp(first.At))
	_ = id.SetEntropy(h[:10])
	var gl map[string]string
	for _, l := range c.s.groupBy {
		if v := first.Labels[l]; v != "" {
			if gl == nil {
				gl = map[string]string{}
			}
			gl[l] = v
		}
	}
	n := &Incident{
		V:           incidentVersion,
		ID:          "inc-" + id.String(),
		Anchor:      anchor,
		GroupLabels: gl,
		Title:       anchor + ": " + cmp.Or(entryAlertName(first), first.Summary),
		Alerts:      map[string]*AlertState{},
		Storm:       false,
	}
	n.Key = partitionKey(anchor, gl, c.s.groupBy)
	c.live[n.ID] = n
	c.setAnchor(n, anchor)
	c.index(n)
	c.moveEntries(src, n, moving, fmt.Sprintf("moved: %s split this from %s", author, src.ID))
	for _, fp := range slices.Sorted(maps.Keys(fps)) {
		c.moveAlert(src, n, fp)
	}
	for _, p := range slices.Sorted(maps.Keys(pages)) {
		c.movePage(src, n, p)
	}
	// The partitions of the moved alerts follow them, unless an alert that
	// stays shares one: then new alerts there keep joining the original.
	stay := map[string]bool{}
	for _, a := range src.Alerts {
		stay[c.alertPartition(a)] = true
	}
	for _, fp := range slices.Sorted(maps.Keys(fps)) {
		if k := c.alertPartition(n.Alerts[fp]); !stay[k] && slices.Contains(src.Keys, k) {
			c.claim(k, n)
		}
	}
	if !anchorStays(src) {
		for _, e := range staying {
			if e.Ref.Fingerprint != "" && src.Alerts[e.Ref.Fingerprint] != nil {
				c.setAnchor(src, cmp.Or(e.Service, entryAlertName(e)))
				break
			}
		}
	}
	c.settle(n)
	c.settle(src)
	c.addEntry(src, seq, ev, "", []string{fmt.Sprintf("split by %s: %d entries moved to %s", author, len(moving), n.ID)})
}

// anchorStays reports whether an alert of inc is still on its anchor.
func anchorStays(inc *Incident) bool {
	for _, a := range inc.Alerts {
		if a.Service == inc.Anchor || (a.Service == "" && a.Name == inc.Anchor) {
			return true
		}
	}
	return false
}

func entryAlertName(e Entry) string {
	if e.Alert != nil && e.Alert.Name != "" {
		return e.Alert.Name
	}
	return e.Labels["alertname"]
}

// alertPartition is the partition new firings of a's service and labels
// are grouped under.
func (c *Correlator) alertPartition(a *AlertState) string {
	var gl map[string]string
	for _, l := range c.s.groupBy {
		if v := a.Labels[l]; v != "" {
			if gl == nil {
				gl = map[string]string{}
			}
			gl[l] = v
		}
	}
	if a.Service != "" {
		return partitionKey(a.Service, gl, c.s.groupBy)
	}
	return partitionKeyAlert(a.Name, gl, c.s.groupBy)
}

// partitionKey and partitionKeyAlert spell a partition the way
// Correlator.partition does: by service, or without one by alert name,
// then every group_by label (empty when absent).
func partitionKey(service string, gl map[string]string, groupBy []string) string {
	return partitionText("service="+service, gl, groupBy)
}

func partitionKeyAlert(name string, gl map[string]string, groupBy []string) string {
	return partitionText("alertname="+name, gl, groupBy)
}

func partitionText(head string, gl map[string]string, groupBy []string) string {
	var b strings.Builder
	b.WriteString(head)
	for _, l := range groupBy {
		b.WriteString("|" + l + "=" + gl[l])
	}
	return b.String()
}
