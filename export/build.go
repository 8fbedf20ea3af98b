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
)

// Event kinds the draft looks for beyond the alert kinds. They follow
// spec/api.md (PagerDuty webhook types, deploy steps); collector does not
// declare them yet.
const (
	kindPageTriggered    = "pagerduty.incident.triggered"
	kindPageAcknowledged = "pagerduty.incident.acknowledged"
	kindPageResolved     = "pagerduty.incident.resolved"
	kindPageEscalated    = "pagerduty.incident.escalated"
	kindDeployFailed     = "deploy.failed"
	kindDeployRolledBack = "deploy.rolled_back"
)

// visible reports whether a timeline entry belongs in the draft. People
// will be able to hide entries (PATCH .../entries/{entry} in spec/api.md);
// until correlate.Entry records that, every entry is shown. This is the
// one place to honour it.
func visible(correlate.Entry) bool { return true }

// builder holds what NewDraft derives once from the view: entries in
// order, alerts in order, and the entries of interest by kind.
type builder struct {
	v   *correlate.View
	cfg *config.Config
	now time.Time

	start    time.Time  // first symptom; zero when unknown
	end      *time.Time // nil while open
	entries  []correlate.Entry
	alerts   []*correlate.AlertState
	services []ServiceInfo

	pages, acks, pageResolves, escalations []correlate.Entry
	deploys, rollbacks, failedDeploys      []correlate.Entry
	pageURL                                map[string]string // PagerDuty incident id -> URL
	pageIDs                                []string          // distinct PagerDuty incidents, sorted
}

