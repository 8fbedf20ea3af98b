package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

// Methods compared, in report order.
const (
	MethodEngine   = "engine"
	MethodGroupKey = "groupKey"
	MethodWindow   = "window"
)

// Methods lists the methods in report order.
var Methods = []string{MethodEngine, MethodGroupKey, MethodWindow}

// SeverityGrace is how long after a scenario's last event its incidents'
// severities are read: late enough that every incident that resolved is
// resolved (correlation.resolve_after), so its end is its last event.
const SeverityGrace = time.Hour

// EngineRun is what the engine made of one scenario.
type EngineRun struct {
	// Incidents are the final state of every incident not merged into
	// another, by id, as the store serves them.
	Incidents map[string]*correlate.Incident
	// Placed is the entry each alert and PagerDuty event made, by event
	// id, as the store serves it at the end.
	Placed map[string]correlate.Entry
	// Applied counts the events the log stored; Redelivered the
	// deliveries it dropped because their id was already in the log.
	Applied, Redelivered int
}

// RunEngine runs a scenario through the daemon's own parts: each delivery
// is appended to a Badger event log (correlate/store, in memory) in
// arrival order, which drops a redelivery of an id it holds, and the
// Projector applies and commits it before the next one arrives, as the
// daemon does before it answers a request. The figures are then read
// back from the store the way the API reads them.
func RunEngine(sc *Scenario) (*EngineRun, error) {
	ctx := context.Background()
	db, err := store.Open("", store.Options{InMemory: true}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.ID, err)
	}
	defer db.Close()
	proj, err := correlate.NewProjector(ctx, db, db, sc.Config(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.ID, err)
	}
	run := &EngineRun{Incidents: map[string]*correlate.Incident{}, Placed: map[string]correlate.Entry{}}
	var head uint64
	for _, le := range sc.Events {
		ev := le.Event
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("scenario %s: event %s: %w", sc.ID, ev.ID, err)
		}
		seq, err := db.Append(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: append %s: %w", sc.ID, ev.ID, err)
		}
		if seq <= head {
			run.Redelivered++
			continue
		}
		head = seq
		run.Applied++
		if err := proj.CatchUp(ctx); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", sc.ID, err)
		}
	}
	err = db.ScanIncidents(ctx, "", func(inc *correlate.Incident, _ string) bool {
		run.Incidents[inc.ID] = inc
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.ID, err)
	}
	for id := range run.Incidents {
		tl, err := db.Timeline(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", sc.ID, err)
		}
		for _, e := range tl {
			if e.Source != collector.SourceDeploy {
				run.Placed[e.EventID] = e
			}
		}
	}
	return run, nil
}

// scenarioResult is one scenario, scored.
type scenarioResult struct {
	sc    *Scenario
	items Partition            // alert event id -> true incident
	pred  map[string]Partition // method -> alert event id -> cluster
	run   *EngineRun
	bc    map[string]PRF
	// Engine-only figures.
	goldN, predN                         int
	hit1, hit3, falseSusp, sev, pageLink Ratio
	// sevExact is severity accuracy over the true incidents the engine
	// grouped exactly (same alert events and pages, nothing else).
	sevExact   Ratio
	frag, over Ratio
	unplaced   int
	// stuck counts alerts the engine still holds as firing at the end
	// although the resolution of that very firing was applied.
	stuck    int
	findings []finding
}

func isAlert(ev *collector.Event) bool {
	return ev.Source == collector.SourceAlertmanager && (ev.Kind == collector.KindAlertFiring || ev.Kind == collector.KindAlertResolved)
}

func isPageTrigger(ev *collector.Event) bool {
	return ev.Source == collector.SourcePagerDuty && ev.Kind == "pagerduty.incident.triggered"
}

