package correlate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Suspect scoring (research/correlation.md §7.5): a product of how the
// deploy's service relates to the incident and how close before the first
// symptom it took effect, plus evidence from steps around it; every term
// is a reason a person can check. Scores run 0..1.
const (
	// Relation weights: a deploy of the service the incident is anchored
	// on (that failed first, or that the others depend on) above one of a
	// dependency that did not alert, above one of a service that failed as
	// a consumer of the anchor, above one of a consumer that did not alert
	// (a reindex job that loads the search cluster, a playbook run against
	// the index servers).
	weightAnchor     = 1.0
	weightMember     = 0.8
	weightDependency = 0.7
	weightDownstream = 0.6
	weightConsumer   = 0.5
	// The time factor is 1 up to proximityGrace before the first symptom
	// (or while the deploy was in progress), then decays with
	// proximityScale: 0.58 at 16m, 0.29 at 30m.
	proximityGrace = 5 * time.Minute
	proximityScale = 20 * time.Minute
	// scoreScale leaves room above the best plain deploy for evidence.
	scoreScale = 0.8
	// A failed step before the first symptom left a half-done change.
	pointsFailed = 0.1
	// A rollback of the deploy during the incident after which every
	// alert of the incident resolved within recoveredWithin and none began
	// is the strongest evidence there is short of a person's word.
	pointsRolledBackRecovered = 0.2
	recoveredWithin           = 30 * time.Minute
	// preexistingFactor is applied when an alert of the incident on the
	// deploy's service already fired within preexistingWindow before it:
	// the problem was there before the change (research/correlation.md
	// §7.5, "as Watchdog").
	preexistingFactor = 0.3
	preexistingWindow = 2 * time.Hour
	// suspectThreshold is the score a deploy needs to be named a suspect.
	suspectThreshold = 0.3
	maxSuspects      = 3
	// kindDeployPrefix starts the kinds of deploy events.
	kindDeployPrefix = "deploy."
)

// Deploy is the latest known step of one deploy (one run of one service),
// kept while incidents may still relate to it.
type Deploy struct {
	ID          string            `json:"id"`
	Service     string            `json:"service"`
	Status      string            `json:"status"`
	At          time.Time         `json:"at"`
	StartedAt   time.Time         `json:"started_at,omitzero"`
	Seq         uint64            `json:"seq"`
	EventID     string            `json:"event_id"`
	Summary     string            `json:"summary"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Info is what the step says of the deploy (version, author, ...).
	Info       *collector.Deploy `json:"deploy,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	Kind       string            `json:"kind"`
}

// UnmarshalJSON decodes a stored step, reading Info out of the labels of
// one stored before it was typed (collector.Lift).
func (d *Deploy) UnmarshalJSON(b []byte) error {
	type plain Deploy
	if err := json.Unmarshal(b, (*plain)(d)); err != nil {
		return err
	}
	if d.Info == nil {
		p := collector.Lift(collector.SourceDeploy, d.Labels, d.Annotations)
		d.Labels, d.Annotations, d.Info = p.Labels, p.Annotations, p.Deploy
	}
	return nil
}

// info is the step's typed part, or an empty one.
func (d *Deploy) info() *collector.Deploy {
	if d.Info != nil {
		return d.Info
	}
	return &collector.Deploy{}
}

func (d *Deploy) entry(incID string, reasons []string) Entry {
	return Entry{
		ID:          EntryID(d.EventID),
		IncidentID:  incID,
		Seq:         d.Seq,
		EventID:     d.EventID,
		At:          d.At,
		ReceivedAt:  d.ReceivedAt,
		Source:      collector.SourceDeploy,
		Kind:        d.Kind,
		Summary:     d.Summary,
		Service:     d.Service,
		Ref:         collector.Ref{DeployID: d.ID},
		Reasons:     reasons,
		Labels:      d.Labels,
		Annotations: d.Annotations,
		Deploy:      d.Info,
	}
}

