package pagerduty_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
)

const incidentKey = "1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c"

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(tb, err)
	return t
}

func TestDecodeSamples(t *testing.T) {
	incident := collector.PagerDuty{
		IncidentNumber:   "4711",
		ServiceID:        "PCHKOUT",
		ServiceName:      "checkout (prod)",
		IncidentKey:      incidentKey,
		Priority:         "P1",
		Urgency:          "high",
		EscalationPolicy: "Checkout Primary",
		Title:            "[FIRING:1] HighErrorRate checkout prod",
		HTMLURL:          "https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD",
		Agent:            "checkout (prod)",
		AgentType:        "service_reference",
	}
	with := func(f func(*collector.PagerDuty)) collector.PagerDuty {
		p := incident
		f(&p)
		return p
	}
	tests := []struct {
		sample, kind, action, at, eventID, summary string
		pd                                         collector.PagerDuty
	}{{
		sample: sampleTriggered, kind: pagerduty.KindTriggered, action: "triggered",
		at: "2026-11-20T14:03:02.418Z", eventID: "01F8G2K4S3JY9V0QZ7W5X6T2AB",
		summary: "#4711 [FIRING:1] HighErrorRate checkout prod triggered on checkout (prod), assigned to Dana Oncall",
		pd:      with(func(p *collector.PagerDuty) { p.Status, p.Assignees = "triggered", []string{"Dana Oncall"} }),
	}, {
		sample: sampleAnnotated, kind: pagerduty.KindAnnotated, action: "annotated",
		at: "2026-11-20T14:11:47.902Z", eventID: "01F8G2P9QH6W3E2R1T0Y9U8I7O",
		summary: "Note by Dana Oncall: Rolling back checkout to v2.41.0; v2.42.0 introduced a connection pool regression.",
		pd: collector.PagerDuty{
			Agent: "Dana Oncall", AgentType: "user_reference",
			Note:    "Rolling back checkout to v2.41.0; v2.42.0 introduced a connection pool regression.",
			Title:   "[FIRING:1] HighErrorRate checkout prod",
			HTMLURL: "https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD",
		},
	}, {
		sample: sampleResolved, kind: pagerduty.KindResolved, action: "resolved",
		at: "2026-11-20T14:32:05.117Z", eventID: "01F8G34ZC8B7N6M5L4K3J2H1G0",
		summary: "#4711 resolved by checkout (prod)",
		pd:      with(func(p *collector.PagerDuty) { p.Status = "resolved" }),
	}}
	for _, tc := range tests {
		t.Run(tc.sample, func(t *testing.T) {
			env, ev, err := pagerduty.Decode(readSample(t, tc.sample))
			require.NoError(t, err)
			require.NotNil(t, env)
			require.NotNil(t, ev)
			require.NoError(t, ev.Validate())
			at := mustTime(t, tc.at)
			require.Equal(t, collector.SourcePagerDuty, ev.Source)
			require.Equal(t, tc.kind, ev.Kind)
			require.True(t, at.Equal(ev.At))
			require.Equal(t, time.UTC, ev.At.Location())
			require.Equal(t, pagerduty.EventKey(incidentID, tc.action, at), ev.ID)
			require.Equal(t, collector.EventID("pagerduty", incidentID, tc.action, at.Truncate(time.Second).Format(time.RFC3339)), ev.ID)
			require.Equal(t, collector.Ref{PagerDutyIncidentID: incidentID, PagerDutyEventID: tc.eventID}, ev.Ref)
			require.Equal(t, tc.summary, ev.Summary)
			require.NotNil(t, ev.PagerDuty)
			require.Equal(t, tc.pd, *ev.PagerDuty)
			require.Empty(t, ev.Labels, "a PagerDuty event's details are typed, not labels")
			require.Empty(t, ev.Service, "the handler maps services, not Decode")
			require.Equal(t, tc.eventID, env.Event.ID)
		})
	}
}

// variant returns the triggered sample with event fields replaced and
// data fields replaced (a nil value deletes the field).
func variant(t *testing.T, event, data map[string]any) []byte {
	t.Helper()
	doc := sampleDoc(t, sampleTriggered)
	for k, v := range event {
		if v == nil {
			delete(eventOf(doc), k)
		} else {
			eventOf(doc)[k] = v
		}
	}
	for k, v := range data {
		if v == nil {
			delete(dataOf(doc), k)
		} else {
			dataOf(doc)[k] = v
		}
	}
	return marshal(t, doc)
}

var dana = map[string]any{"id": "PJ0ONCALL", "type": "user_reference", "summary": "Dana Oncall"}

