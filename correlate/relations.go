package correlate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// The rules in this file place an alert (or a page) by what its service
// has to do with an open incident: the same service under group_by labels
// that do not contradict each other, the dependency graph in either
// direction and through the incident's members, a dependency both sides
// share, and the same host. Each returns the incident and the reasons a
// person can check, or nil.

// maxHops bounds how far a dependency path runs through an incident's
// services: a failure spreads through dependents, but a long path is more
// likely a coincidence than a cascade.
const maxHops = 3

// groupCompatible reports whether an event with the group_by labels gl
// may join an incident with the labels ig: a label both carry must be
// equal, and one that either lacks does not keep them apart. An alert
// without a cluster label (a blackbox probe, a DNS server's own alert) is
// not known to be in another cluster; Alertmanager's grouping treats the
// missing label as the empty value, which would split one failure by how
// each rule happens to be labelled.
func groupCompatible(ig, gl map[string]string) bool {
	for k, v := range gl {
		if w, ok := ig[k]; ok && w != v {
			return false
		}
	}
	return true
}

// widenGroup records on inc the group_by labels of a member that inc did
// not have yet, so that an incident joined by an unlabelled alert first
// and a labelled one later takes no alert of another cluster.
func (c *Correlator) widenGroup(inc *Incident, ev *collector.Event) {
	var add []string
	for _, k := range c.s.groupBy {
		if _, ok := inc.GroupLabels[k]; !ok && ev.Labels[k] != "" {
			add = append(add, k)
		}
	}
	if len(add) == 0 {
		return
	}
	c.ungroup(inc)
	c.unindexServices(inc)
	ng := maps.Clone(inc.GroupLabels)
	if ng == nil {
		ng = map[string]string{}
	}
	for _, k := range add {
		ng[k] = ev.Labels[k]
	}
	inc.GroupLabels = ng
	c.index(inc)
	for _, s := range inc.Services {
		c.indexService(inc, s)
	}
	c.indexService(inc, inc.Anchor)
	c.changes.Incidents[inc.ID] = inc
}

// indexService notes that inc holds service.
func (c *Correlator) indexService(inc *Incident, service string) {
	if service == "" {
		return
	}
	addTo(c.byService, service, inc.ID)
	addTo(c.byServiceScope, c.serviceScope(inc, service), inc.ID)
	if len(inc.Services) >= broadServices {
		c.broad[inc.ID] = true
	}
}

// unindexService notes that inc no longer holds service.
func (c *Correlator) unindexService(inc *Incident, service string) {
	dropFrom(c.byService, service, inc.ID)
	dropFrom(c.byServiceScope, c.serviceScope(inc, service), inc.ID)
}

// serviceScope files a service of inc under the first group_by label's
// value or its absence, so the same-service rule looks only at incidents
// that can be compatible.
func (c *Correlator) serviceScope(inc *Incident, service string) string {
	if len(c.s.groupBy) == 0 {
		return service
	}
	k := c.s.groupBy[0]
	if v, ok := inc.GroupLabels[k]; ok {
		return service + "\x00" + k + "=" + v
	}
	return service + "\x00-" + k
}

// unindexServices removes an incident that leaves memory from the service
// index.
func (c *Correlator) unindexServices(inc *Incident) {
	delete(c.broad, inc.ID)
	for _, s := range inc.Services {
		c.unindexService(inc, s)
	}
	c.unindexService(inc, inc.Anchor)
}

// eachSameService calls fn with each live incident holding service whose
// first group_by label does not contradict gl's.
func (c *Correlator) eachSameService(service string, gl map[string]string, fn func(*Incident)) {
	if len(c.s.groupBy) == 0 {
		c.eachHolding(service, fn)
		return
	}
	k := c.s.groupBy[0]
	v, ok := gl[k]
	if !ok {
		c.eachHolding(service, fn)
		return
	}
	for _, scope := range [2]string{service + "\x00" + k + "=" + v, service + "\x00-" + k} {
		for id := range c.byServiceScope[scope] {
			if inc := c.live[id]; inc != nil && inc.MergedInto == "" {
				fn(inc)
			}
		}
	}
}

