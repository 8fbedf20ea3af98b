package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate"
)

// pFiring indexes every firing start by alert fingerprint:
//
//	'h' fingerprint 0x00 startsAt(unix ns, 8 bytes big-endian) -> nil
//
// Deploy suspects ask it whether an alert was already firing before a
// deploy (correlate.FiringHistory). It is part of the projection: a
// recorrelation drops and rebuilds it.
const pFiring = 'h'

func firingPrefix(fp string) []byte {
	k := append([]byte{pFiring}, fp...)
	return append(k, 0)
}

func firingKey(fp string, start time.Time) []byte {
	return binary.BigEndian.AppendUint64(firingPrefix(fp), uint64(start.UnixNano()))
}

// indexFirings records the firing starts of the batch's entries.
func indexFirings(w *opWriter, ch *correlate.Changes) {
	for i := range ch.Entries {
		r := &ch.Entries[i].Ref
		if r.Fingerprint == "" || r.StartsAt == nil {
			continue
		}
		w.set(firingKey(r.Fingerprint, *r.StartsAt), nil)
	}
}

// FirstFiring implements correlate.CommittedLookup: the earliest firing
// start of fingerprint in [from, to), zero when there is none.
func (s *DB) FirstFiring(ctx context.Context, fp string, from, to time.Time) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	var found time.Time
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = firingPrefix(fp)
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek(firingKey(fp, from))
		if !it.Valid() {
			return nil
		}
		k := it.Item().Key()
		ns := int64(binary.BigEndian.Uint64(k[len(k)-8:]))
		if t := time.Unix(0, ns).UTC(); t.Before(to) {
			found = t
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("firing history of %s: %w", fp, err)
	}
	return found, nil
}
