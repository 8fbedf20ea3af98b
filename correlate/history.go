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
	// A rule's min_duration passes min_duration after the alerts it
	// matches began; the replay adds those moments as signatures appear.
	var durations []time.Duration
	for _, r := range cfg.Severity.Rules {
		if d := time.Duration(r.When.MinDuration); d > 0 && !slices.Contains(durations, d) {
			durations = append(durations, d)
		}
	}
	var thresholds deadlines[struct{}]
	for _, d := range durations {
		thresholds.push(start.Add(d), struct{}{})
	}

	r := newSeverityReplay(inc, cfg)
	var (
		out                 []SeverityPeriod
		cur                 *SeverityPeriod
		suggested, whyLevel string
		dirty               = true
		i                   int
		t                   = start
	)
	for {
		for ; i < len(es) && !es[i].At.After(t); i++ {
			changed, began := r.apply(es[i])
			dirty = changed || dirty
			if !began.IsZero() {
				for _, d := range durations {
					thresholds.push(began.Add(d), struct{}{})
				}
			}
		}
		for thresholds.len() > 0 && !thresholds.min().After(t) {
			thresholds.pop()
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
		if thresholds.len() > 0 && (!ok || thresholds.min().Before(next)) {
			next, ok = thresholds.min(), true
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
// signature (severity, service and the label values the rules test;
// another alert with the same signature cannot change any rule's outcome
// but the count of alerts, which the signature's alert carries), whether
// any of the signature's alerts fires, when the last one ended, and its
// pages.
type severityReplay struct {
	inc      Incident
	keys     []string
	sigs     map[string]*replaySig
	bySig    map[string]string // fingerprint -> signature
	maxCount int
	override string
	by       string
}

// replaySig is one signature's alerts: which fire.
type replaySig struct {
	alert        *AlertState
	seen, firing map[string]bool
}

func newSeverityReplay(inc *Incident, cfg *config.Config) *severityReplay {
	keys := map[string]bool{}
	maxCount := 1
	for _, r := range cfg.Severity.Rules {
		for k := range r.When.Labels {
			keys[k] = true
		}
		maxCount = max(maxCount, r.When.MinAlerts)
	}
	return &severityReplay{
		inc:      Incident{ID: inc.ID, StartedAt: inc.StartedAt, Alerts: map[string]*AlertState{}},
		keys:     slices.Sorted(maps.Keys(keys)),
		sigs:     map[string]*replaySig{},
		bySig:    map[string]string{},
		maxCount: maxCount,
	}
}

// apply adds an entry to the replayed incident and reports whether the
// assessment may have changed, and when a new signature began (zero if
// none did).
func (r *severityReplay) apply(e *Entry) (bool, time.Time) {
	switch e.Source {
	case collector.SourceNote, collector.SourceHindsight:
		if e.Kind == KindIncidentUpdated {
			if v, ok := e.Labels[LabelSeverity]; ok {
				r.override = v
				r.by = cmp.Or(e.Labels[LabelAuthor], "someone") + " at " + e.At.UTC().Format(time.RFC3339)
			}
		}
		return false, time.Time{}
	case collector.SourceDeploy:
		return false, time.Time{} // deploys are on the timeline, not part of the incident's services
	}
	dirty := false
	if e.Service != "" && !slices.Contains(r.inc.Services, e.Service) {
		r.inc.Services = append(r.inc.Services, e.Service)
		slices.Sort(r.inc.Services)
		dirty = true
	}
	var began time.Time
	switch {
	case e.Source == collector.SourceAlertmanager && e.Ref.Fingerprint != "":
		var d bool
		d, began = r.alert(e)
		dirty = d || dirty
	case e.Source == collector.SourcePagerDuty && e.Ref.PagerDutyIncidentID != "":
		dirty = r.page(e) || dirty
	}
	return dirty, began
}

func (r *severityReplay) alert(e *Entry) (bool, time.Time) {
	fp := e.Ref.Fingerprint
	sig, ok := r.bySig[fp]
	if !ok {
		var b strings.Builder
		if e.Alert != nil {
			b.WriteString(e.Alert.Severity)
		}
		b.WriteByte(0)
		b.WriteString(e.Service)
		for _, k := range r.keys {
			b.WriteByte(0)
			if v, ok := e.Labels[k]; ok {
				b.WriteString(k + "=" + v)
			}
		}
		sig = b.String()
		r.bySig[fp] = sig
	}
	start := e.At
	firing := e.Kind != collector.KindAlertResolved
	if e.Alert != nil && !e.Alert.StartsAt.IsZero() {
		start = e.Alert.StartsAt
	}
	s := r.sigs[sig]
	var began time.Time
	dirty := false
	if s == nil {
		name := e.Labels["alertname"]
		sev := ""
		if e.Alert != nil {
			name = cmp.Or(e.Alert.Name, name)
			sev = e.Alert.Severity
		}
		s = &replaySig{seen: map[string]bool{}, firing: map[string]bool{}, alert: &AlertState{
			Fingerprint: fp, Name: name, Service: e.Service, Severity: sev, Labels: e.Labels, FirstStart: start, StartsAt: start,
		}}
		r.sigs[sig] = s
		r.inc.Alerts[fp+"\x00"+sig] = s.alert
		began, dirty = start, true
	}
	a := s.alert
	if start.Before(a.FirstStart) {
		a.FirstStart = start
		began, dirty = start, true
	}
	was := len(s.firing) > 0
	if !s.seen[fp] && len(s.seen) < r.maxCount {
		s.seen[fp] = true
		if n := len(s.seen); n > 1 {
			a.count = n
			dirty = true
		}
	}
	if firing {
		s.firing[fp] = true
	} else {
		delete(s.firing, fp)
		if e.At.After(a.EndsAt) {
			a.EndsAt = e.At
		}
	}
	a.Firing = len(s.firing) > 0
	if a.Firing != was {
		dirty = true
	}
	return dirty, began
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
