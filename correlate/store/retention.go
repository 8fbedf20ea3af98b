package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/correlate"
)

// Retention of incidents (retention.events).
//
// Events expire by themselves: they are written with Badger's TTL (e, d)
// or, with the replicated log, into the stream's copy with the same TTL.
// An incident is the projection of its events, so it goes when the last
// of them has gone: a retention pass removes every incident that is no
// longer live (no new event can join it) and whose timeline holds no
// event the log still keeps, together with everything that names it
// (its alerts, entries, list and signature index entries, the event ->
// incident index of its entries, and the firing starts no remaining
// incident can refer to), in one commit through writeOps, so a crash
// never leaves part of an incident behind. A merged incident (kept so
// that its id leads to the one it joined) goes once that one is gone.
//
// The projector is the only other writer of these tables. The pass and a
// projection commit never interleave (retainer.mu), and a commit prepared
// from an incident that a pass removed meanwhile (a correction read it
// just before) is refused once: the projector then applies the batch
// again from the committed state, where the incident is gone, as a
// correction to an incident already removed is.

// DefaultRetentionInterval is how often RunRetention looks for incidents
// whose events have all expired: retention.events is at least an hour,
// so an incident outlives its last event by at most a quarter of that.
const DefaultRetentionInterval = 15 * time.Minute

// retentionChunk is how many incidents one pass looks at under the lock,
// so that a pass over many incidents does not hold projection commits
// back for long.
const retentionChunk = 256

// HoldsFunc reports whether the event log still holds the event with
// this id (it has not expired). It must report a failed read as an
// error, never as "not held": an incident is removed on a "no".
type HoldsFunc func(ctx context.Context, eventID string) (bool, error)

// RetentionOptions tune RunRetention. The zero value is usable.
type RetentionOptions struct {
	// Interval is the time between passes; DefaultRetentionInterval if 0.
	Interval time.Duration
	// Holds says whether the log holds an event. Nil asks this store's
	// own log; the replicated log (correlate/streamlog) passes its copy's
	// answer, as this store's log holds no event then.
	Holds HoldsFunc
}

// errRemovedMeanwhile refuses a projection commit that writes to an
// incident a retention pass removed after the batch read it.
var errRemovedMeanwhile = errors.New("removed by retention while the batch was applied; applying it again")

// retainer is the state retention shares with projection commits.
type retainer struct {
	// mu is held by a retention chunk (its reads and its write) and by a
	// projection commit, so that neither writes between the other's reads
	// and writes, and the two never use the staging area at once.
	mu sync.Mutex
	// removed are the incidents the current pass removed; guarded by mu.
	removed map[string]bool

	runs         *prometheus.CounterVec
	lastRun      prometheus.Gauge
	removedTotal prometheus.Counter
	incidents    prometheus.Gauge
	passSeconds  prometheus.Histogram
}

func newRetainer(reg prometheus.Registerer) *retainer {
	f := promauto.With(reg)
	r := &retainer{
		runs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_store_retention_runs_total",
			Help: "Retention passes over the stored incidents, by result.",
		}, []string{"result"}),
		lastRun: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_store_retention_last_run_timestamp_seconds",
			Help: "When the last retention pass over the stored incidents ended.",
		}),
		removedTotal: f.NewCounter(prometheus.CounterOpts{
			Name: "hindsight_store_retention_incidents_removed_total",
			Help: "Incidents removed because every event of theirs had expired (retention.events).",
		}),
		incidents: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_store_incidents",
			Help: "Incidents stored (merged ones included), as counted by the last retention pass.",
		}),
		passSeconds: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "hindsight_store_retention_pass_duration_seconds",
			Help:    "Time one retention pass took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	for _, res := range []string{"ok", "error"} {
		r.runs.WithLabelValues(res)
	}
	return r
}

// guardCommit is called by Commit before it writes: it takes the lock
// (the returned func releases it) and refuses, once, a batch that writes
// to an incident the current retention pass removed.
func (r *retainer) guardCommit(ch *correlate.Changes) (func(), error) {
	r.mu.Lock()
	if len(r.removed) == 0 {
		return r.mu.Unlock, nil
	}
	var hit string
	check := func(id string) {
		if r.removed[id] {
			delete(r.removed, id)
			hit = id
		}
	}
	for id := range ch.Incidents {
		check(id)
	}
	for id := range ch.Alerts {
		check(id)
	}
	for i := range ch.Entries {
		check(ch.Entries[i].IncidentID)
	}
	for _, e := range ch.RemovedEntries {
		check(e.IncidentID)
	}
	for _, a := range ch.RemovedAlerts {
		check(a.IncidentID)
	}
	if hit != "" {
		r.mu.Unlock()
		return nil, fmt.Errorf("incident %s %w", hit, errRemovedMeanwhile)
	}
	return r.mu.Unlock, nil
}

