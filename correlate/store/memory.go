package store

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
)

// Resident memory.
//
// Badger v4 has no file-I/O mode: it writes and reads its tables, value
// log and memtables through mmap, so every page of them the process has
// touched counts in its VmRSS as a file-backed page (RssFile), though the
// kernel could drop the clean ones. After a fill of a million events that
// was the size of the store, which is what a container's memory limit and
// an OOM killer see. So the store
//
//   - keeps events and the projection in its tables (values under 1 MiB
//     stay in the LSM tree, compressed), not in the value log;
//   - asks the kernel, every trimInterval, to reclaim the pages of its
//     tables and value log once the process's file-backed resident
//     memory passes fileResidentBudget (madvise MADV_PAGEOUT: a hint that
//     never changes what a page holds; the next read takes it from the page
//     cache or the disk, and the block cache keeps the hot blocks
//     decoded). The memtables, which take every write, are left alone;
//   - returns the heap that flushes and compactions left behind (Badger's
//     table builders, hundreds of MB after a burst: it pools up to eight
//     and drops one every 2 s once idle) to the system once writes stop
//     (and after Open), 5, 10, 20, ... 320 s after, rather than leaving it to
//     the Go runtime's forced GC two minutes later and its gradual
//     scavenging after that. The peak while writing is bounded by the Go
//     runtime's soft memory limit, GOMEMLIMIT, if it is set.
const (
	trimInterval       = 5 * time.Second
	fileResidentBudget = 64 << 20
)

// Parts of the store on disk, for hindsight_store_size_bytes{part}.
const (
	partTables    = "tables"
	partValueLog  = "value_log"
	partMemtables = "memtables"
	partOther     = "other"
)

var storeParts = []string{partTables, partValueLog, partMemtables, partOther}

// filePart is the part of the store a file of its directory belongs to.
func filePart(name string) string {
	switch filepath.Ext(name) {
	case ".sst":
		return partTables
	case ".vlog":
		return partValueLog
	case ".mem":
		return partMemtables
	}
	return partOther
}

// trimmable reports whether a mapped file is one whose pages trimMemory
// asks the kernel to reclaim: a table or the value log of this store.
func (s *DB) trimmable(path string) bool {
	if !strings.HasPrefix(path, s.absDir+string(os.PathSeparator)) {
		return false
	}
	p := filePart(path)
	return p == partTables || p == partValueLog
}

// diskSizes is the space the store's files take on disk, by part; Badger's
// own Size is not kept with its metrics disabled, and would count the
// value log's sparse, preallocated length.
func (s *DB) diskSizes() map[string]int64 {
	out := make(map[string]int64, len(storeParts))
	if s.opts.InMemory {
		return out
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == reserveFileName {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out[filePart(e.Name())] += allocated(fi)
		}
	}
	return out
}

// trimMemory runs until Close: see the comment at the top of the file.
func (s *DB) trimMemory() {
	defer close(s.trimDone)
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	var lastCommits uint64
	// From Open on too: a restart's compactions and index builds take
	// heap without a commit.
	idle := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if rf, err := fileResident(); err == nil && rf > fileResidentBudget {
			if n, err := pageOut(s.trimmable); err != nil {
				s.logger.Debug("Reclaiming the store's mapped pages failed", "err", err)
			} else if n > 0 {
				s.pageOuts.Inc()
			}
		}
		c := s.commits.Load()
		if c != lastCommits {
			lastCommits, idle = c, 0
			continue
		}
		idle++
		// Badger hands back one pooled table builder every 2 s once
		// idle, and compactions can go on for minutes after a burst, so
		// the heap is freed after 1, 2, 4, ... 64 idle ticks (5 s to
		// 5 min), then left alone until writes resume.
		if idle <= 64 && idle&(idle-1) == 0 {
			debug.FreeOSMemory()
		}
	}
}
