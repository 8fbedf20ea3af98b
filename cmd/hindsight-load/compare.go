package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const ingestPath = "/api/v1/ingest/alertmanager"

type compareOpts struct {
	hindsight   string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	gen         genConfig
	pool        int
	fill        int64
	sequential  int64
	tmpdir      string
	keep        bool
	idleTimeout time.Duration
	settle      time.Duration
}

// memInfo is what /proc/PID/status says about memory, in bytes.
type memInfo struct {
	RSS, Peak  int64 // VmRSS, VmHWM
	Anon, File int64 // RssAnon (Go heap, stacks), RssFile (mapped files: Badger reads and writes its files through mmap)
}

func (m memInfo) String() string {
	return fmt.Sprintf("%s (anonymous %s, mapped files %s)", mb(m.RSS), mb(m.Anon), mb(m.File))
}

func runCompare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var o compareOpts
	fs.StringVar(&o.hindsight, "hindsight", "", "path to a built hindsight binary (required; `make build` makes ./hindsight)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent workers, each with one request in flight")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each receiver")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.IntVar(&o.gen.Alerts, "alerts", 3, "alerts per notification")
	fs.IntVar(&o.gen.Services, "services", 50, "services the alerts are spread over")
	fs.Int64Var(&o.gen.Seed, "seed", 1, "generator seed")
	fs.IntVar(&o.pool, "pool", 50000, "bodies pre-generated before the clock starts; past them, copies are re-timed so that every alert state stays unique")
	fs.Int64Var(&o.sequential, "sequential", 2000, "after each receiver's concurrent run, send it this many more (fresh) requests one at a time, for the latency of a single sender (0: skip)")
	fs.Int64Var(&o.fill, "fill", 0, "then fill the store up to this many events and measure memory, size and restart (0: skip)")
	fs.StringVar(&o.tmpdir, "tmpdir", "", "where to create the daemon's fresh storage directory (default: the system temp dir)")
	fs.BoolVar(&o.keep, "keep", false, "keep the storage directory afterwards")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 3*time.Minute, "longest wait for the daemon to go idle before reading its memory")
	fs.DurationVar(&o.settle, "settle", 5*time.Minute, "after the fill, how long to leave the idle daemon before reading its memory again (Go forces a GC after 2 minutes without one; Badger frees pooled table-builder buffers after 2s without use)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if o.hindsight == "" {
		return usagef("--hindsight is required (build it with `make build`)")
	}
	if _, err := os.Stat(o.hindsight); err != nil {
		return usagef("--hindsight: %v", err)
	}
	if o.duration <= 0 || o.concurrency < 1 {
		return usagef("--duration and --concurrency must be positive")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	kids := &children{set: map[*child]struct{}{}}
	// Every exit path, errors and Ctrl-C included, ends the children.
	defer kids.killAll()
	err := compare(ctx, o, kids, os.Args, stdout)
	kids.killAll()
	kids.printLogs(stderr)
	return err
}

