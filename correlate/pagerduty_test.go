package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

const amGroupKey = `{}/{severity="page"}:{alertname="HighErrorRate", service="checkout"}`

// pdEv is a PagerDuty event of incident #4711 (pdID) with what pd adds.
func pdEv(pdID, action string, at time.Time, pd collector.PagerDuty) collector.Event {
	pd.IncidentNumber = "4711"
	pd.HTMLURL = "https://acme.pagerduty.com/incidents/" + pdID
	return collector.Event{
		ID:        collector.EventID("pagerduty", pdID, action, at.Format(time.RFC3339)),
		Source:    collector.SourcePagerDuty,
		Kind:      "pagerduty.incident." + action,
		At:        at,
		PagerDuty: &pd,
		Ref:       collector.Ref{PagerDutyIncidentID: pdID, PagerDutyEventID: "ev-" + action},
	}
}

func withGroupKey(ev collector.Event) collector.Event {
	a := *ev.Alert
	a.GroupKey = amGroupKey
	ev.Alert = &a
	return ev
}

func TestGroupKeyHashMatchesAlertmanager(t *testing.T) {
	// The PagerDuty sample raised by Alertmanager for the sample group.
	require.Equal(t, "1b100adc0cb9ad1750afb730fcf020b507b477f395f6f5277eba696d64a7092c", GroupKeyHash(amGroupKey))
}

func TestPagerDutyLinking(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {CustomerFacing: true, Tier: 1, PagerDutyServiceIDs: []string{"PCHKOUT"}}}
	cfg.PagerDuty.PriorityFloor = map[string]string{"P1": "SEV1"}
	key := GroupKeyHash(amGroupKey)
	incs, entries := project(t, cfg,
		withGroupKey(firing("checkout", "a", m(0))),
		pdEv("Q1", "triggered", m(1*time.Minute), collector.PagerDuty{IncidentKey: key, Priority: "P1", Assignees: []string{"Dana Oncall"}}),
		pdEv("Q1", "acknowledged", m(4*time.Minute), collector.PagerDuty{Agent: "Dana Oncall", AgentType: "user_reference"}),
		pdEv("Q1", "annotated", m(5*time.Minute), collector.PagerDuty{Note: "rolling back"}),
		// A page raised by hand on another service, with no alert behind it.
		pdEv("Q2", "triggered", m(30*time.Minute), collector.PagerDuty{ServiceName: "billing"}),
		pdEv("Q1", "resolved", m(20*time.Minute), collector.PagerDuty{}),
	)
	require.Len(t, incs, 2)
	chk := onlyIncident(t, incs, "checkout")
	require.Len(t, chk.PagerDuty, 1)
	pd := chk.PagerDuty[0]
	require.Equal(t, "resolved", pd.Status)
	require.Equal(t, m(4*time.Minute), pd.AcknowledgedAt)
	require.Contains(t, pd.LinkReason, "linked exactly")
	require.False(t, chk.MonitoringGap)

	var gap *Incident
	for _, inc := range incs {
		if inc.ID != chk.ID {
			gap = inc
		}
	}
	require.True(t, gap.MonitoringGap)
	require.Equal(t, "billing", gap.Anchor)

	var pdOnChk int
	for _, e := range entries {
		if e.Source == collector.SourcePagerDuty && e.IncidentID == chk.ID {
			pdOnChk++
			require.NotEmpty(t, e.Ref.PagerDutyEventID)
		}
	}
	require.Equal(t, 4, pdOnChk, "trigger, ack, note and resolve on the alert's incident")

	v := NewView(chk, nil, cfg, m(2*time.Hour))
	require.Equal(t, "SEV1", v.Severity.Suggested, "P1 sets the floor")
	require.True(t, strings.Contains(strings.Join(v.Severity.Reasons, "|"), "pagerduty.priority_floor"))
	require.NotNil(t, v.TimeToAcknowledgeSeconds)
	require.Equal(t, int64(240), *v.TimeToAcknowledgeSeconds)
	require.Equal(t, []string{"Dana Oncall"}, v.Responders)
	require.Len(t, v.PagerDuty, 1)
	require.Equal(t, "https://acme.pagerduty.com/incidents/Q1", v.PagerDuty[0].URL)
	require.Equal(t, StatusOpen, v.Status, "the alert still fires")
}

func TestPagerDutyByServiceMapping(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {PagerDutyServiceIDs: []string{"PCHKOUT"}}}
	ev := pdEv("Q9", "triggered", m(2*time.Minute), collector.PagerDuty{ServiceID: "PCHKOUT"})
	ev.Service = "checkout" // the collector maps the PagerDuty service
	incs, _ := project(t, cfg, firing("checkout", "a", m(0)), ev)
	require.Len(t, incs, 1)
	for _, inc := range incs {
		require.Contains(t, inc.PagerDuty[0].LinkReason, "maps to checkout")
	}
}

// TestPagerDutyMergeFollowed: responders merged one page into another in
// PagerDuty; the two incidents Hindsight had are one afterwards.
func TestPagerDutyMergeFollowed(t *testing.T) {
	cfg := config.Default()
	min := time.Minute
	a := pdEv("QA", "triggered", m(0), collector.PagerDuty{})
	a.Service = "checkout"
	a.PagerDuty.IncidentNumber = "100"
	b := pdEv("QB", "triggered", m(min), collector.PagerDuty{})
	b.Service = "search"
	b.ID += "b"
	b.PagerDuty.IncidentNumber = "101"
	res := pdEv("QB", "resolved", m(3*min), collector.PagerDuty{ResolveReason: "merge into [#100] checkout errors"})
	res.Service = "search"
	res.PagerDuty.IncidentNumber = "101"
	for _, batch := range []int{1, 10} {
		p := replay(t, cfg, batch, a, b, res)
		require.Equal(t, incidentOf(t, p, a.ID).ID, incidentOf(t, p, b.ID).ID, "batch %d", batch)
		tl := p.StoredTimeline(incidentOf(t, p, a.ID).ID)
		require.Len(t, tl, 3)
		require.Contains(t, tl[1].Reasons[len(tl[1].Reasons)-1], "responders merged PagerDuty incident #101 into #100")
	}
}

// TestPageLinkedByTitle: a page on a PagerDuty service no service maps to
// joins the open incident its Alertmanager title names.
func TestPageLinkedByTitle(t *testing.T) {
	cfg := config.Default()
	incs, entries := project(t, cfg,
		firing("checkout", "a", m(0)),
		pdEv("QX", "triggered", m(2*time.Minute), collector.PagerDuty{Title: "[FIRING:1] HighErrorRate checkout (prod)", ServiceName: "shop"}))
	require.Len(t, incs, 1)
	require.Contains(t, entries[1].Reasons[0], `the page's title "[FIRING:1] HighErrorRate checkout (prod)" names HighErrorRate on checkout`)
	incs, _ = project(t, cfg,
		firing("checkout", "a", m(0)),
		pdEv("QX", "triggered", m(2*time.Minute), collector.PagerDuty{Title: "Search is slow", ServiceName: "shop"}))
	require.Len(t, incs, 2, "a title that names no service of an open incident links nothing")
}
