package correlate

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// sweepEvery is how many log positions pass between two evictions of
// settled state from memory. It is a property of the log, not of time, so
// eviction happens at the same points in a replay.
const sweepEvery = 1024

// Episode is the lifecycle of one alert identity (fingerprint): a firing
// that resolves and fires again within reopen_within continues its
// episode, and so stays in the same incident.
type Episode struct {
	Fingerprint string    `json:"fingerprint"`
	IncidentID  string    `json:"incident_id"`
	Firing      bool      `json:"firing"`
	StartsAt    time.Time `json:"starts_at"`
	LastEnd     time.Time `json:"last_end,omitzero"`
	// Recent are the latest firing starts, for flap detection.
	Recent []time.Time `json:"recent,omitempty"`
}

// Checkpoint is the log position a projection reflects, with the newest
// event time seen up to it (the watermark that lateness is measured by).
type Checkpoint struct {
	Seq       uint64    `json:"seq"`
	Watermark time.Time `json:"watermark,omitzero"`
}

// State is the correlation state that must survive a restart: the
// incidents and episodes that new events can still join.
type State struct {
	Checkpoint Checkpoint
	Live       []*Incident
	Episodes   []*Episode
	// DeploySteps are the recent deploy steps incidents may still relate to.
	DeploySteps []*Deploy
}

// Changes is what applying a run of events changed, committed atomically
// with its checkpoint.
type Changes struct {
	Checkpoint Checkpoint
	// Incidents changed or created, by id.
	Incidents map[string]*Incident
	// Entries added to timelines.
	Entries []Entry
	// Episodes changed, by fingerprint.
	Episodes map[string]*Episode
	// Forgotten episodes and incidents left memory: nothing can join them
	// any more. They stay in the store.
	ForgottenEpisodes  []string
	ForgottenIncidents []string
	// Alerts changed, by incident id then fingerprint.
	Alerts map[string]map[string]*AlertState
	// DeploySteps recorded, by event id; ForgottenSteps left memory.
	DeploySteps    map[string]*Deploy
	ForgottenSteps []string
	// RemovedEntries and RemovedAlerts moved to another incident (a merge
	// or a split): the store deletes them before it writes Entries and
	// Alerts, where they reappear under their new incident.
	RemovedEntries []EntryRef
	RemovedAlerts  []AlertRef
	// removed indexes RemovedEntries by incident and position.
	removed map[string]map[uint64]bool
}

// Empty reports whether nothing but the checkpoint changed.
func (ch *Changes) Empty() bool {
	return len(ch.Incidents) == 0 && len(ch.Entries) == 0 && len(ch.Episodes) == 0 &&
		len(ch.ForgottenEpisodes) == 0 && len(ch.ForgottenIncidents) == 0 &&
		len(ch.DeploySteps) == 0 && len(ch.ForgottenSteps) == 0 &&
		len(ch.RemovedEntries) == 0 && len(ch.RemovedAlerts) == 0
}

// settings are the parts of the configuration correlation reads.
type settings struct {
	cfg          *config.Config
	window       time.Duration
	reopenWithin time.Duration
	resolveAfter time.Duration
	maxLateness  time.Duration
	groupBy      []string
	maxSpan      time.Duration
	maxAlerts    int
	// The storm guard and flap detection (config.Correlation).
	stormIncidents int
	stormWindow    time.Duration
	flapFirings    int
	flapWindow     time.Duration
	pageStale      time.Duration
	infraLabels    []string
	maxFutureSkew  time.Duration
	dependencyLag  time.Duration
	// neighbours are the services one dependency hop from each service,
	// either way, so topology joins look only where they can match;
	// dependents are the services that depend on each service directly.
	neighbours map[string][]string
	dependents map[string][]string
}

func newSettings(cfg *config.Config) settings {
	c := cfg.Correlation
	return settings{
		cfg:          cfg,
		window:       time.Duration(c.Window),
		reopenWithin: time.Duration(c.ReopenWithin),
		resolveAfter: time.Duration(c.ResolveAfter),
		maxLateness:  time.Duration(c.MaxLateness),
		groupBy:      slices.Clone(c.GroupBy),
		maxSpan:      time.Duration(c.MaxSpan),
		maxAlerts:    c.MaxAlerts,
		neighbours:   neighbours(cfg),
		dependents:   dependents(cfg),

		stormIncidents: c.StormIncidents,
		stormWindow:    time.Duration(c.StormWindow),
		flapFirings:    c.FlapFirings,
		flapWindow:     time.Duration(c.FlapWindow),
		pageStale:      time.Duration(c.PageStaleAfter),
		infraLabels:    slices.Clone(c.InfrastructureLabels),
		maxFutureSkew:  time.Duration(c.MaxFutureSkew),
		dependencyLag:  time.Duration(c.DependencyLag),
	}
}

