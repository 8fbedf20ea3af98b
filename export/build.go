package export

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Thresholds of the observations the draft makes. They are judgement
// calls, stated where they are used so a reader of the draft can see why
// something was called late or slow.
const (
	// groupWindow bounds a collapsed timeline line: consecutive alert
	// entries of one kind, alert name and service within this span of the
	// line's first entry read as one event.
	groupWindow = 5 * time.Minute
	// lateDetection is how long after the first symptom the first alert may
	// fire before detection counts as late.
	lateDetection = 5 * time.Minute
	// quickAck and slowAck bound the time from page to acknowledgement
	// that counts as a strength or a weakness.
	quickAck = 5 * time.Minute
	slowAck  = 15 * time.Minute
	// quickAfterChange is how soon after a suspected deploy the first
	// alert must fire for detection to count as quick.
	quickAfterChange = 15 * time.Minute
	// rollbackWindow is how soon after a rollback every alert must have
	// resolved for the rollback to count as having worked.
	rollbackWindow = 15 * time.Minute
)

// visible reports whether a timeline entry belongs in the draft: people
// hide entries (PATCH .../entries/{entry}) to curate it, and the draft
// follows. This is the one place that honours it.
func visible(e correlate.Entry) bool { return !e.Hidden }

// bookkeeping reports whether an entry records a change people made to
// the record (a title, severity or status override, a merge, a split)
// rather than something that happened in the incident.
func bookkeeping(e correlate.Entry) bool {
	if e.Source != collector.SourceHindsight {
		return false
	}
	switch e.Kind {
	case correlate.KindIncidentUpdated, correlate.KindIncidentMerged, correlate.KindIncidentSplit, "severity.changed":
		return true
	}
	return strings.HasPrefix(e.Kind, "postmortem.") || strings.HasPrefix(e.Kind, "action_item.")
}

// builder holds what NewDraft derives once from the view: entries in
// order, alerts in order, and the entries of interest by kind.
type builder struct {
	v   *correlate.View
	cfg *config.Config
	now time.Time

	start   time.Time  // first symptom; zero when unknown
	end     *time.Time // nil while open
	entries []correlate.Entry
	// changes are people's bookkeeping (overrides, merges, splits): the
	// record's history, kept out of the narrative.
	changes  []correlate.Entry
	phases   phaseBounds
	alerts   []*correlate.AlertState
	services []ServiceInfo

	// Pages, acknowledgements, resolves and escalations of the linked
	// PagerDuty incidents, oldest first. Where the timeline lacks one that
	// a PagerDuty link records, a stand-in entry without an ID is added.
	pages, acks, pageResolves, escalations []correlate.Entry
	// deploySteps are every deploy entry; deploys the ones that shipped
	// (not failed or rolled back).
	deploySteps, deploys, failedDeploys []correlate.Entry
	pageURL                             map[string]string // PagerDuty incident id -> URL
	pageNumber, pageTitle               map[string]string // PagerDuty incident id -> number, title
	pageIDs                             []string          // distinct PagerDuty incidents, sorted
}

func newBuilder(v *correlate.View, cfg *config.Config, now time.Time) *builder {
	if v == nil {
		v = &correlate.View{}
	}
	if cfg == nil {
		cfg = config.Default()
	}
	b := &builder{v: v, cfg: cfg, now: now.UTC(),
		pageURL: map[string]string{}, pageNumber: map[string]string{}, pageTitle: map[string]string{}}
	if !v.StartedAt.IsZero() {
		b.start = v.StartedAt.UTC()
	}
	if v.ResolvedAt != nil {
		t := v.ResolvedAt.UTC()
		b.end = &t
	}
	for _, e := range v.Timeline {
		if !visible(e) {
			continue
		}
		e.At = e.At.UTC()
		if bookkeeping(e) {
			b.changes = append(b.changes, e)
			continue
		}
		b.entries = append(b.entries, e)
	}
	slices.SortStableFunc(b.entries, func(x, y correlate.Entry) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.Seq, y.Seq), strings.Compare(x.ID, y.ID))
	})
	for _, a := range v.Alerts {
		if a != nil {
			b.alerts = append(b.alerts, a)
		}
	}
	slices.SortStableFunc(b.alerts, func(x, y *correlate.AlertState) int {
		return cmp.Or(x.FirstStart.Compare(y.FirstStart), strings.Compare(x.Name, y.Name),
			strings.Compare(instance(x.Labels), instance(y.Labels)), strings.Compare(x.Fingerprint, y.Fingerprint))
	})

	links := slices.Clone(v.PagerDuty)
	slices.SortStableFunc(links, func(x, y correlate.PagerDutyLink) int { return strings.Compare(x.IncidentID, y.IncidentID) })
	ids := map[string]bool{}
	for _, p := range links {
		if p.IncidentID == "" {
			continue
		}
		ids[p.IncidentID] = true
		if u := safeURL(p.URL); u != "" {
			b.pageURL[p.IncidentID] = u
		}
		if n := oneLine(p.Number); n != "" {
			b.pageNumber[p.IncidentID] = n
		}
		if t := oneLine(p.Title); t != "" {
			b.pageTitle[p.IncidentID] = t
		}
	}
	seen := map[string]bool{} // kind + " " + PagerDuty incident id
	for _, e := range b.entries {
		switch e.Kind {
		case kindPageTriggered:
			b.pages = append(b.pages, e)
		case kindPageAcknowledged:
			b.acks = append(b.acks, e)
		case kindPageResolved:
			b.pageResolves = append(b.pageResolves, e)
		case kindPageEscalated, kindPageDelegated:
			b.escalations = append(b.escalations, e)
		}
		if e.Source == collector.SourceDeploy {
			b.deploySteps = append(b.deploySteps, e)
			switch e.Kind {
			case kindDeployFailed:
				b.failedDeploys = append(b.failedDeploys, e)
			case kindDeployRolledBack:
			default:
				b.deploys = append(b.deploys, e)
			}
		}
		if id := e.Ref.PagerDutyIncidentID; e.Source == collector.SourcePagerDuty && id != "" {
			ids[id] = true
			seen[e.Kind+" "+id] = true
			if b.pageURL[id] == "" {
				b.pageURL[id] = safeURL(pagerDutyOf(e).HTMLURL)
			}
			if b.pageNumber[id] == "" {
				b.pageNumber[id] = oneLine(pagerDutyOf(e).IncidentNumber)
			}
			if b.pageTitle[id] == "" {
				b.pageTitle[id] = oneLine(pagerDutyOf(e).Title)
			}
		}
	}
	// What the PagerDuty links record and the timeline misses.
	for _, p := range links {
		for _, s := range []struct {
			kind string
			at   *time.Time
			list *[]correlate.Entry
		}{{kindPageTriggered, p.TriggeredAt, &b.pages}, {kindPageAcknowledged, p.AcknowledgedAt, &b.acks}, {kindPageResolved, p.ResolvedAt, &b.pageResolves}} {
			if p.IncidentID != "" && s.at != nil && !s.at.IsZero() && !seen[s.kind+" "+p.IncidentID] {
				*s.list = append(*s.list, synthPage(p.IncidentID, s.kind, *s.at))
			}
		}
	}
	for _, l := range [][]correlate.Entry{b.pages, b.acks, b.pageResolves} {
		slices.SortStableFunc(l, func(x, y correlate.Entry) int {
			return cmp.Or(x.At.Compare(y.At), strings.Compare(x.Ref.PagerDutyIncidentID, y.Ref.PagerDutyIncidentID))
		})
	}
	b.pageIDs = sortedKeys(ids)

	names := map[string]bool{}
	for _, s := range v.Services {
		if s != "" {
			names[s] = true
		}
	}
	b.services = []ServiceInfo{}
	for _, s := range sortedKeys(names) {
		sc := cfg.Service(s)
		b.services = append(b.services, ServiceInfo{Name: s, CustomerFacing: sc.CustomerFacing, Tier: sc.Tier})
	}
	b.phases = b.bounds()
	return b
}

// ---- header ----

