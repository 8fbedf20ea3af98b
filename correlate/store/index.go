package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Event indexes, so that the event list API answers from a few short
// range scans instead of reading the log (correlate.EventQuerier). They
// are part of the log, not of the projection: written in the transaction
// that writes the event, with its TTL, and never dropped by a
// recorrelation.
//
//	y 't' <at:8> <seq:8>                                  every event, by event time
//	y 's' <source> 0x00 <at:8> <seq:8>                    by source
//	y 'v' <service> 0x00 <at:8> <seq:8>                   by service (events with one)
//
// <at> is the event time in unix nanoseconds with the sign bit flipped,
// so that byte order is time order before 1970 too. Keys have no value.
// A query by source and service reads the service's events (fewer than
// a source's, as a rule) and filters. Events by incident come from the timeline table (n <id> 0x00 <at> <seq>),
// which is ordered the same way.
//
// A store written before the indexes existed gets them built when it is
// opened (buildEventIndex), once; m "index:events" records that.
const (
	pEventIndex   = 'y'
	eiTime        = 't'
	eiSource      = 's'
	eiService     = 'v'
	eventIndexVer = "1"
)

var keyEventIndex = []byte("mindex:events")

// timeBits orders times as unsigned bytes.
func timeBits(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

func eventIndexPrefix(kind byte, parts ...string) []byte {
	k := []byte{pEventIndex, kind}
	for _, p := range parts {
		k = append(append(k, p...), 0)
	}
	return k
}

// eventIndexKeys are the index keys of the event at seq.
func eventIndexKeys(seq uint64, source, service string, at time.Time) [][]byte {
	tail := u64(u64(nil, timeBits(at)), seq)
	keys := [][]byte{
		append(eventIndexPrefix(eiTime), tail...),
		append(eventIndexPrefix(eiSource, source), tail...),
	}
	if service != "" {
		keys = append(keys, append(eventIndexPrefix(eiService, service), tail...))
	}
	return keys
}

// appendEventIndex adds the index entries of the event at seq to the
// entries that store it, so that they are written in its transaction
// (and get its TTL).
func appendEventIndex(entries []*badger.Entry, seq uint64, ev *collector.Event) []*badger.Entry {
	for _, k := range eventIndexKeys(seq, ev.Source, ev.Service, ev.At) {
		entries = append(entries, badger.NewEntry(k, nil))
	}
	return entries
}

// indexedFields are the parts of a stored event the indexes hold.
type indexedFields struct {
	Source  string    `json:"source"`
	Service string    `json:"service"`
	At      time.Time `json:"at"`
}

// buildEventIndex indexes the events of a store written before the
// indexes existed. It runs in Open, before the committer starts, so no
// event is appended meanwhile; a crash part-way starts it again (the
// writes are idempotent).
func (s *DB) buildEventIndex() error {
	done, err := s.hasKey(keyEventIndex)
	if err != nil {
		return fmt.Errorf("read event index marker: %w", err)
	}
	if done {
		return nil
	}
	start := time.Now()
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{pEvent}
		opts.PrefetchSize = 256
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			seq := binary.BigEndian.Uint64(item.Key()[1:])
			var f indexedFields
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &f) }); err != nil {
				return fmt.Errorf("decode event %d: %w", seq, err)
			}
			for _, k := range eventIndexKeys(seq, f.Source, f.Service, f.At) {
				e := badger.NewEntry(k, nil)
				e.ExpiresAt = item.ExpiresAt()
				if err := wb.SetEntry(e); err != nil {
					return fmt.Errorf("index event %d: %w", seq, err)
				}
			}
			n++
			if n%100000 == 0 {
				s.logger.Info("Indexing the stored events", "done", n)
			}
		}
		return nil
	})
	if err == nil {
		err = wb.Set(keyEventIndex, []byte(eventIndexVer))
	}
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return fmt.Errorf("index the stored events: %w", err)
	}
	if n > 0 {
		s.logger.Info("Indexed the stored events", "events", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// QueryEvents implements correlate.EventQuerier from the event indexes:
// newest first by event time, then by log position. The cursor is the
// index key of the last event seen, valid for the same query only.
func (s *DB) QueryEvents(ctx context.Context, q correlate.EventQuery, cursor string, fn func(correlate.EventRecord, string) bool) error {
	var prefix []byte
	tailLen := 16
	// The most selective index the query can use; the caller filters the
	// rest.
	switch {
	case q.Incident != "":
		prefix = entryPrefix(q.Incident)
	case q.Service != "":
		prefix = eventIndexPrefix(eiService, q.Service)
	case q.Source != "":
		prefix = eventIndexPrefix(eiSource, q.Source)
	default:
		prefix = eventIndexPrefix(eiTime)
	}
	bits := timeBits
	if q.Incident != "" {
		// The timeline table keeps plain unix nanoseconds.
		bits = func(t time.Time) uint64 { return uint64(t.UnixNano()) }
	}
	var start []byte
	if cursor != "" {
		k, err := decodeCursor(cursor, prefix[0])
		if err != nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+tailLen {
			return fmt.Errorf("%w %q", correlate.ErrBadCursor, cursor)
		}
		start = k
	}
	seek := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, tailLen+1)...)
	if !q.Until.IsZero() {
		seek = append(u64(bytes.Clone(prefix), bits(q.Until)), bytes.Repeat([]byte{0xff}, 9)...)
	}
	if start != nil && bytes.Compare(start, seek) < 0 {
		seek = start
	}
	var sinceBits uint64
	if !q.Since.IsZero() {
		sinceBits = bits(q.Since)
	}
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = true
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		var last uint64
		for it.Seek(seek); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if len(k) != len(prefix)+tailLen {
				continue // a longer name sharing the prefix (a NUL in it)
			}
			if start != nil && bytes.Equal(k, start) {
				continue
			}
			tail := k[len(k)-tailLen:]
			if !q.Since.IsZero() && binary.BigEndian.Uint64(tail) < sinceBits {
				return nil
			}
			seq := binary.BigEndian.Uint64(tail[8:])
			if seq == last {
				continue
			}
			last = seq
			r, ok, err := readEventRecord(txn, seq)
			if err != nil {
				return err
			}
			if !ok {
				continue // expired, or an entry of an event kept elsewhere
			}
			if !fn(r, encodeCursor(it.Item().KeyCopy(nil))) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("query events: %w", err)
	}
	return nil
}

// readEventRecord reads the event at seq and the incident it joined;
// false when the log does not hold it.
func readEventRecord(txn *badger.Txn, seq uint64) (correlate.EventRecord, bool, error) {
	r := correlate.EventRecord{}
	r.Seq = seq
	item, err := txn.Get(eventKey(seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read event %d: %w", seq, err)
	}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &r.Event) }); err != nil {
		return r, false, fmt.Errorf("decode event %d: %w", seq, err)
	}
	x, err := txn.Get(eventIncKey(seq))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return r, false, fmt.Errorf("incident of event %d: %w", seq, err)
	default:
		if err := x.Value(func(v []byte) error { r.IncidentID = string(v); return nil }); err != nil {
			return r, false, fmt.Errorf("incident of event %d: %w", seq, err)
		}
	}
	return r, true, nil
}

// buildIndexes builds the indexes a store written by an older version
// lacks (see buildEventIndex).
func (s *DB) buildIndexes() error {
	if err := s.buildEventIndex(); err != nil {
		return err
	}
	return s.buildIncidentIndex()
}

// hasKey reports whether key is in the store: the markers that say an
// index of an older store was built.
func (s *DB) hasKey(key []byte) (bool, error) {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}
