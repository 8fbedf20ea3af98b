package correlate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// ProjectionStore persists the projection. Implementations are safe for
// concurrent use.
type ProjectionStore interface {
	// LoadState returns the persisted correlation state, or an empty State
	// for a new store.
	LoadState(ctx context.Context) (State, error)
	// Commit writes the changes and their checkpoint atomically, however
	// many writes they take: after a crash either both are there or
	// neither is. (A reader may see a very large commit, a merge that
	// moves thousands of entries, part-way.)
	Commit(ctx context.Context, ch *Changes) error
	// ResetProjection drops the projection and its checkpoint (not the
	// log), for a rebuild with new rules.
	ResetProjection(ctx context.Context) error
	CommittedLookup
}

// CommittedLookup reads the committed projection for the correlator:
// corrections to incidents that left memory, merges and splits that move
// committed entries, deploy suspects that ask whether an alert fired
// before. Unlike Lookup, every method reports a failed read, so that a
// batch decided on one is discarded and applied again rather than
// committed: a transient read error never changes an incident.
type CommittedLookup interface {
	// IncidentOfEvent is the incident an event joined; "" if none.
	IncidentOfEvent(ctx context.Context, eventID string) (string, error)
	// Incident returns a stored incident, or an error wrapping
	// ErrNotFound.
	Incident(ctx context.Context, id string) (*Incident, error)
	// Timeline returns the committed entries of an incident, oldest first.
	Timeline(ctx context.Context, id string) (Timeline, error)
	// FirstFiring is the earliest firing start of the alert (fingerprint)
	// in [from, to); zero if none.
	FirstFiring(ctx context.Context, fingerprint string, from, to time.Time) (time.Time, error)
}

// batchLookup is the correlator's Lookup and FiringHistory during one
// batch, read from the committed projection. It remembers the first read
// that failed (later ones answer "none" without reading), so that step
// can discard the batch.
type batchLookup struct {
	src CommittedLookup
	ctx context.Context
	err error
}

var (
	_ Lookup        = (*batchLookup)(nil)
	_ FiringHistory = (*batchLookup)(nil)
)

func (l *batchLookup) begin(ctx context.Context) { l.ctx, l.err = ctx, nil }

func (l *batchLookup) failed(err error) bool {
	if err != nil && l.err == nil {
		l.err = err
	}
	return l.err != nil
}

func (l *batchLookup) IncidentOfEvent(eventID string) (string, bool) {
	if l.err != nil {
		return "", false
	}
	id, err := l.src.IncidentOfEvent(l.ctx, eventID)
	if l.failed(err) {
		return "", false
	}
	return id, id != ""
}

func (l *batchLookup) StoredIncident(id string) (*Incident, bool) {
	if l.err != nil {
		return nil, false
	}
	inc, err := l.src.Incident(l.ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, false
	}
	if l.failed(err) {
		return nil, false
	}
	return inc, true
}

func (l *batchLookup) StoredTimeline(id string) Timeline {
	if l.err != nil {
		return nil
	}
	tl, err := l.src.Timeline(l.ctx, id)
	if l.failed(err) {
		return nil
	}
	return tl
}

func (l *batchLookup) FiredBetween(fp string, from, to time.Time) (time.Time, bool) {
	if l.err != nil {
		return time.Time{}, false
	}
	t, err := l.src.FirstFiring(l.ctx, fp, from, to)
	if l.failed(err) {
		return time.Time{}, false
	}
	return t, !t.IsZero()
}

// Reader answers queries over the projection and the log. Returned values
// are the caller's to keep. Implementations are safe for concurrent use.
type Reader interface {
	// Incident returns one incident, or an error wrapping ErrNotFound.
	Incident(ctx context.Context, id string) (*Incident, error)
	// Timeline returns an incident's entries, oldest first.
	Timeline(ctx context.Context, id string) (Timeline, error)
	// ScanIncidents calls fn with incidents newest first (by start),
	// starting after the opaque cursor ("" for the newest), until fn
	// returns false. Each call carries the cursor that resumes after it.
	ScanIncidents(ctx context.Context, cursor string, fn func(inc *Incident, cursor string) bool) error
	// ScanEvents calls fn with logged events newest first (by position),
	// starting after the opaque cursor, until fn returns false.
	ScanEvents(ctx context.Context, cursor string, fn func(ev EventRecord, cursor string) bool) error
	// SignatureIndex finds earlier incidents that look like one
	// (FindRelated).
	SignatureIndex
}

// EventRecord is a logged event with the incident it joined, if any.
type EventRecord struct {
	LoggedEvent
	IncidentID string
}

// ErrBadCursor is returned for a cursor that this store did not issue.
var ErrBadCursor = errors.New("invalid cursor")