// RunRetention removes, every interval until ctx is done, the incidents
// whose events have all expired (see the comment at the top of
// retention.go). A failed pass is logged and tried again at the next
// interval.
func (s *DB) RunRetention(ctx context.Context, o RetentionOptions) error {
	if o.Interval <= 0 {
		o.Interval = DefaultRetentionInterval
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.RetainOnce(ctx, o.Holds); err != nil && ctx.Err() == nil {
			s.logger.Warn("Retention pass failed; trying again later", "err", err)
		}
	}
}

// RetainOnce makes one retention pass and returns how many incidents it
// removed. holds nil asks this store's own log.
func (s *DB) RetainOnce(ctx context.Context, holds HoldsFunc) (removed int, err error) {
	r := s.retain
	start := time.Now()
	defer func() {
		res := "ok"
		if err != nil {
			res = "error"
		}
		r.runs.WithLabelValues(res).Inc()
		r.lastRun.SetToCurrentTime()
		r.passSeconds.Observe(time.Since(start).Seconds())
	}()
	if holds == nil {
		holds = s.holds
	}
	r.mu.Lock()
	r.removed = map[string]bool{}
	r.mu.Unlock()

	// Firing starts are keyed by alert fingerprint, not by incident: one
	// is removed with an incident only when no incident left holds an
	// alert of that fingerprint.
	kept, err := s.alertFingerprints(ctx)
	if err != nil {
		return 0, err
	}
	var after []byte
	var total int
	for {
		n, removedNow, next, err := s.retainChunk(ctx, after, holds, kept)
		total += n
		removed += removedNow
		if err != nil {
			return removed, err
		}
		if next == nil {
			break
		}
		after = next
	}
	r.incidents.Set(float64(total - removed))
	if removed > 0 {
		s.logger.Info("Incidents removed: all their events had expired", "incidents", removed)
	}
	return removed, nil
}

// holds is the HoldsFunc of the store's own log: the dedup index entry of
// an event expires with it.
func (s *DB) holds(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) (err error) {
		seq, err = s.lookupDedup(txn, id)
		return err
	})
	return seq > 0, err
}

// alertFingerprints are the fingerprints of every stored alert, by the
// incident that holds it.
func (s *DB) alertFingerprints(ctx context.Context) (map[string]map[string]bool, error) {
	fps := map[string]map[string]bool{}
	err := s.db.View(func(txn *badger.Txn) error {
		return scanPrefix(ctx, txn, []byte{pAlert}, false, func(k, _ []byte) error {
			id, fp, ok := bytes.Cut(k[1:], []byte{0})
			if !ok {
				return nil
			}
			m := fps[string(fp)]
			if m == nil {
				m = map[string]bool{}
				fps[string(fp)] = m
			}
			m[string(id)] = true
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read alert fingerprints: %w", err)
	}
	return fps, nil
}

// retainChunk looks at up to retentionChunk incidents after the key
// after, removes those whose events have all expired, and returns how
// many it looked at and removed, and the key to go on after (nil at the
// end). It holds the lock throughout, so no projection commit comes
// between what it reads and what it writes.
func (s *DB) retainChunk(ctx context.Context, after []byte, holds HoldsFunc, fps map[string]map[string]bool) (seen, removed int, next []byte, err error) {
	r := s.retain
	r.mu.Lock()
	defer r.mu.Unlock()
	var ops []op
	var gone []string
	err = s.db.View(func(txn *badger.Txn) error {
		ids, more, err := incidentIDs(txn, after, retentionChunk)
		if err != nil {
			return err
		}
		if more {
			next = incidentKey(ids[len(ids)-1])
		}
		seen = len(ids)
		var w opWriter
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			expired, tl, inc, err := s.expiredIncident(ctx, txn, id, holds)
			if err != nil {
				return fmt.Errorf("incident %s: %w", id, err)
			}
			if !expired {
				continue
			}
			if err := removalOps(ctx, txn, &w, inc, tl, fps); err != nil {
				return fmt.Errorf("remove incident %s: %w", id, err)
			}
			gone = append(gone, id)
		}
		ops = w.ops
		return w.err
	})
	if err != nil || len(ops) == 0 {
		if err != nil {
			err = fmt.Errorf("retention: %w", err)
		}
		return seen, 0, next, err
	}
	if err := s.writeOps(ctx, ops); err != nil {
		return seen, 0, next, fmt.Errorf("retention: remove %d incidents: %w", len(gone), err)
	}
	for _, id := range gone {
		r.removed[id] = true
	}
	r.removedTotal.Add(float64(len(gone)))
	return seen, len(gone), next, nil
}

// incidentIDs lists up to n incident ids after the key after, and
// whether there may be more.
func incidentIDs(txn *badger.Txn, after []byte, n int) (ids []string, more bool, err error) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{pIncident}
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Rewind()
	if after != nil {
		it.Seek(after)
		if it.Valid() && bytes.Equal(it.Item().Key(), after) {
			it.Next()
		}
	}
	for ; it.Valid(); it.Next() {
		if len(ids) == n {
			return ids, true, nil
		}
		ids = append(ids, string(it.Item().Key()[1:]))
	}
	return ids, false, nil
}

// expiredIncident decides whether the incident id is to be removed: it is
// not live, and either no event of its timeline is held any more, or it
// was merged into an incident that no longer exists. It returns the
// incident and its timeline for removalOps.
func (s *DB) expiredIncident(ctx context.Context, txn *badger.Txn, id string, holds HoldsFunc) (bool, correlate.Timeline, *correlate.Incident, error) {
	if _, err := txn.Get(liveKey(id)); err == nil {
		return false, nil, nil, nil // new events can still join it
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil, nil, err
	}
	inc := new(correlate.Incident)
	if err := getJSON(txn, incidentKey(id), inc); err != nil {
		return false, nil, nil, err
	}
	if inc.MergedInto != "" {
		target := inc.MergedInto
		for range 16 { // as the correlator follows merges
			t := new(correlate.Incident)
			err := getJSON(txn, incidentKey(target), t)
			if errors.Is(err, badger.ErrKeyNotFound) {
				break
			}
			if err != nil {
				return false, nil, nil, err
			}
			if t.MergedInto == "" {
				return false, nil, nil, nil // what it joined is still there
			}
			target = t.MergedInto
		}
	}
	// The entry of the newest event first: events expire in log order
	// (the TTL runs from the write), so while it is held the incident
	// stays, and only an incident about to go has all its entries read.
	newest, err := newestEntryKey(txn, id)
	if err != nil {
		return false, nil, nil, err
	}
	if newest == nil && inc.MergedInto == "" {
		// No entry at all: nothing tells when its events were written,
		// so it is kept (the correlator makes no such incident).
		return false, nil, nil, nil
	}
	if newest != nil {
		var e correlate.Entry
		if err := getJSON(txn, newest, &e); err != nil {
			return false, nil, nil, fmt.Errorf("read entry: %w", err)
		}
		if ok, err := holds(ctx, e.EventID); err != nil || ok {
			return false, nil, nil, err
		}
	}
	tl, err := s.timelineIn(ctx, txn, id)
	if err != nil {
		return false, nil, nil, err
	}
	for i := range tl {
		// A retention shortened by a reload expires newer events before
		// older ones: every event must have gone.
		if ok, err := holds(ctx, tl[i].EventID); err != nil || ok {
			return false, nil, nil, err
		}
	}
	return true, tl, inc, nil
}

// newestEntryKey is the key of the incident's entry with the highest log
// position, nil when it has none. Entry keys end with the position.
func newestEntryKey(txn *badger.Txn, id string) ([]byte, error) {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = entryPrefix(id)
	it := txn.NewIterator(opts)
	defer it.Close()
	var best []byte
	var bestSeq uint64
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if seq := binary.BigEndian.Uint64(k[len(k)-8:]); best == nil || seq > bestSeq {
			best, bestSeq = it.Item().KeyCopy(best[:0]), seq
		}
	}
	return best, nil
}

