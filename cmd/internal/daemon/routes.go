package daemon

import (
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
	"github.com/hindsight-ops/hindsight/export"
	"github.com/hindsight-ops/hindsight/export/api"
	"github.com/hindsight-ops/hindsight/export/api/auth"
	"github.com/hindsight-ops/hindsight/export/web"
)

// Route is one registered route: its pattern as http.ServeMux takes it
// ("GET /api/v1/incidents/{id}") and who may use it.
type Route struct {
	Pattern string
	Access  auth.Access
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
	// wrap, if set, wraps the handlers of /api/ routes once
	// authorized (the log-position headers).
	wrap func(http.Handler) http.Handler
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
func (rt *router) handle(pattern string, access auth.Access, h http.Handler) {
	route := pattern[strings.IndexByte(pattern, ' ')+1:]
	l := prometheus.Labels{"handler": route}
	if rt.wrap != nil && strings.HasPrefix(route, "/api/") {
		h = rt.wrap(h)
	}
	rt.mux.Handle(pattern, promhttp.InstrumentHandlerDuration(rt.dur.MustCurryWith(l),
		promhttp.InstrumentHandlerCounter(rt.reqs.MustCurryWith(l), rt.authorize(pattern, access, h))))
	rt.routes = append(rt.routes, Route{Pattern: pattern, Access: access})
}

// authorize refuses requests that access does not allow (401 without a
// known token, 403 with a token whose role is not enough) and passes the
// others on with the identity they were authenticated as.
func (rt *router) authorize(pattern string, access auth.Access, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := auth.Authorize(rt.cfg(), r, access)
		if err != nil {
			rt.logger.Error("Cannot read a token file", "err", err)
		}
		if d.Status != 0 {
			if d.Status == http.StatusUnauthorized {
				// Basic too, so that a browser asks for the token (as the
				// password) and sends it with every request of the page.
				w.Header().Add("WWW-Authenticate", `Bearer realm="hindsight"`)
				w.Header().Add("WWW-Authenticate", `Basic realm="hindsight", charset="UTF-8"`)
			}
			rt.logger.Debug("Request refused", "route", pattern, "status", d.Status, "token", d.Identity.Name, "remote", r.RemoteAddr)
			collector.WriteJSON(w, d.Status, map[string]string{"error": d.Reason})
			return
		}
		if d.Known {
			r = r.WithContext(auth.NewContext(r.Context(), d.Identity))
		}
		h.ServeHTTP(w, r)
	})
}

// Routes lists every route the daemon serves with its access class, in
// the order they were registered.
func (d *Daemon) Routes() []Route { return slices.Clone(d.router.routes) }

// registerRoutes is the one place routes are registered.
func (d *Daemon) registerRoutes() {
	rt := d.router
	rt.wrap = d.positioned
	cfg := d.reloader.Config

	rt.handle("POST /api/v1/ingest/alertmanager", auth.Ingest, alertmanager.NewHandler(cfg, d.sink, d.metrics, d.logger, d.reg))
	rt.handle("POST "+deploy.Path, auth.Ingest, deploy.NewHandler(cfg, d.sink, d.metrics, d.logger))
	rt.handle("POST /api/v1/ingest/pagerduty", auth.Ingest, pdcollector.NewHandler(cfg, d.sink, d.metrics, d.logger))
	rt.handle("POST /api/v1/backfill/pagerduty", auth.Write, http.HandlerFunc(d.backfillPagerDuty))

	q := api.New(d.reader, d.sink, d.proj.Rebuild, cfg, d.logger)
	q.SetImpact(d.impact)
	q.SetStream(d.streamCtx, d.proj)
	q.SetRenderers(func() *export.RendererSet { return d.exports.Load().Renderers })
	routes := q.Routes()
	for _, pattern := range slices.Sorted(maps.Keys(routes)) {
		access := auth.Write
		if strings.HasPrefix(pattern, "GET ") || strings.HasPrefix(pattern, "HEAD ") {
			access = auth.Read
		}
		rt.handle(pattern, access, routes[pattern])
	}

	// A backup holds every event and incident, with what people wrote:
	// read-write, as spec/api.md says.
	rt.handle("GET /api/v1/admin/backup", auth.Write, api.BackupHandler(d.writeBackup, d.logger))

	rt.handle("GET /metrics", auth.Metrics, promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{
		Registry: d.reg, EnableOpenMetrics: true, MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}))
	rt.handle("GET /-/healthy", auth.Public, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Hindsight is Healthy.\n"))
	}))
	rt.handle("GET /-/ready", auth.Public, &d.Ready)
	rt.handle("POST /-/reload", auth.Write, http.HandlerFunc(d.serveReload))
	// The web view's pages and assets carry no incident data (the page
	// reads it from the API), but they sit behind the same read access, so
	// that a browser asks for the token once and sends it with every
	// request of the page.
	pages := web.Routes()
	for _, pattern := range slices.Sorted(maps.Keys(pages)) {
		rt.handle(pattern, auth.Read, pages[pattern])
	}
	if d.opts.EnablePprof {
		// Profiling, as Prometheus serves it, for operators chasing CPU or
		// memory; it shows the command line and memory, so it needs a
		// read-write token.
		rt.handle("GET /debug/pprof/", auth.Write, http.HandlerFunc(pprof.Index))
		rt.handle("GET /debug/pprof/cmdline", auth.Write, http.HandlerFunc(pprof.Cmdline))
		rt.handle("GET /debug/pprof/profile", auth.Write, http.HandlerFunc(pprof.Profile))
		rt.handle("GET /debug/pprof/symbol", auth.Write, http.HandlerFunc(pprof.Symbol))
		rt.handle("GET /debug/pprof/trace", auth.Write, http.HandlerFunc(pprof.Trace))
	}
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