func TestDecodeKindsAndSummaries(t *testing.T) {
	tests := []struct {
		eventType string
		data      map[string]any
		summary   string
	}{
		{"incident.acknowledged", map[string]any{"status": "acknowledged"}, "Dana Oncall acknowledged #4711 [FIRING:1] HighErrorRate checkout prod"},
		{"incident.unacknowledged", nil, "Dana Oncall unacknowledged #4711 [FIRING:1] HighErrorRate checkout prod"},
		{"incident.resolved", map[string]any{"resolve_reason": map[string]any{"type": "merge_resolve_reason", "incident": map[string]any{"id": "Q9", "summary": "#4712"}}}, "#4711 resolved by Dana Oncall (merge into #4712)"},
		{"incident.reopened", nil, "Dana Oncall reopened #4711 [FIRING:1] HighErrorRate checkout prod"},
		{"incident.escalated", nil, "#4711 [FIRING:1] HighErrorRate checkout prod escalated to Dana Oncall"},
		{"incident.reassigned", nil, "Dana Oncall reassigned #4711 to Dana Oncall"},
		{"incident.delegated", nil, "Dana Oncall delegated #4711 to Checkout Primary"},
		{"incident.priority_updated", nil, "Priority of #4711 changed to P1"},
		{"incident.priority_updated", map[string]any{"priority": nil}, "Priority of #4711 removed"},
		{"incident.service_updated", nil, "#4711 moved to service checkout (prod) by Dana Oncall"},
		{"incident.incident_type.changed", map[string]any{"incident_type": map[string]any{"name": "security"}}, "Type of #4711 changed to security by Dana Oncall"},
	}
	for _, tc := range tests {
		t.Run(tc.eventType+" "+tc.summary, func(t *testing.T) {
			_, ev, err := pagerduty.Decode(variant(t, map[string]any{"event_type": tc.eventType, "agent": dana}, tc.data))
			require.NoError(t, err)
			require.Equal(t, "pagerduty."+tc.eventType, ev.Kind)
			require.Equal(t, tc.summary, ev.Summary)
			require.Equal(t, "Dana Oncall", ev.PagerDuty.Agent)
			require.Equal(t, incidentID, ev.Ref.PagerDutyIncidentID)
		})
	}
}

func TestDecodeChildTypes(t *testing.T) {
	incRef := map[string]any{"id": incidentID, "type": "incident_reference", "summary": "[#4711] HighErrorRate"}
	tests := []struct {
		eventType string
		data      map[string]any
		summary   string
		want      collector.PagerDuty
	}{{
		"incident.status_update_published",
		map[string]any{"id": "PSU1", "type": "incident_status_update", "message": "Checkout is degraded", "incident": incRef},
		"Status update on #4711 by Dana Oncall: Checkout is degraded",
		collector.PagerDuty{Message: "Checkout is degraded"},
	}, {
		"incident.responder.added",
		map[string]any{"type": "incident_responder", "incident": incRef, "user": map[string]any{"id": "PSAM", "summary": "Sam DBA"}, "message": "please look at postgres", "state": "pending"},
		"Dana Oncall asked Sam DBA to respond to #4711: please look at postgres",
		collector.PagerDuty{Responder: "Sam DBA", Message: "please look at postgres", ResponderState: "pending"},
	}, {
		"incident.responder.replied",
		map[string]any{"type": "incident_responder", "incident": incRef, "escalation_policy": map[string]any{"id": "PEPDB", "summary": "DBA on call"}, "state": "joined"},
		"DBA on call replied to the request to respond to #4711 (joined)",
		collector.PagerDuty{Responder: "DBA on call", ResponderState: "joined"},
	}, {
		"incident.conference_bridge.updated",
		map[string]any{"type": "incident_conference_bridge", "incident": incRef, "conference_url": "https://meet.example.com/x"},
		"Conference bridge of #4711 updated by Dana Oncall",
		collector.PagerDuty{},
	}, {
		"incident.workflow.started",
		map[string]any{"type": "incident_workflow_instance", "id": "PWF", "name": "Major incident", "incident": incRef},
		"Workflow Major incident started on #4711",
		collector.PagerDuty{Workflow: "Major incident"},
	}}
	for _, tc := range tests {
		t.Run(tc.eventType, func(t *testing.T) {
			body := marshal(t, map[string]any{"event": map[string]any{
				"id": "01EVT", "event_type": tc.eventType, "resource_type": "incident",
				"occurred_at": "2026-11-20T14:10:00.5Z", "agent": dana, "data": tc.data,
			}})
			_, ev, err := pagerduty.Decode(body)
			require.NoError(t, err)
			require.Equal(t, "pagerduty."+tc.eventType, ev.Kind)
			require.Equal(t, tc.summary, ev.Summary)
			require.Equal(t, incidentID, ev.Ref.PagerDutyIncidentID)
			want := tc.want
			want.IncidentNumber, want.Title, want.Agent, want.AgentType = "4711", "HighErrorRate", "Dana Oncall", "user_reference"
			require.Equal(t, want, *ev.PagerDuty)
		})
	}
}

