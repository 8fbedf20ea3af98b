package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

func escalationConfig() *config.Config {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {CustomerFacing: true, Tier: 1, DependsOn: []string{"postgres"}},
		"payments": {CustomerFacing: true, Tier: 1, DependsOn: []string{"postgres"}},
		"postgres": {Tier: 3},
	}
	return cfg
}

func warning(service, name, instance string, start time.Time) collector.Event {
	ev := alert(service, name, instance, "firing", start, time.Time{}, "severity", "warning")
	ev.Alert.Severity = "warning"
	return ev
}

func severityOverride(incID, author, level string, at time.Time) collector.Event {
	return collector.Event{
		ID: collector.EventID("hindsight", incID, author, level, at.String()), Source: collector.SourceHindsight,
		Kind: KindIncidentUpdated, At: at, Summary: author + " changed the severity",
		Labels: map[string]string{LabelIncidentID: incID, LabelAuthor: author, LabelSeverity: level},
	}
}

// correlateAll runs events through one correlator, the overrides after
// the incident exists, and returns the only incident with its timeline.
func correlateAll(t *testing.T, cfg *config.Config, evs []collector.Event, overrides func(id string) []collector.Event) (*Incident, Timeline) {
	t.Helper()
	c := NewCorrelator(cfg, State{})
	incs := map[string]*Incident{}
	var tl Timeline
	seq := uint64(0)
	apply := func(evs []collector.Event) {
		for _, ev := range evs {
			require.NoError(t, ev.Validate())
			seq++
			c.Apply(LoggedEvent{Seq: seq, Event: ev})
			ch := c.Flush()
			for id, inc := range ch.Incidents {
				incs[id] = inc
			}
			tl = append(tl, ch.Entries...)
		}
	}
	apply(evs)
	require.Len(t, incs, 1, "one incident")
	var inc *Incident
	for _, i := range incs {
		inc = i
	}
	apply(overrides(inc.ID))
	for _, e := range tl {
		require.Equal(t, inc.ID, e.IncidentID)
	}
	return inc, tl
}

// TestSeverityHistoryEscalation: a warning on a database (SEV5), then a
// critical alert on the customer-facing checkout that depends on it (SEV4:
// a blip so far), critical for 15 minutes (SEV3), payments critical too
// (SEV2: two customer-facing services), both for an hour (SEV1), a person
// setting SEV3 and later clearing the override: each period with its
// exact times and reason, and the time at each level adding up to the
// incident's duration.
func TestSeverityHistoryEscalation(t *testing.T) {
	cfg := escalationConfig()
	min := time.Minute
	evs := []collector.Event{
		warning("postgres", "ReplicationLag", "pg-0", m(0)),
		firing("checkout", "a", m(5*min)),
	}
	// A storm of the same alert on other instances changes nothing.
	for i := range 200 {
		evs = append(evs, firing("checkout", fmt.Sprintf("i-%d", i), m(6*min+time.Duration(i)*time.Second)))
	}
	evs = append(evs,
		firing("payments", "p", m(25*min)),
		resolved("checkout", "a", m(5*min), m(70*min)),
		resolved("payments", "p", m(25*min), m(70*min)),
		alert("postgres", "ReplicationLag", "pg-0", "resolved", m(0), m(70*min), "severity", "warning"),
	)
	for i := range 200 {
		evs = append(evs, resolved("checkout", fmt.Sprintf("i-%d", i), m(6*min+time.Duration(i)*time.Second), m(70*min)))
	}
	inc, tl := correlateAll(t, cfg, evs, func(id string) []collector.Event {
		return []collector.Event{
			severityOverride(id, "dana", "SEV3", m(40*min)),
			severityOverride(id, "dana", "", m(50*min)),
		}
	})

	now := m(3 * time.Hour)
	v := NewView(inc, tl, cfg, now)
	require.Equal(t, StatusResolved, v.Status)
	at := func(d time.Duration) time.Time { return m(d) }
	two := "checkout, payments customer-facing and alert HighErrorRate is critical and checkout is tier 1 and 2 customer-facing services (checkout, payments)"
	require.Equal(t, []SeverityPeriod{
		{Level: "SEV5", Since: at(0), Until: at(5 * min), Seconds: 300, Reason: "no other rule matched (the default level)"},
		{Level: "SEV4", Since: at(5 * min), Until: at(20 * min), Seconds: 900, Reason: "alert HighErrorRate is critical"},
		{Level: "SEV3", Since: at(20 * min), Until: at(25 * min), Seconds: 300, Reason: "checkout customer-facing and alert HighErrorRate is critical and lasting 15m"},
		{Level: "SEV2", Since: at(25 * min), Until: at(40 * min), Seconds: 900, Reason: two},
		{Level: "SEV3", Since: at(40 * min), Until: at(50 * min), Seconds: 600, Reason: "set by hand (dana at 2026-11-20T14:40:00Z)", Override: true},
		{Level: "SEV2", Since: at(50 * min), Until: at(65 * min), Seconds: 900, Reason: two},
		{Level: "SEV1", Since: at(65 * min), Until: at(70 * min), Seconds: 300, Reason: two + " and lasting 1h"},
	}, v.Severity.History)

	// The history ends where the view does.
	var total int64
	for _, p := range v.Severity.History {
		total += p.Seconds
	}
	require.Equal(t, v.Impact.DurationSeconds, total)
	require.Equal(t, v.Severity.Effective, v.Severity.History[len(v.Severity.History)-1].Level)
	require.Nil(t, v.Severity.Override, "the override was cleared")

	// The incident list reads no timeline and shows no history.
	require.Nil(t, NewView(inc, nil, cfg, now).Severity.History)
}

