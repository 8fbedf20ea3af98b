package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadOpts are the parameters of one measured phase.
type loadOpts struct {
	URL         string
	Concurrency int
	Duration    time.Duration // stop sending after this long, or
	Requests    int64         // after this many requests
	// Rate, when positive, is the offered load in requests/s, spread
	// evenly over the workers (open loop). A request's latency then
	// counts from when it was due, so a worker that falls behind shows
	// its backlog instead of hiding it (no coordinated omission).
	Rate float64
}

// result is what one phase measured. Latencies and counts are of
// completed requests; a request still in flight when the duration ends
// is waited for and counted.
type result struct {
	Requests  int64 // answered 200
	Failed    int64
	Alerts    int64 // in the requests answered 200
	Elapsed   time.Duration
	Latencies []time.Duration // sorted, successful requests only
	Errors    map[string]int64
}

func (r *result) reqPerSec() float64    { return float64(r.Requests) / r.Elapsed.Seconds() }
func (r *result) alertsPerSec() float64 { return float64(r.Alerts) / r.Elapsed.Seconds() }

// quantile returns the q-quantile of the latencies (nearest rank).
func (r *result) quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.999999) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

func (r *result) max() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[len(r.Latencies)-1]
}

// errorSummary lists errors by status, most frequent first.
func (r *result) errorSummary() string {
	if len(r.Errors) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if r.Errors[keys[i]] != r.Errors[keys[j]] {
			return r.Errors[keys[i]] > r.Errors[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, r.Errors[k])
	}
	return strings.Join(parts, ", ")
}

// newClient returns the one client of a run, with an idle connection per
// worker so that every worker keeps its connection.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        concurrency * 2,
			MaxIdleConnsPerHost: concurrency * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// load runs one phase: Concurrency workers, each the Alertmanager of one
