package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Projection commits too large for one transaction.
//
// Badger caps a transaction (15% of a memtable: MaxBatchSize and
// MaxBatchCount), and a merge or a storm can move more entries than that
// at once. Such a commit is written as a redo log: its writes are staged
// in chunks, each of which fits a transaction,
//
//	p <chunk:4>        the encoded writes of one chunk
//	m "staged"         the number of chunks: the commit point
//
// then the marker is set in one transaction (from there on the commit has
// happened), the chunks are applied in order, each in its own
// transaction, and the marker and the chunks are deleted. Writes are
// blind sets and deletes, so applying the whole list again from the start
// gives the same result whatever part of it was applied before: Open
// finishes a commit that a crash interrupted before anyone reads.
const pStaged = 'p'

var keyStaged = []byte("mstaged")

func stagedKey(chunk uint32) []byte { return binary.BigEndian.AppendUint32([]byte{pStaged}, chunk) }

// op is one write of a projection commit: a set, or a delete.
type op struct {
	key, value []byte
	del        bool
}

// opWriter collects ops; the first encoding error sticks.
type opWriter struct {
	ops []op
	err error
}

func (w *opWriter) set(k, v []byte) { w.ops = append(w.ops, op{key: k, value: v}) }

func (w *opWriter) del(k []byte) { w.ops = append(w.ops, op{key: k, del: true}) }

func (w *opWriter) setJSON(k []byte, v any) {
	b, err := json.Marshal(v)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("encode %q: %w", k, err)
	}
	w.set(k, b)
}

// chunks splits ops into runs that each fit one transaction, and returns
// what each run adds on disk.
func (s *DB) chunks(ops []op) (runs [][]op, disk []int64) {
	maxSize, maxCount := s.txnLimits()
	var size, count, d int64
	from := 0
	for i, o := range ops {
		t, dd := s.entrySize(o.key, o.value)
		if count > 0 && (size+t > maxSize || count+1 > maxCount) {
			runs, disk = append(runs, ops[from:i]), append(disk, d)
			from, size, count, d = i, 0, 0, 0
		}
		size, count, d = size+t, count+1, d+dd
	}
	if from < len(ops) {
		runs, disk = append(runs, ops[from:]), append(disk, d)
	}
	return runs, disk
}

// writeOps writes ops atomically: in one transaction if they fit, else
// staged.
func (s *DB) writeOps(ctx context.Context, ops []op) error {
	runs, disk := s.chunks(ops)
	if len(runs) <= 1 {
		var d int64
		if len(disk) == 1 {
			d = disk[0]
		}
		return s.applyOps(ops, d)
	}
	return s.commitStaged(ctx, runs, disk)
}

// applyOps writes ops in one transaction, after checking that the disk
// has room for them beyond the store's reserve.
func (s *DB) applyOps(ops []op, disk int64) error {
	if err := s.space.check(disk, false); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		for _, o := range ops {
			var err error
			if o.del {
				err = txn.Delete(o.key)
			} else {
				err = txn.Set(o.key, o.value)
			}
			if err != nil {
				return fmt.Errorf("write %q: %w", o.key, err)
			}
		}
		return nil
	})
}

func (s *DB) commitStaged(ctx context.Context, runs [][]op, disk []int64) error {
	s.logger.Debug("Projection commit too large for one transaction; staging it", "chunks", len(runs))
	// Leftovers of a staged commit that failed before its commit point
	// (never applied): overwritten below, or deleted if there were more.
	if err := s.clearStaged(); err != nil {
		return err
	}
	for i, run := range runs {
		b := encodeOps(run)
		if err := s.space.check(2*disk[i], false); err != nil {
			return err
		}
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(stagedKey(uint32(i)), b) }); err != nil {
			return fmt.Errorf("stage chunk %d of %d: %w", i+1, len(runs), err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(runs)))
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keyStaged, n[:]) }); err != nil {
		return fmt.Errorf("mark staged commit: %w", err)
	}
	// Committed. A failure from here on is finished by the next Open;
	// until then the projection is part-way, so the error stands.
	for i, run := range runs {
		if err := s.applyOps(run, 0); err != nil {
			return fmt.Errorf("apply staged chunk %d of %d: %w", i+1, len(runs), err)
		}
	}
	return s.clearStaged()
}

// recoverStaged finishes a staged commit that a crash interrupted after
// its commit point.
func (s *DB) recoverStaged() error {
	var chunks uint32
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyStaged)
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 4 {
				return fmt.Errorf("corrupt staged commit marker: %d bytes", len(v))
			}
			chunks = binary.BigEndian.Uint32(v)
			return nil
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read staged commit marker: %w", err)
	}
	s.logger.Warn("Finishing a projection commit that was interrupted", "chunks", chunks)
	for i := range chunks {
		var ops []op
		err := s.db.View(func(txn *badger.Txn) error {
			it, err := txn.Get(stagedKey(i))
			if err != nil {
				return err
			}
			return it.Value(func(v []byte) (err error) {
				ops, err = decodeOps(v)
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("read staged chunk %d of %d: %w", i+1, chunks, err)
		}
		if err := s.applyOps(ops, 0); err != nil {
			return fmt.Errorf("apply staged chunk %d of %d: %w", i+1, chunks, err)
		}
	}
	return s.clearStaged()
}

// clearStaged deletes the marker and every staged chunk.
func (s *DB) clearStaged() error {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{pStaged}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list staged chunks: %w", err)
	}
	// The marker goes first, in the first transaction: chunks without a
	// marker are leftovers, never applied.
	ops := []op{{key: keyStaged, del: true}}
	for _, k := range keys {
		ops = append(ops, op{key: k, del: true})
	}
	runs, _ := s.chunks(ops)
	for _, run := range runs {
		if err := s.applyOps(run, 0); err != nil {
			return fmt.Errorf("clear staged commit: %w", err)
		}
	}
	return nil
}

// encodeOps: per op, a flag byte (1 = delete), the key and (for a set)
// the value, each preceded by its length as a uvarint.
func encodeOps(ops []op) []byte {
	var n int
	for _, o := range ops {
		n += 1 + 2*binary.MaxVarintLen32 + len(o.key) + len(o.value)
	}
	b := make([]byte, 0, n)
	for _, o := range ops {
		if o.del {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(o.key)))
			b = append(b, o.key...)
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(o.key)))
		b = append(b, o.key...)
		b = binary.AppendUvarint(b, uint64(len(o.value)))
		b = append(b, o.value...)
	}
	return b
}

func decodeOps(b []byte) ([]op, error) {
	var ops []op
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("corrupt staged chunk")
		}
		v := append([]byte(nil), b[k:k+int(n)]...)
		b = b[k+int(n):]
		return v, nil
	}
	for len(b) > 0 {
		flag := b[0]
		b = b[1:]
		k, err := field()
		if err != nil {
			return nil, err
		}
		o := op{key: k, del: flag == 1}
		if !o.del {
			if o.value, err = field(); err != nil {
				return nil, err
			}
		}
		ops = append(ops, o)
	}
	return ops, nil
}