// batchSize bounds how many events one projection commit covers.
const batchSize = 512

// Projector follows the event log in order, applies each event to the
// Correlator and commits the projection with its checkpoint. It is the
// single writer of the projection.
type Projector struct {
	log    EventLog
	store  ProjectionStore
	logger *slog.Logger

	// stepMu serialises the writers of the projection: a step (CatchUp,
	// Run), a rebuild, and an inline batch of the log's own committer
	// (BeginInline). Lock order: stepMu, then mu.
	stepMu  sync.Mutex
	mu      sync.Mutex // guards cfg, c (swapped on a failed commit), progress
	cfg     *config.Config
	c       *Correlator
	applied atomic.Uint64
	// lookup serves the correlator's reads of the committed projection.
	// It and stale belong to the goroutine that steps (CatchUp, then Run).
	lookup *batchLookup
	// stale marks the correlator as ahead of the store after a failed
	// batch whose state could not be reloaded yet.
	stale bool
	// progress is closed and replaced each time applied advances.
	progress chan struct{}
	// rebuild asks Run to rebuild the projection from the log;
	// rebuilding is set from then until Run has caught up with the log.
	rebuild    chan chan error
	rebuilding atomic.Bool
	// subs are told about each commit (Subscribe).
	subs commitSubs

	eventsApplied prometheus.Counter
	commitErrors  prometheus.Counter
	lookupErrors  prometheus.Counter
	commitSeconds prometheus.Histogram
	liveGauge     prometheus.GaugeFunc
}

// NewProjector restores the projection state from the store.
func NewProjector(ctx context.Context, log EventLog, store ProjectionStore, cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*Projector, error) {
	st, err := store.LoadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("load correlation state: %w", err)
	}
	p := &Projector{
		log:      log,
		store:    store,
		logger:   logger,
		cfg:      cfg,
		c:        NewCorrelator(cfg, st),
		progress: make(chan struct{}),
		rebuild:  make(chan chan error),
		lookup:   &batchLookup{src: store, ctx: ctx},
	}
	p.c.SetLookup(p.lookup)
	p.applied.Store(st.Checkpoint.Seq)
	f := promauto.With(reg)
	p.eventsApplied = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_correlate_events_applied_total",
		Help: "Events applied to the incident projection.",
	})
	p.commitErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_correlate_commit_errors_total",
		Help: "Projection commits that failed and were retried from the last checkpoint.",
	})
	p.lookupErrors = f.NewCounter(prometheus.CounterOpts{
		Name: "hindsight_correlate_lookup_errors_total",
		Help: "Batches discarded because reading the committed projection failed; they are applied again from the last checkpoint.",
	})
	p.commitSeconds = f.NewHistogram(prometheus.HistogramOpts{
		Name:    "hindsight_correlate_commit_duration_seconds",
		Help:    "Time to apply and commit one batch of events to the projection.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_correlate_live_incidents",
		Help: "Incidents held in memory because new events can still join them.",
	}, func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.c.Live())
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hindsight_correlate_applied_position",
		Help: "Log position up to which the projection is committed.",
	}, func() float64 { return float64(p.applied.Load()) })
	logger.Info("Correlation state loaded", "checkpoint", st.Checkpoint.Seq, "live_incidents", len(st.Live), "episodes", len(st.Episodes))
	return p, nil
}

// SetConfig makes a reloaded configuration take effect from the next
// event.
func (p *Projector) SetConfig(cfg *config.Config) {
	p.mu.Lock()
	p.cfg = cfg
	c := p.c
	p.mu.Unlock()
	c.SetConfig(cfg)
}

// Applied is the log position the committed projection reflects.
func (p *Projector) Applied() uint64 { return p.applied.Load() }

// WaitApplied blocks until the projection reflects position seq.
func (p *Projector) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		ch := p.progress
		p.mu.Unlock()
		if p.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for correlation of position %d: %w", seq, context.Cause(ctx))
		case <-ch:
		}
	}
}