// scoreScenario runs the engine and the baselines over one scenario.
func scoreScenario(sc *Scenario) (*scenarioResult, error) {
	run, err := RunEngine(sc)
	if err != nil {
		return nil, err
	}
	res := &scenarioResult{sc: sc, items: Partition{}, pred: map[string]Partition{}, run: run, bc: map[string]PRF{}}
	var alerts []collector.Event
	pages := Partition{}
	seen := map[string]bool{}
	for _, le := range sc.Events {
		ev := le.Event
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		switch {
		case isAlert(&ev):
			if le.Incident == "" {
				return nil, fmt.Errorf("scenario %s: alert event %s has no true incident", sc.ID, ev.ID)
			}
			res.items[ev.ID] = le.Incident
			alerts = append(alerts, ev)
		case isPageTrigger(&ev):
			pages[ev.ID] = le.Incident
		}
	}
	engine := Partition{}
	for id := range res.items {
		if e, ok := run.Placed[id]; ok {
			engine[id] = e.IncidentID
		} else {
			res.unplaced++
		}
	}
	res.pred[MethodEngine] = engine
	res.pred[MethodGroupKey] = GroupKeyBaseline(alerts)
	res.pred[MethodWindow] = WindowBaseline(alerts, Window)
	for _, m := range Methods {
		res.bc[m] = BCubed(res.items, res.pred[m])
	}

	// Matching uses alert events and page triggers, so that an incident
	// made of a page alone is matched too.
	goldAll, predAll := maps.Clone(res.items), maps.Clone(engine)
	for id, g := range pages {
		goldAll[id] = g
		if e, ok := run.Placed[id]; ok {
			predAll[id] = e.IncidentID
		}
	}
	toPred := Majority(goldAll, predAll)
	toGold := Majority(predAll, goldAll)
	causes := map[string]string{}
	for _, ti := range sc.Incidents {
		causes[ti.ID] = ti.Cause
	}
	suspects := map[string][]string{}
	for id, inc := range run.Incidents {
		for _, s := range inc.Suspects {
			suspects[id] = append(suspects[id], s.DeployID)
		}
	}
	res.hit1 = HitAtK(causes, toPred, suspects, 1)
	res.hit3 = HitAtK(causes, toPred, suspects, 3)
	res.falseSusp = FalseSuspects(causes, toGold, suspects)

	cfg := sc.Config()
	resolveAfter := time.Duration(cfg.Correlation.ResolveAfter)
	now := sc.End().Add(SeverityGrace)
	goldN, predN, both := map[string]int{}, map[string]int{}, map[[2]string]int{}
	for id, g := range goldAll {
		goldN[g]++
		if p, ok := predAll[id]; ok {
			both[[2]string{g, p}]++
		}
	}
	for _, p := range predAll {
		predN[p]++
	}
	for _, ti := range sc.Incidents {
		p := toPred[ti.ID]
		exact := p != "" && both[[2]string{ti.ID, p}] == goldN[ti.ID] && predN[p] == goldN[ti.ID]
		right := false
		if inc := run.Incidents[p]; inc != nil {
			right = correlate.Assess(inc, cfg, inc.End(now, resolveAfter, time.Duration(cfg.Correlation.PageStaleAfter))).Suggested == ti.Severity
		}
		res.sev.Den++
		if right {
			res.sev.Num++
		}
		if exact {
			res.sevExact.Den++
			if right {
				res.sevExact.Num++
			}
		}
	}
	for id, g := range pages {
		res.pageLink.Den++
		if p, ok := predAll[id]; ok && toPred[g] == p && toGold[p] == g {
			res.pageLink.Num++
		}
	}
	resolved := map[string]bool{}
	for _, ev := range alerts {
		if ev.Kind == collector.KindAlertResolved {
			k, _ := episode(&ev)
			resolved[k] = true
		}
	}
	for _, inc := range run.Incidents {
		for _, a := range inc.Alerts {
			if a.Firing && resolved[a.Fingerprint+"|"+a.StartsAt.UTC().Format(time.RFC3339Nano)] {
				res.stuck++
			}
		}
	}
	res.goldN = len(sc.Incidents)
	res.predN = len(run.Incidents)
	res.diagnose(toPred, toGold, pages)
	return res, nil
}

