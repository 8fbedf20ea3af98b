package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	pdcollector "github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/impact"
	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
	"github.com/hindsight-ops/hindsight/export"
	"github.com/hindsight-ops/hindsight/export/exporter"
	"github.com/hindsight-ops/hindsight/export/sink"
)

// shutdownTimeout bounds how long in-flight requests get to finish.
const shutdownTimeout = 15 * time.Second

// Options are the daemon's settings that are fixed at start: the
// command-line flags (spec/api.md), and what an embedder gives.
type Options struct {
	ConfigFile    string
	ListenAddress string
	// WebConfigFile is the Prometheus web configuration file (TLS and
	// basic auth on the listener); empty serves plain HTTP.
	WebConfigFile string
	// EnablePprof serves /debug/pprof/ (read-write token when tokens are
	// set).
	EnablePprof bool
	StoragePath string
	// MinFreeBytes is --storage.min-free-space: while the storage
	// filesystem has less free, events are refused with 503 (the store
	// keeps what its own compactions need either way).
	MinFreeBytes int64
	NATSURL      string
	NATSListen   string

	// Logger receives every log line; nil discards them.
	Logger *slog.Logger
	// Reload asks for a configuration reload without waiting for its
	// outcome (SIGHUP); nil means none come this way.
	Reload <-chan struct{}
	// NATSCheckInterval is how often the deploy consumer checks that its
	// stream still exists; 0 means 5s.
	NATSCheckInterval time.Duration
	// ExportMinBackoff and ExportMaxBackoff bound the waits between
	// attempts to deliver a draft, within one delivery and between
	// deliveries; 0 keeps the defaults (1s-30s within, 10s-10m between).
	// Fault tests shorten them to see an outage of minutes in seconds.
	ExportMinBackoff, ExportMaxBackoff time.Duration
	// Now, when set, is the daemon's wall clock for what it stamps and
	// times by it: the receipt time of every event taken in (which the
	// future-time check and export.delay run from) and the exporter's
	// timers. Fault tests make it jump; nil is time.Now.
	Now func() time.Time
}

// Daemon is one Hindsight daemon. New builds it, Run serves.
type Daemon struct {
	opts   Options
	logger *slog.Logger
	reg    *prometheus.Registry

	// Ready is the registry of readiness checks behind /-/ready.
	Ready Readiness

	reloader *Reloader
	router   *router
	db       *store.DB
	// stream is the replicated event log (log.type: jetstream), nil with
	// the local one; reader answers queries over either.
	stream *streamlog.Log
	reader correlate.Reader
	// evlog is the event log (the store's, or the stream), and lookup
	// finds the incident an event joined over the same copy.
	evlog   correlate.EventLog
	lookup  exporter.Lookup
	owner   lease.Owner
	proj    *correlate.Projector
	sink    collector.Sink
	metrics *collector.Metrics
	impact  *impact.Querier
	ns      *server.Server
	// natsOpts are the daemon's own credentials on its embedded server.
	natsOpts []nats.Option
	cons     *deploy.Consumer
	// exports is the export setup of the running configuration (the
	// renderers with export.template_file, the sinks); exp sends drafts
	// to the sinks.
	exports  atomic.Pointer[exporter.Setup]
	exp      *exporter.Exporter
	ln       net.Listener
	srv      *http.Server
	services []service
	// streamCtx ends the API's event streams when the server shuts down:
	// they never go idle, so Shutdown would wait for them in vain.
	streamCtx   context.Context
	stopStreams context.CancelFunc

	caughtUp atomic.Bool
	running  atomic.Bool
	stopping atomic.Bool
	ran      atomic.Bool
	// cleanups release what New acquired, in reverse order; Run calls
	// them when it returns, New when it fails.
	cleanups []func() error
}

type service struct {
	name string
	run  func(context.Context) error
}