func (s *DB) timelineIn(ctx context.Context, txn *badger.Txn, id string) (correlate.Timeline, error) {
	var tl correlate.Timeline
	err := scanPrefix(ctx, txn, entryPrefix(id), true, func(_, v []byte) error {
		var e correlate.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		tl = append(tl, e)
		return nil
	})
	return tl, err
}

// removalOps lists the deletes that remove inc and everything that names
// it. fps are the fingerprints of the stored alerts by incident; inc's
// are taken out of it.
func removalOps(ctx context.Context, txn *badger.Txn, w *opWriter, inc *correlate.Incident, tl correlate.Timeline, fps map[string]map[string]bool) error {
	id := inc.ID
	w.del(incidentKey(id))
	if err := unindexIncident(txn, w, id); err != nil {
		return err
	}
	if !inc.ListedAt.IsZero() {
		w.del(listKey(inc.ListedAt, id))
	}
	if err := scanPrefix(ctx, txn, alertPrefix(id), false, func(k, _ []byte) error {
		w.del(bytes.Clone(k))
		if m := fps[string(k[len(alertPrefix(id)):])]; m != nil {
			delete(m, id)
		}
		return nil
	}); err != nil {
		return err
	}
	for i := range tl {
		e := &tl[i]
		w.del(entryKey(e))
		// The event -> incident index: only if it still names this one
		// (an entry moved by a merge keeps its position).
		item, err := txn.Get(eventIncKey(e.Seq))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if string(v) == id {
				w.del(eventIncKey(e.Seq))
			}
		}
		if r := e.Ref; r.Fingerprint != "" && r.StartsAt != nil && len(fps[r.Fingerprint]) == 0 {
			w.del(firingKey(r.Fingerprint, *r.StartsAt))
		}
	}
	item, err := txn.Get(relatedRecordKey(id))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return err
	default:
		rec, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		keys, err := relatedKeys(id, rec)
		if err != nil {
			return err
		}
		for _, k := range keys {
			w.del(k)
		}
		w.del(relatedRecordKey(id))
	}
	return nil
}