// finding is one cell of the engine's contingency table that is wrong: a
// group of alert events of one true incident placed with another
// incident's events (over-merge) or apart from the rest of its own
// (fragment). The cell's first event, by log position, says why.
type finding struct {
	kind    string // "fragment" or "over-merge"
	items   int
	entry   correlate.Entry
	hint    string // the relation to the incident the events should have joined, or joined wrongly
	hintKey string
}

func (res *scenarioResult) diagnose(toPred, toGold map[string]string, pages Partition) {
	engine := res.pred[MethodEngine]
	type cell struct{ g, p string }
	cells := map[cell][]correlate.Entry{}
	byPred := map[string][]correlate.Entry{}
	goldPreds := map[string]map[string]bool{}
	predGolds := map[string]map[string]bool{}
	for id, g := range res.items {
		p, ok := engine[id]
		if !ok {
			continue
		}
		e := res.run.Placed[id]
		cells[cell{g, p}] = append(cells[cell{g, p}], e)
		byPred[p] = append(byPred[p], e)
		if goldPreds[g] == nil {
			goldPreds[g] = map[string]bool{}
		}
		goldPreds[g][p] = true
		if predGolds[p] == nil {
			predGolds[p] = map[string]bool{}
		}
		predGolds[p][g] = true
	}
	for _, ps := range goldPreds {
		res.frag.Den++
		if len(ps) > 1 {
			res.frag.Num++
		}
	}
	for _, gs := range predGolds {
		res.over.Den++
		if len(gs) > 1 {
			res.over.Num++
		}
	}
	bySeq := func(a, b correlate.Entry) int { return int(a.Seq) - int(b.Seq) }
	for _, es := range byPred {
		slices.SortFunc(es, bySeq)
	}
	// Fragments: the first event of each group of a true incident's events
	// placed apart from the incident holding most of them.
	keys := slices.SortedFunc(maps.Keys(cells), func(a, b cell) int {
		if c := strings.Compare(a.g, b.g); c != 0 {
			return c
		}
		return strings.Compare(a.p, b.p)
	})
	for _, k := range keys {
		es := cells[k]
		slices.SortFunc(es, bySeq)
		if main := toPred[k.g]; main != k.p && main != "" {
			hint, key := res.fragmentHint(es[0], res.run.Incidents[main], byPred[main])
			res.findings = append(res.findings, finding{kind: "fragment", items: len(es), entry: es[0], hint: hint, hintKey: key})
		}
	}
	// Over-merges: in an incident holding events of several true
	// incidents, the first event of each true incident other than the one
	// that opened it: the join that merged them.
	for _, p := range slices.Sorted(maps.Keys(byPred)) {
		es := byPred[p]
		if len(predGolds[p]) < 2 {
			continue
		}
		opener := res.items[es[0].EventID]
		done := map[string]bool{opener: true}
		for _, e := range es {
			g := res.items[e.EventID]
			if done[g] {
				continue
			}
			done[g] = true
			hint, key := res.mergeHint(e, p, opener)
			res.findings = append(res.findings, finding{kind: "over-merge", items: len(cells[cell{g, p}]), entry: e, hint: hint, hintKey: key})
		}
	}
	// Pages placed elsewhere than the incident of their alerts, or with
	// another incident's alerts.
	for _, id := range slices.Sorted(maps.Keys(pages)) {
		g := pages[id]
		e, ok := res.run.Placed[id]
		if !ok || (toPred[g] == e.IncidentID && toGold[e.IncidentID] == g) {
			continue
		}
		hint, key := "", "page with other alerts"
		var firstAlert *correlate.Entry
		for aid, ag := range res.items {
			if ae := res.run.Placed[aid]; ag == g && (firstAlert == nil || ae.Seq < firstAlert.Seq) {
				firstAlert = &ae
			}
		}
		switch {
		case firstAlert != nil && firstAlert.Seq > e.Seq:
			hint = fmt.Sprintf("the page arrived %s before the first alert of its incident (%s)", correlate.FormatDuration(firstAlert.ReceivedAt.Sub(e.ReceivedAt)), svcOrAlert(*firstAlert))
			key = "page before its incident's first alert"
		case firstAlert != nil:
			hint, key = "the page arrived after its incident's alerts", "page after its incident's alerts"
		}
		res.findings = append(res.findings, finding{kind: "page", items: 1, entry: e, hint: hint, hintKey: key})
	}
}

