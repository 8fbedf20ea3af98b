package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The free-space guard.
//
// Badger writes through memory-mapped files that it grows with ftruncate,
// so a full filesystem is not an error it can return: the kernel sends
// SIGBUS when a write (on tmpfs, even a read) touches a page it cannot
// back, and the process dies (dgraph-io/badger#1682, #1801). No Badger
// option turns that into an error: every file it writes (value log,
// memtable WAL, tables, discard stats) is mapped and extended sparsely
// (ristretto z.OpenMmapFile). So the store never lets the disk fill:
//
//   - Appends are refused with collector.ErrUnavailable while the space
//     available on the filesystem, less what the commit adds, is below
//     the minimum: Options.MinFreeBytes, or what Badger may still write
//     on its own (its reserve), whichever is more.
//   - The reserve is what Badger may write without any new event: a
//     compaction (at most the LSM tree's size), one memtable flush, and
//     slack for new file headers and page rounding. Projection commits
//     may use the operator's headroom but never the reserve.
//   - A reserve file (SPACE_RESERVE) holds the space that opening,
//     flushing the memtables and closing need. If something else fills
//     the disk, it is deleted, so the daemon can still shut down cleanly
//     and start again to serve reads; it is made again once there is room.

const (
	reserveFileName = "SPACE_RESERVE"
	// spaceSlack covers what Badger writes besides flushes and
	// compactions: value-log and memtable file headers, the discard
	// stats, a manifest rewrite, page rounding.
	spaceSlack = 1 << 20
	// commitSlack is added to each commit's own size: the pages that a
	// write into a fresh page of the value log and of the WAL allocates.
	commitSlack = 64 << 10
	// projectionHeadroom is kept free for events beyond the store's
	// reserve, so that the projection of events already stored when
	// appends stop can still be committed.
	projectionHeadroom = 4 << 20
	// resumeMargin is how far above the minimum free space has to rise
	// before refused appends are accepted again, so that a disk at the
	// limit does not flap between the two.
	resumeMargin       = 1 << 20
	spaceCheckInterval = time.Second
)

// ErrMinFreeTooLarge is returned by Open when the minimum free space asked
// for is not less than the size of the filesystem: nothing could be
// written.
var ErrMinFreeTooLarge = errors.New("minimum free space is not less than the size of the filesystem")

// NoSpaceError says that a write was refused because free space on the
// store's filesystem is below what the store keeps free.
type NoSpaceError struct {
	Dir   string
	Avail int64 // bytes available
	Need  int64 // bytes kept free
	Write int64 // bytes the refused write adds; 0 for a readiness check
}

func (e *NoSpaceError) Error() string {
	free := sizeString(e.Avail)
	if e.Write > 0 {
		return fmt.Sprintf("%s free on the filesystem of %s; writing %s more would leave less than the %s kept free",
			free, e.Dir, sizeString(e.Write), sizeString(e.Need))
	}
	return fmt.Sprintf("only %s free on the filesystem of %s, less than the %s kept free",
		free, e.Dir, sizeString(e.Need))
}

// sizeString writes a size in MiB with a decimal (GiB past 10 GiB), so
// that two sizes near a limit still read differently.
func sizeString(b int64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(max(b, 0))/(1<<20))
}

type spaceGuard struct {
	dir         string
	minFree     int64 // Options.MinFreeBytes
	memtable    int64 // Badger's MemTableSize: one flush writes at most this
	reserveSize int64
	logger      *slog.Logger
	// off disables the guard where free space cannot be measured.
	off bool
	// statfsFailing is set while measuring fails (logged once); only
	// the watcher goroutine uses it.
	statfsFailing bool

	lsm atomic.Int64 // bytes of the LSM tree's tables, refreshed by watch
	// missing is how much of the reserve file is not held.
	missing atomic.Int64

	mu       sync.Mutex // guards refusing
	refusing bool       // appends are refused until free space is past the minimum and resumeMargin

	availBytes prometheus.Gauge
	needBytes  prometheus.Gauge
	reserve    prometheus.Gauge
	refused    prometheus.Counter
}

