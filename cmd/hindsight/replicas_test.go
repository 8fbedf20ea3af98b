package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

const replicasConfig = `log:
  type: jetstream
  replicas: 3
correlation:
  resolve_after: 1s
  max_lateness: 1000h
`

// oneAlert is an Alertmanager notification with one alert of service.
func oneAlert(status, service, instance string, start time.Time) []byte {
	end := time.Time{}
	if status == "resolved" {
		end = start.Add(5 * time.Minute)
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "status": status, "receiver": "hindsight",
		"groupKey":    fmt.Sprintf("{}:{service=%q}", service),
		"groupLabels": map[string]string{"service": service}, "externalURL": "http://am:9093",
		"alerts": []map[string]any{{
			"status":   status,
			"labels":   map[string]string{"alertname": "HighErrorRate", "service": service, "instance": instance, "severity": "page"},
			"startsAt": start, "endsAt": end, "generatorURL": "http://prom/graph",
		}},
	})
	return b
}

// Replica A of two is killed (SIGKILL) while it takes notifications; the
// load balancer sends what A no longer answers to B. Every notification
// either replica acknowledged is on B, and on A once it is restarted on its
// storage, and both answer the same incidents.
func TestReplicaKilledMidLoad(t *testing.T) {
	skipShort(t)
	c := natstest.Start(t, 3)
	args := []string{"--nats.url=" + c.URLs()}
	dirA := t.TempDir()
	a := startDaemon(t, dirA, replicasConfig, args...)
	b := startDaemon(t, t.TempDir(), replicasConfig, args...)
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)

	const workers, perWorker = 6, 40
	var (
		mu    sync.Mutex
		acked []string // alert instances acknowledged
		wg    sync.WaitGroup
		count = make(chan struct{}, workers*perWorker)
	)
	// send posts to A, or to B once A stops answering, retrying 503s.
	send := func(body []byte) error {
		for range 500 {
			for _, d := range []*daemonProc{a, b} {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				code, _, err := tryPostJSON(ctx, d.URL+"/api/v1/ingest/alertmanager", body)
				cancel()
				if err == nil && code == http.StatusOK {
					return nil
				}
				if err == nil && code != http.StatusServiceUnavailable {
					return fmt.Errorf("answer %d", code)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return fmt.Errorf("never acknowledged")
	}
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				inst := fmt.Sprintf("w%d-%d", w, i)
				start := t0.Add(time.Duration(i) * time.Minute)
				service := fmt.Sprintf("svc-%d", w)
				for _, status := range []string{"firing", "resolved"} {
					if err := send(oneAlert(status, service, inst, start)); err != nil {
						t.Errorf("%s %s: %v", inst, status, err)
						return
					}
				}
				mu.Lock()
				acked = append(acked, inst)
				mu.Unlock()
				count <- struct{}{}
			}
		})
	}
	for range workers * perWorker / 3 {
		<-count
	}
	a.Kill()
	wg.Wait()
	require.Len(t, acked, workers*perWorker)

	instances := func(d *daemonProc) []string {
		var out []string
		for _, ev := range listEvents(t, d.URL) {
			if ev.Kind == "alert.firing" {
				out = append(out, ev.Ref.Fingerprint)
			}
		}
		slices.Sort(out)
		return out
	}
	onB := listEvents(t, b.URL)
	require.Len(t, onB, 2*workers*perWorker, "every acknowledged alert state on B, once")

	a = startDaemon(t, dirA, replicasConfig, args...)
	eventually(t, 30*time.Second, "A caught up with the stream", func() error {
		if got, want := len(listEvents(t, a.URL)), len(onB); got != want {
			return fmt.Errorf("A has %d events, B %d", got, want)
		}
		return nil
	})
	require.Equal(t, instances(b), instances(a))
	time.Sleep(1500 * time.Millisecond) // resolve_after
	_, la := getBody(t, a.URL+"/api/v1/incidents?limit=1000")
	_, lb := getBody(t, b.URL+"/api/v1/incidents?limit=1000")
	require.Equal(t, string(lb), string(la), "both replicas answer the same incidents, byte for byte")
}

// A backup of one replica, taken while the replicas take notifications,
// restored into a new replica's storage: the new replica copies the rest
// from the stream, and answers byte for byte what the others do.
func TestReplicaBackupRestore(t *testing.T) {
	skipShort(t)
	c := natstest.Start(t, 3)
	withNATS := func(o *daemon.Options) { o.NATSURL = c.URLs() }
	a := startInProcess(t, t.TempDir(), replicasConfig, withNATS)
	b := startInProcess(t, t.TempDir(), replicasConfig, withNATS)
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	load := backupLoad(t0, 60)
	half := len(load) / 2
	for i, r := range load[:half] {
		d := []*daemonProc{a, b}[i%2]
		code, body := postJSON(t, d.URL+r.path, r.body)
		require.Equal(t, http.StatusOK, code, "%s", body)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "replica.backup")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, r := range load[half:] {
			d := []*daemonProc{a, b}[i%2]
			code, body := postJSON(t, d.URL+r.path, r.body)
			require.Equal(t, http.StatusOK, code, "%s", body)
		}
	})
	h := takeBackup(t, b.URL, file)
	wg.Wait()
	require.Equal(t, "jetstream", h.Log)
	require.Equal(t, []string{"store", "stream"}, h.Parts)

	dirC := t.TempDir()
	code, stdout, stderr := runRestore(t, "--storage.path", filepath.Join(dirC, "data"), file)
	require.Equal(t, 0, code, "%s", stderr)
	require.Contains(t, stdout, "the copy of stream HINDSIGHT_EVENTS up to position")
	restored := startInProcess(t, dirC, replicasConfig, withNATS)
	time.Sleep(1500 * time.Millisecond) // resolve_after
	requireSameAnswers(t, a.URL, restored.URL)
	requireSameAnswers(t, b.URL, restored.URL)
	require.Len(t, listEvents(t, restored.URL), len(load), "every event once")
}