// fragmentHint says how an event kept apart relates to the incident it
// should have joined (main): by service and by time.
func (res *scenarioResult) fragmentHint(e correlate.Entry, main *correlate.Incident, members []correlate.Entry) (string, string) {
	cfg := res.sc.Config()
	svc := e.Service
	var rel, key string
	switch {
	case main == nil:
		return "", "?"
	case slices.Contains(main.Services, svc):
		rel, key = "same service as a member", "same service"
	case slices.Contains(cfg.Service(svc).DependsOn, main.Anchor):
		rel, key = "depends on the anchor "+main.Anchor, "one hop from the anchor"
	case slices.Contains(cfg.Service(main.Anchor).DependsOn, svc):
		rel, key = "the anchor "+main.Anchor+" depends on it", "one hop from the anchor"
	default:
		for _, m := range main.Services {
			if slices.Contains(cfg.Service(svc).DependsOn, m) || slices.Contains(cfg.Service(m).DependsOn, svc) {
				rel, key = fmt.Sprintf("one hop from member %s, not from the anchor %s", m, main.Anchor), "one hop from a member, not the anchor"
				break
			}
		}
		if rel == "" {
			rel, key = "no dependency with any service of "+strings.Join(main.Services, ", "), "no dependency"
		}
	}
	at := e.At
	if e.Alert != nil && !e.Alert.StartsAt.IsZero() {
		at = e.Alert.StartsAt
	}
	d := at.Sub(main.StartedAt)
	window := time.Duration(cfg.Correlation.Window)
	when := fmt.Sprintf("%s after its first event", correlate.FormatDuration(d))
	if d < 0 {
		when = fmt.Sprintf("%s before its first event", correlate.FormatDuration(d))
	}
	if d > window {
		key += ", later than correlation.window"
	}
	for _, m := range members {
		if m.Service == main.Anchor {
			if m.Seq > e.Seq {
				when += ", before the anchor's first alert arrived"
				key += ", before the anchor alerted"
			}
			break
		}
	}
	return fmt.Sprintf("%s: %s (%s, %s)", svcOrAlert(e), rel, when, main.Anchor), key
}

// mergeHint says how an event that joined another incident's events
// relates to them: the same cluster or not.
func (res *scenarioResult) mergeHint(e correlate.Entry, pred, owner string) (string, string) {
	inc := res.run.Incidents[pred]
	clusters := map[string]bool{}
	for id, g := range res.items {
		if g == owner && res.pred[MethodEngine][id] == pred {
			clusters[res.run.Placed[id].Labels["cluster"]] = true
		}
	}
	own := e.Labels["cluster"]
	if !clusters[own] {
		return fmt.Sprintf("%s in %s joined an incident opened in %s by another fault (now anchored on %s)", svcOrAlert(e), own, strings.Join(slices.Sorted(maps.Keys(clusters)), ", "), inc.Anchor), "across clusters"
	}
	return fmt.Sprintf("%s joined an incident opened by another fault in the same cluster (now anchored on %s)", svcOrAlert(e), inc.Anchor), "same cluster"
}

func svcOrAlert(e correlate.Entry) string {
	name := ""
	if e.Alert != nil {
		name = e.Alert.Name
	}
	if e.Service != "" {
		return e.Service + " " + name
	}
	return name
}

// Score is the pooled result of a set of scenarios (a family, or all).
type Score struct {
	Name                              string
	Scenarios, Items                  int
	GoldIncidents, PredIncidents      int
	BCubed, Pairwise                  map[string]PRF
	MacroF1                           map[string]float64
	Hit1, Hit3, FalseSuspect          Ratio
	Severity, SeverityExact, PageLink Ratio
	Fragmented, OverMerged            Ratio
	Unplaced, Applied, Redelivered    int
	// Stuck counts alerts left firing although their resolution was
	// applied, and StuckIn the scenarios where that happened.
	Stuck    int
	StuckIn  []string
	gold     Partition
	pred     map[string]Partition
	macroSum map[string]float64
}

