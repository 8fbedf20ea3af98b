package collector

import (
	"encoding/json"
	"strings"
)

// PagerDuty is what a PagerDuty webhook event or REST log entry says
// beyond the Event's common fields; only what the source gave is set.
// Correlation links and rates pages from it and the draft tells them, so
// its fields are checked by the compiler rather than spelled as label
// names in three packages.
type PagerDuty struct {
	IncidentNumber string `json:"incident_number,omitempty"` // 4711
	ServiceID      string `json:"service_id,omitempty"`      // PCHKOUT
	// ServiceName is the PagerDuty service's name, not Event.Service.
	ServiceName string `json:"service_name,omitempty"`
	// IncidentKey is raw; Alertmanager's is sha256(groupKey).
	IncidentKey string `json:"incident_key,omitempty"`
	// Status is the incident's status: triggered, acknowledged, resolved.
	Status   string `json:"status,omitempty"`
	Priority string `json:"priority,omitempty"` // P1
	Urgency  string `json:"urgency,omitempty"`  // high, low
	// Assignees are the people (or policies) the incident is assigned to,
	// in PagerDuty's order.
	Assignees []string `json:"assignees,omitempty"`
	// Agent is who did it; AgentType is PagerDuty's reference type of the
	// agent (user_reference for a person).
	Agent            string `json:"agent,omitempty"`
	AgentType        string `json:"agent_type,omitempty"`
	EscalationPolicy string `json:"escalation_policy,omitempty"`
	Title            string `json:"title,omitempty"`
	HTMLURL          string `json:"html_url,omitempty"`
	// Note is the text of incident.annotated.
	Note string `json:"note,omitempty"`
	// ResolveReason is "merge", or "merge into #4712 ...".
	ResolveReason string `json:"resolve_reason,omitempty"`
	// Responder is who was asked to respond (incident.responder.*), and
	// ResponderState their answer.
	Responder      string `json:"responder,omitempty"`
	ResponderState string `json:"responder_state,omitempty"`
	// Message is a status update or a responder request's message.
	Message string `json:"message,omitempty"`
	// IncidentType is set unless it is incident_default.
	IncidentType string `json:"incident_type,omitempty"`
	Workflow     string `json:"workflow,omitempty"`
	// LogEntryType is the REST log entry's type, for events from the
	// backfill.
	LogEntryType string `json:"log_entry_type,omitempty"`
}

// Deploy is what a deploy step says beyond the Event's common fields
// (Service, At, Kind deploy.<status>, Ref.DeployID), as deploy-event.md
// names it. Labels keep only the sender's own labels.
type Deploy struct {
	Environment string `json:"environment,omitempty"`
	Version     string `json:"version,omitempty"`
	// PreviousVersion is the version the step replaces.
	PreviousVersion string `json:"previous_version,omitempty"`
	Author          string `json:"author,omitempty"`
	Commit          string `json:"commit,omitempty"`
	URL             string `json:"url,omitempty"`
	Description     string `json:"description,omitempty"`
}

// JoinAssignees is the one-line form of a list of assignees, as the
// timeline and the draft show it: "Dana Oncall, Sam Second".
func JoinAssignees(names []string) string { return strings.Join(names, ", ") }

// Label names the typed parts had before they were typed: events stored
// by earlier versions carry them, and the API still shows them under
// "labels". Nothing else may read them.
var (
	pagerDutyLabels = []struct {
		name string
		f    func(*PagerDuty) *string
	}{
		{"pd_incident_number", func(p *PagerDuty) *string { return &p.IncidentNumber }},
		{"pd_service_id", func(p *PagerDuty) *string { return &p.ServiceID }},
		{"pd_service", func(p *PagerDuty) *string { return &p.ServiceName }},
		{"incident_key", func(p *PagerDuty) *string { return &p.IncidentKey }},
		{"status", func(p *PagerDuty) *string { return &p.Status }},
		{"priority", func(p *PagerDuty) *string { return &p.Priority }},
		{"urgency", func(p *PagerDuty) *string { return &p.Urgency }},
		{"agent", func(p *PagerDuty) *string { return &p.Agent }},
		{"agent_type", func(p *PagerDuty) *string { return &p.AgentType }},
		{"escalation_policy", func(p *PagerDuty) *string { return &p.EscalationPolicy }},
		{"title", func(p *PagerDuty) *string { return &p.Title }},
		{"html_url", func(p *PagerDuty) *string { return &p.HTMLURL }},
		{"note", func(p *PagerDuty) *string { return &p.Note }},
		{"resolve_reason", func(p *PagerDuty) *string { return &p.ResolveReason }},
		{"responder", func(p *PagerDuty) *string { return &p.Responder }},
		{"message", func(p *PagerDuty) *string { return &p.Message }},
		{"responder_state", func(p *PagerDuty) *string { return &p.ResponderState }},
		{"incident_type", func(p *PagerDuty) *string { return &p.IncidentType }},
		{"workflow", func(p *PagerDuty) *string { return &p.Workflow }},
		{"pd_log_entry_type", func(p *PagerDuty) *string { return &p.LogEntryType }},
	}
	deployLabels = []struct {
		name string
		f    func(*Deploy) *string
	}{
		{"environment", func(d *Deploy) *string { return &d.Environment }},
		{"version", func(d *Deploy) *string { return &d.Version }},
		{"previous_version", func(d *Deploy) *string { return &d.PreviousVersion }},
		{"author", func(d *Deploy) *string { return &d.Author }},
		{"commit", func(d *Deploy) *string { return &d.Commit }},
		{"url", func(d *Deploy) *string { return &d.URL }},
		{"description", func(d *Deploy) *string { return &d.Description }},
	}
)