func (b *builder) header() Header {
	v := b.v
	h := Header{
		Title:          cmp.Or(v.Title, v.ID, "untitled incident"),
		IncidentID:     v.ID,
		IncidentStatus: v.Status,
		DraftStatus:    b.draftStatus(),
		Severity: Severity{
			Suggested:  v.Severity.Suggested,
			Effective:  cmp.Or(v.Severity.Effective, v.Severity.Suggested),
			Overridden: v.Severity.Override != nil,
			Reasons:    nonNil(slices.Clone(v.Severity.Reasons)),
			Meaning:    SeverityMeanings[cmp.Or(v.Severity.Effective, v.Severity.Suggested)],
		},
		EndedAt:    b.end,
		Duration:   b.duration(),
		Services:   b.services,
		Responders: b.responders(),
		People:     nonNil(b.people()),
		Links:      b.links(),
	}
	if !b.start.IsZero() {
		h.StartedAt = timePtr(b.start)
	}
	if t, ok := b.detectedAt(); ok {
		h.DetectedAt = timePtr(t)
		h.DetectedBy = b.detectedBy()
	}
	if ack, ok := b.firstAck(); ok {
		h.AcknowledgedAt = timePtr(ack.At)
		h.AcknowledgedBy = agent(ack)
	} else if v.AcknowledgedAt != nil {
		h.AcknowledgedAt = timePtr(*v.AcknowledgedAt)
	}
	if m, ok := b.firstMitigation(); ok {
		h.MitigatedAt = timePtr(m.At)
		h.MitigatedBy = b.mitigationName(m)
	}
	h.TimeToAcknowledge = b.timeToAcknowledge()
	h.TimeToResolve = b.timeToResolve()
	return h
}

// timeToAcknowledge runs from the first symptom to the first
// acknowledgement, as the view reports it (time_to_acknowledge_seconds).
func (b *builder) timeToAcknowledge() *Duration {
	if s := b.v.TimeToAcknowledgeSeconds; s != nil {
		return durationPtr(time.Duration(*s) * time.Second)
	}
	ack, ok := b.firstAck()
	if !ok || b.start.IsZero() || ack.At.Before(b.start) {
		return nil
	}
	return durationPtr(ack.At.Sub(b.start))
}

// timeToResolve runs from the first symptom to the end, the PagerDuty
// resolve included, as the view reports it (time_to_resolve_seconds).
func (b *builder) timeToResolve() *Duration {
	if s := b.v.TimeToResolveSeconds; s != nil {
		return durationPtr(time.Duration(*s) * time.Second)
	}
	if b.end == nil || b.start.IsZero() {
		return nil
	}
	end := *b.end
	if n := len(b.pageResolves); n > 0 && b.pageResolves[n-1].At.After(end) {
		end = b.pageResolves[n-1].At
	}
	return durationPtr(max(end.Sub(b.start), 0))
}

// detectedBy says what raised the incident first: the first alert or a
// page.
func (b *builder) detectedBy() string {
	if b.pageBeforeAlerts() {
		p := b.pages[0]
		if b.raisedByHand() {
			return b.pageName(p.Ref.PagerDutyIncidentID) + ", raised by hand before any alert fired"
		}
		return b.pageName(p.Ref.PagerDutyIncidentID) + ", raised before any alert fired"
	}
	if fa := b.firstAlerts(); len(fa) > 0 {
		return "first alert " + describe(fa)
	}
	return ""
}

// duration is the incident's length: to its end, or so far while open.
func (b *builder) duration() *Duration {
	if b.start.IsZero() {
		return nil
	}
	end := b.now
	if b.end != nil {
		end = *b.end
	}
	return durationPtr(max(end.Sub(b.start), 0))
}

func (b *builder) links() []Link {
	links := []Link{}
	seen := map[string]bool{}
	add := func(k LinkKind, text, u string) {
		u = safeURL(u)
		if u == "" || seen[string(k)+" "+u] {
			return
		}
		seen[string(k)+" "+u] = true
		links = append(links, Link{Kind: k, Text: text, URL: u})
	}
	for _, id := range b.pageIDs {
		text := b.pageName(id)
		if t := b.pageTitle[id]; t != "" {
			text += ": " + t
		}
		add(LinkPagerDuty, text, b.pageLink(id))
	}
	byName := slices.Clone(b.alerts)
	slices.SortStableFunc(byName, func(x, y *correlate.AlertState) int { return strings.Compare(x.Name, y.Name) })
	for _, a := range byName {
		add(LinkAlertSource, a.Name, a.GeneratorURL)
	}
	for _, a := range byName {
		add(LinkRunbook, a.Name, a.RunbookURL)
	}
	am := map[string]bool{}
	for _, e := range b.entries {
		if e.Alert != nil && e.Alert.ExternalURL != "" {
			am[e.Alert.ExternalURL] = true
		}
	}
	for _, u := range sortedKeys(am) {
		add(LinkAlertmanager, "Alertmanager", u)
	}
	for _, e := range b.deploySteps {
		text := cmp.Or(oneLine(e.Ref.DeployID), "deploy")
		if w := deployWhat(e); w != "" {
			text += ": " + w
		}
		add(LinkPipeline, text, deployURL(e))
	}
	return links
}

// draftStatus says what the document is: a draft nobody reviewed, one
// in review, or a published post-mortem.
func (b *builder) draftStatus() string {
	pm := b.v.Postmortem
	switch pm.Status {
	case correlate.PostmortemInReview:
		return fmt.Sprintf("in review — %s of %d approvals needed to publish", plural(len(pm.Approvals()), "approval", "approvals"), b.cfg.Export.MinReviewers)
	case correlate.PostmortemPublished:
		s := "published"
		if pm.PublishedAt != nil {
			s += " " + pm.PublishedAt.UTC().Format(time.DateOnly)
		}
		if a := pm.Approvals(); len(a) > 0 {
			s += " after review by " + joinAnd(a)
		}
		return s
	}
	return DraftStatus
}

// review is the Review section: the author and the reviewers who
// reviewed, or the roles the rule asks for.
func (b *builder) review() Review {
	pm := b.v.Postmortem
	r := Review{Status: cmp.Or(pm.Status, correlate.PostmortemDraft), Author: pm.Author, Rule: reviewRule(b.cfg.Export.MinReviewers)}
	if pm.PublishedAt != nil {
		r.PublishedAt = timePtr(*pm.PublishedAt)
	}
	byName := map[string]correlate.Review{}
	for _, rv := range pm.Reviews {
		byName[strings.ToLower(rv.Reviewer)] = rv
	}
	row := func(role, name string) Reviewer {
		x := Reviewer{Role: role, Name: name}
		if rv, ok := byName[strings.ToLower(name)]; ok && name != "" {
			x.SignedOff, x.Note = rv.Approve, oneLine(rv.Note)
			if rv.Approve {
				x.SignedOffAt = timePtr(rv.At)
			}
		}
		return x
	}
	r.Reviewers = []Reviewer{row("Author", pm.Author)}
	for _, rv := range pm.Reviews {
		if !strings.EqualFold(rv.Reviewer, pm.Author) {
			r.Reviewers = append(r.Reviewers, row("Reviewer", rv.Reviewer))
		}
	}
	r.Changes = []Item{}
	for _, e := range b.changes {
		text := strings.TrimSuffix(oneLine(e.Summary), ".")
		if len(e.Reasons) > 0 {
			text = strings.TrimSuffix(oneLine(e.Reasons[len(e.Reasons)-1]), ".")
		}
		r.Changes = append(r.Changes, fact(ts(e.At)+": "+text+".", ""))
	}
	for n := len(r.Reviewers); n < max(b.cfg.Export.MinReviewers, 3); n++ {
		role := "Reviewer"
		if n == max(b.cfg.Export.MinReviewers, 3)-1 {
			role = "Reviewer (preferably from management)"
		}
		r.Reviewers = append(r.Reviewers, Reviewer{Role: role})
	}
	return r
}

// ---- overview ----

// overview writes the Overview in the shape of the template: "On the
// afternoon of 20 November 2026, checkout suffered a 29-minute SEV2
// incident due to <the change>. <user impact with numbers>." It names
// changes and services, never people, and says how it was found and
// ended.
func (b *builder) overview() Item {
	var sb strings.Builder
	if b.start.IsZero() {
		sb.WriteString("On a date not recorded, ")
	} else {
		fmt.Fprintf(&sb, "On the %s of %s (UTC), ", partOfDay(b.start), b.start.Format("2 January 2006"))
	}
	subject, others := b.subject()
	sb.WriteString(subject)
	sb.WriteString(" suffered ")
	if d := b.duration(); d != nil {
		long := spokenDuration(time.Duration(*d))
		sb.WriteString(article(long) + " " + long)
	} else {
		sb.WriteString("an")
	}
	if sev := cmp.Or(b.v.Severity.Effective, b.v.Severity.Suggested); sev != "" {
		sb.WriteString(" " + sev)
	}
	sb.WriteString(" incident")
	if len(others) > 0 {
		sb.WriteString(" that also affected " + joinAnd(others))
	}
	if c, ok := b.topCause(); ok {
		sb.WriteString(" due to " + b.changeName(c))
	} else if b.pageBeforeAlerts() {
		sb.WriteString(" that no alert caught")
	}
	sb.WriteString(".")
	if b.end == nil {
		sb.WriteString(" It is still going on.")
	}
	if s := b.userImpact(); s != "" {
		sb.WriteString(" " + s)
	}
	if s := b.howItWent(); s != "" {
		sb.WriteString(" " + s)
	}
	return suggest(sb.String())
}

