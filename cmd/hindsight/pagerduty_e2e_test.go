package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ---- a fake PagerDuty Events API v2 ----

// pdEnqueued is what Alertmanager's pagerduty_configs post to /v2/enqueue.
type pdEnqueued struct {
	RoutingKey  string `json:"routing_key"`
	DedupKey    string `json:"dedup_key"`
	EventAction string `json:"event_action"`
	Payload     struct {
		Summary  string `json:"summary"`
		Source   string `json:"source"`
		Severity string `json:"severity"`
	} `json:"payload"`
}

// fakePagerDuty poses as PagerDuty's Events API v2 and records what it is
// sent.
type fakePagerDuty struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []pdEnqueued
	bad []string
}

func newFakePagerDuty(t *testing.T) *fakePagerDuty {
	t.Helper()
	f := &fakePagerDuty{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
			f.mu.Lock()
			f.bad = append(f.bad, r.Method+" "+r.URL.Path)
			f.mu.Unlock()
			http.Error(w, `{"status":"invalid event","message":"not found"}`, http.StatusNotFound)
			return
		}
		var ev pdEnqueued
		if err := json.Unmarshal(body, &ev); err != nil {
			f.mu.Lock()
			f.bad = append(f.bad, "undecodable body: "+string(body))
			f.mu.Unlock()
			http.Error(w, `{"status":"invalid event","message":"Event object is invalid"}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.got = append(f.got, ev)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey,
		})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePagerDuty) events() ([]pdEnqueued, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got), slices.Clone(f.bad)
}

// startAlertmanagerWithConfig runs the real Alertmanager with cfg as its
// configuration and returns its base URL once ready. It skips outside CI
// when the binary is missing, like startAlertmanager.
func startAlertmanagerWithConfig(t *testing.T, cfg string) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBin); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found (apt-get install prometheus-alertmanager); skipped outside CI", alertmanagerBin)
		}
		require.FailNow(t, alertmanagerBin+" not found; CI must install prometheus-alertmanager (.ci/run)")
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o644))
	logFile := filepath.Join(dir, "alertmanager.log")
	logf, err := os.Create(logFile)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logf.Close() })

	var lastLog string
	for range 3 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		cmd := exec.Command(alertmanagerBin,
			"--config.file="+cfgFile,
			"--storage.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--cluster.listen-address=",
			"--log.level=debug",
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		require.NoError(t, cmd.Start())
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			if t.Failed() {
				b, _ := os.ReadFile(logFile)
				t.Logf("alertmanager log:\n%s", b)
			}
		})
		base := "http://" + addr
		deadline := time.Now().Add(readyTimeout)
		for {
			select {
			case <-done:
			default:
				resp, err := httpClient.Get(base + "/-/ready")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return base
					}
				}
				if time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
					continue
				}
			}
			break
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		b, _ := os.ReadFile(logFile)
		lastLog = string(b)
		if !strings.Contains(lastLog, "address already in use") {
			break
		}
	}
	require.FailNow(t, "alertmanager did not become ready; log:\n"+lastLog)
	return ""
}

// ---- PagerDuty v3 webhooks ----

type pdRef struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
	Self    string `json:"self,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
}

type pdIncidentData struct {
	ID               string  `json:"id"`
	Type             string  `json:"type"`
	Self             string  `json:"self"`
	HTMLURL          string  `json:"html_url"`
	Number           int     `json:"number"`
	Status           string  `json:"status"`
	IncidentKey      *string `json:"incident_key"`
	CreatedAt        string  `json:"created_at"`
	Title            string  `json:"title"`
	IncidentType     any     `json:"incident_type"`
	Service          pdRef   `json:"service"`
	Assignees        []pdRef `json:"assignees"`
	EscalationPolicy pdRef   `json:"escalation_policy"`
	Teams            []pdRef `json:"teams"`
	Priority         *pdRef  `json:"priority"`
	Urgency          string  `json:"urgency"`
	ConferenceBridge any     `json:"conference_bridge"`
	ResolveReason    any     `json:"resolve_reason"`
}

type pdNoteData struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Incident pdRef  `json:"incident"`
	Content  string `json:"content"`
	Trimmed  bool   `json:"trimmed"`
}

type pdWebhookEvent struct {
	ID           string `json:"id"`
	EventType    string `json:"event_type"`
	ResourceType string `json:"resource_type"`
	OccurredAt   string `json:"occurred_at"`
	Agent        *pdRef `json:"agent"`
	Client       any    `json:"client"`
	Data         any    `json:"data"`
}

func pdUser(id, name string) pdRef {
	return pdRef{ID: id, Type: "user_reference", Summary: name,
		Self: "https://api.pagerduty.com/users/" + id, HTMLURL: "https://acme.pagerduty.com/users/" + id}
}

func pdService(id, name string) pdRef {
	return pdRef{ID: id, Type: "service_reference", Summary: name,
		Self: "https://api.pagerduty.com/services/" + id, HTMLURL: "https://acme.pagerduty.com/service-directory/" + id}
}

func pdPriority(p string) *pdRef {
	return &pdRef{ID: "PPRIO" + p, Type: "priority_reference", Summary: p,
		Self: "https://api.pagerduty.com/priorities/PPRIO" + p, HTMLURL: "https://acme.pagerduty.com/account/incident_priorities"}
}

// pdTime renders t as PagerDuty does: milliseconds and Z.
func pdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func pdBody(t *testing.T, ev pdWebhookEvent) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": ev})
	require.NoError(t, err)
	return b
}

