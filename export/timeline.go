package export

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// The timeline as people read it: similar alerts collapsed into one line
// (also when other entries come between them), each line placed in a
// phase of the incident, with its time from the first symptom.

// timeline builds the lines, oldest first.
func (b *builder) timeline() []TimelineLine {
	lines := []TimelineLine{}
	es := b.entries
	used := make([]bool, len(es))
	for i := range es {
		if used[i] {
			continue
		}
		group := []correlate.Entry{es[i]}
		if groupable(es[i]) {
			for j := i + 1; j < len(es) && es[j].At.Sub(es[i].At) <= groupWindow; j++ {
				if !used[j] && sameGroup(es[i], es[j]) {
					group = append(group, es[j])
					used[j] = true
				}
			}
		}
		lines = append(lines, b.line(group))
	}
	return lines
}

func groupable(e correlate.Entry) bool {
	return e.Source == collector.SourceAlertmanager &&
		(e.Kind == collector.KindAlertFiring || e.Kind == collector.KindAlertResolved) &&
		entryAlertName(e) != ""
}

// sameGroup: the same alert changing state the same way, on any instance
// or service.
func sameGroup(first, e correlate.Entry) bool {
	return e.Source == first.Source && e.Kind == first.Kind && entryAlertName(e) == entryAlertName(first)
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
		Phase:     b.phaseAt(first.At),
	}
	if !b.start.IsZero() {
		l.SinceStart = durationPtr(first.At.Sub(b.start))
	}
	for _, e := range es {
		l.EntryIDs = append(l.EntryIDs, e.ID)
	}
	if len(es) == 1 {
		l.Item = fact(b.entryText(first), b.entryLink(first))
		return l
	}
	l.Until = timePtr(last.At)
	l.Item = fact(groupText(es), b.entryLink(first))
	return l
}

// groupText describes collapsed alert entries, as in "12 HighErrorRate
// alerts (critical) on 4 instances of checkout fired between 10:02:00 and
// 10:05:10 UTC: checkout 5xx ratio above 5%".
func groupText(es []correlate.Entry) string {
	first, last := es[0], es[len(es)-1]
	name := entryAlertName(first)
	insts, svcs, fps, sevs, sums := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, e := range es {
		if i := instance(e.Labels); i != "" {
			insts[i] = true
		}
		if e.Service != "" {
			svcs[e.Service] = true
		}
		fps[e.Ref.Fingerprint] = true
		sev := ""
		if e.Alert != nil {
			sev = e.Alert.Severity
		}
		sevs[sev] = true
		sums[oneLine(e.Annotations["summary"])] = true
	}
	sev := ""
	if len(sevs) == 1 && sortedKeys(sevs)[0] != "" {
		sev = " (" + sortedKeys(sevs)[0] + ")"
	}
	verb := "fired"
	if first.Kind == collector.KindAlertResolved {
		verb = "resolved"
	}
	when := "at " + clock(first.At) + " UTC"
	if !last.At.Equal(first.At) {
		when = "between " + clock(first.At) + " and " + clock(last.At) + " UTC"
	}
	where := place(sortedKeys(insts), sortedKeys(svcs))
	var text string
	if n := len(fps); n < len(es) {
		if n == 1 {
			text = fmt.Sprintf("%s%s%s %s %s %s", name, sev, where, verb, times(len(es)), when)
		} else {
			text = fmt.Sprintf("%d %s alerts%s%s %s %s, %s", n, name, sev, where, verb, times(len(es)), when)
		}
	} else {
		text = fmt.Sprintf("%d %s alerts%s%s %s %s", len(es), name, sev, where, verb, when)
	}
	if s := sortedKeys(sums); verb == "fired" && len(s) == 1 && s[0] != "" {
		text += ": " + strings.TrimSuffix(s[0], ".")
	}
	return text
}