// subject is the service the incident is about (its anchor) and the
// others it affected.
func (b *builder) subject() (string, []string) {
	var names []string
	for _, s := range b.services {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return cmp.Or(b.v.Anchor, "an unnamed service"), nil
	}
	if a := b.v.Anchor; slices.Contains(names, a) {
		return a, slices.DeleteFunc(names, func(n string) bool { return n == a })
	}
	return joinAnd(names), nil
}

// changeName names a suspected change by what it changed: "a change to
// api-gateway (routes-1402: Route config: migrate /v2/* to new upstream
// clusters; deploy gw-routes-1402)".
func (b *builder) changeName(c correlate.SuspectedCause) string {
	e, ok := b.causeEntry(c)
	if !ok || e.Source != collector.SourceDeploy {
		return causeName(c)
	}
	what := oneLine(deployOf(e).Version)
	if d := deployDescription(e); d != "" {
		what = strings.TrimPrefix(what+": "+d, ": ")
	}
	s := "a change to " + cmp.Or(oneLine(e.Service), "a service")
	var in []string
	if what != "" {
		in = append(in, what)
	}
	if c.DeployID != "" {
		in = append(in, "deploy "+c.DeployID)
	}
	if len(in) > 0 {
		s += " (" + strings.Join(in, "; ") + ")"
	}
	return s
}

// userImpact says what users suffered, in numbers where there are any:
// the impact queries first, then what the alerts said, else which
// customer-facing services were hit.
func (b *builder) userImpact() string {
	ms := b.metrics()
	var parts []string
	counted := map[string]bool{}
	for _, m := range ms {
		if isErrorRatio(m.Name) && m.Value >= 0 && m.Value <= 1 {
			p := fmt.Sprintf("roughly %s of %s requests to fail", m.Display, cmp.Or(m.Service, "all"))
			for _, c := range ms {
				if isFailedCount(c.Name) && c.Service == m.Service {
					p += " (" + c.Display + " requests)"
					counted[c.Service] = true
					break
				}
			}
			parts = append(parts, p)
		}
	}
	for _, m := range ms {
		if isFailedCount(m.Name) && !counted[m.Service] {
			parts = append(parts, fmt.Sprintf("%s failed requests on %s", m.Display, cmp.Or(m.Service, "all services")))
		}
	}
	if len(parts) > 0 {
		return "This caused " + joinAnd(parts) + ", as the impact queries measured."
	}
	if f := b.figures(); len(f) > 0 {
		return "The alerts reported " + joinAnd(f[:min(len(f), 2)]) + " (the alerts' own annotations, not measured)."
	}
	var cf []string
	for _, s := range b.services {
		if s.CustomerFacing {
			cf = append(cf, s.Name)
		}
	}
	switch {
	case len(cf) > 0 && len(b.v.Impact.Errors) > 0:
		why := strings.TrimSuffix(strings.TrimPrefix(unmeasured(b.v.Impact.Errors)[0].Text, "Not measured: "), ".")
		return "Customers were affected through " + joinAnd(cf) + "; how many is not measured: " + why + "."
	case len(cf) > 0:
		return "Customers were affected through " + joinAnd(cf) + "; how many is not measured."
	case len(b.services) > 0:
		return "No customer-facing service was involved."
	}
	return ""
}

// howItWent says in one sentence how the incident was found and ended.
func (b *builder) howItWent() string {
	var parts []string
	switch {
	case b.pageBeforeAlerts() && b.raisedByHand():
		parts = append(parts, "A person raised it by hand before any alert fired")
	case b.start.IsZero():
	default:
		if d, ok := b.detectionDelay(); ok {
			if d <= time.Minute {
				parts = append(parts, "Alerts caught it at once")
			} else {
				parts = append(parts, "Alerts caught it "+spokenFor(d)+" after the first symptom")
			}
		}
	}
	if m, ok := b.firstMitigation(); ok && !b.start.IsZero() {
		how := "by a new deploy"
		if w := strings.TrimSpace(oneLine(m.Service) + " " + oneLine(deployOf(m).Version)); w != "" {
			how = "by deploying " + w
			if d := deployDescription(m); d != "" {
				how += " (" + d + ")"
			}
		}
		if b.isRollback(m) {
			how = "by rolling back"
			if to := oneLine(deployOf(m).Version); to != "" && m.Kind == kindDeployRolledBack {
				how += " " + cmp.Or(oneLine(m.Service), "the service") + " to " + to
			}
		}
		parts = append(parts, "it was mitigated "+how+" "+spokenFor(max(m.At.Sub(b.start), 0))+" in")
	}
	if len(parts) == 0 {
		return ""
	}
	return capitalize(strings.Join(parts, ", and ")) + "."
}

// partOfDay names the part of the day (UTC) t falls in, as the template
// starts: "On the morning of ...".
func partOfDay(t time.Time) string {
	switch h := t.UTC().Hour(); {
	case h < 5:
		return "night"
	case h < 12:
		return "morning"
	case h < 17:
		return "afternoon"
	case h < 22:
		return "evening"
	}
	return "night"
}

// spokenDuration writes a duration as a sentence says it: "14-minute",
// "2-hour", "3.5-hour"; as an adjective it takes a hyphen.
func spokenDuration(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case d < time.Minute:
		return strconv.Itoa(max(int(d/time.Second), 0)) + "-second"
	case m < 90:
		return strconv.Itoa(m) + "-minute"
	case m%60 == 0:
		return strconv.Itoa(m/60) + "-hour"
	}
	return strconv.FormatFloat(math.Round(float64(m)/30)/2, 'f', -1, 64) + "-hour"
}

// spokenFor writes a duration as a noun: "10 minutes", "2 hours".
func spokenFor(d time.Duration) string {
	a := spokenDuration(d)
	n, unit, _ := strings.Cut(a, "-")
	if n == "1" {
		return "1 " + unit
	}
	return n + " " + unit + "s"
}

func isErrorRatio(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "error") && (strings.HasSuffix(n, "ratio") || strings.HasSuffix(n, "rate"))
}

func isFailedCount(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "fail") || strings.Contains(n, "errors_total")
}

// entryLink is where a reader checks an entry: the alert's generator URL,
// the PagerDuty incident or the deploy's pipeline run.
func (b *builder) entryLink(e correlate.Entry) string {
	if e.Alert != nil {
		if u := safeURL(e.Alert.GeneratorURL); u != "" {
			return u
		}
	}
	if id := e.Ref.PagerDutyIncidentID; id != "" {
		return cmp.Or(b.pageLink(id), safeURL(pagerDutyOf(e).HTMLURL))
	}
	if e.Source == collector.SourceDeploy {
		return deployURL(e)
	}
	return ""
}

// ---- detection ----

func (b *builder) detection() []Item {
	items := []Item{}
	if fa := b.firstAlerts(); len(fa) > 0 {
		at := fa[0].FirstStart.UTC()
		text := fmt.Sprintf("The first alert was %s, which started firing at %s", describe(fa), ts(at))
		if !b.start.IsZero() {
			if at.After(b.start) {
				text += fmt.Sprintf(", %s after the first symptom (%s)", fmtDur(at.Sub(b.start)), ts(b.start))
			} else {
				text += ", with the first symptom Hindsight saw"
			}
		}
		items = append(items, fact(text+".", safeURL(fa[0].GeneratorURL)))
	} else {
		items = append(items, fact("No alert fired for this incident.", ""))
	}
	if len(b.pages) == 0 {
		items = append(items, fact("Time to page and to acknowledge: unknown, since no PagerDuty incident is linked to this incident.", ""))
	} else {
		p := b.pages[0]
		id := p.Ref.PagerDutyIncidentID
		text := fmt.Sprintf("The first page, %s, was triggered at %s", b.pageName(id), ts(p.At))
		if b.start.IsZero() || !p.At.After(b.start) {
			text += ", the first sign of the problem Hindsight saw"
		} else {
			text += fmt.Sprintf(", %s after the first symptom", fmtDur(p.At.Sub(b.start)))
		}
		if who := b.pageAssignees(p); who != "" {
			text += "; it went to " + who
		}
		items = append(items, fact(text+".", b.pageLink(id)))
		if ack, ok := b.firstAck(); ok {
			who := cmp.Or(agent(ack), "The on-call responder")
			since := ""
			if !b.start.IsZero() && p.At.After(b.start) {
				since = b.andSinceSymptom(ack.At)
			}
			items = append(items, fact(fmt.Sprintf("%s acknowledged it at %s, %s after the page%s.",
				who, ts(ack.At), fmtDur(max(ack.At.Sub(p.At), 0)), since), b.entryLink(ack)))
		} else {
			items = append(items, fact("No acknowledgement of the page is recorded.", ""))
		}
		if b.pageBeforeAlerts() {
			items = append(items, fact(b.gapText(), b.pageLink(id)))
		}
	}
	items = append(items, slot("How did people first learn of the problem: the alert, a customer, a colleague? Was anything noticed before the first alert?"))
	return items
}

