package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// soakOpts are the flags of the soak command.
type soakOpts struct {
	hindsight   string
	duration    time.Duration
	every       time.Duration
	warmup      time.Duration
	concurrency int
	rate        float64
	gen         genConfig
	tmpdir      string
	maxGrowth   int64
	maxGorout   int
}

// soakSample is what one idle sample of the daemon read.
type soakSample struct {
	at         time.Duration
	events     float64
	goroutines int
	heapInuse  int64
	rss        int64
	storeBytes float64
}

var soakHeapRe = regexp.MustCompile(`(?m)^# HeapInuse = (\d+)$`)

// runSoak is `hindsight-load soak`: the daemon on a fresh store under a
// steady load for --duration, paused every --every for an idle sample of
// its goroutines and live heap (after a forced GC, through pprof),
// resident memory and size on disk. It exits 1 when the last sample holds
// more goroutines or live heap than the first one after the warm-up,
// beyond the tolerances.
func runSoak(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	var o soakOpts
	fs.StringVar(&o.hindsight, "hindsight", "", "path to a built hindsight binary (required; `make build` makes ./hindsight)")
	fs.DurationVar(&o.duration, "duration", 2*time.Hour, "how long to load the daemon, warm-up excluded")
	fs.DurationVar(&o.every, "every", 5*time.Minute, "time between idle samples")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Minute, "load before the first sample")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent Alertmanagers")
	fs.Float64Var(&o.rate, "rate", 200, "offered load in requests/s (0: as fast as the daemon answers)")
	fs.IntVar(&o.gen.Alerts, "alerts", 3, "alerts per notification")
	fs.IntVar(&o.gen.Services, "services", 50, "services the alerts are spread over")
	fs.Int64Var(&o.gen.Seed, "seed", 1, "generator seed")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "where to create the daemon's fresh storage directory")
	fs.Int64Var(&o.maxGrowth, "max-heap-growth", 64<<20, "live heap the last sample may hold beyond the first, in bytes (caches that fill and stay bounded: Badger's memtables and block cache)")
	fs.IntVar(&o.maxGorout, "max-goroutine-growth", 8, "goroutines the last sample may hold beyond the first")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if o.hindsight == "" {
		return usagef("--hindsight is required (build it with `make build`)")
	}
	if o.duration <= 0 || o.every <= 0 || o.concurrency < 1 {
		return usagef("--duration, --every and --concurrency must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	kids := &children{set: map[*child]struct{}{}}
	defer kids.killAll()
	err := soak(ctx, o, kids, stdout)
	kids.killAll()
	if err != nil {
		kids.printLogs(stderr)
	}
	return err
}

func soak(ctx context.Context, o soakOpts, kids *children, out io.Writer) error {
	fmt.Fprintf(out, "# hindsight-load soak\n\n- command: `%s`\n- machine: %d CPUs (%s); load average at start %s\n- date: %s\n\n",
		strings.Join(os.Args, " "), runtime.NumCPU(), cpuModel(), loadAverage(), time.Now().UTC().Format(time.RFC3339))
	dir, err := os.MkdirTemp(o.tmpdir, "hindsight-soak-")
	if err != nil {
		return err
	}
	defer func() { kids.killAll(); _ = os.RemoveAll(dir) }()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	base := "http://" + addr
	hs, err := kids.start("hindsight", o.hindsight, "--web.listen-address="+addr, "--storage.path="+dir, "--log.level=warn", "--web.enable-pprof")
	if err != nil {
		return err
	}
	if _, err := waitReady(ctx, base, hs, time.Minute); err != nil {
		return err
	}
	// Enough bodies for the whole run; past them copies are re-timed, so
	// every event stays new.
	p, err := newPool(o.gen, o.concurrency, 50000)
	if err != nil {
		return usagef("%v", err)
	}
	client := newClient(o.concurrency)
	lo := loadOpts{URL: base + "/api/v1/ingest/alertmanager", Concurrency: o.concurrency, Rate: o.rate}
	began := time.Now()
	var failed int64
	phase := func(d time.Duration) error {
		lo.Duration = d
		r, err := load(ctx, client, p, lo)
		if err != nil {
			return err
		}
		failed += r.Failed
		return nil
	}
	fmt.Fprintln(out, "| time | events stored | goroutines | live heap | resident | store on disk |")
	fmt.Fprintln(out, "| ---: | ---: | ---: | ---: | ---: | ---: |")
	if err := phase(o.warmup); err != nil {
		return err
	}
	var samples []soakSample
	take := func() error {
		client.CloseIdleConnections()
		time.Sleep(time.Second)
		s, err := sampleIdle(ctx, base, hs.pid())
		if err != nil {
			return err
		}
		s.at = time.Since(began)
		samples = append(samples, s)
		fmt.Fprintf(out, "| %s | %.0f | %d | %s | %s | %s |\n", s.at.Round(time.Second), s.events, s.goroutines, mb(s.heapInuse), mb(s.rss), mb(int64(s.storeBytes)))
		return nil
	}
	if err := take(); err != nil {
		return err
	}
	for end := time.Now().Add(o.duration); time.Now().Before(end); {
		if err := phase(min(o.every, time.Until(end))); err != nil {
			return err
		}
		if err := take(); err != nil {
			return err
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	fmt.Fprintf(out, "\nFrom the first idle sample to the last: goroutines %+d (allowed %d), live heap %+.1f MiB (allowed %.0f MiB), %d requests failed\n",
		last.goroutines-first.goroutines, o.maxGorout, float64(last.heapInuse-first.heapInuse)/(1<<20), float64(o.maxGrowth)/(1<<20), failed)
	switch {
	case last.goroutines > first.goroutines+o.maxGorout:
		return fmt.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	case last.heapInuse > first.heapInuse+o.maxGrowth:
		return fmt.Errorf("live heap grew from %s to %s", mb(first.heapInuse), mb(last.heapInuse))
	case failed > 0:
		return fmt.Errorf("%d requests failed", failed)
	}
	return nil
}

// sampleIdle forces a GC in the daemon and reads its live heap and
// goroutines (pprof), resident memory (/proc) and metrics.
func sampleIdle(ctx context.Context, base string, pid int) (soakSample, error) {
	var s soakSample
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	for range 2 {
		b, err := get("/debug/pprof/heap?gc=1&debug=1")
		if err != nil {
			return s, err
		}
		m := soakHeapRe.FindSubmatch(b)
		if m == nil {
			return s, fmt.Errorf("no HeapInuse in the heap profile")
		}
		s.heapInuse, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	b, err := get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan()
	if _, err := fmt.Sscanf(sc.Text(), "goroutine profile: total %d", &s.goroutines); err != nil {
		return s, fmt.Errorf("goroutine profile %q: %w", sc.Text(), err)
	}
	m, err := scrape(ctx, base)
	if err != nil {
		return s, err
	}
	s.events, s.storeBytes = m["hindsight_store_events_stored_total"], m["hindsight_store_size_bytes"]
	if mi, err := procMem(pid); err == nil {
		s.rss = mi.RSS
	}
	http.DefaultClient.CloseIdleConnections()
	return s, nil
}