func newSpaceGuard(dir string, minFree, memtable int64, logger *slog.Logger, reg prometheus.Registerer) *spaceGuard {
	g := &spaceGuard{
		dir:         dir,
		minFree:     minFree,
		memtable:    memtable,
		reserveSize: memtable + 2*spaceSlack,
		logger:      logger,
	}
	f := promauto.With(reg)
	g.availBytes = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_store_filesystem_avail_bytes",
		Help: "Space available on the filesystem of the storage path.",
	})
	g.needBytes = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_store_filesystem_min_free_bytes",
		Help: "Free space below which new events are refused: --storage.min-free-space, or what the store needs for its own compactions and flushes if more.",
	})
	g.reserve = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_store_space_reserve_bytes",
		Help: "Size of the reserve file held for a clean shutdown and restart on a full disk; 0 once released.",
	})
	g.refused = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_store_writes_refused_total",
		Help: "Commits refused because free disk space was below the minimum kept free.",
	})
	g.needBytes.Set(float64(g.required(true)))
	return g
}

func (g *spaceGuard) reservePath() string { return filepath.Join(g.dir, reserveFileName) }

// required is the free space to keep: the store's reserve, and for
// events also the operator's minimum, room for their projection, and the
// reserve file while it is not held (events are taken only while the
// store could make it again).
func (g *spaceGuard) required(events bool) int64 {
	need := g.lsm.Load() + g.memtable + spaceSlack
	if events {
		need = max(need+projectionHeadroom, g.minFree) + g.missing.Load()
	}
	return need
}

// check returns a *NoSpaceError if writing bytes more would leave less
// free than required.
func (g *spaceGuard) check(bytes int64, events bool) error {
	if g == nil || g.off {
		return nil
	}
	avail, _, err := fsSpace(g.dir)
	if err != nil {
		// Cannot tell; the watcher logs it. Refusing every write on a
		// filesystem that does not answer statfs would be worse.
		return nil
	}
	if events {
		return g.eventsFit(avail, bytes)
	}
	if need := g.required(false); avail-bytes-commitSlack < need {
		g.refused.Inc()
		return &NoSpaceError{Dir: g.dir, Avail: avail, Need: need, Write: bytes}
	}
	return nil
}

// fits reports whether writing bytes leaves the store's reserve free,
// for housekeeping that may wait (value-log GC).
func (g *spaceGuard) fits(bytes int64) bool {
	if g == nil || g.off {
		return true
	}
	avail, _, err := fsSpace(g.dir)
	return err != nil || avail-bytes-commitSlack >= g.required(false)
}

// eventsFit decides whether events of bytes fit, with hysteresis, and
// logs when appends start or stop being refused.
func (g *spaceGuard) eventsFit(avail, bytes int64) error {
	need := g.required(true)
	g.mu.Lock()
	defer g.mu.Unlock()
	limit := need
	if g.refusing {
		limit += resumeMargin
	}
	if avail-bytes-commitSlack >= limit {
		if g.refusing {
			g.refusing = false
			g.logger.Info("Disk space available again: accepting events", "avail_bytes", avail, "min_free_bytes", need)
		}
		return nil
	}
	err := &NoSpaceError{Dir: g.dir, Avail: avail, Need: need, Write: bytes}
	if bytes > 0 {
		g.refused.Inc()
	}
	if !g.refusing {
		g.refusing = true
		g.logger.Error("Disk nearly full: refusing new events until there is room", "err", err)
	}
	return err
}

