package impact

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
)

// The data written to Prometheus: two counters of checkout's requests,
// sampled every 15s for two hours starting three hours ago. Each step
// serves stepRequests requests; normally okFailed of them fail, during a
// 14-minute stretch an hour in badFailed do (3%).
const (
	step         = 15 * time.Second
	steps        = 480 // two hours
	badFrom      = 240 // the stretch covers the increments of steps badFrom+1 .. badFrom+badSteps
	badSteps     = 56  // 14 minutes
	stepRequests = 200
	okFailed     = 1
	badFailed    = 6
)

// history describes the data written, for the assertions.
type history struct {
	base                time.Time // first sample
	badStart, badEnd    time.Time // the bad stretch, on sample times
	wantFailed          float64   // failed requests in the stretch
	wantRatio           float64   // error ratio in the stretch
	failedTol, ratioTol float64
}

func newHistory(now time.Time) history {
	base := now.Add(-3 * time.Hour).Truncate(time.Minute)
	h := history{
		base:       base,
		badStart:   base.Add(badFrom * step),
		badEnd:     base.Add((badFrom + badSteps) * step),
		wantFailed: badSteps * badFailed,                       // 336
		wantRatio:  float64(badFailed) / float64(stepRequests), // 0.03
	}
	// The window's samples line up with the stretch, so Prometheus 2
	// (closed range, no extrapolation needed) and Prometheus 3 (left-open
	// range, extrapolated by exactly one step) both give the exact numbers.
	// The tolerance allows the window to be off by one sample at each end,
	// trading a bad step for a normal one: 2*(6-1) = 10 requests, which is
	// 10/11200 of the ratio.
	h.failedTol = 2 * (badFailed - okFailed)
	h.ratioTol = h.failedTol / float64(badSteps*stepRequests)
	return h
}

// openMetrics renders the history as an OpenMetrics file for promtool.
func (h history) openMetrics() []byte {
	var b bytes.Buffer
	b.WriteString("# HELP http_requests Requests served.\n# TYPE http_requests counter\n")
	for _, code := range []string{"200", "500"} {
		v := 1000.0 // counters that started before the data, as in life
		for i := 0; i <= steps; i++ {
			if i > 0 {
				failed := okFailed
				if i > badFrom && i <= badFrom+badSteps {
					failed = badFailed
				}
				if code == "500" {
					v += float64(failed)
				} else {
					v += float64(stepRequests - failed)
				}
			}
			ts := h.base.Add(time.Duration(i) * step).Unix()
			fmt.Fprintf(&b, "http_requests_total{service=\"checkout\",code=%q} %s %d\n", code, strconv.FormatFloat(v, 'f', -1, 64), ts)
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

func binary(t *testing.T, name string) string {
	t.Helper()
	if p := "/usr/bin/" + name; fileExists(p) { // the Debian package
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (apt-get install prometheus)", name)
	}
	t.Skipf("%s is not installed (apt-get install prometheus)", name)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startPrometheus backfills h into a new TSDB with promtool and serves it
// with a real Prometheus. It returns the server's URL.
func startPrometheus(t *testing.T, h history) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Prometheus server")
	}
	prom, promtool := binary(t, "prometheus"), binary(t, "promtool")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	om := filepath.Join(dir, "history.om")
	require.NoError(t, os.WriteFile(om, h.openMetrics(), 0o600))
	out, err := exec.CommandContext(t.Context(), promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput()
	require.NoError(t, err, "promtool: %s", out)

	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("global:\n  scrape_interval: 1m\n"), 0o600))
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var logs lockedBuffer
	cmd := exec.Command(prom,
		"--storage.tsdb.path="+data,
		"--config.file="+cfgFile,
		"--web.listen-address="+addr,
		// The backfilled blocks lie in the past; keep them in retention.
		"--storage.tsdb.retention.time=30d",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})

	u := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("prometheus exited before it was ready:\n%s", logs.String())
		default:
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u+"/-/ready", nil)
		require.NoError(t, err)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 60s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countingProxy forwards to target and counts the queries it forwards.
