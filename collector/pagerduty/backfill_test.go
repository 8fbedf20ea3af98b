package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/collectortest"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
)

const apiToken = "test-token-not-real"

// Incidents as GET /incidents lists them (PagerDuty REST API v2 shape).
var (
	incident4711 = map[string]any{
		"id": incidentID, "type": "incident", "summary": "[#4711] [FIRING:1] HighErrorRate checkout prod",
		"self":            "https://api.pagerduty.com/incidents/" + incidentID,
		"html_url":        "https://acme.pagerduty.com/incidents/" + incidentID,
		"incident_number": 4711, "title": "[FIRING:1] HighErrorRate checkout prod",
		"created_at": "2026-11-20T14:03:02Z", "updated_at": "2026-11-20T14:32:05Z",
		"last_status_change_at": "2026-11-20T14:32:05Z", "status": "resolved",
		"incident_key": incidentKey,
		"service":      map[string]any{"id": "PCHKOUT", "type": "service_reference", "summary": "checkout (prod)"},
		"assignments":  []any{},
		"escalation_policy": map[string]any{"id": "PEPCHK1", "type": "escalation_policy_reference",
			"summary": "Checkout Primary"},
		"teams":          []any{map[string]any{"id": "PTPAY01", "type": "team_reference", "summary": "Payments"}},
		"priority":       map[string]any{"id": "PPRIO01", "type": "priority", "summary": "P1", "name": "P1"},
		"urgency":        "high",
		"resolve_reason": nil,
		"alert_counts":   map[string]any{"all": 1, "triggered": 0, "resolved": 1},
	}
	incident4712 = map[string]any{
		"id": "Q3PAYMENTS0001", "type": "incident", "summary": "[#4712] PaymentsLatency",
		"incident_number": 4712, "title": "PaymentsLatency", "created_at": "2026-11-20T15:00:00Z",
		"updated_at": "2026-11-20T15:05:00Z", "status": "acknowledged", "incident_key": "pay-latency",
		"service":  map[string]any{"id": "PPAYMNT", "type": "service_reference", "summary": "payments (prod)"},
		"priority": nil, "urgency": "low",
	}
	// incidentStale is open but untouched for weeks.
	incidentStale = map[string]any{
		"id": "Q4STALE", "type": "incident", "incident_number": 4000, "title": "Disk 80% full",
		"created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z", "status": "triggered",
	}
	logEntries4712 = []any{
		map[string]any{"id": "RP1", "type": "trigger_log_entry", "summary": "Triggered through the API.",
			"created_at": "2026-11-20T15:00:00Z",
			"agent":      map[string]any{"id": "PPAYMNT", "type": "service_reference", "summary": "payments (prod)"},
			"channel":    map[string]any{"type": "api"},
			"service":    map[string]any{"id": "PPAYMNT", "type": "service_reference", "summary": "payments (prod)"},
			"incident":   map[string]any{"id": "Q3PAYMENTS0001", "type": "incident_reference", "summary": "[#4712] PaymentsLatency"}},
		// The assignment PagerDuty logs with the trigger, a few ms later.
		map[string]any{"id": "RP2", "type": "assign_log_entry", "summary": "Assigned to Sam Payments.",
			"created_at": "2026-11-20T15:00:00Z",
			"agent":      map[string]any{"id": "PPAYMNT", "type": "service_reference", "summary": "payments (prod)"},
			"channel":    map[string]any{"type": "auto"},
			"assignees":  []any{map[string]any{"id": "PSAM", "type": "user_reference", "summary": "Sam Payments"}},
			"incident":   map[string]any{"id": "Q3PAYMENTS0001", "type": "incident_reference"}},
		map[string]any{"id": "RP3", "type": "urgency_change_log_entry", "summary": "Urgency changed from high to low.",
			"created_at": "2026-11-20T15:05:00Z",
			"agent":      map[string]any{"id": "PSAM", "type": "user_reference", "summary": "Sam Payments"},
			"channel":    map[string]any{"type": "web_ui"},
			"incident":   map[string]any{"id": "Q3PAYMENTS0001", "type": "incident_reference"}},
	}
)