func newBuilder(v *correlate.View, cfg *config.Config, now time.Time) *builder {
	if v == nil {
		v = &correlate.View{}
	}
	if cfg == nil {
		cfg = config.Default()
	}
	b := &builder{v: v, cfg: cfg, now: now.UTC(), pageURL: map[string]string{}}
	if !v.StartedAt.IsZero() {
		b.start = v.StartedAt.UTC()
	}
	if v.ResolvedAt != nil {
		t := v.ResolvedAt.UTC()
		b.end = &t
	}
	for _, e := range v.Timeline {
		if visible(e) {
			e.At = e.At.UTC()
			b.entries = append(b.entries, e)
		}
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

	ids := map[string]bool{}
	for _, p := range v.PagerDuty {
		if p.IncidentID == "" {
			continue
		}
		ids[p.IncidentID] = true
		if u := safeURL(p.URL); u != "" {
			b.pageURL[p.IncidentID] = u
		}
	}
	for _, e := range b.entries {
		switch e.Kind {
		case kindPageTriggered:
			b.pages = append(b.pages, e)
		case kindPageAcknowledged:
			b.acks = append(b.acks, e)
		case kindPageResolved:
			b.pageResolves = append(b.pageResolves, e)
		case kindPageEscalated:
			b.escalations = append(b.escalations, e)
		case kindDeployRolledBack:
			b.rollbacks = append(b.rollbacks, e)
		case kindDeployFailed:
			b.failedDeploys = append(b.failedDeploys, e)
		}
		if e.Source == collector.SourceDeploy && e.Kind != kindDeployRolledBack && e.Kind != kindDeployFailed {
			b.deploys = append(b.deploys, e)
		}
		if e.Source == collector.SourcePagerDuty && e.Ref.PagerDutyIncidentID != "" {
			ids[e.Ref.PagerDutyIncidentID] = true
		}
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
	return b
}

// ---- header ----

func (b *builder) header() Header {
	v := b.v
	h := Header{
		Title:          cmp.Or(v.Title, v.ID, "untitled incident"),
		IncidentID:     v.ID,
		IncidentStatus: v.Status,
		DraftStatus:    DraftStatus,
		Severity: Severity{
			Suggested:  v.Severity.Suggested,
			Effective:  cmp.Or(v.Severity.Effective, v.Severity.Suggested),
			Overridden: v.Severity.Override != nil,
			Reasons:    nonNil(slices.Clone(v.Severity.Reasons)),
		},
		EndedAt:    b.end,
		Duration:   b.duration(),
		Services:   b.services,
		Responders: []string{},
		Links:      b.links(),
	}
	if !b.start.IsZero() {
		h.StartedAt = timePtr(b.start)
	}
	if t, ok := b.detectedAt(); ok {
		h.DetectedAt = timePtr(t)
	}
	if ack, ok := b.firstAck(); ok {
		h.AcknowledgedAt = timePtr(ack.At)
		if len(b.pages) > 0 && !ack.At.Before(b.pages[0].At) {
			h.TimeToAcknowledge = durationPtr(ack.At.Sub(b.pages[0].At))
		}
	}
	if r, ok := b.firstRollback(); ok {
		h.MitigatedAt = timePtr(r.At)
	}
	if len(b.pages) > 0 && len(b.pageResolves) > 0 {
		last := b.pageResolves[len(b.pageResolves)-1]
		if !last.At.Before(b.pages[0].At) {
			h.TimeToResolve = durationPtr(last.At.Sub(b.pages[0].At))
		}
	}
	return h
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
		add(LinkPagerDuty, "PagerDuty incident "+id, b.pageURL[id])
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
	for _, e := range b.entries {
		if e.Source == collector.SourceDeploy {
			add(LinkPipeline, cmp.Or(e.Ref.DeployID, "deploy"), deployURL(e))
		}
	}
	return links
}

// ---- overview ----

func (b *builder) overview() Item {
	date := "an unknown date"
	if !b.start.IsZero() {
		date = b.start.Format(time.DateOnly)
	}
	what := "a"
	if d := b.duration(); d != nil {
		what += " " + d.String()
		if b.end == nil {
			what += " (and ongoing)"
		}
	} else if b.end == nil && b.v.Status != "" {
		what += "n ongoing"
	}
	if sev := cmp.Or(b.v.Severity.Effective, b.v.Severity.Suggested); sev != "" {
		what += " " + sev
	}
	what += " incident"
	cause := "a cause not yet identified (to be completed)"
	if c, ok := b.topCause(); ok {
		cause = causeName(c)
		if len(c.Reasons) > 0 {
			cause += " (suspected: " + strings.Join(c.Reasons, "; ") + ")"
		} else {
			cause += " (suspected)"
		}
	}
	text := fmt.Sprintf("On %s, %s suffered %s due to %s.", date, b.serviceNames(), what, cause)
	if s := b.impactSentence(); s != "" {
		text += " " + s
	}
	return suggest(text)
}

func (b *builder) serviceNames() string {
	var names []string
	for _, s := range b.services {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return cmp.Or(b.v.Anchor, "an unknown service")
	}
	return joinAnd(names)
}

// impactSentence puts the incident's numbers in one sentence.
func (b *builder) impactSentence() string {
	var parts []string
	if n := len(b.alerts); n > 0 {
		s := plural(n, "alert", "alerts") + " fired"
		if f := b.firings(); f > n {
			s += fmt.Sprintf(" (%d firings in all)", f)
		}
		parts = append(parts, s)
	}
	if n := len(b.pageIDs); n > 0 {
		parts = append(parts, plural(n, "PagerDuty incident was", "PagerDuty incidents were")+" raised")
	}
	for _, m := range b.metrics() {
		parts = append(parts, fmt.Sprintf("%s on %s was %s", m.Name, cmp.Or(m.Service, "all services"), m.Display))
	}
	var cf []string
	for _, s := range b.services {
		if s.CustomerFacing {
			cf = append(cf, s.Name)
		}
	}
	if len(cf) > 0 {
		parts = append(parts, "customer-facing: "+joinAnd(cf))
	} else if len(b.services) > 0 {
		parts = append(parts, "no customer-facing service was involved")
	}
	if len(parts) == 0 {
		return ""
	}
	return capitalize(strings.Join(parts, "; ")) + "."
}

// ---- timeline ----

func (b *builder) timeline() []TimelineLine {
	lines := []TimelineLine{}
	es := b.entries
	for i := 0; i < len(es); {
		j := i + 1
		if groupable(es[i]) {
			for j < len(es) && sameGroup(es[i], es[j]) && es[j].At.Sub(es[i].At) <= groupWindow {
				j++
			}
		}
		lines = append(lines, b.line(es[i:j]))
		i = j
	}
	return lines
}

func groupable(e correlate.Entry) bool {
	return e.Source == collector.SourceAlertmanager &&
		(e.Kind == collector.KindAlertFiring || e.Kind == collector.KindAlertResolved) &&
		entryAlertName(e) != ""
}

func sameGroup(first, e correlate.Entry) bool {
	return e.Source == first.Source && e.Kind == first.Kind && e.Service == first.Service &&
		entryAlertName(e) == entryAlertName(first)
}

func (b *builder) line(es []correlate.Entry) TimelineLine {
	first, last := es[0], es[len(es)-1]
	l := TimelineLine{
		At:        first.At,
		Source:    first.Source,
		EventKind: first.Kind,
		Service:   first.Service,
		Count:     len(es),
		EntryIDs:  make([]string, 0, len(es)),
		Note:      first.Source == collector.SourceNote,
	}
	for _, e := range es {
		l.EntryIDs = append(l.EntryIDs, e.ID)
	}
	if len(es) == 1 {
		l.Item = fact(cmp.Or(oneLine(first.Summary), first.Kind), b.entryLink(first))
		return l
	}
	l.Until = timePtr(last.At)
	l.Item = fact(groupText(es), b.entryLink(first))
	return l
}

// groupText describes collapsed alert entries, as in "2 alerts
// HighErrorRate (page) on 2 instances of checkout fired at 14:02:11 UTC:
// checkout 5xx ratio above 5%".
func groupText(es []correlate.Entry) string {
	first, last := es[0], es[len(es)-1]
	name := entryAlertName(first)
	insts, fps, sevs, sums := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range es {
		if i := instance(e.Labels); i != "" {
			insts[i] = true
		}
		fps[e.Ref.Fingerprint] = true
		sev := ""
		if e.Alert != nil {
			sev = e.Alert.Severity
		}
		sevs[sev] = true
		sums[oneLine(e.Annotations["summary"])] = true
	}
	if len(sevs) == 1 && sortedKeys(sevs)[0] != "" {
		name += " (" + sortedKeys(sevs)[0] + ")"
	}
	verb := "fired"
	if first.Kind == collector.KindAlertResolved {
		verb = "resolved"
	}
	when := "at " + clock(first.At) + " UTC"
	if !last.At.Equal(first.At) {
		when = "between " + clock(first.At) + " and " + clock(last.At) + " UTC"
	}
	var svcs []string
	if first.Service != "" {
		svcs = []string{first.Service}
	}
	where := place(sortedKeys(insts), svcs)
	var text string
	if len(fps) < len(es) {
		text = fmt.Sprintf("%s%s %s %d times %s", name, where, verb, len(es), when)
	} else {
		text = fmt.Sprintf("%d alerts %s%s %s %s", len(es), name, where, verb, when)
	}
	if s := sortedKeys(sums); verb == "fired" && len(s) == 1 && s[0] != "" {
		text += ": " + s[0]
	}
	return text
}

// entryLink is where a reader checks an entry: the alert's generator URL
// or the PagerDuty incident.
func (b *builder) entryLink(e correlate.Entry) string {
	if e.Alert != nil {
		if u := safeURL(e.Alert.GeneratorURL); u != "" {
			return u
		}
	}
	if id := e.Ref.PagerDutyIncidentID; id != "" {
		return b.pageURL[id]
	}
	if e.Source == collector.SourceDeploy {
		return deployURL(e)
	}
	return ""
}

// deployURL is the link a deploy event gave (the deploy notification's
// url: its pipeline run or change), which the entry keeps among its
// annotations.
func deployURL(e correlate.Entry) string { return safeURL(e.Annotations["url"]) }

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
		items = append(items, fact(fmt.Sprintf("The first page, %s, was triggered at %s%s.",
			pageName(p), ts(p.At), b.sinceSymptom(p.At)), b.entryLink(p)))
		if ack, ok := b.firstAck(); ok {
			items = append(items, fact(fmt.Sprintf("It was acknowledged at %s, %s after the page%s.",
				ts(ack.At), fmtDur(ack.At.Sub(p.At)), b.sinceSymptom(ack.At)), b.entryLink(ack)))
		} else {
			items = append(items, fact("No acknowledgement of the page is recorded.", ""))
		}
		if b.pageBeforeAlerts() {
			items = append(items, fact("The page was raised before any alert fired, presumably by hand: a monitoring gap, "+
				"since monitoring did not catch what a person noticed.", b.entryLink(p)))
		}
	}
	items = append(items, slot("How did people first learn of the problem: the alert, a customer, a colleague? Was anything noticed before the first alert?"))
	return items
}