func newScore(name string) *Score {
	return &Score{Name: name, BCubed: map[string]PRF{}, Pairwise: map[string]PRF{}, MacroF1: map[string]float64{},
		gold: Partition{}, pred: map[string]Partition{}, macroSum: map[string]float64{}}
}

func (s *Score) add(res *scenarioResult) {
	s.Scenarios++
	s.Items += len(res.items)
	s.GoldIncidents += res.goldN
	s.PredIncidents += res.predN
	s.Hit1 = s.Hit1.Add(res.hit1)
	s.Hit3 = s.Hit3.Add(res.hit3)
	s.FalseSuspect = s.FalseSuspect.Add(res.falseSusp)
	s.Severity = s.Severity.Add(res.sev)
	s.SeverityExact = s.SeverityExact.Add(res.sevExact)
	s.PageLink = s.PageLink.Add(res.pageLink)
	s.Fragmented = s.Fragmented.Add(res.frag)
	s.OverMerged = s.OverMerged.Add(res.over)
	s.Unplaced += res.unplaced
	s.Applied += res.run.Applied
	s.Redelivered += res.run.Redelivered
	if res.stuck > 0 {
		s.Stuck += res.stuck
		s.StuckIn = append(s.StuckIn, res.sc.ID)
	}
	prefix := res.sc.ID + "/"
	for id, g := range res.items {
		s.gold[prefix+id] = prefix + g
	}
	for _, m := range Methods {
		if s.pred[m] == nil {
			s.pred[m] = Partition{}
		}
		for id, p := range res.pred[m] {
			s.pred[m][prefix+id] = prefix + p
		}
		s.macroSum[m] += res.bc[m].F1
	}
}

func (s *Score) finish() {
	for _, m := range Methods {
		s.BCubed[m] = BCubed(s.gold, s.pred[m])
		s.Pairwise[m] = Pairwise(s.gold, s.pred[m])
		if s.Scenarios > 0 {
			s.MacroF1[m] = s.macroSum[m] / float64(s.Scenarios)
		}
	}
}

// Finding is a kind of engine mistake seen in a family: how many alert
// events it misplaced, in which scenarios, and one example with the
// reason the engine recorded.
type Finding struct {
	Family string
	// Kind is "fragment" (events of one true incident kept apart from the
	// rest of it) or "over-merge" (events placed with another true
	// incident's).
	Kind string
	// Reason is the engine's first reason for the events' entries, with
	// names, times and durations left out; Relation how the events relate
	// to the incident they belonged with (fragments) or joined (merges).
	Reason, Relation string
	Items            int
	Scenarios        []string
	// Example is one occurrence: scenario, event, reason, relation.
	ExampleScenario, ExampleEvent, ExampleReason, ExampleRelation string
}

// Report is the result of an evaluation.
type Report struct {
	Families []*Score
	Overall  *Score
	// ButStorm is every family but storm, whose many events weigh heavily
	// in the pooled figures: a diagnostic, not a target.
	ButStorm *Score
	Findings []Finding
}

