package pagerduty_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/promslog"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

const benchSecret = "bench-secret-not-real"

// benchBodies returns n distinct signed webhook bodies built from the
// triggered sample: each a different event, so nothing is deduplicated.
func benchBodies(b *testing.B, n int) (bodies [][]byte, sigs []string) {
	raw, err := os.ReadFile("testdata/pagerduty_webhook_v3_incident_triggered.json")
	if err != nil {
		b.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		b.Fatal(err)
	}
	ev := env["event"].(map[string]any)
	data := ev["data"].(map[string]any)
	for i := range n {
		ev["id"] = fmt.Sprintf("01BENCH%019d", i)
		data["id"] = fmt.Sprintf("QBENCH%08d", i)
		ev["occurred_at"] = fmt.Sprintf("2026-11-20T14:%02d:%02d.000Z", (i/60)%60, i%60)
		body, err := json.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		mac := hmac.New(sha256.New, []byte(benchSecret))
		mac.Write(body)
		bodies = append(bodies, body)
		sigs = append(sigs, "v1="+hex.EncodeToString(mac.Sum(nil)))
	}
	return bodies, sigs
}

// BenchmarkWebhookIngest posts signed PagerDuty webhooks over loopback at
// a concurrency of GOMAXPROCS*16 to three handlers in one run:
//
//   - noop: the baseline; reads and decodes the body, stores nothing;
//   - verify: the real handler (signature checks) with a sink that stores
//     nothing;
//   - durable: the real handler over the Badger event log and projector,
//     answering after the event is on disk and correlated, as the daemon.
func BenchmarkWebhookIngest(b *testing.B) {
	bodies, sigs := benchBodies(b, 4096)
	cfg := config.Default()
	cfg.PagerDuty.WebhookSecrets = []commoncfg.Secret{"rotated-out-not-real", benchSecret}
	cfgFn := func() *config.Config { return cfg }
	logger := promslog.NewNopLogger()

	run := func(b *testing.B, h http.Handler) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1)) % len(bodies)
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(pagerduty.SignatureHeader, sigs[i])
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
	}

	b.Run("noop", func(b *testing.B) {
		run(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if _, _, err := pagerduty.Decode(body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			collector.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
		}))
	})
	b.Run("verify", func(b *testing.B) {
		sink := collector.SinkFunc(func(context.Context, ...collector.Event) error { return nil })
		run(b, pagerduty.NewHandler(cfgFn, sink, collector.NewMetrics(prometheus.NewRegistry()), logger))
	})
	b.Run("durable", func(b *testing.B) {
		db, err := store.Open(b.TempDir(), store.Options{}, logger, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		proj, err := correlate.NewProjector(b.Context(), db, db, cfg, logger, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = proj.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		sink := &correlate.Ingester{Log: db, Projector: proj}
		run(b, pagerduty.NewHandler(cfgFn, sink, collector.NewMetrics(prometheus.NewRegistry()), logger))
	})
}
