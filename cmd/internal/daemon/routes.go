package daemon

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	pdcollector "github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/export/api"
)

// Access is what a route requires of a request.
type Access int

// The access classes of routes. Every route is registered with one, so
// no route is served without a decision about who may use it.
const (
	// Public routes answer everyone.
	Public Access = iota
	// Query needs an API token when api.tokens is set: read-only for GET,
	// read-write otherwise.
	Query
	// Ingest needs an ingest token when api.ingest_tokens is set.
	Ingest
)

// Route is one registered route: its pattern as http.ServeMux takes it
// ("GET /api/v1/incidents/{id}") and who may use it.
type Route struct {
	Pattern string
	Access  Access
}

// router registers every route of the daemon, each with its access
// class, its instrumentation and its authorization.
type router struct {
	mux    *http.ServeMux
	routes []Route
	cfg    func() *config.Config
	logger *slog.Logger
	reqs   *prometheus.CounterVec
	dur    *prometheus.HistogramVec
}

func newRouter(cfg func() *config.Config, logger *slog.Logger, reg prometheus.Registerer) *router {
	f := promauto.With(reg)
	return &router{
		mux:    http.NewServeMux(),
		cfg:    cfg,
		logger: logger,
		reqs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_http_requests_total",
			Help: "HTTP requests served, by route and status code.",
		}, []string{"handler", "code"}),
		dur: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:                        "hindsight_http_request_duration_seconds",
			Help:                        "Time to serve an HTTP request, by route.",
			Buckets:                     prometheus.ExponentialBuckets(0.0005, 2, 16),
			NativeHistogramBucketFactor: 1.1,
		}, []string{"handler"}),
	}
}

// handle registers h under pattern for requests that access allows. It
// is the only way a route is added, so every route has an access class.
func (rt *router) handle(pattern string, access Access, h http.Handler) {
	route := pattern[strings.IndexByte(pattern, ' ')+1:]
	l := prometheus.Labels{"handler": route}
	rt.mux.Handle(pattern, promhttp.InstrumentHandlerDuration(rt.dur.MustCurryWith(l),
		promhttp.InstrumentHandlerCounter(rt.reqs.MustCurryWith(l), rt.authorize(access, h))))
	rt.routes = append(rt.routes, Route{Pattern: pattern, Access: access})
}

func (rt *router) authorize(access Access, h http.Handler) http.Handler {
	if access == Public {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := rt.cfg()
		toks, roles, msg := cfg.API.Tokens, []string{config.RoleReadOnly, config.RoleReadWrite}, "missing or wrong API token (api.tokens)"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			roles = []string{config.RoleReadWrite}
		}
		if access == Ingest {
			toks, roles, msg = cfg.API.IngestTokens, nil, "missing or wrong ingest token (api.ingest_tokens)"
		}
		if len(toks) > 0 {
			ok, err := tokenAllowed(r, toks, roles...)
			if err != nil {
				rt.logger.Error("Cannot read a token file", "err", err)
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hindsight"`)
				collector.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
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

// Routes lists every route the daemon serves with its access class, in
// the order they were registered.
func (d *Daemon) Routes() []Route { return slices.Clone(d.router.routes) }

// registerRoutes is the one place routes are registered.
func (d *Daemon) registerRoutes() {
	rt := d.router
	cfg := d.reloader.Config

	rt.handle("POST /api/v1/ingest/alertmanager", Ingest, alertmanager.NewHandler(cfg, d.sink, d.metrics, d.logger, d.reg))
	rt.handle("POST "+deploy.Path, Ingest, deploy.NewHandler(cfg, d.sink, d.metrics, d.logger))
	rt.handle("POST /api/v1/ingest/pagerduty", Ingest, pdcollector.NewHandler(cfg, d.sink, d.metrics, d.logger))
	rt.handle("POST /api/v1/backfill/pagerduty", Query, http.HandlerFunc(d.backfillPagerDuty))

	q := api.New(d.db, d.sink, d.proj.Rebuild, cfg, d.logger)
	q.SetImpact(d.impact)
	routes := q.Routes()
	for _, pattern := range slices.Sorted(maps.Keys(routes)) {
		rt.handle(pattern, Query, routes[pattern])
	}

	rt.handle("GET /metrics", Public, promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		Registry: d.reg, EnableOpenMetrics: true, MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}))
	rt.handle("GET /-/healthy", Public, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hindsight is Healthy.\n"))
	}))
	rt.handle("GET /-/ready", Public, &d.Ready)
	rt.handle("POST /-/reload", Public, http.HandlerFunc(d.serveReload))
	rt.handle("GET /{$}", Query, http.HandlerFunc(home))
	// Profiling, as Prometheus serves it, for operators chasing CPU or
	// memory.
	rt.handle("GET /debug/pprof/", Public, http.HandlerFunc(pprof.Index))
	rt.handle("GET /debug/pprof/cmdline", Public, http.HandlerFunc(pprof.Cmdline))
	rt.handle("GET /debug/pprof/profile", Public, http.HandlerFunc(pprof.Profile))
	rt.handle("GET /debug/pprof/symbol", Public, http.HandlerFunc(pprof.Symbol))
	rt.handle("GET /debug/pprof/trace", Public, http.HandlerFunc(pprof.Trace))
}

func (d *Daemon) serveReload(w http.ResponseWriter, r *http.Request) {
	if err := d.reloader.Reload(r.Context()); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrStopping) {
			status = http.StatusServiceUnavailable
		}
		collector.WriteJSON(w, status, map[string]string{"error": "reload failed, running configuration kept: " + err.Error()})
		return
	}
	collector.WriteJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

func home(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Hindsight</title></head>
<body><h1>Hindsight</h1><p>Incident timelines from the signals you already have.</p>
<ul><li><a href="/api/v1/incidents">Incidents (JSON)</a></li><li><a href="/api/v1/events">Events (JSON)</a></li>
<li><a href="/metrics">Metrics</a></li></ul></body></html>`))
}