func (b *builder) sinceSymptom(t time.Time) string {
	if b.start.IsZero() || !t.After(b.start) {
		return ""
	}
	return fmt.Sprintf(" (%s after the first symptom)", fmtDur(t.Sub(b.start)))
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
			text = "The first sign: " + strings.TrimSuffix(oneLine(e.Summary), ".") + "."
		} else {
			text = "The incident started; no event explains how."
		}
		if d, ok := b.lastChangeBefore(b.start); ok {
			text += fmt.Sprintf(" It came %s after the last change recorded: %s.",
				fmtDur(b.start.Sub(d.At)), strings.TrimSuffix(oneLine(d.Summary), "."))
		}
		steps = append(steps, Step{Phase: PhaseFirstSymptom, At: timePtr(b.start), Item: suggest(text)})
	}

	// Detection.
	if at, ok := b.detectedAt(); ok {
		var text string
		if b.pageBeforeAlerts() {
			text = fmt.Sprintf("A person raised %s before any alert fired.", pageName(b.pages[0]))
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
		}
		steps = append(steps, Step{Phase: PhaseDetection, At: timePtr(at), Item: suggest(text)})
	} else {
		steps = append(steps, Step{Phase: PhaseDetection, Item: slot("How was the problem noticed, and when?")})
	}

	// Escalation.
	if len(b.pages) > 0 {
		p := b.pages[0]
		text := fmt.Sprintf("%s paged the on-call responder", capitalize(pageName(p)))
		if ack, ok := b.firstAck(); ok {
			text += fmt.Sprintf(", who acknowledged it %s later", fmtDur(ack.At.Sub(p.At)))
		}
		text += "."
		if n := len(b.escalations); n > 0 {
			text += fmt.Sprintf(" It was escalated %s.", plural(n, "time", "times"))
		}
		steps = append(steps, Step{Phase: PhaseEscalation, At: timePtr(p.At), Item: suggest(text)})
	} else {
		steps = append(steps, Step{Phase: PhaseEscalation, Item: slot("No page is linked to this incident: who was alerted, who joined, and when?")})
	}

	// Mitigation.
	if r, ok := b.firstRollback(); ok {
		steps = append(steps, Step{Phase: PhaseMitigation, At: timePtr(r.At),
			Item: suggest("The change was rolled back: " + strings.TrimSuffix(oneLine(r.Summary), ".") + ".")})
	} else {
		steps = append(steps, Step{Phase: PhaseMitigation, Item: slot("What did the team do to stop the impact, and when?")})
	}

	// Recovery.
	if b.end != nil {
		text := "The incident ended"
		if la := b.lastResolved(); len(la) > 0 {
			text = "The last alert, " + describe(la) + ", resolved"
		}
		if d := b.duration(); d != nil {
			text += ", " + d.String() + " after the first symptom"
		}
		text += "."
		steps = append(steps, Step{Phase: PhaseRecovery, At: timePtr(*b.end), Item: suggest(text)})
	} else {
		steps = append(steps, Step{Phase: PhaseRecovery, At: timePtr(b.now), Item: fact(b.stillOpen(), "")})
	}
	return steps
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
	for _, r := range b.rollbacks {
		items = append(items, fact(fmt.Sprintf("Rollback at %s: %s.", ts(r.At), strings.TrimSuffix(oneLine(r.Summary), ".")), ""))
	}
	for _, r := range b.pageResolves {
		items = append(items, fact(fmt.Sprintf("%s was resolved at %s: %s.",
			capitalize(pageName(r)), ts(r.At), strings.TrimSuffix(oneLine(r.Summary), ".")), b.entryLink(r)))
	}
	if b.end != nil {
		if la := b.lastResolved(); len(la) > 0 {
			items = append(items, fact(fmt.Sprintf("The last alert to resolve was %s, at %s.", describe(la), ts(la[0].EndsAt.UTC())),
				safeURL(la[0].GeneratorURL)))
		} else {
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
	for _, c := range b.causes() {
		text := fmt.Sprintf("%s (suspect score %s)", capitalize(causeName(c)), strconv.FormatFloat(c.Score, 'f', 2, 64))
		if len(c.Reasons) > 0 {
			text += ": " + strings.Join(c.Reasons, "; ")
		}
		link := ""
		if e, ok := b.causeEntry(c); ok {
			link = b.entryLink(e)
		}
		items = append(items, suggestLink(text+".", link))
	}
	if len(items) == 0 {
		items = append(items, fact("No suspected cause recorded.", ""))
	}
	for _, f := range b.failedDeploys {
		if !b.start.IsZero() && f.At.Before(b.start) {
			continue
		}
		items = append(items, fact(fmt.Sprintf("A deploy failed during the incident, at %s: %s.", ts(f.At),
			strings.TrimSuffix(oneLine(f.Summary), ".")), ""))
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
	if len(im.Metrics) == 0 {
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
					fmtDur(gap), strings.TrimSuffix(oneLine(d.Summary), "."))))
			}
		}
	}
	if len(b.alerts) > 0 && len(b.withoutRunbook()) == 0 {
		items = append(items, fact("Every alert linked a runbook.", ""))
	}
	if ack, ok := b.firstAck(); ok && len(b.pages) > 0 {
		if d := ack.At.Sub(b.pages[0].At); d >= 0 && d <= quickAck {
			items = append(items, fact(fmt.Sprintf("The page was acknowledged quickly: %s after it was raised.", fmtDur(d)), b.entryLink(ack)))
		}
	}
	if r, ok := b.firstRollback(); ok && b.end != nil && !b.end.Before(r.At) {
		items = append(items, suggest(fmt.Sprintf("The rollback worked: the last alert resolved %s after it.", fmtDur(b.end.Sub(r.At)))))
	}
	return append(items, slot("What else went well: tools, people and practices worth keeping."))
}

