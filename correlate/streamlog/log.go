package streamlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Defaults of Options.
const (
	DefaultStream          = "HINDSIGHT_EVENTS"
	DefaultReplicas        = 3
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultAckTimeout      = 10 * time.Second
)

// Local copy key schema (one-byte prefix, big-endian integers):
//
//	e <seq:8>      event JSON, as stored in the stream (TTL: retention)
//	d <event id>   position of the first copy of the event in the stream (TTL: retention)
//	m "copied"     stream position the copy reflects
const (
	pEvent = 'e'
	pDedup = 'd'
)

var keyCopied = []byte("mcopied")

// recentEvents is how many copied events are kept decoded in memory for
// the projector that reads right behind the copy.
const recentEvents = 8192

// Options configure a Log.
type Options struct {
	// Stream is the JetStream stream (log.stream). Events are published
	// on "<Stream>.<source>", and a stream Open creates captures
	// "<Stream>.>".
	Stream string
	// Replicas is the stream's replication factor (log.replicas). Open
	// creates the stream with it, and changes an existing stream's to it.
	Replicas int
	// Dir is where this replica keeps its copy of the stream: a Badger
	// directory of its own, not the projection's.
	Dir string
	// InMemory keeps the copy in memory (tests, benchmarks).
	InMemory bool
	// Retention is how long events are kept (retention.events): the
	// stream's max age when Open creates it, and the lifetime of the
	// local copy's entries. Zero keeps them for ever.
	Retention time.Duration
	// MaxBytes caps the stream's size on the cluster when Open creates
	// it; zero is no cap but the account's. A full stream refuses new
	// events (the sender is told to retry); it never drops old ones.
	MaxBytes int64
	// DuplicateWindow is the stream's duplicate window when Open creates
	// it (default 10m, at most Retention).
	DuplicateWindow time.Duration
	// AckTimeout bounds the wait for JetStream's acknowledgements of one
	// Append, and then for the copy to reach them (default 10s each).
	AckTimeout time.Duration
}

func (o *Options) setDefaults() error {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if strings.ContainsAny(o.Stream, " \t\r\n.*>/\\") {
		return fmt.Errorf("log.stream %q: a stream name cannot contain spaces, '.', '*', '>', '/' or '\\'", o.Stream)
	}
	if o.Replicas == 0 {
		o.Replicas = DefaultReplicas
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return fmt.Errorf("log.replicas %d: JetStream replicates a stream 1 to 5 times", o.Replicas)
	}
	if o.Dir == "" && !o.InMemory {
		return errors.New("streamlog: no directory for the local copy of the stream")
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.Retention > 0 && o.DuplicateWindow > o.Retention {
		o.DuplicateWindow = o.Retention
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	return nil
}

// ErrNotReady is returned (wrapped in collector.ErrUnavailable) by Append
// before the stream has been found or created on the cluster.
var ErrNotReady = errors.New("event stream not ready")

// Log is the event log of a replica: a JetStream stream shared by every
// replica, and this replica's copy of it. It implements
// correlate.EventLog with stream sequences as positions. All methods are
// safe for concurrent use.
type Log struct {
	opts   Options
	js     jetstream.JetStream
	db     *badger.DB
	logger *slog.Logger

	mu sync.Mutex
	// stream is set once the stream is found or created.
	stream jetstream.Stream
	// copied is the stream position the copy reflects; kept the highest
	// position of it that holds an event; head the stream's last sequence
	// as last seen.
	copied, kept, head uint64
	// failed is a lasting failure of the copy (the stream does not match
	// it); the copy stops and Append refuses.
	failed error
	// contact is when the copy last heard from the stream.
	contact time.Time
	// retention is the lifetime of new entries of the copy.
	retention time.Duration
	// progress is closed and replaced each time copied advances or the
	// state changes (ready, failed, closed).
	progress chan struct{}
	closed   bool

	recentMu sync.RWMutex
	// recent holds every copied event with a position in (recentBase,
	// copied], in order.
	recent     []correlate.LoggedEvent
	recentBase uint64

	notify chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	appendSeconds   prometheus.Histogram
	published       prometheus.Counter
	known           prometheus.Counter
	streamDups      prometheus.Counter
	invalid         prometheus.Counter
	publishErrors   prometheus.Counter
	copyErrors      prometheus.Counter
	reg             prometheus.Registerer
	lagRegistration sync.Once
}

var _ correlate.EventLog = (*Log)(nil)

// Open opens this replica's copy of the stream and starts following the
// stream in the background: it finds or creates the stream on the
// cluster nc is connected to, then copies every new message. Open does
// not wait for the cluster, so a replica starts (and serves what it has)
// while NATS is away; WaitReady waits for the stream. Close the Log once,
// after its writers stop; nc stays the caller's.
func Open(nc *nats.Conn, o Options, logger *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	bo := badger.DefaultOptions(o.Dir).
		// The copy is re-derived from the stream after a crash (see
		// doc.go), so it needs no fsync of its own.
		WithSyncWrites(false).
		WithLogger(badgerLogger{logger}).
		WithLoggingLevel(badger.WARNING).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithValueThreshold(256).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false).
		WithNumCompactors(2)
	if o.InMemory {
		// In memory, Badger keeps no value log: every value stays in the
		// tree, up to its largest threshold.
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(1 << 20)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open local copy of the event stream %q: %w", o.Dir, err)
	}
	l := &Log{
		opts:     o,
		js:       js,
		db:       db,
		logger:   logger,
		progress: make(chan struct{}),
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		reg:      reg,
	}
	if err := l.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	l.recentBase = l.copied
	l.head = l.copied
	l.retention = o.Retention
	l.metrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx)
	return l, nil
}