// holding returns the live incidents that hold service (or are anchored
// on it). The index is kept exact: settle drops what a split took away,
// setAnchor the anchor an incident no longer holds.
func (c *Correlator) holding(service string) []*Incident {
	m := c.byService[service]
	if len(m) == 0 {
		return nil
	}
	// In no particular order: every caller chooses by start and id.
	out := make([]*Incident, 0, len(m))
	for id := range m {
		inc := c.live[id]
		if inc == nil || inc.MergedInto != "" {
			continue
		}
		if _, ok := slices.BinarySearch(inc.Services, service); ok || inc.Anchor == service {
			out = append(out, inc)
		}
	}
	return out
}

// eachHolding calls fn with each live incident that holds service, in no
// particular order, without building a list (the hot path).
func (c *Correlator) eachHolding(service string, fn func(*Incident)) {
	for id := range c.byService[service] {
		if inc := c.live[id]; inc != nil && inc.MergedInto == "" {
			fn(inc)
		}
	}
}

// holds reports whether service is one of inc's services.
func holds(inc *Incident, service string) bool {
	_, ok := slices.BinarySearch(inc.Services, service)
	return ok
}

// sameServiceJoin finds an incident of the same service under group_by
// labels that do not contradict the alert's (the partition itself was
// tried first): the newest that takes it by the partition rules.
func (c *Correlator) sameServiceJoin(service, key string, ev *collector.Event, gl map[string]string, t time.Time) (*Incident, []string) {
	if service == "" {
		return nil, nil
	}
	var best *Incident
	owner := c.byKey[key]
	c.eachSameService(service, gl, func(inc *Incident) {
		// The cheap tests first: a long-lived service has many incidents.
		if owner == inc.ID || !c.joinable(inc, t) || !c.partitionTakes(inc, t) || !groupCompatible(inc.GroupLabels, gl) {
			return
		}
		if best == nil || inc.StartedAt.After(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID > best.ID) {
			best = inc
		}
	})
	if best == nil {
		return nil, nil
	}
	why, _ := c.partitionJoin(best, service, ev, gl, t)
	if len(best.Alerts) == 0 && len(best.PagerDuty) > 0 {
		return best, []string{fmt.Sprintf("joined: a page on %s opened this incident %s before this alert fired, and it is still open",
			service, fmtDur(t.Sub(best.StartedAt)))}
	}
	if !maps.Equal(best.GroupLabels, gl) {
		why[0] += "; " + compatNote(best.GroupLabels, gl)
	}
	return best, why
}

// compatNote says why differing group_by label sets still meet.
func compatNote(ig, gl map[string]string) string {
	var lacks []string
	for k := range ig {
		if _, ok := gl[k]; !ok {
			lacks = append(lacks, k)
		}
	}
	for k := range gl {
		if _, ok := ig[k]; !ok {
			lacks = append(lacks, k)
		}
	}
	slices.Sort(lacks)
	return "one side has no " + strings.Join(slices.Compact(lacks), ", ") + " label, so the group_by labels do not differ"
}

// partitionTakes is partitionJoin's decision without its words.
func (c *Correlator) partitionTakes(inc *Incident, t time.Time) bool {
	switch {
	case t.Before(inc.StartedAt) && inc.StartedAt.Sub(t) <= c.s.window:
		return true
	case !c.resolved(inc, t):
		return c.firing(inc, t) > 0 || t.Sub(maxTime(inc.LastActivity, inc.LastEnd)) <= c.s.window
	default:
		gap := t.Sub(inc.LastEnd)
		return gap >= 0 && gap <= c.s.reopenWithin
	}
}

