package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The SIGKILL fault test under mixed load: Alertmanager notifications,
// signed PagerDuty v3 webhooks and deploy notifications, the daemon
// killed with SIGKILL again and again while they come in.

const (
	killCycles     = 20
	killAMWorkers  = 6
	killPerWorker  = 100
	killPDSecret   = "kill-test-secret"
	killMinPerKill = 10 // requests acknowledged in a cycle before its kill, at least
	killMaxPerKill = 35 // and at most
)

// killConfig is crashConfig (decisions depend on event times only), with
// the PagerDuty secret and the services the pages are raised on.
func killConfig() string {
	var b strings.Builder
	b.WriteString(crashConfig)
	b.WriteString("pagerduty:\n  webhook_secrets: [\"" + killPDSecret + "\"]\nservices:\n")
	for i := range killAMWorkers {
		fmt.Fprintf(&b, "  svc-%d:\n    pagerduty_service_ids: [PSVC%d]\n", i, i)
	}
	return b.String()
}

// faultReq is one request a sender makes, with the keys of the events it
// carries (eventKey of what the API lists for them).
type faultReq struct {
	path    string
	headers map[string]string
	body    []byte
	keys    []string
}

// eventKey identifies an event by what its sender knows of it.
func eventKey(ev apiEvent) string {
	switch ev.Source {
	case "alertmanager":
		k := keyOf(ev.Ref, ev.Kind)
		return "am|" + k.Fingerprint + "|" + k.StartsAt + "|" + k.Kind
	case "pagerduty":
		return "pd|" + ev.Ref.PagerDutyEventID
	case "deploy":
		return "deploy|" + ev.Ref.DeployID + "|" + ev.Kind
	}
	return ev.Source + "|" + ev.ID
}

func amFaultReqs(rnd *rand.Rand, service string, start time.Time, n int) []faultReq {
	var out []faultReq
	for _, r := range genSequence(rnd, service, start, n) {
		fr := faultReq{path: "/api/v1/ingest/alertmanager", body: r.Body}
		for _, s := range r.States {
			fr.keys = append(fr.keys, "am|"+s.Fingerprint+"|"+s.StartsAt+"|"+s.Kind)
		}
		out = append(out, fr)
	}
	return out
}

// pdFaultReqs are signed v3 webhooks: PagerDuty incidents on the mapped
// services, each triggered, acknowledged, then resolved.
func pdFaultReqs(t *testing.T, rnd *rand.Rand, start time.Time, n int) []faultReq {
	var out []faultReq
	at := start
	for inc := 0; len(out) < n; inc++ {
		svc := rnd.IntN(killAMWorkers)
		id := fmt.Sprintf("QKILL%05d", inc)
		created := at
		for step, status := range []string{"triggered", "acknowledged", "resolved"} {
			at = at.Add(time.Duration(1+rnd.IntN(5)) * time.Minute)
			evID := fmt.Sprintf("01KILL%05d%d", inc, step)
			agent := pdService(fmt.Sprintf("PSVC%d", svc), fmt.Sprintf("svc-%d (prod)", svc))
			body := pdBody(t, pdWebhookEvent{
				ID: evID, EventType: "incident." + status, ResourceType: "incident", OccurredAt: pdTime(at), Agent: &agent,
				Data: pdIncidentData{
					ID: id, Type: "incident", Self: "https://api.pagerduty.com/incidents/" + id,
					HTMLURL: "https://acme.pagerduty.com/incidents/" + id, Number: 9000 + inc, Status: status,
					CreatedAt: created.Truncate(time.Second).Format(time.RFC3339), Title: fmt.Sprintf("svc-%d is failing", svc),
					Service: agent, Assignees: []pdRef{pdUser("PONCALL", "Dana Oncall")},
					EscalationPolicy: pdRef{ID: "PEP1", Type: "escalation_policy_reference", Summary: "Primary"},
					Teams:            []pdRef{}, Priority: pdPriority("P2"), Urgency: "high",
				},
			})
			out = append(out, faultReq{
				path: "/api/v1/ingest/pagerduty",
				headers: map[string]string{
					"User-Agent":             "PagerDuty-Webhook/V3.0",
					"X-Webhook-Subscription": "PSUBKILL",
					"X-PagerDuty-Signature":  pdSign(killPDSecret, body),
				},
				body: body,
				keys: []string{"pd|" + evID},
			})
		}
		at = at.Add(time.Duration(rnd.IntN(40)) * time.Minute)
	}
	return out[:n]
}

