package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// pdTriggered is a PagerDuty v3 incident.triggered webhook for a page on
// PagerDuty service pdService.
func pdTriggered(id, pdService string, at time.Time) string {
	return fmt.Sprintf(`{"event":{"id":"01EV%s","event_type":"incident.triggered","resource_type":"incident","occurred_at":%q,
"agent":{"id":"PUSER1","summary":"Dana Oncall","type":"user_reference"},
"data":{"id":%q,"type":"incident","html_url":"https://acme.pagerduty.com/incidents/%s","number":4711,"status":"triggered",
"created_at":%q,"title":"customers report errors","service":{"id":%q,"summary":"%s (prod)","type":"service_reference"},
"assignees":[{"id":"PUSER1","summary":"Dana Oncall","type":"user_reference"}],"urgency":"high"}}}`,
		id, at.Format(time.RFC3339), id, id, at.Format(time.RFC3339), pdService, pdService)
}

func deployStep(id, service, status string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"service":%q,"status":%q,"at":%q,"version":"v2.3.1","previous_version":"v2.3.0"}`,
		id, service, status, at.Format(time.RFC3339))
}

// TestCorrectionLandsOnItsIncident is issue 9's defect 4: a deploy lands
// on two incidents, a page's monitoring-gap incident C and an alert's
// incident A; after a merge into A, corrections sent to A must change A,
// also after recorrelations with the same and with new rules.
//
// The defect was seen with an 11-day-old page that took every later
// deploy (defect 5, fixed: such a page no longer does); here the deploy is
// of a dependency both incidents' services share, minutes before each.
func TestCorrectionLandsOnItsIncident(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {PagerDutyServiceIDs: []string{"PCHKOUT"}, DependsOn: []string{"ledger"}},
		"billing":  {PagerDutyServiceIDs: []string{"PBILL"}, DependsOn: []string{"ledger"}},
		"ledger":   {},
	}
	f := newFixtureWith(t, cfg)
	now := time.Now().UTC().Truncate(time.Second)

	// The deploy of ledger; a page on billing two minutes later; checkout's
	// alert eight minutes after the page (past correlation.storm_window,
	// so not one failure of what they share).
	code, b := f.do(t, "POST", "/api/v1/ingest/deploys", deployStep("d-1", "ledger", "succeeded", now.Add(-30*time.Minute)))
	require.Equal(t, http.StatusOK, code, string(b))
	code, b = f.do(t, "POST", "/api/v1/ingest/pagerduty", pdTriggered("QOLD", "PBILL", now.Add(-28*time.Minute)))
	require.Equal(t, http.StatusOK, code, string(b))
	f.send(t, webhook("checkout", "HighErrorRate", "firing", now.Add(-20*time.Minute), time.Time{}))
	f.send(t, webhook("search", "HighLatency", "firing", now.Add(-19*time.Minute), time.Time{}))

	var a, c, other string
	for _, v := range f.list(t) {
		switch {
		case v.MonitoringGap:
			c = v.ID
		case slices.Contains(v.Services, "checkout"):
			a = v.ID
		case slices.Contains(v.Services, "search"):
			other = v.ID
		}
	}
	require.NotEmpty(t, a, "today's alert incident")
	require.NotEmpty(t, c, "the page's monitoring-gap incident")
	require.NotEmpty(t, other)
	hasDeploy := func(id string) bool {
		return slices.ContainsFunc(f.incident(t, id).Timeline, func(e correlate.Entry) bool { return e.Ref.DeployID == "d-1" })
	}
	require.True(t, hasDeploy(a) && hasDeploy(c), "the deploy is on both incidents (the setting of the defect)")
	titleC := f.incident(t, c).Title

	code, b = f.do(t, "POST", "/api/v1/incidents/"+a+"/merge", `{"from":["`+other+`"],"author":"alice"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+a, `{"title":"Checkout errors after d-1","author":"alice"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	code, b = f.do(t, "POST", "/api/v1/incidents/"+a+"/notes", `{"text":"rolled back d-1","author":"alice"}`)
	require.Equal(t, http.StatusCreated, code, string(b))

	// Split the merged search alert off again and correct the new
	// incident: the correction lands there, not on A.
	var searchEntry string
	for _, e := range f.incident(t, a).Timeline {
		if e.Service == "search" {
			searchEntry = e.ID
		}
	}
	code, b = f.do(t, "POST", "/api/v1/incidents/"+a+"/split", `{"entries":["`+searchEntry+`"],"author":"alice"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	var n correlate.View
	require.NoError(t, json.Unmarshal(b, &n))
	code, b = f.do(t, "PATCH", "/api/v1/incidents/"+n.ID, `{"severity":"SEV4","author":"alice"}`)
	require.Equal(t, http.StatusOK, code, string(b))

	check := func(when string, a string) {
		t.Helper()
		for _, v := range f.list(t) {
			if slices.Contains(v.Services, "search") {
				require.Equal(t, "SEV4", v.Severity.Effective, "%s: the split-off incident has its override", when)
			} else {
				require.Nil(t, v.Severity.Override, "%s: %s has no override", when, v.ID)
			}
		}
		va := f.incident(t, a)
		require.Equal(t, "Checkout errors after d-1", va.Title, "%s: the title landed on A", when)
		require.True(t, slices.ContainsFunc(va.Timeline, func(e correlate.Entry) bool { return e.Summary == "rolled back d-1" }),
			"%s: the note landed on A", when)
		vc := f.incident(t, c)
		require.Equal(t, titleC, vc.Title, "%s: C keeps its title", when)
		require.False(t, slices.ContainsFunc(vc.Timeline, func(e correlate.Entry) bool { return e.Summary == "rolled back d-1" }),
			"%s: the note is not on C", when)
	}
	check("live", a)

	code, b = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	check("after recorrelate", a)

	// New rules that give every incident another id: the corrections
	// follow the events of the incident they were sent to.
	cfg2 := *cfg
	cfg2.Correlation.GroupBy = []string{"env"}
	f.cfg.Store(&cfg2)
	f.proj.SetConfig(&cfg2)
	code, b = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	var a2 string
	for _, v := range f.list(t) {
		if slices.Contains(v.Services, "checkout") && !v.MonitoringGap {
			a2 = v.ID
		}
	}
	require.NotEmpty(t, a2)
	require.NotEqual(t, a, a2, "new rules, new id")
	check("after recorrelate under new rules", a2)
}
