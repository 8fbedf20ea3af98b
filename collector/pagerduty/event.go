package pagerduty

import (
	"cmp"
	"slices"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Kinds of PagerDuty events: "pagerduty." + the webhook's event_type.
// These are the ones correlation looks at; every other event_type is kept
// under its own name (pagerduty.incident.responder.added, ...).
const (
	KindTriggered       = "pagerduty.incident.triggered"
	KindAcknowledged    = "pagerduty.incident.acknowledged"
	KindUnacknowledged  = "pagerduty.incident.unacknowledged"
	KindResolved        = "pagerduty.incident.resolved"
	KindReopened        = "pagerduty.incident.reopened"
	KindEscalated       = "pagerduty.incident.escalated"
	KindReassigned      = "pagerduty.incident.reassigned"
	KindDelegated       = "pagerduty.incident.delegated"
	KindAnnotated       = "pagerduty.incident.annotated"
	KindPriorityUpdated = "pagerduty.incident.priority_updated"
	// KindLogPrefix starts the kind of a REST log entry that no webhook
	// describes, followed by the entry's type:
	// pagerduty.log.urgency_change_log_entry.
	KindLogPrefix = "pagerduty.log."
)

// logEntryActions maps REST log entry types onto the webhook's vocabulary:
// the two describe the same happenings, and become the same Event.
var logEntryActions = map[string]string{
	"trigger_log_entry":         "triggered",
	"acknowledge_log_entry":     "acknowledged",
	"unacknowledge_log_entry":   "unacknowledged",
	"resolve_log_entry":         "resolved",
	"escalate_log_entry":        "escalated",
	"assign_log_entry":          "reassigned",
	"delegate_log_entry":        "delegated",
	"annotate_log_entry":        "annotated",
	"priority_change_log_entry": "priority_updated",
	// incident.reopened has no log entry type.
}

// pairedActions are the incident.<action> webhook types that a REST log
// entry also describes.
var pairedActions = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range logEntryActions {
		m[a] = true
	}
	return m
}()

// EventKey is the ID of the Event for a happening that both a webhook and
// a REST log entry describe: the incident, the action in the webhook's
// vocabulary ("acknowledged", not "acknowledge_log_entry") and the time
// to the second.
//
// The second is what makes the two meet: a webhook's occurred_at and the
// log entry's created_at for the same happening are the same instant to
// the second, the webhook adding milliseconds (2026-11-20T14:03:02.418Z)
// that the log entry does not have (2026-11-20T14:03:02Z). Verified on the
// samples in testdata, which overlap on three happenings (triggered,
// annotated, resolved) and agree to the second on each, with the fraction
// cut, not rounded (14:11:47.902 ↔ 14:11:47); the triggered webhook's
// data.created_at is the trigger log entry's created_at exactly. It has not
// been checked against live PagerDuty traffic: should the two ever straddle
// a second boundary, the happening is stored twice, once per source.
//
// Two such happenings of one kind on one incident in the same second are
// stored once; happenings without a counterpart (reopened, responders,
// status updates, unknown types) add the webhook event id or log entry id
// to their key and never collide.
func EventKey(incidentID, action string, at time.Time) string {
	return collector.EventID(collector.SourcePagerDuty, incidentID, action, at.Truncate(time.Second).UTC().Format(time.RFC3339))
}