func (l *Log) metrics(reg prometheus.Registerer) {
	f := promauto.With(reg)
	l.appendSeconds = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "hindsight_log_append_duration_seconds",
		Help:    "Time for one append to be acknowledged by JetStream and reach this replica's copy of the stream.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	l.published = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_events_published_total",
		Help: "Events published to the event stream and acknowledged by it (duplicates within its window included).",
	})
	l.known = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_events_known_total",
		Help: "Appended events not published because this replica's copy of the stream already held their id.",
	})
	l.streamDups = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_stream_duplicates_total",
		Help: "Messages of the event stream skipped because an earlier message held the same event id.",
	})
	l.invalid = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_stream_invalid_messages_total",
		Help: "Messages of the event stream skipped because they are not a valid event.",
	})
	l.publishErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_publish_errors_total",
		Help: "Appends that failed to be acknowledged by the event stream; their senders were told to retry.",
	})
	l.copyErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_log_copy_errors_total",
		Help: "Interruptions of this replica's copy of the event stream (it resumes where it was).",
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_log_stream_head_position",
		Help: "Last sequence of the event stream, as last seen by this replica.",
	}, func() float64 { return float64(l.Head()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_log_copied_position",
		Help: "Stream sequence up to which this replica has copied the event stream.",
	}, func() float64 { return float64(l.Copied()) })
}

// load reads the copied position and the last kept event.
func (l *Log) load() error {
	return l.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyCopied)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read copied position: %w", err)
		default:
			if err := it.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("corrupt copied position: %d bytes", len(v))
				}
				l.copied = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		}
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		opts.PrefetchValues = false
		opts.Prefix = []byte{pEvent}
		iter := txn.NewIterator(opts)
		defer iter.Close()
		iter.Seek([]byte{pEvent, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		if iter.Valid() {
			l.kept = binary.BigEndian.Uint64(iter.Item().Key()[1:])
		}
		return nil
	})
}

// Close stops following the stream and closes the local copy. Appends
// after Close fail.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.advanceLocked()
	l.mu.Unlock()
	l.cancel()
	<-l.done
	return l.db.Close()
}

// advanceLocked wakes everyone waiting on progress. l.mu must be held.
func (l *Log) advanceLocked() {
	close(l.progress)
	l.progress = make(chan struct{})
}

// SetRetention changes how long newly copied events are kept
// (retention.events, reloaded). The stream's own max age is the
// operator's, once the stream exists.
func (l *Log) SetRetention(d time.Duration) {
	l.mu.Lock()
	l.retention = d
	l.mu.Unlock()
}