// entryText tells one entry for the timeline: alerts by what fired where,
// PagerDuty entries as who did what (with the text of their notes),
// deploys with their version, anything else by its summary.
func (b *builder) entryText(e correlate.Entry) string {
	switch e.Source {
	case collector.SourcePagerDuty:
		return b.pageText(e)
	case collector.SourceDeploy:
		return deployText(e)
	case collector.SourceAlertmanager:
		if t := alertText(e); t != "" {
			return t
		}
	}
	return cmp.Or(oneLine(e.Summary), e.Kind)
}

// alertText tells an alert state from its fields: "HighErrorRate
// (critical) fired on checkout-1:8080 (checkout): checkout 5xx ratio above
// 5%", or, with no instance, "ErrorBudgetBurn (critical) fired on
// checkout".
func alertText(e correlate.Entry) string {
	name := entryAlertName(e)
	if name == "" {
		return ""
	}
	sev := ""
	if e.Alert != nil && e.Alert.Severity != "" {
		sev = " (" + oneLine(e.Alert.Severity) + ")"
	}
	var svcs []string
	if e.Service != "" {
		svcs = []string{e.Service}
	}
	var insts []string
	if i := instance(e.Labels); i != "" {
		insts = []string{i}
	}
	where := place(insts, svcs)
	switch e.Kind {
	case collector.KindAlertFiring:
		s := name + sev + " fired" + where
		if sum := strings.TrimSuffix(oneLine(e.Annotations["summary"]), "."); sum != "" {
			s += ": " + sum
		}
		return s
	case collector.KindAlertResolved:
		s := name + where + " resolved"
		if e.Alert != nil && !e.Alert.StartsAt.IsZero() && e.At.After(e.Alert.StartsAt) {
			s += " after " + fmtDur(e.At.Sub(e.Alert.StartsAt))
		}
		return s
	}
	return ""
}

// phaseBounds are the times the phases of the incident start at; zero
// when the incident has no such phase.
type phaseBounds struct {
	escalation, mitigation, recovery time.Time
}

// bounds finds where the phases start: escalation at the first page (or,
// when a page was the first symptom itself, at the first acknowledgement
// or escalation after it), mitigation at the first fix or rollback,
// recovery at the first resolution after the mitigation (without one,
// after the last alert fired).
func (b *builder) bounds() phaseBounds {
	var pb phaseBounds
	if len(b.pages) > 0 {
		p := b.pages[0].At
		if b.start.IsZero() || p.After(b.start) {
			pb.escalation = p
		} else {
			for _, e := range append(append([]correlate.Entry{}, b.acks...), b.escalations...) {
				if e.At.After(p) && (pb.escalation.IsZero() || e.At.Before(pb.escalation)) {
					pb.escalation = e.At
				}
			}
		}
	}
	if m, ok := b.firstMitigation(); ok {
		pb.mitigation = m.At
	}
	if f, _ := b.failedDuring(); len(f) > 0 && (pb.mitigation.IsZero() || f[0].At.Before(pb.mitigation)) {
		pb.mitigation = f[0].At
	}
	var lastFiring time.Time
	for _, e := range b.entries {
		if e.Kind == collector.KindAlertFiring {
			lastFiring = e.At
		}
	}
	after := maxOf(pb.mitigation, lastFiring)
	for _, e := range b.entries {
		if (e.Kind == collector.KindAlertResolved || e.Kind == kindPageResolved) && !e.At.Before(after) {
			pb.recovery = e.At
			break
		}
	}
	if !pb.recovery.IsZero() && !pb.mitigation.IsZero() && pb.recovery.Before(pb.mitigation) {
		pb.recovery = time.Time{}
	}
	return pb
}

func maxOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// phaseAt is the phase an entry at t falls in.
func (b *builder) phaseAt(t time.Time) Phase {
	pb := b.phases
	switch {
	case !b.start.IsZero() && t.Before(b.start):
		return PhaseLeadUp
	case !pb.recovery.IsZero() && !t.Before(pb.recovery):
		return PhaseRecovery
	case !pb.mitigation.IsZero() && !t.Before(pb.mitigation):
		return PhaseMitigation
	case !pb.escalation.IsZero() && !t.Before(pb.escalation):
		return PhaseEscalation
	}
	return PhaseDetection
}

