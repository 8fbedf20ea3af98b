package pagerduty_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
)

func FuzzDecode(f *testing.F) {
	for _, name := range samples {
		b := readSample(f, name)
		f.Add(b)
		f.Add(b[:len(b)/2])                // truncated
		f.Add(append(bytes.Clone(b), '}')) // trailing garbage
		f.Add(bytes.Replace(b, []byte(`"incident.`), []byte(`"incident.future_`), 1))
		f.Add(bytes.Replace(b, []byte(`"event_type":"incident.`), []byte(`"event_type":"service.`), 1))
		f.Add(bytes.Replace(b, []byte(`"occurred_at":"2026`), []byte(`"occurred_at":"0001`), 1))
		f.Add(bytes.Replace(b, []byte(`"id":"Q2XK8LJ4N1ABCD"`), []byte(`"id":""`), -1))
		f.Add(bytes.Replace(b, []byte(`"number":4711`), []byte(`"number":"4711"`), 1))
		f.Add(bytes.Replace(b, []byte(`"resolve_reason":null`), []byte(`"resolve_reason":{"type":"merge_resolve_reason","incident":{"id":"Q1"}}`), 1))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"event":null}`, `{"event":{}}`, `{"event":[]}`,
		`{"event":{"event_type":"pagey.ping"}}`,
		`{"event":{"id":"1","event_type":"x","occurred_at":"2026-11-20T14:00:00Z"}}`,
		`{"event":{"id":"1","event_type":"incident.triggered","occurred_at":"2026-11-20T14:00:00Z","data":{}}}`,
		`{"event":{"id":"1","event_type":"incident.annotated","occurred_at":"2026-11-20T14:00:00+14:00","data":{"type":"incident_note","incident":{"id":"Q"}}}}`,
		`{"event":{"id":"1","event_type":"incident.x","occurred_at":"9999-12-31T23:59:59.999999999Z","data":{"type":"y","incident":7}}}`,
		`{"event":{"id":"1","event_type":"incident.responder.added","occurred_at":"2026-11-20T14:00:00Z","data":{"type":"incident_responder","incident":{"id":"Q"},"user":null}}}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		env, ev, err := pagerduty.Decode(body)
		if err != nil {
			require.Nil(t, env)
			require.Nil(t, ev)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, env)
		require.NotNil(t, env.Event)
		if ev == nil {
			require.Equal(t, pagerduty.EventTypePing, env.Event.EventType)
			return
		}
		require.NoError(t, ev.Validate())
		require.Nil(t, collector.CheckJSONText(body), "a body that decodes is clean JSON text")
		require.Nil(t, collector.CheckEvent(config.DefaultLimits(), "", ev), "a decoded event is within the limits")
		require.NotContains(t, ev.Summary, "\x00")
		require.Equal(t, collector.SourcePagerDuty, ev.Source)
		require.Equal(t, "pagerduty."+env.Event.EventType, ev.Kind)
		require.True(t, strings.HasPrefix(ev.ID, "ev-"))
		require.False(t, ev.At.IsZero())
		require.Equal(t, time.UTC, ev.At.Location())
		require.Equal(t, env.Event.ID, ev.Ref.PagerDutyEventID)
		require.NotEmpty(t, ev.Summary)
		require.LessOrEqual(t, utf8.RuneCountInString(ev.Summary), 400)
		require.NotNil(t, ev.PagerDuty)
		for _, a := range ev.PagerDuty.Assignees {
			require.NotEmpty(t, a, "an assignee without a name")
		}
		if strings.HasPrefix(env.Event.EventType, "incident.") && ev.Ref.PagerDutyIncidentID == "" {
			// Only types PagerDuty does not document may lack the incident.
			require.NotContains(t, []string{pagerduty.KindTriggered, pagerduty.KindAcknowledged, pagerduty.KindResolved,
				pagerduty.KindAnnotated, pagerduty.KindPriorityUpdated}, ev.Kind)
		}

		_, again, err := pagerduty.Decode(body)
		require.NoError(t, err, "the same input decodes the same way")
		require.Equal(t, ev.ID, again.ID)
		require.Equal(t, ev.Summary, again.Summary)
	})
}
