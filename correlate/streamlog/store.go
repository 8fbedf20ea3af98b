package streamlog

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

// Store is a replica's projection store and reader on the replicated
// log: incidents in the Badger store, as with the local log, and the
// events in this replica's copy of the stream, which the Badger store's
// own log does not hold. Give it to the projector and the API where the
// single-instance daemon gives the Badger store.
type Store struct {
	*store.DB
	Log *Log
}

var (
	_ correlate.ProjectionStore = Store{}
	_ correlate.Reader          = Store{}
)

// IncidentOfEvent implements correlate.CommittedLookup: the incident the
// first copy of the event joined; "" if none. A failed read is an error,
// never "none", so that the projector retries the batch instead of
// deciding on it.
func (s Store) IncidentOfEvent(ctx context.Context, eventID string) (string, error) {
	seq, err := s.Log.FirstCopy(ctx, eventID)
	if err != nil || seq == 0 {
		return "", err
	}
	return s.DB.IncidentAt(ctx, seq)
}

// ScanEvents implements correlate.Reader over the copy of the stream.
func (s Store) ScanEvents(ctx context.Context, cursor string, fn func(correlate.EventRecord, string) bool) error {
	var rerr error
	err := s.Log.ScanEvents(ctx, cursor, func(le correlate.LoggedEvent, cur string) bool {
		r := correlate.EventRecord{LoggedEvent: le}
		if r.IncidentID, rerr = s.DB.IncidentAt(ctx, le.Seq); rerr != nil {
			return false
		}
		return fn(r, cur)
	})
	if err == nil {
		err = rerr
	}
	return err
}

// QueryEvents answers errors.ErrUnsupported: the events are in the
// stream's copy, which has no indexes, so the API scans it
// (ScanEvents) instead of asking the Badger store's own, empty, log.
func (s Store) QueryEvents(context.Context, correlate.EventQuery, string, func(correlate.EventRecord, string) bool) error {
	return fmt.Errorf("event indexes on the replicated log: %w", errors.ErrUnsupported)
}

// ScanEvents calls fn with the events of the copy newest first, starting
// after the opaque cursor ("" for the newest), until fn returns false.
// Each call carries the cursor that resumes after it; cursors have the
// Badger store's form, so a client's cursor means the same in both.
func (l *Log) ScanEvents(ctx context.Context, cursor string, fn func(correlate.LoggedEvent, string) bool) error {
	var start []byte
	if cursor != "" {
		k, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(k) != 9 || k[0] != pEvent {
			return fmt.Errorf("%w %q", correlate.ErrBadCursor, cursor)
		}
		start = k
	}
	return l.db.View(func(txn *badger.Txn) error {
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
			le := correlate.LoggedEvent{Seq: binary.BigEndian.Uint64(item.Key()[1:])}
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &le.Event) }); err != nil {
				return fmt.Errorf("decode event %d: %w", le.Seq, err)
			}
			if !fn(le, base64.RawURLEncoding.EncodeToString(item.KeyCopy(nil))) {
				return nil
			}
		}
		return nil
	})
}