func countingProxy(t *testing.T, target string) (string, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/query" {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

const (
	errorRatioQ     = `sum(rate(http_requests_total{service="checkout",code=~"5.."}[$window])) / sum(rate(http_requests_total{service="checkout"}[$window]))`
	requestsFailedQ = `sum(increase(http_requests_total{service="checkout",code=~"5.."}[$window]))`
)

func testConfig(url string, queries map[string]map[string]string) *config.Config {
	cfg := config.Default()
	cfg.Prometheus.URL = url
	cfg.Prometheus.QueryTimeout = model.Duration(10 * time.Second)
	cfg.Services = map[string]config.Service{}
	for svc, qs := range queries {
		cfg.Services[svc] = config.Service{Tier: 1, CustomerFacing: true, ImpactQueries: qs}
	}
	return cfg
}

func queriesRun(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "hindsight_impact_queries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no hindsight_impact_queries_total{result=%q}", result)
	return 0
}

func queryDurations(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "hindsight_impact_query_duration_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no hindsight_impact_query_duration_seconds")
	return 0
}

func TestMeasureAgainstPrometheus(t *testing.T) {
	h := newHistory(time.Now())
	promURL := startPrometheus(t, h)

	t.Run("numbers over the incident window", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		q, err := New(testConfig(promURL, map[string]map[string]string{
			"checkout": {"error_ratio": errorRatioQ, "requests_failed": requestsFailedQ},
			"payments": {}, // a service without queries adds nothing
		}), nil, reg)
		require.NoError(t, err)

		ms, errs := q.Measure(t.Context(), "inc-1", []string{"payments", "checkout"}, h.badStart, h.badEnd)
		t.Logf("measured: %+v", ms)
		require.Empty(t, errs)
		require.Len(t, ms, 2)

		require.Equal(t, "error_ratio", ms[0].Name)
		require.Equal(t, "checkout", ms[0].Service)
		require.InDelta(t, h.wantRatio, ms[0].Value, h.ratioTol)
		require.Contains(t, ms[0].Query, "[14m]")
		require.NotContains(t, ms[0].Query, "$window")

		require.Equal(t, "requests_failed", ms[1].Name)
		require.Equal(t, "checkout", ms[1].Service)
		require.InDelta(t, h.wantFailed, ms[1].Value, h.failedTol)

		require.Equal(t, 2.0, queriesRun(t, reg, "ok"))
		require.Equal(t, 0.0, queriesRun(t, reg, "error"))
		require.Equal(t, uint64(2), queryDurations(t, reg))

		require.Equal(t, "checkout degraded for 14m; error_ratio 3.0%, requests_failed 336", Summary("checkout degraded for 14m", ms))
	})

	t.Run("a window that is not whole minutes", func(t *testing.T) {
		q, err := New(testConfig(promURL, map[string]map[string]string{"checkout": {"requests_failed": requestsFailedQ}}), nil, nil)
		require.NoError(t, err)
		// 7m30s of the stretch: 30 steps of 6 failed requests.
		ms, errs := q.Measure(t.Context(), "inc-2", []string{"checkout"}, h.badEnd.Add(-450*time.Second), h.badEnd)
		require.Empty(t, errs)
		require.Len(t, ms, 1)
		require.Contains(t, ms[0].Query, "[7m30s]")
		require.InDelta(t, 30*badFailed, ms[0].Value, h.failedTol)
	})

	t.Run("bad query, several series, no series, NaN", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		q, err := New(testConfig(promURL, map[string]map[string]string{
			"checkout": {
				"broken":   `sum(rate(http_requests_total[$window])`,
				"per_code": `sum by (code) (increase(http_requests_total{service="checkout"}[$window]))`,
				"good":     requestsFailedQ,
			},
			"search": {
				"absent": `sum(rate(http_requests_total{service="search"}[$window]))`,
				"nan":    `vector(0) / vector(0)`,
			},
		}), nil, reg)
		require.NoError(t, err)
		ms, errs := q.Measure(t.Context(), "inc-3", []string{"checkout", "search"}, h.badStart, h.badEnd)
		t.Logf("errors: %q", errs)
		require.Len(t, ms, 1, "the query that works still gives its number")
		require.Equal(t, "good", ms[0].Name)
		require.Len(t, errs, 4)
		require.Contains(t, errs[0], `service "checkout" query "broken": bad query:`)
		require.Contains(t, errs[1], `service "checkout" query "per_code": query returned 2 series; impact queries must return one number`)
		require.Contains(t, errs[2], `service "search" query "absent": query returned no series`)
		require.Contains(t, errs[3], `service "search" query "nan": query returned NaN`)
		require.Equal(t, 1.0, queriesRun(t, reg, "ok"))
		require.Equal(t, 4.0, queriesRun(t, reg, "error"))
	})

	t.Run("a resolved incident is queried once", func(t *testing.T) {
		proxy, n := countingProxy(t, promURL)
		reg := prometheus.NewRegistry()
		q, err := New(testConfig(proxy, map[string]map[string]string{
			"checkout": {"error_ratio": errorRatioQ, "requests_failed": requestsFailedQ},
		}), nil, reg)
		require.NoError(t, err)

		first, errs := q.Measure(t.Context(), "inc-4", []string{"checkout"}, h.badStart, h.badEnd)
		require.Empty(t, errs)
		require.Equal(t, int64(2), n.Load())

		first[0].Value = -1 // the caller owns what it gets
		clock := time.Now().Add(24 * time.Hour)
		q.now = func() time.Time { return clock }
		second, errs := q.Measure(t.Context(), "inc-4", []string{"checkout"}, h.badStart, h.badEnd)
		require.Empty(t, errs)
		require.Equal(t, int64(2), n.Load(), "served from the cache")
		require.Equal(t, 2.0, queriesRun(t, reg, "ok"))
		require.InDelta(t, h.wantRatio, second[0].Value, h.ratioTol)

		// Another window of the same incident is another measurement.
		_, errs = q.Measure(t.Context(), "inc-4", []string{"checkout"}, h.badStart, h.badEnd.Add(time.Minute))
		require.Empty(t, errs)
		require.Equal(t, int64(4), n.Load())

		// A reload that leaves the queries alone keeps the cache ...
		cfg := testConfig(proxy, map[string]map[string]string{
			"checkout": {"error_ratio": errorRatioQ, "requests_failed": requestsFailedQ},
		})
		require.NoError(t, q.SetConfig(cfg))
		_, _ = q.Measure(t.Context(), "inc-4", []string{"checkout"}, h.badStart, h.badEnd)
		require.Equal(t, int64(4), n.Load())
		// ... one that changes them does not.
		cfg.Services["checkout"] = config.Service{ImpactQueries: map[string]string{"requests_failed": requestsFailedQ}}
		require.NoError(t, q.SetConfig(cfg))
		ms, errs := q.Measure(t.Context(), "inc-4", []string{"checkout"}, h.badStart, h.badEnd)
		require.Empty(t, errs)
		require.Len(t, ms, 1)
		require.Equal(t, int64(5), n.Load())
	})

	t.Run("an open incident is cached briefly", func(t *testing.T) {
		proxy, n := countingProxy(t, promURL)
		q, err := New(testConfig(proxy, map[string]map[string]string{"checkout": {"requests_failed": requestsFailedQ}}), nil, nil)
		require.NoError(t, err)
		// Pretend it is just after the bad stretch and the incident is
		// still open: its end is "now" and moves with every read.
		clock := h.badEnd
		q.now = func() time.Time { return clock }

		ms, errs := q.Measure(t.Context(), "inc-5", []string{"checkout"}, h.badStart, clock)
		require.Empty(t, errs)
		require.Equal(t, int64(1), n.Load())

		clock = clock.Add(20 * time.Second)
		again, errs := q.Measure(t.Context(), "inc-5", []string{"checkout"}, h.badStart, clock)
		require.Empty(t, errs)
		require.Equal(t, int64(1), n.Load(), "within OpenTTL the moving end is served from the cache")
		require.Equal(t, ms, again)

		clock = clock.Add(OpenTTL)
		_, errs = q.Measure(t.Context(), "inc-5", []string{"checkout"}, h.badStart, clock)
		require.Empty(t, errs)
		require.Equal(t, int64(2), n.Load(), "after OpenTTL it is measured again")
	})

	t.Run("errors are cached briefly", func(t *testing.T) {
		proxy, n := countingProxy(t, promURL)
		q, err := New(testConfig(proxy, map[string]map[string]string{"checkout": {"broken": `rate(`}}), nil, nil)
		require.NoError(t, err)
		clock := time.Now()
		q.now = func() time.Time { return clock }
		for range 3 {
			_, errs := q.Measure(t.Context(), "inc-6", []string{"checkout"}, h.badStart, h.badEnd)
			require.Len(t, errs, 1)
		}
		require.Equal(t, int64(1), n.Load())
		clock = clock.Add(OpenTTL)
		_, errs := q.Measure(t.Context(), "inc-6", []string{"checkout"}, h.badStart, h.badEnd)
		require.Len(t, errs, 1)
		require.Equal(t, int64(2), n.Load())
	})

	t.Run("concurrent use", func(t *testing.T) {
		q, err := New(testConfig(promURL, map[string]map[string]string{
			"checkout": {"error_ratio": errorRatioQ, "requests_failed": requestsFailedQ},
		}), nil, prometheus.NewRegistry())
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				end := h.badEnd.Add(time.Duration(i%3) * step)
				ms, errs := q.Measure(t.Context(), "inc-7", []string{"checkout"}, h.badStart, end)
				if len(errs) != 0 || len(ms) != 2 {
					t.Errorf("measure: %v %v", ms, errs)
				}
			})
			wg.Go(func() {
				if err := q.SetConfig(testConfig(promURL, map[string]map[string]string{
					"checkout": {"error_ratio": errorRatioQ, "requests_failed": requestsFailedQ},
				})); err != nil {
					t.Errorf("set config: %v", err)
				}
			})
		}
		wg.Wait()
	})
}