func compare(ctx context.Context, o compareOpts, kids *children, argv []string, out io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		self = argv[0]
	}
	fmt.Fprintf(out, "# hindsight-load compare\n\n")
	fmt.Fprintf(out, "- command: `%s`\n", strings.Join(argv, " "))
	fmt.Fprintf(out, "- machine: %d CPUs (%s), %s/%s; hindsight-load built with %s; load average at start %s\n",
		runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadAverage())
	if v, err := exec.CommandContext(ctx, o.hindsight, "--version").Output(); err == nil {
		fmt.Fprintf(out, "- daemon: %s\n", firstLine(string(v)))
	}
	fmt.Fprintf(out, "- date: %s\n", time.Now().UTC().Format(time.RFC3339))

	t0 := time.Now()
	p, err := newPool(o.gen, o.concurrency, o.pool)
	if err != nil {
		return usagef("%v", err)
	}
	n, size, res := p.stats()
	fmt.Fprintf(out, "- payloads: %d notifications pre-generated in %s: %d Alertmanagers (one per cluster and worker) x %d services, %d alerts each, %d bytes on average, %.0f%% resolutions, seed %d\n",
		n, time.Since(t0).Round(time.Millisecond), o.concurrency, o.gen.Services, o.gen.Alerts, size, 100*res, o.gen.Seed)
	fmt.Fprintf(out, "- load: concurrency %d, warm-up %s, then %s measured, per receiver\n\n", o.concurrency, o.warmup, o.duration)

	client := newClient(o.concurrency)
	defer client.CloseIdleConnections()
	failed := int64(0)

	// 1. The baseline.
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	noop, err := kids.start("noop", self, "noop", "--listen", addr)
	if err != nil {
		return err
	}
	base := "http://" + addr
	if _, err := waitReady(ctx, base, noop, 10*time.Second); err != nil {
		return err
	}
	noopRow, err := measure(ctx, client, p, base, noop, o, nil)
	if err != nil {
		return err
	}
	failed += noopRow.failed
	var noopSeq, durSeq *row
	if o.sequential > 0 {
		if noopSeq, err = measureSequential(ctx, client, o, base, noop); err != nil {
			return err
		}
		failed += noopSeq.failed
	}
	if _, err := noop.stop(15 * time.Second); err != nil {
		return err
	}
	client.CloseIdleConnections()

	// 2. The daemon on a fresh store, the same bodies from the start.
	dir, err := os.MkdirTemp(o.tmpdir, "hindsight-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(out, "Storage directory (kept): %s\n\n", dir)
	} else {
		// The daemon must be gone before its directory is.
		defer func() {
			kids.killAll()
			_ = os.RemoveAll(dir)
		}()
	}
	if addr, err = freeAddr(); err != nil {
		return err
	}
	base = "http://" + addr
	natsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	// The embedded NATS server on a free port too: another daemon on the
	// machine may hold the default one.
	hsArgs := []string{"--web.listen-address=" + addr, "--nats.listen-address=" + natsAddr, "--storage.path=" + dir, "--log.level=warn"}
	hs, err := kids.start("hindsight", o.hindsight, hsArgs...)
	if err != nil {
		return err
	}
	if _, err := waitReady(ctx, base, hs, time.Minute); err != nil {
		return err
	}
	p.reset()
	var diag daemonDiag
	durRow, err := measure(ctx, client, p, base, hs, o, &diag)
	if err != nil {
		return err
	}
	failed += durRow.failed
	if o.sequential > 0 {
		if durSeq, err = measureSequential(ctx, client, o, base, hs); err != nil {
			return err
		}
		failed += durSeq.failed
	}

	// The floor under every group commit, on the same disk in the same
	// run: other tenants of a machine move it a lot.
	probe, err := fsyncProbe(filepath.Dir(dir), 200)
	if err != nil {
		return fmt.Errorf("fsync probe: %w", err)
	}
	printComparison(out, o, noopRow, durRow, &diag, probe)
	if noopSeq != nil && durSeq != nil {
		printSequential(out, o, noopSeq, durSeq)
	}

	if o.fill > 0 {
		if err := fillAndRestart(ctx, o, kids, client, p, hs, base, dir, hsArgs, out); err != nil {
			return err
		}
	} else if _, err := hs.stop(time.Minute); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d requests failed (see the errors column)", failed)
	}
	return nil
}

// measureSequential sends n requests one at a time, from one
// Alertmanager whose bodies come from another seed than the concurrent
// run's (so none repeats an event already stored).
func measureSequential(ctx context.Context, client *http.Client, o compareOpts, base string, c *child) (*row, error) {
	g := o.gen
	g.Seed += 1000
	p, err := newPool(g, 1, int(o.sequential))
	if err != nil {
		return nil, err
	}
	cpu0, _ := procCPU(c.pid())
	self0 := selfCPU()
	res, err := load(ctx, client, p, loadOpts{URL: base + ingestPath, Concurrency: 1, Requests: o.sequential})
	if err != nil {
		return nil, err
	}
	cpu1, _ := procCPU(c.pid())
	return &row{res: res, failed: res.Failed, serverCPU: cpu1 - cpu0, clientCPU: selfCPU() - self0, load: loadAverage()}, nil
}

func printSequential(out io.Writer, o compareOpts, noop, dur *row) {
	fmt.Fprintf(out, "## One sender, one request at a time: %d requests after the concurrent run (bodies of seed %d)\n\n", o.sequential, o.gen.Seed+1000)
	fmt.Fprintln(out, "| receiver | requests/s | p50 | p90 | p99 | max | failed | receiver CPU per request | load avg after |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range []*row{noop, dur} {
		name := "no-op (read + decode, no store)"
		if r == dur {
			name = "hindsight (durable + correlated)"
		}
		fmt.Fprintf(out, "| %s | %.0f | %s | %s | %s | %s | %d | %s | %s |\n", name, r.res.reqPerSec(),
			fmtDur(r.res.quantile(0.5)), fmtDur(r.res.quantile(0.9)), fmtDur(r.res.quantile(0.99)), fmtDur(r.res.max()),
			r.failed, perReq(r.serverCPU, r.res), r.load)
	}
	p50 := dur.res.quantile(0.5)
	fmt.Fprintf(out, "\n- durable p50 with one sender: **%s** (target ≤ 2 ms: %s; the no-op's: %s)\n\n",
		fmtDur(p50), verdict(p50 <= 2*time.Millisecond), fmtDur(noop.res.quantile(0.5)))
}