// partitionJoin applies the partition rules (rule 2 of the package doc)
// to an incident of the same service: it takes the alert while it fires,
// within correlation.window after its last event, a late arrival within
// the window before its start, or within reopen_within after it resolved.
func (c *Correlator) partitionJoin(inc *Incident, service string, ev *collector.Event, gl map[string]string, t time.Time) ([]string, bool) {
	what := describeKey(service, ev, gl)
	late := t.Before(inc.StartedAt) && inc.StartedAt.Sub(t) <= c.s.window
	switch {
	case late:
		return []string{fmt.Sprintf("joined: %s as the incident, %s before its first event (a late arrival, within correlation.window %s)",
			what, fmtDur(inc.StartedAt.Sub(t)), fmtDur(c.s.window))}, true
	case !c.resolved(inc, t):
		if c.firing(inc, t) > 0 {
			return []string{"joined: " + what + " as the incident, which has alerts firing"}, true
		}
		if gap := t.Sub(maxTime(inc.LastActivity, inc.LastEnd)); gap <= c.s.window {
			return []string{fmt.Sprintf("joined: %s as the incident, %s after its last event (within correlation.window %s)",
				what, fmtDur(max(gap, 0)), fmtDur(c.s.window))}, true
		}
	default:
		if gap := t.Sub(inc.LastEnd); gap >= 0 && gap <= c.s.reopenWithin {
			r := []string{fmt.Sprintf("joined: %s as the incident, which resolved %s earlier (within correlation.reopen_within %s)",
				what, fmtDur(gap), fmtDur(c.s.reopenWithin))}
			return append(r, c.reopen(inc, t)...), true
		}
	}
	return nil, false
}

// pathToAnchor returns a dependency path from service d to inc's anchor
// through inc's services (d first, the anchor last), at most hops long,
// or nil. The first path in name order wins, so the answer is stable.
func (c *Correlator) pathToAnchor(inc *Incident, d string, hops int) []string {
	if d == inc.Anchor {
		return []string{d}
	}
	if hops <= 1 {
		return nil
	}
	for _, x := range c.s.cfg.Service(d).DependsOn {
		if x != inc.Anchor && !holds(inc, x) {
			continue
		}
		if p := c.pathToAnchor(inc, x, hops-1); p != nil {
			return append([]string{d}, p...)
		}
	}
	return nil
}

// reaches reports whether service s reaches dependency d through the
// dependency graph in at most hops steps, every step but the last within
// inc's services.
func (c *Correlator) reaches(inc *Incident, s, d string, hops int) bool {
	if s == d {
		return true
	}
	if hops <= 0 {
		return false
	}
	for _, x := range c.s.cfg.Service(s).DependsOn {
		if x == d || (holds(inc, x) && c.reaches(inc, x, d, hops-1)) {
			return true
		}
	}
	return false
}

// explainsAll reports whether every service of inc depends on service,
// directly or through other services of inc: then service is a likelier
// origin than the current anchor, and anchoring there chains nothing that
// was not already one incident.
func (c *Correlator) explainsAll(service string, inc *Incident) bool {
	for _, s := range inc.Services {
		if !c.reaches(inc, s, service, maxHops) {
			return false
		}
	}
	return c.reaches(inc, inc.Anchor, service, maxHops)
}

// failing returns an alert of inc on service that fires at t, the
// earliest, or nil; a page on the service that is still open counts when
// no alert does (a page opened the incident before any alert).
func (c *Correlator) failing(inc *Incident, service string, t time.Time) (string, time.Time, bool) {
	return c.failingAs(inc, service, t, false)
}

// failingHard is failing without lone warnings: past correlation.window
// the dependency graph joins only a service that depends on (or is
// depended on by) one in a critical state, paged for, or warning while
// services of the incident that depend on it fail in earnest. A warning
// that has fired alone for an hour (a certificate close to expiry, a
// host's CPU) is no failure that spreads to a neighbour starting to fail
// now.
func (c *Correlator) failingHard(inc *Incident, service string, t time.Time) (string, time.Time, bool) {
	return c.failingAs(inc, service, t, true)
}

// hard reports whether an alert's severity says something is broken
// rather than at risk.
func hard(a *AlertState) bool {
	switch strings.ToLower(a.Severity) {
	case "warning", "info", "none", "low":
		return false
	}
	return true
}