// gapText states the monitoring gap plainly: a person had to raise the
// page because no alert had fired.
func (b *builder) gapText() string {
	p := b.pages[0]
	name := b.pageName(p.Ref.PagerDutyIncidentID)
	if !b.raisedByHand() {
		return fmt.Sprintf("%s was raised at %s, before any alert fired: a monitoring gap, since monitoring did not catch the problem first.",
			capitalize(name), ts(p.At))
	}
	by := ""
	if who := agent(p); who != "" {
		by = " by " + who
	}
	return fmt.Sprintf("%s was raised by hand%s at %s, before any alert fired: a monitoring gap, since monitoring did not catch what a person noticed.",
		capitalize(name), by, ts(p.At))
}

// andSinceSymptom is " and 4m after the first symptom", or "" when t is
// the first symptom or it is unknown.
func (b *builder) andSinceSymptom(t time.Time) string {
	if b.start.IsZero() || !t.After(b.start) {
		return ""
	}
	return " and " + fmtDur(t.Sub(b.start)) + " after the first symptom"
}

// ---- what happened ----

func (b *builder) whatHappened() []Step {
	steps := []Step{}
	fa := b.firstAlerts()

	// First symptom.
	switch {
	case b.start.IsZero():
		steps = append(steps, Step{Phase: PhaseFirstSymptom, Item: slot("When and how did the problem start?")})
	default:
		var text string
		if len(fa) > 0 && !fa[0].FirstStart.After(b.start) {
			text = describe(fa) + " started firing" + summarySuffix(fa) + "."
		} else if e, ok := b.firstSymptomEntry(); ok {
			text = "The first sign: " + strings.TrimSuffix(b.entryText(e), ".") + "."
		} else {
			text = "The incident started; no event explains how."
		}
		if d, ok := b.lastChangeBefore(b.start); ok {
			text += fmt.Sprintf(" It came %s after the last change recorded: %s.",
				fmtDur(b.start.Sub(d.At)), strings.TrimSuffix(deployText(d), "."))
		}
		steps = append(steps, Step{Phase: PhaseFirstSymptom, At: timePtr(b.start), Item: suggest(text)})
	}

	// Detection.
	if at, ok := b.detectedAt(); ok {
		var text string
		if b.pageBeforeAlerts() {
			name := b.pageName(b.pages[0].Ref.PagerDutyIncidentID)
			if b.raisedByHand() {
				text = fmt.Sprintf("%s raised %s by hand before any alert fired: a monitoring gap.", cmp.Or(agent(b.pages[0]), "A person"), name)
			} else {
				text = fmt.Sprintf("%s was raised before any alert fired: a monitoring gap.", capitalize(name))
			}
		} else {
			text = "Alertmanager raised " + fa[0].Name
			if !b.start.IsZero() && at.After(b.start) {
				text += fmt.Sprintf(", %s after the first symptom.", fmtDur(at.Sub(b.start)))
			} else {
				text += ", the first symptom Hindsight saw: the problem may have started earlier, by the rule's 'for' duration at least."
			}
		}
		if names := b.alertNames(); len(names) > 0 {
			text += fmt.Sprintf(" In all, %s fired: %s.", plural(len(b.alerts), "alert", "alerts"), strings.Join(names, ", "))
		} else {
			text += " No alert fired at all."
		}
		steps = append(steps, Step{Phase: PhaseDetection, At: timePtr(at), Item: suggest(text)})
	} else {
		steps = append(steps, Step{Phase: PhaseDetection, Item: slot("How was the problem noticed, and when?")})
	}

	// Escalation.
	if len(b.pages) > 0 {
		p := b.pages[0]
		id := p.Ref.PagerDutyIncidentID
		text := capitalize(b.pageName(id)) + " paged " + cmp.Or(b.pageAssignees(p), "the on-call responder")
		if prio := b.pagePriority(p); prio != "" {
			text += " (priority " + prio + ")"
		}
		if ack, ok := b.firstAck(); ok {
			text += fmt.Sprintf("; %s acknowledged it at %s, %s later.", cmp.Or(agent(ack), "the on-call responder"), ts(ack.At), fmtDur(max(ack.At.Sub(p.At), 0)))
		} else {
			text += "; no acknowledgement is recorded."
		}
		if n := b.escalationCount(); n > 0 {
			text += " It was escalated " + times(n)
			var what []string
			for _, e := range b.escalations {
				what = append(what, fmt.Sprintf("%s (%s UTC)", strings.TrimSuffix(b.pageText(e), "."), clock(e.At)))
			}
			if len(what) > 0 {
				text += ": " + strings.Join(what, "; ")
			}
			text += "."
		}
		if rs := b.responders(); len(rs) > 0 {
			text += " Responders: " + joinAnd(rs) + "."
		}
		if n := len(b.pageIDs); n > 1 {
			text += fmt.Sprintf(" In all, %d PagerDuty incidents were linked.", n)
		}
		steps = append(steps, Step{Phase: PhaseEscalation, At: timePtr(p.At), Item: suggestLink(text, b.pageLink(id))})
	} else {
		steps = append(steps, Step{Phase: PhaseEscalation, Item: slot("No page is linked to this incident: who was alerted, who joined, and when?")})
	}

	// Mitigation.
	if acts := b.mitigationActs(); len(acts) > 0 {
		var texts []string
		link := ""
		if m, ok := b.firstMitigation(); ok {
			link = deployURL(m)
		}
		for i, a := range acts {
			if i == 0 {
				texts = append(texts, capitalize(a.text)+".") // the step's own time
			} else {
				texts = append(texts, fmt.Sprintf("At %s, %s.", ts(a.at), a.text))
			}
			if link == "" {
				link = a.link
			}
		}
		steps = append(steps, Step{Phase: PhaseMitigation, At: timePtr(acts[0].at), Item: suggestLink(strings.Join(texts, " "), link)})
	} else {
		steps = append(steps, Step{Phase: PhaseMitigation, Item: slot("What did the team do to stop the impact, and when?")})
	}

	// Recovery.
	if b.end != nil {
		var text string
		if la := b.lastResolved(); len(la) > 0 {
			end := la[0].EndsAt.UTC()
			text = fmt.Sprintf("The last alert, %s, resolved at %s%s.", describe(la), ts(end), b.afterSymptom(end))
		} else if !b.endedByPage() {
			text = fmt.Sprintf("The incident ended at %s%s.", ts(*b.end), b.afterSymptom(*b.end))
		}
		for _, r := range b.pageResolves {
			text += fmt.Sprintf(" At %s, %s%s.", ts(r.At), strings.TrimSuffix(b.pageText(r), "."), b.afterSymptom(r.At))
		}
		text = strings.TrimSpace(text)
		steps = append(steps, Step{Phase: PhaseRecovery, At: timePtr(*b.end), Item: suggest(text)})
	} else {
		steps = append(steps, Step{Phase: PhaseRecovery, At: timePtr(b.now), Item: fact(b.stillOpen(), "")})
	}
	return steps
}

// afterSymptom is ", 29m29s after the first symptom", or "" when unknown.
func (b *builder) afterSymptom(t time.Time) string {
	if b.start.IsZero() || t.Before(b.start) {
		return ""
	}
	return ", " + fmtDur(t.Sub(b.start)) + " after the first symptom"
}

// act is one thing people did to stop the impact; text is a clause
// without its time.
type act struct {
	at         time.Time
	text, link string
}

// mitigationActs are what people did to stop the impact, oldest first:
// rollbacks and fixing deploys, rollbacks that failed, and the notes they
// left on the page.
func (b *builder) mitigationActs() []act {
	var acts []act
	for _, m := range b.mitigations() {
		what := "a new deploy went out"
		if b.isRollback(m) {
			what = "the change was rolled back"
		}
		acts = append(acts, act{m.At, what + ": " + strings.TrimSuffix(deployText(m), "."), deployURL(m)})
	}
	failed, rollback := b.failedDuring()
	for i, f := range failed {
		what := "a deploy failed"
		if rollback[i] {
			what = "a rollback failed"
		}
		acts = append(acts, act{f.At, what + ": " + strings.TrimSuffix(deployText(f), "."), deployURL(f)})
	}
	for _, n := range b.pageNotes() {
		acts = append(acts, act{n.At, strings.TrimSuffix(b.pageText(n), "."), b.entryLink(n)})
	}
	slices.SortStableFunc(acts, func(x, y act) int { return x.at.Compare(y.at) })
	return acts
}

