package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
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

// crashConfig makes correlation decisions depend on event times only:
// resolve_after is short so that incidents of past events are resolved at
// once, and max_lateness is long so that no event of a service counts as
// late because another service's worker ran ahead (lateness is measured
// against the newest event time of all sources, and the workers run
// concurrently; see spec/config.md).
const crashConfig = `correlation:
  window: 10m
  resolve_after: 1s
  reopen_within: 15m
  max_lateness: 1000h
`

const (
	crashWorkers  = 8
	crashRequests = 60
)

// seqWorker sends one service's notifications in order, one at a time, as
// one Alertmanager group would.
type seqWorker struct {
	service string
	reqs    []request
	// next is the index of the first request not acknowledged.
	next int
	// acked marks requests answered 2xx before the kill.
	acked []bool
	// pause is the time before each request in the first phase (the
	// notifications of a group come some time apart), so the load lasts
	// past the kill on a fast machine too.
	pause []time.Duration
	// sent reports whether request next was sent (in flight at the kill)
	// rather than never tried.
	sent bool
	err  error
}

// sendUntilError sends requests from next on until one fails to get an
// answer (the daemon was killed) or all are acknowledged. 503 is retried,
// as Alertmanager does; any other non-2xx is an error.
func (w *seqWorker) sendUntilError(base string, acked *atomic.Int64) {
	for w.next < len(w.reqs) {
		time.Sleep(w.pause[w.next])
		w.sent = true
		code, body, err := tryPostJSON(context.Background(), base+"/api/v1/ingest/alertmanager", w.reqs[w.next].Body)
		if err != nil {
			return
		}
		if code == http.StatusServiceUnavailable {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if code/100 != 2 {
			w.err = fmt.Errorf("%s request %d: %d %s", w.service, w.next, code, body)
			return
		}
		w.acked[w.next] = true
		acked.Add(1)
		w.next++
		w.sent = false
	}
}

// sendRest sends requests from next on, retrying transport errors and 503
// until each is acknowledged, as Alertmanager retries a notification.
func (w *seqWorker) sendRest(base string, deadline time.Time) {
	for w.next < len(w.reqs) {
		code, body, err := tryPostJSON(context.Background(), base+"/api/v1/ingest/alertmanager", w.reqs[w.next].Body)
		switch {
		case err == nil && code/100 == 2:
			w.next++
			continue
		case err == nil && code != http.StatusServiceUnavailable:
			w.err = fmt.Errorf("%s request %d: %d %s", w.service, w.next, code, body)
			return
		}
		if time.Now().After(deadline) {
			w.err = fmt.Errorf("%s request %d not acknowledged in time: code %d, err %v, body %s", w.service, w.next, code, err, body)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newWorkers(seed uint64, base time.Time) []*seqWorker {
	ws := make([]*seqWorker, crashWorkers)
	for i := range ws {
		svc := "svc-" + strconv.Itoa(i)
		rnd := rand.New(rand.NewPCG(seed, uint64(i)))
		reqs := genSequence(rnd, svc, base.Add(time.Duration(i)*7*time.Second), crashRequests)
		pause := make([]time.Duration, len(reqs))
		for j := range pause {
			pause[j] = time.Duration(rnd.Int64N(int64(16 * time.Millisecond)))
		}
		ws[i] = &seqWorker{service: svc, reqs: reqs, acked: make([]bool, len(reqs)), pause: pause}
	}
	return ws
}

func testSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("HINDSIGHT_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "HINDSIGHT_TEST_SEED")
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestCrashRecovery is the durability test: a daemon killed with SIGKILL
// in the middle of concurrent ingestion loses nothing it acknowledged,
// stores nothing twice once the senders retry, and ends with exactly the
// incidents a daemon that never crashed builds from the same input.
func TestCrashRecovery(t *testing.T) {
	needBinary(t)
	seed := testSeed(t)
	t.Logf("seed %d (HINDSIGHT_TEST_SEED=%d reproduces the input and the kill time)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 0xc0ffee))
	// Event times well in the past: incidents resolve at once (wall
	// clock) and both daemons see them the same.
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Hour)
	killAfter := 300*time.Millisecond + time.Duration(rnd.Int64N(int64(500*time.Millisecond)))

	dir := t.TempDir()
	d := startDaemon(t, dir, crashConfig)
	workers := newWorkers(seed, base)
	total := 0
	expected := map[stateKey]bool{}
	for _, w := range workers {
		total += len(w.reqs)
		for _, r := range w.reqs {
			for _, s := range r.States {
				expected[s] = true
			}
		}
	}

	// Phase 1: load, and SIGKILL after killAfter (once a few requests are
	// acknowledged, or the test would check nothing on a slow machine),
	// or as soon as most requests are acknowledged, so the kill always
	// lands mid-load.
	var acked atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for _, w := range workers {
		wg.Go(func() { w.sendUntilError(d.URL, &acked) })
	}
	phase1 := make(chan struct{})
	go func() { wg.Wait(); close(phase1) }()
	killedAt := time.Duration(0)
	for killedAt == 0 {
		n := acked.Load()
		select {
		case <-phase1:
		default:
			if (time.Since(began) < killAfter || n < crashWorkers) && n < int64(total*8/10) {
				time.Sleep(2 * time.Millisecond)
				continue
			}
		}
		killedAt = time.Since(began)
		d.Kill()
	}
	<-phase1
	ackedBeforeKill := acked.Load()
	inFlight := 0
	var ackedStates []stateKey
	for _, w := range workers {
		require.NoError(t, w.err)
		if w.next < len(w.reqs) && w.sent {
			inFlight++
		}
		for i, ok := range w.acked {
			if ok {
				ackedStates = append(ackedStates, w.reqs[i].States...)
			}
		}
	}
	t.Logf("killed after %s (planned %s): %d of %d requests acknowledged, %d in flight",
		killedAt.Round(time.Millisecond), killAfter.Round(time.Millisecond), ackedBeforeKill, total, inFlight)
	require.Less(t, ackedBeforeKill, int64(total), "the kill should land before the load ends")
	require.Positive(t, ackedBeforeKill, "nothing was acknowledged before the kill")

	// Phase 2: restart on the same storage; each worker re-sends the
	// request that was in flight, then the rest of its sequence.
	restartBegan := time.Now()
	d2 := startDaemon(t, dir, crashConfig)
	t.Logf("restart after the kill: ready in %s", time.Since(restartBegan).Round(time.Millisecond))
	deadline := time.Now().Add(2 * time.Minute)
	for _, w := range workers {
		wg.Go(func() { w.sendRest(d2.URL, deadline) })
	}
	wg.Wait()
	for _, w := range workers {
		require.NoError(t, w.err)
	}
	t.Logf("the rest of the load after the restart took %s", time.Since(restartBegan).Round(time.Millisecond))

	// (a) Every acknowledged event is there, and nothing is there twice.
	events := listEvents(t, d2.URL)
	byKey := map[stateKey]int{}
	byID := map[string]int{}
	for _, ev := range events {
		require.Equal(t, "alertmanager", ev.Source, "event %s", ev.ID)
		k := keyOf(ev.Ref, ev.Kind)
		byKey[k]++
		byID[ev.ID]++
	}
	for id, n := range byID {
		require.Equal(t, 1, n, "event id %s listed %d times", id, n)
	}
	var dups []string
	for k, n := range byKey {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%v x%d", k, n))
		}
	}
	sort.Strings(dups)
	require.Empty(t, dups, "alert states stored more than once")
	var lost []string
	for _, s := range ackedStates {
		if byKey[s] == 0 {
			lost = append(lost, fmt.Sprint(s))
		}
	}
	require.Empty(t, lost, "alert states acknowledged before the kill are missing after the restart")
	var missing, extra []string
	for s := range expected {
		if byKey[s] == 0 {
			missing = append(missing, fmt.Sprint(s))
		}
	}
	for s := range byKey {
		if !expected[s] {
			extra = append(extra, fmt.Sprint(s))
		}
	}
	require.Empty(t, missing, "alert states acknowledged after the restart are missing")
	require.Empty(t, extra, "events that no request carried")
	for _, ev := range events {
		require.NotNil(t, ev.IncidentID, "alert event %s (%s) belongs to no incident", ev.ID, ev.Summary)
	}

	// (b) A daemon that never crashed, fed the same sequences, ends with
	// the same incidents.
	fresh := startDaemon(t, t.TempDir(), crashConfig)
	ref := newWorkers(seed, base)
	feedBegan := time.Now()
	for _, w := range ref {
		wg.Go(func() { w.sendRest(fresh.URL, time.Now().Add(2*time.Minute)) })
	}
	wg.Wait()
	for _, w := range ref {
		require.NoError(t, w.err)
	}
	t.Logf("feeding the uncrashed daemon took %s", time.Since(feedBegan).Round(time.Millisecond))
	got := incidentDetails(t, d2.URL)
	want := incidentDetails(t, fresh.URL)
	require.Equal(t, len(want), len(got), "incident count after the crash vs without it")
	entries := 0
	for _, id := range slices.Sorted(maps.Keys(want)) {
		w := want[id]
		g, ok := got[id]
		require.True(t, ok, "incident %s (%s, %v) of the uncrashed daemon is missing after the crash", id, w.Title, w.Services)
		require.Equal(t, w.Services, g.Services, "incident %s services", id)
		require.True(t, w.StartedAt.Equal(g.StartedAt), "incident %s started_at: want %s, got %s", id, w.StartedAt, g.StartedAt)
		require.Equal(t, w.Status, g.Status, "incident %s status", id)
		require.Equal(t, fmtTimePtr(w.ResolvedAt), fmtTimePtr(g.ResolvedAt), "incident %s resolved_at", id)
		require.Equal(t, entryReasons(w), entryReasons(g), "incident %s timeline entries and their reasons", id)
		entries += len(g.Timeline)
	}
	require.Equal(t, len(events), entries, "every event should be one timeline entry")

	open := 0
	how := map[string]int{}
	for _, inc := range got {
		if inc.Status == "open" {
			open++
		}
		for _, e := range inc.Timeline {
			if len(e.Reasons) > 0 {
				verb, _, _ := strings.Cut(e.Reasons[0], ":")
				how[verb]++
			}
		}
	}
	t.Logf("timeline entries by their first reason: %v", how)
	t.Logf("figures: %d requests (%d acknowledged before the kill), %d events, %d incidents (%d open), %d timeline entries",
		total, ackedBeforeKill, len(events), len(got), open, entries)
}

// incidentDetails returns every incident with its timeline, by id.
func incidentDetails(t *testing.T, base string) map[string]apiIncident {
	t.Helper()
	out := map[string]apiIncident{}
	for _, inc := range listIncidents(t, base) {
		out[inc.ID] = getIncident(t, base, inc.ID)
	}
	return out
}

func entryReasons(inc apiIncident) map[string][]string {
	m := map[string][]string{}
	for _, e := range inc.Timeline {
		m[e.ID] = e.Reasons
	}
	return m
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// TestShutdownUnderLoad sends SIGTERM in the middle of concurrent
// ingestion: the daemon drains, exits 0, and keeps every event it
// acknowledged; the senders' retries after the restart are stored once.
func TestShutdownUnderLoad(t *testing.T) {
	needBinary(t)
	seed := testSeed(t)
	t.Logf("seed %d", seed)
	base := time.Now().UTC().Add(-10 * 24 * time.Hour).Truncate(time.Hour)
	dir := t.TempDir()
	d := startDaemon(t, dir, crashConfig)
	workers := newWorkers(seed, base)
	var acked atomic.Int64
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.sendUntilError(d.URL, &acked) })
	}
	eventually(t, pollTimeout, "some requests acknowledged", func() error {
		if acked.Load() < crashWorkers*3 {
			return fmt.Errorf("%d acknowledged", acked.Load())
		}
		return nil
	})
	d.Stop()
	wg.Wait()
	var ackedStates []stateKey
	for _, w := range workers {
		require.NoError(t, w.err, "during shutdown a request gets 2xx, 503 or no connection, never another error")
		for i, ok := range w.acked {
			if ok {
				ackedStates = append(ackedStates, w.reqs[i].States...)
			}
		}
	}
	t.Logf("stopped with %d requests acknowledged", acked.Load())

	d2 := startDaemon(t, dir, crashConfig)
	seen := map[stateKey]int{}
	for _, ev := range listEvents(t, d2.URL) {
		seen[keyOf(ev.Ref, ev.Kind)]++
	}
	for _, s := range ackedStates {
		require.Equal(t, 1, seen[s], "acknowledged state %v after a clean shutdown", s)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, w := range workers {
		wg.Go(func() { w.sendRest(d2.URL, deadline) })
	}
	wg.Wait()
	for _, w := range workers {
		require.NoError(t, w.err)
	}
	seen = map[stateKey]int{}
	for _, ev := range listEvents(t, d2.URL) {
		k := keyOf(ev.Ref, ev.Kind)
		seen[k]++
		require.Equal(t, 1, seen[k], "state %v stored twice", k)
	}
	d2.Stop()
}