// ownChange returns a step of service's own deploys after from and at or
// before t (a rollback excepted: it undoes a change, it brings none).
func (c *Correlator) ownChange(service string, from, t time.Time) *Deploy {
	for _, st := range c.stepsBySvc[service] {
		if st.At.After(from) && !st.At.After(t) && st.Status != "rolled_back" {
			return st
		}
	}
	return nil
}

func (c *Correlator) failingAs(inc *Incident, service string, t time.Time, hardOnly bool) (string, time.Time, bool) {
	var out *AlertState
	for _, a := range inc.Alerts {
		if a.Firing && a.Service == service && (!hardOnly || hard(a)) && (out == nil || a.StartsAt.Before(out.StartsAt) || (a.StartsAt.Equal(out.StartsAt) && a.Fingerprint < out.Fingerprint)) {
			out = a
		}
	}
	if out != nil {
		return "alert " + out.Name, out.StartsAt, true
	}
	if hardOnly {
		// A warning counts when the incident's services that depend on
		// this one fail in earnest: the warning was the first sign.
		if what, since, ok := c.failingAs(inc, service, t, false); ok && strings.HasPrefix(what, "alert ") {
			for _, s := range inc.Services {
				if s == service || !slices.Contains(c.s.cfg.Service(s).DependsOn, service) {
					continue
				}
				if _, _, ok := c.failingAs(inc, s, t, true); ok {
					return what, since, true
				}
			}
		}
	}
	for _, p := range inc.PagerDuty {
		if p.OnService == service && p.ActiveAt(t, c.s.pageStale) {
			return "page #" + cmp.Or(p.Number, p.IncidentID), p.TriggeredAt, true
		}
	}
	if service != inc.Anchor || holds(inc, service) {
		return "", time.Time{}, false
	}
	// An anchor that never alerted (the dependency its services share) is
	// failing while two or more of its dependents in the incident are.
	var names []string
	var since time.Time
	for _, s := range inc.Services {
		if !slices.Contains(c.s.cfg.Service(s).DependsOn, service) {
			continue
		}
		if _, at, ok := c.failingAs(inc, s, t, hardOnly); ok {
			names = append(names, s)
			since = minTime(since, at)
		}
	}
	if len(names) >= 2 {
		return "dependents " + strings.Join(names, ", "), since, true
	}
	return "", time.Time{}, false
}