// pdServer serves the parts of the PagerDuty REST API the backfill uses,
// in PagerDuty's shapes, with pages smaller than asked for (as the API
// may) and one 429 on the first log entry request.
type pdServer struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	created    []any // what GET /incidents?since&until lists, one a page
	open       []any // what GET /incidents?date_range=all&statuses[]=... lists
	entries    map[string][]any
	throttle   int    // answer this many log entry requests with 429
	unavail    int    // then this many with 503
	reset      string // their ratelimit-reset
	calls      map[string]int
	sinceSeen  map[string]string // log entries' since, by incident
	authFailed bool
}

func newPDServer(t *testing.T) *pdServer {
	t.Helper()
	var sample struct {
		LogEntries []any `json:"log_entries"`
	}
	require.NoError(t, json.Unmarshal(readSample(t, sampleLogEntries), &sample))
	require.Len(t, sample.LogEntries, 4)
	s := &pdServer{
		t:       t,
		created: []any{incident4711, incident4712},
		open:    []any{incident4712, incidentStale},
		entries: map[string][]any{
			incidentID:       sample.LogEntries,
			"Q3PAYMENTS0001": logEntries4712,
			"Q4STALE":        {},
		},
		throttle:  1,
		reset:     "1",
		calls:     map[string]int{},
		sinceSeen: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /incidents", s.incidents)
	mux.HandleFunc("GET /incidents/{id}/log_entries", s.logEntries)
	s.srv = httptest.NewServer(s.auth(mux))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *pdServer) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Token token="+apiToken ||
			r.Header.Get("Accept") != "application/vnd.pagerduty+json;version=2" {
			s.mu.Lock()
			s.authFailed = true
			s.mu.Unlock()
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Unauthorized", "code": 2006}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// page answers a PagerDuty list: items[offset:offset+size], more when
// some remain.
func page(w http.ResponseWriter, r *http.Request, key string, items []any, size int) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	end := min(offset+size, len(items))
	start := min(offset, end)
	writeJSON(w, http.StatusOK, map[string]any{
		key: items[start:end], "limit": size, "offset": offset, "more": end < len(items), "total": nil,
	})
}

func (s *pdServer) incidents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if q.Get("date_range") == "all" {
		s.calls["open"]++
		require.Equal(s.t, []string{"triggered", "acknowledged"}, q["statuses[]"])
		page(w, r, "incidents", s.open, 100)
		return
	}
	s.calls["created"]++
	require.NotEmpty(s.t, q.Get("since"))
	require.NotEmpty(s.t, q.Get("until"))
	require.Equal(s.t, "100", q.Get("limit"))
	page(w, r, "incidents", s.created, 1)
}

func (s *pdServer) logEntries(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	s.calls[id]++
	if s.throttle > 0 {
		s.throttle--
		w.Header().Set("ratelimit-limit", "960")
		w.Header().Set("ratelimit-remaining", "0")
		w.Header().Set("ratelimit-reset", s.reset)
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{"message": "Rate Limit Exceeded", "code": 2020}})
		return
	}
	if s.unavail > 0 {
		s.unavail--
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]any{"message": "Service Unavailable"}})
		return
	}
	q := r.URL.Query()
	require.Equal(s.t, "true", q.Get("is_overview"))
	require.NotEmpty(s.t, q.Get("until"))
	s.sinceSeen[id] = q.Get("since")
	entries, ok := s.entries[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"message": "Not Found", "code": 2100}})
		return
	}
	page(w, r, "log_entries", entries, 2)
}

func (s *pdServer) callsTo(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

var (
	windowStart = time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)
	windowEnd   = time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)
)

func newBackfiller(t *testing.T, s *pdServer, sink collector.Sink) *pagerduty.Backfiller {
	t.Helper()
	cfg := testConfig()
	return pagerduty.NewBackfiller(pagerduty.NewClient(apiToken, s.srv.URL+"/"), func() *config.Config { return cfg },
		sink, slog.New(slog.DiscardHandler))
}

