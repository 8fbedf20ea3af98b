// Package pagerduty receives PagerDuty v3 webhooks and backfills what they
// missed from the PagerDuty REST API, turning both into collector.Events.
//
// A webhook event and the REST log entry that describes the same happening
// become the same Event: same Kind, same ID (see EventKey), so whichever
// arrives second is stored as a duplicate. PagerDuty delivers webhooks at
// least once and retries 429 and 5xx, never other 4xx; so a 4xx is given
// only for input that can never be stored (400) or is not PagerDuty's
// (403), and a storage problem is a 503.
package pagerduty

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// EventTypePing is the event PagerDuty sends to test a subscription. It is
// answered 200 and not stored.
const EventTypePing = "pagey.ping"

// Envelope is the body of a v3 webhook: one event per request.
type Envelope struct {
	Event *WebhookEvent `json:"event"`
}

// WebhookEvent is the v3 event. Data is kept raw and decoded by its
// "type" (incident, incident_note, ...): go-pagerduty has no webhook
// payload types, and its REST Incident struct has other field names.
type WebhookEvent struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   string          `json:"occurred_at"`
	Agent        *Reference      `json:"agent"`
	Client       *WebhookClient  `json:"client"`
	Data         json.RawMessage `json:"data"`
}

// Reference is PagerDuty's reference to another object (user, service,
// escalation policy, priority, incident).
type Reference struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Self    string `json:"self"`
	HTMLURL string `json:"html_url"`
}

// WebhookClient is the integration or tool that caused the event.
type WebhookClient struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// IncidentData is event.data for data.type "incident".
type IncidentData struct {
	ID               string      `json:"id"`
	Type             string      `json:"type"`
	Self             string      `json:"self"`
	HTMLURL          string      `json:"html_url"`
	Number           int64       `json:"number"`
	Status           string      `json:"status"`
	IncidentKey      string      `json:"incident_key"`
	CreatedAt        string      `json:"created_at"`
	Title            string      `json:"title"`
	IncidentType     *NamedType  `json:"incident_type"`
	Service          *Reference  `json:"service"`
	Assignees        []Reference `json:"assignees"`
	EscalationPolicy *Reference  `json:"escalation_policy"`
	Teams            []Reference `json:"teams"`
	Priority         *Reference  `json:"priority"`
	Urgency          string      `json:"urgency"`
	// ResolveReason is null, or an object such as
	// {"type": "merge_resolve_reason", "incident": {...}}.
	ResolveReason json.RawMessage `json:"resolve_reason"`
}

// NamedType is an object known by its name, such as incident_type.
type NamedType struct {
	Name string `json:"name"`
}

// IncidentChildData is event.data for the types that hang off an incident
// (incident_note, incident_status_update, incident_responder, ...): the
// fields of all of them, since each uses a few.
type IncidentChildData struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Incident *Reference `json:"incident"`
	// Content is the note (incident_note).
	Content string `json:"content"`
	// Message is the status update (incident_status_update) or the
	// responder request's message (incident_responder).
	Message string `json:"message"`
	Trimmed bool   `json:"trimmed"`
	// User, EscalationPolicy and State describe a responder.
	User             *Reference `json:"user"`
	EscalationPolicy *Reference `json:"escalation_policy"`
	State            string     `json:"state"`
	// Name is the workflow's name (incident_workflow_instance).
	Name string `json:"name"`
}

// ServiceData is event.data for data.type "service".
type ServiceData struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

// Event types PagerDuty documents, with the data.type each carries. Types
// not listed here are stored as generic entries, never refused.
var knownDataTypes = map[string]string{
	"incident.triggered":                   "incident",
	"incident.acknowledged":                "incident",
	"incident.unacknowledged":              "incident",
	"incident.resolved":                    "incident",
	"incident.reopened":                    "incident",
	"incident.escalated":                   "incident",
	"incident.reassigned":                  "incident",
	"incident.delegated":                   "incident",
	"incident.priority_updated":            "incident",
	"incident.service_updated":             "incident",
	"incident.incident_type.changed":       "incident",
	"incident.annotated":                   "incident_note",
	"incident.status_update_published":     "incident_status_update",
	"incident.responder.added":             "incident_responder",
	"incident.responder.replied":           "incident_responder",
	"incident.conference_bridge.updated":   "incident_conference_bridge",
	"incident.custom_field_values.updated": "incident_field_values",
	"incident.workflow.started":            "incident_workflow_instance",
	"incident.workflow.completed":          "incident_workflow_instance",
	"service.created":                      "service",
	"service.updated":                      "service",
	"service.deleted":                      "service",
}

var eventTypeRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$`)

// Decode parses and validates a webhook body within the built-in limits
// (config.DefaultLimits); see DecodeLimited.
func Decode(body []byte) (*Envelope, *collector.Event, error) {
	return DecodeLimited(body, config.DefaultLimits())
}

// DecodeLimited parses and validates a webhook body. It returns the event
// (without ReceivedAt and Service, which the caller sets), or a nil event
// for a ping. Errors name the field at fault, such as
// `event.occurred_at: "x" is not an RFC 3339 time`; a text past lim's
// api.max_annotation_bytes is a *collector.RequestError (413) naming it
// as the API shows it (pagerduty.note).
func DecodeLimited(body []byte, lim config.Limits) (*Envelope, *collector.Event, error) {
	var env Envelope
	if err := collector.DecodeObject(body, "a PagerDuty v3 webhook", &env); err != nil {
		return nil, nil, err
	}
	e := env.Event
	if e == nil {
		return nil, nil, errors.New("event: missing; expected a PagerDuty v3 webhook {\"event\": {...}}")
	}
	switch {
	case e.EventType == "":
		return nil, nil, errors.New("event.event_type: missing")
	case !eventTypeRE.MatchString(e.EventType):
		return nil, nil, fmt.Errorf("event.event_type: %q is not a PagerDuty event type", truncate(e.EventType, 64))
	case e.EventType == EventTypePing:
		return &env, nil, nil
	case e.ID == "":
		return nil, nil, errors.New("event.id: missing")
	case e.OccurredAt == "":
		return nil, nil, errors.New("event.occurred_at: missing")
	}
	at, err := parseTime(e.OccurredAt)
	if err != nil {
		return nil, nil, fmt.Errorf("event.occurred_at: %w", err)
	}
	h, err := webhookHappening(e, at)
	if err != nil {
		return nil, nil, err
	}
	ev := h.event()
	if re := collector.CheckEvent(lim, "", &ev); re != nil {
		return nil, nil, re
	}
	return &env, &ev, nil
}

// webhookHappening reads the event's data into the form shared with log
// entries.
func webhookHappening(e *WebhookEvent, at time.Time) (happening, error) {
	h := happening{
		eventType: e.EventType,
		at:        at,
		sourceID:  e.ID,
	}
	if e.Agent != nil {
		set(&h.pd.Agent, e.Agent.Summary)
		set(&h.pd.AgentType, e.Agent.Type)
	}
	if t, ok := strings.CutPrefix(e.EventType, "incident."); ok {
		h.action = t
	} else {
		h.action = e.EventType
	}

	expected, known := knownDataTypes[e.EventType]
	data := bytes.TrimSpace(e.Data)
	if len(data) == 0 || string(data) == "null" {
		if known {
			return h, errors.New("event.data: missing")
		}
		return h, nil // an unknown type without data is still an event
	}
	if data[0] != '{' {
		if known {
			return h, fmt.Errorf("event.data: expected an object, got %s", collector.JSONKind(data))
		}
		return h, nil
	}
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &head) // a bad "type" is reported by the typed decode below
	dataType := head.Type
	if dataType == "" {
		dataType = expected
	}
	needIncident := known && strings.HasPrefix(e.EventType, "incident.")

	switch {
	case dataType == "incident":
		var d IncidentData
		if err := json.Unmarshal(data, &d); err != nil {
			return h, dataError(err)
		}
		if d.ID == "" && needIncident {
			return h, errors.New("event.data.id: missing; the PagerDuty incident id")
		}
		h.incidentID = d.ID
		h.incidentFields(d)
	case dataType == "service":
		var d ServiceData
		if err := json.Unmarshal(data, &d); err != nil {
			return h, dataError(err)
		}
		h.subject = d.ID
		set(&h.pd.ServiceID, d.ID)
		set(&h.pd.ServiceName, cmp.Or(d.Summary, d.Name))
		set(&h.pd.HTMLURL, d.HTMLURL)
	case strings.HasPrefix(dataType, "incident_") || known:
		var d IncidentChildData
		if err := json.Unmarshal(data, &d); err != nil {
			if known {
				return h, dataError(err)
			}
			return h, nil // unknown shape of an unknown type: keep the event bare
		}
		if d.Incident != nil {
			h.incidentID = d.Incident.ID
			num, title := splitIncidentSummary(d.Incident.Summary)
			set(&h.pd.IncidentNumber, num)
			set(&h.pd.Title, title)
			set(&h.pd.HTMLURL, d.Incident.HTMLURL)
		}
		if h.incidentID == "" && needIncident {
			return h, errors.New("event.data.incident.id: missing; the PagerDuty incident id")
		}
		switch dataType {
		case "incident_note":
			set(&h.pd.Note, d.Content)
		case "incident_status_update":
			set(&h.pd.Message, d.Message)
		case "incident_responder":
			if d.User != nil {
				set(&h.pd.Responder, d.User.Summary)
			} else if d.EscalationPolicy != nil {
				set(&h.pd.Responder, d.EscalationPolicy.Summary)
			}
			set(&h.pd.Message, d.Message)
			set(&h.pd.ResponderState, d.State)
		case "incident_workflow_instance":
			set(&h.pd.Workflow, d.Name)
		}
	default:
		// An unknown data type: keep what can be read without failing.
		var d struct {
			ID       string          `json:"id"`
			Incident json.RawMessage `json:"incident"`
		}
		_ = json.Unmarshal(data, &d)
		var ref Reference
		if json.Unmarshal(d.Incident, &ref) == nil && ref.ID != "" {
			h.incidentID = ref.ID
		} else if e.ResourceType == "incident" {
			h.incidentID = d.ID
		} else {
			h.subject = d.ID
		}
	}
	return h, nil
}

// incidentFields sets what an incident object tells.
func (h *happening) incidentFields(d IncidentData) {
	if d.Number > 0 {
		set(&h.pd.IncidentNumber, strconv.FormatInt(d.Number, 10))
	}
	if d.Service != nil {
		set(&h.pd.ServiceID, d.Service.ID)
		set(&h.pd.ServiceName, d.Service.Summary)
	}
	set(&h.pd.IncidentKey, d.IncidentKey)
	set(&h.pd.Status, d.Status)
	if d.Priority != nil {
		set(&h.pd.Priority, d.Priority.Summary)
	}
	set(&h.pd.Urgency, d.Urgency)
	h.pd.Assignees = summaries(d.Assignees)
	if d.EscalationPolicy != nil {
		set(&h.pd.EscalationPolicy, d.EscalationPolicy.Summary)
	}
	set(&h.pd.Title, d.Title)
	set(&h.pd.HTMLURL, d.HTMLURL)
	if d.IncidentType != nil && d.IncidentType.Name != "incident_default" {
		set(&h.pd.IncidentType, d.IncidentType.Name)
	}
	set(&h.pd.ResolveReason, resolveReason(d.ResolveReason))
}

// resolveReason renders data.resolve_reason: null, a string, or an object
// with a type and possibly the incident it was merged into.
func resolveReason(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Type     string     `json:"type"`
		Incident *Reference `json:"incident"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return ""
	}
	r := strings.TrimSuffix(o.Type, "_resolve_reason")
	if o.Incident != nil && o.Incident.ID != "" {
		r += " into " + cmp.Or(o.Incident.Summary, o.Incident.ID)
	}
	return r
}

// summaries names the references, each by its summary or else its id.
func summaries(refs []Reference) []string {
	var names []string
	for _, r := range refs {
		if s := cmp.Or(r.Summary, r.ID); s != "" {
			names = append(names, s)
		}
	}
	return names
}

// incidentSummaryRE matches the summary PagerDuty gives an incident
// reference in the REST API: "[#4711] title".
var incidentSummaryRE = regexp.MustCompile(`^\[#(\d+)\]\s*(.*)$`)

// splitIncidentSummary splits "[#4711] title" into "4711" and "title"; a
// summary without a number is all title.
func splitIncidentSummary(s string) (number, title string) {
	if m := incidentSummaryRE.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	return "", s
}

func dataError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		return fmt.Errorf("event.data.%s: expected %s, got JSON %s", te.Field, collector.JSONType(te.Type.String()), te.Value)
	}
	return fmt.Errorf("event.data: %w", err)
}

// jsonKind names the kind of JSON value b starts with.

// jsonType names a Go type the way a sender of JSON thinks of it.

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", truncate(s, 64))
	}
	if t = t.UTC(); t.Year() <= 1 {
		return time.Time{}, fmt.Errorf("%q is not a plausible event time", truncate(s, 64))
	}
	return t, nil
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
