package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
)

// exportView is what these tests read of an incident's post-mortem.
type exportView struct {
	Postmortem struct {
		Exports []struct {
			Sink    string `json:"sink"`
			Status  string `json:"status"`
			Version int    `json:"version"`
		} `json:"exports"`
	} `json:"postmortem"`
}

// resolveIncidents posts one resolved alert on each service, half an
// hour ago, and returns the incident ids.
func resolveIncidents(t *testing.T, d *daemonProc, services ...string) []string {
	t.Helper()
	start := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	for _, svc := range services {
		f, r := resolvedPair(svc, "HighErrorRate", svc+"-1:8080", start, start.Add(12*time.Minute))
		postWebhook(t, d, f)
		postWebhook(t, d, r)
	}
	var ids []string
	for _, inc := range listIncidents(t, d.URL) {
		ids = append(ids, inc.ID)
	}
	require.Len(t, ids, len(services))
	return ids
}

// TestFaultPrometheusUnreachable: with Prometheus refusing connections,
// or accepting them and never answering, the drafts are still written
// on their own after export.delay, and say that the impact was not
// measured and why in one plain line, without a Go error.
func TestFaultPrometheusUnreachable(t *testing.T) {
	skipShort(t)
	// A port nothing listens on (refused), and one that accepts and
	// never answers (hangs until query_timeout).
	refused := freePort(t)
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hang.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()

	for name, tc := range map[string]struct{ url, says string }{
		"refused": {fmt.Sprintf("http://127.0.0.1:%d", refused), "Not measured: Prometheus unreachable (error\\_ratio on checkout)."},
		"hanging": {"http://" + hang.Addr().String(), "Not measured: the query timed out (prometheus.query\\_timeout) (error\\_ratio on checkout)."},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := `correlation:
  resolve_after: 1s
prometheus:
  url: ` + tc.url + `
  query_timeout: 2s
services:
  checkout:
    impact_queries:
      error_ratio: sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))
export:
  delay: 1s
  formats: [markdown]
  sinks:
    - type: directory
      path: postmortems
`
			d := startInProcess(t, dir, cfg)
			ids := resolveIncidents(t, d, "checkout")
			draft := filepath.Join(dir, "postmortems", ids[0]+".v1.md")
			began := time.Now()
			require.Eventually(t, func() bool { _, err := os.Stat(draft); return err == nil }, pollTimeout, 100*time.Millisecond,
				"the draft is written with Prometheus %s", name)
			t.Logf("draft written %s after the incident resolved, Prometheus %s", time.Since(began).Round(time.Millisecond), name)
			md, err := os.ReadFile(draft)
			require.NoError(t, err)
			require.Contains(t, string(md), tc.says)
			for _, leak := range []string{"connection refused", "dial tcp", "context deadline", "127.0.0.1"} {
				require.NotContains(t, string(md), leak, "no Go error or address in the draft")
			}
			// The API's view says the same.
			var v struct {
				Impact struct {
					Errors []string `json:"errors"`
				} `json:"impact"`
			}
			getJSON(t, d.URL+"/api/v1/incidents/"+ids[0], &v)
			require.NotEmpty(t, v.Impact.Errors, "the incident says its impact was not measured")
		})
	}
}

// hookServer is a draft receiver on a fixed port that can go down (no
// listener: connections refused) and come back. It stores each draft
// once by its Idempotency-Key, as the contract asks of a receiver.
type hookServer struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
	// stored counts the 2xx answers by key; posts counts every POST.
	stored map[string]int
	posts  int
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), stored: map[string]int{}}
	h.up()
	t.Cleanup(h.down)
	return h
}

func (h *hookServer) up() {
	h.t.Helper()
	ln, err := net.Listen("tcp", h.addr)
	require.NoError(h.t, err)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		key := r.Header.Get("Idempotency-Key")
		h.mu.Lock()
		defer h.mu.Unlock()
		h.posts++
		if key == "" {
			http.Error(w, "no Idempotency-Key", http.StatusBadRequest)
			return
		}
		h.stored[key]++
		w.WriteHeader(http.StatusOK)
	})}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.t.Errorf("hook server: %v", err)
		}
	}()
}