// FirstCopy is the position of the first copy of an event in the
// stream, 0 if this replica's copy does not hold it.
func (l *Log) FirstCopy(ctx context.Context, id string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var seq uint64
	err := l.db.View(func(txn *badger.Txn) (err error) {
		seq, err = lookupFirst(txn, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("first copy of event %s: %w", id, err)
	}
	return seq, nil
}

// Notify implements correlate.EventLog: it receives a value after the
// copy advanced.
func (l *Log) Notify() <-chan struct{} { return l.notify }

// Copied is the stream position this replica's copy reflects.
func (l *Log) Copied() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.copied
}

// Head is the stream's last sequence as last seen (by the copy, or by a
// readiness check).
func (l *Log) Head() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head
}

// WaitReady waits until the stream is found or created on the cluster,
// and returns the lasting failure of the copy, if any.
func (l *Log) WaitReady(ctx context.Context) error {
	for {
		l.mu.Lock()
		ready, failed, ch := l.stream != nil, l.failed, l.progress
		l.mu.Unlock()
		if failed != nil {
			return failed
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for event stream %s: %w", l.opts.Stream, context.Cause(ctx))
		case <-ch:
		}
	}
}

// Append implements correlate.EventLog. It publishes every event whose id
// this replica's copy does not hold yet, with Nats-Msg-Id set to the event
// id, waits until JetStream acknowledged each (stored on a quorum of the
// stream's replicas), then until the copy has reached them, and returns
// the position of the first copy in the stream of each event, the
// highest of them. Unlike the Badger log, a failure part-way can leave
// some events of the call in the stream; the sender's retry stores the
// rest, each event once (see the package doc).
func (l *Log) Append(ctx context.Context, evs ...collector.Event) (uint64, error) {
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
	}
	start := time.Now()
	l.mu.Lock()
	stream, failed, closed := l.stream, l.failed, l.closed
	l.mu.Unlock()
	switch {
	case closed:
		return 0, fmt.Errorf("%w: event log is closed", collector.ErrUnavailable)
	case failed != nil:
		return 0, failed
	case stream == nil:
		return 0, fmt.Errorf("%w: %w", collector.ErrUnavailable, ErrNotReady)
	}

	firsts, err := l.firstCopies(evs)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", collector.ErrUnavailable, err)
	}
	var pos uint64
	var pending []*collector.Event
	seen := make(map[string]bool, len(evs))
	now := time.Now().UTC()
	for i := range evs {
		ev := &evs[i]
		if seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		if seq := firsts[ev.ID]; seq > 0 {
			pos = max(pos, seq)
			l.known.Inc()
			continue
		}
		pending = append(pending, ev)
	}
	if len(pending) == 0 {
		return pos, nil
	}

	target, err := l.publish(ctx, pending, now)
	if err != nil {
		l.publishErrors.Inc()
		return 0, err
	}
	// The copy follows the stream within milliseconds; when it does not
	// (it lost its consumer and is resuming), the sender retries.
	wctx, cancel := context.WithTimeout(ctx, l.opts.AckTimeout)
	err = l.waitCopied(wctx, target)
	cancel()
	if err != nil {
		return 0, err
	}
	firsts, err = l.firstCopies(evs)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", collector.ErrUnavailable, err)
	}
	for _, ev := range pending {
		// Absent only if the message was removed from the stream before
		// the copy reached it: there is nothing left to wait for.
		pos = max(pos, firsts[ev.ID])
	}
	l.appendSeconds.Observe(time.Since(start).Seconds())
	return pos, nil
}

// publish publishes evs, pipelined, and returns the highest stream
// sequence JetStream acknowledged for them.
func (l *Log) publish(ctx context.Context, evs []*collector.Event, now time.Time) (uint64, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		e := *ev
		if e.ReceivedAt.IsZero() {
			// Stamped here, so that every replica's copy has the same.
			e.ReceivedAt = now
		}
		data, err := json.Marshal(&e)
		if err != nil {
			return 0, fmt.Errorf("encode event %s: %w", e.ID, err)
		}
		m := &nats.Msg{Subject: l.subject(e.Source), Data: data, Header: nats.Header{}}
		f, err := l.js.PublishMsgAsync(m, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(l.opts.Stream))
		if err != nil {
			return 0, classify("publish event", err)
		}
		futures = append(futures, f)
	}
	timer := time.NewTimer(l.opts.AckTimeout)
	defer timer.Stop()
	var target uint64
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			target = max(target, ack.Sequence)
			l.published.Inc()
		case err := <-f.Err():
			return 0, classify("event stream did not acknowledge", err)
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: wait for the event stream's acknowledgement: %w", collector.ErrUnavailable, context.Cause(ctx))
		case <-timer.C:
			return 0, fmt.Errorf("%w: the event stream did not acknowledge within %s", collector.ErrUnavailable, l.opts.AckTimeout)
		}
	}
	return target, nil
}