// New builds the daemon: it loads the configuration, opens the store,
// binds the listener and starts the embedded NATS server, and returns
// the first error that stops it from running, naming what failed. It
// does not serve; Run does.
func New(o Options) (_ *Daemon, err error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := loadConfig(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	if o.WebConfigFile != "" {
		if err := ValidateWebConfig(o.WebConfigFile); err != nil {
			return nil, err
		}
	}
	d := &Daemon{opts: o, logger: logger, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			d.release()
		}
	}()
	d.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("hindsight"),
	)
	d.reloader = newReloader(o.ConfigFile, cfg, o.Reload, logger.With("component", "reload"), d.reg)

	if err := os.MkdirAll(o.StoragePath, 0o750); err != nil {
		return nil, fmt.Errorf("storage path %q: %w", o.StoragePath, err)
	}
	d.db, err = store.Open(o.StoragePath, store.Options{
		Retention:    time.Duration(cfg.Retention.Events),
		MinFreeBytes: o.MinFreeBytes,
	}, logger.With("component", "store"), d.reg)
	if errors.Is(err, store.ErrMinFreeTooLarge) {
		return nil, fmt.Errorf("--storage.min-free-space: %w", err)
	}
	if err != nil {
		return nil, err
	}
	d.onRelease(func() error {
		err := d.db.Close()
		d.logger.Info("Store closed")
		return err
	})
	var (
		evlog correlate.EventLog        = d.db
		proj  correlate.ProjectionStore = d.db
	)
	d.reader, d.owner = d.db, lease.Single
	if cfg.Log.Type == config.LogJetStream {
		if err := d.setupStream(cfg); err != nil {
			return nil, err
		}
		rs := streamlog.Store{DB: d.db, Log: d.stream}
		evlog, proj, d.reader = d.stream, rs, rs
	}
	d.evlog, d.lookup = evlog, d.db
	if d.stream != nil {
		d.lookup = streamlog.Store{DB: d.db, Log: d.stream}
	}
	d.proj, err = correlate.NewProjector(context.Background(), evlog, proj, cfg, logger.With("component", "correlate"), d.reg)
	if err != nil {
		return nil, err
	}
	d.sink = &correlate.Ingester{Log: evlog, Projector: d.proj}
	if o.Now != nil {
		ing := d.sink
		d.sink = collector.SinkFunc(func(ctx context.Context, evs ...collector.Event) error {
			now := o.Now().UTC()
			for i := range evs {
				evs[i].ReceivedAt = now
			}
			return ing.Ingest(ctx, evs...)
		})
	}
	if d.stream == nil {
		// The local log: each group commit applies its batch to the
		// projection in the same transaction, one fsync per batch. The
		// projector still catches up after a restart or a failed batch.
		d.db.SetInliner(d.proj)
	}
	if d.stream != nil {
		d.stream.ObserveProjection(d.proj.Applied)
		d.Ready.Add("event stream", d.stream.CaughtUp(d.proj.Applied, streamReadyWithin))
	}
	if d.impact, err = impact.New(cfg, logger.With("component", "impact"), d.reg); err != nil {
		return nil, err
	}
	d.metrics = collector.NewMetrics(d.reg, collector.SourceAlertmanager, collector.SourcePagerDuty, collector.SourceDeploy)

	d.Ready.Add("lifecycle", d.lifecycleCheck)
	d.Ready.Add("store", func(context.Context) error {
		if d.db.Badger().IsClosed() {
			return errors.New("closed")
		}
		if err := d.db.Writable(); err != nil {
			if errors.As(err, new(*store.NoSpaceError)) {
				return fmt.Errorf("the event store cannot accept writes: %w (--storage.min-free-space, or what the store needs to flush and compact if more); free some space", err)
			}
			return fmt.Errorf("the event store cannot accept writes: %w", err)
		}
		return nil
	})
	d.Ready.Add("projector", func(context.Context) error {
		if !d.caughtUp.Load() {
			return fmt.Errorf("catching up with the event log (applied up to position %d)", d.proj.Applied())
		}
		return nil
	})

	// What a reload changes, and what it cannot.
	d.reloader.Fixed("nats", func(c *config.Config) any { return c.NATS })
	d.reloader.Fixed("log", func(c *config.Config) any { return c.Log })
	d.reloader.OnReload("prometheus", d.impact.Prepare)
	d.reloader.OnReload("correlation", func(c *config.Config) (func(), error) {
		return func() {
			d.proj.SetConfig(c)
			d.db.SetRetention(time.Duration(c.Retention.Events))
			if d.stream != nil {
				d.stream.SetRetention(time.Duration(c.Retention.Events))
			}
		}, nil
	})

	if err := d.setupDeploys(cfg); err != nil {
		return nil, err
	}
	if err := d.setupExport(cfg); err != nil {
		return nil, err
	}
	d.Go("store value-log GC", d.db.RunGC)
	d.Go("store retention", func(ctx context.Context) error {
		var o store.RetentionOptions
		if d.stream != nil {
			// The events are in the stream's copy, not the store's log.
			o.Holds = func(ctx context.Context, id string) (bool, error) {
				seq, err := d.stream.FirstCopy(ctx, id)
				return seq > 0, err
			}
		}
		return d.db.RunRetention(ctx, o)
	})
	poller := pdcollector.NewPoller(d.reloader.Config, d.sink, logger)
	poller.Owns = func() bool { return d.owner.Owns(lease.TaskPagerDutyPoll) }
	d.Go("pagerduty poller", poller.Run)

	d.streamCtx, d.stopStreams = context.WithCancel(context.Background())
	d.onRelease(func() error { d.stopStreams(); return nil })
	d.router = newRouter(d.reloader.Config, logger.With("component", "web"), d.reg)
	d.registerRoutes()
	if d.ln, err = net.Listen("tcp", o.ListenAddress); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.ListenAddress, err)
	}
	d.onRelease(func() error { _ = d.ln.Close(); return nil })
	d.srv = &http.Server{
		Handler:           d.router.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	d.srv.RegisterOnShutdown(d.stopStreams)
	return d, nil
}