func (h *hookServer) down() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (h *hookServer) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.stored))
	for k, v := range h.stored {
		m[k] = v
	}
	return m, h.posts
}

// TestFaultWebhookDown: the export webhook is down through many retries
// (backoff shortened, so the outage of minutes it stands for takes
// seconds; the code path is the daemon's own) and a restart of the
// daemon. The incidents say their export failed meanwhile; once the
// webhook is back every draft reaches it exactly once by its
// Idempotency-Key, and nothing is sent again afterwards.
func TestFaultWebhookDown(t *testing.T) {
	skipShort(t)
	hook := newHookServer(t)
	hook.down()
	dir := t.TempDir()
	cfg := `correlation:
  resolve_after: 1s
export:
  delay: 1s
  formats: [markdown, json]
  sinks:
    - type: webhook
      url: http://` + hook.addr + `/drafts
`
	fast := func(o *daemon.Options) {
		o.ExportMinBackoff, o.ExportMaxBackoff = 50*time.Millisecond, 400*time.Millisecond
	}
	d := startInProcess(t, dir, cfg, fast)
	services := []string{"checkout", "payments", "search"}
	ids := resolveIncidents(t, d, services...)

	failedAll := func() error {
		for _, id := range ids {
			var v exportView
			if err := tryGetJSON(d.URL+"/api/v1/incidents/"+id, &v); err != nil {
				return err
			}
			if len(v.Postmortem.Exports) == 0 || v.Postmortem.Exports[0].Status != "failed" {
				return fmt.Errorf("incident %s exports: %+v", id, v.Postmortem.Exports)
			}
		}
		return nil
	}
	eventually(t, pollTimeout, "every incident says its export failed", failedAll)
	time.Sleep(1500 * time.Millisecond) // more retries, up to the capped backoff
	failed, ok := metricValue(t, d.URL, `hindsight_export_deliveries_total{result="failed",type="webhook"}`)
	require.True(t, ok)
	require.GreaterOrEqual(t, failed, float64(2*len(ids)), "retried while the webhook is down")

	// A restart while it is still down: the failures are in the log, the
	// retries go on.
	d.Stop()
	d = startInProcess(t, dir, cfg, fast)
	eventually(t, pollTimeout, "still failing after the restart", failedAll)
	time.Sleep(time.Second)
	_, posts := hook.snapshot()
	require.Zero(t, posts, "nothing reached the webhook while it was down")

	hook.up()
	eventually(t, pollTimeout, "every draft delivered once the webhook is back", func() error {
		for _, id := range ids {
			var v exportView
			if err := tryGetJSON(d.URL+"/api/v1/incidents/"+id, &v); err != nil {
				return err
			}
			ok := false
			for _, x := range v.Postmortem.Exports {
				ok = ok || (x.Status == "exported" && x.Version == 1)
			}
			if !ok {
				return fmt.Errorf("incident %s exports: %+v", id, v.Postmortem.Exports)
			}
		}
		return nil
	})
	// Give a repeat every chance to happen: several capped backoffs.
	time.Sleep(2 * time.Second)
	stored, posts := hook.snapshot()
	var want []string
	for _, id := range ids {
		for _, f := range []string{"markdown", "json"} {
			want = append(want, fmt.Sprintf("hindsight-%s-v1-%s", id, f))
		}
	}
	require.Len(t, stored, len(want), "one key per draft and format: %v", stored)
	for _, k := range want {
		require.Equal(t, 1, stored[k], "draft %s delivered once", k)
	}
	require.Equal(t, len(want), posts, "no POST repeated once delivered")
	require.True(t, strings.HasPrefix(want[0], "hindsight-inc-"))
	t.Logf("figures: webhook down through %v failed deliveries and a restart; %d drafts delivered afterwards, each once by Idempotency-Key", failed, len(want))
}