// row is one measured receiver.
type row struct {
	res       *result
	failed    int64         // warm-up included
	serverCPU time.Duration // CPU the receiver process used while measured
	clientCPU time.Duration // CPU this process used while measuring
	load      string
}

func measure(ctx context.Context, client *http.Client, p *pool, base string, c *child, o compareOpts, diag *daemonDiag) (*row, error) {
	lo := loadOpts{URL: base + ingestPath, Concurrency: o.concurrency}
	r := &row{}
	if o.warmup > 0 {
		lo.Duration = o.warmup
		w, err := load(ctx, client, p, lo)
		if err != nil {
			return nil, err
		}
		r.failed += w.Failed
	}
	var before map[string]float64
	if diag != nil {
		before, _ = scrape(ctx, base)
	}
	cpu0, _ := procCPU(c.pid())
	self0 := selfCPU()
	lo.Duration = o.duration
	res, err := load(ctx, client, p, lo)
	if err != nil {
		return nil, err
	}
	cpu1, _ := procCPU(c.pid())
	r.serverCPU, r.clientCPU = cpu1-cpu0, selfCPU()-self0
	r.res, r.failed, r.load = res, r.failed+res.Failed, loadAverage()
	if diag != nil {
		after, err := scrape(ctx, base)
		if err == nil && before != nil {
			diag.set(before, after)
		}
	}
	return r, nil
}

// daemonDiag is what the daemon's own metrics say about the measured
// interval: how the group commit and the projection batched.
type daemonDiag struct {
	ok                          bool
	commits, commitEvents       float64
	commitSeconds               float64
	projCommits, projSeconds    float64
	applied, stored, duplicates float64
}

func (d *daemonDiag) set(a, b map[string]float64) {
	delta := func(k string) float64 { return b[k] - a[k] }
	d.commits = delta("hindsight_store_append_batch_events_count")
	d.commitEvents = delta("hindsight_store_append_batch_events_sum")
	d.commitSeconds = delta("hindsight_store_append_duration_seconds_sum")
	d.projCommits = delta("hindsight_correlate_commit_duration_seconds_count")
	d.projSeconds = delta("hindsight_correlate_commit_duration_seconds_sum")
	d.applied = delta("hindsight_correlate_events_applied_total")
	d.stored = delta("hindsight_store_events_stored_total")
	d.duplicates = delta("hindsight_store_events_duplicate_total")
	d.ok = d.commits > 0
}

func printComparison(out io.Writer, o compareOpts, noop, dur *row, diag *daemonDiag, probe *result) {
	fmt.Fprintf(out, "## Ingestion over loopback: %d alerts per request, concurrency %d, %s\n\n", o.gen.Alerts, o.concurrency, o.duration)
	fmt.Fprintln(out, "| receiver | requests/s | alerts/s | p50 | p90 | p99 | max | failed | receiver CPU per request | client CPU per request | load avg after |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range []*row{noop, dur} {
		name := "no-op (read + decode, no store)"
		if r == dur {
			name = "hindsight (durable + correlated)"
		}
		errs := strconv.FormatInt(r.failed, 10)
		if r.failed > 0 {
			errs += " (" + r.res.errorSummary() + ")"
		}
		fmt.Fprintf(out, "| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			r.res.reqPerSec(), r.res.alertsPerSec(),
			fmtDur(r.res.quantile(0.5)), fmtDur(r.res.quantile(0.9)), fmtDur(r.res.quantile(0.99)), fmtDur(r.res.max()),
			errs, perReq(r.serverCPU, r.res), perReq(r.clientCPU, r.res), r.load)
	}
	ratio := dur.res.reqPerSec() / noop.res.reqPerSec()
	p99 := dur.res.quantile(0.99)
	fmt.Fprintln(out)
	fmt.Fprintf(out, "- durable / no-op requests/s: **%.2f** (target ≥ 0.60: %s)\n", ratio, verdict(ratio >= 0.6))
	noopP99 := noop.res.quantile(0.99)
	fmt.Fprintf(out, "- durable p99: **%s** (target ≤ 2 × the no-op's p99 in this run, %s: %s)\n",
		fmtDur(p99), fmtDur(noopP99), verdict(p99 <= 2*noopP99))
	if diag.ok {
		fmt.Fprintf(out, "- daemon metrics over the measured %s: %.0f group commits (%.0f/s), %.1f events each, %.2f ms each on average (fsync included); "+
			"%.0f projection batches (in the group commit, or by the projector after it), %.1f events each, %.2f ms each; %.0f events stored, %.0f duplicates\n",
			o.duration, diag.commits, diag.commits/o.duration.Seconds(), diag.commitEvents/diag.commits, 1000*diag.commitSeconds/diag.commits,
			diag.projCommits, diag.applied/math.Max(diag.projCommits, 1), 1000*diag.projSeconds/math.Max(diag.projCommits, 1),
			diag.stored, diag.duplicates)
	}
	fmt.Fprintf(out, "- disk: a 4 KiB write + fsync next to the store, 200 times right after the measurement: p50 %s, p90 %s, p99 %s\n\n",
		fmtDur(probe.quantile(0.5)), fmtDur(probe.quantile(0.9)), fmtDur(probe.quantile(0.99)))
}