// Evaluate scores the engine and the baselines on the scenarios.
func Evaluate(scs []*Scenario) (*Report, error) {
	r := &Report{Overall: newScore("all"), ButStorm: newScore("all but storm")}
	byFam := map[string]*Score{}
	agg := map[[4]string]*Finding{}
	var order [][4]string
	for _, sc := range scs {
		res, err := scoreScenario(sc)
		if err != nil {
			return nil, err
		}
		fs := byFam[sc.Family]
		if fs == nil {
			fs = newScore(sc.Family)
			byFam[sc.Family] = fs
			r.Families = append(r.Families, fs)
		}
		fs.add(res)
		r.Overall.add(res)
		if sc.Family != "storm" {
			r.ButStorm.add(res)
		}
		for _, f := range res.findings {
			reason := ""
			if len(f.entry.Reasons) > 0 {
				reason = f.entry.Reasons[0]
			}
			class := normaliseReason(reason)
			k := [4]string{sc.Family, f.kind, class, f.hintKey}
			a := agg[k]
			if a == nil {
				a = &Finding{Family: sc.Family, Kind: f.kind, Reason: class, Relation: f.hintKey,
					ExampleScenario: sc.ID, ExampleEvent: f.entry.Summary, ExampleReason: reason, ExampleRelation: f.hint}
				agg[k] = a
				order = append(order, k)
			}
			a.Items += f.items
			if !slices.Contains(a.Scenarios, sc.ID) {
				a.Scenarios = append(a.Scenarios, sc.ID)
			}
		}
	}
	famOrder := map[string]int{}
	for i, f := range families {
		famOrder[f.Name] = i
	}
	sort.SliceStable(r.Families, func(i, j int) bool { return famOrder[r.Families[i].Name] < famOrder[r.Families[j].Name] })
	for _, fs := range r.Families {
		fs.finish()
	}
	r.Overall.finish()
	r.ButStorm.finish()
	for _, k := range order {
		r.Findings = append(r.Findings, *agg[k])
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Family != b.Family {
			return famOrder[a.Family] < famOrder[b.Family]
		}
		return a.Items > b.Items
	})
	return r, nil
}

var (
	reFingerprint = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	reTime        = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reDuration    = regexp.MustCompile(`\b\d+(d\d+h|h\d+m|h|m\d+s|m|s)\b`)
	rePDNumber    = regexp.MustCompile(`#\d+`)
	reNames       = func() *regexp.Regexp {
		names := serviceNames(nil)
		names = append(names, "kube-state-metrics", clusters[0], clusters[1])
		for _, defs := range downAlerts {
			for _, d := range defs {
				names = append(names, d.name)
			}
		}
		names = append(names, targetDown.name, podNotReady.name, nodeNotReady.name, wafAttack.name, diskPredict.name, diskLow.name, diskCrit.name)
		slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
		for i, n := range names {
			names[i] = regexp.QuoteMeta(n)
		}
		return regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
	}()
)

// normaliseReason removes what differs between occurrences of the same
// kind of decision: names, times, durations, fingerprints.
func normaliseReason(s string) string {
	s = reTime.ReplaceAllString(s, "<time>")
	s = reFingerprint.ReplaceAllString(s, "<fp>")
	s = reNames.ReplaceAllString(s, "<name>")
	s = reDuration.ReplaceAllString(s, "<d>")
	s = rePDNumber.ReplaceAllString(s, "#<n>")
	return s
}

// BetterBaseline returns the baseline with the higher overall B-cubed F1.
func (r *Report) BetterBaseline() (string, PRF) {
	gk, w := r.Overall.BCubed[MethodGroupKey], r.Overall.BCubed[MethodWindow]
	if w.F1 > gk.F1 {
		return MethodWindow, w
	}
	return MethodGroupKey, gk
}

// Target is one of the targets and whether it is met.
type Target struct {
	Name   string
	Met    bool
	Detail string
}

// Targets are the targets for the engine's overall B-cubed F1.
func (r *Report) Targets() []Target {
	e := r.Overall.BCubed[MethodEngine].F1
	name, b := r.BetterBaseline()
	return []Target{
		{Name: "B-cubed F1 >= 0.95", Met: e >= 0.95, Detail: fmt.Sprintf("engine %.3f", e)},
		{Name: "B-cubed F1 >= better baseline + 0.20", Met: e >= b.F1+0.20,
			Detail: fmt.Sprintf("engine %.3f, %s %.3f, margin %+.3f", e, name, b.F1, e-b.F1)},
		{Name: "regression guard: B-cubed F1 >= better baseline", Met: e >= b.F1,
			Detail: fmt.Sprintf("engine %.3f, %s %.3f", e, name, b.F1)},
	}
}