func (b *builder) wentBadly() []Item {
	items := []Item{}
	if b.pageBeforeAlerts() {
		p := b.pages[0]
		items = append(items, fact(fmt.Sprintf("%s was raised at %s, before any alert fired: a monitoring gap.",
			capitalize(pageName(p)), ts(p.At)), b.entryLink(p)))
	}
	if d, ok := b.detectionDelay(); ok && d > lateDetection {
		items = append(items, fact(fmt.Sprintf("Detection was late: the first alert fired %s after the first symptom.", fmtDur(d)),
			safeURL(b.firstAlerts()[0].GeneratorURL)))
	}
	if ack, ok := b.firstAck(); ok && len(b.pages) > 0 {
		if d := ack.At.Sub(b.pages[0].At); d > slowAck {
			items = append(items, fact(fmt.Sprintf("Acknowledgement was slow: %s after the page.", fmtDur(d)), b.entryLink(ack)))
		}
	} else if len(b.pages) > 0 {
		items = append(items, fact("No acknowledgement of the page is recorded.", ""))
	}
	for _, e := range b.escalations {
		items = append(items, fact(fmt.Sprintf("The page was escalated at %s: %s.", ts(e.At), strings.TrimSuffix(oneLine(e.Summary), ".")), b.entryLink(e)))
	}
	for _, a := range b.flapping() {
		items = append(items, fact(fmt.Sprintf("%s flapped: it fired %d times during the incident.", describe([]*correlate.AlertState{a}), a.Firings),
			safeURL(a.GeneratorURL)))
	}
	if n := b.v.Reopens; n > 0 {
		items = append(items, fact(fmt.Sprintf("The incident resolved and then fired again (%s).", plural(n, "reopen", "reopens")), ""))
	}
	for _, a := range b.withoutRunbook() {
		items = append(items, fact(fmt.Sprintf("Alert %s has no runbook: responders had no written procedure to start from.", a.Name),
			safeURL(a.GeneratorURL)))
	}
	for _, f := range b.failedDeploys {
		if b.start.IsZero() || !f.At.Before(b.start) {
			items = append(items, fact(fmt.Sprintf("A deploy failed during the incident, at %s: %s.", ts(f.At),
				strings.TrimSuffix(oneLine(f.Summary), ".")), ""))
		}
	}
	return append(items, slot("What else didn't go well? Where did people lose time?"))
}