// topologyJoin finds the open incident a firing of service at t joins
// through the dependency graph (rule 4 of the package doc):
//
//   - downstream: service depends on the incident's anchor, or on one of
//     its services that depends on the anchor (up to maxHops), within
//     correlation.window of the incident's first event, or later while
//     that service still fails (a slow burn: the disk fills for hours and
//     its dependents degrade late);
//   - upstream: every service of the incident depends on service, within
//     the window or later, up to correlation.dependency_lag after the
//     incident began, while the anchor still fails (infrastructure alerts
//     often wait out a `for:` duration and fire after the services they
//     break); the incident is re-anchored on service. Later than that
//     the dependency would have failed first: its failure is its own.
//
// A downstream incident is preferred (the alert is a symptom of it), then
// the earliest; among upstream ones the one that began nearest before t.
func (c *Correlator) topologyJoin(service string, gl map[string]string, t time.Time) (*Incident, []string) {
	if service == "" {
		return nil, nil
	}
	near := c.s.neighbours[service]
	if len(near) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	var cands []*Incident
	for _, n := range near {
		c.eachHolding(n, func(inc *Incident) {
			if !seen[inc.ID] {
				seen[inc.ID] = true
				cands = append(cands, inc)
			}
		})
	}
	deps := c.s.cfg.Service(service).DependsOn
	var best *Incident
	var rel string
	bestDown, bestMove := false, false
	for _, inc := range cands {
		if holds(inc, service) || c.resolved(inc, t) || !groupCompatible(inc.GroupLabels, gl) || !c.joinable(inc, t) {
			continue
		}
		d := t.Sub(inc.StartedAt)
		inWindow := d <= c.s.window && -d <= c.s.window
		if !inWindow && c.ownChange(service, inc.StartedAt, t) != nil {
			// Released after the incident began and failing only past
			// the window: its own change explains it better than a
			// neighbour that has been failing for a while.
			continue
		}
		r, down := "", false
		if inc.Anchor == service {
			// The service the incident was anchored on as the shared
			// dependency of its members now alerts itself.
			if !inWindow && (d < 0 || c.firing(inc, t) == 0 || d > c.s.dependencyLag) {
				continue
			}
			r, down = fmt.Sprintf("%s is the incident's anchor, which its services all depend on", service), true
		}
		for _, dep := range deps {
			if down || (dep != inc.Anchor && !holds(inc, dep)) {
				continue
			}
			p := c.pathToAnchor(inc, dep, maxHops)
			if p == nil {
				continue
			}
			via := service + " depends on " + dep
			if len(p) > 1 {
				via += ", which depends on " + strings.Join(p[1:], ", which depends on ")
			}
			if dep == inc.Anchor {
				via = service + " depends on " + dep + ", the incident's anchor"
			} else {
				via += ", the incident's anchor"
			}
			if inWindow {
				r, down = via, true
				break
			}
			// Past the window only while the service it depends on still
			// fails.
			if d < 0 {
				continue
			}
			if what, since, ok := c.failingHard(inc, dep, t); ok {
				if dep == inc.Anchor {
					r = fmt.Sprintf("%s, whose %s has been firing since %s", via, what, since.UTC().Format(time.RFC3339))
				} else {
					r = fmt.Sprintf("%s; %s's %s has been firing since %s", via, dep, what, since.UTC().Format(time.RFC3339))
				}
				down = true
				break
			}
		}
		reanchor := true
		if !down && !c.explainsAll(service, inc) {
			// A dependency of a service of the incident that still fails
			// joins without moving the anchor: it does not explain the
			// others.
			m, what, since := c.failingDependent(inc, service, t, !inWindow)
			if m == "" || d > c.s.dependencyLag {
				continue
			}
			r, reanchor = fmt.Sprintf("%s, which depends on %s, still fails (%s since %s)", m, service, what, since.UTC().Format(time.RFC3339)), false
		} else if !down {
			if !inWindow {
				what, since, ok := c.failingHard(inc, inc.Anchor, t)
				if d < 0 || !ok || d > c.s.dependencyLag {
					continue
				}
				r = fmt.Sprintf("every service of the incident depends on %s, and the anchor %s still fails (%s since %s)",
					service, inc.Anchor, what, since.UTC().Format(time.RFC3339))
			} else {
				r = fmt.Sprintf("every service of the incident depends on %s (%s, the incident's anchor, among them)", service, inc.Anchor)
				if slices.Contains(c.s.cfg.Service(inc.Anchor).DependsOn, service) && len(inc.Services) <= 1 {
					r = fmt.Sprintf("%s, the incident's anchor, depends on %s", inc.Anchor, service)
				}
			}
		}
		var better bool
		switch {
		case best == nil:
			better = true
		case down != bestDown:
			better = down
		case down:
			better = inc.StartedAt.Before(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID < best.ID)
		default:
			better = absDur(t.Sub(inc.StartedAt)) < absDur(t.Sub(best.StartedAt)) ||
				(absDur(t.Sub(inc.StartedAt)) == absDur(t.Sub(best.StartedAt)) && inc.ID < best.ID)
		}
		if better {
			best, rel, bestDown, bestMove = inc, r, down, reanchor
		}
	}
	if best == nil {
		return nil, nil
	}
	within := "within correlation.window " + fmtDur(c.s.window)
	if absDur(t.Sub(best.StartedAt)) > c.s.window {
		within = "within correlation.max_span " + fmtDur(c.s.maxSpan)
	}
	when := fmtDur(t.Sub(best.StartedAt)) + " after the incident's first event"
	if t.Before(best.StartedAt) {
		when = fmtDur(best.StartedAt.Sub(t)) + " before the incident's first event"
	}
	reasons := []string{fmt.Sprintf("joined through the dependency graph: %s, %s (%s)", rel, when, within)}
	if !bestDown && bestMove {
		reasons = append(reasons, fmt.Sprintf("re-anchored on %s: %s depends on it, so it is the likelier origin", service, best.Anchor))
		c.setAnchor(best, service)
	}
	return best, reasons
}