func perReq(cpu time.Duration, r *result) string {
	if cpu <= 0 || r.Requests == 0 {
		return "?"
	}
	return fmtDur(cpu / time.Duration(r.Requests))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func fillAndRestart(ctx context.Context, o compareOpts, kids *children, client *http.Client, p *pool, hs *child, base, dir string, hsArgs []string, out io.Writer) error {
	m, err := scrape(ctx, base)
	if err != nil {
		return err
	}
	stored := int64(m["hindsight_store_events_stored_total"])
	fmt.Fprintf(out, "## %d stored events\n\n", o.fill)
	fig := func(name, value, target string) { fmt.Fprintf(out, "| %s | %s | %s |\n", name, value, target) }
	var lines []func()
	if need := o.fill - stored; need > 0 {
		reqs := (need + int64(o.gen.Alerts) - 1) / int64(o.gen.Alerts)
		res, err := load(ctx, client, p, loadOpts{URL: base + ingestPath, Concurrency: o.concurrency, Requests: reqs})
		if err != nil {
			return err
		}
		if res.Failed > 0 {
			return fmt.Errorf("fill: %d requests failed (%s)", res.Failed, res.errorSummary())
		}
		lines = append(lines, func() {
			fig("fill rate (concurrency "+strconv.Itoa(o.concurrency)+")", fmt.Sprintf("%.0f events/s (%.0f requests/s, p50 %s, p99 %s), %d events in %s",
				res.alertsPerSec(), res.reqPerSec(), fmtDur(res.quantile(0.5)), fmtDur(res.quantile(0.99)), res.Alerts, res.Elapsed.Round(time.Second)), "")
		})
	}
	client.CloseIdleConnections()
	if m, err = scrape(ctx, base); err != nil {
		return err
	}
	stored = int64(m["hindsight_store_events_stored_total"])
	applied := int64(m["hindsight_correlate_applied_position"])
	idle, err := waitIdle(ctx, hs.pid(), o.idleTimeout)
	if err != nil {
		return err
	}
	mem, err := procMem(hs.pid())
	if err != nil {
		return err
	}
	settled := mem
	if o.settle > 0 {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(o.settle):
		}
		if settled, err = procMem(hs.pid()); err != nil {
			return err
		}
	}
	used, apparent, err := diskUsage(dir)
	if err != nil {
		return err
	}
	down, err := hs.stop(time.Minute)
	if err != nil {
		return err
	}

	// Restart on the same directory: from exec to the first 200 of /-/ready.
	hs2, err := kids.start("hindsight", o.hindsight, hsArgs...)
	if err != nil {
		return err
	}
	ready, err := waitReady(ctx, base, hs2, 5*time.Minute)
	if err != nil {
		return err
	}
	memReady, _ := procMem(hs2.pid())
	m2, err := scrape(ctx, base)
	if err != nil {
		return err
	}
	idle2, err := waitIdle(ctx, hs2.pid(), o.idleTimeout)
	if err != nil {
		return err
	}
	memIdle, _ := procMem(hs2.pid())
	if _, err := hs2.stop(time.Minute); err != nil {
		return err
	}

	fmt.Fprintln(out, "| figure | value | target |")
	fmt.Fprintln(out, "|---|---|---|")
	for _, l := range lines {
		l()
	}
	fig("events stored / correlated", fmt.Sprintf("%d / %d", stored, applied), fmt.Sprintf("≥ %d", o.fill))
	fig("resident memory after the fill, as soon as idle", fmt.Sprintf("**%s**; idle %s after the fill; peak during the run %s", mem, idle.Round(time.Second), mb(mem.Peak)),
		fmt.Sprintf("≤ 200 MB: %s", verdict(mem.RSS <= 200<<20)))
	if o.settle > 0 {
		fig(fmt.Sprintf("resident memory after the fill, %s later", o.settle), fmt.Sprintf("**%s**", settled),
			fmt.Sprintf("≤ 200 MB: %s", verdict(settled.RSS <= 200<<20)))
	}
	fig("store on disk (du)", fmt.Sprintf("%s (apparent size %s), %.0f bytes per event", mb(used), mb(apparent), float64(used)/float64(max(stored, 1))), "")
	fig("shutdown (SIGTERM to exit)", down.Round(time.Millisecond).String(), "")
	fig("restart to ready (exec to first 200 of /-/ready)", fmt.Sprintf("**%s**", ready.Round(time.Millisecond)),
		fmt.Sprintf("≤ 5 s: %s", verdict(ready <= 5*time.Second)))
	fig("correlated position at ready", strconv.FormatInt(int64(m2["hindsight_correlate_applied_position"]), 10), "")
	fig("resident memory after restart, at ready", memReady.String(), "")
	fig("resident memory after restart, idle", fmt.Sprintf("%s; idle %s after ready; peak %s", memIdle, idle2.Round(time.Second), mb(memIdle.Peak)), "")
	fmt.Fprintln(out)
	return nil
}

