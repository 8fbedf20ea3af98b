package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	pdcollector "github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/impact"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/export/api"
)

// shutdownTimeout bounds how long in-flight requests get to finish.
const shutdownTimeout = 15 * time.Second

// Started is called once the daemon serves, with its listen address
// (tests listen on :0 and need the real port).
type Started func(addr string)

// daemon holds the running parts; run wires them in one place.
type daemon struct {
	opts    Options
	logger  *slog.Logger
	reg     *prometheus.Registry
	cfg     atomic.Pointer[config.Config]
	ready   atomic.Bool
	db      *store.DB
	proj    *correlate.Projector
	sink    collector.Sink
	metrics *collector.Metrics
	impact  *impact.Querier
	reloads struct {
		ok, ts prometheus.Gauge
		hash   prometheus.Gauge
	}
}

// Run starts the daemon and blocks until ctx is done, then shuts down in
// this order: stop reporting ready; stop accepting requests and let the
// in-flight ones finish (they may be waiting for their events to be
// correlated); stop the projector; close the store. The store closes last
// because everything before it may still write.
func Run(ctx context.Context, o Options, logger *slog.Logger, reload <-chan chan error, started Started) error {
	d := &daemon{opts: o, logger: logger, reg: prometheus.NewRegistry()}
	cfg, err := loadConfig(o.ConfigFile)
	if err != nil {
		return err
	}
	d.cfg.Store(cfg)
	d.registerBase()

	if err := os.MkdirAll(o.StoragePath, 0o750); err != nil {
		return fmt.Errorf("storage path %q: %w", o.StoragePath, err)
	}
	d.db, err = store.Open(o.StoragePath, store.Options{Retention: time.Duration(cfg.Retention.Events)}, logger.With("component", "store"), d.reg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.db.Close(); cerr != nil {
			logger.Error("Closing the store failed", "err", cerr)
		}
		logger.Info("Store closed")
	}()

	start := time.Now()
	d.proj, err = correlate.NewProjector(ctx, d.db, d.db, cfg, logger.With("component", "correlate"), d.reg)
	if err != nil {
		return err
	}
	if err := d.proj.CatchUp(ctx); err != nil {
		return fmt.Errorf("catch up with the event log: %w", err)
	}
	logger.Info("Incidents are up to date with the event log", "position", d.proj.Applied(), "duration", time.Since(start))
	d.sink = &correlate.Ingester{Log: d.db, Projector: d.proj}
	if d.impact, err = impact.New(cfg, logger.With("component", "impact"), d.reg); err != nil {
		return err
	}
	d.metrics = collector.NewMetrics(d.reg, collector.SourceAlertmanager, collector.SourcePagerDuty, collector.SourceDeploy)

	var wg sync.WaitGroup
	projCtx, stopProj := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProj()
	wg.Go(func() { _ = d.proj.Run(projCtx) })
	wg.Go(func() { _ = d.db.RunGC(projCtx) })
	wg.Go(func() { _ = pdcollector.NewPoller(d.cfg.Load, d.sink, d.logger).Run(projCtx) })
	// Stop the projector before the deferred store Close, whatever path
	// Run leaves by.
	defer func() { stopProj(); wg.Wait() }()

	stopNATS, err := d.startDeploys(cfg)
	if err != nil {
		return err
	}
	defer stopNATS()

	ln, err := net.Listen("tcp", o.ListenAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.ListenAddress, err)
	}
	srv := &http.Server{
		Handler:           d.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	d.ready.Store(true)
	logger.Info("Hindsight is ready", "address", ln.Addr().String(), "storage", o.StoragePath)
	if started != nil {
		started(ln.Addr().String())
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			logger.Info("Shutting down")
			break loop
		case err := <-srvErr:
			runErr = fmt.Errorf("http server: %w", err)
			break loop
		case reply := <-reload:
			err := d.reload()
			if reply != nil {
				reply <- err
			}
		}
	}
	d.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("HTTP server did not drain in time", "err", err)
	}
	// Deferred, in this order: stop consuming deploys and the NATS server,
	// stop the projector, close the store.
	return runErr
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// reload loads the configuration file again and swaps it in. Everything
// fallible happens before the swap, so a bad file leaves the running
// configuration in place.
func (d *daemon) reload() error {
	cfg, err := loadConfig(d.opts.ConfigFile)
	if err != nil {
		d.reloads.ok.Set(0)
		d.logger.Error("Configuration reload failed; keeping the running configuration", "err", err)
		return err
	}
	if err := d.impact.SetConfig(cfg); err != nil {
		d.reloads.ok.Set(0)
		d.logger.Error("Configuration reload failed; keeping the running configuration", "err", err)
		return err
	}
	d.cfg.Store(cfg)
	d.proj.SetConfig(cfg)
	d.db.SetRetention(time.Duration(cfg.Retention.Events))
	d.configLoaded(cfg)
	d.logger.Info("Configuration reloaded", "file", d.opts.ConfigFile)
	return nil
}