// latestChange returns the latest deploy step on service at or before t.
func (c *Correlator) latestChange(service string, t time.Time) *Deploy {
	var out *Deploy
	for _, st := range c.stepsBySvc[service] {
		if !st.At.After(t) && (out == nil || st.At.After(out.At) || (st.At.Equal(out.At) && st.Seq > out.Seq)) {
			out = st
		}
	}
	return out
}

// absorbDependents merges into inc the incidents that opened within
// correlation.window after inc began, on services that depend on service
// (which just joined inc): their alerts came before service's, but after
// the failure inc holds began, so they are its symptoms. One that began
// before inc did is not (it failed first, on its own or not). It is the dependency-after-dependents rule across
// incidents, for alerts that arrived in an order the placement could not
// see (Alertmanager flushes each group on its own clock).
func (c *Correlator) absorbDependents(inc *Incident, service string, t time.Time) {
	var from []*Incident
	seen := map[string]bool{inc.ID: true}
	for _, x := range c.s.dependents[service] {
		for _, j := range c.holding(x) {
			if seen[j.ID] || j.Storm || j.StartedAt.Before(inc.StartedAt) || j.StartedAt.Sub(inc.StartedAt) > c.s.window || c.resolved(j, t) ||
				!groupCompatible(inc.GroupLabels, j.GroupLabels) || !groupCompatible(j.GroupLabels, inc.GroupLabels) || !c.joinable(inc, t) {
				continue
			}
			seen[j.ID] = true
			all := true
			for _, s := range j.Services {
				if !c.reaches(j, s, service, maxHops) {
					all = false
					break
				}
			}
			if all {
				from = append(from, j)
			}
		}
	}
	slices.SortFunc(from, func(a, b *Incident) int { return strings.Compare(a.ID, b.ID) })
	for _, j := range from {
		c.merge(inc, j, fmt.Sprintf("moved: %s, on which %s depends, alerts in %s, which began %s apart from this one: its symptoms belong there",
			service, strings.Join(j.Services, ", "), inc.ID, fmtDur(absDur(j.StartedAt.Sub(inc.StartedAt)))))
	}
}

// failingDependent returns a service of inc that depends on service
// directly and fails at t (the first by name), with what fails there.
func (c *Correlator) failingDependent(inc *Incident, service string, t time.Time, hardOnly bool) (string, string, time.Time) {
	for _, s := range inc.Services {
		if !slices.Contains(c.s.cfg.Service(s).DependsOn, service) {
			continue
		}
		if what, since, ok := c.failingAs(inc, s, t, hardOnly); ok {
			return s, what, since
		}
	}
	return "", "", time.Time{}
}

