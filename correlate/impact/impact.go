package impact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

const (
	// DefaultQueryTimeout bounds one impact query when
	// prometheus.query_timeout is zero.
	DefaultQueryTimeout = 30 * time.Second

	// MinWindow is the shortest $window substituted into a query. rate()
	// and increase() need two samples inside the range, and with the common
	// 15s to 30s scrape intervals a shorter range often holds fewer and
	// returns nothing at all; PromQL also rejects a zero range. An incident
	// shorter than a minute is rare anyway, since alerts usually wait (their
	// "for:") at least that long.
	MinWindow = time.Minute

	// CacheSize is how many measurements the cache holds. One entry is a
	// few hundred bytes per query, so the cache stays well under a megabyte
	// for typical configurations.
	CacheSize = 1024

	// OpenTTL is how long a measurement of an unsettled window, or one with
	// errors, is reused: long enough that a page polling the API does not
	// query Prometheus on every refresh, short enough that the numbers of an
	// open incident keep up and a Prometheus outage is noticed to be over.
	OpenTTL = 30 * time.Second

	// SettleAfter is how long after a window's end its numbers are taken
	// to be final: Prometheus may still ingest samples for the last minutes
	// (scrape interval, rule evaluation, remote-write lag). A window that
	// ended longer ago than this is settled.
	SettleAfter = 5 * time.Minute

	// maxParallel bounds the queries of one Measure that run at once, so a
	// service with many queries gets its numbers quickly without flooding
	// Prometheus.
	maxParallel = 4
)

// errNoURL is reported when there are queries to run but no Prometheus to
// run them against.
const errNoURL = "impact queries not run: prometheus.url is not set"

// Querier runs impact queries against the configured Prometheus and caches
// their results. It is safe for concurrent use; [Querier.SetConfig] may run
// while Measure calls are in flight, which finish with the configuration
// they started with. A nil *Querier measures nothing.
type Querier struct {
	logger *slog.Logger
	state  atomic.Pointer[state]
	cache  *lru
	now    func() time.Time // wall clock, replaced in tests

	queries  *prometheus.CounterVec
	duration prometheus.Histogram
}

// state is everything Measure needs from one configuration, built in full
// before it is swapped in so that a reload is all-or-nothing.
type state struct {
	api     v1.API // nil when prometheus.url is not set
	timeout time.Duration
	queries map[string]map[string]string // service -> query name -> expression
	hash    string                       // identifies the above, for cache keys
}

// New returns a Querier for cfg (nil means [config.Default]). It always
// returns a Querier when cfg is usable, even without prometheus.url: such a
// Querier reports "prometheus.url is not set" for services that have impact
// queries, and a reload that sets the URL turns the queries on. The error
// names the offending key when prometheus.url or the Prometheus HTTP client
// configuration cannot be used. Metrics are registered with reg; nil means
// none are.
func New(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*Querier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	f := promauto.With(reg)
	q := &Querier{
		logger: logger.With("component", "impact"),
		cache:  newLRU(CacheSize),
		now:    time.Now,
		queries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_impact_queries_total",
			Help: "Impact queries run against Prometheus, by result (ok or error). Answers from the cache are not counted.",
		}, []string{"result"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hindsight_impact_query_duration_seconds",
			Help:    "Time taken by one impact query against Prometheus, whatever its result.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms .. 41s, past the default timeout
		}),
	}
	q.queries.WithLabelValues("ok")
	q.queries.WithLabelValues("error")
	q.state.Store(st)
	return q, nil
}

// SetConfig applies a reloaded configuration. The new Prometheus client is
// built first; if that fails the error is returned and the running
// configuration is kept. Cached results are dropped when anything the
// queries depend on changed (their results are keyed by configuration too,
// so a Measure that straddles the reload cannot serve stale numbers).
func (q *Querier) SetConfig(cfg *config.Config) error {
	commit, err := q.Prepare(cfg)
	if err != nil {
		return err
	}
	commit()
	return nil
}

// Prepare builds what a reloaded configuration needs and returns the
// function that puts it in place, which cannot fail. A reload prepares
// every part first and commits only when all are ready, so a bad file
// changes nothing.
func (q *Querier) Prepare(cfg *config.Config) (commit func(), err error) {
	st, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	return func() {
		old := q.state.Swap(st)
		if old == nil || old.hash != st.hash {
			q.cache.purge()
		}
	}, nil
}

