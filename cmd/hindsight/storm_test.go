package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stormNotification is one Alertmanager notification of a node outage
// across a fleet: n firing alerts of one group, as compact as Alertmanager
// allows (labels and startsAt; no annotations).
func stormNotification(n int, start time.Time) []byte {
	type alert struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
	}
	m := map[string]any{
		"version": "4", "status": "firing", "receiver": "hindsight",
		"groupKey":    `{}:{alertname="NodeDown"}`,
		"groupLabels": map[string]string{"alertname": "NodeDown"},
	}
	alerts := make([]alert, n)
	for i := range alerts {
		alerts[i] = alert{Status: "firing", StartsAt: start.Add(time.Duration(i) * time.Millisecond),
			Labels: map[string]string{"alertname": "NodeDown", "job": "node", "instance": fmt.Sprintf("node-%04d:9100", i)}}
	}
	m["alerts"] = alerts
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// TestLargeNotification: one notification of 6,800 alerts (about 750 KB,
// under the 1 MiB body limit) is stored whole and correlated, and its
// retry (Alertmanager re-sends a group) stores nothing twice. It used to
// be answered 503 "Txn is too big to fit into one request" on every
// retry, so a storm was never stored.
func TestLargeNotification(t *testing.T) {
	skipShort(t)
	// Past the default api.max_alerts_per_notification (1000): an
	// operator who raised it gets the whole notification stored.
	d := startInProcess(t, t.TempDir(), "api:\n  max_alerts_per_notification: 10000\n")
	const n = 6800
	body := stormNotification(n, time.Now().UTC().Add(-time.Hour).Truncate(time.Minute))
	require.Greater(t, len(body), 700<<10)
	require.Less(t, len(body), 1<<20, "under the default api.max_body_bytes")

	for try := range 2 { // the notification, then Alertmanager's re-send
		code, resp := postJSON(t, d.URL+"/api/v1/ingest/alertmanager", body)
		require.Equal(t, http.StatusOK, code, "try %d: %s", try, resp)
		require.JSONEq(t, fmt.Sprintf(`{"status":"success","accepted":%d}`, n), string(resp))

		evs := listEvents(t, d.URL)
		require.Len(t, evs, n, "try %d: every alert stored once", try)
		instances := map[string]bool{}
		for _, ev := range evs {
			require.NotNil(t, ev.IncidentID, "event %s is correlated", ev.ID)
			require.NotEmpty(t, *ev.IncidentID)
			instances[ev.Ref.Fingerprint] = true
		}
		require.Len(t, instances, n)
	}
	incs := listIncidents(t, d.URL)
	require.NotEmpty(t, incs)
	alerts := 0
	for _, inc := range incs {
		alerts += len(getIncident(t, d.URL, inc.ID).Timeline)
	}
	require.Equal(t, n, alerts, "every alert is on one incident's timeline")
}
