package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
}

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

	appendc chan *appendReq
	notify  chan struct{}
	stop    chan struct{}
	done    chan struct{}

	mu        sync.RWMutex // guards retention
	retention time.Duration
	closeOnce sync.Once

	appendSeconds   prometheus.Histogram
	batchEvents     prometheus.Histogram
	eventsStored    prometheus.Counter
	eventsDuplicate prometheus.Counter
	writeErrors     prometheus.Counter
	gcRuns          *prometheus.CounterVec
	lastGC          prometheus.Gauge
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
		WithMemTableSize(8 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueLogFileSize(128 << 20).
		WithValueThreshold(256).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false).
		WithNumCompactors(2)
	if o.InMemory {
		// In memory every value lives in the LSM tree, and Badger refuses
		// (with a panic, in v4.9.6) a value above the value threshold:
		// raise it to the most Badger allows, so that an event or an
		// incident of more than 256 bytes can be stored.
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(maxInMemoryValue)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", dir, err)
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 5 * time.Minute
	}
	s := &DB{
		db:        db,
		logger:    logger,
		opts:      o,
		appendc:   make(chan *appendReq, 1024),
		notify:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		retention: o.Retention,
		recent:    make([]correlate.LoggedEvent, recentEvents),
	}
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
	for _, r := range []string{"rewritten", "nothing", "error"} {
		s.gcRuns.WithLabelValues(r)
	}
	s.lastGC = f.NewGauge(prometheus.GaugeOpts{
		Name: "hindsight_store_value_log_gc_last_run_timestamp_seconds",
		Help: "When the value-log GC last ran.",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_store_size_bytes",
		Help: "On-disk size of the store (LSM tree and value log).",
	}, func() float64 {
		lsm, vlog := db.Size()
		return float64(lsm + vlog)
	})
	go s.committer()
	return s, nil
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
		err = s.db.Close()
	})
	return err
}

// Badger exposes the underlying database for backup tooling and tests.
func (s *DB) Badger() *badger.DB { return s.db }

// ---- event log ----

// Notify implements correlate.EventLog.
func (s *DB) Notify() <-chan struct{} { return s.notify }

// Append implements correlate.EventLog.
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
		return 0, fmt.Errorf("%w: store is closing", collector.ErrUnavailable)
	case <-ctx.Done():
		return 0, fmt.Errorf("%w: %w", collector.ErrUnavailable, context.Cause(ctx))
	}
	// Once queued, wait for the answer even if ctx ends: the request may
	// be in a commit already, and the caller must learn whether it is.
	r := <-req.done
	return r.seq, r.err
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
				r.done <- appendRes{err: fmt.Errorf("%w: %w", collector.ErrUnavailable, err)}
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
			r.done <- appendRes{err: fmt.Errorf("%w: store is closing", collector.ErrUnavailable)}
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

// commitBatch writes the new events of every request in as few
// transactions as fit, each request wholly in one, and answers each
// request once its transaction is synced (SyncWrites). It returns the new
// head. A failure answers every request not yet committed with an error
// wrapping collector.ErrUnavailable.
func (s *DB) commitBatch(head uint64, batch []*appendReq) uint64 {
	start := time.Now()
	s.mu.RLock()
	ttl := s.retention
	s.mu.RUnlock()
	now := time.Now().UTC()
	maxSize := s.db.MaxBatchSize() / 2
	maxCount := s.db.MaxBatchCount() / 2

	var (
		txn         = s.db.NewTransaction(true)
		size, count int64
		pending     []*appendReq
		pendingHead = head
		staged      []correlate.LoggedEvent
		seen        = make(map[string]bool)
		stored      int
		dups        int
	)
	fail := func(from int, err error) uint64 {
		txn.Discard()
		s.writeErrors.Inc()
		s.logger.Error("Event log write failed", "err", err, "requests", len(pending)+len(batch)-from)
		err = fmt.Errorf("%w: %w", collector.ErrUnavailable, err)
		for _, r := range pending {
			r.done <- appendRes{err: err}
		}
		for _, r := range batch[from:] {
			r.done <- appendRes{err: err}
		}
		return head
	}
	commit := func() error {
		var hb [8]byte
		binary.BigEndian.PutUint64(hb[:], pendingHead)
		if err := txn.Set(keyHead, hb[:]); err != nil {
			return fmt.Errorf("stage log head: %w", err)
		}
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("commit events: %w", err)
		}
		head = pendingHead
		s.remember(staged)
		staged = nil
		for _, r := range pending {
			r.done <- appendRes{seq: head}
		}
		pending = nil
		return nil
	}

	for i, r := range batch {
		// Encode the whole request first so that it is all or nothing.
		var entries []*badger.Entry
		var evsNew []correlate.LoggedEvent
		var reqSize int64
		seq := pendingHead
		var ids []string
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
			seq++
			ids = append(ids, ev.ID)
			evsNew = append(evsNew, correlate.LoggedEvent{Seq: seq, Event: ev})
			var sb [8]byte
			binary.BigEndian.PutUint64(sb[:], seq)
			entries = append(entries, badger.NewEntry(eventKey(seq), v), badger.NewEntry(dedupKey(ev.ID), sb[:]))
			reqSize += int64(len(v) + 2*len(ev.ID) + 64)
		}
		if len(pending) > 0 && (size+reqSize > maxSize || count+int64(len(entries)) > maxCount) {
			if err := commit(); err != nil {
				return fail(i, err)
			}
			txn = s.db.NewTransaction(true)
			size, count = 0, 0
		}
		for _, e := range entries {
			if ttl > 0 {
				e.WithTTL(ttl)
			}
			if err := txn.SetEntry(e); err != nil {
				return fail(i, fmt.Errorf("stage events: %w", err))
			}
		}
		for _, id := range ids {
			seen[id] = true
		}
		staged = append(staged, evsNew...)
		size += reqSize
		count += int64(len(entries))
		pendingHead = seq
		stored += len(ids)
		pending = append(pending, r)
	}
	if len(pending) == 0 {
		txn.Discard()
	} else if err := commit(); err != nil {
		return fail(len(batch), err)
	}
	s.appendSeconds.Observe(time.Since(start).Seconds())
	s.batchEvents.Observe(float64(stored))
	s.eventsStored.Add(float64(stored))
	s.eventsDuplicate.Add(float64(dups))
	if stored > 0 {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return head
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