// siblingJoin joins a service that opens nothing of its own to an
// incident that began within correlation.storm_window before or after it
// when both depend on a service that has not alerted but changed (a deploy
// step) within correlation.deploy_lookback before the incident began:
// every service of the incident and this one depend on it directly. Two
// dependents of a service that just changed failing within minutes of
// each other point at what they share (a maintenance script on the tenant
// platform, a DNS push); the incident is re-anchored on it. Without the
// change two dependents of a shared database failing minutes apart are as
// often two faults, so they stay apart.
func (c *Correlator) siblingJoin(service string, gl map[string]string, t time.Time) (*Incident, []string) {
	if service == "" {
		return nil, nil
	}
	deps := c.s.cfg.Service(service).DependsOn
	if len(deps) == 0 {
		return nil, nil
	}
	var best *Incident
	var shared string
	var change *Deploy
	for _, d := range slices.Sorted(slices.Values(deps)) {
		if len(c.holding(d)) > 0 {
			continue // it alerts: the dependency graph places this alert
		}
		ch := c.latestChange(d, t)
		if ch == nil {
			continue
		}
		for _, x := range c.s.dependents[d] {
			if x == service {
				continue
			}
			for _, inc := range c.holding(x) {
				if holds(inc, service) || c.resolved(inc, t) || !groupCompatible(inc.GroupLabels, gl) || !c.joinable(inc, t) {
					continue
				}
				if absDur(t.Sub(inc.StartedAt)) > c.s.stormWindow {
					continue
				}
				all := true
				for _, s := range inc.Services {
					if !slices.Contains(c.s.cfg.Service(s).DependsOn, d) {
						all = false
						break
					}
				}
				if !all || !holds(inc, inc.Anchor) {
					continue
				}
				if ch.At.Before(inc.StartedAt.Add(-time.Duration(c.s.cfg.Correlation.DeployLookback))) {
					continue // the change is too old to explain the incident
				}
				if best == nil || inc.StartedAt.Before(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID < best.ID) {
					best, shared, change = inc, d, ch
				}
			}
		}
		if best != nil {
			break
		}
	}
	if best == nil {
		return nil, nil
	}
	others := strings.Join(best.Services, ", ")
	reasons := []string{fmt.Sprintf("joined: %s and %s all depend on %s, which has not alerted but changed %s before the incident's first event (deploy %s %s), and began %s apart (within correlation.storm_window %s)",
		service, others, shared, fmtDur(best.StartedAt.Sub(change.At)), change.ID, change.Status,
		fmtDur(absDur(t.Sub(best.StartedAt))), fmtDur(c.s.stormWindow))}
	if best.Anchor != shared {
		reasons = append(reasons, fmt.Sprintf("re-anchored on %s: what the failing services share is the likelier origin", shared))
		c.setAnchor(best, shared)
	}
	return best, reasons
}

