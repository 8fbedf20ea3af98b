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

// Commit implements correlate.ProjectionStore: one transaction, so the
// checkpoint never runs ahead of (or behind) the state it describes.
func (s *DB) Commit(ctx context.Context, ch *correlate.Changes) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		// What moved to another incident goes first: it is written again
		// below under its new incident (possibly the same key).
		for _, r := range ch.RemovedEntries {
			if err := txn.Delete(entryKey(&correlate.Entry{IncidentID: r.IncidentID, Seq: r.Seq})); err != nil {
				return err
			}
		}
		for _, r := range ch.RemovedAlerts {
			if err := txn.Delete(alertKey(r.IncidentID, r.Fingerprint)); err != nil {
				return err
			}
		}
		for _, inc := range ch.Incidents {
			if inc.MergedInto != "" {
				// Kept so that its id leads to the incident it joined,
				// but no longer listed.
				if !inc.ListedAt.IsZero() {
					if err := txn.Delete(listKey(inc.ListedAt, inc.ID)); err != nil {
						return err
					}
				}
				inc.ListedAt = time.Time{}
				if err := setJSON(txn, incidentKey(inc.ID), inc); err != nil {
					return err
				}
				continue
			}
			if !inc.ListedAt.IsZero() && !inc.ListedAt.Equal(inc.StartedAt) {
				if err := txn.Delete(listKey(inc.ListedAt, inc.ID)); err != nil {
					return err
				}
			}
			inc.ListedAt = inc.StartedAt
			if err := setJSON(txn, incidentKey(inc.ID), inc); err != nil {
				return err
			}
			if err := txn.Set(listKey(inc.StartedAt, inc.ID), nil); err != nil {
				return err
			}
			if err := txn.Set(liveKey(inc.ID), nil); err != nil {
				return err
			}
		}
		for incID, alerts := range ch.Alerts {
			for fp, a := range alerts {
				if err := setJSON(txn, alertKey(incID, fp), a); err != nil {
					return err
				}
			}
		}
		for i := range ch.Entries {
			e := &ch.Entries[i]
			if err := setJSON(txn, entryKey(e), e); err != nil {
				return err
			}
			if err := txn.Set(eventIncKey(e.Seq), []byte(e.IncidentID)); err != nil {
				return err
			}
		}
		for fp, ep := range ch.Episodes {
			if err := setJSON(txn, episodeKey(fp), ep); err != nil {
				return err
			}
		}
		for id, d := range ch.DeploySteps {
			if err := setJSON(txn, deployKey(id), d); err != nil {
				return err
			}
		}
		for _, id := range ch.ForgottenSteps {
			if err := txn.Delete(deployKey(id)); err != nil {
				return err
			}
		}
		for _, fp := range ch.ForgottenEpisodes {
			if err := txn.Delete(episodeKey(fp)); err != nil {
				return err
			}
		}
		for _, id := range ch.ForgottenIncidents {
			if err := txn.Delete(liveKey(id)); err != nil {
				return err
			}
		}
		if err := s.indexRelated(txn, ch); err != nil {
			return err
		}
		if err := indexFirings(txn, ch); err != nil {
			return err
		}
		return setJSON(txn, keyCheckpoint, ch.Checkpoint)
	})
	if err != nil {
		return fmt.Errorf("commit projection at %d: %w", ch.Checkpoint.Seq, err)
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
			if x, err := txn.Get(eventIncKey(r.Seq)); err == nil {
				_ = x.Value(func(v []byte) error { r.IncidentID = string(v); return nil })
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

func setJSON(txn *badger.Txn, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", k, err)
	}
	return txn.Set(k, b)
}

// IncidentOfEvent implements correlate.Lookup from the committed
// projection: the event's position, then the incident at that position.
func (s *DB) IncidentOfEvent(eventID string) (string, bool) {
	var id string
	err := s.db.View(func(txn *badger.Txn) error {
		seq, err := s.lookupDedup(txn, eventID)
		if err != nil || seq == 0 {
			return err
		}
		it, err := txn.Get(eventIncKey(seq))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { id = string(v); return nil })
	})
	return id, err == nil && id != ""
}

// IncidentAt is the incident the event at log position seq joined. It
// serves a log kept outside this store (correlate/streamlog), whose
// positions the projection records all the same.
func (s *DB) IncidentAt(seq uint64) (string, bool) {
	var id string
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(eventIncKey(seq))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { id = string(v); return nil })
	})
	return id, err == nil && id != ""
}

// StoredTimeline implements correlate.Lookup. A read error gives an
// empty timeline: the correlator cannot stop on it, and a recorrelation
// rebuilds what it decided.
func (s *DB) StoredTimeline(id string) correlate.Timeline {
	tl, err := s.Timeline(context.Background(), id)
	if err != nil {
		s.logger.Error("Reading a timeline for a merge or split failed", "incident", id, "err", err)
		return nil
	}
	return tl
}

// StoredIncident implements correlate.Lookup.
func (s *DB) StoredIncident(id string) (*correlate.Incident, bool) {
	inc, err := s.Incident(context.Background(), id)
	return inc, err == nil
}

// projectionPrefixes are the tables the projection owns; dropping them
// (and the checkpoint) leaves the event log alone.
var projectionPrefixes = [][]byte{{pIncident}, {pAlert}, {pList}, {pEntry}, {pEventInc}, {pLive}, {pEpisode}, {pDeploy}, {pRelated}, {pFiring}}

// ResetProjection implements correlate.ProjectionStore: it drops every
// incident and the checkpoint, so the projection is rebuilt from the log.
func (s *DB) ResetProjection(context.Context) error {
	if err := s.db.DropPrefix(projectionPrefixes...); err != nil {
		return fmt.Errorf("drop projection: %w", err)
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(keyCheckpoint) }); err != nil {
		return fmt.Errorf("drop checkpoint: %w", err)
	}
	return nil
}