func (d *daemon) registerBase() {
	d.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("hindsight"),
	)
	f := promauto.With(d.reg)
	d.reloads.ok = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_config_last_reload_successful",
		Help: "Whether the last configuration reload succeeded (1) or not (0).",
	})
	d.reloads.ts = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration was last loaded successfully.",
	})
	d.reloads.hash = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_config_hash",
		Help: "Hash of the loaded configuration, to see which replicas run which file.",
	})
	d.configLoaded(d.cfg.Load())
}

func (d *daemon) configLoaded(cfg *config.Config) {
	d.reloads.ok.Set(1)
	d.reloads.ts.SetToCurrentTime()
	// The first 52 bits of the sha256, which a float64 holds exactly.
	h, _ := strconv.ParseUint(cfg.Hash()[:13], 16, 64)
	d.reloads.hash.Set(float64(h))
}

func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	reqs := promauto.With(d.reg).NewCounterVec(prometheus.CounterOpts{
		Name: "hindsight_http_requests_total",
		Help: "HTTP requests served, by route and status code.",
	}, []string{"handler", "code"})
	dur := promauto.With(d.reg).NewHistogramVec(prometheus.HistogramOpts{
		Name:                        "hindsight_http_request_duration_seconds",
		Help:                        "Time to serve an HTTP request, by route.",
		Buckets:                     prometheus.ExponentialBuckets(0.0005, 2, 16),
		NativeHistogramBucketFactor: 1.1,
	}, []string{"handler"})
	handle := func(pattern string, h http.Handler) {
		route := pattern[strings.IndexByte(pattern, ' ')+1:]
		l := prometheus.Labels{"handler": route}
		mux.Handle(pattern, promhttp.InstrumentHandlerDuration(dur.MustCurryWith(l),
			promhttp.InstrumentHandlerCounter(reqs.MustCurryWith(l), h)))
	}
	cfg := d.cfg.Load

	am := alertmanager.NewHandler(cfg, d.sink, d.metrics, d.logger, d.reg)
	handle("POST /api/v1/ingest/alertmanager", d.ingestAuth(am))
	handle("POST "+deploy.Path, d.ingestAuth(deploy.NewHandler(cfg, d.sink, d.metrics, d.logger)))
	handle("POST /api/v1/ingest/pagerduty", d.ingestAuth(pdcollector.NewHandler(cfg, d.sink, d.metrics, d.logger)))
	handle("POST /api/v1/backfill/pagerduty", d.queryAuth(http.HandlerFunc(d.backfillPagerDuty)))

	q := api.New(d.db, d.sink, d.proj.Rebuild, cfg, d.logger)
	q.SetImpact(d.impact)
	for pattern, h := range q.Routes() {
		handle(pattern, d.queryAuth(h))
	}

	handle("GET /metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		Registry: d.reg, EnableOpenMetrics: true, MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}))
	handle("GET /-/healthy", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hindsight is Healthy.\n"))
	}))
	handle("GET /-/ready", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "Hindsight is not ready.", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("Hindsight is Ready.\n"))
	}))
	handle("POST /-/reload", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := d.reload(); err != nil {
			collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "reload failed, running configuration kept: " + err.Error()})
			return
		}
		collector.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
	}))
	handle("GET /{$}", http.HandlerFunc(d.home))
	// Profiling, as Prometheus serves it, for operators chasing CPU or memory.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

func (d *daemon) home(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Hindsight</title></head>
<body><h1>Hindsight</h1><p>Incident timelines from the signals you already have.</p>
<ul><li><a href="/api/v1/incidents">Incidents (JSON)</a></li><li><a href="/api/v1/events">Events (JSON)</a></li>
<li><a href="/metrics">Metrics</a></li></ul></body></html>`))
}

// tokenAllowed reports whether the request carries one of tokens, as a
// bearer token or as the password of basic auth (what Alertmanager and
// PagerDuty can send).
func tokenAllowed(r *http.Request, tokens []config.Token, roles ...string) (bool, error) {
	got := ""
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		got = strings.TrimPrefix(h, "Bearer ")
	} else if _, p, ok := r.BasicAuth(); ok {
		got = p
	}
	if got == "" {
		return false, nil
	}
	var errs []error
	for _, t := range tokens {
		if len(roles) > 0 && !slices.Contains(roles, t.Role) {
			continue
		}
		v, err := t.Value()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(got)) == 1 {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

// ingestAuth requires an ingest token when api.ingest_tokens is set.
func (d *daemon) ingestAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toks := d.cfg.Load().API.IngestTokens
		if len(toks) > 0 {
			ok, err := tokenAllowed(r, toks)
			if err != nil {
				d.logger.Error("Cannot read an ingest token file", "err", err)
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hindsight"`)
				collector.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong ingest token (api.ingest_tokens)"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// queryAuth requires an API token when api.tokens is set.
