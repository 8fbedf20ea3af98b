package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// deployMsg is a deploy event as deploy-event.md describes it.
type deployMsg struct {
	ID              string            `json:"id"`
	Service         string            `json:"service"`
	Environment     string            `json:"environment,omitempty"`
	Version         string            `json:"version,omitempty"`
	PreviousVersion string            `json:"previous_version,omitempty"`
	Status          string            `json:"status"`
	At              string            `json:"at"`
	Author          string            `json:"author,omitempty"`
	Commit          string            `json:"commit,omitempty"`
	URL             string            `json:"url,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

func (m deployMsg) json(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// msgID is the Nats-Msg-Id a publisher sets: one per step, since every
// step of a deploy shares its id.
func (m deployMsg) msgID() string { return m.ID + ":" + m.Status }

// natsAddress picks a port for the daemon's embedded NATS server, so the
// test knows where to publish (and a restart finds the same server). The
// flag is appended after the harness's own, and the last one wins.
func natsAddress(t *testing.T) (clientURL, flag string) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	return "nats://" + addr, "--nats.listen-address=" + addr
}

func connectNATS(t *testing.T, u string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(u, append([]nats.Option{nats.Name("hindsight-e2e-test")}, opts...)...)
	require.NoError(t, err, "connect to the embedded NATS server at %s", u)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// tryDeployEvents lists the deploy events of the log (every page), for
// use inside eventually.
func tryDeployEvents(base string) ([]apiEvent, error) {
	var all []apiEvent
	cursor := ""
	for page := 0; page < 1000; page++ {
		u := base + "/api/v1/events?source=deploy&limit=1000"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		var resp struct {
			Events []apiEvent `json:"events"`
			Next   string     `json:"next"`
		}
		if err := tryGetJSON(u, &resp); err != nil {
			return nil, err
		}
		if resp.Events == nil {
			return nil, fmt.Errorf("GET %s: events is null", u)
		}
		all = append(all, resp.Events...)
		if resp.Next == "" {
			return all, nil
		}
		if resp.Next == cursor {
			return nil, fmt.Errorf("GET %s: the cursor does not advance", u)
		}
		cursor = resp.Next
	}
	return nil, fmt.Errorf("event pagination does not end")
}

// requireStream requires the daemon's JetStream stream to exist: the
// daemon reports ready only once it does, or a core publish right after
// /-/ready would be dropped without a trace (no stream, no subscriber).
func requireStream(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := js.Stream(ctx, "DEPLOYS")
	require.NoError(t, err, "/-/ready answered 200 before the JetStream stream DEPLOYS existed")
}

type deployKey struct{ DeployID, Kind string }

func countDeploys(evs []apiEvent) map[deployKey]int {
	m := map[deployKey]int{}
	for _, e := range evs {
		m[deployKey{e.Ref.DeployID, e.Kind}]++
	}
	return m
}

type suspectView struct {
	EntryID  string   `json:"entry_id"`
	DeployID string   `json:"deploy_id"`
	Score    float64  `json:"score"`
	Reasons  []string `json:"reasons"`
}

type deployIncidentView struct {
	apiIncident
	SuspectedCauses []suspectView `json:"suspected_causes"`
}

// markdownSection returns the body of the "## name" section of a draft.
func markdownSection(draft, name string) string {
	_, rest, ok := strings.Cut(draft, "\n## "+name+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestDeploysOverNATSEndToEnd sends deploys to the daemon's embedded NATS
// server (a plain publish and JetStream publishes with Nats-Msg-Id) and
// over HTTP, then fires an alert: the incident's timeline shows the
// checkout deploys and not the unrelated one, and the deploy that
// succeeded 5m before the alert is the top suspect. Messages that are not
// deploy events are terminated, counted and not stored.
func TestDeploysOverNATSEndToEnd(t *testing.T) {
	skipShort(t)
	d := startInProcess(t, t.TempDir(), `services:
  checkout:
    customer_facing: true
    tier: 1
`)
	nc, js := connectNATS(t, d.inproc.NATSURL())
	requireStream(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()

	startsAt := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	started := deployMsg{ID: "d-1", Service: "checkout", Environment: "production", Version: "v2.3.1",
		PreviousVersion: "v2.3.0", Status: "started", At: rfc(startsAt.Add(-6 * time.Minute)), Author: "dana",
		Commit: "9f1c2e7", URL: "https://ci.example.com/runs/4711", Labels: map[string]string{"cluster": "eu-west-1"}}
	succeeded := started
	succeeded.Status, succeeded.At = "succeeded", rfc(startsAt.Add(-5*time.Minute))
	search := deployMsg{ID: "s-9", Service: "search", Environment: "production", Version: "v7.0.0",
		Status: "succeeded", At: rfc(startsAt.Add(-4 * time.Minute)), Author: "sam"}
	older := deployMsg{ID: "d-0", Service: "checkout", Environment: "production", Version: "v2.3.0",
		PreviousVersion: "v2.2.9", Status: "succeeded", At: rfc(startsAt.Add(-25 * time.Minute)), Author: "lee",
		URL: "https://ci.example.com/runs/4700"}

	// d-1 started: a plain core publish, which the stream on deploys.>
	// captures all the same.
	require.NoError(t, nc.Publish("deploys.checkout", started.json(t)))
	require.NoError(t, nc.Flush())
	// d-1 succeeded: a JetStream publish with Nats-Msg-Id <id>:<status>;
	// the same again is dropped by the stream.
	ack, err := js.Publish(ctx, "deploys.checkout", succeeded.json(t), jetstream.WithMsgID(succeeded.msgID()))
	require.NoError(t, err)
	require.False(t, ack.Duplicate)
	ack, err = js.Publish(ctx, "deploys.checkout", succeeded.json(t), jetstream.WithMsgID(succeeded.msgID()))
	require.NoError(t, err)
	require.True(t, ack.Duplicate, "the stream should drop a repeated Nats-Msg-Id")
	// An unrelated deploy on another service.
	_, err = js.Publish(ctx, "deploys.search", search.json(t), jetstream.WithMsgID(search.msgID()))
	require.NoError(t, err)
	// And one over HTTP.
	code, body := postJSON(t, d.URL+"/api/v1/ingest/deploys", older.json(t))
	require.Equal(t, http.StatusOK, code, "POST deploy: %s", body)

	want := map[deployKey]int{
		{"d-1", "deploy.started"}: 1, {"d-1", "deploy.succeeded"}: 1,
		{"s-9", "deploy.succeeded"}: 1, {"d-0", "deploy.succeeded"}: 1,
	}
	eventually(t, pollTimeout, "the four deploy steps in the event log", func() error {
		evs, err := tryDeployEvents(d.URL)
		if err != nil {
			return err
		}
		if got := countDeploys(evs); !maps.Equal(got, want) {
			return fmt.Errorf("deploy events %v, want %v", got, want)
		}
		return nil
	})

	// Messages that are not deploy events are terminated and counted.
	const terminated = `hindsight_collector_deploy_messages_total{result="terminated"}`
	before, found := metricValue(t, d.URL, terminated)
	require.True(t, found, "%s not exposed", terminated)
	require.NoError(t, nc.Publish("deploys.checkout", []byte(`{"id": "d-bad-1", "service": "checkout",`)))
	bad := deployMsg{ID: "d-bad-2", Service: "checkout", Status: "done", At: rfc(startsAt.Add(-3 * time.Minute))}
	_, err = js.Publish(ctx, "deploys.checkout", bad.json(t), jetstream.WithMsgID(bad.msgID()))
	require.NoError(t, err)
	eventually(t, pollTimeout, "both invalid messages to be terminated", func() error {
		v, _ := metricValue(t, d.URL, terminated)
		if v < before+2 {
			return fmt.Errorf("%s = %v, want %v", terminated, v, before+2)
		}
		return nil
	})
	v, _ := metricValue(t, d.URL, terminated)
	require.Equal(t, before+2, v, "%s counts each invalid message once", terminated)
	evs, err := tryDeployEvents(d.URL)
	require.NoError(t, err)
	require.Equal(t, want, countDeploys(evs), "invalid messages must not be stored")
	for _, e := range evs {
		require.NotContains(t, e.Ref.DeployID, "bad")
	}

	// The alert.
	labels := map[string]string{"alertname": "HighErrorRate", "service": "checkout", "instance": "checkout-a:8080", "severity": "critical"}
	postWebhook(t, d, newWebhook("HighErrorRate", "checkout", []whAlert{{
		Status: "firing", Labels: labels,
		Annotations: map[string]string{"summary": "checkout 5xx ratio above 5%"},
		StartsAt:    startsAt, GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=up",
		Fingerprint: fingerprintOf(labels),
	}}).request().Body)

	list := listIncidents(t, d.URL)
	require.Len(t, list, 1)
	var inc deployIncidentView
	getJSON(t, d.URL+"/api/v1/incidents/"+list[0].ID, &inc)
	require.Equal(t, []string{"checkout"}, inc.Services)
	got := map[deployKey]apiEntry{}
	for _, e := range inc.Timeline {
		if e.Source != "deploy" {
			continue
		}
		require.NotEmpty(t, e.Ref.DeployID, "deploy entry %s has no ref.deploy_id", e.ID)
		require.NotEmpty(t, e.Reasons, "deploy entry %s has no reasons", e.ID)
		require.Equal(t, "checkout", e.Service, "entry %+v", e)
		k := deployKey{e.Ref.DeployID, e.Kind}
		_, dup := got[k]
		require.False(t, dup, "deploy step %v twice on the timeline", k)
		got[k] = e
	}
	require.ElementsMatch(t, []deployKey{{"d-1", "deploy.started"}, {"d-1", "deploy.succeeded"}, {"d-0", "deploy.succeeded"}},
		slices.Collect(maps.Keys(got)), "the checkout deploys, and not the search deploy, on the timeline")
	require.Contains(t, got[deployKey{"d-1", "deploy.succeeded"}].Reasons[0], "5m before the first symptom")
	require.Contains(t, got[deployKey{"d-1", "deploy.started"}].Reasons[0], "6m before the first symptom")

	require.NotEmpty(t, inc.SuspectedCauses, "suspected_causes")
	top := inc.SuspectedCauses[0]
	require.Equal(t, "d-1", top.DeployID, "suspected_causes %+v", inc.SuspectedCauses)
	require.NotEmpty(t, top.Reasons)
	require.Positive(t, top.Score)
	for _, s := range inc.SuspectedCauses {
		require.NotEqual(t, "s-9", s.DeployID, "the search deploy is no suspect")
		require.LessOrEqual(t, s.Score, top.Score)
	}

	draft := markdownDraft(t, d.URL, inc.ID)
	cf := markdownSection(draft, "Contributing factors")
	require.NotEmpty(t, cf, "no Contributing factors section; draft:\n%s", draft)
	require.Contains(t, cf, "d-1", "Contributing factors should name d-1; draft:\n%s", draft)
	require.Contains(t, cf, "Suspect 1 of", "Contributing factors should rank d-1 as a suspect; draft:\n%s", draft)
	first, _, _ := strings.Cut(strings.TrimSpace(cf), "\n")
	require.Contains(t, first, "d-1", "d-1 should be the first suspect; draft:\n%s", draft)
	require.NotContains(t, cf, "s-9")
}

// TestDeploysSurviveCrash publishes 200 deploys over JetStream to the
// daemon's embedded server and SIGKILLs the daemon while its consumer is
// still taking them in. After a restart on the same storage (and NATS
// port), and a republish of whatever the publisher had no PubAck for,
// every deploy is in the event log exactly once.
func TestDeploysSurviveCrash(t *testing.T) {
	needBinary(t)
	const total = 200
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HINDSIGHT_CRASH_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (HINDSIGHT_CRASH_SEED)", seed)
	rnd := rand.New(rand.NewPCG(seed, 0xdeb1))

	dir := t.TempDir()
	natsURL, natsFlag := natsAddress(t)
	d := startDaemon(t, dir, "", natsFlag)

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	services := []string{"checkout", "payments", "search", "login"}
	statuses := []string{"started", "succeeded", "failed", "rolled_back"}
	msgs := make([]deployMsg, total)
	for i := range msgs {
		msgs[i] = deployMsg{
			ID:      fmt.Sprintf("crash-%03d", i),
			Service: services[i%len(services)],
			Status:  statuses[rnd.IntN(len(statuses))],
			At:      base.Add(time.Duration(i) * time.Second).Format(time.RFC3339),
			Version: fmt.Sprintf("v1.%d.0", i),
		}
	}

	publish := func(ctx context.Context, js jetstream.JetStream, m deployMsg) error {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := js.Publish(pctx, "deploys."+m.Service, m.json(t), jetstream.WithMsgID(m.msgID()))
		return err
	}

	// Publish in the background, one PubAck at a time; stop at the first
	// failure (the kill).
	_, js := connectNATS(t, natsURL, nats.NoReconnect())
	requireStream(t, js)
	var (
		mu     sync.Mutex
		acked  = make([]bool, total)
		pubErr error
	)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i, m := range msgs {
			if err := publish(context.Background(), js, m); err != nil {
				mu.Lock()
				pubErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			acked[i] = true
			mu.Unlock()
		}
	}()

	// Kill once ~50 deploys are visible, or after a seeded short delay.
	killAfter := time.Duration(300+rnd.IntN(700)) * time.Millisecond
	start := time.Now()
	storedBeforeKill := 0
	for {
		evs, err := tryDeployEvents(d.URL)
		require.NoError(t, err)
		storedBeforeKill = len(evs)
		if storedBeforeKill >= 50 || time.Since(start) > killAfter {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.Kill()
	select {
	case <-pubDone:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the publisher did not notice the kill")
	}
	mu.Lock()
	ackedBeforeKill := 0
	for _, a := range acked {
		if a {
			ackedBeforeKill++
		}
	}
	mu.Unlock()
	t.Logf("at the kill (after %s): %d of %d deploys acked by JetStream, at least %d stored by Hindsight (publisher: %v)",
		time.Since(start).Round(time.Millisecond), ackedBeforeKill, total, storedBeforeKill, pubErr)
	if storedBeforeKill >= ackedBeforeKill {
		t.Logf("note: the consumer had caught up with the publisher at the kill")
	}

	// Restart on the same storage and NATS port; republish what had no
	// PubAck, as an at-least-once publisher does.
	d = startDaemon(t, dir, "", natsFlag)
	afterRestart, err := tryDeployEvents(d.URL)
	require.NoError(t, err)
	t.Logf("stored right after the restart: %d", len(afterRestart))
	_, js = connectNATS(t, natsURL)
	republished := 0
	for i, m := range msgs {
		if !acked[i] {
			require.NoError(t, publish(context.Background(), js, m), "republish %s", m.ID)
			republished++
		}
	}

	// Messages delivered before the kill but never acked come back after
	// the consumer's AckWait (30s): wait longer than that.
	var evs []apiEvent
	eventually(t, 2*pollTimeout, fmt.Sprintf("all %d deploys in the event log", total), func() error {
		var err error
		evs, err = tryDeployEvents(d.URL)
		if err != nil {
			return err
		}
		if len(evs) < total {
			return fmt.Errorf("%d of %d deploys stored", len(evs), total)
		}
		return nil
	})
	counts := countDeploys(evs)
	for _, m := range msgs {
		k := deployKey{m.ID, "deploy." + m.Status}
		require.Equal(t, 1, counts[k], "deploy %v stored %d times", k, counts[k])
	}
	require.Len(t, evs, total, "nothing but the %d deploys, each once", total)
	t.Logf("after the restart: %d republished, %d stored, each once", republished, len(evs))

	v, found := metricValue(t, d.URL, `hindsight_collector_deploy_messages_total{result="terminated"}`)
	require.True(t, found)
	require.Zero(t, v, "no valid deploy may be terminated")
}