// streamReadyWithin is how many stream positions a replica's projection
// may be behind the stream and still report ready: a replica catching up
// after downtime stays out of the load balancer until it is this close.
const streamReadyWithin = 1000

// setupStream connects to the NATS cluster of --nats.url and opens the
// replicated event log on it (its copy under the storage path), and the
// leases of timer-driven work.
func (d *Daemon) setupStream(cfg *config.Config) error {
	if d.opts.NATSURL == "" {
		return errors.New("log.type jetstream needs --nats.url: the NATS cluster the replicas share")
	}
	auth, err := deploy.ClientOptions(cfg.NATS)
	if err != nil {
		return err
	}
	logger := d.logger.With("component", "log")
	nc, err := nats.Connect(d.opts.NATSURL, append([]nats.Option{
		nats.Name("hindsight-log"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("Disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("Reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
	}, auth...)...)
	if err != nil {
		return fmt.Errorf("connect to NATS for the event log: %w", err)
	}
	d.onRelease(func() error { nc.Close(); return nil })
	d.stream, err = streamlog.Open(nc, streamlog.Options{
		Stream:    cfg.Log.Stream,
		Replicas:  cfg.Log.Replicas,
		Dir:       filepath.Join(d.opts.StoragePath, "stream"),
		Retention: time.Duration(cfg.Retention.Events),
	}, logger, d.reg)
	if err != nil {
		return err
	}
	d.onRelease(d.stream.Close)
	kv, err := lease.NewKV(nc, lease.KVOptions{
		Replicas: cfg.Log.Replicas,
		Tasks:    []string{lease.TaskExport, lease.TaskPagerDutyPoll},
	}, d.logger.With("component", "lease"), d.reg)
	if err != nil {
		return err
	}
	d.owner = kv
	d.Go("leases", kv.Run)
	d.logger.Info("Event log on a JetStream stream", "stream", cfg.Log.Stream, "replicas", cfg.Log.Replicas, "holder", kv.Holder())
	return nil
}

// Owner says whether this replica does a timer-driven task now (automatic
// export, PagerDuty polling): always with the local log, while it holds
// the task's lease with the replicated one.
func (d *Daemon) Owner() lease.Owner { return d.owner }

// setupDeploys starts the embedded NATS server (JetStream under the
// storage path, credentials from the configuration) unless --nats.url
// names an external one, and builds the deploy consumer.
func (d *Daemon) setupDeploys(cfg *config.Config) error {
	opts := deploy.ConsumerOptions{NATS: cfg.NATS, CheckInterval: d.opts.NATSCheckInterval,
		Limits: func() config.Limits { return d.reloader.Config().API.Limits }}
	if d.opts.NATSURL == "" {
		na := newNATSAuth(d.reloader.Config, d.logger.With("component", "nats"))
		ns, err := deploy.StartEmbeddedWithAuth(d.opts.NATSListen, filepath.Join(d.opts.StoragePath, "nats"), d.logger.With("component", "nats"), na)
		if err != nil {
			return err
		}
		d.ns = ns
		d.onRelease(func() error {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil
		})
		opts.Embedded, opts.CreateStream = ns, true
		opts.ConnectOptions = na.connectOptions()
		d.natsOpts = na.connectOptions()
		if opts.NATS.Stream == "" {
			opts.NATS.Stream = deploy.EmbeddedStream
		}
		d.Ready.Add("nats", func(context.Context) error {
			if !ns.Running() {
				return errors.New("the embedded NATS server is not running")
			}
			return nil
		})
		d.logger.Info("Embedded NATS server started", "address", ns.Addr().String(), "subject", opts.NATS.DeploySubject,
			"stream", opts.NATS.Stream, "publishers_need_token", len(cfg.API.IngestTokens) > 0)
	} else {
		opts.URL = d.opts.NATSURL
	}
	d.cons = deploy.NewConsumer(opts, d.sink, d.metrics, d.logger, d.reg)
	d.Ready.Add("deploys", d.cons.Status)
	return nil
}

// setupExport builds the export setup of cfg (renderers, sinks: a
// template that does not parse or a sink that cannot work stops the
// daemon here, and refuses a reload) and the exporter, which runs as a
// part of the group: after export.delay it sends the drafts of resolved
// incidents to the sinks, recording each delivery in the event log.
func (d *Daemon) setupExport(cfg *config.Config) error {
	opts := sink.Options{NATS: d.connectNATS, MinBackoff: d.opts.ExportMinBackoff, MaxBackoff: d.opts.ExportMaxBackoff}
	setup, err := exporter.NewSetup(cfg, d.opts.ConfigFile, opts)
	if err != nil {
		return err
	}
	d.exports.Store(&setup)
	d.onRelease(func() error { d.exports.Load().Close(); return nil })
	d.exp = exporter.New(exporter.Options{
		Log: d.evlog, Reader: d.reader, Lookup: d.lookup, Position: d.proj.Applied,
		Source: d.source(), Record: d.sink, Owner: ownerOf{d},
		Logger: d.logger.With("component", "export"), Registerer: d.reg,
		MinBackoff: d.opts.ExportMinBackoff, MaxBackoff: d.opts.ExportMaxBackoff, Now: d.opts.Now,
	}, setup)
	d.reloader.OnReload("export", func(c *config.Config) (func(), error) {
		s, err := exporter.NewSetup(c, d.opts.ConfigFile, opts)
		if err != nil {
			return nil, err
		}
		return func() {
			d.exports.Swap(&s).Close()
			d.exp.SetSetup(s)
		}, nil
	})
	d.Go("exporter", d.exp.Run)
	return nil
}

// source is how drafts are read, for the exporter as for the API.
func (d *Daemon) source() *export.Source {
	return &export.Source{Reader: d.reader, Impact: d.impact, Config: d.reloader.Config}
}

// ownerOf asks the daemon's owner of timer-driven work as it is at the
// time of asking.
type ownerOf struct{ d *Daemon }

func (o ownerOf) Owns(task string) bool { return o.d.owner.Owns(task) }

// connectNATS connects nats export sinks: in process to the embedded
// server as the daemon's own user, or to --nats.url with the nats:
// credentials and TLS.
func (d *Daemon) connectNATS() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("hindsight-export"), nats.MaxReconnects(-1)}
	if d.ns != nil {
		return nats.Connect(d.ns.ClientURL(), append(append(opts, nats.InProcessServer(d.ns)), d.natsOpts...)...)
	}
	cfg := d.reloader.Config().NATS
	if cfg.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredentialsFile))
	}
	if t := cfg.TLS; t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.CA != "" || t.Cert != "" || t.ServerName != "" || t.InsecureSkipVerify {
		tc, err := commoncfg.NewTLSConfig(&t)
		if err != nil {
			return nil, fmt.Errorf("nats.tls_config: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(d.opts.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// Go adds a part to the run group: run runs until ctx is done and then
// returns; if it returns before, with an error or without, the daemon
// stops with that error. Call it before Run. Parts added here stop after
// the HTTP server and the deploy consumer, and before the projector.
func (d *Daemon) Go(name string, run func(ctx context.Context) error) {
	if d.ran.Load() {
		panic("daemon: Go called after Run")
	}
	d.services = append(d.services, service{name, run})
}

// Addr is the address the HTTP listener is bound to (tests listen on
// port 0 and need the real one).
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// NATSURL is where deploys are published: the embedded server's client
// URL, or --nats.url.
func (d *Daemon) NATSURL() string {
	if d.ns != nil {
		return d.ns.ClientURL()
	}
	return d.opts.NATSURL
}

// Config is the running configuration.
func (d *Daemon) Config() *config.Config { return d.reloader.Config() }

// Reload reloads the configuration file through the reload coordinator,
// as SIGHUP and POST /-/reload do, and returns the outcome.
func (d *Daemon) Reload(ctx context.Context) error { return d.reloader.Reload(ctx) }

// Reloader is the reload coordinator, for parts that take a reloaded
// configuration or whose keys are fixed at start.
func (d *Daemon) Reloader() *Reloader { return d.reloader }

// Registry is where the daemon's metrics are registered.
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

func (d *Daemon) lifecycleCheck(context.Context) error {
	switch {
	case d.stopping.Load():
		return errors.New("shutting down")
	case !d.running.Load():
		return errors.New("starting")
	}
	return nil
}

func (d *Daemon) onRelease(f func() error) { d.cleanups = append(d.cleanups, f) }

func (d *Daemon) release() error {
	var errs []error
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, d.cleanups[i]())
	}
	d.cleanups = nil
	return errors.Join(errs...)
}

// Run serves until ctx is done or a part fails, then stops every part in
// order (see the package documentation) and closes the store. It returns
// nil after ctx is done, or the error of the part that failed. A Daemon
// runs once.
func (d *Daemon) Run(ctx context.Context) (err error) {
	if !d.ran.CompareAndSwap(false, true) {
		return errors.New("daemon: Run called twice")
	}
	defer func() {
		if cerr := d.release(); cerr != nil {
			d.logger.Error("Releasing the daemon's resources failed", "err", cerr)
			err = errors.Join(err, cerr)
		}
	}()
	var g run.Group
	{
		// Until ctx is done. The first stop marks the daemon stopping, so
		// that /-/ready says so while the others stop.
		cancel := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				d.logger.Info("Shutting down")
			case <-cancel:
			}
			return nil
		}, func(error) {
			d.stopping.Store(true)
			close(cancel)
		})
	}
	d.add(&g, "reload coordinator", d.reloader.run)
	{
		done := make(chan struct{})
		systemd, file := false, d.opts.WebConfigFile
		addrs := []string{d.ln.Addr().String()}
		flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &file}
		webLogger := slog.New(redactingHandler{d.logger.Handler()}).With("component", "web")
		g.Add(func() error {
			defer close(done)
			err := web.ServeMultiple([]net.Listener{d.ln}, d.srv, flags, webLogger)
			if errors.Is(err, http.ErrServerClosed) && d.stopping.Load() {
				return nil
			}
			err = fmt.Errorf("http server: %w", err)
			d.logger.Error("Stopping: a part of the daemon failed", "err", err)
			return err
		}, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := d.srv.Shutdown(sctx); err != nil {
				d.logger.Warn("HTTP server did not drain in time", "err", err)
				_ = d.srv.Close()
			}
			<-done
		})
	}
	d.add(&g, "deploy consumer", d.cons.Run)
	if d.ns != nil {
		ns, done := d.ns, make(chan struct{})
		g.Add(func() error {
			defer close(done)
			ns.WaitForShutdown()
			if d.stopping.Load() {
				return nil
			}
			err := errors.New("embedded NATS server stopped")
			d.logger.Error("Stopping: a part of the daemon failed", "err", err)
			return err
		}, func(error) {
			ns.Shutdown()
			<-done
		})
	}
	for _, s := range d.services {
		d.add(&g, s.name, s.run)
	}
	d.add(&g, "projector", func(ctx context.Context) error {
		start := time.Now()
		if err := d.catchUp(ctx); err != nil {
			return err
		}
		d.caughtUp.Store(true)
		d.logger.Info("Incidents are up to date with the event log", "position", d.proj.Applied(), "duration", time.Since(start))
		return d.proj.Run(ctx)
	})

	d.running.Store(true)
	d.logger.Info("Hindsight is serving", "address", d.Addr(), "storage", d.opts.StoragePath)
	err = g.Run()
	d.running.Store(false)
	return err
}

