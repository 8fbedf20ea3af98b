package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Table prefixes of the key schema (see doc.go).
const (
	pEvent      = 'e'
	pDedup      = 'd'
	pMeta       = 'm'
	pIncident   = 'i'
	pList       = 'l'
	pEntry      = 'n'
	pEventInc   = 'x'
	pLive       = 'o'
	pEpisode    = 'f'
	pDeploy     = 'g'
	pAlert      = 'a'
	maxAppendEv = 4096 // events gathered into one group commit at most
	// recentEvents is how many appended events are kept decoded in memory.
	recentEvents = 8192
)

var (
	keyHead       = []byte("mhead")
	keyCheckpoint = []byte("mcheckpoint")
)

// maxInMemoryValue is the largest value an in-memory store keeps: Badger's
// own limit on the value threshold.
const maxInMemoryValue = 1 << 20

// Options tune the store. The zero value is usable.
type Options struct {
	// InMemory keeps everything in memory (tests).
	InMemory bool
	// Retention is how long events are kept; 0 keeps them forever.
	Retention time.Duration
	// GCInterval is how often the value-log GC runs; default 5m.
	GCInterval time.Duration
	// MinFreeBytes is the free space on the store's filesystem below
	// which Append refuses events (--storage.min-free-space). The store
	// keeps free what its own compactions and flushes need either way,
	// so 0 still never fills the disk (space.go).
	MinFreeBytes int64
}

// Badger's sizes. A memtable is flushed to a table when it reaches
// memTableSize, so one flush writes at most that much; Badger also caps
// one transaction at 15% of it (MaxBatchSize).
const (
	memTableSize     = 8 << 20
	numMemtables     = 2
	valueLogFileSize = 128 << 20
	// valueThreshold: values this long or longer go to the value log.
	valueThreshold = 1 << 20
	blockSize      = 16 << 10
	blockCacheSize = 16 << 20
	indexCacheSize = 8 << 20
)

// DB is a Badger-backed event log and projection store. All methods are
// safe for concurrent use. Close it exactly once, after its writers stop.
type DB struct {
	db     *badger.DB
	logger *slog.Logger
	opts   Options

	// recent holds the last appended events, decoded, by seq modulo its
	// length, so the projector that follows right behind the writer reads
	// them without going back to Badger and JSON.
	recentMu sync.RWMutex
	recent   []correlate.LoggedEvent

	dir       string
	appendc   chan *appendReq
	notify    chan struct{}
	stop      chan struct{}
	done      chan struct{}
	spaceDone chan struct{}
	trimDone  chan struct{}
	// absDir is dir made absolute, as /proc/self/maps names the files.
	absDir string
	// commits counts group commits, for trimMemory to see writes stop.
	commits atomic.Uint64
	// resetPending: a projection reset is past its reset point but not
	// finished (reset.go).
	resetPending atomic.Bool

	mu        sync.RWMutex // guards retention, inliner
	retention time.Duration
	inliner   Inliner
	closeOnce sync.Once

	// space refuses writes before the disk is full (space.go); nil in
	// memory.
	space *spaceGuard
	// retain is what retention shares with projection commits
	// (retention.go).
	retain *retainer
	// valueThreshold is Badger's: longer values go to the value log.
	valueThreshold int64

	appendSeconds   prometheus.Histogram
	batchEvents     prometheus.Histogram
	eventsStored    prometheus.Counter
	eventsDuplicate prometheus.Counter
	writeErrors     prometheus.Counter
	gcRuns          *prometheus.CounterVec
	lastGC          prometheus.Gauge
	pageOuts        prometheus.Counter
}

var (
	_ correlate.EventLog        = (*DB)(nil)
	_ correlate.ProjectionStore = (*DB)(nil)
	_ correlate.Reader          = (*DB)(nil)
)

type appendReq struct {
	ctx  context.Context
	evs  []collector.Event
	done chan appendRes
}

type appendRes struct {
	seq uint64
	err error
}