// pagePriority is the priority a page was raised with, or has now.
func (b *builder) pagePriority(p correlate.Entry) string {
	if pr := oneLine(pagerDutyOf(p).Priority); pr != "" {
		return pr
	}
	for _, l := range b.v.PagerDuty {
		if l.IncidentID == p.Ref.PagerDutyIncidentID {
			return oneLine(l.Priority)
		}
	}
	return ""
}

// stillOpen says what was firing when the draft of an open incident was
// made.
func (b *builder) stillOpen() string {
	var firing []*correlate.AlertState
	names := map[string]bool{}
	for _, a := range b.alerts {
		if a.Firing {
			firing = append(firing, a)
			names[a.Name] = true
		}
	}
	if len(firing) == 0 {
		return "Not resolved yet when this draft was made; no alert was firing, so it should resolve soon."
	}
	return fmt.Sprintf("Not resolved yet when this draft was made: %s still firing (%s).",
		plural(len(firing), "alert", "alerts"), strings.Join(sortedKeys(names), ", "))
}

// ---- resolution ----

func (b *builder) resolution() []Item {
	items := []Item{}
	for _, m := range b.mitigations() {
		what := "New deploy"
		if b.isRollback(m) {
			what = "Rollback"
		}
		items = append(items, fact(fmt.Sprintf("%s at %s: %s.", what, ts(m.At), strings.TrimSuffix(deployText(m), ".")), deployURL(m)))
	}
	for _, r := range b.pageResolves {
		items = append(items, fact(fmt.Sprintf("PagerDuty resolve at %s: %s.", ts(r.At), strings.TrimSuffix(b.pageText(r), ".")),
			b.pageLink(r.Ref.PagerDutyIncidentID)))
	}
	if b.end != nil {
		if la := b.lastResolved(); len(la) > 0 {
			items = append(items, fact(fmt.Sprintf("The last alert to resolve was %s, at %s.", describe(la), ts(la[0].EndsAt.UTC())),
				safeURL(la[0].GeneratorURL)))
		} else if !b.endedByPage() {
			items = append(items, fact("The incident resolved at "+ts(*b.end)+".", ""))
		}
	} else {
		items = append(items, fact(b.stillOpen(), ""))
	}
	items = append(items,
		slot("Temporary fix: what stopped the impact, and is it still in place?"),
		slot("Long-term solution: what will keep this from happening again?"))
	return items
}

// ---- contributing factors ----

func (b *builder) contributingFactors() []Item {
	items := []Item{}
	cs := b.causes()
	for i, c := range cs {
		text := fmt.Sprintf("Suspect %d of %d (score %s): %s", i+1, len(cs), strconv.FormatFloat(c.Score, 'f', 2, 64), b.suspectName(c))
		if len(c.Reasons) > 0 {
			text += ". Why it is suspected: " + strings.TrimSuffix(strings.Join(c.Reasons, "; "), ".")
		}
		items = append(items, suggestLink(text+".", b.suspectLink(c)))
	}
	if len(items) == 0 {
		items = append(items, fact("No suspected change recorded.", ""))
	}
	failed, rollback := b.failedDuring()
	for i, f := range failed {
		text := fmt.Sprintf("A deploy failed during the incident, at %s: %s.", ts(f.At), strings.TrimSuffix(deployText(f), "."))
		if rollback[i] {
			text = fmt.Sprintf("Made it worse: a rollback failed during the incident, at %s: %s.", ts(f.At), strings.TrimSuffix(deployText(f), "."))
			if b.end != nil && b.end.After(f.At) {
				text += fmt.Sprintf(" The incident went on for %s after it.", fmtDur(b.end.Sub(f.At)))
			}
		}
		items = append(items, fact(text, deployURL(f)))
	}
	items = append(items, slot("What contributed: the underlying cause, the conditions that made it possible, "+
		"missing safeguards, and actions during the incident that made it worse."))
	return items
}

// ---- impact ----

func (b *builder) impact() Impact {
	im := Impact{
		Duration:     b.duration(),
		Ongoing:      b.end == nil,
		Services:     b.services,
		Metrics:      b.metrics(),
		Alerts:       len(b.alerts),
		AlertFirings: b.firings(),
		Pages:        len(b.pageIDs),
		Notes:        []Item{},
	}
	for _, s := range b.services {
		im.CustomerFacing = im.CustomerFacing || s.CustomerFacing
	}
	im.SeverityHistory, im.TimeAtSeverity = b.severityHistory()
	if n := len(im.SeverityHistory); n > 0 {
		sv := b.v.Severity
		if last := im.SeverityHistory[n-1]; sv.Override != nil && sv.Effective != last.Level {
			// Set during the review, after the incident: the history says
			// what was in force while it lasted.
			im.Notes = append(im.Notes, fact("Severity set to "+sv.Effective+" by a person after the incident ended; "+
				"the time at each severity above is what was in force while it lasted.", ""))
		}
	}
	im.AlertFigures = b.alertFigureItems()
	// Said plainly, in one line per reason, so nobody mistakes a missing
	// number for no impact.
	im.Notes = append(im.Notes, unmeasured(b.v.Impact.Errors)...)
	if len(im.Metrics) == 0 && len(b.v.Impact.Errors) == 0 {
		keys := []string{"services.<service>.impact_queries"}
		if len(b.services) > 0 {
			keys = keys[:0]
			for _, s := range b.services {
				keys = append(keys, "services."+s.Name+".impact_queries")
			}
		}
		im.Notes = append(im.Notes, suggest("No impact numbers: configure "+joinAnd(keys)+
			" (error ratio, failed requests, error budget burned) to have them measured over the incident's window."))
	}
	im.Notes = append(im.Notes,
		slot("Customers affected: how many, which ones, what they saw, and any workaround."),
		slot("Cost to the business: lost revenue, SLA credits, support load."))
	return im
}

// severityHistory is the view's severity history as the draft shows it,
// with the total time at each level, most severe first.
func (b *builder) severityHistory() ([]SeverityPeriod, []SeverityTime) {
	periods, totals := []SeverityPeriod{}, []SeverityTime{}
	at := map[string]time.Duration{}
	for _, p := range b.v.Severity.History {
		d := p.Until.Sub(p.Since)
		periods = append(periods, SeverityPeriod{Level: p.Level, Since: p.Since.UTC(), Until: p.Until.UTC(),
			Duration: Duration(d), Reason: oneLine(p.Reason), SetByHand: p.Override})
		at[p.Level] += d
	}
	for _, l := range sortedKeys(at) {
		totals = append(totals, SeverityTime{Level: l, Duration: Duration(at[l])})
	}
	return periods, totals
}

func (b *builder) metrics() []Metric {
	ms := []Metric{}
	for _, m := range b.v.Impact.Metrics {
		ms = append(ms, Metric{Name: m.Name, Service: m.Service, Value: m.Value, Display: displayValue(m.Name, m.Value), Query: m.Query})
	}
	slices.SortStableFunc(ms, func(x, y Metric) int {
		return cmp.Or(strings.Compare(x.Service, y.Service), strings.Compare(x.Name, y.Name), strings.Compare(x.Query, y.Query))
	})
	return ms
}