const labelAssignees = "assignees"

// IsDeployLabel reports whether name is one a deploy event keeps in its
// typed part: a sender's label of that name is read into the typed part,
// never kept among the labels.
func IsDeployLabel(name string) bool {
	for _, l := range deployLabels {
		if l.name == name {
			return true
		}
	}
	return false
}

// Payload is the typed part of an event from one source, with the labels
// and annotations next to it.
type Payload struct {
	Labels      map[string]string
	Annotations map[string]string
	PagerDuty   *PagerDuty
	Deploy      *Deploy
}

// Flatten returns the labels and annotations as versions before the
// typed parts wrote them: the typed values under their old label names
// (and a deploy's description and url among the annotations too). The
// API shows this form, so what clients read does not change. The maps
// given are not modified; unchanged ones are returned as they are.
func (p Payload) Flatten() (labels, annotations map[string]string) {
	labels, annotations = p.Labels, p.Annotations
	if p.PagerDuty != nil {
		labels = cloneGrow(labels, len(pagerDutyLabels)+1)
		for _, l := range pagerDutyLabels {
			if v := *l.f(p.PagerDuty); v != "" {
				labels[l.name] = v
			}
		}
		if a := JoinAssignees(p.PagerDuty.Assignees); a != "" {
			labels[labelAssignees] = a
		}
	}
	if d := p.Deploy; d != nil {
		labels = cloneGrow(labels, len(deployLabels))
		for _, l := range deployLabels {
			if v := *l.f(d); v != "" {
				labels[l.name] = v
			}
		}
		if d.Description != "" || d.URL != "" {
			annotations = cloneGrow(annotations, 2)
			if d.Description != "" {
				annotations["description"] = d.Description
			}
			if d.URL != "" {
				annotations["url"] = d.URL
			}
		}
	}
	return emptyNil(labels), emptyNil(annotations)
}

// Lift reads the typed part of an event of source out of the label form
// earlier versions stored (see Flatten), for an event or entry decoded
// without one. The values move: the labels and annotations returned no
// longer hold them. Other sources' labels are returned as they are.
func Lift(source string, labels, annotations map[string]string) Payload {
	p := Payload{Labels: labels, Annotations: annotations}
	switch source {
	case SourcePagerDuty:
		var pd PagerDuty
		found := false
		for _, l := range pagerDutyLabels {
			if v, ok := labels[l.name]; ok {
				*l.f(&pd) = v
				found = true
			}
		}
		if v, ok := labels[labelAssignees]; ok {
			pd.Assignees = SplitAssignees(v)
			found = true
		}
		if !found {
			return p
		}
		p.PagerDuty = &pd
		p.Labels = without(labels, func(k string) bool {
			if k == labelAssignees {
				return true
			}
			for _, l := range pagerDutyLabels {
				if l.name == k {
					return true
				}
			}
			return false
		})
	case SourceDeploy:
		var d Deploy
		for _, l := range deployLabels {
			*l.f(&d) = labels[l.name]
		}
		// The annotations were copies of description and url.
		d.Description = firstNonEmpty(d.Description, annotations["description"])
		d.URL = firstNonEmpty(d.URL, annotations["url"])
		p.Deploy = &d
		p.Labels = without(labels, IsDeployLabel)
		p.Annotations = without(annotations, func(k string) bool { return k == "description" || k == "url" })
	}
	return p
}

// SplitAssignees reads JoinAssignees' form back into names.
func SplitAssignees(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// UnmarshalJSON decodes an event, reading the PagerDuty or deploy part of
// one stored before those were typed out of its labels.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	if e.PagerDuty == nil && e.Deploy == nil && (e.Source == SourcePagerDuty || e.Source == SourceDeploy) {
		p := Lift(e.Source, e.Labels, e.Annotations)
		e.Labels, e.Annotations, e.PagerDuty, e.Deploy = p.Labels, p.Annotations, p.PagerDuty, p.Deploy
	}
	return nil
}

// FlatLabels is the event's labels as the API shows them (Flatten).
func (e *Event) FlatLabels() map[string]string {
	l, _ := Payload{Labels: e.Labels, PagerDuty: e.PagerDuty, Deploy: e.Deploy}.Flatten()
	return l
}

func cloneGrow(m map[string]string, extra int) map[string]string {
	out := make(map[string]string, len(m)+extra)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// without returns m less the keys drop matches, copied only if one does.
func without(m map[string]string, drop func(string) bool) map[string]string {
	n := 0
	for k := range m {
		if drop(k) {
			n++
		}
	}
	if n == 0 {
		return emptyNil(m)
	}
	out := make(map[string]string, len(m)-n)
	for k, v := range m {
		if !drop(k) {
			out[k] = v
		}
	}
	return emptyNil(out)
}

func emptyNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