// webhookID decodes a webhook body and returns its event's ID.
func webhookID(t *testing.T, body []byte) string {
	t.Helper()
	_, ev, err := pagerduty.Decode(body)
	require.NoError(t, err)
	return ev.ID
}

func TestBackfill(t *testing.T) {
	s := newPDServer(t)
	sink := &collectortest.Sink{}
	b := newBackfiller(t, s, sink)

	start := time.Now()
	st, err := b.Run(context.Background(), windowStart, windowEnd)
	require.NoError(t, err)
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, time.Second, "ratelimit-reset: 1 is waited out")
	require.Less(t, elapsed, 10*time.Second)
	require.False(t, s.authFailed)

	require.Equal(t, pagerduty.Stats{Incidents: 2, LogEntries: 7, Events: 6, Skipped: 1, Retries: 1}, st)
	require.Equal(t, 3, s.callsTo(incidentID), "a 429, then two pages")
	require.Equal(t, 2, s.callsTo("Q3PAYMENTS0001"))
	require.Equal(t, 2, s.callsTo("created"), "two pages of incidents")
	require.Zero(t, s.callsTo("Q4STALE"), "an open incident untouched since the window began is not read")

	var inc4711, inc4712 []collector.Event
	for _, ev := range sink.Events() {
		require.NoError(t, ev.Validate())
		require.Equal(t, collector.SourcePagerDuty, ev.Source)
		require.WithinDuration(t, time.Now(), ev.ReceivedAt, time.Minute)
		switch ev.Ref.PagerDutyIncidentID {
		case incidentID:
			inc4711 = append(inc4711, ev)
		case "Q3PAYMENTS0001":
			inc4712 = append(inc4712, ev)
		default:
			t.Fatalf("event of an unexpected incident: %+v", ev)
		}
	}

	got := byKind(t, inc4711)
	require.Len(t, got, 4)
	// The same happenings as the webhook samples: the same IDs.
	require.Equal(t, webhookID(t, readSample(t, sampleTriggered)), got[pagerduty.KindTriggered].ID)
	require.Equal(t, webhookID(t, readSample(t, sampleAnnotated)), got[pagerduty.KindAnnotated].ID)
	require.Equal(t, webhookID(t, readSample(t, sampleResolved)), got[pagerduty.KindResolved].ID)
	// No sample for the acknowledgement: the webhook PagerDuty would send.
	ack := variant(t, map[string]any{
		"id": "01F8G2MACK0000000000000000", "event_type": "incident.acknowledged",
		"occurred_at": "2026-11-20T14:05:30.250Z", "agent": dana,
	}, map[string]any{"status": "acknowledged"})
	require.Equal(t, webhookID(t, ack), got[pagerduty.KindAcknowledged].ID)

	trig := got[pagerduty.KindTriggered]
	require.Equal(t, mustTime(t, "2026-11-20T14:03:02Z"), trig.At)
	require.Equal(t, "checkout", trig.Service)
	require.Equal(t, collector.Ref{PagerDutyIncidentID: incidentID, PagerDutyEventID: "R0TRIGGER0001"}, trig.Ref)
	require.Equal(t, &collector.PagerDuty{
		IncidentNumber: "4711", ServiceID: "PCHKOUT", ServiceName: "checkout (prod)",
		IncidentKey: incidentKey, Status: "triggered", Priority: "P1", Urgency: "high",
		Agent: "checkout (prod)", AgentType: "service_reference", EscalationPolicy: "Checkout Primary",
		Title: "[FIRING:1] HighErrorRate checkout prod", HTMLURL: "https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD",
		LogEntryType: "trigger_log_entry",
	}, trig.PagerDuty)
	require.Empty(t, trig.Labels)
	require.Equal(t, "#4711 [FIRING:1] HighErrorRate checkout prod triggered on checkout (prod)", trig.Summary)
	require.Equal(t, "Dana Oncall acknowledged #4711 [FIRING:1] HighErrorRate checkout prod", got[pagerduty.KindAcknowledged].Summary)
	require.Equal(t, "Note by Dana Oncall: Rolling back checkout to v2.41.0; v2.42.0 introduced a connection pool regression.",
		got[pagerduty.KindAnnotated].Summary)
	require.Equal(t, "#4711 resolved by checkout (prod)", got[pagerduty.KindResolved].Summary)
	require.Equal(t, "resolved", got[pagerduty.KindResolved].PagerDuty.Status)

	// The webhook and the backfill agree on what correlation reads.
	_, hook, err := pagerduty.Decode(readSample(t, sampleResolved))
	require.NoError(t, err)
	h, r := hook.PagerDuty, got[pagerduty.KindResolved].PagerDuty
	require.Equal(t, []string{h.IncidentNumber, h.ServiceID, h.IncidentKey, h.Status, h.Priority, h.Title, h.Agent},
		[]string{r.IncidentNumber, r.ServiceID, r.IncidentKey, r.Status, r.Priority, r.Title, r.Agent})
	_, note, err := pagerduty.Decode(readSample(t, sampleAnnotated))
	require.NoError(t, err)
	require.Equal(t, note.PagerDuty.Note, got[pagerduty.KindAnnotated].PagerDuty.Note)

	// The second incident: the trigger's assignment folded in, and a log
	// entry no webhook describes kept under its own kind.
	got = byKind(t, inc4712)
	require.Len(t, got, 2)
	trig = got[pagerduty.KindTriggered]
	require.Equal(t, "payments", trig.Service)
	require.Equal(t, []string{"Sam Payments"}, trig.PagerDuty.Assignees)
	require.Equal(t, "#4712 PaymentsLatency triggered on payments (prod), assigned to Sam Payments", trig.Summary)
	urg := got["pagerduty.log.urgency_change_log_entry"]
	require.Equal(t, "RP3", urg.Ref.PagerDutyEventID)
	require.Equal(t, "#4712: Urgency changed from high to low.", urg.Summary)
	require.Equal(t, "Sam Payments", urg.PagerDuty.Agent)
}

