package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/config"
)

// noopHandler does what alertmanager.Handler does up to the store and
// then answers as if the events were stored: the baseline that the
// durable figures are compared with.
type noopHandler struct {
	cfg     *config.Config
	logger  *slog.Logger
	metrics *collector.Metrics
}

func (h *noopHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := h.handle(r)
	collector.Respond(w, h.logger, h.metrics, collector.SourceAlertmanager, n, err)
}

func (h *noopHandler) handle(r *http.Request) (int, error) {
	if re := collector.CheckJSON(r); re != nil {
		return 0, re
	}
	body, re := collector.ReadBody(r, int64(h.cfg.API.MaxBodyBytes))
	if re != nil {
		return 0, re
	}
	m, evs, err := alertmanager.Decode(body)
	if err != nil {
		return 0, collector.BadRequest("%v", err)
	}
	if m.TruncatedAlerts > 0 {
		h.logger.Warn("Alertmanager truncated a notification", "truncated_alerts", m.TruncatedAlerts)
	}
	now := time.Now().UTC()
	for i := range evs {
		evs[i].ReceivedAt = now
		evs[i].Service = h.cfg.ServiceFor(evs[i].Labels)
	}
	return len(evs), nil
}

// noopRoutes serves the no-op receiver on the daemon's path, wrapped in
// the same instrumentation as the daemon's routes, plus /-/ready.
func noopRoutes(logger *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	reqs := f.NewCounterVec(prometheus.CounterOpts{
		Name: "hindsight_http_requests_total",
		Help: "HTTP requests served, by route and status code.",
	}, []string{"handler", "code"})
	dur := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:                        "hindsight_http_request_duration_seconds",
		Help:                        "Time to serve an HTTP request, by route.",
		Buckets:                     prometheus.ExponentialBuckets(0.0005, 2, 16),
		NativeHistogramBucketFactor: 1.1,
	}, []string{"handler"})
	mux := http.NewServeMux()
	handle := func(pattern, route string, h http.Handler) {
		l := prometheus.Labels{"handler": route}
		mux.Handle(pattern, promhttp.InstrumentHandlerDuration(dur.MustCurryWith(l),
			promhttp.InstrumentHandlerCounter(reqs.MustCurryWith(l), h)))
	}
	cfg := config.Default()
	handle("POST /api/v1/ingest/alertmanager", "/api/v1/ingest/alertmanager", &noopHandler{
		cfg:     cfg,
		logger:  logger,
		metrics: collector.NewMetrics(reg, collector.SourceAlertmanager),
	})
	handle("GET /-/ready", "/-/ready", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("No-op receiver is Ready.\n"))
	}))
	handle("GET /metrics", "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

func runNoop(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("noop", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9197", "address to serve the no-op receiver on")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	// The daemon's server settings, so that only the store differs.
	srv := &http.Server{
		Handler:           noopRoutes(logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "no-op receiver on http://%s/api/v1/ingest/alertmanager\n", ln.Addr())
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
