package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

const replicatedConfig = `log:
  type: jetstream
  replicas: 3
correlation:
  resolve_after: 1s
`

// webhook is an Alertmanager notification for one alert.
func webhook(status, service, instance string, start time.Time) string {
	end := time.Time{}
	if status == "resolved" {
		end = start.Add(10 * time.Minute)
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "status": status, "receiver": "hindsight",
		"groupKey":    fmt.Sprintf("{}:{service=%q}", service),
		"groupLabels": map[string]string{"service": service}, "externalURL": "http://am:9093",
		"alerts": []map[string]any{{
			"status":      status,
			"labels":      map[string]string{"alertname": "HighErrorRate", "service": service, "instance": instance, "severity": "page"},
			"annotations": map[string]string{"summary": "errors"},
			"startsAt":    start, "endsAt": end, "generatorURL": "http://prom/graph",
		}},
	})
	return string(b)
}

func ingest(t *testing.T, d *daemontest.Daemon, body string) {
	t.Helper()
	code, b := do(t, http.MethodPost, d.URL+"/api/v1/ingest/alertmanager", "", body)
	require.Equal(t, http.StatusOK, code, "%s", b)
}

func getBody(t *testing.T, d *daemontest.Daemon, path string) string {
	t.Helper()
	code, b := do(t, http.MethodGet, d.URL+path, "", "")
	require.Equal(t, http.StatusOK, code, "%s", b)
	return string(b)
}

// snapshot is everything a replica answers about incidents and events.
// An open incident's answer depends on the wall clock (the time at its
// current severity runs on), so tests compare them once resolved.
func snapshot(t *testing.T, d *daemontest.Daemon) string {
	t.Helper()
	list := getBody(t, d, "/api/v1/incidents?limit=100")
	var l struct{ Incidents []struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(list), &l))
	parts := []string{list, getBody(t, d, "/api/v1/events?limit=1000")}
	for _, inc := range l.Incidents {
		parts = append(parts, getBody(t, d, "/api/v1/incidents/"+inc.ID))
	}
	return strings.Join(parts, "\n")
}