// TestSeverityHistoryOpenAndOverrides: an open incident's history runs to
// now; an override stays in force to the end and is what the view says;
// a PagerDuty priority floor lifts the level from the page on.
func TestSeverityHistoryOpenAndOverrides(t *testing.T) {
	cfg := escalationConfig()
	cfg.PagerDuty.PriorityFloor = map[string]string{"P1": "SEV1"}
	min := time.Minute
	page := collector.Event{
		ID: "ev-page-1", Source: collector.SourcePagerDuty, Kind: "pagerduty.incident.triggered", At: m(10 * min),
		Service: "postgres", Summary: "page",
		PagerDuty: &collector.PagerDuty{Priority: "P1", IncidentNumber: "42"},
		Ref:       collector.Ref{PagerDutyIncidentID: "Q1"},
	}
	inc, tl := correlateAll(t, cfg, []collector.Event{warning("postgres", "ReplicationLag", "pg-0", m(0)), page},
		func(id string) []collector.Event {
			return []collector.Event{severityOverride(id, "lee", "SEV3", m(20*min))}
		})
	now := m(25 * min)
	v := NewView(inc, tl, cfg, now)
	require.Equal(t, StatusOpen, v.Status)
	require.Equal(t, "SEV3", v.Severity.Effective)
	require.Equal(t, []SeverityPeriod{
		{Level: "SEV5", Since: m(0), Until: m(10 * min), Seconds: 600, Reason: "no other rule matched (the default level)"},
		{Level: "SEV1", Since: m(10 * min), Until: m(20 * min), Seconds: 600,
			Reason: "PagerDuty priority P1 of #42 sets at least SEV1 (pagerduty.priority_floor)"},
		{Level: "SEV3", Since: m(20 * min), Until: now, Seconds: 300, Reason: "set by hand (lee at 2026-11-20T14:20:00Z)", Override: true},
	}, v.Severity.History)
}

// TestSeverityHistoryOverrideAfterEnd: a severity set during the review,
// after the incident ended, is the effective one but changes no period of
// the history, which tells what was in force during the incident.
func TestSeverityHistoryOverrideAfterEnd(t *testing.T) {
	cfg := escalationConfig()
	min := time.Minute
	inc, tl := correlateAll(t, cfg, []collector.Event{
		warning("postgres", "ReplicationLag", "pg-0", m(0)),
		alert("postgres", "ReplicationLag", "pg-0", "resolved", m(0), m(10*min), "severity", "warning"),
	}, func(id string) []collector.Event {
		return []collector.Event{severityOverride(id, "kim", "SEV2", m(2*time.Hour))}
	})
	v := NewView(inc, tl, cfg, m(3*time.Hour))
	require.Equal(t, "SEV2", v.Severity.Effective)
	require.Equal(t, []SeverityPeriod{
		{Level: "SEV5", Since: m(0), Until: m(10 * min), Seconds: 600, Reason: "no other rule matched (the default level)"},
	}, v.Severity.History)
}