// ServiceFor returns the service whose pagerduty_service_ids lists the
// PagerDuty service id, or "" when none does. Should several list it, the
// first by name wins, so the answer does not depend on map order.
func ServiceFor(cfg *config.Config, pdServiceID string) string {
	if cfg == nil || pdServiceID == "" {
		return ""
	}
	var found []string
	for name, s := range cfg.Services {
		if slices.Contains(s.PagerDutyServiceIDs, pdServiceID) {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return slices.Min(found)
}

// happening is what a webhook event or a REST log entry says happened, in
// one form, so that both become the same Event.
type happening struct {
	// eventType is in the webhook's vocabulary ("incident.acknowledged"),
	// or "log.<type>" for a log entry without a webhook counterpart.
	eventType string
	// action is eventType without "incident.".
	action     string
	at         time.Time
	incidentID string
	// subject is the id of what a non-incident event is about (a service).
	subject string
	// sourceID is the webhook event id or the log entry id.
	sourceID string
	// detail is the source's own one-line description, for kinds that have
	// no sentence of their own.
	detail string
	pd     collector.PagerDuty
}

// set sets *dst to v unless v is empty, so that a later, emptier source
// of a field does not erase what an earlier one gave.
func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// paired reports whether the other vocabulary describes this happening too.
func (h *happening) paired() bool {
	return h.incidentID != "" && h.eventType == "incident."+h.action && pairedActions[h.action]
}

func (h *happening) event() collector.Event {
	var id string
	if h.paired() {
		id = EventKey(h.incidentID, h.action, h.at)
	} else {
		id = collector.EventID(collector.SourcePagerDuty, cmp.Or(h.incidentID, h.subject), h.action,
			h.at.Truncate(time.Second).UTC().Format(time.RFC3339), h.sourceID)
	}
	pd := h.pd
	return collector.Event{
		ID:        id,
		Source:    collector.SourcePagerDuty,
		Kind:      "pagerduty." + h.eventType,
		At:        h.at,
		Summary:   h.summary(),
		PagerDuty: &pd,
		Ref: collector.Ref{
			PagerDutyIncidentID: h.incidentID,
			PagerDutyEventID:    h.sourceID,
		},
	}
}

// summary is a sentence saying who did what to which incident.
func (h *happening) summary() string {
	l := &h.pd
	who := l.Agent
	// long names the incident with its title, short by number.
	long, short := h.incidentID, h.incidentID
	if n := l.IncidentNumber; n != "" {
		short = "#" + n
		long = short
		if t := l.Title; t != "" {
			long += " " + t
		}
	} else if t := l.Title; t != "" {
		long, short = t, t
	}
	if long == "" {
		long, short = "an incident", "an incident"
	}
	by := func(s string) string {
		if who != "" {
			return s + " by " + who
		}
		return s
	}
	actor := func(verb, rest string) string {
		if who != "" {
			return who + " " + verb + " " + rest
		}
		return rest + " " + verb
	}

	var s string
	switch h.eventType {
	case "incident.triggered":
		s = long + " triggered"
		if svc := l.ServiceName; svc != "" {
			s += " on " + svc
		}
		if a := collector.JoinAssignees(l.Assignees); a != "" {
			s += ", assigned to " + a
		}
	case "incident.acknowledged":
		s = actor("acknowledged", long)
	case "incident.unacknowledged":
		s = actor("unacknowledged", long)
	case "incident.resolved":
		s = by(short + " resolved")
		if r := l.ResolveReason; r != "" {
			s += " (" + r + ")"
		}
	case "incident.reopened":
		s = actor("reopened", long)
	case "incident.escalated":
		s = long + " escalated"
		if a := collector.JoinAssignees(l.Assignees); a != "" {
			s += " to " + a
		}
	case "incident.reassigned":
		s = actor("reassigned", short)
		if a := collector.JoinAssignees(l.Assignees); a != "" {
			s += " to " + a
		}
	case "incident.delegated":
		s = actor("delegated", short)
		if p := l.EscalationPolicy; p != "" {
			s += " to " + p
		}
	case "incident.annotated":
		if who != "" {
			s = "Note by " + who + ": " + l.Note
		} else {
			s = "Note on " + short + ": " + l.Note
		}
	case "incident.priority_updated":
		if p := l.Priority; p != "" {
			s = "Priority of " + short + " changed to " + p
		} else {
			s = "Priority of " + short + " removed"
		}
	case "incident.service_updated":
		s = by(short + " moved to service " + cmp.Or(l.ServiceName, l.ServiceID, "(unknown)"))
	case "incident.incident_type.changed":
		s = by("Type of " + short + " changed to " + cmp.Or(l.IncidentType, "the default"))
	case "incident.status_update_published":
		s = by("Status update on "+short) + ": " + l.Message
	case "incident.responder.added":
		s = actor("asked", cmp.Or(l.Responder, "a responder")) + " to respond to " + short
		if who == "" {
			s = cmp.Or(l.Responder, "A responder") + " was asked to respond to " + short
		}
		if m := l.Message; m != "" {
			s += ": " + m
		}
	case "incident.responder.replied":
		s = cmp.Or(l.Responder, who, "A responder") + " replied to the request to respond to " + short
		if st := l.ResponderState; st != "" {
			s += " (" + st + ")"
		}
	case "incident.conference_bridge.updated":
		s = by("Conference bridge of " + short + " updated")
	case "incident.custom_field_values.updated":
		s = by("Custom fields of " + short + " updated")
	case "incident.workflow.started", "incident.workflow.completed":
		verb := "started"
		if h.eventType == "incident.workflow.completed" {
			verb = "completed"
		}
		s = "Workflow " + cmp.Or(l.Workflow, "(unnamed)") + " " + verb + " on " + short
	case "service.created", "service.updated", "service.deleted":
		s = by("PagerDuty service " + cmp.Or(l.ServiceName, h.subject, "(unknown)") + " " + h.action[len("service."):])
	default:
		switch {
		case h.detail != "":
			s = short + ": " + h.detail
		case h.incidentID != "":
			s = by("PagerDuty " + h.eventType + " on " + short)
		default:
			s = by("PagerDuty " + h.eventType)
		}
	}
	return truncate(s, 400)
}
