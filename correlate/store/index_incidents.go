package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate"
)

// Incident indexes, so that the incident list API answers a filter by
// service, status or time from short range scans instead of reading
// every incident (correlate.IncidentQuerier). They are part of the
// projection: written in the commit that writes the incident, dropped
// and rebuilt with it.
//
//	z 'v' <service> 0x00 <started:8> <id>  -> <flags:1> <settled:8>  by service
//	z 'o' <started:8> <id>                 the incident may be open whatever the time:
//	                                       an alert fires, a page is open, or a person
//	                                       set it open
//	z 'e' <settled:8> <started:8> <id>     every listed incident, by when it settled
//	                                       (its last activity or end)
//	z 'r' <id>                             the keys above written for it, so a commit
//	                                       removes those it no longer has
//
// Times are unix nanoseconds, as in the list table (l <started:8> <id>),
// whose keys the cursors are, whatever the index. Whether an incident is
// open depends on the time of the query and on correlation.resolve_after
// (correlate.Incident.Status); one with nothing firing is open only while
// it settled after now - resolve_after, so the open ones are the 'o' set
// and the recent end of the 'e' table.
const (
	pIncIndex     = 'z'
	iiService     = 'v'
	iiOpen        = 'o'
	iiSettled     = 'e'
	iiRecord      = 'r'
	flagMayOpen   = 1
	incIndexVer   = "1"
	listKeyPrefix = 9 // pList and the start
)

var keyIncidentIndex = []byte("mindex:incidents")

// mayBeOpen reports whether inc can be open at a time after its settle
// time: something fires, a page is open, or a person set it open.
func mayBeOpen(inc *correlate.Incident) bool {
	if inc.Overrides.Status == correlate.StatusOpen || inc.FiringAlerts > 0 {
		return true
	}
	for _, p := range inc.PagerDuty {
		if p.Active() {
			return true
		}
	}
	return false
}

func settledAt(inc *correlate.Incident) time.Time {
	if inc.LastEnd.After(inc.LastActivity) {
		return inc.LastEnd
	}
	return inc.LastActivity
}

func nanos(t time.Time) uint64 { return uint64(t.UnixNano()) }

func incServicePrefix(service string) []byte {
	return append(append([]byte{pIncIndex, iiService}, service...), 0)
}

func incRecordKey(id string) []byte { return append([]byte{pIncIndex, iiRecord}, id...) }

// incidentIndexOps are the index entries of inc: keys and values.
func incidentIndexOps(inc *correlate.Incident) []op {
	if inc.MergedInto != "" {
		return nil // no longer listed
	}
	tail := append(u64(nil, nanos(inc.StartedAt)), inc.ID...)
	settled := nanos(settledAt(inc))
	var flags byte
	if mayBeOpen(inc) {
		flags = flagMayOpen
	}
	meta := u64([]byte{flags}, settled)
	ops := []op{{key: append(u64([]byte{pIncIndex, iiSettled}, settled), tail...)}}
	if flags&flagMayOpen != 0 {
		ops = append(ops, op{key: append([]byte{pIncIndex, iiOpen}, tail...)})
	}
	for _, s := range inc.Services {
		ops = append(ops, op{key: append(incServicePrefix(s), tail...), value: meta})
	}
	return ops
}

// encodeKeys and decodeKeys store an incident's index keys in its
// record, each preceded by its length.
func encodeKeys(ops []op) []byte {
	var b []byte
	for _, o := range ops {
		b = binary.AppendUvarint(b, uint64(len(o.key)))
		b = append(b, o.key...)
	}
	return b
}

func decodeKeys(b []byte) ([][]byte, error) {
	var keys [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("corrupt incident index record")
		}
		keys = append(keys, bytes.Clone(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return keys, nil
}

// indexIncidents adds to w the index writes of the incidents ch changes:
// their new keys, and deletes of the keys they had and no longer have.
// txn reads the committed records (the projector is the only writer).
func indexIncidents(txn *badger.Txn, w *opWriter, ch *correlate.Changes) error {
	ids := make([]string, 0, len(ch.Incidents))
	for id := range ch.Incidents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := indexIncident(txn, w, ch.Incidents[id]); err != nil {
			return err
		}
	}
	return nil
}

func indexIncident(txn *badger.Txn, w *opWriter, inc *correlate.Incident) error {
	ops := incidentIndexOps(inc)
	rec := encodeKeys(ops)
	var old []byte
	item, err := txn.Get(incRecordKey(inc.ID))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("read index record of %s: %w", inc.ID, err)
	default:
		if old, err = item.ValueCopy(nil); err != nil {
			return fmt.Errorf("read index record of %s: %w", inc.ID, err)
		}
	}
	if old != nil {
		oldKeys, err := decodeKeys(old)
		if err != nil {
			return fmt.Errorf("index record of %s: %w", inc.ID, err)
		}
		for _, k := range oldKeys {
			if !slices.ContainsFunc(ops, func(o op) bool { return bytes.Equal(o.key, k) }) {
				w.del(k)
			}
		}
	}
	for _, o := range ops {
		w.set(o.key, o.value)
	}
	switch {
	case len(ops) == 0 && old != nil:
		w.del(incRecordKey(inc.ID))
	case len(ops) > 0 && !bytes.Equal(old, rec):
		w.set(incRecordKey(inc.ID), rec)
	}
	return nil
}