func (d *daemon) queryAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toks := d.cfg.Load().API.Tokens
		if len(toks) > 0 {
			roles := []string{"read-only", "read-write"}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				roles = []string{"read-write"}
			}
			ok, err := tokenAllowed(r, toks, roles...)
			if err != nil {
				d.logger.Error("Cannot read an API token file", "err", err)
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hindsight"`)
				collector.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong API token (api.tokens)"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// startDeploys starts the deploy consumer: on the embedded NATS server
// (JetStream under the storage path) when --nats.url is empty, else on the
// external server. The returned func stops the consumer, draining it, and
// then the embedded server.
func (d *daemon) startDeploys(cfg *config.Config) (func(), error) {
	opts := deploy.ConsumerOptions{NATS: cfg.NATS}
	var ns *server.Server
	if d.opts.NATSURL == "" {
		var err error
		ns, err = deploy.StartEmbedded(d.opts.NATSListen, filepath.Join(d.opts.StoragePath, "nats"), d.logger.With("component", "nats"))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: %w", err)
		}
		opts.Embedded, opts.CreateStream = ns, true
		if opts.NATS.Stream == "" {
			opts.NATS.Stream = deploy.EmbeddedStream
		}
		d.logger.Info("Embedded NATS server started", "address", d.opts.NATSListen, "subject", opts.NATS.DeploySubject, "stream", opts.NATS.Stream)
	} else {
		opts.URL = d.opts.NATSURL
	}
	cons := deploy.NewConsumer(opts, d.sink, d.metrics, d.logger.With("component", "collector", "source", collector.SourceDeploy), d.reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := cons.Run(ctx); err != nil {
			d.logger.Error("Deploy consumer stopped", "err", err)
		}
	}()
	stop := func() {
		cancel()
		<-done
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}
	if ns != nil {
		// The embedded stream is created by the consumer: report ready only
		// once it exists, or a deploy published right after /-/ready would
		// find no stream and be dropped. (An external stream exists on its
		// own; its consumer catching up later loses nothing.)
		select {
		case <-cons.Ready():
		case <-done:
			stop()
			return nil, errors.New("deploy consumer stopped before it was ready")
		case <-time.After(30 * time.Second):
			stop()
			return nil, errors.New("embedded NATS: the deploy stream was not ready within 30s")
		}
	}
	return func() {
		cancel()
		<-done
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}, nil
}

// backfillPagerDuty reads PagerDuty incidents and their log entries over a
// window through the REST API (hindsightctl backfill pagerduty). Events
// get the same identities as webhooks, so the two never double up.
func (d *daemon) backfillPagerDuty(w http.ResponseWriter, r *http.Request) {
	cfg := d.cfg.Load()
	since, until := time.Now().Add(-72*time.Hour), time.Now()
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := parseWhen(s)
		if err != nil {
			collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "since: " + err.Error()})
			return
		}
		since = t
	}
	if s := r.URL.Query().Get("until"); s != "" {
		t, err := parseWhen(s)
		if err != nil {
			collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "until: " + err.Error()})
			return
		}
		until = t
	}
	token, err := cfg.PagerDuty.APIToken()
	if err != nil || token == "" {
		msg := "pagerduty.api_token_file is not set: backfill needs a PagerDuty REST API token"
		if err != nil {
			msg = "pagerduty.api_token_file: " + err.Error()
		}
		collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	b := pdcollector.NewBackfiller(pdcollector.NewClient(token, cfg.PagerDuty.APIURL), d.cfg.Load, d.sink, d.logger)
	stats, err := b.Run(r.Context(), since, until)
	if err != nil {
		collector.WriteJSON(w, http.StatusBadGateway, map[string]any{"error": "backfill: " + err.Error(), "stats": stats})
		return
	}
	collector.WriteJSON(w, http.StatusOK, map[string]any{"since": since.UTC(), "until": until.UTC(), "stats": stats})
}

// parseWhen accepts RFC 3339 or a duration meaning that long ago (72h, 3d).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 72h", s)
	}
	return time.Now().Add(-time.Duration(d)), nil
}
