package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate"
)

// LoadState implements correlate.ProjectionStore.
func (s *DB) LoadState(ctx context.Context) (correlate.State, error) {
	var st correlate.State
	err := s.db.View(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyCheckpoint, &st.Checkpoint); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("read checkpoint: %w", err)
		}
		var ids []string
		if err := scanPrefix(ctx, txn, []byte{pLive}, false, func(k, _ []byte) error {
			ids = append(ids, string(k[1:]))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			inc, err := readIncident(ctx, txn, id)
			if err != nil {
				return fmt.Errorf("read live incident %s: %w", id, err)
			}
			st.Live = append(st.Live, inc)
		}
		if err := scanPrefix(ctx, txn, []byte{pEpisode}, true, func(k, v []byte) error {
			ep := new(correlate.Episode)
			st.Episodes = append(st.Episodes, ep)
			return json.Unmarshal(v, ep)
		}); err != nil {
			return fmt.Errorf("read episodes: %w", err)
		}
		if err := scanPrefix(ctx, txn, []byte{pDeploy}, true, func(k, v []byte) error {
			d := new(correlate.Deploy)
			st.DeploySteps = append(st.DeploySteps, d)
			return json.Unmarshal(v, d)
		}); err != nil {
			return fmt.Errorf("read deploy steps: %w", err)
		}
		return nil
	})
	if err != nil {
		return correlate.State{}, fmt.Errorf("load projection state: %w", err)
	}
	return st, nil
}

// Commit implements correlate.ProjectionStore. The changes are turned
// into a list of writes (projectionOps), which goes in one transaction
// with the checkpoint when it fits, so the checkpoint never runs ahead of
// (or behind) the state it describes. A larger list (a merge or a storm
// that moves thousands of entries) is committed in stages (commitStaged),
// atomic across a crash though not for a reader that looks meanwhile.
func (s *DB) Commit(ctx context.Context, ch *correlate.Changes) error {
	if s.resetPending.Load() {
		if err := s.finishReset(ctx); err != nil {
			return fmt.Errorf("commit projection at %d: %w", ch.Checkpoint.Seq, err)
		}
	}
	unlock, err := s.retain.guardCommit(ch) // retention.go
	if err != nil {
		return fmt.Errorf("commit projection at %d: %w", ch.Checkpoint.Seq, err)
	}
	defer unlock()
	var ops []op
	err = s.db.View(func(txn *badger.Txn) (err error) {
		ops, err = s.projectionOps(txn, ch)
		return err
	})
	if err == nil {
		var cp []byte
		if cp, err = json.Marshal(ch.Checkpoint); err == nil {
			ops = append(ops, op{key: keyCheckpoint, value: cp})
			err = s.writeOps(ctx, ops)
		}
	}
	if err != nil {
		return fmt.Errorf("commit projection at %d: %w", ch.Checkpoint.Seq, err)
	}
	return nil
}

