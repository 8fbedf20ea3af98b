package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Suspect scoring (research/correlation.md §7.5): additive and
// explainable; every term that counts is a reason a person can check.
const (
	pointsSameService  = 40.0
	pointsDependency   = 20.0
	pointsProximityMax = 30.0
	proximityScale     = 15 * time.Minute
	pointsBadStatus    = 10.0
	// pointsPreexisting is taken off a deploy when an alert of the
	// incident on the deploy's service already fired within
	// preexistingWindow before it: the problem was there before the change
	// (research/correlation.md §7.5, "as Watchdog").
	pointsPreexisting = 40.0
	preexistingWindow = 2 * time.Hour
	// suspectThreshold is the score (0..100 before scaling) a deploy needs
	// to be named a suspect.
	suspectThreshold = 35.0
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
	for _, id := range c.liveIDs() {
		inc := c.live[id]
		if why, ok := c.relates(inc, step); ok {
			c.addDeployEntry(inc, step, why)
		}
	}
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

// relates says whether a deploy step belongs on inc's timeline: on one of
// its services or a service they depend on, from deploy_lookback before
// its first alert until it resolved.
func (c *Correlator) relates(inc *Incident, d *Deploy) (string, bool) {
	rel := c.relation(inc, d.Service)
	if rel == "" {
		return "", false
	}
	lookback := time.Duration(c.s.cfg.Correlation.DeployLookback)
	switch {
	case d.At.Before(inc.StartedAt.Add(-lookback)):
		return "", false
	case d.At.Before(inc.StartedAt):
		return fmt.Sprintf("deploy of %s %s %s before the first symptom (within correlation.deploy_lookback %s)",
			d.Service, rel, fmtDur(inc.StartedAt.Sub(d.At)), fmtDur(lookback)), true
	case c.resolved(inc, d.At):
		return "", false
	default:
		return fmt.Sprintf("deploy of %s %s during the incident, %s after the first symptom",
			d.Service, rel, fmtDur(d.At.Sub(inc.StartedAt))), true
	}
}

// relation describes how service relates to inc: "(same service)" or
// "(a dependency of checkout)", or "" when it does not.
func (c *Correlator) relation(inc *Incident, service string) string {
	if service == "" {
		return ""
	}
	if slices.Contains(inc.Services, service) || inc.Anchor == service {
		return "(same service)"
	}
	for _, s := range inc.Services {
		if slices.Contains(c.s.cfg.Service(s).DependsOn, service) {
			return "(a dependency of " + s + ")"
		}
	}
	return ""
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
		}
		delete(c.deploys, id)
		delete(c.deploySteps, id)
	}
}

// rankSuspects scores every deploy on inc's timeline and keeps the top
// ones above the threshold, with their reasons.
func (c *Correlator) rankSuspects(inc *Incident) {
	type cand struct {
		d       *Deploy
		score   float64
		reasons []string
	}
	var cands []cand
	for _, id := range c.deployIDs() {
		d := c.deploys[id]
		if !c.anyStepOn(inc, id) {
			continue
		}
		rel := c.relation(inc, d.Service)
		var score float64
		var reasons []string
		switch rel {
		case "":
			continue
		case "(same service)":
			score += pointsSameService
			reasons = append(reasons, fmt.Sprintf("deploy of %s, a service of this incident (+%.0f)", d.Service, pointsSameService))
		default:
			score += pointsDependency
			reasons = append(reasons, fmt.Sprintf("deploy of %s %s (+%.0f)", d.Service, rel, pointsDependency))
		}
		// Score the deploy as it stood at the first symptom: the latest step
		// at or before it. A deploy whose every step came later is not
		// blamed.
		var live *Deploy
		for _, st := range c.deploySteps[id] {
			if !st.At.After(inc.StartedAt) {
				live = st
			}
		}
		if live == nil {
			continue
		}
		delta := inc.StartedAt.Sub(live.At)
		prox := pointsProximityMax
		if live.Status == "started" && d.At.After(inc.StartedAt) {
			reasons = append(reasons, fmt.Sprintf("it was in progress when the first symptom appeared (+%.0f)", prox))
		} else {
			prox = pointsProximityMax * math.Exp(-float64(delta)/float64(proximityScale))
			reasons = append(reasons, fmt.Sprintf("%s %s before the first symptom (+%.0f)", live.Status, fmtDur(delta), prox))
		}
		score += prox
		if d.Status == "failed" || d.Status == "rolled_back" {
			score += pointsBadStatus
			when := "before the first symptom"
			if d.At.After(inc.StartedAt) {
				when = fmtDur(d.At.Sub(inc.StartedAt)) + " into the incident"
			}
			reasons = append(reasons, fmt.Sprintf("it %s %s (+%.0f)", strings.ReplaceAll(d.Status, "_", " "), when, pointsBadStatus))
		}
		if a, at, ok := c.firedBefore(inc, d.Service, live.At); ok {
			score -= pointsPreexisting
			reasons = append(reasons, fmt.Sprintf("but %s on %s already fired %s before it, at %s (pre-existing, −%.0f)",
				a.Name, d.Service, fmtDur(live.At.Sub(at)), at.UTC().Format(time.RFC3339), pointsPreexisting))
		}
		cands = append(cands, cand{d: live, score: score, reasons: reasons})
	}
	if n := len(cands); n > 1 {
		f := 1 / (1 + 0.25*float64(n-1))
		for i := range cands {
			cands[i].score *= f
			cands[i].reasons = append(cands[i].reasons, fmt.Sprintf("credit shared with %d other deploy(s) in the window (×%.2f)", n-1, f))
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.d.ID, b.d.ID)
	})
	var out []SuspectedCause
	for _, cd := range cands {
		if cd.score < suspectThreshold || len(out) == maxSuspects {
			break
		}
		out = append(out, SuspectedCause{
			EntryID:  EntryID(cd.d.EventID),
			DeployID: cd.d.ID,
			Score:    math.Round(cd.score) / 100,
			Reasons:  cd.reasons,
		})
	}
	inc.Suspects = out
	c.changes.Incidents[inc.ID] = inc
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