func TestDecodeUnknownTypeKept(t *testing.T) {
	t.Run("incident data", func(t *testing.T) {
		body := variant(t, map[string]any{"event_type": "incident.action_invocation.created"}, nil)
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		require.NoError(t, ev.Validate())
		require.Equal(t, "pagerduty.incident.action_invocation.created", ev.Kind)
		require.Equal(t, incidentID, ev.Ref.PagerDutyIncidentID)
		require.Equal(t, "4711", ev.PagerDuty.IncidentNumber)
		require.Equal(t, "PagerDuty incident.action_invocation.created on #4711 by checkout (prod)", ev.Summary)
	})
	t.Run("unknown data type with an incident reference", func(t *testing.T) {
		body := marshal(t, map[string]any{"event": map[string]any{
			"id": "01X", "event_type": "incident.something_new", "occurred_at": "2026-11-20T14:10:00Z",
			"data": map[string]any{"type": "incident_something", "incident": map[string]any{"id": incidentID}, "weird": []any{1, 2}},
		}})
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		require.Equal(t, "pagerduty.incident.something_new", ev.Kind)
		require.Equal(t, incidentID, ev.Ref.PagerDutyIncidentID)
	})
	t.Run("no data at all", func(t *testing.T) {
		body := []byte(`{"event":{"id":"01Y","event_type":"team.updated","occurred_at":"2026-11-20T14:10:00Z"}}`)
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		require.NoError(t, ev.Validate())
		require.Equal(t, "pagerduty.team.updated", ev.Kind)
		require.Equal(t, "PagerDuty team.updated", ev.Summary)
		require.Equal(t, "01Y", ev.Ref.PagerDutyEventID)
	})
	t.Run("data of an unexpected shape", func(t *testing.T) {
		body := []byte(`{"event":{"id":"01Z","event_type":"incident.future","occurred_at":"2026-11-20T14:10:00Z","data":{"type":"incident_future","incident":"not an object","user":7}}}`)
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		require.Equal(t, "pagerduty.incident.future", ev.Kind)
	})
	t.Run("service event", func(t *testing.T) {
		body := []byte(`{"event":{"id":"01S","event_type":"service.updated","resource_type":"service","occurred_at":"2026-11-20T14:10:00Z","agent":{"summary":"Dana Oncall","type":"user_reference"},"data":{"id":"PCHKOUT","type":"service","summary":"checkout (prod)"}}}`)
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		require.Equal(t, "pagerduty.service.updated", ev.Kind)
		require.Equal(t, "PagerDuty service checkout (prod) updated by Dana Oncall", ev.Summary)
		require.Equal(t, "PCHKOUT", ev.PagerDuty.ServiceID)
		require.Empty(t, ev.Ref.PagerDutyIncidentID)
	})
}

