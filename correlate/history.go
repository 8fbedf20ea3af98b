package correlate

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// SeverityPeriod is a stretch of an incident's life at one effective
// severity. The post-mortem reports the time spent at each level, and a
// reviewer sees when the incident escalated and why.
type SeverityPeriod struct {
	Level   string    `json:"level"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	Seconds int64     `json:"seconds"`
	// Reason says why the incident was at this level when the period
	// began: the severity rule that matched, the PagerDuty priority floor,
	// or the person who set it.
	Reason string `json:"reason"`
	// Override marks a level a person set by hand.
	Override bool `json:"override,omitempty"`
}

// SeverityHistory returns the periods of inc's effective severity from its
// start to end, oldest first, consecutive periods at one level merged.
//
// It replays the timeline (all entries, hidden ones too): at each moment
// something the severity rules look at changes (an alert with new labels
// or severity, a new service, a PagerDuty priority, a rule's min_duration
// passing) it assesses the incident as it stood then, and a person's
// severity override (an incident.updated entry with a severity label; an
// empty one clears it) wins from its time on. An override made after end
// changes no period: the history says what was in force during the
// incident. With no timeline, the incident as stored is all there is.
//
// Its cost grows with the number of distinct alert signatures, not with
// the number of alerts, so a storm of thousands stays cheap.
func SeverityHistory(inc *Incident, tl Timeline, cfg *config.Config, end time.Time) []SeverityPeriod {
	start := inc.StartedAt.UTC()
	end = end.UTC()
	if end.Before(start) {
		end = start
	}
	if len(tl) == 0 {
		sv := Assess(inc, cfg, end)
		p := SeverityPeriod{Level: sv.Suggested, Since: start, Until: end, Reason: reasonFor(sv)}
		if o := inc.Overrides.Severity; o != "" {
			p.Level, p.Reason, p.Override = o, "set by hand ("+inc.Overrides.By+")", true
		}
		p.Seconds = int64(end.Sub(start) / time.Second)
		return []SeverityPeriod{p}
	}

	es := make([]*Entry, len(tl))
	for i := range tl {
		es[i] = &tl[i]
	}
	slices.SortStableFunc(es, func(a, b *Entry) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq)) })
	var thresholds []time.Time
	for _, r := range cfg.Severity.Rules {
		if d := time.Duration(r.When.MinDuration); d > 0 {
			thresholds = append(thresholds, start.Add(d))
		}
	}
	slices.SortFunc(thresholds, time.Time.Compare)
	thresholds = slices.CompactFunc(thresholds, time.Time.Equal)

	r := newSeverityReplay(inc, cfg)
	var (
		out                 []SeverityPeriod
		cur                 *SeverityPeriod
		suggested, whyLevel string
		dirty               = true
		i, j                int
		t                   = start
	)
	for {
		for ; i < len(es) && !es[i].At.After(t); i++ {
			dirty = r.apply(es[i]) || dirty
		}
		for ; j < len(thresholds) && !thresholds[j].After(t); j++ {
			dirty = true
		}
		if dirty {
			sv := Assess(&r.inc, cfg, t)
			suggested, whyLevel = sv.Suggested, reasonFor(sv)
			dirty = false
		}
		level, reason, manual := suggested, whyLevel, false
		if r.override != "" {
			level, reason, manual = r.override, "set by hand ("+r.by+")", true
		}
		if cur == nil || cur.Level != level {
			if cur != nil {
				cur.Until = t
				out = append(out, *cur)
			}
			cur = &SeverityPeriod{Level: level, Since: t, Reason: reason, Override: manual}
		}
		next, ok := time.Time{}, false
		if i < len(es) {
			next, ok = es[i].At, true
		}
		if j < len(thresholds) && (!ok || thresholds[j].Before(next)) {
			next, ok = thresholds[j], true
		}
		if !ok || next.After(end) {
			break
		}
		t = next.UTC()
	}
	cur.Until = end
	out = append(out, *cur)
	return tidyPeriods(out)
}

// tidyPeriods drops periods of no length (a change at the very end) unless
// nothing else is left, merges neighbours at one level and fills in the
// seconds.
func tidyPeriods(ps []SeverityPeriod) []SeverityPeriod {
	out := make([]SeverityPeriod, 0, len(ps))
	for _, p := range ps {
		if !p.Until.After(p.Since) && len(ps) > 1 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Level == p.Level {
			out[n-1].Until = p.Until
			continue
		}
		out = append(out, p)
	}
	for i := range out {
		out[i].Seconds = int64(out[i].Until.Sub(out[i].Since) / time.Second)
	}
	return out
}

// reasonFor is the reason of an assessment that set its level: the first
// matching rule at that level or the PagerDuty floor, without the level
// prefix that SeverityView.Reasons carry.
func reasonFor(sv SeverityView) string {
	for _, r := range sv.Reasons {
		if why, ok := strings.CutPrefix(r, sv.Suggested+": "); ok {
			return why
		}
	}
	return ""
}

// severityReplay is the incident as it stood at some moment of its
// timeline, reduced to what Assess reads: its services, one alert per
// signature (severity and the label values the rules test; another alert
// with the same signature cannot change any rule's outcome) and its pages.
type severityReplay struct {
	inc      Incident
	keys     []string
	seen     map[string]bool
	override string
	by       string
}

func newSeverityReplay(inc *Incident, cfg *config.Config) *severityReplay {
	keys := map[string]bool{}
	for _, r := range cfg.Severity.Rules {
		for k := range r.When.Labels {
			keys[k] = true
		}
	}
	return &severityReplay{
		inc:  Incident{ID: inc.ID, StartedAt: inc.StartedAt, Alerts: map[string]*AlertState{}},
		keys: slices.Sorted(maps.Keys(keys)),
		seen: map[string]bool{},
	}
}

// apply adds an entry to the replayed incident and reports whether the
// assessment may have changed.
func (r *severityReplay) apply(e *Entry) bool {
	switch e.Source {
	case collector.SourceNote, collector.SourceHindsight:
		if e.Kind == KindIncidentUpdated {
			if v, ok := e.Labels[LabelSeverity]; ok {
				r.override = v
				r.by = cmp.Or(e.Labels[LabelAuthor], "someone") + " at " + e.At.UTC().Format(time.RFC3339)
			}
		}
		return false
	case collector.SourceDeploy:
		return false // deploys are on the timeline, not part of the incident's services
	}
	dirty := false
	if e.Service != "" && !slices.Contains(r.inc.Services, e.Service) {
		r.inc.Services = append(r.inc.Services, e.Service)
		slices.Sort(r.inc.Services)
		dirty = true
	}
	switch {
	case e.Source == collector.SourceAlertmanager && e.Ref.Fingerprint != "":
		dirty = r.alert(e) || dirty
	case e.Source == collector.SourcePagerDuty && e.Ref.PagerDutyIncidentID != "":
		dirty = r.page(e) || dirty
	}
	return dirty
}

func (r *severityReplay) alert(e *Entry) bool {
	var b strings.Builder
	sev := ""
	if e.Alert != nil {
		sev = e.Alert.Severity
	}
	b.WriteString(sev)
	for _, k := range r.keys {
		b.WriteByte(0)
		if v, ok := e.Labels[k]; ok {
			b.WriteString(k + "=" + v)
		}
	}
	sig := b.String()
	if r.seen[sig] {
		return false
	}
	r.seen[sig] = true
	name := e.Labels["alertname"]
	first := e.At
	if e.Alert != nil {
		name = cmp.Or(e.Alert.Name, name)
		if !e.Alert.StartsAt.IsZero() {
			first = e.Alert.StartsAt
		}
	}
	r.inc.Alerts[e.Ref.Fingerprint+"\x00"+sig] = &AlertState{
		Fingerprint: e.Ref.Fingerprint, Name: name, Service: e.Service, Severity: sev,
		Labels: e.Labels, FirstStart: first,
	}
	return true
}

func (r *severityReplay) page(e *Entry) bool {
	id := e.Ref.PagerDutyIncidentID
	var p *PagerDutyState
	for _, q := range r.inc.PagerDuty {
		if q.IncidentID == id {
			p = q
		}
	}
	if p == nil {
		p = &PagerDutyState{IncidentID: id}
		r.inc.PagerDuty = append(r.inc.PagerDuty, p)
	}
	changed := false
	if e.PagerDuty == nil {
		return false
	}
	if v := e.PagerDuty.Priority; v != "" && v != p.Priority {
		p.Priority, changed = v, true
	}
	if v := e.PagerDuty.IncidentNumber; v != "" && v != p.Number {
		p.Number, changed = v, true
	}
	return changed
}