// lane of p, send the lane's next body, one request at a time, until the
// duration or the request count is reached or ctx ends.
func load(ctx context.Context, client *http.Client, p *pool, o loadOpts) (*result, error) {
	if o.Concurrency < 1 || o.Concurrency != len(p.lanes) {
		return nil, fmt.Errorf("concurrency %d for %d lanes", o.Concurrency, len(p.lanes))
	}
	if (o.Duration > 0) == (o.Requests > 0) {
		return nil, usagef("give exactly one of --duration and --requests")
	}
	var (
		stop    atomic.Bool
		claimed atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		res     = &result{Errors: map[string]int64{}}
		lats    [][]time.Duration
	)
	if o.Duration > 0 {
		t := time.AfterFunc(o.Duration, func() { stop.Store(true) })
		defer t.Stop()
	}
	start := time.Now()
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.Concurrency) / o.Rate)
	}
	for w, ln := range p.lanes {
		wg.Go(func() {
			due := start.Add(interval * time.Duration(w) / time.Duration(o.Concurrency))
			var (
				lat    = make([]time.Duration, 0, 4096)
				errs   = map[string]int64{}
				ok     int64
				failed int64
				buf    []byte
			)
			for !stop.Load() && ctx.Err() == nil {
				if o.Requests > 0 && claimed.Add(1) > o.Requests {
					break
				}
				var b []byte
				b, buf = ln.body(buf)
				t0 := time.Now()
				if interval > 0 {
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
					t0 = due
					due = due.Add(interval)
				}
				status, err := post(ctx, client, o.URL, b)
				d := time.Since(t0)
				switch {
				case err != nil:
					if ctx.Err() != nil {
						continue
					}
					failed++
					errs[errKey(err)]++
				case status != http.StatusOK:
					failed++
					errs[strconv.Itoa(status)+" "+http.StatusText(status)]++
				default:
					ok++
					lat = append(lat, d)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Requests += ok
			res.Failed += failed
			for k, v := range errs {
				res.Errors[k] += v
			}
			lats = append(lats, lat)
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	res.Latencies = slices.Concat(lats...)
	slices.Sort(res.Latencies)
	res.Alerts = res.Requests * int64(p.alerts)
	return res, nil
}

func post(ctx context.Context, client *http.Client, url string, b []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Alertmanager/0.28.1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read the answer to the end so that the connection is reused.
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// errKey names a transport error without the parts that differ per
// connection (ports), so that errors group.
func errKey(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, http.ErrHandlerTimeout):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

func printResult(w io.Writer, r *result) {
	fmt.Fprintf(w, "requests    %d ok, %d failed, in %s\n", r.Requests, r.Failed, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "requests/s  %.0f\n", r.reqPerSec())
	fmt.Fprintf(w, "alerts/s    %.0f\n", r.alertsPerSec())
	fmt.Fprintf(w, "latency     p50 %s  p90 %s  p99 %s  max %s\n",
		fmtDur(r.quantile(0.50)), fmtDur(r.quantile(0.90)), fmtDur(r.quantile(0.99)), fmtDur(r.max()))
	fmt.Fprintf(w, "errors      %s\n", r.errorSummary())

}

// poolSize is how many bodies to pre-generate for a phase: enough that a
// run of --requests needs no re-timed copies, capped to bound memory.
func poolSize(flagPool int, requests int64) int {
	if requests > 0 && requests < int64(flagPool) {
		return int(requests)
	}
	return flagPool
}

func printPool(w io.Writer, p *pool, g genConfig, took time.Duration) {
	n, size, res := p.stats()
	fmt.Fprintf(w, "payloads    %d notifications pre-generated in %s: %d Alertmanagers (one per cluster, one per worker) x %d services,"+
		" %d alerts each, %d bytes on average, %.0f%% resolutions, seed %d\n",
		n, took.Round(time.Millisecond), len(p.lanes), g.Services, g.Alerts, size, 100*res, g.Seed)
}

func runIngest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	var o loadOpts
	var g genConfig
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:9097/api/v1/ingest/alertmanager", "webhook URL to POST to")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "concurrent workers, each with one request in flight")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to send (default 20s unless --requests is given)")
	fs.Int64Var(&o.Requests, "requests", 0, "send this many requests instead of for --duration")
	warmup := fs.Duration("warmup", 0, "send for this long first, not measured")
	fs.Float64Var(&o.Rate, "rate", 0, "offered load in requests/s, spread over the workers, with latency counted from when each request was due (open loop); 0 sends as fast as the server answers (closed loop)")
	fs.IntVar(&g.Alerts, "alerts", 3, "alerts per notification")
	fs.IntVar(&g.Services, "services", 50, "services the alerts are spread over")
	fs.Int64Var(&g.Seed, "seed", 1, "generator seed; the same seed and concurrency send the same bodies (use another seed to add new events to a store that has this seed's)")
	poolN := fs.Int("pool", 50000, "bodies pre-generated before the clock starts; past them, copies are re-timed so that every alert state stays unique")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if o.Duration == 0 && o.Requests == 0 {
		o.Duration = 20 * time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if o.Concurrency < 1 {
		return usagef("--concurrency must be at least 1")
	}
	t0 := time.Now()
	p, err := newPool(g, o.Concurrency, poolSize(*poolN, o.Requests))
	if err != nil {
		return usagef("%v", err)
	}
	printPool(stdout, p, g, time.Since(t0))
	client := newClient(o.Concurrency)
	defer client.CloseIdleConnections()
	var failed int64
	if *warmup > 0 {
		w := o
		w.Duration, w.Requests = *warmup, 0
		r, err := load(ctx, client, p, w)
		if err != nil {
			return err
		}
		failed += r.Failed
		fmt.Fprintf(stdout, "warm-up     %d requests, %d failed (%s)\n", r.Requests, r.Failed, r.errorSummary())
	}
	offered := "closed loop"
	if o.Rate > 0 {
		offered = fmt.Sprintf("offered %.0f requests/s", o.Rate)
	}
	fmt.Fprintf(stdout, "target      %s, concurrency %d, %s\n", o.URL, o.Concurrency, offered)
	r, err := load(ctx, client, p, o)
	if err != nil {
		return err
	}
	printResult(stdout, r)
	if failed+r.Failed > 0 {
		return fmt.Errorf("%d requests failed", failed+r.Failed)
	}
	return nil
}