func TestDecodePing(t *testing.T) {
	body := []byte(`{"event":{"id":"01PING","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-11-20T14:00:00.000Z","agent":null,"client":null,"data":{"message":"Hello from your friend Pagey!","type":"ping"}}}`)
	env, ev, err := pagerduty.Decode(body)
	require.NoError(t, err)
	require.Nil(t, ev)
	require.Equal(t, pagerduty.EventTypePing, env.Event.EventType)

	// A ping needs nothing but its type.
	env, ev, err = pagerduty.Decode([]byte(`{"event":{"event_type":"pagey.ping"}}`))
	require.NoError(t, err)
	require.Nil(t, ev)
	require.NotNil(t, env)
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", []byte(``), "invalid JSON: the body is empty"},
		{"not JSON", []byte(`event=1`), "invalid JSON"},
		{"array", []byte(`[{"event":{}}]`), "got an array"},
		{"truncated", readSample(t, sampleTriggered)[:100], "truncated"},
		{"trailing data", append(readSample(t, sampleTriggered), []byte(` {}`)...), "data after the top-level object"},
		{"no event", []byte(`{"messages":[]}`), "event: missing"},
		{"event null", []byte(`{"event":null}`), "event: missing"},
		{"event not an object", []byte(`{"event":"x"}`), "event: expected an object, got JSON string"},
		{"no event_type", variant(t, map[string]any{"event_type": nil}, nil), "event.event_type: missing"},
		{"event_type not a string", variant(t, map[string]any{"event_type": 7}, nil), "event.event_type: expected a string, got JSON number"},
		{"event_type garbage", variant(t, map[string]any{"event_type": "incident triggered; drop"}, nil), `event.event_type: "incident triggered; drop" is not a PagerDuty event type`},
		{"no id", variant(t, map[string]any{"id": nil}, nil), "event.id: missing"},
		{"no occurred_at", variant(t, map[string]any{"occurred_at": nil}, nil), "event.occurred_at: missing"},
		{"bad occurred_at", variant(t, map[string]any{"occurred_at": "x"}, nil), `event.occurred_at: "x" is not an RFC 3339 time`},
		{"zero occurred_at", variant(t, map[string]any{"occurred_at": "0001-01-01T00:00:00Z"}, nil), `event.occurred_at: "0001-01-01T00:00:00Z" is not a plausible event time`},
		{"no data", variant(t, map[string]any{"data": nil}, nil), "event.data: missing"},
		{"data not an object", variant(t, map[string]any{"data": []any{}}, nil), "event.data: expected an object, got an array"},
		{"no incident id", variant(t, nil, map[string]any{"id": nil}), "event.data.id: missing"},
		{"number as string", variant(t, nil, map[string]any{"number": "4711"}), "event.data.number: expected a number, got JSON string"},
		{"service not an object", variant(t, nil, map[string]any{"service": "PCHKOUT"}), "event.data.service: expected an object, got JSON string"},
		{"assignee not an object", variant(t, nil, map[string]any{"assignees": []any{"Dana"}}), "event.data.assignees: expected an object, got JSON string"},
		{"note without incident", []byte(`{"event":{"id":"1","event_type":"incident.annotated","occurred_at":"2026-11-20T14:11:47Z","data":{"type":"incident_note","content":"x"}}}`), "event.data.incident.id: missing"},
		{"note content not a string", []byte(`{"event":{"id":"1","event_type":"incident.annotated","occurred_at":"2026-11-20T14:11:47Z","data":{"type":"incident_note","content":1,"incident":{"id":"Q1"}}}}`), "event.data.content: expected a string, got JSON number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, ev, err := pagerduty.Decode(tc.body)
			require.Error(t, err)
			require.Nil(t, env)
			require.Nil(t, ev)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// The ID rule: a redelivery, or another webhook for the same happening,
// has the same ID; happenings with no REST counterpart never collide.
func TestDecodeIDs(t *testing.T) {
	decode := func(body []byte) string {
		_, ev, err := pagerduty.Decode(body)
		require.NoError(t, err)
		return ev.ID
	}
	base := decode(readSample(t, sampleTriggered))
	require.Equal(t, base, decode(readSample(t, sampleTriggered)))
	require.Equal(t, base, decode(variant(t, map[string]any{"id": "OTHER", "occurred_at": "2026-11-20T14:03:02.999Z"}, nil)),
		"the same happening to the second")
	require.NotEqual(t, base, decode(variant(t, map[string]any{"occurred_at": "2026-11-20T14:03:03.001Z"}, nil)))
	require.NotEqual(t, base, decode(variant(t, map[string]any{"event_type": "incident.acknowledged"}, nil)))
	require.NotEqual(t, base, decode(variant(t, nil, map[string]any{"id": "Q9OTHER"})))
	require.True(t, strings.HasPrefix(base, "ev-"))

	// Two responders asked in the same second stay two events.
	responder := func(eventID string) []byte {
		return marshal(t, map[string]any{"event": map[string]any{
			"id": eventID, "event_type": "incident.responder.added", "occurred_at": "2026-11-20T14:10:00Z",
			"data": map[string]any{"type": "incident_responder", "incident": map[string]any{"id": incidentID}},
		}})
	}
	require.NotEqual(t, decode(responder("A")), decode(responder("B")))
	require.Equal(t, decode(responder("A")), decode(responder("A")))
}

func TestServiceFor(t *testing.T) {
	cfg := testConfig()
	require.Equal(t, "checkout", pagerduty.ServiceFor(cfg, "PCHKOUT"))
	require.Equal(t, "payments", pagerduty.ServiceFor(cfg, "PPAYMNT"))
	require.Empty(t, pagerduty.ServiceFor(cfg, "PUNKNOWN"))
	require.Empty(t, pagerduty.ServiceFor(cfg, ""))
	require.Empty(t, pagerduty.ServiceFor(nil, "PCHKOUT"))
	// Listed twice: the first name wins, whatever the map order.
	s := cfg.Services["payments"]
	s.PagerDutyServiceIDs = append(s.PagerDutyServiceIDs, "PCHKOUT")
	cfg.Services["payments"] = s
	for range 20 {
		require.Equal(t, "checkout", pagerduty.ServiceFor(cfg, "PCHKOUT"))
	}
}