// Open opens (or creates) the store in dir.
func Open(dir string, o Options, logger *slog.Logger, reg prometheus.Registerer) (*DB, error) {
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{logger}).
		WithLoggingLevel(badger.WARNING).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithBlockSize(blockSize).
		WithBlockCacheSize(blockCacheSize).
		WithIndexCacheSize(indexCacheSize).
		WithValueLogFileSize(valueLogFileSize).
		WithValueThreshold(valueThreshold).
		WithCompression(options.ZSTD).
		WithZSTDCompressionLevel(1).
		WithMetricsEnabled(false).
		WithNumCompactors(2)
	var space *spaceGuard
	if o.InMemory {
		// In memory every value lives in the LSM tree, and Badger refuses
		// (with a panic, in v4.9.6) a value above the value threshold:
		// raise it to the most Badger allows, so that an event or an
		// incident of more than 256 bytes can be stored.
		// Nor is there a disk to save by compressing.
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(maxInMemoryValue).
			WithCompression(options.None)
	} else {
		space = newSpaceGuard(dir, o.MinFreeBytes, memTableSize, logger, reg)
		if err := space.prepare(); err != nil {
			return nil, fmt.Errorf("open store %q: %w", dir, err)
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 5 * time.Minute
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	s := &DB{
		absDir:         absDir,
		valueThreshold: bo.ValueThreshold,
		space:          space,
		db:             db,
		logger:         logger,
		opts:           o,
		dir:            dir,
		spaceDone:      make(chan struct{}),
		trimDone:       make(chan struct{}),
		appendc:        make(chan *appendReq, 1024),
		notify:         make(chan struct{}, 1),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
		retention:      o.Retention,
		recent:         make([]correlate.LoggedEvent, recentEvents),
	}
	s.retain = newRetainer(reg)
	f := promauto.With(reg)
	s.appendSeconds = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "hindsight_store_append_duration_seconds",
		Help:    "Time to make one group commit of events durable, fsync included.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	s.batchEvents = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "hindsight_store_append_batch_events",
		Help:    "Events written by one group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 13),
	})
	s.eventsStored = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_store_events_stored_total",
		Help: "Events written to the log.",
	})
	s.eventsDuplicate = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_store_events_duplicate_total",
		Help: "Events not written because the log already had them.",
	})
	s.writeErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_store_write_errors_total",
		Help: "Group commits that failed; their senders were told to retry.",
	})
	s.gcRuns = f.NewCounterVec(prometheus.CounterOpts{
		Name: "hindsight_store_value_log_gc_runs_total",
		Help: "Value-log garbage collection passes, by result.",
	}, []string{"result"})
	for _, r := range []string{"rewritten", "nothing", "error", "no_space"} {
		s.gcRuns.WithLabelValues(r)
	}
	s.lastGC = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_store_value_log_gc_last_run_timestamp_seconds",
		Help: "When the value-log GC last ran.",
	})
	for _, part := range storeParts {
		f.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hindsight_store_size_bytes",
			Help:        "Disk space the store takes, by part: tables (the LSM tree, compressed), value_log, memtables (their write-ahead logs), other (manifest, discard stats); the space reserve file excluded.",
			ConstLabels: prometheus.Labels{"part": part},
		}, func() float64 { return float64(s.diskSizes()[part]) })
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_store_mapped_resident_bytes",
		Help: "Memory the store's memory-mapped files (tables, value log, memtables) take in this process's resident set; pages of tables and value log are given back past 64 MiB of file-backed resident memory.",
	}, func() float64 {
		if o.InMemory {
			return 0
		}
		n, _ := residentOf(func(path string) bool { return strings.HasPrefix(path, s.absDir+string(os.PathSeparator)) })
		return float64(n)
	})
	s.pageOuts = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_store_page_outs_total",
		Help: "Times the store asked the kernel to reclaim the resident pages of its mapped tables and value log.",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_store_memtable_bytes",
		Help: "Memory each of the store's memtables takes (up to two at once), in the heap and as its mapped write-ahead log.",
	}, func() float64 { return memTableSize })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_store_cache_bytes",
		Help: "Memory set aside for the store's caches of decoded table blocks and table indexes.",
	}, func() float64 { return blockCacheSize + indexCacheSize })
	if err := s.recoverReset(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	if err := s.recoverStaged(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	if err := s.buildIndexes(); err != nil { // index.go
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	if space != nil {
		space.update()
		go s.watchSpace()
		go s.trimMemory()
	} else {
		close(s.spaceDone)
		close(s.trimDone)
	}
	go s.committer()
	return s, nil
}

func (s *DB) watchSpace() {
	defer close(s.spaceDone)
	t := time.NewTicker(spaceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.space.update()
		}
	}
}

// Writable is nil when the store accepts events, or says why it does not
// (the disk is nearly full, the store is closing), for readiness checks.
// Reads are served either way.
func (s *DB) Writable() error {
	select {
	case <-s.stop:
		return errors.New("the store is closed")
	default:
	}
	return s.space.writable()
}

// SetRetention changes how long newly written events are kept.
func (s *DB) SetRetention(d time.Duration) {
	s.mu.Lock()
	s.retention = d
	s.mu.Unlock()
}

// Close stops the committer and closes Badger. Appends after Close fail.
func (s *DB) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		<-s.spaceDone
		<-s.trimDone
		err = s.db.Close()
	})
	return err
}