// deployFaultReqs are deploys of the services, each started then
// succeeded (or failed), one step a request.
func deployFaultReqs(t *testing.T, rnd *rand.Rand, start time.Time, n int) []faultReq {
	var out []faultReq
	at := start
	for dep := 0; len(out) < n; dep++ {
		svc := fmt.Sprintf("svc-%d", rnd.IntN(killAMWorkers))
		id := fmt.Sprintf("d-kill-%05d", dep)
		end := "succeeded"
		if rnd.IntN(5) == 0 {
			end = "failed"
		}
		for _, status := range []string{"started", end} {
			at = at.Add(time.Duration(1+rnd.IntN(4)) * time.Minute)
			m := deployMsg{ID: id, Service: svc, Environment: "production", Version: "v1." + strconv.Itoa(dep),
				Status: status, At: at.UTC().Format(time.RFC3339), Author: "ci"}
			out = append(out, faultReq{path: "/api/v1/ingest/deploys", body: m.json(t), keys: []string{"deploy|" + id + "|deploy." + status}})
		}
		at = at.Add(time.Duration(rnd.IntN(90)) * time.Minute)
	}
	return out[:n]
}

// faultSender sends its requests in order, one at a time, and keeps its
// place across kills.
type faultSender struct {
	name  string
	reqs  []faultReq
	pause []time.Duration
	next  int
	err   error
}