// isDeploy reports whether ev is a deploy step.
func isDeploy(ev *collector.Event) bool {
	return ev.Source == collector.SourceDeploy && strings.HasPrefix(ev.Kind, kindDeployPrefix) && ev.Ref.DeployID != ""
}

// deployApplied records a deploy step and puts it on the timelines of the
// incidents it may relate to.
func (c *Correlator) deployApplied(seq uint64, ev *collector.Event) {
	step := &Deploy{ID: ev.Ref.DeployID, Service: ev.Service, Status: strings.TrimPrefix(ev.Kind, kindDeployPrefix),
		At: ev.At, Seq: seq, EventID: ev.ID, Summary: ev.Summary, Labels: ev.Labels, Annotations: ev.Annotations,
		Info: ev.Deploy, ReceivedAt: ev.ReceivedAt, Kind: ev.Kind}
	c.addStep(step)
	c.changes.DeploySteps[step.EventID] = step
	for _, inc := range c.deployCandidates(step.Service) {
		if why, ok := c.relates(inc, step); ok {
			c.addDeployEntry(inc, step, why)
		}
	}
}

// deployCandidates returns, by id, the live incidents a deploy of service
// can relate to (relationOf): those that hold it or are anchored on it,
// those holding a service that depends on it, those anchored on a
// service it depends on, and, for a change the configuration does not
// place, those spanning broadServices or more. It looks only at those,
// not at every live incident, and visits them in the order a walk of
// every live incident by id would.
func (c *Correlator) deployCandidates(service string) []*Incident {
	if service == "" {
		return nil
	}
	seen := map[string]*Incident{}
	add := func(incs []*Incident) {
		for _, inc := range incs {
			seen[inc.ID] = inc
		}
	}
	add(c.holding(service))
	for _, s := range c.s.dependents[service] {
		add(c.holding(s))
	}
	for _, d := range c.s.cfg.Service(service).DependsOn {
		add(c.holding(d))
	}
	if c.broadChange(service) {
		for id := range c.broad {
			if inc := c.live[id]; inc != nil && len(inc.Services) >= broadServices {
				seen[id] = inc
			}
		}
	}
	out := make([]*Incident, 0, len(seen))
	for _, inc := range seen {
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b *Incident) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// addStep adds a step to its deploy and recomputes the deploy's state:
// the latest step by event time wins, so a late "started" does not undo
// "succeeded".
func (c *Correlator) addStep(step *Deploy) {
	steps := append(c.deploySteps[step.ID], step)
	slices.SortStableFunc(steps, func(a, b *Deploy) int {
		if x := a.At.Compare(b.At); x != 0 {
			return x
		}
		return int(a.Seq) - int(b.Seq)
	})
	c.deploySteps[step.ID] = steps
	c.stepsBySvc[step.Service] = append(c.stepsBySvc[step.Service], step)
	d := *steps[len(steps)-1]
	for _, s := range steps {
		if s.Status == "started" {
			d.StartedAt = s.At
			break
		}
	}
	c.deploys[step.ID] = &d
}

// liveIDs returns the live incident ids in a stable order, so that the
// projection does not depend on map iteration.
func (c *Correlator) liveIDs() []string {
	ids := make([]string, 0, len(c.live))
	for id := range c.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// relationKind is how a deploy's service relates to an incident.
type relationKind int

const (
	relNone relationKind = iota
	relAnchor
	relMember
	relDownstream
	relDependency
	relConsumer
	relBroad
)

// broadServices is how many services an incident must span before a
// change the configuration does not place (a network maintenance, a DNS
// push, a config rollout recorded under its own name) relates to it.
const broadServices = 3

// deployRelation is how a deploy's service relates to an incident, with
// the words for the timeline and the suspect score's weight.
type deployRelation struct {
	kind   relationKind
	text   string
	weight float64
}

// relationOf says how service relates to inc: its anchor, one of its
// services, a dependency of one of them, or a consumer of its anchor.
func (c *Correlator) relationOf(inc *Incident, service string) deployRelation {
	switch {
	case service == "":
		return deployRelation{}
	case service == inc.Anchor:
		return deployRelation{relAnchor, "(same service)", weightAnchor}
	case holds(inc, service):
		if c.reaches(inc, service, inc.Anchor, maxHops) {
			return deployRelation{relDownstream, "(same service)", weightDownstream}
		}
		return deployRelation{relMember, "(same service)", weightMember}
	}
	for _, s := range inc.Services {
		if slices.Contains(c.s.cfg.Service(s).DependsOn, service) {
			return deployRelation{relDependency, "(a dependency of " + s + ")", weightDependency}
		}
	}
	if slices.Contains(c.s.cfg.Service(service).DependsOn, inc.Anchor) {
		return deployRelation{relConsumer, "(it depends on " + inc.Anchor + ", the incident's anchor)", weightConsumer}
	}
	if len(inc.Services) >= broadServices && c.broadChange(service) {
		return deployRelation{relBroad, fmt.Sprintf("(a change the configuration does not place, before a failure across %d services)", len(inc.Services)), weightConsumer}
	}
	return deployRelation{}
}

// broadChange reports whether a deploy on service is a change with no
// single place in the topology: the service is not configured, nothing
// depends on it, and no incident holds it.
func (c *Correlator) broadChange(service string) bool {
	if service == "" {
		return false
	}
	if _, ok := c.s.cfg.Services[service]; ok {
		return false
	}
	return len(c.s.dependents[service]) == 0 && len(c.holding(service)) == 0
}

// relation is relationOf's words, "" when the service does not relate.
func (c *Correlator) relation(inc *Incident, service string) string {
	return c.relationOf(inc, service).text
}

// relates says whether a deploy step belongs on inc's timeline: on one of
// its services, a service they depend on or a consumer of its anchor,
// from deploy_lookback before its first symptom; during the incident only
// while something of it fires or it had an event within deploy_lookback
// (a page left open for days takes no deploy), and of a consumer only
// when an earlier step of the same deploy is on the timeline (its
// rollback, say).
func (c *Correlator) relates(inc *Incident, d *Deploy) (string, bool) {
	rel := c.relationOf(inc, d.Service)
	if rel.kind == relNone {
		return "", false
	}
	lookback := time.Duration(c.s.cfg.Correlation.DeployLookback)
	switch {
	case d.At.Before(inc.StartedAt.Add(-lookback)):
		return "", false
	case d.At.Before(inc.StartedAt):
		return fmt.Sprintf("deploy of %s %s %s before the first symptom (within correlation.deploy_lookback %s)",
			d.Service, rel.text, fmtDur(inc.StartedAt.Sub(d.At)), fmtDur(lookback)), true
	case (rel.kind == relConsumer || rel.kind == relBroad) && !c.runOnTimeline(inc, d.ID):
		return "", false
	case c.resolved(inc, d.At):
		return "", false
	case inc.FiringAlerts == 0 && d.At.Sub(maxTime(inc.LastActivity, inc.LastEnd)) > lookback:
		// Nothing fires and nothing happened for deploy_lookback: a page
		// left open is not activity near the deploy.
		return "", false
	default:
		return fmt.Sprintf("deploy of %s %s during the incident, %s after the first symptom",
			d.Service, rel.text, fmtDur(d.At.Sub(inc.StartedAt))), true
	}
}

// runOnTimeline reports whether a step of the deploy run that deploy id
// belongs to is on inc's timeline.
func (c *Correlator) runOnTimeline(inc *Incident, id string) bool {
	runs := c.deployRuns()
	root := runs.root(id)
	for _, other := range runs.members[root] {
		if c.anyStepOn(inc, other) {
			return true
		}
	}
	return false
}

func (c *Correlator) addDeployEntry(inc *Incident, d *Deploy, why string) {
	key := d.EventID
	if inc.DeployEntries == nil {
		inc.DeployEntries = map[string]bool{}
	}
	if inc.DeployEntries[key] {
		return
	}
	inc.DeployEntries[key] = true
	inc.Entries++
	if d.Seq > inc.LastSeq {
		inc.LastSeq = d.Seq
	}
	c.changes.Incidents[inc.ID] = inc
	c.appendEntry(d.entry(inc.ID, []string{why}))
	c.rankSuspects(inc)
}

// attachDeploys puts the known deploys that relate to inc on its timeline;
// called when an incident opens or gains a service.
func (c *Correlator) attachDeploys(inc *Incident) {
	for _, id := range c.deployIDs() {
		for _, step := range c.deploySteps[id] {
			if why, ok := c.relates(inc, step); ok {
				c.addDeployEntry(inc, step, why)
			}
		}
	}
}

func (c *Correlator) deployIDs() []string {
	ids := make([]string, 0, len(c.deploys))
	for id := range c.deploys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// forgetDeploys drops deploy steps that no incident can relate to any
// more.
func (c *Correlator) forgetDeploys(h time.Duration) {
	lookback := time.Duration(c.s.cfg.Correlation.DeployLookback)
	for _, id := range c.deployIDs() {
		d := c.deploys[id]
		if c.watermark.Sub(d.At) <= lookback+h {
			continue
		}
		for _, s := range c.deploySteps[id] {
			c.changes.ForgottenSteps = append(c.changes.ForgottenSteps, s.EventID)
			delete(c.changes.DeploySteps, s.EventID)
			c.stepsBySvc[s.Service] = slices.DeleteFunc(c.stepsBySvc[s.Service], func(x *Deploy) bool { return x == s })
			if len(c.stepsBySvc[s.Service]) == 0 {
				delete(c.stepsBySvc, s.Service)
			}
		}
		delete(c.deploys, id)
		delete(c.deploySteps, id)
	}
}

// deployRunSet groups deploy ids into runs: the steps of one rollout. The
// contract gives every step of a deploy the same id, but pipelines that
// report each step as its own deploy (a started and a succeeded id, a
// rollback with an id of its own) are common; their steps are one run
// when they are on the same service and carry the same version (or, with
// no version, the same pipeline URL), and a rollback belongs to the run
// whose version it rolled back from.
type deployRunSet struct {
	parent  map[string]string
	members map[string][]string
}

func (r *deployRunSet) root(id string) string {
	for {
		p, ok := r.parent[id]
		if !ok || p == id {
			return id
		}
		id = p
	}
}

func (r *deployRunSet) union(a, b string) {
	ra, rb := r.root(a), r.root(b)
	if ra == rb {
		return
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	r.parent[rb] = ra
}

// deployRuns groups the deploys in memory into runs.
func (c *Correlator) deployRuns() *deployRunSet {
	r := &deployRunSet{parent: map[string]string{}, members: map[string][]string{}}
	type attrs struct{ service, version, url, undoes string }
	byKey := map[string]string{} // service|v=version or service|u=url -> first id
	ids := c.deployIDs()
	info := make(map[string]attrs, len(ids))
	for _, id := range ids {
		r.parent[id] = id
		var a attrs
		for _, st := range c.deploySteps[id] {
			a.service = st.Service
			a.url = cmp.Or(a.url, st.info().URL)
			if st.Status == "rolled_back" {
				a.undoes = cmp.Or(st.info().PreviousVersion, a.undoes)
			} else {
				a.version = cmp.Or(a.version, st.info().Version)
			}
		}
		info[id] = a
		var keys []string
		switch {
		case a.version != "":
			keys = append(keys, a.service+"|v="+a.version)
		case a.url != "" && a.undoes == "":
			keys = append(keys, a.service+"|u="+a.url)
		}
		for _, k := range keys {
			if first, ok := byKey[k]; ok {
				r.union(first, id)
			} else {
				byKey[k] = id
			}
		}
	}
	for _, id := range ids {
		a := info[id]
		if a.undoes == "" || a.version != "" {
			continue
		}
		if first, ok := byKey[a.service+"|v="+a.undoes]; ok {
			r.union(first, id)
		} else if first, ok := byKey[a.service+"|u="+a.url]; ok && a.url != "" {
			r.union(first, id)
		}
	}
	for _, id := range ids {
		root := r.root(id)
		r.members[root] = append(r.members[root], id)
	}
	return r
}

// rankSuspects scores every deploy run with a step on inc's timeline and
// keeps the best above the threshold, with their reasons.
func (c *Correlator) rankSuspects(inc *Incident) {
	type cand struct {
		d       *Deploy
		score   float64
		delta   time.Duration
		reasons []string
	}
	lookback := time.Duration(c.s.cfg.Correlation.DeployLookback)
	t0 := inc.StartedAt
	runs := c.deployRuns()
	var cands []cand
	for _, root := range slices.Sorted(maps.Keys(runs.members)) {
		ids := runs.members[root]
		on := false
		var steps []*Deploy
		for _, id := range ids {
			on = on || c.anyStepOn(inc, id)
			steps = append(steps, c.deploySteps[id]...)
		}
		if !on {
			continue
		}
		slices.SortStableFunc(steps, func(a, b *Deploy) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq)) })
		rel := c.relationOf(inc, steps[0].Service)
		if rel.kind == relNone {
			continue
		}
		// Score the run as it stood at the first symptom: the latest step
		// at or before it. A run whose every step came later is not blamed.
		var live *Deploy
		for _, st := range steps {
			if !st.At.After(t0) {
				live = st
			}
		}
		if live == nil || t0.Sub(live.At) > lookback {
			continue
		}
		var reasons []string
		what := "a service of this incident"
		switch rel.kind {
		case relAnchor:
			what = "the service the incident is anchored on"
		case relDownstream:
			what = "a service of this incident that depends on " + inc.Anchor
		case relDependency:
			what = strings.Trim(rel.text, "()")
		case relConsumer:
			what = "a service that depends on " + inc.Anchor + ", the incident's anchor, and did not alert itself"
		case relBroad:
			what = fmt.Sprintf("a change the configuration does not place, followed by a failure across %d services", len(inc.Services))
		}
		reasons = append(reasons, fmt.Sprintf("deploy of %s, %s (weight %.1f)", live.Service, what, rel.weight))
		delta := t0.Sub(live.At)
		f := 1.0
		later := steps[len(steps)-1].At.After(t0)
		switch {
		case live.Status == "started" && later:
			delta = 0
			reasons = append(reasons, "it was in progress when the first symptom appeared (time 1.00)")
		default:
			if delta > proximityGrace {
				f = math.Exp(-float64(delta-proximityGrace) / float64(proximityScale))
			}
			reasons = append(reasons, fmt.Sprintf("%s %s before the first symptom (time %.2f)", strings.ReplaceAll(live.Status, "_", " "), fmtDur(delta), f))
		}
		score := rel.weight * f * scoreScale
		if a, at, ok := c.firedBefore(inc, live.Service, steps[0].At); ok {
			score *= preexistingFactor
			reasons = append(reasons, fmt.Sprintf("but %s on %s already fired %s before it, at %s (pre-existing, ×%.1f)",
				a.Name, live.Service, fmtDur(steps[0].At.Sub(at)), at.UTC().Format(time.RFC3339), preexistingFactor))
		}
		// Evidence from the run's own steps counts whatever came before.
		for _, st := range steps {
			if st.Status != "failed" {
				continue
			}
			if !st.At.After(t0) {
				score += pointsFailed
				reasons = append(reasons, fmt.Sprintf("it failed %s before the first symptom, leaving a half-done change (+%.2f)", fmtDur(t0.Sub(st.At)), pointsFailed))
			} else {
				score += pointsFailed
				reasons = append(reasons, fmt.Sprintf("it failed %s into the incident, after it was under way at the first symptom (+%.2f)", fmtDur(st.At.Sub(t0)), pointsFailed))
			}
			break
		}
		for _, st := range steps {
			if !st.At.After(t0) || st.Status != "rolled_back" {
				continue
			}
			into := fmtDur(st.At.Sub(t0)) + " into the incident"
			if end, ok := recoveredAfter(inc, st.At); ok {
				score += pointsRolledBackRecovered
				reasons = append(reasons, fmt.Sprintf("it rolled back %s, and every alert of the incident resolved within %s of it (+%.2f)",
					into, fmtDur(end.Sub(st.At)), pointsRolledBackRecovered))
			} else {
				reasons = append(reasons, "it rolled back "+into+" (the symptoms did not end with it)")
			}
			break
		}
		score = min(score, 1)
		reasons = append(reasons, fmt.Sprintf("score %.2f (named from %.2f)", score, suspectThreshold))
		cands = append(cands, cand{d: live, score: score, delta: delta, reasons: reasons})
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmp.Or(cmp.Compare(a.delta, b.delta), strings.Compare(a.d.ID, b.d.ID))
	})
	var out []SuspectedCause
	for _, cd := range cands {
		if cd.score < suspectThreshold || len(out) == maxSuspects {
			break
		}
		out = append(out, SuspectedCause{
			EntryID:  EntryID(cd.d.EventID),
			DeployID: cd.d.ID,
			Score:    math.Round(cd.score*100) / 100,
			Reasons:  cd.reasons,
		})
	}
	inc.Suspects = out
	c.changes.Incidents[inc.ID] = inc
}