// CatchUp applies everything in the log up to its head, then returns. The
// daemon calls it before it reports ready.
func (p *Projector) CatchUp(ctx context.Context) error {
	for {
		n, err := p.step(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// Run follows the log until ctx is done. A failed step is retried with
// backoff; while the same failure lasts (a full disk, say) it is logged
// once a minute.
func (p *Projector) Run(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	var failing string
	var loggedAt time.Time
	for {
		select {
		case reply := <-p.rebuild: // also when busy, so a rebuild is not starved
			reply <- p.reset(ctx)
		default:
		}
		n, err := p.step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if msg := err.Error(); msg != failing || time.Since(loggedAt) >= time.Minute {
				p.logger.Error("Projection step failed; retrying from the last checkpoint", "err", err, "backoff", backoff)
				failing, loggedAt = msg, time.Now()
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		if failing != "" {
			p.logger.Info("Projection steps succeed again", "position", p.applied.Load())
			failing = ""
		}
		backoff = 50 * time.Millisecond
		if n > 0 {
			continue
		}
		if p.rebuilding.Load() {
			p.rebuilding.Store(false)
			p.logger.Info("Rebuild caught up with the event log", "position", p.applied.Load())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.log.Notify():
		case <-time.After(time.Second):
		case reply := <-p.rebuild:
			reply <- p.reset(ctx)
		}
	}
}

// Rebuild recomputes every incident from the event log with the current
// configuration (hindsightctl recorrelate) and returns once the rebuilt
// projection has caught up with the log. People's corrections are events
// in the log, so they are applied again. Queries during a rebuild see the
// projection as far as it has got. Run must be running.
func (p *Projector) Rebuild(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case p.rebuild <- reply:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := <-reply; err != nil {
		return err
	}
	// Catch-up happens in Run; wait for it.
	for {
		evs, err := p.log.Read(ctx, p.applied.Load(), 1)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		if err := p.WaitApplied(ctx, evs[0].Seq); err != nil {
			return err
		}
	}
}

// reset drops the projection for a rebuild. Events go on being taken
// meanwhile: no inline batch begins while rebuilding is set, and the
// store deletes the old projection a transaction at a time, so the log's
// committer never waits for it (stepMu is held only to let an inline
// batch in flight finish, and to swap the correlator).
func (p *Projector) reset(ctx context.Context) error {
	p.rebuilding.Store(true)
	p.stepMu.Lock()
	p.stepMu.Unlock() //nolint:staticcheck // an empty critical section: waits for the inline batch in flight
	if err := p.store.ResetProjection(ctx); err != nil {
		p.rebuilding.Store(false)
		return err
	}
	p.stepMu.Lock()
	defer p.stepMu.Unlock()
	p.mu.Lock()
	p.c = NewCorrelator(p.cfg, State{})
	p.c.SetLookup(p.lookup)
	p.mu.Unlock()
	p.stale = false
	p.applied.Store(0)
	p.subs.publish(Commit{Reset: true})
	p.logger.Info("Projection dropped; rebuilding incidents from the event log")
	return nil
}

// Rebuilding reports whether a rebuild (Rebuild) has not caught up with
// the log yet.
func (p *Projector) Rebuilding() bool { return p.rebuilding.Load() }

// step applies one batch. It returns how many events it applied. A
// batch that fails (a read of the committed projection, or its commit) is
// discarded: the correlator is restored from the last committed state
// and the caller retries, so the result is the one a clean run gives.
func (p *Projector) step(ctx context.Context) (int, error) {
	p.stepMu.Lock()
	defer p.stepMu.Unlock()
	if p.stale {
		if err := p.reload(ctx); err != nil {
			return 0, err
		}
	}
	after := p.applied.Load()
	evs, err := p.log.Read(ctx, after, batchSize)
	if err != nil {
		return 0, fmt.Errorf("read log after %d: %w", after, err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	start := time.Now()
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	p.lookup.begin(ctx)
	for _, le := range evs {
		c.Apply(le)
	}
	ch := c.Flush()
	if err := p.lookup.err; err != nil {
		p.lookupErrors.Inc()
		return 0, p.discard(ctx, fmt.Errorf("read the committed projection: %w", err))
	}
	if err := p.store.Commit(ctx, ch); err != nil {
		p.commitErrors.Inc()
		return 0, p.discard(ctx, fmt.Errorf("commit projection: %w", err))
	}
	p.committed(ch, len(evs), start)
	return len(evs), nil
}

// committed records a committed batch of n events: the position, the
// waiters, the subscribers.
func (p *Projector) committed(ch *Changes, n int, start time.Time) {
	p.commitSeconds.Observe(time.Since(start).Seconds())
	p.eventsApplied.Add(float64(n))
	p.mu.Lock()
	p.applied.Store(ch.Checkpoint.Seq)
	close(p.progress)
	p.progress = make(chan struct{})
	p.mu.Unlock()
	if ids := changedIncidents(ch); len(ids) > 0 {
		p.subs.publish(Commit{Seq: ch.Checkpoint.Seq, Incidents: ids})
	}
}

// InlineBatch is one batch of events applied inside the event log's own
// commit (BeginInline), so that a batch takes one durable commit, not
// one for the log and another for the projection. It holds the
// projection's writer lock from BeginInline to Done.
type InlineBatch struct {
	p     *Projector
	c     *Correlator
	n     int
	start time.Time
	ch    *Changes
}

// BeginInline lets the log's committer apply the batch it is about to
// commit after position after, and commit the projection's changes in
// the same transaction: it returns nil, and the projector applies the
// batch later as usual, unless the projection stands exactly at after
// (not catching up, not rebuilding, not recovering from a failed
// batch). Between BeginInline and Done no other batch is applied, so
// the caller must begin its transaction after BeginInline returns (its
// reads then see every earlier projection commit). Done must be called
// exactly once.
func (p *Projector) BeginInline(after uint64) *InlineBatch {
	if p.rebuilding.Load() || p.applied.Load() != after {
		return nil
	}
	p.stepMu.Lock()
	if p.stale || p.rebuilding.Load() || p.applied.Load() != after {
		p.stepMu.Unlock()
		return nil
	}
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	return &InlineBatch{p: p, c: c, start: time.Now()}
}

// Apply applies evs, the batch's new events in log order right after
// the position given to BeginInline, and returns what to commit with
// them (the checkpoint included). It returns false when a read of the
// committed projection failed: the batch is then left to the projector,
// and the caller commits the events alone (and still calls Done).
func (b *InlineBatch) Apply(ctx context.Context, evs []LoggedEvent) (*Changes, bool) {
	p := b.p
	p.lookup.begin(ctx)
	for _, le := range evs {
		b.c.Apply(le)
	}
	ch := b.c.Flush()
	if err := p.lookup.err; err != nil {
		p.lookupErrors.Inc()
		p.logger.Warn("Reading the committed projection failed; the batch is left to the projector", "err", err)
		p.stale = true
		return nil, false
	}
	b.n, b.ch = len(evs), ch
	return ch, true
}

// Done ends the batch: committed says whether the changes Apply
// returned are durable with their checkpoint. When they are not (the
// commit failed, or Apply was not called or failed) the correlator,
// now ahead of the store, is restored from the committed state before
// the next batch.
func (b *InlineBatch) Done(committed bool) {
	p := b.p
	defer p.stepMu.Unlock()
	if committed && b.ch != nil {
		p.committed(b.ch, b.n, b.start)
		return
	}
	if b.ch != nil {
		p.commitErrors.Inc()
		p.stale = true
	}
	if p.stale {
		// At once, or at the next step if this fails.
		if err := p.reload(context.Background()); err != nil {
			p.logger.Error("Reloading the correlation state after a failed batch failed; retrying at the next step", "err", err)
		}
	}
}

// discard drops a failed batch: the correlator's memory is ahead of the
// store, so it is rebuilt from the last committed state (now, or at the
// next step if that fails too).
func (p *Projector) discard(ctx context.Context, err error) error {
	p.stale = true
	if rerr := p.reload(ctx); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// reload restores the correlator from the committed state.
func (p *Projector) reload(ctx context.Context) error {
	st, err := p.store.LoadState(ctx)
	if err != nil {
		return fmt.Errorf("reload correlation state: %w", err)
	}
	p.mu.Lock()
	p.c = NewCorrelator(p.cfg, st)
	p.c.SetLookup(p.lookup)
	p.mu.Unlock()
	p.applied.Store(st.Checkpoint.Seq)
	p.stale = false
	return nil
}

// Ingester is the collector.Sink of the daemon: it appends to the log and
// returns once the projection reflects the events, so that a 2xx means
// durable and visible.
type Ingester struct {
	Log       EventLog
	Projector *Projector
}

var _ collector.Sink = (*Ingester)(nil)

// Ingest appends evs and waits for their correlation (not during a
// rebuild, which would hold it for the whole replay). Events too far
// ahead of their receipt time are refused (CheckEventTimes).
func (i *Ingester) Ingest(ctx context.Context, evs ...collector.Event) error {
	i.Projector.mu.Lock()
	skew := time.Duration(i.Projector.cfg.Correlation.MaxFutureSkew)
	i.Projector.mu.Unlock()
	if err := CheckEventTimes(evs, skew); err != nil {
		return err
	}
	seq, err := i.Log.Append(ctx, evs...)
	if err != nil {
		return err
	}
	if i.Projector.Rebuilding() {
		// A recorrelation replays the whole log: waiting for it would
		// hold every sender for its length. The events are durable;
		// the incidents show them when the rebuild reaches them.
		return nil
	}
	if err := i.Projector.WaitApplied(ctx, seq); err != nil {
		// Durable but not yet visible: the sender retries and the retry
		// is deduplicated.
		return collector.Unavailable("the incidents are not up to date with the stored events yet", err)
	}
	recordPosition(ctx, seq)
	return nil
}