// buildIncidentIndex indexes the incidents of a store written before the
// incident indexes existed. It runs in Open, before the projector
// starts.
func (s *DB) buildIncidentIndex() error {
	done, err := s.hasKey(keyIncidentIndex)
	if err != nil {
		return fmt.Errorf("read incident index marker: %w", err)
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
		opts.Prefix = []byte{pIncident}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			inc := new(correlate.Incident)
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, inc) }); err != nil {
				return fmt.Errorf("decode incident %q: %w", item.Key()[1:], err)
			}
			ops := incidentIndexOps(inc)
			if len(ops) == 0 {
				continue
			}
			for _, o := range ops {
				if err := wb.Set(o.key, o.value); err != nil {
					return err
				}
			}
			if err := wb.Set(incRecordKey(inc.ID), encodeKeys(ops)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err == nil {
		err = wb.Set(keyIncidentIndex, []byte(incIndexVer))
	}
	if err == nil {
		err = wb.Flush()
	}
	if err != nil {
		return fmt.Errorf("index the stored incidents: %w", err)
	}
	if n > 0 {
		s.logger.Info("Indexed the stored incidents", "incidents", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// QueryIncidents implements correlate.IncidentQuerier. The cursor is a
// list key, as ScanIncidents's.
func (s *DB) QueryIncidents(ctx context.Context, q correlate.IncidentQuery, cursor string, fn func(*correlate.Incident, string) bool) error {
	start, err := decodeCursor(cursor, pList)
	if err != nil {
		return err
	}
	// bound is the list key from which (downwards) candidates are due:
	// the cursor's (exclusive), or the last start Until allows.
	bound := []byte{pList, 0xff}
	if !q.Until.IsZero() {
		bound = append(u64([]byte{pList}, nanos(q.Until)), 0xff)
	}
	if start != nil && bytes.Compare(start, bound) < 0 {
		bound = start
	}
	return s.db.View(func(txn *badger.Txn) error {
		emit := func(listKey []byte) (bool, error) {
			if bytes.Compare(listKey, bound) >= 0 {
				return true, nil
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			inc, err := readIncident(ctx, txn, string(listKey[listKeyPrefix:]))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return true, nil
			}
			if err != nil {
				return false, fmt.Errorf("read incident %q: %w", listKey[listKeyPrefix:], err)
			}
			return fn(inc, encodeCursor(listKey)), nil
		}
		switch {
		case q.Service != "":
			return s.incidentsOfService(txn, q, bound, emit)
		case q.Open:
			keys, err := s.maybeOpen(txn, q.OpenSince, nil)
			if err != nil {
				return err
			}
			return emitAll(keys, emit)
		case !q.Since.IsZero():
			return s.incidentsSince(txn, q, bound, emit)
		default:
			if err := s.listFrom(txn, bound, nil, emit); !errors.Is(err, errDone) {
				return err
			}
			return nil
		}
	})
}

func emitAll(keys [][]byte, emit func([]byte) (bool, error)) error {
	for _, k := range keys {
		if more, err := emit(k); err != nil || !more {
			return err
		}
	}
	return nil
}

// listFrom emits the list keys below bound, newest first, down to stop
// (exclusive, nil for none); it reports through stopped whether it
// reached stop.
func (s *DB) listFrom(txn *badger.Txn, bound []byte, stop func(k []byte) bool, emit func([]byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Reverse = true
	opts.Prefix = []byte{pList}
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(bound); it.Valid(); it.Next() {
		k := it.Item().Key()
		if stop != nil && stop(k) {
			return errStopped
		}
		if more, err := emit(bytes.Clone(k)); err != nil || !more {
			if err == nil {
				err = errDone
			}
			return err
		}
	}
	return nil
}

var (
	errStopped = errors.New("stopped at the bound")
	errDone    = errors.New("done")
)

func listKeyOf(tail []byte) []byte { return append([]byte{pList}, tail...) }

// maybeOpen lists, newest first, the list keys of the incidents that may
// be open: the 'o' set, and those settled at or after openSince (and
// after also, when not zero); keep, when not nil, selects among them.
func (s *DB) maybeOpen(txn *badger.Txn, openSince time.Time, keep func(tail []byte) bool) ([][]byte, error) {
	seen := map[string]bool{}
	var keys [][]byte
	add := func(tail []byte) {
		if keep != nil && !keep(tail) {
			return
		}
		if !seen[string(tail)] {
			seen[string(tail)] = true
			keys = append(keys, listKeyOf(tail))
		}
	}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte{pIncIndex, iiOpen}
	it := txn.NewIterator(opts)
	for it.Rewind(); it.Valid(); it.Next() {
		add(it.Item().Key()[2:])
	}
	it.Close()
	opts.Prefix = []byte{pIncIndex, iiSettled}
	it = txn.NewIterator(opts)
	for it.Seek(u64([]byte{pIncIndex, iiSettled}, nanos(openSince))); it.Valid(); it.Next() {
		add(it.Item().Key()[10:])
	}
	it.Close()
	slices.SortFunc(keys, func(a, b []byte) int { return bytes.Compare(b, a) })
	return keys, nil
}

// incidentsSince emits the incidents that may be open, or settled at or
// after q.Since: every incident that started since then (the list
// itself), then the older ones that lasted into it.
func (s *DB) incidentsSince(txn *badger.Txn, q correlate.IncidentQuery, bound []byte, emit func([]byte) (bool, error)) error {
	since := nanos(q.Since)
	err := s.listFrom(txn, bound, func(k []byte) bool { return binary.BigEndian.Uint64(k[1:]) < since }, emit)
	switch {
	case errors.Is(err, errDone):
		return nil
	case err == nil:
		return nil // the list ended above Since
	case !errors.Is(err, errStopped):
		return err
	}
	from := q.OpenSince
	if from.IsZero() || q.Since.Before(from) {
		from = q.Since
	}
	keys, err := s.maybeOpen(txn, from, func(tail []byte) bool { return binary.BigEndian.Uint64(tail) < since })
	if err != nil {
		return err
	}
	return emitAll(keys, emit)
}

// incidentsOfService emits the incidents that hold q.Service, skipping by
// their index value those that cannot be open or in q.Since.
func (s *DB) incidentsOfService(txn *badger.Txn, q correlate.IncidentQuery, bound []byte, emit func([]byte) (bool, error)) error {
	prefix := incServicePrefix(q.Service)
	opts := badger.DefaultIteratorOptions
	opts.Reverse = true
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	seek := append(bytes.Clone(prefix), bound[1:]...)
	var openSince, since uint64
	if !q.OpenSince.IsZero() {
		openSince = nanos(q.OpenSince)
	}
	if !q.Since.IsZero() {
		since = nanos(q.Since)
	}
	for it.Seek(seek); it.Valid(); it.Next() {
		item := it.Item()
		k := item.Key()
		if len(k) < len(prefix)+8 {
			continue
		}
		if q.Open || since > 0 {
			var flags byte
			var settled uint64
			if err := item.Value(func(v []byte) error {
				if len(v) != 9 {
					return fmt.Errorf("corrupt service index value of %q", k)
				}
				flags, settled = v[0], binary.BigEndian.Uint64(v[1:])
				return nil
			}); err != nil {
				return err
			}
			open := flags&flagMayOpen != 0 || settled >= openSince
			if q.Open && !open {
				continue
			}
			if since > 0 && !open && settled < since && binary.BigEndian.Uint64(k[len(prefix):]) < since {
				continue
			}
		}
		if more, err := emit(listKeyOf(k[len(prefix):])); err != nil || !more {
			return err
		}
	}
	return nil
}

// unindexIncident removes every incident index key written for id, and
// its record, for an incident that leaves the store (retention).
func unindexIncident(txn *badger.Txn, w *opWriter, id string) error {
	item, err := txn.Get(incRecordKey(id))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("read index record of %s: %w", id, err)
	}
	rec, err := item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("read index record of %s: %w", id, err)
	}
	keys, err := decodeKeys(rec)
	if err != nil {
		return fmt.Errorf("index record of %s: %w", id, err)
	}
	for _, k := range keys {
		w.del(k)
	}
	w.del(incRecordKey(id))
	return nil
}