// Incidents open at the last run and closed since are read again, even
// when they were created long before the window.
func TestBackfillRereadsIncidentsClosedSinceLastRun(t *testing.T) {
	s := newPDServer(t)
	s.throttle = 0
	b := newBackfiller(t, s, &collectortest.Sink{})
	_, err := b.Run(context.Background(), windowStart, windowEnd)
	require.NoError(t, err)
	require.Equal(t, 2, s.callsTo("Q3PAYMENTS0001"), "two pages")

	s.mu.Lock()
	s.created = nil
	s.open = []any{incidentStale} // 4712 was resolved
	s.mu.Unlock()
	later := windowEnd.Add(time.Hour)
	st, err := b.Run(context.Background(), later, later.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, s.callsTo("Q3PAYMENTS0001"))
	require.Equal(t, later.Format(time.RFC3339), s.sinceSeen["Q3PAYMENTS0001"])
	require.Zero(t, s.callsTo("Q4STALE"))
	require.Equal(t, 1, st.Incidents)

	// Not remembered any more once read closed.
	s.mu.Lock()
	s.open = nil
	s.mu.Unlock()
	_, err = b.Run(context.Background(), later, later.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 4, s.callsTo("Q3PAYMENTS0001"))
	require.Equal(t, 1, s.callsTo("Q4STALE"), "the stale incident was closed since the last run")
}