func newState(cfg *config.Config) (*state, error) {
	if cfg == nil {
		cfg = config.Default()
	}
	p := cfg.Prometheus
	st := &state{
		timeout: time.Duration(p.QueryTimeout),
		queries: map[string]map[string]string{},
	}
	if st.timeout <= 0 {
		st.timeout = DefaultQueryTimeout
	}
	for name, s := range cfg.Services {
		if len(s.ImpactQueries) > 0 {
			st.queries[name] = maps.Clone(s.ImpactQueries)
		}
	}
	if p.URL != "" {
		// The URL is never put in an error: it may carry credentials.
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("prometheus.url must be an http or https URL with a host")
		}
		if err := p.HTTPClientConfig.Validate(); err != nil {
			return nil, fmt.Errorf("prometheus: http client config: %w", err)
		}
		rt, err := commoncfg.NewRoundTripperFromConfig(p.HTTPClientConfig, "hindsight")
		if err != nil {
			return nil, fmt.Errorf("prometheus: http client config: %w", err)
		}
		c, err := api.NewClient(api.Config{Address: p.URL, RoundTripper: rt})
		if err != nil {
			return nil, fmt.Errorf("prometheus.url: %w", err)
		}
		st.api = v1.NewAPI(c)
	}
	st.hash = st.fingerprint(p.URL, cfg.Hash())
	return st, nil
}

// fingerprint identifies what the results depend on: the Prometheus
// reached, the queries and the timeout, plus the configuration file's hash
// so that a change of inline credentials counts too.
func (st *state) fingerprint(url, fileHash string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\x00%q\x00%d\x00", fileHash, url, st.timeout)
	for _, svc := range slices.Sorted(maps.Keys(st.queries)) {
		for _, name := range slices.Sorted(maps.Keys(st.queries[svc])) {
			fmt.Fprintf(h, "%q\x00%q\x00%q\x00", svc, name, st.queries[svc][name])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// job is one query to run.
type job struct {
	service, name, expr string
}

// jobs lists the queries of services, by service then name.
func (st *state) jobs(services []string) []job {
	svcs := slices.Clone(services)
	slices.Sort(svcs)
	svcs = slices.Compact(svcs)
	var js []job
	for _, svc := range svcs {
		qs := st.queries[svc]
		for _, name := range slices.Sorted(maps.Keys(qs)) {
			js = append(js, job{service: svc, name: name, expr: qs[name]})
		}
	}
	return js
}

// Measure runs the impact queries of services over the window from start to
// end and returns one metric per query that produced a number, ordered by
// service then query name, and a readable error per query that did not
// (naming the service and the query). Failures are never fatal: the metrics
// slice is never nil, the errors slice is nil when all went well, and the
// caller owns both.
//
// Each query has $window replaced by end-start, truncated to whole seconds
// and at least [MinWindow], as a PromQL duration ("47m30s"), and runs as an
// instant query at end, bounded by prometheus.query_timeout (default
// [DefaultQueryTimeout]) and by ctx. The returned metric's Query is the
// expression as run, so it can be pasted into Prometheus (evaluated at end).
//
// Cache policy, key being the incident's ID:
//   - A settled window (end more than [SettleAfter] ago) whose queries all
//     succeeded is cached under key, services, start, end and the
//     configuration until it is evicted (LRU, [CacheSize] entries) or the
//     configuration changes: past data does not change, so repeated reads of
//     a resolved incident query Prometheus once.
//   - An unsettled window (an open incident, whose end is "now" and moves on
//     every read, or one that just resolved) is cached under key, services
//     and start only, for [OpenTTL]: its numbers are at most that old.
//   - A result with any error is cached for [OpenTTL] only, so an outage of
//     Prometheus does not stick to an incident.
//   - Nothing is cached when ctx ended during the queries, since the errors
//     are then the caller's, not Prometheus'.
//
// Concurrent Measure calls that miss the cache for the same key each query
// Prometheus; that is rare enough not to warrant coordination.
func (q *Querier) Measure(ctx context.Context, key string, services []string, start, end time.Time) ([]correlate.ImpactMetric, []string) {
	if q == nil {
		return []correlate.ImpactMetric{}, nil
	}
	st := q.state.Load()
	jobs := st.jobs(services)
	if len(jobs) == 0 {
		return []correlate.ImpactMetric{}, nil
	}
	if st.api == nil {
		return []correlate.ImpactMetric{}, []string{errNoURL}
	}

	now := q.now()
	settled := now.Sub(end) > SettleAfter
	ck := cacheKey(st.hash, key, jobs, start, end, settled)
	if e, ok := q.cache.get(ck, now); ok {
		return slices.Clone(e.metrics), slices.Clone(e.errs)
	}

	metrics, errs := q.run(ctx, st, jobs, start, end)
	if ctx.Err() == nil {
		var expires time.Time // zero: until evicted
		if !settled || len(errs) > 0 {
			expires = now.Add(OpenTTL)
		}
		q.cache.put(ck, &entry{metrics: slices.Clone(metrics), errs: slices.Clone(errs), expires: expires})
	}
	return metrics, errs
}

func cacheKey(hash, key string, jobs []job, start, end time.Time, settled bool) string {
	var b strings.Builder
	b.WriteString(hash)
	b.WriteByte(0)
	b.WriteString(strconv.Quote(key))
	b.WriteByte(0)
	last := ""
	for _, j := range jobs {
		if j.service != last {
			b.WriteString(strconv.Quote(j.service))
			last = j.service
		}
	}
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(start.UnixNano(), 10))
	b.WriteByte(0)
	if settled {
		b.WriteString(strconv.FormatInt(end.UnixNano(), 10))
	} else {
		b.WriteString("open")
	}
	return b.String()
}

// run runs jobs, a few at a time, and gathers results in the jobs' order.
func (q *Querier) run(ctx context.Context, st *state, jobs []job, start, end time.Time) ([]correlate.ImpactMetric, []string) {
	w := Window(start, end)
	type result struct {
		metric correlate.ImpactMetric
		err    string
	}
	results := make([]result, len(jobs))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			expr := strings.ReplaceAll(j.expr, "$window", w)
			v, err := q.query(ctx, st, j, expr, end)
			if err != nil {
				results[i].err = fmt.Sprintf("service %q query %q: %v", j.service, j.name, err)
				return
			}
			results[i].metric = correlate.ImpactMetric{Name: j.name, Service: j.service, Value: v, Query: expr}
		})
	}
	wg.Wait()
	metrics := []correlate.ImpactMetric{}
	var errs []string
	for _, r := range results {
		if r.err != "" {
			errs = append(errs, r.err)
		} else {
			metrics = append(metrics, r.metric)
		}
	}
	return metrics, errs
}

