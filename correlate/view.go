package correlate

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hindsight-ops/hindsight/config"
)

// View is an incident as clients read it (the incident object of the API
// contract). It is computed from the stored projection, the current
// configuration and the wall clock, so that status and severity by
// duration stay current without rewriting the projection.
type View struct {
	ID              string           `json:"id"`
	Title           string           `json:"title"`
	Status          string           `json:"status"`
	StartedAt       time.Time        `json:"started_at"`
	ResolvedAt      *time.Time       `json:"resolved_at"`
	Services        []string         `json:"services"`
	Severity        SeverityView     `json:"severity"`
	Impact          Impact           `json:"impact"`
	SuspectedCauses []SuspectedCause `json:"suspected_causes"`
	PagerDuty       []PagerDutyLink  `json:"pagerduty"`
	// PagedAt and AcknowledgedAt are the first page and the first
	// acknowledgement of a linked PagerDuty incident.
	PagedAt        *time.Time `json:"paged_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	// TimeToAcknowledgeSeconds runs from the first symptom to the first
	// acknowledgement; TimeToResolveSeconds from the first symptom to the
	// end. Nil while unknown.
	TimeToAcknowledgeSeconds *int64   `json:"time_to_acknowledge_seconds"`
	TimeToResolveSeconds     *int64   `json:"time_to_resolve_seconds"`
	Escalations              int      `json:"escalations"`
	Responders               []string `json:"responders"`
	// MonitoringGap: a page was raised before any alert fired.
	MonitoringGap bool `json:"monitoring_gap"`
	// MergedInto names the incident this one was merged into (its status
	// is then "merged"); a client follows it.
	MergedInto  string            `json:"merged_into,omitempty"`
	Anchor      string            `json:"anchor"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	Alerts      []*AlertState     `json:"alerts"`
	Reopens     int               `json:"reopens"`
	Entries     int               `json:"entries"`
	Timeline    Timeline          `json:"timeline,omitempty"`
	// Related are earlier incidents that look like this one (FindRelated);
	// the API fills them in for one incident and its post-mortem.
	Related []RelatedIncident `json:"related,omitzero"`
	// Postmortem is the post-mortem's review and export state; a
	// post-mortem nobody touched is a draft.
	Postmortem Postmortem `json:"postmortem"`
	// ActionItems are the follow-ups people added, oldest first.
	ActionItems []ActionItem `json:"action_items"`
}

// SeverityView is the suggested severity with its reasons; a human
// override, once set, is the effective one.
type SeverityView struct {
	Suggested string   `json:"suggested"`
	Effective string   `json:"effective"`
	Override  *string  `json:"override"`
	Reasons   []string `json:"reasons"`
	// History is the time spent at each effective severity, oldest first
	// (SeverityHistory); only a view with its timeline has it.
	History []SeverityPeriod `json:"history,omitzero"`
}

// Impact is what the incident cost, in numbers.
type Impact struct {
	Summary         string         `json:"summary"`
	DurationSeconds int64          `json:"duration_seconds"`
	CustomerFacing  bool           `json:"customer_facing"`
	Metrics         []ImpactMetric `json:"metrics"`
	// Errors say which impact queries could not be answered (Prometheus
	// down, a bad query); the draft reports them, they are never fatal.
	Errors []string `json:"errors,omitempty"`
}

// ImpactMetric is one number from an impact query.
type ImpactMetric struct {
	Name    string  `json:"name"`
	Service string  `json:"service"`
	Value   float64 `json:"value"`
	Query   string  `json:"query"`
}

// SuspectedCause is a change ranked as a suspect (never called a cause).
type SuspectedCause struct {
	EntryID  string   `json:"entry_id"`
	DeployID string   `json:"deploy_id"`
	Score    float64  `json:"score"`
	Reasons  []string `json:"reasons"`
}