// projectionOps lists the writes that apply ch, in order: a key may be
// deleted and then written again (an entry that moved back), and the
// later write wins. txn reads the committed state (the signature index
// records); the projector is the only writer of these tables, so it
// cannot change before the list is written.
func (s *DB) projectionOps(txn *badger.Txn, ch *correlate.Changes) ([]op, error) {
	var w opWriter
	// What moved to another incident goes first: it is written again
	// below under its new incident (possibly the same key).
	if err := removedEntries(txn, &w, ch.RemovedEntries); err != nil {
		return nil, err
	}
	for _, r := range ch.RemovedAlerts {
		w.del(alertKey(r.IncidentID, r.Fingerprint))
	}
	for _, inc := range ch.Incidents {
		if inc.MergedInto != "" {
			// Kept so that its id leads to the incident it joined,
			// but no longer listed.
			if !inc.ListedAt.IsZero() {
				w.del(listKey(inc.ListedAt, inc.ID))
			}
			inc.ListedAt = time.Time{}
			w.setJSON(incidentKey(inc.ID), inc)
			continue
		}
		if !inc.ListedAt.IsZero() && !inc.ListedAt.Equal(inc.StartedAt) {
			w.del(listKey(inc.ListedAt, inc.ID))
		}
		inc.ListedAt = inc.StartedAt
		w.setJSON(incidentKey(inc.ID), inc)
		w.set(listKey(inc.StartedAt, inc.ID), nil)
		w.set(liveKey(inc.ID), nil)
	}
	for incID, alerts := range ch.Alerts {
		for fp, a := range alerts {
			w.setJSON(alertKey(incID, fp), a)
		}
	}
	for i := range ch.Entries {
		e := &ch.Entries[i]
		w.setJSON(entryKey(e), e)
		w.set(eventIncKey(e.Seq), []byte(e.IncidentID))
	}
	for fp, ep := range ch.Episodes {
		w.setJSON(episodeKey(fp), ep)
	}
	for id, d := range ch.DeploySteps {
		w.setJSON(deployKey(id), d)
	}
	for _, id := range ch.ForgottenSteps {
		w.del(deployKey(id))
	}
	for _, fp := range ch.ForgottenEpisodes {
		w.del(episodeKey(fp))
	}
	for _, id := range ch.ForgottenIncidents {
		w.del(liveKey(id))
	}
	if err := s.indexRelated(txn, &w, ch); err != nil {
		return nil, err
	}
	if err := indexIncidents(txn, &w, ch); err != nil { // index_incidents.go
		return nil, err
	}
	indexFirings(&w, ch)
	return w.ops, w.err
}

// removedEntries deletes the stored entries refs name. An entry's key
// holds its time, which a reference does not, so the keys are found by a
// scan of each incident's entries (merges and splits only).
func removedEntries(txn *badger.Txn, w *opWriter, refs []correlate.EntryRef) error {
	bySeq := map[string]map[uint64]bool{}
	var order []string
	for _, r := range refs {
		if bySeq[r.IncidentID] == nil {
			bySeq[r.IncidentID] = map[uint64]bool{}
			order = append(order, r.IncidentID)
		}
		bySeq[r.IncidentID][r.Seq] = true
	}
	for _, id := range order {
		seqs := bySeq[id]
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = entryPrefix(id)
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if seqs[binary.BigEndian.Uint64(k[len(k)-8:])] {
				w.del(it.Item().KeyCopy(nil))
			}
		}
		it.Close()
	}
	return nil
}

// Checkpoint returns the committed checkpoint.
func (s *DB) Checkpoint() (correlate.Checkpoint, error) {
	var cp correlate.Checkpoint
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, keyCheckpoint, &cp) })
	if errors.Is(err, badger.ErrKeyNotFound) {
		err = nil
	}
	return cp, err
}

// readIncident reads an incident with its alerts.
func readIncident(ctx context.Context, txn *badger.Txn, id string) (*correlate.Incident, error) {
	inc := new(correlate.Incident)
	if err := getJSON(txn, incidentKey(id), inc); err != nil {
		return nil, err
	}
	inc.Alerts = map[string]*correlate.AlertState{}
	err := scanPrefix(ctx, txn, alertPrefix(id), true, func(_, v []byte) error {
		a := new(correlate.AlertState)
		if err := json.Unmarshal(v, a); err != nil {
			return err
		}
		inc.Alerts[a.Fingerprint] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return inc, nil
}

// Incident implements correlate.Reader.
func (s *DB) Incident(ctx context.Context, id string) (*correlate.Incident, error) {
	var inc *correlate.Incident
	err := s.db.View(func(txn *badger.Txn) (err error) {
		inc, err = readIncident(ctx, txn, id)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("incident %q: %w", id, correlate.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read incident %q: %w", id, err)
	}
	return inc, nil
}

// Timeline implements correlate.Reader.
func (s *DB) Timeline(ctx context.Context, id string) (correlate.Timeline, error) {
	var tl correlate.Timeline
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = entryPrefix(id)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var e correlate.Entry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("decode entry: %w", err)
			}
			tl = append(tl, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read timeline of %q: %w", id, err)
	}
	return tl, nil
}

// ScanIncidents implements correlate.Reader.
func (s *DB) ScanIncidents(ctx context.Context, cursor string, fn func(*correlate.Incident, string) bool) error {
	start, err := decodeCursor(cursor, pList)
	if err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = true
		opts.Prefix = []byte{pList}
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := []byte{pList, 0xff}
		if start != nil {
			seek = start
		}
		for it.Seek(seek); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			if start != nil && string(k) == string(start) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			inc, err := readIncident(ctx, txn, string(k[9:]))
			if err != nil {
				return fmt.Errorf("read incident %q: %w", k[9:], err)
			}
			if !fn(inc, encodeCursor(k)) {
				return nil
			}
		}
		return nil
	})
}

