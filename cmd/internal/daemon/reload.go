package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/config"
)

// ErrStopping is returned for a reload asked while the daemon stops or
// before it runs.
var ErrStopping = errors.New("the daemon is not running")

// Reloader is the one place configuration reloads happen. SIGHUP, POST
// /-/reload and Daemon.Reload all send it requests, and one goroutine
// (Run) handles them in turn, so two reloads never interleave.
type Reloader struct {
	file   string
	cfg    atomic.Pointer[config.Config]
	logger *slog.Logger

	fixed []fixedKey
	hooks []reloadHook

	requests chan chan error
	trigger  <-chan struct{}
	running  atomic.Bool

	ok, ts, hash prometheus.Gauge
}

type fixedKey struct {
	key string
	get func(*config.Config) any
}

type reloadHook struct {
	name    string
	prepare func(*config.Config) (commit func(), err error)
}

func newReloader(file string, cfg *config.Config, trigger <-chan struct{}, logger *slog.Logger, reg prometheus.Registerer) *Reloader {
	f := promauto.With(reg)
	r := &Reloader{
		file:     file,
		logger:   logger,
		requests: make(chan chan error),
		trigger:  trigger,
		ok: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or not (0).",
		}),
		ts: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully.",
		}),
		hash: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_config_hash",
			Help: "Hash of the loaded configuration, to see which replicas run which file.",
		}),
	}
	r.cfg.Store(cfg)
	r.loaded(cfg)
	return r
}

// Config returns the running configuration. Parts call it per request
// or per cycle, so a reload applies to them at once.
func (r *Reloader) Config() *config.Config { return r.cfg.Load() }

// Fixed declares a key that cannot change while the daemon runs: a
// reload that changes it is refused with an error naming it (the first
// differing key below it, for a struct). get returns its value.
func (r *Reloader) Fixed(key string, get func(*config.Config) any) {
	r.fixed = append(r.fixed, fixedKey{key, get})
}

// OnReload adds a part that takes a reloaded configuration. prepare does
// everything that can fail and returns commit, which puts the result in
// place and cannot fail; commit runs only when every part prepared.
func (r *Reloader) OnReload(name string, prepare func(*config.Config) (commit func(), err error)) {
	r.hooks = append(r.hooks, reloadHook{name, prepare})
}

// Reload asks the coordinator for a reload and returns its outcome.
func (r *Reloader) Reload(ctx context.Context) error {
	if !r.running.Load() {
		return ErrStopping
	}
	reply := make(chan error, 1)
	select {
	case r.requests <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run handles reload requests until ctx is done.
func (r *Reloader) run(ctx context.Context) error {
	r.running.Store(true)
	defer r.running.Store(false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case reply := <-r.requests:
			reply <- r.reload()
		case <-r.trigger:
			// SIGHUP: nobody waits for the answer; reload logs it.
			_ = r.reload()
		}
	}
}

// reload loads the file again and applies it, or keeps the running
// configuration and says why.
func (r *Reloader) reload() error {
	err := r.apply()
	if err != nil {
		r.ok.Set(0)
		r.logger.Error("Configuration reload failed; keeping the running configuration", "file", r.file, "err", err)
		return err
	}
	r.logger.Info("Configuration reloaded", "file", r.file)
	return nil
}

func (r *Reloader) apply() error {
	cfg, err := loadConfig(r.file)
	if err != nil {
		return err
	}
	running := r.cfg.Load()
	var errs []error
	for _, f := range r.fixed {
		if key, changed := firstDifference(f.key, f.get(running), f.get(cfg)); changed {
			errs = append(errs, fmt.Errorf("%s cannot change while Hindsight runs (it is fixed at start); restart to apply it", key))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	commits := make([]func(), 0, len(r.hooks))
	for _, h := range r.hooks {
		commit, err := h.prepare(cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", h.name, err)
		}
		commits = append(commits, commit)
	}
	for _, c := range commits {
		c()
	}
	r.cfg.Store(cfg)
	r.loaded(cfg)
	return nil
}

func (r *Reloader) loaded(cfg *config.Config) {
	r.ok.Set(1)
	r.ts.SetToCurrentTime()
	// The first 52 bits of the sha256, which a float64 holds exactly.
	h, _ := strconv.ParseUint(cfg.Hash()[:13], 16, 64)
	r.hash.Set(float64(h))
}

// firstDifference compares a and b and returns the key of the first
// field that differs, descending into structs by their YAML keys, so that
// a refusal names "nats.stream" rather than "nats".
func firstDifference(key string, a, b any) (string, bool) {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() == reflect.Struct && va.Type() == vb.Type() {
		t := va.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			child := key
			if name != "" {
				child = key + "." + name
			}
			if k, changed := firstDifference(child, va.Field(i).Interface(), vb.Field(i).Interface()); changed {
				return k, true
			}
		}
		return "", false
	}
	if !reflect.DeepEqual(a, b) {
		return key, true
	}
	return "", false
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.LoadFile(path)
}