// Window is the PromQL duration that $window stands for in an impact query
// over start..end: the span truncated to whole seconds, at least
// [MinWindow].
func Window(start, end time.Time) string {
	d := end.Sub(start).Truncate(time.Second)
	if d < MinWindow {
		d = MinWindow
	}
	return model.Duration(d).String()
}

// query runs one expression and reduces its answer to one number.
func (q *Querier) query(ctx context.Context, st *state, j job, expr string, ts time.Time) (float64, error) {
	qctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	began := time.Now()
	val, warnings, infos, err := st.api.Query(qctx, expr, ts, v1.WithTimeout(st.timeout))
	q.duration.Observe(time.Since(began).Seconds())
	if len(warnings) > 0 || len(infos) > 0 {
		q.logger.Debug("Impact query answered with annotations", "service", j.service, "query", j.name, "warnings", []string(warnings), "infos", []string(infos))
	}
	if err == nil {
		var v float64
		v, err = oneNumber(val)
		if err == nil {
			q.queries.WithLabelValues("ok").Inc()
			return v, nil
		}
	} else {
		q.logger.Debug("Impact query failed", "service", j.service, "query", j.name, "err", err)
		err = describe(ctx, err, st.timeout)
	}
	q.queries.WithLabelValues("error").Inc()
	return 0, err
}

// oneNumber accepts a scalar or a one-element vector holding a finite
// number.
func oneNumber(val model.Value) (float64, error) {
	var v model.SampleValue
	switch r := val.(type) {
	case *model.Scalar:
		v = r.Value
	case model.Vector:
		switch {
		case len(r) == 0:
			return 0, errors.New("query returned no series; impact queries must return one number (no data in the window?)")
		case len(r) > 1:
			return 0, fmt.Errorf("query returned %d series; impact queries must return one number", len(r))
		case r[0].Histogram != nil:
			return 0, errors.New("query returned a histogram; impact queries must return one number")
		}
		v = r[0].Value
	case model.Matrix:
		return 0, errors.New("query returned a range vector; impact queries must return one number")
	case nil:
		return 0, errors.New("query returned nothing; impact queries must return one number")
	default:
		return 0, fmt.Errorf("query returned a %s; impact queries must return one number", val.Type())
	}
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return 0, errors.New("query returned NaN, no number to report (0/0: no traffic in the window?)")
	case math.IsInf(f, 0):
		return 0, fmt.Errorf("query returned %s, no number to report (division by zero?)", strconv.FormatFloat(f, 'g', -1, 64))
	}
	return f, nil
}

// describe turns a query error into words for a post-mortem. Errors never
// hold the Prometheus URL's password: net/http strips it.
func describe(ctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() != nil {
		return fmt.Errorf("not run: %w", context.Cause(ctx))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s (prometheus.query_timeout)", timeout)
	}
	if e, ok := errors.AsType[*v1.Error](err); ok {
		switch e.Type {
		case v1.ErrBadData:
			return fmt.Errorf("bad query: %s", e.Msg)
		case v1.ErrTimeout:
			return fmt.Errorf("timed out in Prometheus: %s", e.Msg)
		case v1.ErrCanceled:
			return fmt.Errorf("canceled in Prometheus: %s", e.Msg)
		default:
			// e.Detail (a response body) is left out: it can be a whole
			// HTML page from a proxy.
			return fmt.Errorf("prometheus answered with an error (%s): %s", e.Type, e.Msg)
		}
	}
	// The cause (a dial error with the URL) is logged, not put in the
	// draft: a post-mortem says "Prometheus unreachable", no Go error.
	return errUnreachable
}

// errUnreachable is what an impact query that got no answer reports.
var errUnreachable = errors.New("Prometheus unreachable")