// PhaseBlock is the part of the timeline in one phase, for templates
// (Draft.TimelinePhases): its lines and the span they cover.
type PhaseBlock struct {
	Phase Phase
	// What says what the phase runs from and to, for a heading.
	What        string
	From, Until time.Time
	// FromStart and UntilStart are From and Until relative to the first
	// symptom; nil when it is unknown.
	FromStart, UntilStart *Duration
	Lines                 []TimelineLine
}

// phaseWhat says what each phase of the timeline runs between, for a
// draft read back from JSON.
var phaseWhat = map[Phase]string{
	PhaseLeadUp:     "changes before the first symptom",
	PhaseDetection:  "from the first symptom until someone was paged",
	PhaseEscalation: "from the page until the first fix or rollback",
	PhaseMitigation: "from the first fix or rollback until the alerts resolved",
	PhaseRecovery:   "the alerts and pages resolving",
}

// TimelinePhases groups the timeline by phase, in order, for templates:
// {{range .TimelinePhases}}.
func (d *Draft) TimelinePhases() []PhaseBlock {
	return timelinePhases(d.Timeline, d.phaseWhat)
}

// phaseWhats says what each phase runs between, given which phases the
// incident has: detection runs until the page, or until the fix when
// nobody was paged.
func (b *builder) phaseWhats() map[Phase]string {
	pb := b.phases
	w := map[Phase]string{PhaseLeadUp: "changes before the first symptom", PhaseRecovery: "the alerts and pages resolving"}
	switch {
	case !pb.escalation.IsZero():
		w[PhaseDetection] = "from the first symptom until someone was paged"
	case !pb.mitigation.IsZero():
		w[PhaseDetection] = "from the first symptom until the first fix or rollback"
	case !pb.recovery.IsZero():
		w[PhaseDetection] = "from the first symptom until it began to recover"
	default:
		w[PhaseDetection] = "from the first symptom"
	}
	switch {
	case !pb.mitigation.IsZero():
		w[PhaseEscalation] = "from the page until the first fix or rollback"
	case !pb.recovery.IsZero():
		w[PhaseEscalation] = "from the page until it began to recover"
	default:
		w[PhaseEscalation] = "from the page on"
	}
	w[PhaseMitigation] = "from the first fix or rollback until it began to recover"
	if pb.recovery.IsZero() {
		w[PhaseMitigation] = "from the first fix or rollback on"
	}
	return w
}

func timelinePhases(lines []TimelineLine, what map[Phase]string) []PhaseBlock {
	if what == nil {
		what = phaseWhat
	}
	var out []PhaseBlock
	for _, l := range lines {
		end := l.At
		if l.Until != nil {
			end = *l.Until
		}
		if n := len(out); n > 0 && out[n-1].Phase == l.Phase {
			blk := &out[n-1]
			blk.Lines = append(blk.Lines, l)
			if end.After(blk.Until) {
				blk.Until = end
				blk.UntilStart = shift(l.SinceStart, end.Sub(l.At))
			}
			continue
		}
		out = append(out, PhaseBlock{Phase: l.Phase, What: what[l.Phase], From: l.At, Until: end,
			FromStart: l.SinceStart, UntilStart: shift(l.SinceStart, end.Sub(l.At)), Lines: []TimelineLine{l}})
	}
	return out
}

func shift(d *Duration, by time.Duration) *Duration {
	if d == nil {
		return nil
	}
	return durationPtr(time.Duration(*d) + by)
}

// sinceStart writes a time relative to the first symptom: "T+4m",
// "T−6m", "T+0"; "" when unknown.
func sinceStart(v any) string {
	var d *Duration
	switch x := v.(type) {
	case *Duration:
		d = x
	case Duration:
		d = &x
	}
	if d == nil {
		return ""
	}
	t := time.Duration(*d)
	switch {
	case t == 0:
		return "T+0"
	case t < 0:
		return "T−" + fmtDur(-t)
	}
	return "T+" + fmtDur(t)
}