// subject is the subject an event of source is published on.
func (l *Log) subject(source string) string {
	tok := []byte(source)
	for i, c := range tok {
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c >= 0x7f {
			tok[i] = '_'
		}
	}
	return l.opts.Stream + "." + string(tok)
}

// classify wraps a NATS error: everything but a message too large for
// the server is transient (no quorum, no leader, a timeout, a lost
// connection, a full stream) and wraps collector.ErrUnavailable.
func classify(op string, err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("%s: event is larger than the NATS server accepts: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", collector.ErrUnavailable, op, err)
}

// waitCopied blocks until the copy reflects stream position seq.
func (l *Log) waitCopied(ctx context.Context, seq uint64) error {
	for {
		l.mu.Lock()
		copied, failed, closed, ch := l.copied, l.failed, l.closed, l.progress
		l.mu.Unlock()
		switch {
		case copied >= seq:
			return nil
		case failed != nil:
			return failed
		case closed:
			return fmt.Errorf("%w: event log is closed", collector.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: wait for the copy of stream position %d: %w", collector.ErrUnavailable, seq, context.Cause(ctx))
		case <-ch:
		}
	}
}

// firstCopies looks up the position of the first copy of each event the
// local copy holds.
func (l *Log) firstCopies(evs []collector.Event) (map[string]uint64, error) {
	out := make(map[string]uint64, len(evs))
	err := l.db.View(func(txn *badger.Txn) error {
		for i := range evs {
			seq, err := lookupFirst(txn, evs[i].ID)
			if err != nil {
				return err
			}
			if seq > 0 {
				out[evs[i].ID] = seq
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up events in the local copy: %w", err)
	}
	return out, nil
}

func lookupFirst(txn *badger.Txn, id string) (uint64, error) {
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

// Read implements correlate.EventLog: events of the local copy after
// position after, in stream order. Positions without an event (a second
// copy of an event, a message removed from the stream) are absent.
func (l *Log) Read(ctx context.Context, after uint64, limit int) ([]correlate.LoggedEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	if out, ok := l.readRecent(after, limit); ok {
		return out, nil
	}
	var out []correlate.LoggedEvent
	err := l.db.View(func(txn *badger.Txn) error {
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
			le := correlate.LoggedEvent{Seq: binary.BigEndian.Uint64(item.Key()[1:])}
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &le.Event) }); err != nil {
				return fmt.Errorf("decode event at %d: %w", le.Seq, err)
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

// readRecent serves Read from memory when the recent events cover the
// positions after after.
func (l *Log) readRecent(after uint64, limit int) ([]correlate.LoggedEvent, bool) {
	l.recentMu.RLock()
	defer l.recentMu.RUnlock()
	if after < l.recentBase {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(l.recent, after+1, func(le correlate.LoggedEvent, seq uint64) int {
		switch {
		case le.Seq < seq:
			return -1
		case le.Seq > seq:
			return 1
		}
		return 0
	})
	n := min(len(l.recent)-i, limit)
	if n <= 0 {
		return nil, true
	}
	return slices.Clone(l.recent[i : i+n]), true
}

func (l *Log) remember(evs []correlate.LoggedEvent) {
	l.recentMu.Lock()
	defer l.recentMu.Unlock()
	l.recent = append(l.recent, evs...)
	if len(l.recent) > 2*recentEvents {
		drop := len(l.recent) - recentEvents
		l.recentBase = l.recent[drop-1].Seq
		l.recent = slices.Delete(l.recent, 0, drop)
	}
}

func eventKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{pEvent}, seq) }

func dedupKey(id string) []byte { return append([]byte{pDedup}, id...) }

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