// changeBurstJoin joins an alert to an incident that began within
// correlation.storm_window of it when both began after a change the
// configuration does not place (broadChange: a network maintenance, a DNS
// or config push recorded under a name no service depends on) within
// correlation.deploy_lookback: such a change can touch any service, and
// services that start failing minutes after it, together, are one
// failure more often than two.
func (c *Correlator) changeBurstJoin(service string, gl map[string]string, t time.Time) (*Incident, []string) {
	lookback := time.Duration(c.s.cfg.Correlation.DeployLookback)
	if len(c.deploys) == 0 {
		return nil, nil
	}
	var change *Deploy
	for _, id := range c.deployIDs() {
		for _, st := range c.deploySteps[id] {
			if st.At.After(t) || t.Sub(st.At) > lookback || st.Service == service || !c.broadChange(st.Service) {
				continue
			}
			if change == nil || st.At.After(change.At) {
				change = st
			}
		}
	}
	if change == nil {
		return nil, nil
	}
	var best *Incident
	// The earliest by start, then id: a total order, so the live
	// incidents need no sorting first.
	for _, inc := range c.live {
		if inc.StartedAt.Before(change.At) || absDur(t.Sub(inc.StartedAt)) > c.s.stormWindow || holds(inc, service) ||
			c.resolved(inc, t) || !groupCompatible(inc.GroupLabels, gl) || !c.joinable(inc, t) {
			continue
		}
		if best == nil || inc.StartedAt.Before(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID < best.ID) {
			best = inc
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, []string{fmt.Sprintf("joined: this alert and the incident began %s apart (within correlation.storm_window %s), %s after a change on %s (deploy %s %s), which no configured service places",
		fmtDur(absDur(t.Sub(best.StartedAt))), fmtDur(c.s.stormWindow), fmtDur(t.Sub(change.At)), change.Service, change.ID, change.Status)}
}

// targetKeys are the machines an alert with these labels is about: each
// infrastructure label's value (correlation.infrastructure_labels), and,
// for its own service only, the host of its instance (the scrape or probe
// target: "host:port" or a probed URL, port and path dropped).
func (c *Correlator) targetKeys(service string, labels map[string]string) []string {
	var out []string
	for _, l := range c.s.infraLabels {
		if v := labels[l]; v != "" {
			out = append(out, l+"="+v)
		}
	}
	if h := instanceHost(labels["instance"]); h != "" && service != "" {
		out = append(out, "service="+service+"|host="+h)
	}
	return out
}

// instanceHost returns the host an instance label names.
func instanceHost(v string) string {
	if v == "" {
		return ""
	}
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	if i := strings.IndexAny(v, "/?#"); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 && !strings.Contains(v[i:], "]") {
		v = v[:i]
	}
	return strings.Trim(v, "[]")
}

func addTo(idx map[string]map[string]bool, key, id string) {
	m := idx[key]
	if m == nil {
		m = map[string]bool{}
		idx[key] = m
	}
	m[id] = true
}

// indexTargets files every alert of inc under its targets.
func (c *Correlator) indexTargets(inc *Incident) {
	for _, a := range inc.Alerts {
		for _, k := range c.targetKeys(a.Service, a.Labels) {
			addTo(c.byTarget, k, inc.ID)
		}
	}
}

// targetJoin joins an alert to an incident with an alert about the same
// machine that fires at t or resolved within correlation.window before
// it: the same node (or another infrastructure label) on any service, or
// the same instance host on the same service. The latter holds past
// correlation.max_span: a warning that fired for days about a target (a
// certificate about to expire, a disk filling up) and the failure it
// announced are one incident, whose span then counts from the failure.
func (c *Correlator) targetJoin(service string, ev *collector.Event, gl map[string]string, t time.Time) (*Incident, []string) {
	keys := c.targetKeys(service, ev.Labels)
	if len(keys) == 0 {
		return nil, nil
	}
	var best *Incident
	var bestAlert *AlertState
	var bestKey string
	for _, k := range keys {
		sameService := strings.HasPrefix(k, "service=")
		for _, id := range slices.Sorted(maps.Keys(c.byTarget[k])) {
			inc := c.live[id]
			if inc == nil || inc.MergedInto != "" || !groupCompatible(inc.GroupLabels, gl) {
				continue
			}
			if !sameService && !c.joinable(inc, t) {
				continue
			}
			for _, a := range inc.AlertList() {
				if !slices.Contains(c.targetKeys(a.Service, a.Labels), k) {
					continue
				}
				if !a.Firing && (a.EndsAt.IsZero() || t.Sub(a.EndsAt) > c.s.window || a.EndsAt.After(t.Add(c.s.window))) {
					continue
				}
				if a.StartsAt.After(t) {
					continue
				}
				if best == nil || a.StartsAt.After(bestAlert.StartsAt) || (a.StartsAt.Equal(bestAlert.StartsAt) && inc.ID < best.ID) {
					best, bestAlert, bestKey = inc, a, k
				}
			}
		}
		if best != nil {
			break
		}
	}
	if best == nil {
		return nil, nil
	}
	what := bestKey
	if strings.HasPrefix(what, "service=") {
		what = "host " + what[strings.Index(what, "|host=")+len("|host="):] + " (instance)"
	}
	state := "which has been firing since " + bestAlert.StartsAt.UTC().Format(time.RFC3339)
	if !bestAlert.Firing {
		state = "which resolved " + fmtDur(t.Sub(bestAlert.EndsAt)) + " before"
	}
	reasons := []string{fmt.Sprintf("joined: the same %s as %s on %s in this incident, %s", what, bestAlert.Name, bestAlert.Service, state)}
	if !c.joinable(best, t) {
		best.PhaseStart = t
		reasons = append(reasons, fmt.Sprintf("the incident began %s earlier, past correlation.max_span %s: what it warned about now fails, so it continues and its span counts from here",
			fmtDur(t.Sub(best.StartedAt)), fmtDur(c.s.maxSpan)))
	}
	return best, reasons
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