// Badger exposes the underlying database for backup tooling and tests.
func (s *DB) Badger() *badger.DB { return s.db }

// ---- event log ----

// Notify implements correlate.EventLog.
func (s *DB) Notify() <-chan struct{} { return s.notify }

// Append implements correlate.EventLog. A call whose events do not fit
// in one Badger transaction is written in several (see commitBatch).
func (s *DB) Append(ctx context.Context, evs ...collector.Event) (uint64, error) {
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
	}
	req := &appendReq{ctx: ctx, evs: evs, done: make(chan appendRes, 1)}
	select {
	case s.appendc <- req:
	case <-s.stop:
		return 0, errClosing
	case <-ctx.Done():
		return 0, collector.Unavailable("timed out waiting for the event store", context.Cause(ctx))
	}
	// Once queued, wait for the answer even if ctx ends: the request may
	// be in a commit already, and the caller must learn whether it is.
	r := <-req.done
	return r.seq, r.err
}

var errClosing = collector.Unavailable("the event store is shutting down", nil)

// writeFailed is what a sender is told about a failed commit; the cause
// is logged, not sent.
func writeFailed(err error) error {
	var ns *NoSpaceError
	if errors.As(err, &ns) {
		return collector.Unavailable("the disk is nearly full", err)
	}
	return collector.Unavailable("a write to disk failed", err)
}

func (s *DB) committer() {
	defer close(s.done)
	head, err := s.readHead()
	if err != nil {
		s.logger.Error("Cannot read log head; appends will fail", "err", err)
	}
	for {
		var batch []*appendReq
		select {
		case <-s.stop:
			s.drainClosed()
			return
		case r := <-s.appendc:
			batch = append(batch, r)
		}
		n := len(batch[0].evs)
	gather:
		for n < maxAppendEv {
			select {
			case r := <-s.appendc:
				batch = append(batch, r)
				n += len(r.evs)
			default:
				break gather
			}
		}
		if err != nil {
			for _, r := range batch {
				r.done <- appendRes{err: collector.Unavailable("the event store cannot read its log", err)}
			}
			head, err = s.readHead()
			continue
		}
		head = s.commitBatch(head, batch)
	}
}

func (s *DB) drainClosed() {
	for {
		select {
		case r := <-s.appendc:
			r.done <- appendRes{err: errClosing}
		default:
			return
		}
	}
}

func (s *DB) readHead() (uint64, error) {
	var head uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyHead)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("corrupt log head: %d bytes", len(v))
			}
			head = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return head, nil
}

// txnLimits are the size and count at which a write transaction is
// committed and the next one begun: half of Badger's limits, which its
// own estimate of a transaction's size may exceed.
func (s *DB) txnLimits() (size, count int64) {
	return s.db.MaxBatchSize() / 2, s.db.MaxBatchCount() / 2
}

// entrySize estimates what an entry counts against Badger's transaction
// limit (a value at or over the threshold stays in the value log, and
// only a pointer to it in the LSM tree), and what it adds on disk (WAL
// and value log, headers and checksums included).
func (s *DB) entrySize(k, v []byte) (txn, disk int64) {
	disk = int64(2*len(k)+len(v)) + 48
	if int64(len(v)) >= s.valueThreshold {
		return int64(len(k)) + 24, disk
	}
	return int64(len(k)+len(v)) + 12, disk
}