// ScanEvents implements correlate.Reader.
func (s *DB) ScanEvents(ctx context.Context, cursor string, fn func(correlate.EventRecord, string) bool) error {
	start, err := decodeCursor(cursor, pEvent)
	if err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		opts.Prefix = []byte{pEvent}
		opts.PrefetchSize = 50
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := []byte{pEvent, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		if start != nil {
			seek = start
		}
		for it.Seek(seek); it.Valid(); it.Next() {
			item := it.Item()
			if start != nil && string(item.Key()) == string(start) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			var r correlate.EventRecord
			r.Seq = binary.BigEndian.Uint64(item.Key()[1:])
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &r.Event) }); err != nil {
				return fmt.Errorf("decode event %d: %w", r.Seq, err)
			}
			x, err := txn.Get(eventIncKey(r.Seq))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return fmt.Errorf("incident of event %d: %w", r.Seq, err)
			default:
				if err := x.Value(func(v []byte) error { r.IncidentID = string(v); return nil }); err != nil {
					return fmt.Errorf("incident of event %d: %w", r.Seq, err)
				}
			}
			if !fn(r, encodeCursor(item.KeyCopy(nil))) {
				return nil
			}
		}
		return nil
	})
}

// scanPrefix calls fn with every key (and value, if values) under prefix;
// the slices are only valid during the call.
func scanPrefix(ctx context.Context, txn *badger.Txn, prefix []byte, values bool, fn func(k, v []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = values
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		var err error
		if values {
			err = item.Value(func(v []byte) error { return fn(item.Key(), v) })
		} else {
			err = fn(item.Key(), nil)
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", item.Key(), err)
		}
	}
	return nil
}

func encodeCursor(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }

func decodeCursor(c string, prefix byte) ([]byte, error) {
	if c == "" {
		return nil, nil
	}
	k, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(k) < 9 || k[0] != prefix {
		return nil, fmt.Errorf("%w %q", correlate.ErrBadCursor, c)
	}
	return k, nil
}

func getJSON(txn *badger.Txn, k []byte, v any) error {
	it, err := txn.Get(k)
	if err != nil {
		return err
	}
	return it.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

// IncidentOfEvent implements correlate.CommittedLookup from the committed
// projection: the event's position, then the incident at that position;
// "" when the event is on no incident.
func (s *DB) IncidentOfEvent(ctx context.Context, eventID string) (string, error) {
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) (err error) {
		seq, err = s.lookupDedup(txn, eventID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("incident of event %s: %w", eventID, err)
	}
	if seq == 0 {
		return "", nil
	}
	return s.IncidentAt(ctx, seq)
}

// IncidentAt is the incident the event at log position seq joined; ""
// when none. It serves a log kept outside this store
// (correlate/streamlog), whose positions the projection records all the
// same.
func (s *DB) IncidentAt(ctx context.Context, seq uint64) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var id string
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(eventIncKey(seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { id = string(v); return nil })
	})
	if err != nil {
		return "", fmt.Errorf("incident of the event at %d: %w", seq, err)
	}
	return id, nil
}

// projectionPrefixes are the tables the projection owns; dropping them
// (and the checkpoint) leaves the event log alone.
var projectionPrefixes = [][]byte{{pIncident}, {pAlert}, {pList}, {pEntry}, {pEventInc}, {pLive}, {pEpisode}, {pDeploy}, {pRelated}, {pFiring}, {pStaged}, {pIncIndex}}