func TestBackfillRateLimitWaitEndsWithContext(t *testing.T) {
	s := newPDServer(t)
	s.throttle = 1000
	s.reset = "30"
	b := newBackfiller(t, s, &collectortest.Sink{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := b.Run(ctx, windowStart, windowEnd)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 1, st.Retries)
	require.Zero(t, st.Events)
}

func TestBackfillErrors(t *testing.T) {
	t.Run("unauthorized is not retried", func(t *testing.T) {
		s := newPDServer(t)
		b := pagerduty.NewBackfiller(gopd.NewClient("tok-must-not-leak", gopd.WithAPIEndpoint(s.srv.URL)),
			func() *config.Config { return testConfig() }, &collectortest.Sink{}, slog.New(slog.DiscardHandler))
		st, err := b.Run(context.Background(), windowStart, windowEnd)
		require.Error(t, err)
		ae, ok := errors.AsType[gopd.APIError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, http.StatusUnauthorized, ae.StatusCode)
		require.Zero(t, st.Retries)
		require.NotContains(t, err.Error(), "tok-must-not-leak")
	})
	t.Run("store unavailable", func(t *testing.T) {
		s := newPDServer(t)
		s.throttle = 0
		sink := &collectortest.Sink{Err: collector.ErrUnavailable}
		_, err := newBackfiller(t, s, sink).Run(context.Background(), windowStart, windowEnd)
		require.ErrorIs(t, err, collector.ErrUnavailable)
	})
	t.Run("empty window", func(t *testing.T) {
		s := newPDServer(t)
		_, err := newBackfiller(t, s, &collectortest.Sink{}).Run(context.Background(), windowEnd, windowStart)
		require.ErrorContains(t, err, "is not after since")
	})
	t.Run("a client made elsewhere still honours ratelimit-reset", func(t *testing.T) {
		s := newPDServer(t)
		sink := &collectortest.Sink{}
		b := pagerduty.NewBackfiller(gopd.NewClient(apiToken, gopd.WithAPIEndpoint(s.srv.URL)),
			func() *config.Config { return testConfig() }, sink, slog.New(slog.DiscardHandler))
		st, err := b.Run(context.Background(), windowStart, windowEnd)
		require.NoError(t, err)
		require.Equal(t, 1, st.Retries)
		require.Len(t, sink.Events(), 6)
	})
}

func TestPoller(t *testing.T) {
	s := newPDServer(t)
	s.throttle = 0
	tokenFile := filepath.Join(t.TempDir(), "pd-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(apiToken+"\n"), 0o600))
	cfg := testConfig()
	cfg.PagerDuty.APITokenFile = tokenFile
	cfg.PagerDuty.APIURL = s.srv.URL
	cfg.PagerDuty.PollInterval = model.Duration(time.Hour)
	sink := &collectortest.Sink{}
	p := pagerduty.NewPoller(func() *config.Config { return cfg }, sink, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	require.Eventually(t, func() bool { return len(sink.Events()) == 6 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.False(t, s.authFailed)
}

func TestBackfillRetries5xx(t *testing.T) {
	s := newPDServer(t)
	s.throttle, s.unavail = 0, 1
	sink := &collectortest.Sink{}
	st, err := newBackfiller(t, s, sink).Run(context.Background(), windowStart, windowEnd)
	require.NoError(t, err)
	require.Equal(t, 1, st.Retries)
	require.Len(t, sink.Events(), 6)
}

func TestRunEvery(t *testing.T) {
	s := newPDServer(t)
	s.throttle = 0
	sink := &collectortest.Sink{}
	b := newBackfiller(t, s, sink)
	require.Error(t, b.RunEvery(context.Background(), 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- b.RunEvery(ctx, time.Hour) }()
	require.Eventually(t, func() bool { return len(sink.Events()) == 6 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

func TestPollerBadTokenFile(t *testing.T) {
	cfg := testConfig()
	cfg.PagerDuty.APITokenFile = filepath.Join(t.TempDir(), "missing")
	cfg.PagerDuty.PollInterval = model.Duration(time.Hour)
	logs := &syncBuffer{}
	p := pagerduty.NewPoller(func() *config.Config { return cfg }, &collectortest.Sink{}, slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Run(ctx), context.DeadlineExceeded)
	require.Contains(t, logs.String(), "PagerDuty backfill skipped")
}

func TestPollerIdlesWithoutConfig(t *testing.T) {
	cfg := testConfig()
	p := pagerduty.NewPoller(func() *config.Config { return cfg }, &collectortest.Sink{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Run(ctx), context.DeadlineExceeded)
}