// catchUp brings the projection up to date with the event log. A disk
// too full for the projection's commits does not stop the daemon: it
// serves what is stored (not ready, and saying why) and tries again until
// there is room.
func (d *Daemon) catchUp(ctx context.Context) error {
	for logged := false; ; {
		err := d.proj.CatchUp(ctx)
		if err == nil {
			return nil
		}
		if !errors.As(err, new(*store.NoSpaceError)) || ctx.Err() != nil {
			return fmt.Errorf("catch up with the event log: %w", err)
		}
		if !logged {
			d.logger.Warn("Incidents are behind the event log until there is disk space", "position", d.proj.Applied(), "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("catch up with the event log: %w", ctx.Err())
		case <-time.After(5 * time.Second):
		}
	}
}

// add puts a part that runs until its context is done into g. Its stop
// cancels that context and waits for the part to return, so that the
// parts stop one after the other, in the order they were added.
func (d *Daemon) add(g *run.Group, name string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	g.Add(func() error {
		defer close(done)
		err := fn(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		err = fmt.Errorf("%s: %w", name, err)
		d.logger.Error("Stopping: a part of the daemon failed", "err", err)
		return err
	}, func(error) {
		d.stopping.Store(true)
		cancel()
		<-done
	})
}

// ValidateWebConfig checks a Prometheus web configuration file (TLS and
// basic auth on the listener) as exporter-toolkit will read it. The error
// quotes no value of the file: it may hold passwords.
func ValidateWebConfig(path string) error {
	if err := web.Validate(path); err != nil {
		return fmt.Errorf("--web.config.file %s: %s", path, redactWebConfigError(err))
	}
	return nil
}

func redactWebConfigError(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "bcrypt") {
		// bcrypt's own message quotes the first character of what it got.
		return "basic_auth_users: a password is not a bcrypt hash (make one with `htpasswd -nBC 10 USER`)"
	}
	return oneLine(quotedValue.ReplaceAllString(msg, "(value not shown)"))
}

// quotedValue is how YAML libraries quote a value in their errors.
var quotedValue = regexp.MustCompile("`[^`]*`")

// redactingHandler hides quoted values in the errors exporter-toolkit
// logs when the web configuration file turns bad while the daemon runs.
type redactingHandler struct{ slog.Handler }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if s := a.Value.Resolve().String(); strings.Contains(s, "`") {
			a = slog.String(a.Key, quotedValue.ReplaceAllString(s, "(value not shown)"))
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return redactingHandler{h.Handler.WithAttrs(attrs)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{h.Handler.WithGroup(name)}
}