// Inliner applies a batch of appended events to the projection inside
// the log's own commit, so that a batch takes one durable commit instead
// of two in series (correlate.Projector.BeginInline). BeginInline
// returns nil when the projection is not right behind the log; the
// projector then applies the batch after its commit, as it does for a
// log kept elsewhere.
type Inliner interface {
	BeginInline(after uint64) *correlate.InlineBatch
}

// SetInliner makes the committer apply each batch to the projection in
// the batch's own transaction. Set it once, before the first Append.
func (s *DB) SetInliner(in Inliner) {
	s.mu.Lock()
	s.inliner = in
	s.mu.Unlock()
}

// commitBatch writes the new events of the requests, in order, in as few
// transactions as their size allows: a transaction is committed once it
// is full and the next one begun, so that a request of any size under the
// body limit can be stored (Badger caps one transaction at 15% of a
// memtable). Each request is answered once the transaction that holds its
// last event is synced (SyncWrites). A failed commit answers every
// request not yet answered with an error wrapping
// collector.ErrUnavailable; the events of those requests that an earlier
// transaction already holds stay stored, and a retry adds only the rest
// (they are deduplicated). It returns the new head.
//
// With an Inliner, a batch whose events fit in one transaction is also
// applied to the projection, and its changes and checkpoint go in the
// same transaction when they fit too (else in a projection commit right
// after it, before anyone is answered): one fsync per batch, and a
// request is answered with its events already correlated.
func (s *DB) commitBatch(head uint64, batch []*appendReq) uint64 {
	start := time.Now()
	s.mu.RLock()
	ttl, inl := s.retention, s.inliner
	s.mu.RUnlock()
	now := time.Now().UTC()
	maxSize, maxCount := s.txnLimits()
	first := head

	// The inline batch begins before the transaction, so that the
	// transaction's reads see every earlier projection commit.
	var ib *correlate.InlineBatch
	if inl != nil {
		ib = inl.BeginInline(head)
	}
	// release lets retention go on once the inline projection writes
	// are committed or dropped (retention.go).
	var release func()
	endInline := func(committed bool) {
		if release != nil {
			release()
			release = nil
		}
		if ib != nil {
			ib.Done(committed)
			ib = nil
		}
	}
	var (
		txn               = s.db.NewTransaction(true)
		size, count, disk int64
		// staged are requests whose events are all in txn or committed
		// before it, answered once txn commits.
		staged      []*appendReq
		pendingHead = head
		pendingEvs  []correlate.LoggedEvent
		seen        = make(map[string]bool)
		stored      int
		dups        int
		projected   bool
	)
	fail := func(from int, err error) uint64 {
		txn.Discard()
		endInline(false)
		var ns *NoSpaceError
		if !errors.As(err, &ns) {
			s.writeErrors.Inc()
			s.logger.Error("Event log write failed", "err", err, "requests", len(staged)+len(batch)-from)
		}
		err = writeFailed(err)
		for _, r := range staged {
			r.done <- appendRes{err: err}
		}
		for _, r := range batch[from:] {
			r.done <- appendRes{err: err}
		}
		if head != first {
			s.notifyAppended()
		}
		return head
	}
	// commit makes txn durable and begins the next one.
	commit := func() error {
		if err := s.space.check(disk, true); err != nil {
			return err
		}
		var hb [8]byte
		binary.BigEndian.PutUint64(hb[:], pendingHead)
		if err := txn.Set(keyHead, hb[:]); err != nil {
			return fmt.Errorf("stage log head: %w", err)
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("commit events: %w", err)
		}
		head = pendingHead
		s.commits.Add(1)
		s.remember(pendingEvs)
		s.eventsStored.Add(float64(len(pendingEvs)))
		pendingEvs = nil
		txn = s.db.NewTransaction(true)
		size, count, disk = 0, 0, 0
		return nil
	}
	// answer tells the staged requests that their events are stored.
	answer := func() {
		for _, r := range staged {
			r.done <- appendRes{seq: head}
		}
		staged = nil
	}

	for i, r := range batch {
		for j := range r.evs {
			ev := r.evs[j]
			if seen[ev.ID] {
				dups++
				continue
			}
			existing, err := s.lookupDedup(txn, ev.ID)
			if err != nil {
				return fail(i, err)
			}
			if existing > 0 {
				dups++
				continue
			}
			if ev.ReceivedAt.IsZero() {
				ev.ReceivedAt = now
			}
			v, err := json.Marshal(&ev)
			if err != nil {
				return fail(i, fmt.Errorf("encode event %s: %w", ev.ID, err))
			}
			seq := pendingHead + 1
			var sb [8]byte
			binary.BigEndian.PutUint64(sb[:], seq)
			entries := []*badger.Entry{badger.NewEntry(eventKey(seq), v), badger.NewEntry(dedupKey(ev.ID), sb[:])}
			entries = appendEventIndex(entries, seq, &ev) // index.go
			var tsz, dsz int64
			for _, e := range entries {
				t, d := s.entrySize(e.Key, e.Value)
				tsz, dsz = tsz+t, dsz+d
			}
			if count > 0 && (size+tsz > maxSize || count+int64(len(entries)) > maxCount) {
				// More than one transaction: the projector applies
				// the batch after it is stored.
				endInline(false)
				if err := commit(); err != nil {
					return fail(i, err)
				}
				answer()
			}
			for _, e := range entries {
				if ttl > 0 {
					e.WithTTL(ttl)
				}
				if err := txn.SetEntry(e); err != nil {
					return fail(i, fmt.Errorf("stage event %s: %w", ev.ID, err))
				}
			}
			seen[ev.ID] = true
			pendingHead = seq
			pendingEvs = append(pendingEvs, correlate.LoggedEvent{Seq: seq, Event: ev})
			size, count, disk = size+tsz, count+int64(len(entries)), disk+dsz
			stored++
		}
		staged = append(staged, r)
	}
	if count == 0 {
		// Nothing new: every request holds duplicates only, or events
		// already committed.
		txn.Discard()
		endInline(false)
		answer()
	} else {
		var after []op // projection writes that did not fit in txn
		if ib != nil {
			ops, unlock, err := s.inlineOps(txn, ib, pendingEvs)
			release = unlock
			if err != nil {
				s.logger.Warn("Applying a batch inline failed; the projector applies it", "err", err)
				endInline(false)
			}
			var psize, pcount, pdisk int64
			for _, o := range ops {
				t, d := s.entrySize(o.key, o.value)
				psize, pcount, pdisk = psize+t, pcount+1, pdisk+d
			}
			switch {
			case ops == nil:
			case size+psize <= maxSize && count+pcount+1 <= maxCount:
				for _, o := range ops {
					if o.del {
						err = txn.Delete(o.key)
					} else {
						err = txn.Set(o.key, o.value)
					}
					if err != nil {
						return fail(len(batch), fmt.Errorf("stage projection write %q: %w", o.key, err))
					}
				}
				size, count, disk = size+psize, count+pcount, disk+pdisk
				projected = true
			default:
				after = ops
			}
		}
		if err := commit(); err != nil {
			return fail(len(batch), err)
		}
		txn.Discard()
		if after != nil {
			if err := s.writeOps(context.Background(), after); err != nil {
				// The events are stored: the projector applies them
				// again from the last checkpoint.
				s.logger.Warn("Projection commit after the events failed; the projector retries it", "err", err)
			} else {
				projected = true
			}
		}
		endInline(projected)
		answer()
	}
	s.appendSeconds.Observe(time.Since(start).Seconds())
	s.batchEvents.Observe(float64(stored))
	s.eventsDuplicate.Add(float64(dups))
	if stored > 0 && !projected {
		s.notifyAppended()
	}
	return head
}