func TestMeasureUnreachable(t *testing.T) {
	port := freePort(t) // closed again: nothing listens there
	// Credentials in the URL must not end up in the error, which is shown
	// in drafts.
	cfg := testConfig("http://hindsight:hunter2@127.0.0.1:"+strconv.Itoa(port), map[string]map[string]string{
		"checkout": {"error_ratio": errorRatioQ},
	})
	cfg.Prometheus.QueryTimeout = model.Duration(2 * time.Second)
	reg := prometheus.NewRegistry()
	q, err := New(cfg, nil, reg)
	require.NoError(t, err)

	began := time.Now()
	now := time.Now()
	ms, errs := q.Measure(t.Context(), "inc-1", []string{"checkout"}, now.Add(-time.Hour), now.Add(-30*time.Minute))
	require.Less(t, time.Since(began), 2*time.Second)
	require.Empty(t, ms)
	require.NotNil(t, ms)
	require.Len(t, errs, 1)
	require.Equal(t, `service "checkout" query "error_ratio": Prometheus unreachable`, errs[0],
		"no Go error (the dial, the URL) in what the draft shows")
	require.NotContains(t, errs[0], "hunter2")
	require.Equal(t, 1.0, queriesRun(t, reg, "error"))
	require.Equal(t, 0.0, queriesRun(t, reg, "ok"))
}