func dependents(cfg *config.Config) map[string][]string {
	out := map[string][]string{}
	for name, svc := range cfg.Services {
		for _, d := range svc.DependsOn {
			if !slices.Contains(out[d], name) {
				out[d] = append(out[d], name)
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

func neighbours(cfg *config.Config) map[string][]string {
	n := map[string][]string{}
	add := func(a, b string) {
		if !slices.Contains(n[a], b) {
			n[a] = append(n[a], b)
		}
	}
	for name, svc := range cfg.Services {
		for _, d := range svc.DependsOn {
			add(name, d)
			add(d, name)
		}
	}
	for k := range n {
		slices.Sort(n[k])
	}
	return n
}

// horizon is how long after its last activity a settled incident can
// still be joined or reopened by a (possibly late) event.
func (s settings) horizon() time.Duration {
	return s.window + s.resolveAfter + s.reopenWithin + s.maxLateness
}

// Correlator applies events, in log order, to the incidents they belong
// to. It is not safe for concurrent use: one projector owns it. Only
// SetConfig may be called from another goroutine.
type Correlator struct {
	// next is a reloaded configuration waiting to take effect; Apply takes
	// it without a lock on the hot path.
	next atomic.Pointer[settings]

	s        settings
	live     map[string]*Incident
	byKey    map[string]string // partition key -> newest incident id
	episodes map[string]*Episode
	// deploys is the state of each recent deploy by id, deploySteps its
	// steps in event-time order.
	deploys     map[string]*Deploy
	deploySteps map[string][]*Deploy
	// pdIncidents maps PagerDuty incident ids, groupKeys sha256 of
	// Alertmanager group keys, to live incidents.
	pdIncidents map[string]string
	groupKeys   map[string]string
	lookup      Lookup
	// byAnchor indexes live incidents by anchor service, for topology;
	// byGroup by their group_by labels, for the storm guard.
	byAnchor map[string]map[string]bool
	byGroup  map[string]map[string]bool
	// byService indexes live incidents by the services they hold (and
	// their anchor), for the rules that relate services; byTarget by the
	// machines their alerts are about (targetKeys).
	byService      map[string]map[string]bool
	byServiceScope map[string]map[string]bool
	byTarget       map[string]map[string]bool
	// broad holds the live incidents that span broadServices services or
	// more (and maybe some that no longer do), for the deploys the
	// configuration does not place.
	broad map[string]bool
	// groupsByValue and groupsLacking file the label sets of byGroup by
	// each group_by label's value or absence; groupLabels are the sets.
	groupsByValue map[string]map[string]bool
	groupsLacking map[string]map[string]bool
	groupLabels   map[string]map[string]string
	// stepsBySvc are the deploy steps in memory by service.
	stepsBySvc map[string][]*Deploy
	watermark  time.Time
	seq        uint64
	changes    *Changes
	// entriesHint is how many entries the last batch had.
	entriesHint int
	// sw indexes what the periodic sweep may forget.
	sw sweepIndex
}

// NewCorrelator restores a correlator from persisted state.
func NewCorrelator(cfg *config.Config, st State) *Correlator {
	c := &Correlator{
		s:              newSettings(cfg),
		live:           make(map[string]*Incident, len(st.Live)),
		byKey:          make(map[string]string),
		episodes:       make(map[string]*Episode, len(st.Episodes)),
		deploys:        map[string]*Deploy{},
		deploySteps:    map[string][]*Deploy{},
		pdIncidents:    map[string]string{},
		groupKeys:      map[string]string{},
		byAnchor:       map[string]map[string]bool{},
		byGroup:        map[string]map[string]bool{},
		byService:      map[string]map[string]bool{},
		byServiceScope: map[string]map[string]bool{},
		byTarget:       map[string]map[string]bool{},
		broad:          map[string]bool{},
		groupsByValue:  map[string]map[string]bool{},
		groupsLacking:  map[string]map[string]bool{},
		groupLabels:    map[string]map[string]string{},
		stepsBySvc:     map[string][]*Deploy{},
		watermark:      st.Checkpoint.Watermark,
		seq:            st.Checkpoint.Seq,
		sw:             newSweepIndex(),
	}
	for _, inc := range st.Live {
		c.live[inc.ID] = inc
		c.setAnchor(inc, inc.Anchor)
		c.index(inc)
		for _, s := range inc.Services {
			c.indexService(inc, s)
		}
		c.indexTargets(inc)
		// Keys are kept sorted so that claims search them by bisection;
		// a state written before that is sorted here.
		if !slices.IsSorted(inc.Keys) {
			slices.Sort(inc.Keys)
		}
		for _, k := range inc.Keys {
			c.byKey[k] = inc.ID
		}
		for _, p := range inc.PagerDuty {
			c.pdIncidents[p.IncidentID] = inc.ID
		}
		for _, h := range inc.GroupKeyHashes {
			c.groupKeys[h] = inc.ID
		}
		c.touch(inc)
	}
	for _, ep := range st.Episodes {
		c.episodes[ep.Fingerprint] = ep
		c.fileEpisode(ep)
		if !ep.Firing {
			c.queueEnded(ep)
		}
		if c.live[ep.IncidentID] == nil {
			c.sw.orphans = append(c.sw.orphans, ep)
		}
	}
	steps := slices.Clone(st.DeploySteps)
	slices.SortFunc(steps, func(a, b *Deploy) int { return int(a.Seq) - int(b.Seq) })
	for _, s := range steps {
		c.addStep(s)
	}
	c.resetChanges(nil)
	return c
}

// SetConfig makes a new configuration take effect from the next event.
func (c *Correlator) SetConfig(cfg *config.Config) {
	s := newSettings(cfg)
	c.next.Store(&s)
}

// resetChanges starts a new set of changes. The maps are sized like the
// last set's (prev, if any): batches are alike, and growing a map entry by
// entry costs more than correlating.
func (c *Correlator) resetChanges(prev *Changes) {
	ch := &Changes{Checkpoint: Checkpoint{Seq: c.seq, Watermark: c.watermark}}
	if prev == nil {
		prev = ch
	}
	ch.Incidents = make(map[string]*Incident, len(prev.Incidents))
	ch.Episodes = make(map[string]*Episode, len(prev.Episodes))
	ch.DeploySteps = make(map[string]*Deploy, len(prev.DeploySteps))
	ch.Alerts = make(map[string]map[string]*AlertState, len(prev.Alerts))
	c.entriesHint = len(prev.Entries)
	c.changes = ch
}

// appendEntry adds an entry to the changes. The first one of a batch
// makes room for as many as the last batch had (Entries stays nil in a
// batch without any): an Entry is large, and copying it as the slice
// grows was a tenth of the cost per event.
func (c *Correlator) appendEntry(e Entry) {
	if c.changes.Entries == nil {
		c.changes.Entries = make([]Entry, 0, max(c.entriesHint, 1))
	}
	c.changes.Entries = append(c.changes.Entries, e)
}

// Flush returns what changed since the last Flush, with the checkpoint
// that covers it.
func (c *Correlator) Flush() *Changes {
	ch := c.changes
	ch.Checkpoint = Checkpoint{Seq: c.seq, Watermark: c.watermark}
	// The store deletes what was forgotten after it writes what changed.
	// An episode forgotten by a sweep and begun again later in the batch
	// (the same alert firing anew), or an incident revived, is in memory
	// at the end of the batch and must stay in the store too, or a restart
	// would not resume where an uninterrupted run is.
	ch.ForgottenEpisodes = slices.DeleteFunc(ch.ForgottenEpisodes, func(fp string) bool { return c.episodes[fp] != nil })
	ch.ForgottenIncidents = slices.DeleteFunc(ch.ForgottenIncidents, func(id string) bool { return c.live[id] != nil })
	c.resetChanges(ch)
	return ch
}

// Live reports how many incidents are held in memory (open or still
// joinable).
func (c *Correlator) Live() int { return len(c.live) }

// Apply applies one logged event. Events must come in log order.
func (c *Correlator) Apply(le LoggedEvent) {
	if next := c.next.Swap(nil); next != nil {
		c.s = *next
	}

	ev := &le.Event
	c.seq = le.Seq
	if aheadOf(ev, c.s.maxFutureSkew) > 0 {
		// Kept in the log, visible in the events API, never correlated:
		// see future.go.
		if le.Seq%sweepEvery == 0 {
			c.sweep()
		}
		return
	}
	switch ev.Kind {
	case collector.KindAlertFiring:
		c.alertFiring(le.Seq, ev)
	case collector.KindAlertResolved:
		c.alertResolved(le.Seq, ev)
	default:
		if isDeploy(ev) {
			c.deployApplied(le.Seq, ev)
			break
		}
		if isPagerDuty(ev) {
			c.pagerDutyApplied(le.Seq, ev)
			break
		}
		if isCorrection(ev) {
			c.correctionApplied(le.Seq, ev)
			break
		}
		// Other sources are correlated by their own issues' rules; until
		// then they stay in the log, visible through the events API.
	}
	if ev.At.After(c.watermark) {
		c.watermark = ev.At
	}
	if le.Seq%sweepEvery == 0 {
		c.sweep()
	}
}

// partition returns the key and labels an event is grouped under: its
// service (or, without one, its alert name) and the group_by labels.
func (c *Correlator) partition(service string, ev *collector.Event) (string, map[string]string) {
	var b strings.Builder
	if service != "" {
		b.WriteString("service=")
		b.WriteString(service)
	} else {
		b.WriteString("alertname=")
		b.WriteString(alertName(ev))
	}
	var gl map[string]string
	for _, l := range c.s.groupBy {
		v := ev.Labels[l]
		b.WriteByte('|')
		b.WriteString(l)
		b.WriteByte('=')
		b.WriteString(v)
		if v != "" {
			if gl == nil {
				gl = map[string]string{}
			}
			gl[l] = v
		}
	}
	return b.String(), gl
}

func alertName(ev *collector.Event) string {
	if ev.Alert != nil && ev.Alert.Name != "" {
		return ev.Alert.Name
	}
	return ev.Labels["alertname"]
}

func (c *Correlator) service(ev *collector.Event) string {
	if s := c.s.cfg.ServiceFor(ev.Labels); s != "" {
		return s
	}
	return ev.Service
}

// place finds or creates the incident a firing that started at t joins,
// and says why. ep is the alert's episode, if any (the caller has looked
// it up already).
func (c *Correlator) place(seq uint64, ev *collector.Event, ep *Episode, service string, t time.Time) (*Incident, []string) {
	fp := ev.Ref.Fingerprint
	// 1. The alert's own episode: it fired again soon after resolving.
	if ep != nil {
		if inc := c.live[ep.IncidentID]; inc != nil {
			if ep.Firing {
				return inc, []string{"joined: the same alert (fingerprint " + fp + ") is already firing in this incident"}
			}
			if gap := t.Sub(ep.LastEnd); gap <= c.s.reopenWithin {
				r := []string{fmt.Sprintf("joined: the same alert fired again %s after it resolved (within correlation.reopen_within %s)",
					fmtDur(gap), fmtDur(c.s.reopenWithin))}
				return inc, append(r, c.reopen(inc, t)...)
			}
			if n := c.recentFirings(ep, t); n >= c.s.flapFirings {
				r := []string{fmt.Sprintf("joined: the alert is flapping, %d firings within correlation.flap_window %s (correlation.flap_firings %d), so it stays in its incident",
					n, fmtDur(c.s.flapWindow), c.s.flapFirings)}
				return inc, append(r, c.reopen(inc, t)...)
			}
		}
	}
	// 2. An incident of the same service and group_by labels, or of the
	// same service under labels that do not contradict these.
	key, groupLabels := c.partition(service, ev)
	var full string
	if inc := c.live[c.byKey[key]]; inc != nil && !c.joinable(inc, t) {
		full = c.notJoinable(inc, t)
	}
	if inc := c.live[c.byKey[key]]; inc != nil && full == "" {
		if r, ok := c.partitionJoin(inc, service, ev, groupLabels, t); ok {
			return inc, r
		}
	}
	if inc, r := c.sameServiceJoin(service, key, ev, groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	if inc, r := c.targetJoin(service, ev, groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	// 3. Topology: the dependency graph, either way, through the
	// incident's services; then a dependency both share; then the storm
	// guard.
	if inc, r := c.topologyJoin(service, groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	if inc, r := c.siblingJoin(service, groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	if inc, r := c.changeBurstJoin(service, groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	if inc, r := c.stormJoin(groupLabels, t); inc != nil {
		c.claim(key, inc)
		return inc, r
	}
	// 4. A new incident anchored on this service.
	inc := c.newIncident(seq, ev, key, service, groupLabels, t)
	if full != "" {
		return inc, []string{"opened: " + full + ", so a new incident for " + strings.TrimPrefix(describeKey(service, ev, groupLabels), "the ")}
	}
	return inc, []string{"opened: first alert for " + describeKey(service, ev, groupLabels)}
}

func describeKey(service string, ev *collector.Event, gl map[string]string) string {
	var s string
	if service != "" {
		s = "service " + service
	} else {
		s = "alert " + alertName(ev) + " (no service label)"
	}
	if len(gl) == 0 {
		return "the same " + s
	}
	return "the same " + s + " and " + labelsText(gl)
}

// reopen notes that a resolved incident fires again.
func (c *Correlator) reopen(inc *Incident, t time.Time) []string {
	if !c.resolved(inc, t) {
		return nil
	}
	inc.Reopens++
	return []string{"reopened: the incident had resolved at " + inc.LastEnd.UTC().Format(time.RFC3339)}
}

func (c *Correlator) newIncident(seq uint64, ev *collector.Event, key, service string, gl map[string]string, t time.Time) *Incident {
	anchor := service
	if anchor == "" {
		anchor = alertName(ev)
	}
	h := sha256.Sum256([]byte(key + "\x00" + ev.ID))
	id := ulid.ULID{}
	_ = id.SetTime(ulid.Timestamp(t))
	_ = id.SetEntropy(h[:10])
	inc := &Incident{
		V:            incidentVersion,
		ID:           "inc-" + id.String(),
		Key:          key,
		Anchor:       anchor,
		GroupLabels:  gl,
		Title:        anchor + ": " + alertName(ev),
		StartedAt:    t,
		LastActivity: t,
		Alerts:       map[string]*AlertState{},
		FirstSeq:     seq,
	}
	c.live[inc.ID] = inc
	c.setAnchor(inc, anchor)
	c.index(inc)
	c.claim(key, inc)
	c.touch(inc)
	return inc
}

// index adds a live incident to the group index.
func (c *Correlator) index(inc *Incident) {
	g := labelsText(inc.GroupLabels)
	if c.byGroup[g] == nil {
		c.byGroup[g] = map[string]bool{}
		// A new label set: file it by each group_by label's value, or
		// its absence, so the storm guard finds the compatible ones.
		for _, k := range c.s.groupBy {
			if v, ok := inc.GroupLabels[k]; ok {
				addTo(c.groupsByValue, k+"="+v, g)
			} else {
				addTo(c.groupsLacking, k, g)
			}
		}
		c.groupLabels[g] = inc.GroupLabels
	}
	c.byGroup[g][inc.ID] = true
}

// ungroup removes inc from the group index, and a label set left empty.
func (c *Correlator) ungroup(inc *Incident) {
	g := labelsText(inc.GroupLabels)
	dropFrom(c.byGroup, g, inc.ID)
	if c.byGroup[g] != nil {
		return
	}
	for k, m := range c.groupsByValue {
		if m[g] {
			dropFrom(c.groupsByValue, k, g)
		}
	}
	for k, m := range c.groupsLacking {
		if m[g] {
			dropFrom(c.groupsLacking, k, g)
		}
	}
	delete(c.groupLabels, g)
}

// compatibleGroups returns the label sets of live incidents that do not
// contradict gl, in no particular order.
func (c *Correlator) compatibleGroups(gl map[string]string) []string {
	for _, k := range c.s.groupBy {
		v, ok := gl[k]
		if !ok {
			continue
		}
		var out []string
		for _, m := range []map[string]bool{c.groupsByValue[k+"="+v], c.groupsLacking[k]} {
			for g := range m {
				if groupCompatible(c.groupLabels[g], gl) {
					out = append(out, g)
				}
			}
		}
		return out
	}
	// No group_by label at all: every label set is compatible.
	out := make([]string, 0, len(c.byGroup))
	for g := range c.byGroup {
		out = append(out, g)
	}
	return out
}

// unindex removes an incident that leaves memory from the indexes.
func (c *Correlator) unindex(inc *Incident) {
	dropFrom(c.byAnchor, inc.Anchor, inc.ID)
	c.ungroup(inc)
	c.unindexServices(inc)
	for _, a := range inc.Alerts {
		for _, k := range c.targetKeys(a.Service, a.Labels) {
			dropFrom(c.byTarget, k, inc.ID)
		}
	}
}

func dropFrom(idx map[string]map[string]bool, key, id string) {
	if m := idx[key]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(idx, key)
		}
	}
}

// setAnchor (re-)anchors inc and keeps the anchor index current.
func (c *Correlator) setAnchor(inc *Incident, anchor string) {
	dropFrom(c.byAnchor, inc.Anchor, inc.ID)
	if inc.Anchor != "" && !holds(inc, inc.Anchor) {
		c.unindexService(inc, inc.Anchor)
	}
	inc.Anchor = anchor
	if c.byAnchor[anchor] == nil {
		c.byAnchor[anchor] = map[string]bool{}
	}
	c.byAnchor[anchor][inc.ID] = true
	c.indexService(inc, anchor)
}

// resolved reports whether inc counts as resolved at t.
func (c *Correlator) resolved(inc *Incident, t time.Time) bool {
	return inc.ResolvedAsOf(t, c.s.resolveAfter, c.s.pageStale)
}

// firing counts what of inc is open at t.
func (c *Correlator) firing(inc *Incident, t time.Time) int {
	return inc.FiringAt(t, c.s.pageStale)
}

// claim makes inc the incident that new alerts of partition key join. The
// owner is recorded in the incident (Keys), so a restart restores exactly
// the same mapping.
func (c *Correlator) claim(key string, inc *Incident) {
	if old := c.live[c.byKey[key]]; old != nil && old != inc {
		old.Keys = removeKey(old.Keys, key)
		c.changes.Incidents[old.ID] = old
	}
	c.byKey[key] = inc.ID
	inc.Keys = addKey(inc.Keys, key)
	c.changes.Incidents[inc.ID] = inc
}

// addKey and removeKey keep an incident's Keys sorted: storm incidents
// hold thousands, and a claim moves one of them at every new partition.
func addKey(keys []string, k string) []string {
	i, ok := slices.BinarySearch(keys, k)
	if ok {
		return keys
	}
	return slices.Insert(keys, i, k)
}

func removeKey(keys []string, k string) []string {
	if i, ok := slices.BinarySearch(keys, k); ok {
		return slices.Delete(keys, i, i+1)
	}
	return keys
}

// joinable reports whether inc takes new alerts at t: not when it began
// more than correlation.max_span ago or holds correlation.max_alerts
// alerts. Its own alerts still come back to it (their episodes).
func (c *Correlator) joinable(inc *Incident, t time.Time) bool {
	return (c.s.maxSpan <= 0 || t.Sub(spanStart(inc)) <= c.s.maxSpan) && (c.s.maxAlerts <= 0 || len(inc.Alerts) < c.s.maxAlerts)
}

// spanStart is where correlation.max_span counts from.
func spanStart(inc *Incident) time.Time {
	return maxTime(inc.StartedAt, inc.PhaseStart)
}

// notJoinable says why inc is not joinable at t, or "".
func (c *Correlator) notJoinable(inc *Incident, t time.Time) string {
	if c.joinable(inc, t) {
		return ""
	}
	if c.s.maxSpan > 0 && t.Sub(spanStart(inc)) > c.s.maxSpan {
		return fmt.Sprintf("%s began %s earlier, past correlation.max_span %s", inc.ID, fmtDur(t.Sub(spanStart(inc))), fmtDur(c.s.maxSpan))
	}
	if c.s.maxAlerts > 0 && len(inc.Alerts) >= c.s.maxAlerts {
		return fmt.Sprintf("%s holds correlation.max_alerts (%d) alerts", inc.ID, c.s.maxAlerts)
	}
	return ""
}

// recentFirings counts the firings of an alert within
// correlation.flap_window before t, with the one at t.
func (c *Correlator) recentFirings(ep *Episode, t time.Time) int {
	n := 1
	for _, s := range ep.Recent {
		if !s.Equal(t) && !s.Before(t.Add(-c.s.flapWindow)) && !s.After(t) {
			n++
		}
	}
	return n
}

// noteFiring records a firing start of an alert for flap detection,
// keeping the last flap_firings starts in its episode, and marks the
// alert flapping when they fall within flap_window.
func (c *Correlator) noteFiring(ep *Episode, a *AlertState, t time.Time) {
	if !slices.ContainsFunc(ep.Recent, t.Equal) {
		ep.Recent = append(ep.Recent, t)
		slices.SortFunc(ep.Recent, time.Time.Compare)
		if k := max(c.s.flapFirings, 2); len(ep.Recent) > k {
			ep.Recent = slices.Delete(ep.Recent, 0, len(ep.Recent)-k)
		}
	}
	if c.recentFirings(ep, ep.Recent[len(ep.Recent)-1]) >= c.s.flapFirings {
		a.Flapping = true
	}
}

// stormJoin returns the storm incident an alert at t with group labels gl
// joins (research/correlation.md §7.3): when correlation.storm_incidents
// or more incidents with compatible labels, the one this alert would open
// among them, started within correlation.storm_window up to t, they are
// one storm: onsets across
// many services within minutes are one failure more often than many. The
// others are merged into the first, and new alerts there join it instead
// of adding to the noise. It is derived from the live incidents, so a
// restart gives the same answer.
func (c *Correlator) stormJoin(gl map[string]string, t time.Time) (*Incident, []string) {
	if c.s.stormIncidents == 0 {
		return nil, nil
	}
	var storm *Incident
	var recent []*Incident
	// The order of this scan does not matter: the storm and its first
	// incident are chosen by start and id below.
	for _, g := range c.compatibleGroups(gl) {
		for id := range c.byGroup[g] {
			inc := c.live[id]
			if inc == nil {
				continue
			}
			// A storm already called goes on while new alerts keep coming
			// within storm_window of each other (a burst, not resolutions
			// and repeats); otherwise only incidents that started within
			// storm_window count. The
			// cheap time tests come first: a busy group holds many
			// incidents.
			going := inc.Storm && t.Sub(inc.LastOnset) <= c.s.stormWindow
			d := t.Sub(inc.StartedAt)
			isRecent := d >= 0 && d <= c.s.stormWindow
			// Every incident of a compatible group is compatible.
			if (!going && !isRecent) || !c.joinable(inc, t) || c.resolved(inc, t) {
				continue
			}
			if going && (storm == nil || inc.StartedAt.Before(storm.StartedAt) || (inc.StartedAt.Equal(storm.StartedAt) && inc.ID < storm.ID)) {
				storm = inc
			}
			if isRecent {
				recent = append(recent, inc)
			}
		}
	}
	if storm != nil {
		return storm, []string{fmt.Sprintf("joined: the alert storm %s this incident collects is still going on (its last new alert began %s before, within correlation.storm_window %s)",
			scopeText(gl), fmtDur(t.Sub(storm.LastOnset)), fmtDur(c.s.stormWindow))}
	}
	// The incident this alert would open is one of the storm's.
	if len(recent)+1 < c.s.stormIncidents {
		return nil, nil
	}
	slices.SortFunc(recent, func(a, b *Incident) int {
		if x := a.StartedAt.Compare(b.StartedAt); x != 0 {
			return x
		}
		return strings.Compare(a.ID, b.ID)
	})
	first := recent[0]
	// Incidents of two clusters are not one storm because an unlabelled
	// alert is compatible with both: keep those that agree with the first.
	members := recent[:0:0]
	for _, inc := range recent {
		if groupCompatible(first.GroupLabels, inc.GroupLabels) && groupCompatible(inc.GroupLabels, first.GroupLabels) {
			members = append(members, inc)
		}
	}
	n := len(members) + 1
	if n < c.s.stormIncidents {
		return nil, nil
	}
	first.Storm = true
	slices.SortFunc(members, func(a, b *Incident) int { return strings.Compare(a.ID, b.ID) })
	var merged []string
	why := fmt.Sprintf("moved: alert storm %s (%d incidents opened within correlation.storm_window %s): merged into the storm's first incident",
		scopeText(gl), n, fmtDur(c.s.stormWindow))
	for _, inc := range members {
		if inc != first {
			merged = append(merged, inc.ID)
			c.merge(first, inc, why)
		}
	}
	return first, []string{fmt.Sprintf("joined: alert storm %s: %d incidents opened within correlation.storm_window %s; %s merged into the first, and new alerts there join it",
		scopeText(gl), n, fmtDur(c.s.stormWindow), strings.Join(merged, ", "))}
}

// scopeText names where a storm is: its group_by labels, if any.
func scopeText(gl map[string]string) string {
	if len(gl) == 0 {
		return "across services without group_by labels"
	}
	return "in " + labelsText(gl)
}

func labelsText(gl map[string]string) string {
	if len(gl) == 1 { // the usual case (group_by: [cluster])
		for k, v := range gl {
			return k + "=" + v
		}
	}
	parts := make([]string, 0, len(gl))
	for _, k := range slices.Sorted(maps.Keys(gl)) {
		parts = append(parts, k+"="+gl[k])
	}
	return strings.Join(parts, ", ")
}

func (c *Correlator) alertFiring(seq uint64, ev *collector.Event) {
	service := c.service(ev)
	t := ev.At
	ep := c.episodes[ev.Ref.Fingerprint]
	if ep != nil && !ep.Firing && ep.StartsAt.Equal(t) {
		if inc := c.live[ep.IncidentID]; inc != nil {
			// Delivered after its own resolution: history, not news. The
			// alert stays resolved.
			c.addEntry(inc, seq, ev, service, []string{fmt.Sprintf(
				"joined: a late delivery of this alert's firing; its resolution at %s was already applied", ep.LastEnd.UTC().Format(time.RFC3339))})
			return
		}
	}
	inc, reasons := c.place(seq, ev, ep, service, t)
	c.widenGroup(inc, ev)
	a := c.alertState(inc, ev, service)
	if a.Firings == 0 || !a.Firing && t.After(a.StartsAt) {
		inc.LastOnset = maxTime(inc.LastOnset, t)
	}
	inc.setFiring(a, true)
	a.StartsAt = t
	a.EndsAt = time.Time{}
	a.Firings++
	if a.FirstStart.IsZero() || t.Before(a.FirstStart) {
		a.FirstStart = t
	}
	c.noteFiring(c.setEpisode(ep, ev.Ref.Fingerprint, inc.ID, true, t, time.Time{}), a, t)
	c.linkGroupKey(inc, ev)
	isNew := service != "" && !holds(inc, service)
	c.addEntry(inc, seq, ev, service, reasons)
	if isNew {
		c.absorbDependents(inc, service, t)
	}
}

func (c *Correlator) alertResolved(seq uint64, ev *collector.Event) {
	service := c.service(ev)
	fp := ev.Ref.Fingerprint
	start := ev.At
	if ev.Alert != nil && !ev.Alert.StartsAt.IsZero() {
		start = ev.Alert.StartsAt
	}
	var inc *Incident
	var reasons []string
	ep := c.episodes[fp]
	if ep != nil && c.live[ep.IncidentID] != nil && ep.StartsAt.Equal(start) {
		inc = c.live[ep.IncidentID]
		reasons = []string{"resolves: " + alertName(ev) + " (fingerprint " + fp + "), firing since " +
			start.UTC().Format(time.RFC3339) + ", " + fmtDur(ev.At.Sub(start))}
	} else {
		// Never seen firing (Hindsight was down, the firing was sent before
		// the receiver existed, or it arrives later): place it by its start.
		inc, reasons = c.place(seq, ev, ep, service, start)
		c.widenGroup(inc, ev)
		reasons = append(reasons, "the alert was not seen firing; placed by its start "+start.UTC().Format(time.RFC3339))
	}
	a := c.alertState(inc, ev, service)
	if a.Firings == 0 || !start.Equal(a.StartsAt) {
		a.Firings++
	}
	inc.setFiring(a, false)
	a.StartsAt = start
	a.EndsAt = ev.At
	if a.FirstStart.IsZero() || start.Before(a.FirstStart) {
		a.FirstStart = start
	}
	if ev.At.After(inc.LastEnd) {
		inc.LastEnd = ev.At
	}
	if start.Before(inc.StartedAt) {
		inc.StartedAt = start
	}
	c.setEpisode(ep, fp, inc.ID, false, start, ev.At)
	c.linkGroupKey(inc, ev)
	c.addEntry(inc, seq, ev, service, reasons)
	if inc.FiringAlerts == 0 && len(inc.DeployEntries) > 0 {
		// The symptoms ended: a rollback shortly before is evidence now.
		c.rankSuspects(inc)
	}
}

func (c *Correlator) alertState(inc *Incident, ev *collector.Event, service string) *AlertState {
	fp := ev.Ref.Fingerprint
	a := inc.Alerts[fp]
	if a == nil {
		a = &AlertState{Fingerprint: fp, Name: alertName(ev), Service: service}
		inc.Alerts[fp] = a
		for _, k := range c.targetKeys(service, ev.Labels) {
			addTo(c.byTarget, k, inc.ID)
		}
	}
	dirty := c.changes.Alerts[inc.ID]
	if dirty == nil {
		dirty = map[string]*AlertState{}
		c.changes.Alerts[inc.ID] = dirty
	}
	dirty[fp] = a
	a.Labels = ev.Labels
	a.Summary = ev.Annotations["summary"]
	a.Description = ev.Annotations["description"]
	a.RunbookURL = cmp.Or(ev.Annotations["runbook_url"], ev.Annotations["runbook"])
	if ev.Alert != nil {
		a.Severity = ev.Alert.Severity
		a.GeneratorURL = ev.Alert.GeneratorURL
	}
	return a
}

// setEpisode records an alert's episode and returns it; ep is
// c.episodes[fp], which the caller has looked up already (nil for a new
// one).
func (c *Correlator) setEpisode(ep *Episode, fp, incID string, firing bool, start, end time.Time) *Episode {
	if ep == nil {
		ep = &Episode{Fingerprint: fp}
		c.episodes[fp] = ep
	}
	if ep.IncidentID != incID {
		if ep.IncidentID != "" {
			c.unfileEpisode(ep.IncidentID)
		}
		ep.IncidentID = incID
		c.fileEpisode(ep)
	}
	ep.Firing = firing
	ep.StartsAt = start
	if !end.IsZero() {
		ep.LastEnd = end
	}
	if !firing {
		c.queueEnded(ep)
	}
	c.changes.Episodes[fp] = ep
	return ep
}

func (c *Correlator) addEntry(inc *Incident, seq uint64, ev *collector.Event, service string, reasons []string) {
	human := ev.Source == collector.SourceNote || ev.Source == collector.SourceHindsight
	if !human {
		// People's notes and overrides do not move the incident's times.
		if ev.At.Before(inc.StartedAt) {
			inc.StartedAt = ev.At
		}
		if ev.At.After(inc.LastActivity) {
			inc.LastActivity = ev.At
		}
	}
	started := inc.StartedAt
	grew := inc.Entries == 0
	if service != "" {
		// Services is kept sorted (this is its only writer), so a binary
		// search finds it: storms gather thousands of services.
		if i, found := slices.BinarySearch(inc.Services, service); !found {
			inc.Services = slices.Insert(inc.Services, i, service)
			c.indexService(inc, service)
			grew = true
		}
	}
	defer func() {
		// Deploys relate to an incident by its services and first alert:
		// look again when either changes.
		if grew || !inc.StartedAt.Equal(started) {
			c.attachDeploys(inc)
			if len(inc.DeployEntries) > 0 {
				c.rankSuspects(inc)
			}
		}
	}()
	inc.Entries++
	inc.LastSeq = seq
	c.touch(inc)
	c.changes.Incidents[inc.ID] = inc
	c.appendEntry(Entry{
		ID:          EntryID(ev.ID),
		IncidentID:  inc.ID,
		Seq:         seq,
		EventID:     ev.ID,
		At:          ev.At,
		ReceivedAt:  ev.ReceivedAt,
		Source:      ev.Source,
		Kind:        ev.Kind,
		Summary:     ev.Summary,
		Service:     service,
		Ref:         ev.Ref,
		Reasons:     reasons,
		Labels:      ev.Labels,
		Alert:       ev.Alert,
		Annotations: ev.Annotations,
		PagerDuty:   ev.PagerDuty,
		Deploy:      ev.Deploy,
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fmtDur renders a duration the way an on-call engineer reads it: 3m,
// 1h4m, 45s. It is in most reasons, so it does without fmt.
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Second)
	itoa := strconv.Itoa
	switch {
	case d == 0:
		return "0s"
	case d < time.Minute:
		return itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		if s := int(d.Seconds()) % 60; s != 0 {
			return itoa(int(d.Minutes())) + "m" + itoa(s) + "s"
		}
		return itoa(int(d.Minutes())) + "m"
	default:
		h := int(d.Hours())
		m := int(d.Minutes()) % 60
		if d >= 48*time.Hour {
			return itoa(h/24) + "d" + itoa(h%24) + "h"
		}
		if m == 0 {
			return itoa(h) + "h"
		}
		return itoa(h) + "h" + itoa(m) + "m"
	}
}

// FormatDuration renders durations for people (timeline reasons, drafts).
func FormatDuration(d time.Duration) string { return fmtDur(d) }
