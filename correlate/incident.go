package correlate

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Incident statuses as the API shows them.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	// StatusMerged is the status of an incident merged into another.
	StatusMerged = "merged"
)

// incidentVersion is the stored format of Incident; bump it with a
// migration when a field changes meaning.
const incidentVersion = 1

// Incident is the stored projection of one incident: what correlation
// decided, in event time. What depends on the wall clock (status,
// severity by duration) is computed by View, so the stored state is a pure
// function of the log.
type Incident struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// Key is the partition the incident was opened in: its anchor service
	// and the correlation.group_by labels.
	Key string `json:"key"`
	// Keys are the partitions whose new alerts join this incident directly;
	// each partition belongs to one live incident at a time.
	Keys        []string          `json:"keys,omitempty"`
	Anchor      string            `json:"anchor"`
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	Title       string            `json:"title"`
	// StartedAt is the earliest event time of a member (first symptom).
	StartedAt time.Time `json:"started_at"`
	// LastActivity is the latest event time of any member.
	LastActivity time.Time `json:"last_activity"`
	// LastOnset is the latest start of a new firing of any alert of the
	// incident (not a repeat, not a resolution): how long a storm goes on.
	LastOnset time.Time `json:"last_onset,omitzero"`
	// PhaseStart, when set, is where correlation.max_span counts from
	// instead of StartedAt: a long-running warning (a certificate that
	// will expire) whose target then fails continues as this incident.
	PhaseStart time.Time `json:"phase_start,omitzero"`
	// LastEnd is the latest time an alert of the incident resolved.
	LastEnd  time.Time `json:"last_end,omitzero"`
	Services []string  `json:"services"`
	// Alerts are the alert episodes of the incident, by fingerprint. They
	// are stored apiece, beside the incident, so that a change to one alert
	// does not rewrite all of them.
	Alerts  map[string]*AlertState `json:"-"`
	Entries int                    `json:"entries"`
	// FiringAlerts counts the alerts with Firing set; setFiring keeps it.
	FiringAlerts int `json:"firing_alerts"`
	// Reopens counts how often the incident resolved and fired again.
	Reopens int `json:"reopens,omitempty"`
	// PagerDuty are the PagerDuty incidents linked to this one.
	PagerDuty []*PagerDutyState `json:"pagerduty,omitempty"`
	// GroupKeyHashes are sha256 of the Alertmanager group keys of its
	// alerts: the exact link to pages raised by Alertmanager.
	GroupKeyHashes []string `json:"group_key_hashes,omitempty"`
	// Storm is set when the storm guard joined alerts to this incident.
	Storm bool `json:"storm,omitempty"`
	// MonitoringGap is set when a page was raised before any alert fired.
	MonitoringGap bool `json:"monitoring_gap,omitempty"`
	// MergedInto is the incident this one was merged into; a merged
	// incident keeps its record so that its id still leads somewhere.
	MergedInto string `json:"merged_into,omitempty"`
	// Overrides are what people set by hand (title, severity, status).
	Overrides Overrides `json:"overrides,omitzero"`
	// Curation is what people decided about entries, by entry id.
	Curation map[string]*Curation `json:"curation,omitempty"`
	// DeployEntries are the deploy steps (by event id) on the timeline.
	DeployEntries map[string]bool `json:"deploy_entries,omitempty"`
	// Suspects are the deploys ranked as suspected causes, best first.
	Suspects []SuspectedCause `json:"suspects,omitempty"`
	// Postmortem is the review and export state of the post-mortem; nil
	// until something happened to it (a draft, never reviewed).
	Postmortem *Postmortem `json:"postmortem,omitempty"`
	// ActionItems are the follow-ups people added, oldest first.
	ActionItems []ActionItem `json:"action_items,omitempty"`
	FirstSeq    uint64       `json:"first_seq"`
	LastSeq     uint64       `json:"last_seq"`
	// ListedAt is the StartedAt under which the store indexed the
	// incident; the store moves the index entry when StartedAt changes.
	ListedAt time.Time `json:"listed_at,omitzero"`
}

// AlertState is one alert (one fingerprint) within an incident.
type AlertState struct {
	Fingerprint  string            `json:"fingerprint"`
	Name         string            `json:"name"`
	Service      string            `json:"service,omitempty"`
	Severity     string            `json:"severity,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Description  string            `json:"description,omitempty"`
	RunbookURL   string            `json:"runbook_url,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
	Firing       bool              `json:"firing"`
	// FirstStart is the start of its first firing in this incident,
	// StartsAt the start of the current (or last) firing.
	FirstStart time.Time `json:"first_start"`
	StartsAt   time.Time `json:"starts_at"`
	EndsAt     time.Time `json:"ends_at,omitzero"`
	// Firings counts the distinct firings (startsAt values) seen; more than
	// one means the alert flapped or re-fired within reopen_within.
	Firings int `json:"firings"`
	// Flapping is set once correlation.flap_firings firings of the alert
	// fell within correlation.flap_window.
	Flapping bool `json:"flapping,omitempty"`
	// count is how many alerts this one stands for in a severity replay,
	// which keeps one per signature (0 means 1).
	count int
}

