package daemon_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

// deliveries counts the drafts a webhook receives, by Idempotency-Key
// (one per incident, version and format).
type deliveries struct {
	mu   sync.Mutex
	keys map[string]int
	ids  map[string]bool
}

func (d *deliveries) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	d.mu.Lock()
	d.keys[r.Header.Get("Idempotency-Key")]++
	// hindsight-<incident>-v<version>-<format>
	if k := strings.TrimPrefix(r.Header.Get("Idempotency-Key"), "hindsight-"); strings.HasPrefix(k, "inc-") {
		d.ids[k[:strings.Index(k, "-v")]] = true
	}
	d.mu.Unlock()
}

func (d *deliveries) snapshot() (map[string]int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	for _, n := range d.keys {
		total += n
	}
	return maps.Clone(d.keys), total
}

// Two replicas with the same export configuration: each draft reaches
// the webhook once, not once per replica; when the replica that exports
// stops, the other takes the lease and exports the drafts of what
// resolves next, and nothing already delivered again.
func TestReplicasExportEachDraftOnce(t *testing.T) {
	hook := &deliveries{keys: map[string]int{}, ids: map[string]bool{}}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	cfg := replicatedConfig + `export:
  delay: 1s
  formats: [markdown, json]
  sinks:
    - type: webhook
      url: ` + srv.URL + `/drafts
`
	c := natstest.Start(t, 3)
	withNATS := func(o *daemon.Options) { o.NATSURL = c.URLs() }
	a := daemontest.Start(t, t.TempDir(), cfg, withNATS)
	b := daemontest.Start(t, t.TempDir(), cfg, withNATS)
	require.Eventually(t, func() bool {
		return a.Owner().Owns(lease.TaskExport) != b.Owner().Owns(lease.TaskExport)
	}, 10*time.Second, 20*time.Millisecond, "one replica holds the export lease")

	t0 := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Second)
	// resolve makes an incident of its own (services hours apart) and
	// resolves it, through both replicas.
	resolve := func(i int) {
		service, start := fmt.Sprintf("svc-%d", i), t0.Add(time.Duration(i)*30*time.Minute)
		ingest(t, a, webhook("firing", service, "i-1", start))
		ingest(t, b, webhook("resolved", service, "i-1", start))
	}
	waitDrafts := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool {
			hook.mu.Lock()
			defer hook.mu.Unlock()
			return len(hook.ids) >= n
		}, 60*time.Second, 100*time.Millisecond, "drafts of %d incidents delivered", n)
	}
	for i := range 4 {
		resolve(i)
	}
	waitDrafts(4)

	// The exporting replica stops; the other takes the lease over.
	holder, other := a, b
	if b.Owner().Owns(lease.TaskExport) {
		holder, other = b, a
	}
	holder.Stop()
	require.Eventually(t, func() bool { return other.Owner().Owns(lease.TaskExport) }, 30*time.Second, 20*time.Millisecond,
		"the replica left takes the export lease")
	for i := 4; i < 7; i++ {
		ingest(t, other, webhook("firing", fmt.Sprintf("svc-%d", i), "i-1", t0.Add(time.Duration(i)*30*time.Minute)))
		ingest(t, other, webhook("resolved", fmt.Sprintf("svc-%d", i), "i-1", t0.Add(time.Duration(i)*30*time.Minute)))
	}
	waitDrafts(7)
	time.Sleep(3 * time.Second) // export.delay and rounds more: time for a second delivery to show

	keys, total := hook.snapshot()
	require.Len(t, keys, 7*2, "each incident's draft, in each format")
	for k, n := range keys {
		require.Equal(t, 1, n, "%s delivered %d times", k, n)
	}
	require.Equal(t, len(keys), total)
}
