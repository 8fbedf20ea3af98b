package api

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
)

// webhook is an Alertmanager notification with one alert.
func webhook(service, name, status string, start, end time.Time) string {
	endText := "0001-01-01T00:00:00Z"
	if !end.IsZero() {
		endText = end.Format(time.RFC3339)
	}
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=%s}","truncatedAlerts":0,"status":%q,"receiver":"hindsight",
"groupLabels":{"alertname":%q},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093",
"alerts":[{"status":%q,"labels":{"alertname":%q,"service":%q,"severity":"critical","cluster":"eu"},"annotations":{"summary":"%s is failing"},
"startsAt":%q,"endsAt":%q,"generatorURL":"http://prom/graph","fingerprint":"%016x"}]}`,
		name, status, name, status, name, service, service, start.Format(time.RFC3339), endText, fingerprint(service+name))
}

func fingerprint(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (f *fixture) list(t *testing.T) []correlate.View {
	t.Helper()
	code, b := f.do(t, "GET", "/api/v1/incidents", "")
	require.Equal(t, http.StatusOK, code, string(b))
	var list struct{ Incidents []correlate.View }
	require.NoError(t, json.Unmarshal(b, &list))
	return list.Incidents
}

func (f *fixture) send(t *testing.T, body string) {
	t.Helper()
	code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", body)
	require.Equal(t, http.StatusOK, code, string(b))
}

func TestMergeAndSplit(t *testing.T) {
	f := newFixture(t)
	start := time.Now().UTC().Add(-20 * time.Minute).Truncate(time.Second)
	f.send(t, webhook("search", "HighLatency", "firing", start, time.Time{}))
	f.send(t, webhook("billing", "QueueBacklog", "firing", start.Add(time.Minute), time.Time{}))
	incs := f.list(t)
	require.Len(t, incs, 2, "unrelated services: two incidents")
	into, from := incs[1].ID, incs[0].ID // newest first

	for _, c := range []struct {
		body string
		code int
		want string
	}{
		{`{}`, 400, "from: missing"},
		{`{"from":["` + into + `"]}`, 400, "cannot be merged into itself"},
		{`{"from":["inc-nope"]}`, 404, `from: incident \"inc-nope\" not found`},
		{`{"form":["` + from + `"]}`, 400, `unknown field \"form\"`},
	} {
		code, b := f.do(t, "POST", "/api/v1/incidents/"+into+"/merge", c.body)
		require.Equal(t, c.code, code, string(b))
		require.Contains(t, string(b), c.want)
	}
	require.Len(t, f.list(t), 2, "refused merges changed nothing")

	code, b := f.do(t, "POST", "/api/v1/incidents/"+into+"/merge", `{"from":["`+from+`"],"author":"alice"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	var v correlate.View
	require.NoError(t, json.Unmarshal(b, &v))
	require.Equal(t, []string{"billing", "search"}, v.Services)
	require.Len(t, v.Alerts, 2)
	require.Len(t, v.Timeline, 3, "two alerts and the merge")
	require.Equal(t, "incident.merged", v.Timeline[2].Kind)

	list := f.list(t)
	require.Len(t, list, 1, "the merged incident is no longer listed")
	old := f.incident(t, from)
	require.Equal(t, correlate.StatusMerged, old.Status)
	require.Equal(t, into, old.MergedInto)
	code, b = f.do(t, "POST", "/api/v1/incidents/"+from+"/notes", `{"text":"late note"}`)
	require.Equal(t, http.StatusConflict, code, string(b))
	require.Contains(t, string(b), "merged into "+into)

	// Split billing's alert off again: it moves with all its entries.
	var billing string
	for _, e := range v.Timeline {
		if e.Service == "billing" {
			billing = e.ID
		}
	}
	code, b = f.do(t, "POST", "/api/v1/incidents/"+into+"/split", `{"entries":["ent-nope"]}`)
	require.Equal(t, http.StatusNotFound, code, string(b))
	require.Contains(t, string(b), `\"ent-nope\" is not on the timeline`)

	f.send(t, webhook("billing", "QueueBacklog", "resolved", start.Add(time.Minute), start.Add(4*time.Minute)))
	code, b = f.do(t, "POST", "/api/v1/incidents/"+into+"/split", `{"entries":["`+billing+`"],"author":"bob"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	var n correlate.View
	require.NoError(t, json.Unmarshal(b, &n))
	require.NotEqual(t, into, n.ID)
	require.Equal(t, []string{"billing"}, n.Services)
	require.Len(t, n.Timeline, 2, "the firing and its resolution")
	require.Equal(t, start.Add(time.Minute), n.StartedAt)

	rest := f.incident(t, into)
	require.Equal(t, []string{"search"}, rest.Services)
	require.Equal(t, "incident.split", rest.Timeline[len(rest.Timeline)-1].Kind)
	require.Len(t, f.list(t), 2)

	// What people did survives a rebuild from the log.
	code, b = f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	after := f.list(t)
	require.Len(t, after, 2)
	ids := []string{after[0].ID, after[1].ID}
	require.ElementsMatch(t, []string{into, n.ID}, ids)
}