// ---- action items ----

func (b *builder) actionItems() []ActionItem {
	var items []Item
	for _, a := range b.withoutRunbook() {
		items = append(items, suggestLink(fmt.Sprintf("Write a runbook for alert %s and link it from the rule's runbook_url annotation.", a.Name),
			safeURL(a.GeneratorURL)))
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
	if b.pageBeforeAlerts() {
		items = append(items, suggest(fmt.Sprintf("Add an alert that catches this before a person has to: %s was raised before any alert fired.",
			pageName(b.pages[0]))))
	}
	if d, ok := b.detectionDelay(); ok && d > lateDetection {
		fa := b.firstAlerts()
		items = append(items, suggestLink(fmt.Sprintf("Detect sooner: review the threshold and 'for' duration of %s, which fired %s after the first symptom.",
			fa[0].Name, fmtDur(d)), safeURL(fa[0].GeneratorURL)))
	}
	if c, ok := b.topCause(); ok && c.DeployID != "" {
		text := fmt.Sprintf("Guard future deploys like %s, the top suspect: a canary stage, and an automatic rollback", c.DeployID)
		if fa := b.firstAlerts(); len(fa) > 0 {
			text += " when " + fa[0].Name + " fires"
		}
		items = append(items, suggest(text+"."))
	}
	items = append(items, suggest("Send the internal follow-up message: what happened, the impact, and what comes next."))
	var cf []string
	for _, s := range b.services {
		if s.CustomerFacing {
			cf = append(cf, s.Name)
		}
	}
	if len(cf) > 0 {
		items = append(items, suggest("Update the status page: "+joinAnd(cf)+" "+isAre(len(cf))+" customer-facing."))
	} else {
		items = append(items, suggest("Update the status page if customers noticed; no customer-facing service was involved."))
	}
	items = append(items, slot("The team's own action items, each with an owner, a due date and a ticket."))
	out := make([]ActionItem, 0, len(items))
	for _, it := range items {
		out = append(out, ActionItem{Item: it})
	}
	return out
}

// ---- five whys ----

func (b *builder) fiveWhys() []Why {
	whys := make([]Why, 0, 5)
	if fa := b.firstAlerts(); len(fa) > 0 {
		whys = append(whys, Why{Question: "Why was an incident opened?",
			Answer: suggestLink("Because "+describe(fa)+" fired"+summarySuffix(fa)+".", safeURL(fa[0].GeneratorURL))})
	} else {
		whys = append(whys, Why{Question: "Why was an incident opened?", Answer: slot("The symptom that people or monitoring saw.")})
	}
	if c, ok := b.topCause(); ok {
		text := "Possibly because of " + causeName(c)
		if len(c.Reasons) > 0 {
			text += ": " + strings.Join(c.Reasons, "; ")
		}
		whys = append(whys, Why{Question: "Why did that happen?", Answer: suggest(text + ".")})
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

// firstRollback is the first rollback during the incident: the usual
// mitigation of a bad deploy.
func (b *builder) firstRollback() (correlate.Entry, bool) {
	for _, r := range b.rollbacks {
		if b.start.IsZero() || !r.At.Before(b.start) {
			return r, true
		}
	}
	return correlate.Entry{}, false
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

// causeEntry is the timeline entry of a suspected cause.
func (b *builder) causeEntry(c correlate.SuspectedCause) (correlate.Entry, bool) {
	for _, e := range b.entries {
		if (c.EntryID != "" && e.ID == c.EntryID) || (c.EntryID == "" && c.DeployID != "" && e.Ref.DeployID == c.DeployID) {
			return e, true
		}
	}
	return correlate.Entry{}, false
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

func pageName(e correlate.Entry) string {
	if id := e.Ref.PagerDutyIncidentID; id != "" {
		return "PagerDuty incident " + id
	}
	return "a PagerDuty incident"
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