// PagerDutyLink names a PagerDuty incident that belongs to this one,
// with what happened to it and why it was linked.
type PagerDutyLink struct {
	IncidentID     string     `json:"incident_id"`
	URL            string     `json:"url"`
	Number         string     `json:"number,omitempty"`
	Title          string     `json:"title,omitempty"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority,omitempty"`
	Urgency        string     `json:"urgency,omitempty"`
	TriggeredAt    *time.Time `json:"triggered_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	Escalations    int        `json:"escalations"`
	Assignees      []string   `json:"assignees"`
	Responders     []string   `json:"responders"`
	LinkReason     string     `json:"link_reason"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func secondsPtr(d time.Duration) *int64 {
	s := int64(d / time.Second)
	return &s
}

func (v *View) addPagerDuty(inc *Incident) {
	var paged, acked time.Time
	for _, p := range inc.PagerDuty {
		v.PagerDuty = append(v.PagerDuty, PagerDutyLink{
			IncidentID: p.IncidentID, URL: p.URL, Number: p.Number, Title: p.Title, Status: p.Status,
			Priority: p.Priority, Urgency: p.Urgency, TriggeredAt: timePtr(p.TriggeredAt),
			AcknowledgedAt: timePtr(p.AcknowledgedAt), ResolvedAt: timePtr(p.ResolvedAt),
			Escalations: p.Escalations, Assignees: append([]string{}, p.Assignees...),
			Responders: append([]string{}, p.Responders...), LinkReason: p.LinkReason,
		})
		v.Escalations += p.Escalations
		for _, r := range append(slices.Clone(p.Assignees), p.Responders...) {
			if !slices.Contains(v.Responders, r) {
				v.Responders = append(v.Responders, r)
			}
		}
		if !p.TriggeredAt.IsZero() && (paged.IsZero() || p.TriggeredAt.Before(paged)) {
			paged = p.TriggeredAt
		}
		if !p.AcknowledgedAt.IsZero() && (acked.IsZero() || p.AcknowledgedAt.Before(acked)) {
			acked = p.AcknowledgedAt
		}
	}
	slices.Sort(v.Responders)
	v.PagedAt, v.AcknowledgedAt = timePtr(paged), timePtr(acked)
	if !acked.IsZero() {
		v.TimeToAcknowledgeSeconds = secondsPtr(acked.Sub(inc.StartedAt))
	}
	if v.ResolvedAt != nil {
		v.TimeToResolveSeconds = secondsPtr(v.ResolvedAt.Sub(inc.StartedAt))
	}
}

// Status is the incident's status at now: resolved once nothing fires (no
// alert, no page that has had an event within page_stale_after) and
// resolve_after has passed since the last alert resolved. For a replay of
// old data that is at once.
func (inc *Incident) Status(now time.Time, resolveAfter, pageStale time.Duration) string {
	if inc.ResolvedAsOf(now, resolveAfter, pageStale) {
		return StatusResolved
	}
	return StatusOpen
}

// End is when the incident ended (its last event or resolution) if
// resolved at now, or now otherwise: the end of its window for durations
// and queries.
func (inc *Incident) End(now time.Time, resolveAfter, pageStale time.Duration) time.Time {
	if inc.ResolvedAsOf(now, resolveAfter, pageStale) {
		return maxTime(inc.LastEnd, inc.LastActivity)
	}
	return now
}

// NewView computes the client view of inc at now.
func NewView(inc *Incident, tl Timeline, cfg *config.Config, now time.Time) *View {
	resolveAfter := time.Duration(cfg.Correlation.ResolveAfter)
	pageStale := time.Duration(cfg.Correlation.PageStaleAfter)
	v := &View{
		ID:              inc.ID,
		Title:           title(inc),
		Status:          inc.Status(now, resolveAfter, pageStale),
		StartedAt:       inc.StartedAt.UTC(),
		Services:        slices.Clone(inc.Services),
		SuspectedCauses: slices.Clone(inc.Suspects),
		PagerDuty:       []PagerDutyLink{},
		Anchor:          inc.Anchor,
		GroupLabels:     inc.GroupLabels,
		Alerts:          inc.AlertList(),
		Reopens:         inc.Reopens,
		Entries:         inc.Entries,
		Timeline:        tl,
	}
	if v.SuspectedCauses == nil {
		v.SuspectedCauses = []SuspectedCause{}
	}
	if v.Services == nil {
		v.Services = []string{}
	}
	for i := range v.Timeline {
		if cu := inc.Curation[v.Timeline[i].ID]; cu != nil {
			v.Timeline[i].Pinned, v.Timeline[i].Hidden, v.Timeline[i].Note = cu.Pinned, cu.Hidden, cu.Note
		}
	}
	end := inc.End(now, resolveAfter, pageStale)
	if v.Status == StatusResolved {
		t := end.UTC()
		v.ResolvedAt = &t
	}
	v.Responders = []string{}
	v.MonitoringGap = inc.MonitoringGap
	v.addPagerDuty(inc)
	v.Severity = Assess(inc, cfg, end)
	if o := inc.Overrides; o.Severity != "" {
		s := o.Severity
		v.Severity.Override = &s
		v.Severity.Effective = s
		v.Severity.Reasons = append(v.Severity.Reasons, s+": set by hand ("+o.By+")")
	}
	if o := inc.Overrides; o.Title != "" {
		v.Title = o.Title
	}
	if o := inc.Overrides; o.Status != "" && o.Status != v.Status {
		v.Status = o.Status
		if o.Status == StatusResolved && v.ResolvedAt == nil {
			t := maxTime(inc.LastEnd, inc.LastActivity).UTC()
			v.ResolvedAt = &t
		} else if o.Status == StatusOpen {
			v.ResolvedAt = nil
		}
	}
	v.Impact = impact(inc, cfg, end)
	v.Postmortem = Postmortem{Status: PostmortemDraft}
	if p := inc.Postmortem; p != nil {
		v.Postmortem = *p
		v.Postmortem.Reviews = slices.Clone(p.Reviews)
		v.Postmortem.Exports = slices.Clone(p.Exports)
	}
	v.Postmortem.Reviews = nonNilSlice(v.Postmortem.Reviews)
	v.Postmortem.Exports = nonNilSlice(v.Postmortem.Exports)
	v.ActionItems = nonNilSlice(slices.Clone(inc.ActionItems))
	if inc.MergedInto != "" {
		v.Status, v.MergedInto, v.ResolvedAt = StatusMerged, inc.MergedInto, nil
	}
	if tl != nil {
		v.Severity.History = SeverityHistory(inc, tl, cfg, end)
	}
	return v
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func title(inc *Incident) string {
	names := map[string]bool{}
	for _, a := range inc.Alerts {
		names[a.Name] = true
	}
	if len(names) <= 1 {
		return inc.Title
	}
	n := len(names) - 1
	if n == 1 {
		return inc.Title + " and 1 other alert"
	}
	return fmt.Sprintf("%s and %d other alerts", inc.Title, n)
}

func impact(inc *Incident, cfg *config.Config, end time.Time) Impact {
	d := end.Sub(inc.StartedAt)
	if d < 0 {
		d = 0
	}
	cf := false
	var cfNames []string
	for _, s := range inc.Services {
		if cfg.Service(s).CustomerFacing {
			cf = true
			cfNames = append(cfNames, s)
		}
	}
	svc := strings.Join(inc.Services, ", ")
	if svc == "" {
		svc = inc.Anchor
	}
	sum := fmt.Sprintf("%s affected for %s; %d alert(s) fired", svc, fmtDur(d), len(inc.Alerts))
	if cf {
		sum += "; customer-facing: " + strings.Join(cfNames, ", ")
	}
	return Impact{Summary: sum, DurationSeconds: int64(d / time.Second), CustomerFacing: cf, Metrics: []ImpactMetric{}}
}

// Assess suggests a severity for inc by the configured ordered rules: the
// first rule that matches sets the suggestion and every matching rule is
// listed in the reasons, so a person can check the suggestion.
func Assess(inc *Incident, cfg *config.Config, end time.Time) SeverityView {
	var suggested string
	var reasons []string
	for _, r := range cfg.Severity.Rules {
		why, ok := matchRule(inc, cfg, r.When, end)
		if !ok {
			continue
		}
		if suggested != "" && why == catchAll {
			continue // a catch-all adds nothing once a rule matched
		}
		if suggested == "" {
			suggested = r.Severity
		}
		reasons = append(reasons, r.Severity+": "+why)
	}
	if suggested == "" {
		suggested = "SEV5"
		reasons = append(reasons, "SEV5: no severity rule matched")
	}
	if floor, why := pagerDutyFloor(inc, cfg.PagerDuty.PriorityFloor); floor != "" {
		if floor < suggested {
			suggested = floor
		}
		reasons = append(reasons, floor+": "+why)
	}
	return SeverityView{Suggested: suggested, Effective: suggested, Reasons: reasons}
}

func matchRule(inc *Incident, cfg *config.Config, w config.Condition, end time.Time) (string, bool) {
	var why []string
	alertLevel := len(w.Labels) > 0 || len(w.AlertSeverity) > 0
	serviceLevel := w.CustomerFacing != nil || w.MaxTier > 0
	serviceOK := func(name string) bool {
		svc := cfg.Service(name)
		if w.CustomerFacing != nil && svc.CustomerFacing != *w.CustomerFacing {
			return false
		}
		return w.MaxTier <= 0 || (svc.Tier > 0 && svc.Tier <= w.MaxTier)
	}
	var res []*regexp.Regexp
	keys := slices.Sorted(maps.Keys(w.Labels))
	for _, k := range keys {
		re := ruleRegexp(w.Labels[k])
		if re == nil {
			return "", false
		}
		res = append(res, re)
	}
	// The alerts the rule is about: those that meet its alert and service
	// conditions together.
	var matching []*AlertState
	if alertLevel || w.MinAlerts > 0 || w.MinCustomerFacing > 0 || (serviceLevel && w.MinDuration > 0) {
		for _, a := range inc.AlertList() {
			ok := len(w.AlertSeverity) == 0 || slices.Contains(w.AlertSeverity, a.Severity)
			for i, k := range keys {
				if !ok {
					break
				}
				v, has := a.Labels[k]
				ok = has && res[i].MatchString(v)
			}
			if ok && (!serviceLevel || serviceOK(a.Service)) {
				matching = append(matching, a)
			}
		}
		if len(matching) == 0 {
			return "", false
		}
	}
	first := func() *AlertState {
		if len(matching) > 0 {
			return matching[0]
		}
		return nil
	}
	if len(w.Labels) > 0 {
		for _, k := range keys {
			why = append(why, fmt.Sprintf("alert %s has %s=%q", first().Name, k, w.Labels[k]))
		}
	}
	// Services: of the matching alerts, or of the incident without alert
	// conditions.
	var svcs []string
	if alertLevel {
		for _, a := range matching {
			if a.Service != "" && !slices.Contains(svcs, a.Service) {
				svcs = append(svcs, a.Service)
			}
		}
		slices.Sort(svcs)
	} else if serviceLevel {
		for _, s := range inc.Services {
			if serviceOK(s) {
				svcs = append(svcs, s)
			}
		}
	}
	if w.CustomerFacing != nil {
		switch {
		case alertLevel && *w.CustomerFacing:
			why = append(why, strings.Join(svcs, ", ")+" customer-facing")
		case alertLevel:
			why = append(why, "on internal "+strings.Join(svcs, ", "))
		case *w.CustomerFacing:
			if len(svcs) == 0 {
				return "", false
			}
			why = append(why, strings.Join(svcs, ", ")+" customer-facing")
		default:
			for _, s := range inc.Services {
				if cfg.Service(s).CustomerFacing {
					return "", false
				}
			}
			why = append(why, "no customer-facing service")
		}
	}
	if len(w.AlertSeverity) > 0 {
		why = append(why, fmt.Sprintf("alert %s is %s", first().Name, first().Severity))
	}
	if w.MaxTier > 0 {
		if !alertLevel && len(svcs) == 0 {
			return "", false
		}
		s := svcs[0]
		why = append(why, fmt.Sprintf("%s is tier %d", s, cfg.Service(s).Tier))
	}
	if w.MinCustomerFacing > 0 {
		var cf []string
		for _, s := range serviceNames(matching) {
			if cfg.Service(s).CustomerFacing {
				cf = append(cf, s)
			}
		}
		if len(cf) < w.MinCustomerFacing {
			return "", false
		}
		why = append(why, fmt.Sprintf("%d customer-facing services (%s)", len(cf), strings.Join(cf, ", ")))
	}
	if w.MinAlerts > 0 {
		n := 0
		for _, a := range matching {
			n += max(a.count, 1)
		}
		if n < w.MinAlerts {
			return "", false
		}
		why = append(why, fmt.Sprintf("%d alerts", n))
	}
	if w.MinServices > 0 {
		if len(inc.Services) < w.MinServices {
			return "", false
		}
		why = append(why, fmt.Sprintf("%d services involved", len(inc.Services)))
	}
	if w.MinDuration > 0 {
		d := end.Sub(inc.StartedAt)
		if matching != nil {
			d = alertsSpan(matching, end)
		}
		if d < time.Duration(w.MinDuration) {
			return "", false
		}
		why = append(why, "lasting "+fmtDur(d))
	}
	if w.Paged != nil {
		var pages []string
		for _, p := range inc.PagerDuty {
			pages = append(pages, "#"+cmp.Or(p.Number, p.IncidentID))
		}
		if *w.Paged != (len(pages) > 0) {
			return "", false
		}
		if len(pages) > 0 {
			why = append(why, "paged ("+strings.Join(pages, ", ")+")")
		} else {
			why = append(why, "nobody paged")
		}
	}
	if len(why) == 0 {
		return catchAll, true
	}
	return strings.Join(why, " and "), true
}

// serviceNames lists the distinct services of alerts, sorted.
func serviceNames(alerts []*AlertState) []string {
	var out []string
	for _, a := range alerts {
		if a.Service != "" && !slices.Contains(out, a.Service) {
			out = append(out, a.Service)
		}
	}
	slices.Sort(out)
	return out
}

// alertsSpan is how long alerts lasted together: from the first one's
// start to the last one's end, or end while one still fires.
func alertsSpan(alerts []*AlertState, end time.Time) time.Duration {
	var from, to time.Time
	for _, a := range alerts {
		from = minTime(from, a.FirstStart)
		stop := a.EndsAt
		if a.Firing || stop.IsZero() || stop.After(end) {
			stop = end
		}
		to = maxTime(to, stop)
	}
	return max(to.Sub(from), 0)
}

const catchAll = "no other rule matched (the default level)"

// ruleRegexps caches the compiled label patterns of severity rules, nil
// for an invalid one: Assess runs on every read of an incident and at each
// step of its severity history, and compiling a pattern costs far more
// than matching it. Patterns come from the configuration, so the cache
// stays small; it is emptied if reloads ever fill it.
var ruleRegexps = struct {
	sync.RWMutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

const maxRuleRegexps = 1024

func ruleRegexp(pattern string) *regexp.Regexp {
	ruleRegexps.RLock()
	re, ok := ruleRegexps.m[pattern]
	ruleRegexps.RUnlock()
	if ok {
		return re
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		re = nil
	}
	ruleRegexps.Lock()
	if len(ruleRegexps.m) >= maxRuleRegexps {
		clear(ruleRegexps.m)
	}
	ruleRegexps.m[pattern] = re
	ruleRegexps.Unlock()
	return re
}