// requireSame waits until every replica answers byte for byte the same.
func requireSame(t *testing.T, ds ...*daemontest.Daemon) string {
	t.Helper()
	var want, got string
	ok := assert.Eventually(t, func() bool {
		want = snapshot(t, ds[0])
		for _, d := range ds[1:] {
			if got = snapshot(t, d); got != want {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond)
	if !ok {
		require.Equal(t, want, got, "replicas answer the same")
	}
	return want
}

// Two daemons on one three-node NATS cluster: an alert taken by either is
// on the other's incident with the same id, re-sends to the other replica
// are stored once, the incidents, timelines and events are byte for byte
// the same on both, one of them holds each lease; a replica stopped and
// restarted catches up; the whole cluster killed and restarted under them
// loses no acknowledged event and they recover by themselves; a
// recorrelation on one gives what the other has; a replica restored from
// another's storage goes on with them.
func TestReplicasShareTheEventStream(t *testing.T) {
	c := natstest.Start(t, 3)
	withNATS := func(o *daemon.Options) { o.NATSURL = c.URLs() }
	dirA, dirB := t.TempDir(), t.TempDir()
	a := daemontest.Start(t, dirA, replicatedConfig, withNATS)
	b := daemontest.Start(t, dirB, replicatedConfig, withNATS)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	ingest(t, a, webhook("firing", "checkout", "i-0", t0))
	var list struct{ Incidents []struct{ ID string } }
	require.NoError(t, json.Unmarshal([]byte(getBody(t, a, "/api/v1/incidents")), &list))
	require.Len(t, list.Incidents, 1, "read-your-writes on the replica that answered")
	id := list.Incidents[0].ID
	require.Eventually(t, func() bool {
		return strings.Contains(getBody(t, b, "/api/v1/incidents"), id)
	}, 10*time.Second, 20*time.Millisecond, "the other replica has the incident, same id")

	// Alerts to either replica, each re-sent to the other (an HA pair of
	// Alertmanagers), then resolved.
	for i := range 10 {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		body := webhook("firing", fmt.Sprintf("svc-%d", i%3), fmt.Sprintf("i-%d", i), t0.Add(time.Duration(i)*time.Minute))
		ingest(t, first, body)
		ingest(t, second, body)
	}
	for i := range 10 {
		ingest(t, a, webhook("resolved", fmt.Sprintf("svc-%d", i%3), fmt.Sprintf("i-%d", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	ingest(t, b, webhook("resolved", "checkout", "i-0", t0))
	time.Sleep(1500 * time.Millisecond) // resolve_after, on the wall clock
	snap := requireSame(t, a, b)
	var events struct{ Events []json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(getBody(t, a, "/api/v1/events?limit=1000")), &events))
	require.Len(t, events.Events, 22, "each alert state once, re-sends included")

	require.Eventually(t, func() bool {
		return a.Owner().Owns(lease.TaskExport) != b.Owner().Owns(lease.TaskExport)
	}, 10*time.Second, 20*time.Millisecond, "exactly one replica exports")

	// A stops; B takes more; A comes back on its storage and catches up.
	a.Stop()
	for i := range 5 {
		ingest(t, b, webhook("firing", "payments", fmt.Sprintf("late-%d", i), t0.Add(time.Duration(20+i)*time.Minute)))
		ingest(t, b, webhook("resolved", "payments", fmt.Sprintf("late-%d", i), t0.Add(time.Duration(20+i)*time.Minute)))
	}
	require.Eventually(t, func() bool { return b.Owner().Owns(lease.TaskExport) }, 10*time.Second, 20*time.Millisecond,
		"the lease moved to the replica left")
	a = daemontest.Start(t, dirA, replicatedConfig, withNATS)
	time.Sleep(1500 * time.Millisecond) // resolve_after
	after := requireSame(t, a, b)
	require.NotEqual(t, snap, after)

	// The whole cluster dies and comes back under the replicas.
	c.KillAll()
	for _, s := range c.Servers {
		s.Start(t)
	}
	c.WaitJetStream(t)
	require.Eventually(t, func() bool {
		code, _ := do(t, http.MethodPost, b.URL+"/api/v1/ingest/alertmanager", "", webhook("firing", "search", "after-restart", t0))
		return code == http.StatusOK
	}, 60*time.Second, 200*time.Millisecond, "appends work again once the cluster is back")
	ingest(t, a, webhook("resolved", "search", "after-restart", t0))
	require.NoError(t, a.WaitReady(30*time.Second))
	require.NoError(t, b.WaitReady(30*time.Second))
	time.Sleep(1500 * time.Millisecond) // resolve_after
	final := requireSame(t, a, b)
	require.NoError(t, json.Unmarshal([]byte(getBody(t, b, "/api/v1/events?limit=1000")), &events))
	require.Len(t, events.Events, 34, "every acknowledged event, once")
	require.Contains(t, final, "after-restart")

	// A recorrelation on one replica rebuilds its incidents from its copy
	// of the stream: the same as the other's.
	code, body := do(t, http.MethodPost, a.URL+"/api/v1/recorrelate", "", "")
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Equal(t, final, requireSame(t, a, b))

	// A replica restored from another's storage goes on from there.
	b.Stop()
	dirC := t.TempDir()
	require.NoError(t, os.CopyFS(dirC, os.DirFS(dirB)))
	b = daemontest.Start(t, dirB, replicatedConfig, withNATS)
	restored := daemontest.Start(t, dirC, replicatedConfig, withNATS)
	ingest(t, restored, webhook("firing", "ledger", "restored", t0))
	ingest(t, restored, webhook("resolved", "ledger", "restored", t0))
	time.Sleep(1500 * time.Millisecond) // resolve_after
	require.Contains(t, requireSame(t, a, b, restored), "restored")
}

// log.type jetstream without --nats.url is refused at start, by name.
func TestReplicatedLogNeedsNATSURL(t *testing.T) {
	_, err := daemontest.New(t, t.TempDir(), replicatedConfig)
	require.ErrorContains(t, err, "log.type jetstream needs --nats.url")
}