// displayValue shows a ratio as a percentage and a count as an integer.
func displayValue(name string, v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "no data"
	case strings.HasSuffix(name, "ratio") || strings.HasSuffix(name, "rate") && v <= 1:
		return strconv.FormatFloat(v*100, 'g', 3, 64) + "%"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return groupThousands(int64(v))
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// groupThousands writes 18234 as 18,234.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// ---- related incidents ----

// related lists the earlier incidents the view carries, with their
// open action items: a repeat puts them in question. A view without them
// (nil: not looked up, as for a draft made offline) keeps only the slot.
func (b *builder) related() Related {
	r := Related{Incidents: []RelatedIncident{}, Notes: []Item{}}
	var open []string
	for _, ri := range b.v.Related {
		x := RelatedIncident{ID: ri.ID, Title: oneLine(ri.Title), StartedAt: timePtr(ri.StartedAt),
			Score: ri.Score, URL: ri.PostmortemURL, Reasons: nonNil(slices.Clone(ri.Reasons)),
			PostmortemStatus: cmp.Or(ri.PostmortemStatus, correlate.PostmortemDraft), OpenActionItems: []ActionItem{}}
		for _, a := range ri.OpenActionItems {
			x.OpenActionItems = append(x.OpenActionItems, peopleItem(a))
			open = append(open, fmt.Sprintf("“%s” (%s)", strings.TrimSuffix(oneLine(a.Text), "."), ri.ID))
		}
		r.Incidents = append(r.Incidents, x)
	}
	switch {
	case b.v.Related == nil:
		r.Notes = append(r.Notes, slot("Earlier incidents that look like this one (same services, alerts or suspected change), "+
			"with links to their post-mortems and their open action items."))
		return r
	case len(r.Incidents) == 0:
		r.Notes = append(r.Notes, fact("Hindsight found no earlier incident with the same alerts on the same services "+
			"or the same suspected change.", ""))
	default:
		r.Notes = append(r.Notes, suggest("These earlier incidents look like this one, for the reasons given; "+
			"check that they are the same problem before drawing on them."))
		if len(open) > 0 {
			r.Notes = append(r.Notes, fact("Still open from their post-mortems: "+strings.Join(open, "; ")+
				". Would they have prevented this one?", ""))
		} else {
			r.Notes = append(r.Notes, fact("Their post-mortems have no open action items.", ""))
		}
	}
	r.Notes = append(r.Notes, slot("Earlier incidents Hindsight could not match (other alerts, other names for the same problem), "+
		"with links to their post-mortems and their open action items."))
	return r
}

// peopleItem is an action item people added, as the draft lists it.
func peopleItem(a correlate.ActionItem) ActionItem {
	return ActionItem{Item: fact(oneLine(a.Text), ""), ID: a.ID, Owner: oneLine(a.Owner), Due: a.Due,
		Status: cmp.Or(a.Status, correlate.ActionOpen)}
}

// ---- what went well, what didn't ----

func (b *builder) wentWell() []Item {
	items := []Item{}
	fa := b.firstAlerts()
	if len(fa) > 0 && !b.pageBeforeAlerts() {
		items = append(items, fact(fmt.Sprintf("Alerts detected the problem: %s fired at %s.", describe(fa), ts(fa[0].FirstStart.UTC())),
			safeURL(fa[0].GeneratorURL)))
		if d, ok := b.topCauseEntry(); ok {
			if gap := fa[0].FirstStart.Sub(d.At); gap >= 0 && gap <= quickAfterChange {
				items = append(items, suggest(fmt.Sprintf("Detection was quick after the suspected change: the first alert fired %s after %s.",
					fmtDur(gap), strings.TrimSuffix(deployText(d), "."))))
			}
		}
	}
	if len(b.alerts) > 0 && len(b.withoutRunbook()) == 0 {
		items = append(items, fact("Every alert linked a runbook.", ""))
	}
	if ack, ok := b.firstAck(); ok && len(b.pages) > 0 {
		if d := ack.At.Sub(b.pages[0].At); d >= 0 && d < quickAck {
			items = append(items, fact(fmt.Sprintf("The page was acknowledged quickly%s: %s after it was raised.", by(agent(ack)), fmtDur(d)),
				b.entryLink(ack)))
		}
	}
	if r, d, ok := b.rollbackWorked(); ok {
		what := "The rollback"
		if id := oneLine(r.Ref.DeployID); id != "" {
			what += " of " + id
		}
		items = append(items, suggestLink(fmt.Sprintf("%s at %s worked: every alert had resolved %s after it.",
			what, ts(r.At), fmtDur(d)), deployURL(r)))
	}
	return append(items, slot("What else went well: tools, people and practices worth keeping."))
}

func (b *builder) wentBadly() []Item {
	items := []Item{}
	if b.pageBeforeAlerts() {
		items = append(items, fact(b.gapText(), b.pageLink(b.pages[0].Ref.PagerDutyIncidentID)))
	}
	if d, ok := b.detectionDelay(); ok && d > lateDetection {
		items = append(items, fact(fmt.Sprintf("Detection was late: the first alert fired %s after the first symptom.", fmtDur(d)),
			safeURL(b.firstAlerts()[0].GeneratorURL)))
	}
	if d, ok := b.pageDelay(); ok && d > lateDetection {
		p := b.pages[0]
		items = append(items, fact(fmt.Sprintf("The first page came late: %s was triggered %s after the first symptom.",
			b.pageName(p.Ref.PagerDutyIncidentID), fmtDur(d)), b.pageLink(p.Ref.PagerDutyIncidentID)))
	}
	if ack, ok := b.firstAck(); ok && len(b.pages) > 0 {
		if d := ack.At.Sub(b.pages[0].At); d > slowAck {
			items = append(items, fact(fmt.Sprintf("Acknowledgement was slow: %s acknowledged the page %s after it was raised.",
				cmp.Or(agent(ack), "the on-call responder"), fmtDur(d)), b.entryLink(ack)))
		}
	} else if len(b.pages) > 0 {
		items = append(items, fact("No acknowledgement of the page is recorded.", ""))
	}
	for _, e := range b.escalations {
		items = append(items, fact(fmt.Sprintf("The page was escalated at %s: %s.", ts(e.At), strings.TrimSuffix(b.pageText(e), ".")), b.entryLink(e)))
	}
	if n := b.escalationCount(); n > len(b.escalations) {
		items = append(items, fact(fmt.Sprintf("PagerDuty escalated the page %s.", times(n)), b.pageLink(b.firstPageID())))
	}
	for _, a := range b.flapping() {
		items = append(items, fact(fmt.Sprintf("%s flapped: it fired %d times during the incident.", describe([]*correlate.AlertState{a}), a.Firings),
			safeURL(a.GeneratorURL)))
	}
	if n := b.v.Reopens; n > 0 {
		items = append(items, fact(fmt.Sprintf("The incident resolved and then fired again (%s).", plural(n, "reopen", "reopens")), ""))
	}
	if nr := b.withoutRunbook(); len(nr) > 0 {
		var names []string
		for _, a := range nr {
			names = append(names, a.Name)
		}
		what := "Alert " + names[0] + " has"
		if len(names) > 1 {
			what = "Alerts " + joinAnd(names) + " have"
		}
		items = append(items, fact(what+" no runbook: responders had no written procedure to start from.", safeURL(nr[0].GeneratorURL)))
	}
	failed, rollback := b.failedDuring()
	for i, f := range failed {
		what := "A deploy"
		if rollback[i] {
			what = "A rollback"
		}
		items = append(items, fact(fmt.Sprintf("%s failed during the incident, at %s: %s.", what, ts(f.At),
			strings.TrimSuffix(deployText(f), ".")), deployURL(f)))
	}
	return append(items, slot("What else didn't go well? Where did people lose time?"))
}

// ---- action items ----

// actionItems are what will keep this from happening again: the items
// people added (with owner, due date and status), then Hindsight's
// suggestions from what it observed, most preventive first, then a slot.
// Chores of the incident itself (the follow-up message, the status page)
// are not action items; they are FollowUps.
func (b *builder) actionItems() []ActionItem {
	out := []ActionItem{}
	for _, a := range b.v.ActionItems {
		out = append(out, peopleItem(a))
	}
	var items []Item
	if c, ok := b.topCause(); ok && c.DeployID != "" {
		svc := "the service"
		if e, ok := b.causeEntry(c); ok && e.Service != "" {
			svc = e.Service
		}
		text := fmt.Sprintf("Catch a bad change to %s before it reaches every user: roll out in stages behind a canary", svc)
		if fa := b.firstAlerts(); len(fa) > 0 {
			text += " that watches " + fa[0].Name
		}
		text += ", and roll back on its own when that fails."
		items = append(items, suggestLink(text, b.suspectLink(c)))
		items = append(items, suggestLink(fmt.Sprintf("Find why the tests and review of %s did not catch the problem, and add the test or check that would have.",
			"the "+strings.TrimPrefix(b.changeName(c), "a ")), b.suspectLink(c)))
	}
	if b.pageBeforeAlerts() {
		p := b.pages[0]
		how := "raised"
		if b.raisedByHand() {
			how = "raised by hand"
		}
		text := fmt.Sprintf("Add an alert that would have caught this: %s was %s at %s, before any alert fired",
			b.pageName(p.Ref.PagerDutyIncidentID), how, ts(p.At))
		if t := b.pageTitle[p.Ref.PagerDutyIncidentID]; t != "" {
			text += " (" + t + ")"
		}
		items = append(items, suggestLink(text+".", b.pageLink(p.Ref.PagerDutyIncidentID)))
	}
	failed, rollback := b.failedDuring()
	for i, f := range failed {
		if rollback[i] {
			items = append(items, suggestLink(fmt.Sprintf("Make the rollback of %s work when it is needed: it failed during this incident (%s). "+
				"Rehearse it, and keep changes reversible.", cmp.Or(oneLine(f.Service), "the service"), cmp.Or(oneLine(f.Ref.DeployID), ts(f.At))),
				deployURL(f)))
		}
	}
	if len(b.v.Related) > 0 {
		ri := b.v.Related[0]
		items = append(items, suggest(fmt.Sprintf("This looks like %s (%s, %s): find the cause both share and fix it once.",
			ri.ID, oneLine(ri.Title), ri.StartedAt.UTC().Format(time.DateOnly))))
	}
	if d, ok := b.detectionDelay(); ok && d > lateDetection {
		fa := b.firstAlerts()
		items = append(items, suggestLink(fmt.Sprintf("Detect sooner: review the threshold and 'for' duration of %s, which fired %s after the first symptom.",
			fa[0].Name, fmtDur(d)), safeURL(fa[0].GeneratorURL)))
	}
	if d, ok := b.pageDelay(); ok && d > lateDetection {
		items = append(items, suggestLink(fmt.Sprintf("Page sooner: the first page came %s after the first symptom; review the alert's routing "+
			"(group_wait, receivers) and the PagerDuty service's urgency.", fmtDur(d)), b.pageLink(b.firstPageID())))
	}
	if ack, ok := b.firstAck(); ok && len(b.pages) > 0 {
		if d := ack.At.Sub(b.pages[0].At); d > slowAck {
			items = append(items, suggestLink(fmt.Sprintf("Find out why acknowledging the page took %s: notification rules, on-call handover, "+
				"escalation timeouts.", fmtDur(d)), b.pageLink(b.firstPageID())))
		}
	}
	flapping := map[string]int{}
	links := map[string]string{}
	for _, a := range b.flapping() {
		flapping[a.Name] = max(flapping[a.Name], a.Firings)
		if links[a.Name] == "" {
			links[a.Name] = safeURL(a.GeneratorURL)
		}
	}
	for _, name := range sortedKeys(flapping) {
		items = append(items, suggestLink(fmt.Sprintf("Tune the flapping alert %s (it fired %d times): a longer 'for' duration, "+
			"a smoothed expression or a separate threshold to resolve.", name, flapping[name]), links[name]))
	}
	if nr := b.withoutRunbook(); len(nr) > 0 {
		var names []string
		for _, a := range nr {
			names = append(names, a.Name)
		}
		items = append(items, suggestLink(fmt.Sprintf("Write %s for %s and link %s from the rules' runbook_url annotation, so the next responder has a procedure to start from.",
			pluralWord(len(names), "a runbook", "runbooks"), joinAnd(names), pluralWord(len(names), "it", "them")), safeURL(nr[0].GeneratorURL)))
	}
	if len(b.v.ActionItems) == 0 {
		items = append(items, slot("The team's own action items, each with an owner and a due date "+
			"(POST /api/v1/incidents/{id}/action-items keeps them tracked across incidents)."))
	}
	for _, it := range items {
		out = append(out, ActionItem{Item: it})
	}
	return out
}

// followUps are the standing follow-ups of an incident: not action
// items, chores to tick off before the post-mortem is published.
func (b *builder) followUps() []Item {
	items := []Item{suggest("Send the internal follow-up message: what happened, the impact, and what comes next.")}
	var cf []string
	for _, s := range b.services {
		if s.CustomerFacing {
			cf = append(cf, s.Name)
		}
	}
	if len(cf) > 0 {
		items = append(items, suggest("Update the status page and tell customer services: "+joinAnd(cf)+" "+isAre(len(cf))+
			" customer-facing (the customer-facing variant of this post-mortem: ?audience=customer)."))
	} else {
		items = append(items, suggest("Update the status page if customers noticed; no customer-facing service was involved."))
	}
	return items
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ---- five whys ----

func (b *builder) fiveWhys() []Why {
	whys := make([]Why, 0, 5)
	fa := b.firstAlerts()
	switch {
	case len(fa) > 0 && !b.pageBeforeAlerts():
		whys = append(whys, Why{Question: "Why was an incident opened?",
			Answer: suggestLink("Because "+describe(fa)+" fired"+summarySuffix(fa)+".", safeURL(fa[0].GeneratorURL))})
	case len(b.pages) > 0:
		p := b.pages[0]
		id := p.Ref.PagerDutyIncidentID
		text := "Because " + cmp.Or(agent(p), "a person") + " raised " + b.pageName(id)
		if !b.raisedByHand() {
			text = "Because " + b.pageName(id) + " was raised"
		}
		if t := b.pageTitle[id]; t != "" {
			text += ": " + strings.TrimSuffix(t, ".")
		}
		whys = append(whys, Why{Question: "Why was an incident opened?", Answer: suggestLink(text+".", b.pageLink(id))})
	default:
		whys = append(whys, Why{Question: "Why was an incident opened?", Answer: slot("The symptom that people or monitoring saw.")})
	}
	if c, ok := b.topCause(); ok {
		text := "Because of " + b.changeName(c) + ", Hindsight's top suspect"
		if len(c.Reasons) > 0 {
			text += " (" + strings.TrimSuffix(strings.Join(c.Reasons, "; "), ".") + ")"
		}
		whys = append(whys, Why{Question: "Why did that happen?", Answer: suggestLink(text+".", b.suspectLink(c))})
	} else {
		whys = append(whys, Why{Question: "Why did that happen?", Answer: slot("The cause behind the symptom (no suspected cause recorded).")})
	}
	whys = append(whys,
		Why{Question: "Why did that happen?", Answer: slot("The reason behind the answer above.")},
		Why{Question: "Why did that happen?", Answer: slot("The reason behind the answer above.")},
		Why{Question: "Why did that happen?", Answer: slot("The root cause: the reason behind the answer above, which an action item can fix.")})
	return whys
}

// ---- observations shared by several sections ----

// firstAlerts returns the first alert and the alerts of the same name that
// started with it (within groupWindow), so "2 instances of checkout" reads
// as one symptom.
func (b *builder) firstAlerts() []*correlate.AlertState {
	if len(b.alerts) == 0 {
		return nil
	}
	first := b.alerts[0]
	out := []*correlate.AlertState{first}
	for _, a := range b.alerts[1:] {
		if a.Name == first.Name && a.FirstStart.Sub(first.FirstStart) <= groupWindow {
			out = append(out, a)
		}
	}
	return out
}

// lastResolved returns the alert that resolved last, with the alerts of
// the same name that resolved at the same time.
func (b *builder) lastResolved() []*correlate.AlertState {
	var out []*correlate.AlertState
	for _, a := range b.alerts {
		if a.Firing || a.EndsAt.IsZero() {
			continue
		}
		switch {
		case len(out) == 0 || a.EndsAt.After(out[0].EndsAt):
			out = []*correlate.AlertState{a}
		case a.EndsAt.Equal(out[0].EndsAt) && a.Name == out[0].Name:
			out = append(out, a)
		}
	}
	return out
}

func (b *builder) detectedAt() (time.Time, bool) {
	var t time.Time
	if fa := b.firstAlerts(); len(fa) > 0 {
		t = fa[0].FirstStart.UTC()
	}
	if len(b.pages) > 0 && (t.IsZero() || b.pages[0].At.Before(t)) {
		t = b.pages[0].At
	}
	return t, !t.IsZero()
}

// detectionDelay is the time from the first symptom to the first alert.
func (b *builder) detectionDelay() (time.Duration, bool) {
	fa := b.firstAlerts()
	if len(fa) == 0 || b.start.IsZero() {
		return 0, false
	}
	return max(fa[0].FirstStart.Sub(b.start), 0), true
}

// endedByPage reports whether the incident ended with its last page's
// resolve, with no alert resolving then, so the resolve tells the end.
func (b *builder) endedByPage() bool {
	n := len(b.pageResolves)
	return b.end != nil && n > 0 && len(b.lastResolved()) == 0 && b.pageResolves[n-1].At.Equal(*b.end)
}

// pageDelay is the time from the first symptom to the first page.
func (b *builder) pageDelay() (time.Duration, bool) {
	if len(b.pages) == 0 || b.start.IsZero() {
		return 0, false
	}
	return max(b.pages[0].At.Sub(b.start), 0), true
}

// firstPageID is the PagerDuty incident of the first page, or "".
func (b *builder) firstPageID() string {
	if len(b.pages) == 0 {
		return ""
	}
	return b.pages[0].Ref.PagerDutyIncidentID
}

// pageBeforeAlerts reports a page raised before any alert fired: a page
// not raised by monitoring. Only PagerDuty data can show it.
func (b *builder) pageBeforeAlerts() bool {
	if len(b.pages) == 0 {
		return false
	}
	fa := b.firstAlerts()
	return len(fa) == 0 || b.pages[0].At.Before(fa[0].FirstStart)
}

func (b *builder) firstAck() (correlate.Entry, bool) {
	if len(b.acks) == 0 {
		return correlate.Entry{}, false
	}
	return b.acks[0], true
}

// firstSymptomEntry is the first entry that is not a change or a note.
func (b *builder) firstSymptomEntry() (correlate.Entry, bool) {
	for _, e := range b.entries {
		if e.Source != collector.SourceDeploy && e.Source != collector.SourceNote {
			return e, true
		}
	}
	return correlate.Entry{}, false
}

// lastChangeBefore is the last deploy recorded at or before t.
func (b *builder) lastChangeBefore(t time.Time) (correlate.Entry, bool) {
	var out correlate.Entry
	found := false
	for _, d := range b.deploys {
		if !d.At.After(t) {
			out, found = d, true
		}
	}
	return out, found
}

func (b *builder) causes() []correlate.SuspectedCause {
	cs := slices.Clone(b.v.SuspectedCauses)
	slices.SortStableFunc(cs, func(x, y correlate.SuspectedCause) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), strings.Compare(x.DeployID, y.DeployID), strings.Compare(x.EntryID, y.EntryID))
	})
	return cs
}