// prepare runs before Badger opens: it checks the minimum against the
// filesystem, and releases the reserve file if opening might otherwise
// not have the room it needs (replaying and flushing memtables that a
// crash left behind).
func (g *spaceGuard) prepare() error {
	if err := os.MkdirAll(g.dir, 0o750); err != nil {
		return err
	}
	avail, total, err := fsSpace(g.dir)
	if err != nil {
		g.off = true
		g.logger.Warn("Free disk space cannot be measured; the store does not guard against a full disk", "err", err)
		return nil
	}
	g.missing.Store(max(g.reserveSize-g.reserveHeld(), 0))
	if g.minFree >= total {
		return fmt.Errorf("%w: %s asked, the filesystem of %s holds %s", ErrMinFreeTooLarge,
			sizeString(g.minFree), g.dir, sizeString(total))
	}
	// Flushing what a crash left in the memtables' WAL writes about as
	// much again.
	need := spaceSlack + filesSize(g.dir, ".mem")
	if avail >= need {
		return nil
	}
	if g.releaseReserve("to open the store") {
		avail, _, _ = fsSpace(g.dir)
	}
	if avail < need {
		return fmt.Errorf("only %s free on the filesystem of %s; opening the store needs %s: free some space and start again",
			sizeString(avail), g.dir, sizeString(need))
	}
	return nil
}

// filesSize is the disk space taken by the files in dir whose names end
// in suffix.
func filesSize(dir, suffix string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), suffix) {
			if fi, err := e.Info(); err == nil {
				n += allocated(fi)
			}
		}
	}
	return n
}

// reserveHeld is the size of the reserve file, 0 when there is none.
func (g *spaceGuard) reserveHeld() int64 {
	fi, err := os.Stat(g.reservePath())
	if err != nil {
		return 0
	}
	return allocated(fi)
}

// releaseReserve deletes the reserve file and reports whether there was one.
func (g *spaceGuard) releaseReserve(why string) bool {
	held := g.reserveHeld()
	if err := os.Remove(g.reservePath()); err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			g.logger.Error("Cannot delete the space reserve file", "path", g.reservePath(), "err", err)
		}
		return false
	}
	g.reserve.Set(0)
	g.logger.Warn("Disk nearly full: released the space reserve "+why, "path", g.reservePath(), "bytes", held)
	return true
}

// makeReserve creates the reserve file, all blocks allocated.
func (g *spaceGuard) makeReserve() {
	path := g.reservePath()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		g.logger.Warn("Cannot create the space reserve file", "path", tmp, "err", err)
		return
	}
	err = preallocate(f, g.reserveSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		g.logger.Warn("Cannot create the space reserve file", "path", path, "err", err)
		return
	}
	g.reserve.Set(float64(g.reserveSize))
	g.logger.Info("Space reserve file in place", "path", path, "bytes", g.reserveSize)
}

// update refreshes the measurements and the reserve file, and logs when
// appends start or stop being refused.
func (g *spaceGuard) update() {
	if g.off {
		return
	}
	// The tables' files: Badger's TableInfo.OnDiskSize counts the
	// value-log bytes a table points to as well.
	g.lsm.Store(filesSize(g.dir, ".sst"))
	need := g.required(true)
	g.needBytes.Set(float64(need))
	avail, _, err := fsSpace(g.dir)
	if err != nil {
		if !g.statfsFailing {
			g.logger.Warn("Cannot measure free disk space", "err", err)
		}
		g.statfsFailing = true
		return
	}
	g.statfsFailing = false
	switch held := g.reserveHeld(); {
	case held > 0 && avail < g.reserveSize/2:
		// Something other than the store is filling the disk (the store
		// itself stops well before): give Badger the room to finish.
		g.releaseReserve("so that the store can flush and shut down cleanly")
	case held == 0 && avail >= need+commitSlack:
		// need counts the missing reserve: there is room for it and
		// for what is kept free besides.
		g.makeReserve()
	default:
		g.reserve.Set(float64(held))
	}
	g.missing.Store(max(g.reserveSize-g.reserveHeld(), 0))
	g.needBytes.Set(float64(g.required(true)))
	if avail, _, err = fsSpace(g.dir); err == nil {
		g.availBytes.Set(float64(avail))
		_ = g.eventsFit(avail, 0)
	}
}

// writable is nil, or why appends are refused now.
func (g *spaceGuard) writable() error {
	if g == nil || g.off {
		return nil
	}
	avail, _, err := fsSpace(g.dir)
	if err != nil {
		return nil
	}
	if err := g.eventsFit(avail, 0); err != nil {
		return err
	}
	return nil
}
