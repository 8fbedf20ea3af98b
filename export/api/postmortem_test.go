package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

func (f *fixture) errorOf(t *testing.T, method, path, body string, want int) string {
	t.Helper()
	code, b := f.do(t, method, path, body)
	require.Equal(t, want, code, string(b))
	var e map[string]string
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e["error"]
}

func TestPublishNeedsReviewsWithTheAuthor(t *testing.T) {
	f := newFixture(t) // export.min_reviewers: 3
	id := f.ingestSamples(t)
	pm := "/api/v1/incidents/" + id + "/postmortem"
	require.Equal(t, correlate.PostmortemDraft, f.incident(t, id).Postmortem.Status)

	require.Contains(t, f.errorOf(t, "POST", pm+"/publish", "", http.StatusConflict), "has no author")

	code, b := f.do(t, "PATCH", pm, `{"author":"alice","status":"in_review"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	v := f.incident(t, id)
	require.Equal(t, "alice", v.Postmortem.Author)
	require.Equal(t, correlate.PostmortemInReview, v.Postmortem.Status)

	for _, r := range []string{`{"reviewer":"bob","approve":true}`, `{"reviewer":"carol","approve":true,"note":"ok"}`} {
		code, b = f.do(t, "POST", pm+"/reviews", r)
		require.Equal(t, http.StatusCreated, code, string(b))
	}
	msg := f.errorOf(t, "POST", pm+"/publish", "", http.StatusConflict)
	require.Contains(t, msg, "approved by bob, carol")
	require.Contains(t, msg, "missing the author (alice)", "two approvals, but not the author's")

	code, b = f.do(t, "POST", pm+"/reviews", `{"reviewer":"carol","approve":false,"note":"impact section is empty"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	code, b = f.do(t, "POST", pm+"/reviews", `{"reviewer":"alice","approve":true}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	msg = f.errorOf(t, "POST", pm+"/publish", "", http.StatusConflict)
	require.Contains(t, msg, "approved by bob, alice")
	require.Contains(t, msg, "missing 1 more reviewer", "carol withdrew her approval: fewer than export.min_reviewers")

	code, b = f.do(t, "POST", pm+"/reviews", `{"reviewer":"carol","approve":true}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	code, b = f.do(t, "POST", pm+"/publish", "")
	require.Equal(t, http.StatusOK, code, string(b))
	v = f.incident(t, id)
	require.Equal(t, correlate.PostmortemPublished, v.Postmortem.Status)
	require.Len(t, v.Postmortem.Reviews, 3, "one review per reviewer, the latest")
	require.Equal(t, "carol", v.Postmortem.Reviews[1].Reviewer)
	require.Empty(t, v.Postmortem.Reviews[1].Note, "carol's latest review replaced the one with a note")

	require.Contains(t, f.errorOf(t, "POST", pm+"/publish", "", http.StatusConflict), "already published")
	require.Contains(t, f.errorOf(t, "POST", pm+"/reviews", `{"reviewer":"dave","approve":true}`, http.StatusConflict), "is published")
	require.Contains(t, f.errorOf(t, "PATCH", pm, `{"status":"published"}`, http.StatusBadRequest), "publish with POST")
	require.Contains(t, f.errorOf(t, "POST", pm+"/reviews", `{"reviewer":"dave"}`, http.StatusBadRequest), "approve: missing")

	// The review is part of the projection: a rebuild from the log keeps it.
	code, b = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	require.Equal(t, correlate.PostmortemPublished, f.incident(t, id).Postmortem.Status)
	require.Equal(t, []string{"bob", "carol", "alice"}, f.incident(t, id).Postmortem.Approvals())
}

func TestActionItems(t *testing.T) {
	f := newFixture(t)
	id := f.ingestSamples(t)
	base := "/api/v1/incidents/" + id + "/action-items"

	require.Contains(t, f.errorOf(t, "POST", base, `{"owner":"dana"}`, http.StatusBadRequest), "text: missing")
	require.Contains(t, f.errorOf(t, "POST", base, `{"text":"x","due":"next week"}`, http.StatusBadRequest), "not a date")

	code, b := f.do(t, "POST", base, `{"text":"Canary stage for checkout deploys","owner":"dana","due":"2026-12-15","author":"sam"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	var item ActionItemView
	require.NoError(t, json.Unmarshal(b, &item))
	require.Equal(t, correlate.ActionOpen, item.Status)
	require.Equal(t, "2026-12-15", item.Due)
	require.Equal(t, id, item.IncidentID)
	code, b = f.do(t, "POST", base, `{"text":"Alert on checkout p99 before errors","owner":"priya","author":"sam"}`)
	require.Equal(t, http.StatusCreated, code, string(b))

	list := func(q string) []ActionItemView {
		code, b := f.do(t, "GET", "/api/v1/action-items"+q, "")
		require.Equal(t, http.StatusOK, code, string(b))
		var l struct {
			ActionItems []ActionItemView `json:"action_items"`
		}
		require.NoError(t, json.Unmarshal(b, &l))
		return l.ActionItems
	}
	require.Len(t, list(""), 2)
	require.Len(t, list("?owner=dana"), 1)
	require.Len(t, list("?service=checkout&status=open"), 2)
	require.Empty(t, list("?service=payments"))

	require.Contains(t, f.errorOf(t, "PATCH", base+"/"+item.ID, `{"status":"done"}`, http.StatusBadRequest), "author: missing", "an unsigned change is refused")
	code, b = f.do(t, "PATCH", base+"/"+item.ID, `{"status":"done","author":"dana"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	open := list("?status=open")
	require.Len(t, open, 1)
	require.Equal(t, "priya", open[0].Owner)
	require.Len(t, list("?status=done"), 1)

	require.Contains(t, f.errorOf(t, "PATCH", base+"/ai-nope", `{"status":"done","author":"dana"}`, http.StatusNotFound), "not on incident")
	require.Contains(t, f.errorOf(t, "PATCH", base+"/"+item.ID, `{"status":"closed","author":"dana"}`, http.StatusBadRequest), "not open or done")
	require.Contains(t, f.errorOf(t, "GET", "/api/v1/action-items?status=closed", "", http.StatusBadRequest), "not open or done")
	require.Len(t, f.incident(t, id).ActionItems, 2, "the incident carries its action items")
}

func TestCustomerVariantOverHTTP(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {CustomerFacing: true, Tier: 1}}
	f := newFixtureWith(t, cfg)
	id := f.ingestSamples(t)
	for _, format := range []string{"markdown", "html", "json"} {
		code, b := f.do(t, "GET", "/api/v1/incidents/"+id+"/postmortem?audience=customer&format="+format, "")
		require.Equal(t, http.StatusOK, code, string(b))
		out := string(b)
		require.Contains(t, out, "checkout")
		for _, internal := range []string{"checkout-7d9f", "d22af6f0ad867df4", "HighErrorRate", "runbooks.example.internal", "prometheus.example.internal", "score"} {
			require.NotContains(t, out, internal, "%s: %s", format, internal)
		}
	}
	require.Contains(t, f.errorOf(t, "GET", "/api/v1/incidents/"+id+"/postmortem?audience=boss", "", http.StatusBadRequest), `audience: "boss"`)
	require.Contains(t, f.errorOf(t, "GET", "/api/v1/incidents/"+id+"/postmortem?audience=customer&format=pdf", "", http.StatusBadRequest), "format:")
}