func (b *builder) topCause() (correlate.SuspectedCause, bool) {
	cs := b.causes()
	if len(cs) == 0 {
		return correlate.SuspectedCause{}, false
	}
	return cs[0], true
}

// topCauseEntry is the timeline entry of the top suspected cause.
func (b *builder) topCauseEntry() (correlate.Entry, bool) {
	c, ok := b.topCause()
	if !ok {
		return correlate.Entry{}, false
	}
	return b.causeEntry(c)
}

// causeEntry is the timeline entry of a suspect: the step of its deploy
// that was live when the first symptom showed (the suspect's entry names
// the deploy's latest step, which may be its rollback), else its entry.
func (b *builder) causeEntry(c correlate.SuspectedCause) (correlate.Entry, bool) {
	var live, named, other correlate.Entry
	var haveLive, haveNamed, haveOther bool
	for _, e := range b.entries {
		if c.EntryID != "" && e.ID == c.EntryID {
			named, haveNamed = e, true
		}
		if c.DeployID == "" || e.Ref.DeployID != c.DeployID || e.Source != collector.SourceDeploy {
			continue
		}
		if !haveOther {
			other, haveOther = e, true
		}
		if !b.start.IsZero() && !e.At.After(b.start) && e.Kind != kindDeployFailed && e.Kind != kindDeployRolledBack {
			live, haveLive = e, true
		}
	}
	switch {
	case haveNamed && (b.start.IsZero() || !named.At.After(b.start)):
		return named, true
	case haveLive:
		return live, true
	case haveNamed:
		return named, true
	case haveOther:
		return other, true
	}
	return correlate.Entry{}, false
}