// fsyncProbe times n appends of 4 KiB, each followed by fsync, in dir.
func fsyncProbe(dir string, n int) (*result, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	r := &result{}
	for range n {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			return nil, err
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		r.Latencies = append(r.Latencies, time.Since(t0))
	}
	slices.Sort(r.Latencies)
	return r, nil
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// waitIdle waits until pid uses less than 3% of a core for 3 seconds in
// a row (compactions and the projection done), or the timeout passes.
func waitIdle(ctx context.Context, pid int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	prev, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	quiet := 0
	for quiet < 3 && time.Since(start) < timeout {
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(time.Second):
		}
		cur, err := procCPU(pid)
		if err != nil {
			return 0, err
		}
		if cur-prev < 30*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
	}
	return time.Since(start), nil
}

// scrape reads the unlabelled samples of a /metrics page.
func scrape(ctx context.Context, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read metrics: %s", resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(strings.Fields(v)[0], 64); err == nil {
			m[k] = f
		}
	}
	return m, sc.Err()
}

// ---- children ----

// children are the processes compare started; killAll ends those still
// running.
type children struct {
	mu   sync.Mutex
	set  map[*child]struct{}
	logs []*child // every child started, for printLogs
}

type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, after done
	log     tailBuffer    // its stderr, kept out of the report
}

func (cs *children) start(name, path string, args ...string) (*child, error) {
	cmd := exec.Command(path, args...)
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = io.Discard
	cmd.Stderr = &c.log
	dieWithParent(cmd)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.logs = append(cs.logs, c)
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cs.set[c] = struct{}{}
	go func() {
		c.err = cmd.Wait()
		cs.mu.Lock()
		delete(cs.set, c)
		cs.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM and waits for the exit, then kills after timeout. It
// returns how long the process took to exit.
func (c *child) stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM; killed", c.name, timeout)
	}
	d := time.Since(start)
	if c.err != nil {
		return d, fmt.Errorf("%s exited badly after SIGTERM: %w", c.name, c.err)
	}
	return d, nil
}

func (cs *children) killAll() {
	cs.mu.Lock()
	var live []*child
	for c := range cs.set {
		live = append(live, c)
	}
	cs.mu.Unlock()
	for _, c := range live {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// printLogs writes what the children logged, after the report.
func (cs *children) printLogs(w io.Writer) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i, c := range cs.logs {
		if b := c.log.bytes(); len(b) > 0 {
			fmt.Fprintf(w, "--- stderr of %s (process %d of the run):\n%s", c.name, i+1, b)
		}
	}
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.buf)
}

// waitReady polls /-/ready every 10ms until it answers 200 and returns
// the time since the process was started.
func waitReady(ctx context.Context, base string, c *child, timeout time.Duration) (time.Duration, error) {
	cl := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		if err != nil {
			return 0, err
		}
		if resp, err := cl.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(c.started), nil
			}
		}
		select {
		case <-c.done:
			return 0, fmt.Errorf("%s exited before it was ready: %v: %s", c.name, c.err, bytes.TrimSpace(c.log.bytes()))
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready after %s", c.name, timeout)
		}
	}
}

// freeAddr returns a loopback address with a port that is free now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for l := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