func (s *faultSender) post(ctx context.Context, base string, r faultReq) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sendUntilDown sends from next on until a request gets no answer (the
// daemon was killed) or all are acknowledged; 503 is retried, as every
// one of these senders does. acked counts the acknowledgements.
func (s *faultSender) sendUntilDown(base string, acked *atomic.Int64) {
	for s.next < len(s.reqs) {
		time.Sleep(s.pause[s.next])
		code, body, err := s.post(context.Background(), base, s.reqs[s.next])
		if err != nil {
			return
		}
		if code == http.StatusServiceUnavailable {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if code/100 != 2 {
			s.err = fmt.Errorf("%s request %d: %d %s", s.name, s.next, code, body)
			return
		}
		acked.Add(1)
		s.next++
	}
}

// TestFaultKillCycles kills the daemon with SIGKILL twenty times under
// mixed Alertmanager, PagerDuty and deploy load. Every event of every
// acknowledged request is stored exactly once at the end (the request in
// flight at a kill is sent again, as the senders retry), nothing else is,
// and the incidents are exactly what a clean replay of the log
// (recorrelate) builds from it.
func TestFaultKillCycles(t *testing.T) {
	needBinary(t)
	seed := testSeed(t)
	t.Logf("seed %d (HINDSIGHT_TEST_SEED=%d reproduces the input and the kill points)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 0xdead))
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Hour)

	var senders []*faultSender
	for i := range killAMWorkers {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		senders = append(senders, &faultSender{name: "alertmanager svc-" + strconv.Itoa(i),
			reqs: amFaultReqs(r, "svc-"+strconv.Itoa(i), base.Add(time.Duration(i)*7*time.Second), killPerWorker)})
	}
	senders = append(senders,
		&faultSender{name: "pagerduty", reqs: pdFaultReqs(t, rand.New(rand.NewPCG(seed, 100)), base, killPerWorker)},
		&faultSender{name: "deploys", reqs: deployFaultReqs(t, rand.New(rand.NewPCG(seed, 101)), base.Add(-time.Hour), killPerWorker)})
	expected := map[string]bool{}
	total := 0
	for _, s := range senders {
		s.pause = make([]time.Duration, len(s.reqs))
		for i := range s.pause {
			s.pause[i] = time.Duration(rnd.Int64N(int64(8 * time.Millisecond)))
		}
		total += len(s.reqs)
		for _, r := range s.reqs {
			for _, k := range r.keys {
				expected[k] = true
			}
		}
	}

	dir := t.TempDir()
	cfg := killConfig()
	var (
		acked      atomic.Int64
		wg         sync.WaitGroup
		recoveries []time.Duration
		ackedKill  int64
	)
	d := startDaemon(t, dir, cfg)
	for cycle := range killCycles {
		target := int64(killMinPerKill + rnd.IntN(killMaxPerKill-killMinPerKill+1))
		start := acked.Load()
		for _, s := range senders {
			wg.Go(func() { s.sendUntilDown(d.URL, &acked) })
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		deadline := time.Now().Add(time.Minute)
	wait:
		for acked.Load()-start < target {
			select {
			case <-done:
				break wait
			default:
			}
			require.True(t, time.Now().Before(deadline), "cycle %d: only %d requests acknowledged in a minute", cycle, acked.Load()-start)
			time.Sleep(time.Millisecond)
		}
		d.Kill()
		<-done
		for _, s := range senders {
			require.NoError(t, s.err)
		}
		ackedKill = acked.Load()
		require.Less(t, ackedKill, int64(total), "cycle %d: the load ended before the kill; more requests are needed", cycle)
		began := time.Now()
		d = startDaemon(t, dir, cfg)
		recoveries = append(recoveries, time.Since(began))
	}

	// The rest of the load, retried until acknowledged.
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range senders {
		wg.Go(func() {
			for s.next < len(s.reqs) && s.err == nil {
				s.sendUntilDown(d.URL, &acked)
				if s.next < len(s.reqs) && time.Now().After(deadline) {
					s.err = fmt.Errorf("%s: request %d not acknowledged in time", s.name, s.next)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range senders {
		require.NoError(t, s.err)
	}

	// Every acknowledged event, exactly once; nothing no request carried.
	events := listEvents(t, d.URL)
	byKey := map[string]int{}
	byID := map[string]int{}
	for _, ev := range events {
		byKey[eventKey(ev)]++
		byID[ev.ID]++
	}
	var twice, missing, extra []string
	for id, n := range byID {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	for k, n := range byKey {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s x%d", k, n))
		}
		if !expected[k] {
			extra = append(extra, k)
		}
	}
	for k := range expected {
		if byKey[k] == 0 {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	require.Empty(t, twice, "events stored more than once")
	require.Empty(t, missing, "acknowledged events missing after %d kills", killCycles)
	require.Empty(t, extra, "events that no request carried")

	// The incidents are what a clean replay of the same log gives.
	got := incidentDetails(t, d.URL)
	code, body := postJSON(t, d.URL+"/api/v1/recorrelate", nil)
	require.Equal(t, http.StatusOK, code, "recorrelate: %s", body)
	want := incidentDetails(t, d.URL)
	require.Equal(t, len(want), len(got), "incidents after %d kills vs a clean replay", killCycles)
	for _, id := range slices.Sorted(maps.Keys(want)) {
		w := want[id]
		g, ok := got[id]
		require.True(t, ok, "incident %s (%s) of the clean replay is missing after the kills", id, w.Title)
		require.Equal(t, w.Title, g.Title, "incident %s title", id)
		require.Equal(t, w.Services, g.Services, "incident %s services", id)
		require.True(t, w.StartedAt.Equal(g.StartedAt), "incident %s started_at", id)
		require.Equal(t, w.Status, g.Status, "incident %s status", id)
		require.Equal(t, fmtTimePtr(w.ResolvedAt), fmtTimePtr(g.ResolvedAt), "incident %s resolved_at", id)
		require.Equal(t, w.Severity.Effective, g.Severity.Effective, "incident %s severity", id)
		require.Equal(t, entryReasons(w), entryReasons(g), "incident %s timeline entries and their reasons", id)
	}

	// The baseline of the recovery times: a clean restart (SIGTERM) of
	// the same store, in the same run.
	d.Stop()
	began := time.Now()
	d = startDaemon(t, dir, cfg)
	clean := time.Since(began)

	slices.Sort(recoveries)
	bySource := map[string]int{}
	for _, ev := range events {
		bySource[ev.Source]++
	}
	t.Logf("figures: %d kills; %d of %d requests acknowledged before the last kill; %d events stored (%v), 0 lost, 0 twice; %d incidents, same as a clean replay; restart to ready after a kill: min %s, median %s, max %s (a clean restart of the same store: %s)",
		killCycles, ackedKill, total, len(events), bySource, len(got),
		recoveries[0].Round(time.Millisecond), recoveries[len(recoveries)/2].Round(time.Millisecond), recoveries[len(recoveries)-1].Round(time.Millisecond), clean.Round(time.Millisecond))
}
