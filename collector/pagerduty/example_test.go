package pagerduty_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
)

// The wiring in the daemon: the webhook route, and the poller that
// backfills what webhooks missed while pagerduty.poll_interval is set.
func Example() {
	cfg := config.Default
	var sink collector.Sink = collector.SinkFunc(func(context.Context, ...collector.Event) error { return nil })
	logger := slog.Default()
	metrics := collector.NewMetrics(prometheus.NewRegistry(), collector.SourceAlertmanager, collector.SourcePagerDuty)

	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/ingest/pagerduty", pagerduty.NewHandler(cfg, sink, metrics, logger))

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = pagerduty.NewPoller(cfg, sink, logger).Run(ctx)
	}()
	stop()
	<-done

	// A one-off backfill, say of the day before a restart. (This example
	// is compiled, not run.)
	b := pagerduty.NewBackfiller(pagerduty.NewClient("token", cfg().PagerDuty.APIURL), cfg, sink, logger)
	now := time.Now()
	if st, err := b.Run(context.Background(), now.Add(-24*time.Hour), now); err != nil {
		logger.Warn("PagerDuty backfill failed", "err", err, "events", st.Events)
	}
}