// suspectName names a suspect with what it shipped: "deploy d-4711 of
// checkout v2.3.1 by dana".
func (b *builder) suspectName(c correlate.SuspectedCause) string {
	name := causeName(c)
	if e, ok := b.causeEntry(c); ok && e.Source == collector.SourceDeploy {
		if w := deployWhat(e); w != "" {
			name += " of " + w
		}
	}
	return name
}

// suspectLink is where a reader checks a suspect: its pipeline run.
func (b *builder) suspectLink(c correlate.SuspectedCause) string {
	for _, e := range b.deploySteps {
		if c.DeployID != "" && e.Ref.DeployID == c.DeployID {
			if u := deployURL(e); u != "" {
				return u
			}
		}
	}
	if e, ok := b.causeEntry(c); ok {
		return b.entryLink(e)
	}
	return ""
}

func (b *builder) flapping() []*correlate.AlertState {
	var out []*correlate.AlertState
	for _, a := range b.alerts {
		if a.Firings > 1 {
			out = append(out, a)
		}
	}
	return out
}

// withoutRunbook returns one alert per alert name that has no runbook.
func (b *builder) withoutRunbook() []*correlate.AlertState {
	has := map[string]bool{}
	for _, a := range b.alerts {
		has[a.Name] = has[a.Name] || a.RunbookURL != ""
	}
	seen := map[string]bool{}
	var out []*correlate.AlertState
	for _, a := range b.alerts {
		if !has[a.Name] && !seen[a.Name] {
			seen[a.Name] = true
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(x, y *correlate.AlertState) int { return strings.Compare(x.Name, y.Name) })
	return out
}

func (b *builder) firings() int {
	n := 0
	for _, a := range b.alerts {
		n += max(a.Firings, 1)
	}
	return n
}

func (b *builder) alertNames() []string {
	names := map[string]bool{}
	for _, a := range b.alerts {
		names[a.Name] = true
	}
	return sortedKeys(names)
}

// ---- wording helpers ----

// describe names alerts of one name and where they fired: "HighErrorRate
// on 2 instances of checkout".
func describe(as []*correlate.AlertState) string {
	insts, svcs := map[string]bool{}, map[string]bool{}
	for _, a := range as {
		if i := instance(a.Labels); i != "" {
			insts[i] = true
		}
		if a.Service != "" {
			svcs[a.Service] = true
		}
	}
	return cmp.Or(as[0].Name, "an unnamed alert") + place(sortedKeys(insts), sortedKeys(svcs))
}

// place says where alerts fired, from their instances and services.
func place(insts, svcs []string) string {
	switch {
	case len(insts) == 1:
		if len(svcs) == 1 && !strings.Contains(insts[0], svcs[0]) {
			return " on " + insts[0] + " (" + svcs[0] + ")"
		}
		return " on " + insts[0]
	case len(insts) > 1 && len(svcs) > 0:
		return fmt.Sprintf(" on %d instances of %s", len(insts), joinAnd(svcs))
	case len(insts) > 1:
		return fmt.Sprintf(" on %d instances", len(insts))
	case len(svcs) > 0:
		return " on " + joinAnd(svcs)
	}
	return ""
}

// summarySuffix is ": <summary annotation>" when the alerts share one.
func summarySuffix(as []*correlate.AlertState) string {
	sums := map[string]bool{}
	for _, a := range as {
		sums[oneLine(a.Summary)] = true
	}
	if s := sortedKeys(sums); len(s) == 1 && s[0] != "" {
		return ": " + strings.TrimSuffix(s[0], ".")
	}
	return ""
}

func causeName(c correlate.SuspectedCause) string {
	if c.DeployID != "" {
		return "deploy " + c.DeployID
	}
	if c.EntryID != "" {
		return "the change in timeline entry " + c.EntryID
	}
	return "an unnamed change"
}

func entryAlertName(e correlate.Entry) string {
	if e.Alert != nil && e.Alert.Name != "" {
		return e.Alert.Name
	}
	return e.Labels["alertname"]
}

func instance(labels map[string]string) string { return labels["instance"] }

func fact(text, link string) Item { return Item{Kind: Fact, Text: text, Link: link} }

func suggest(text string) Item { return Item{Kind: Suggestion, Text: text} }

func suggestLink(text, link string) Item { return Item{Kind: Suggestion, Text: text, Link: link} }

func slot(text string) Item { return Item{Kind: Slot, Text: text} }

// ts is the draft's time format: 2026-11-20 14:02:11 UTC.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" }

func clock(t time.Time) string { return t.UTC().Format(time.TimeOnly) }

func fmtDur(d time.Duration) string { return correlate.FormatDuration(d) }

func timePtr(t time.Time) *time.Time {
	t = t.UTC()
	return &t
}

func durationPtr(d time.Duration) *Duration {
	dd := Duration(d)
	return &dd
}

// article is the indefinite article before a duration as it is read out:
// "an 18m49s incident", "an 8m incident", "a 29m29s incident".
func article(d string) string {
	digits := len(d) - len(strings.TrimLeft(d, "0123456789"))
	if strings.HasPrefix(d, "8") || digits == 2 && (strings.HasPrefix(d, "11") || strings.HasPrefix(d, "18")) {
		return "an"
	}
	return "a"
}

// times says how often: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// by is " by NAME", or "" when nobody is named.
func by(name string) string {
	if name == "" {
		return ""
	}
	return " by " + name
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// oneLine folds text from events onto one line, since every renderer puts
// it in a table cell or a list item.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// safeURL keeps only absolute http(s) URLs, so that a link taken from an
// alert annotation cannot become a javascript: link in a rendered draft.
func safeURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