// inlineOps applies evs through ib and returns the projection writes
// that commit them, the checkpoint last; nil when the batch is left to
// the projector.
func (s *DB) inlineOps(txn *badger.Txn, ib *correlate.InlineBatch, evs []correlate.LoggedEvent) (_ []op, release func(), err error) {
	ch, ok := ib.Apply(context.Background(), evs)
	if !ok {
		return nil, nil, nil
	}
	// As Commit: no retention pass between these reads and the commit.
	release, err = s.retain.guardCommit(ch)
	if err != nil {
		return nil, nil, fmt.Errorf("projection at %d: %w", ch.Checkpoint.Seq, err)
	}
	defer func() {
		if err != nil {
			release()
			release = nil
		}
	}()
	ops, err := s.projectionOps(txn, ch)
	if err != nil {
		return nil, release, fmt.Errorf("projection at %d: %w", ch.Checkpoint.Seq, err)
	}
	cp, err := json.Marshal(ch.Checkpoint)
	if err != nil {
		return nil, release, fmt.Errorf("encode checkpoint: %w", err)
	}
	return append(ops, op{key: keyCheckpoint, value: cp}), release, nil
}

func (s *DB) notifyAppended() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *DB) lookupDedup(txn *badger.Txn, id string) (uint64, error) {
	it, err := txn.Get(dedupKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up event %s: %w", id, err)
	}
	var seq uint64
	err = it.Value(func(v []byte) error {
		if len(v) == 8 {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// remember keeps committed events in the recent ring.
func (s *DB) remember(evs []correlate.LoggedEvent) {
	s.recentMu.Lock()
	for _, le := range evs {
		s.recent[le.Seq%recentEvents] = le
	}
	s.recentMu.Unlock()
}

// readRecent serves Read from the recent ring when it holds the run that
// starts after after; it returns nil when it does not.
func (s *DB) readRecent(after uint64, limit int) []correlate.LoggedEvent {
	s.recentMu.RLock()
	defer s.recentMu.RUnlock()
	var out []correlate.LoggedEvent
	for seq := after + 1; len(out) < limit; seq++ {
		le := s.recent[seq%recentEvents]
		if le.Seq != seq {
			break
		}
		out = append(out, le)
	}
	return out
}

// Read implements correlate.EventLog.
func (s *DB) Read(ctx context.Context, after uint64, limit int) ([]correlate.LoggedEvent, error) {
	if out := s.readRecent(after, limit); len(out) > 0 {
		return out, nil
	}
	var out []correlate.LoggedEvent
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{pEvent}
		opts.PrefetchSize = min(limit, 100)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(eventKey(after + 1)); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			seq := binary.BigEndian.Uint64(item.Key()[1:])
			var le correlate.LoggedEvent
			le.Seq = seq
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &le.Event) }); err != nil {
				return fmt.Errorf("decode event at %d: %w", seq, err)
			}
			out = append(out, le)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	return out, nil
}

// ---- keys ----

func u64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func eventKey(seq uint64) []byte { return u64([]byte{pEvent}, seq) }

func dedupKey(id string) []byte { return append([]byte{pDedup}, id...) }

func incidentKey(id string) []byte { return append([]byte{pIncident}, id...) }

func listKey(started time.Time, id string) []byte {
	return append(u64([]byte{pList}, uint64(started.UnixNano())), id...)
}

func entryPrefix(id string) []byte { return append(append([]byte{pEntry}, id...), 0) }

func entryKey(e *correlate.Entry) []byte {
	return u64(u64(entryPrefix(e.IncidentID), uint64(e.At.UnixNano())), e.Seq)
}

func eventIncKey(seq uint64) []byte { return u64([]byte{pEventInc}, seq) }

func liveKey(id string) []byte { return append([]byte{pLive}, id...) }

func episodeKey(fp string) []byte { return append([]byte{pEpisode}, fp...) }

func alertPrefix(incID string) []byte { return append(append([]byte{pAlert}, incID...), 0) }

func alertKey(incID, fp string) []byte { return append(alertPrefix(incID), fp...) }

func deployKey(eventID string) []byte { return append([]byte{pDeploy}, eventID...) }

// ---- badger logging ----

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Info(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(fmt.Sprintf(f, a...), "component", "badger")
}

// RunGC runs the value-log GC every GCInterval until ctx is done.
func (s *DB) RunGC(ctx context.Context) error {
	if s.opts.InMemory {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			// A pass rewrites what is live in a value-log file before it
			// deletes it: it needs up to a file's worth of room first.
			if !s.space.fits(valueLogFileSize) {
				s.gcRuns.WithLabelValues("no_space").Inc()
				break
			}
			err := s.db.RunValueLogGC(0.5)
			s.lastGC.SetToCurrentTime()
			if err == nil {
				s.gcRuns.WithLabelValues("rewritten").Inc()
				continue
			}
			if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
				s.gcRuns.WithLabelValues("nothing").Inc()
			} else {
				s.gcRuns.WithLabelValues("error").Inc()
				s.logger.Warn("Value-log GC failed", "err", err)
			}
			break
		}
	}
}