// recoveredAfter reports whether inc's symptoms ended after a change at
// t: some alert still fired at t, every alert had resolved within
// recoveredWithin of it, and none began after it. It returns when the last
// one resolved.
func recoveredAfter(inc *Incident, t time.Time) (time.Time, bool) {
	var end time.Time
	firingAtT := false
	for _, a := range inc.Alerts {
		if a.Firing || a.StartsAt.After(t) || a.EndsAt.After(t.Add(recoveredWithin)) {
			return time.Time{}, false
		}
		if !a.EndsAt.Before(t) {
			firingAtT = true
		}
		end = maxTime(end, a.EndsAt)
	}
	return end, firingAtT
}

func (c *Correlator) anyStepOn(inc *Incident, deployID string) bool {
	for _, s := range c.deploySteps[deployID] {
		if inc.DeployEntries[s.EventID] {
			return true
		}
	}
	return false
}

// FiringHistory is what a Lookup may also answer: whether an alert
// (fingerprint) began firing in [from, to), and when. The Badger store
// keeps every firing start; the correlator adds this batch's.
type FiringHistory interface {
	FiredBetween(fingerprint string, from, to time.Time) (time.Time, bool)
}

// firedBefore finds an alert of inc on service that fired within
// preexistingWindow before t, from the whole log so far (committed and
// this batch), so that live traffic and a replay agree.
func (c *Correlator) firedBefore(inc *Incident, service string, t time.Time) (*AlertState, time.Time, bool) {
	from := t.Add(-preexistingWindow)
	hist, _ := c.lookup.(FiringHistory)
	for _, a := range inc.AlertList() {
		if a.Service != service {
			continue
		}
		var found time.Time
		for _, e := range c.changes.Entries {
			if s := e.Ref.StartsAt; e.Ref.Fingerprint == a.Fingerprint && s != nil && !s.Before(from) && s.Before(t) {
				found = minTime(found, *s)
			}
		}
		if hist != nil {
			if s, ok := hist.FiredBetween(a.Fingerprint, from, t); ok {
				found = minTime(found, s)
			}
		}
		if !found.IsZero() {
			return a, found, true
		}
	}
	return nil, time.Time{}, false
}
