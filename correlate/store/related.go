package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate"
)

// The signature index (correlate.Signatures), one table with two kinds of
// key, so that earlier incidents that look like one are found by a few
// short prefix scans instead of a scan of every incident:
//
//	r 's' <signature hash:16> <started_at unix nanos:8> <incident id>   (no value)
//	r 'i' <incident id>   what the incident is indexed under: <started_at:8> <hash:16>...
//
// A signature is hashed (the first 16 bytes of sha256 of its Key) so that
// its key part has a fixed width whatever the service and alert names
// hold. The 'i' record lets a commit remove what an incident no longer
// has (a suspect re-ranked away, alerts moved by a merge or split, an
// earlier start) and skip the writes when nothing changed.
const (
	pRelated   = 'r'
	relSig     = 's'
	relRecord  = 'i'
	sigHashLen = 16
)

type sigHash [sigHashLen]byte

func hashSignature(s correlate.Signature) sigHash {
	sum := sha256.Sum256([]byte(s.Key()))
	return sigHash(sum[:sigHashLen])
}

func relatedSigPrefix(h sigHash) []byte { return append([]byte{pRelated, relSig}, h[:]...) }

func relatedSigKey(h sigHash, started time.Time, id string) []byte {
	return append(u64(relatedSigPrefix(h), uint64(started.UnixNano())), id...)
}

func relatedRecordKey(id string) []byte { return append([]byte{pRelated, relRecord}, id...) }

// relatedRecord encodes what an incident is indexed under: its start, then
// its signature hashes, sorted and distinct.
func relatedRecord(inc *correlate.Incident) []byte {
	sigs := correlate.Signatures(inc)
	if len(sigs) == 0 {
		return nil
	}
	hs := make([]sigHash, len(sigs))
	for i, s := range sigs {
		hs[i] = hashSignature(s)
	}
	slices.SortFunc(hs, func(a, b sigHash) int { return bytes.Compare(a[:], b[:]) })
	hs = slices.Compact(hs)
	b := u64(make([]byte, 0, 8+len(hs)*sigHashLen), uint64(inc.StartedAt.UnixNano()))
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// relatedKeys are the index keys a record stands for.
func relatedKeys(id string, rec []byte) ([][]byte, error) {
	if len(rec) == 0 {
		return nil, nil
	}
	if len(rec) < 8 || (len(rec)-8)%sigHashLen != 0 {
		return nil, fmt.Errorf("corrupt signature record of incident %q: %d bytes", id, len(rec))
	}
	started := time.Unix(0, int64(binary.BigEndian.Uint64(rec[:8])))
	var keys [][]byte
	for b := rec[8:]; len(b) > 0; b = b[sigHashLen:] {
		keys = append(keys, relatedSigKey(sigHash(b[:sigHashLen]), started, id))
	}
	return keys, nil
}

// indexRelated keeps the signature index of the changed incidents in step,
// in the projection commit's writes, so the index never disagrees with
// the incidents it points to. txn reads the committed records.
func (s *DB) indexRelated(txn *badger.Txn, w *opWriter, ch *correlate.Changes) error {
	for id, inc := range ch.Incidents {
		rec := relatedRecord(inc)
		var old []byte
		item, err := txn.Get(relatedRecordKey(id))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("read signature record of %q: %w", id, err)
		default:
			if old, err = item.ValueCopy(nil); err != nil {
				return fmt.Errorf("read signature record of %q: %w", id, err)
			}
		}
		if bytes.Equal(old, rec) {
			continue
		}
		oldKeys, err := relatedKeys(id, old)
		if err != nil {
			return err
		}
		newKeys, _ := relatedKeys(id, rec)
		for _, k := range oldKeys {
			if !slices.ContainsFunc(newKeys, func(n []byte) bool { return bytes.Equal(n, k) }) {
				w.del(k)
			}
		}
		for _, k := range newKeys {
			w.set(k, nil)
		}
		if len(rec) == 0 {
			w.del(relatedRecordKey(id))
		} else {
			w.set(relatedRecordKey(id), rec)
		}
	}
	return nil
}

// IncidentsBySignature implements correlate.SignatureIndex: a reverse scan
// of the signature's keys from just before before.
func (s *DB) IncidentsBySignature(ctx context.Context, sig correlate.Signature, before time.Time, limit int) ([]string, error) {
	prefix := relatedSigPrefix(hashSignature(sig))
	var ids []string
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = true
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		// Reverse Seek lands on the last key at or below its argument;
		// every key of an incident that started at before sorts above it.
		for it.Seek(u64(slices.Clip(prefix), uint64(before.UnixNano()))); it.Valid() && len(ids) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			ids = append(ids, string(it.Item().Key()[len(prefix)+8:]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("incidents with %s before %s: %w", sig, before.UTC().Format(time.RFC3339), err)
	}
	return ids, nil
}