// pdSign is the X-PagerDuty-Signature value for body under secret.
func pdSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// postPagerDuty posts a v3 webhook as PagerDuty does, with the given
// signature header, and returns the status and body.
func postPagerDuty(t *testing.T, d *daemonProc, body []byte, signature string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.URL+"/api/v1/ingest/pagerduty", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PagerDuty-Webhook/V3.0")
	req.Header.Set("X-Webhook-Id", fmt.Sprintf("wh-%x", sha256.Sum256(body))[:40])
	req.Header.Set("X-Webhook-Subscription", "PSUBINC01")
	req.Header.Set("X-PagerDuty-Signature", signature)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// ---- the incident as this test reads it (beyond apiIncident) ----

type pdLinkView struct {
	IncidentID     string     `json:"incident_id"`
	URL            string     `json:"url"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	LinkReason     string     `json:"link_reason"`
}

type pdIncidentView struct {
	apiIncident
	PagerDuty                []pdLinkView `json:"pagerduty"`
	MonitoringGap            bool         `json:"monitoring_gap"`
	Responders               []string     `json:"responders"`
	TimeToAcknowledgeSeconds *int64       `json:"time_to_acknowledge_seconds"`
}

func getPDIncident(t *testing.T, base, id string) pdIncidentView {
	t.Helper()
	var v pdIncidentView
	getJSON(t, base+"/api/v1/incidents/"+id, &v)
	require.Equal(t, id, v.ID)
	return v
}

func markdownDraft(t *testing.T, base, id string) string {
	t.Helper()
	code, md := getBody(t, base+"/api/v1/incidents/"+id+"/postmortem?format=markdown")
	require.Equal(t, http.StatusOK, code, "%s", md)
	return string(md)
}

// TestPagerDutyEndToEnd drives Hindsight with the real Alertmanager paging
// a fake PagerDuty: the alert reaches Hindsight by webhook and PagerDuty
// by Events API v2; PagerDuty's v3 webhooks about the incident it opened
// (incident_key = the dedup_key Alertmanager sent) then land on the same
// Hindsight incident, linked exactly. A page raised by hand on an unmapped
// service opens an incident of its own flagged as a monitoring gap.
func TestPagerDutyEndToEnd(t *testing.T) {
	skipShort(t)
	const cfg = `pagerduty:
  webhook_secrets: ["s3cret-new", "s3cret-old"]
  priority_floor: {P1: SEV1}
services:
  checkout:
    customer_facing: true
    tier: 1
    pagerduty_service_ids: [PCHKOUT]
correlation:
  resolve_after: 1s
`
	d := startInProcess(t, t.TempDir(), cfg)
	pd := newFakePagerDuty(t)
	am := startAlertmanagerWithConfig(t, fmt.Sprintf(`route:
  receiver: hindsight-and-pagerduty
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hindsight-and-pagerduty
    webhook_configs:
      - url: %s/api/v1/ingest/alertmanager
        send_resolved: true
    pagerduty_configs:
      - routing_key: "0123456789abcdef0123456789abcdef"
        url: %s/v2/enqueue
        send_resolved: true
`, d.URL, pd.srv.URL))

	startsAt := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	alerts, err := json.Marshal([]amPostable{{
		Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "instance": "a", "severity": "critical"},
		Annotations: map[string]string{
			"summary": "checkout 5xx ratio above 5%", "runbook_url": "https://runbooks.example.internal/checkout/high-error-rate",
		},
		StartsAt:     startsAt,
		GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=up",
	}})
	require.NoError(t, err)
	code, body := postJSON(t, am+"/api/v2/alerts", alerts)
	require.Equal(t, http.StatusOK, code, "POST /api/v2/alerts: %s", body)

	// Alertmanager pages PagerDuty...
	var trigger pdEnqueued
	eventually(t, pollTimeout, "the fake PagerDuty to receive a trigger", func() error {
		got, bad := pd.events()
		if len(bad) > 0 {
			return fmt.Errorf("unexpected requests to the fake PagerDuty: %q", bad)
		}
		for _, e := range got {
			if e.EventAction == "trigger" {
				trigger = e
				return nil
			}
		}
		return fmt.Errorf("%d events, no trigger", len(got))
	})
	require.Equal(t, "0123456789abcdef0123456789abcdef", trigger.RoutingKey)
	require.Regexp(t, `^[0-9a-f]{64}$`, trigger.DedupKey)
	// ...with dedup_key = hex(sha256(groupKey)) of the one route's group.
	groupKey := `{}:{alertname="HighErrorRate", service="checkout"}`
	sum := sha256.Sum256([]byte(groupKey))
	require.Equal(t, hex.EncodeToString(sum[:]), trigger.DedupKey,
		"Alertmanager's dedup_key should be sha256 of the group key %s", groupKey)

	// ...and notifies Hindsight.
	var incID string
	eventually(t, pollTimeout, "Hindsight to open the checkout incident", func() error {
		var list struct {
			Incidents []apiIncident `json:"incidents"`
		}
		if err := tryGetJSON(d.URL+"/api/v1/incidents", &list); err != nil {
			return err
		}
		if len(list.Incidents) != 1 {
			return fmt.Errorf("%d incidents", len(list.Incidents))
		}
		var inc apiIncident
		if err := tryGetJSON(d.URL+"/api/v1/incidents/"+list.Incidents[0].ID, &inc); err != nil {
			return err
		}
		for _, e := range inc.Timeline {
			if e.Kind == "alert.firing" {
				incID = inc.ID
				return nil
			}
		}
		return fmt.Errorf("incident %s has no alert.firing entry yet", inc.ID)
	})
	inc := getPDIncident(t, d.URL, incID)
	require.Equal(t, []string{"checkout"}, inc.Services)
	require.True(t, startsAt.Equal(inc.StartedAt), "started_at %s, want %s", inc.StartedAt, startsAt)
	require.False(t, inc.MonitoringGap)
	require.Empty(t, inc.PagerDuty)

	// PagerDuty's webhooks about the incident Alertmanager's trigger
	// opened, signed with the old secret only (rotation in progress).
	const pdID = "Q2XK8LJ4N1ABCD"
	dana := pdUser("PJ0ONCALL", "Dana Oncall")
	key := trigger.DedupKey
	triggeredAt := startsAt.Add(time.Minute).Add(418 * time.Millisecond)
	ackAt := triggeredAt.Add(2 * time.Minute)
	noteAt := ackAt.Add(30 * time.Second)
	incidentData := func(status string) pdIncidentData {
		return pdIncidentData{
			ID: pdID, Type: "incident", Self: "https://api.pagerduty.com/incidents/" + pdID,
			HTMLURL: "https://acme.pagerduty.com/incidents/" + pdID, Number: 4711, Status: status,
			IncidentKey: &key, CreatedAt: triggeredAt.Truncate(time.Second).Format(time.RFC3339),
			Title:        "[FIRING:1] HighErrorRate checkout",
			IncidentType: map[string]string{"name": "incident_default"},
			Service:      pdService("PCHKOUT", "checkout (prod)"),
			Assignees:    []pdRef{dana},
			EscalationPolicy: pdRef{ID: "PEPCHK1", Type: "escalation_policy_reference", Summary: "Checkout Primary",
				Self: "https://api.pagerduty.com/escalation_policies/PEPCHK1"},
			Teams:    []pdRef{},
			Priority: pdPriority("P1"),
			Urgency:  "high",
		}
	}
	svcAgent := pdService("PCHKOUT", "checkout (prod)")
	amClient := map[string]string{"name": "Alertmanager", "url": am}
	triggered := pdBody(t, pdWebhookEvent{
		ID: "01JPDE2ETRIGGERED000000001", EventType: "incident.triggered", ResourceType: "incident",
		OccurredAt: pdTime(triggeredAt), Agent: &svcAgent, Client: amClient, Data: incidentData("triggered"),
	})
	acknowledged := pdBody(t, pdWebhookEvent{
		ID: "01JPDE2EACKNOWLEDGED000001", EventType: "incident.acknowledged", ResourceType: "incident",
		OccurredAt: pdTime(ackAt), Agent: &dana, Data: incidentData("acknowledged"),
	})
	const note = "Rolling back checkout: the new connection pool leaks."
	annotated := pdBody(t, pdWebhookEvent{
		ID: "01JPDE2EANNOTATED000000001", EventType: "incident.annotated", ResourceType: "incident",
		OccurredAt: pdTime(noteAt), Agent: &dana,
		Data: pdNoteData{ID: "PNOTE42", Type: "incident_note", Content: note, Incident: pdRef{
			ID: pdID, Type: "incident_reference", Summary: "[#4711] [FIRING:1] HighErrorRate checkout",
			Self: "https://api.pagerduty.com/incidents/" + pdID, HTMLURL: "https://acme.pagerduty.com/incidents/" + pdID,
		}},
	})

	// A wrong signature is refused and changes nothing.
	eventsBefore := len(listEvents(t, d.URL))
	code, body = postPagerDuty(t, d, triggered, pdSign("not-the-secret", triggered))
	require.Equal(t, http.StatusForbidden, code, "wrong signature: %s", body)
	// A right signature over other bytes is wrong too.
	code, body = postPagerDuty(t, d, triggered, pdSign("s3cret-old", acknowledged))
	require.Equal(t, http.StatusForbidden, code, "signature of another body: %s", body)
	require.Len(t, listEvents(t, d.URL), eventsBefore, "a refused webhook must not be stored")
	after := getPDIncident(t, d.URL, incID)
	require.Len(t, after.Timeline, len(inc.Timeline), "a refused webhook must not change the incident")
	require.Empty(t, after.PagerDuty)
	list := listIncidents(t, d.URL)
	require.Len(t, list, 1, "a refused webhook must not open an incident")

	eventIDs := map[string]string{
		"pagerduty.incident.triggered":    "01JPDE2ETRIGGERED000000001",
		"pagerduty.incident.acknowledged": "01JPDE2EACKNOWLEDGED000001",
		"pagerduty.incident.annotated":    "01JPDE2EANNOTATED000000001",
	}
	for _, b := range [][]byte{triggered, acknowledged, annotated} {
		code, body = postPagerDuty(t, d, b, pdSign("s3cret-old", b))
		require.Equal(t, http.StatusOK, code, "signed webhook: %s", body)
	}
	// A redelivery (at-least-once) signed with both secrets is stored once.
	code, body = postPagerDuty(t, d, acknowledged, pdSign("s3cret-new", acknowledged)+","+pdSign("s3cret-old", acknowledged))
	require.Equal(t, http.StatusOK, code, "redelivered webhook: %s", body)

	// Read-your-writes: the 200s mean the entries are on the incident now.
	list = listIncidents(t, d.URL)
	require.Len(t, list, 1, "the PagerDuty incident must join the alert's incident, not open another")
	inc = getPDIncident(t, d.URL, incID)
	var alertEntries int
	seen := map[string]int{}
	for _, e := range inc.Timeline {
		switch e.Source {
		case "alertmanager":
			alertEntries++
		case "pagerduty":
			seen[e.Kind]++
			want, ok := eventIDs[e.Kind]
			require.True(t, ok, "unexpected PagerDuty entry %+v", e)
			require.Equal(t, want, e.Ref.PagerDutyEventID, "entry %s ref.pagerduty_event_id", e.Kind)
			require.Equal(t, pdID, e.Ref.PagerDutyIncidentID, "entry %s ref.pagerduty_incident_id", e.Kind)
			require.NotEmpty(t, e.Reasons, "entry %s has no reasons", e.Kind)
		}
	}
	require.Positive(t, alertEntries, "the alert entries must stay on the incident")
	for kind := range eventIDs {
		require.Equal(t, 1, seen[kind], "entries of kind %s on the incident (timeline %+v)", kind, inc.Timeline)
	}
	var trigEntry apiEntry
	for _, e := range inc.Timeline {
		if e.Kind == "pagerduty.incident.triggered" {
			trigEntry = e
		}
	}
	require.Contains(t, strings.Join(trigEntry.Reasons, "\n"), "linked exactly", "reasons of the triggered entry")

	require.Len(t, inc.PagerDuty, 1)
	link := inc.PagerDuty[0]
	require.Equal(t, pdID, link.IncidentID)
	require.Equal(t, "https://acme.pagerduty.com/incidents/"+pdID, link.URL)
	require.Equal(t, "acknowledged", link.Status)
	require.Equal(t, "P1", link.Priority)
	require.Contains(t, link.LinkReason, "linked exactly")
	require.Contains(t, link.LinkReason, "sha256")
	require.NotNil(t, link.AcknowledgedAt)
	require.True(t, link.AcknowledgedAt.Equal(ackAt), "acknowledged_at %s, want %s", link.AcknowledgedAt, ackAt)
	require.NotNil(t, inc.TimeToAcknowledgeSeconds, "time_to_acknowledge_seconds")
	require.Equal(t, int64(ackAt.Sub(startsAt)/time.Second), *inc.TimeToAcknowledgeSeconds,
		"time_to_acknowledge_seconds runs from the first symptom (%s) to the acknowledgement (%s)", startsAt, ackAt)
	require.Contains(t, inc.Responders, "Dana Oncall")
	require.Equal(t, "SEV1", inc.Severity.Suggested, "severity reasons %q", inc.Severity.Reasons)
	require.True(t, slices.ContainsFunc(inc.Severity.Reasons, func(r string) bool {
		return strings.Contains(r, "pagerduty.priority_floor") && strings.HasPrefix(r, "SEV1")
	}), "a severity reason should name pagerduty.priority_floor: %q", inc.Severity.Reasons)

	draft := markdownDraft(t, d.URL, incID)
	require.Contains(t, draft, "| Responders | Dana Oncall (the on-call engineer) |", "the responders table names people, with their role")
	require.Contains(t, draft, "The on-call engineer acknowledged", "the draft says who acknowledged the page, by role (blameless); draft:\n%s", draft)
	require.Equal(t, 1, strings.Count(draft, "Dana Oncall"), "outside the responders table, roles, not names; draft:\n%s", draft)
	require.NotContains(t, draft, "No acknowledgement of the page is recorded", "draft:\n%s", draft)
	require.NotContains(t, strings.ToLower(draft), "monitoring gap", "an alert came first; draft:\n%s", draft)

	// A page raised by hand on a PagerDuty service no Hindsight service
	// maps, with no incident key and no alert behind it.
	const handID = "Q9HANDRAISED01"
	sam := pdUser("PSAMSUP", "Sam Support")
	handAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	handData := pdIncidentData{
		ID: handID, Type: "incident", Self: "https://api.pagerduty.com/incidents/" + handID,
		HTMLURL: "https://acme.pagerduty.com/incidents/" + handID, Number: 4712, Status: "triggered",
		CreatedAt: handAt.Truncate(time.Second).Format(time.RFC3339),
		Title:     "Customers report failed logins", IncidentType: map[string]string{"name": "incident_default"},
		Service:   pdService("PLOGIN9", "login (prod)"),
		Assignees: []pdRef{dana},
		EscalationPolicy: pdRef{ID: "PEPLOG1", Type: "escalation_policy_reference", Summary: "Login Primary",
			Self: "https://api.pagerduty.com/escalation_policies/PEPLOG1"},
		Teams: []pdRef{}, Urgency: "high",
	}
	hand := pdBody(t, pdWebhookEvent{
		ID: "01JPDE2EHANDRAISED00000001", EventType: "incident.triggered", ResourceType: "incident",
		OccurredAt: pdTime(handAt), Agent: &sam, Client: nil, Data: handData,
	})
	require.NotContains(t, string(hand), "incident_key\":\"", "the hand-raised page has no incident key")
	code, body = postPagerDuty(t, d, hand, pdSign("s3cret-new", hand))
	require.Equal(t, http.StatusOK, code, "hand-raised page: %s", body)

	list = listIncidents(t, d.URL)
	require.Len(t, list, 2, "the hand-raised page should open an incident of its own")
	var gapID string
	for _, i := range list {
		if i.ID != incID {
			gapID = i.ID
		}
	}
	gap := getPDIncident(t, d.URL, gapID)
	require.True(t, gap.MonitoringGap, "monitoring_gap on the hand-raised page's incident")
	require.Len(t, gap.PagerDuty, 1)
	require.Equal(t, handID, gap.PagerDuty[0].IncidentID)
	require.Len(t, gap.Timeline, 1)
	require.Equal(t, "pagerduty", gap.Timeline[0].Source)
	require.Equal(t, "pagerduty.incident.triggered", gap.Timeline[0].Kind)
	require.Equal(t, "01JPDE2EHANDRAISED00000001", gap.Timeline[0].Ref.PagerDutyEventID)
	require.Contains(t, strings.ToLower(strings.Join(gap.Timeline[0].Reasons, "\n")), "monitoring gap")
	// The first incident is untouched.
	require.False(t, getPDIncident(t, d.URL, incID).MonitoringGap)
	require.Len(t, getPDIncident(t, d.URL, incID).Timeline, len(inc.Timeline))

	gapDraft := markdownDraft(t, d.URL, gapID)
	require.Contains(t, strings.ToLower(gapDraft), "monitoring gap", "draft:\n%s", gapDraft)
	require.Contains(t, gapDraft, "Sam Support (a colleague)", "the responders table says who raised the page; draft:\n%s", gapDraft)
	require.Contains(t, gapDraft, "raised by hand by a colleague", "the story says it by role; draft:\n%s", gapDraft)

	v, found := metricValue(t, d.URL, `hindsight_collector_events_received_total{source="pagerduty"}`)
	require.True(t, found)
	require.GreaterOrEqual(t, v, 4.0)
}