// Firing reports how many alerts and pages of the incident are still
// open, however long a page has been left alone (FiringAt bounds that).
func (inc *Incident) Firing() int {
	n := inc.FiringAlerts
	for _, p := range inc.PagerDuty {
		if p.Active() {
			n++
		}
	}
	return n
}

// FiringAt reports how many alerts and pages of the incident are open at
// t: an unresolved page keeps an incident open even when every alert has
// resolved, until it has had no event for pageStale
// (correlation.page_stale_after). It is called for every candidate
// incident of every event, so the alerts are counted as they change
// (FiringAlerts), not here.
func (inc *Incident) FiringAt(t time.Time, pageStale time.Duration) int {
	n := inc.FiringAlerts
	for _, p := range inc.PagerDuty {
		if p.ActiveAt(t, pageStale) {
			n++
		}
	}
	return n
}

// setFiring flips an alert of inc and keeps FiringAlerts in step.
func (inc *Incident) setFiring(a *AlertState, firing bool) {
	if a.Firing == firing {
		return
	}
	a.Firing = firing
	if firing {
		inc.FiringAlerts++
	} else {
		inc.FiringAlerts--
	}
}

// ResolvedAsOf reports whether the incident counts as resolved at t: no
// alert firing, no page open (and not stale, see FiringAt) and t at least
// resolveAfter past the last resolution.
func (inc *Incident) ResolvedAsOf(t time.Time, resolveAfter, pageStale time.Duration) bool {
	return inc.FiringAt(t, pageStale) == 0 && !t.Before(inc.LastEnd.Add(resolveAfter))
}

// AlertList returns the alerts ordered by first start, then fingerprint,
// so that renderings are deterministic.
func (inc *Incident) AlertList() []*AlertState {
	out := make([]*AlertState, 0, len(inc.Alerts))
	for _, a := range inc.Alerts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *AlertState) int {
		if c := a.FirstStart.Compare(b.FirstStart); c != 0 {
			return c
		}
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		if a.Fingerprint < b.Fingerprint {
			return -1
		}
		if a.Fingerprint > b.Fingerprint {
			return 1
		}
		return 0
	})
	return out
}

// Entry is one line of an incident's timeline: an event as it joined the
// incident, with the reasons it joined.
type Entry struct {
	ID         string            `json:"id"`
	IncidentID string            `json:"incident_id"`
	Seq        uint64            `json:"seq"`
	EventID    string            `json:"event_id"`
	At         time.Time         `json:"at"`
	ReceivedAt time.Time         `json:"received_at"`
	Source     string            `json:"source"`
	Kind       string            `json:"kind"`
	Summary    string            `json:"summary"`
	Service    string            `json:"service,omitempty"`
	Ref        collector.Ref     `json:"ref"`
	Reasons    []string          `json:"reasons"`
	Labels     map[string]string `json:"labels,omitempty"`
	Alert      *collector.Alert  `json:"alert,omitempty"`
	// Annotations of the alert at this state (summary, description,
	// runbook_url...), kept for the draft.
	Annotations map[string]string `json:"annotations,omitempty"`
	// PagerDuty and Deploy are the event's typed parts. In JSON they are
	// among the labels (see MarshalJSON).
	PagerDuty *collector.PagerDuty `json:"-"`
	Deploy    *collector.Deploy    `json:"-"`
	// Pinned, Hidden and Note are people's curation, filled in by View.
	Pinned bool   `json:"pinned,omitempty"`
	Hidden bool   `json:"hidden,omitempty"`
	Note   string `json:"note,omitempty"`
}

// MarshalJSON writes the entry as the API contract shows a timeline entry
// and as the store has always kept it: the typed parts among the labels
// (and a deploy's description and url among the annotations) under the
// names they had before they were typed (collector.Payload.Flatten).
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	if e.PagerDuty != nil || e.Deploy != nil {
		e.Labels, e.Annotations = collector.Payload{Labels: e.Labels, Annotations: e.Annotations, PagerDuty: e.PagerDuty, Deploy: e.Deploy}.Flatten()
	}
	return json.Marshal(plain(e))
}

// UnmarshalJSON reads what MarshalJSON wrote, the typed parts back out of
// the labels (collector.Lift).
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if e.Source == collector.SourcePagerDuty || e.Source == collector.SourceDeploy {
		p := collector.Lift(e.Source, e.Labels, e.Annotations)
		e.Labels, e.Annotations, e.PagerDuty, e.Deploy = p.Labels, p.Annotations, p.PagerDuty, p.Deploy
	}
	return nil
}

// EntryID derives an entry's ID from its event's ID: one event is one
// entry, so a client can find where an event landed.
func EntryID(eventID string) string {
	if len(eventID) > 3 && eventID[:3] == "ev-" {
		return "ent-" + eventID[3:]
	}
	return "ent-" + eventID
}

// Timeline is an incident's entries, oldest first.
type Timeline []Entry