// hangingServer is a Prometheus that never answers.
func hangingServer(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so that the server notices when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs before Close
	return srv.URL
}

func TestMeasureTimeout(t *testing.T) {
	cfg := testConfig(hangingServer(t), map[string]map[string]string{
		"checkout": {"a": `vector(1)`, "b": `vector(2)`, "c": `vector(3)`, "d": `vector(4)`, "e": `vector(5)`},
	})
	cfg.Prometheus.QueryTimeout = model.Duration(200 * time.Millisecond)
	q, err := New(cfg, nil, nil)
	require.NoError(t, err)

	began := time.Now()
	now := time.Now()
	ms, errs := q.Measure(t.Context(), "inc-1", []string{"checkout"}, now.Add(-time.Hour), now)
	// Five queries, four at a time: two rounds of the timeout.
	require.Less(t, time.Since(began), 2*time.Second)
	require.Empty(t, ms)
	require.Len(t, errs, 5)
	require.Equal(t, `service "checkout" query "a": timed out after 200ms (prometheus.query_timeout)`, errs[0])
}

func TestMeasureCanceled(t *testing.T) {
	q, err := New(testConfig(hangingServer(t), map[string]map[string]string{"checkout": {"a": `vector(1)`}}), nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, errs := q.Measure(ctx, "inc-1", []string{"checkout"}, time.Now().Add(-time.Hour), time.Now())
	require.Len(t, errs, 1)
	require.Contains(t, errs[0], `service "checkout" query "a": not run:`)
	require.Zero(t, q.cache.len(), "a result cut short by the caller is not cached")
}

func TestNoPrometheusURL(t *testing.T) {
	q, err := New(testConfig("", map[string]map[string]string{"checkout": {"error_ratio": errorRatioQ}}), nil, nil)
	require.NoError(t, err)
	now := time.Now()
	ms, errs := q.Measure(t.Context(), "inc-1", []string{"checkout"}, now.Add(-time.Hour), now)
	require.Empty(t, ms)
	require.Equal(t, []string{"impact queries not run: prometheus.url is not set"}, errs)

	// Nothing to run, nothing to report.
	ms, errs = q.Measure(t.Context(), "inc-1", []string{"payments"}, now.Add(-time.Hour), now)
	require.NotNil(t, ms)
	require.Empty(t, ms)
	require.Nil(t, errs)

	var none *Querier
	ms, errs = none.Measure(t.Context(), "inc-1", []string{"checkout"}, now.Add(-time.Hour), now)
	require.Empty(t, ms)
	require.Nil(t, errs)
}

func TestBadConfig(t *testing.T) {
	good := testConfig("http://127.0.0.1:9", map[string]map[string]string{"checkout": {"a": `vector(1)`}})
	q, err := New(good, nil, nil)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{
			name:   "url",
			change: func(c *config.Config) { c.Prometheus.URL = "ftp://user:hunter2@example.com" },
			want:   "prometheus.url must be an http or https URL with a host",
		},
		{
			name: "two kinds of credentials",
			change: func(c *config.Config) {
				c.Prometheus.HTTPClientConfig.BasicAuth = &commoncfg.BasicAuth{Username: "u", Password: "hunter2"}
				c.Prometheus.HTTPClientConfig.BearerToken = "hunter2"
			},
			want: "prometheus: http client config: ",
		},
		{
			name: "missing CA file",
			change: func(c *config.Config) {
				c.Prometheus.HTTPClientConfig.TLSConfig.CAFile = filepath.Join(t.TempDir(), "missing-ca.pem")
			},
			want: "prometheus: http client config: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("http://127.0.0.1:9", nil)
			tc.change(cfg)
			_, err := New(cfg, nil, nil)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2")

			// A bad reload keeps the running configuration.
			require.ErrorContains(t, q.SetConfig(cfg), tc.want)
			_, errs := q.Measure(t.Context(), "x", []string{"checkout"}, time.Now().Add(-time.Hour), time.Now())
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], `query "a": Prometheus unreachable`)
		})
	}
}

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{14 * time.Minute, "14m"},
		{47*time.Minute + 30*time.Second + 400*time.Millisecond, "47m30s"},
		{20 * time.Second, "1m"},
		{0, "1m"},
		{-time.Hour, "1m"},
		{26 * time.Hour, "1d2h"},
	} {
		require.Equal(t, tc.want, Window(t0, t0.Add(tc.d)), tc.d)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU(2)
	now := time.Now()
	c.put("a", &entry{errs: []string{"a"}})
	c.put("b", &entry{errs: []string{"b"}, expires: now.Add(time.Second)})
	_, ok := c.get("a", now) // a is now the most recently used
	require.True(t, ok)
	c.put("c", &entry{errs: []string{"c"}})
	_, ok = c.get("b", now)
	require.False(t, ok, "least recently used entry evicted")
	_, ok = c.get("a", now.Add(time.Hour))
	require.True(t, ok, "no expiry")
	c.put("d", &entry{expires: now.Add(time.Second)})
	_, ok = c.get("d", now.Add(time.Second))
	require.False(t, ok, "expired")
	require.Equal(t, 1, c.len())
	c.purge()
	require.Zero(t, c.len())
}
