package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// A reset of the projection (hindsightctl recorrelate) deletes its keys
// a transaction at a time while the log goes on taking events, rather
// than with Badger's DropPrefix, which blocks every write until it is
// done, or by building a second projection beside the first, which
// would double the memory and disk it takes:
//
//	m "resetting"   set first, in its own transaction: the reset point
//
// then every key of the projection's tables is deleted, a transaction's
// worth at a time, and last the checkpoint, the staged-commit marker and
// the reset marker go in one transaction. A crash part-way leaves the
// marker, and Open finishes the deletion before anyone reads; a write
// failure part-way (a full disk) leaves it too, and the next projection
// commit finishes it first.
var keyResetting = []byte("mresetting")

// ResetProjection implements correlate.ProjectionStore: it drops every
// incident and the checkpoint, so the projection is rebuilt from the log.
// An error before the reset point leaves the projection as it was; from
// there on the reset is finished later whatever happens (resetPending),
// so it reports success.
func (s *DB) ResetProjection(ctx context.Context) error {
	// The rebuild reads the log from its start: from Badger, which
	// knows what has expired, not from the ring of recent events, which
	// may still hold events past retention.events.
	s.recentMu.Lock()
	clear(s.recent)
	s.recentMu.Unlock()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keyResetting, nil) }); err != nil {
		return fmt.Errorf("mark the projection reset: %w", err)
	}
	s.resetPending.Store(true)
	if err := s.finishReset(ctx); err != nil {
		s.logger.Warn("Dropping the old incidents failed part-way; the next projection commit finishes it", "err", err)
	}
	return nil
}

// finishReset deletes what is left of a projection being reset.
func (s *DB) finishReset(ctx context.Context) error {
	_, maxCount := s.txnLimits()
	for _, prefix := range projectionPrefixes {
		err := s.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = prefix
			it := txn.NewIterator(opts)
			defer it.Close()
			var ops []op
			flush := func() error {
				if len(ops) == 0 {
					return nil
				}
				runs, disk := s.chunks(ops)
				for i, run := range runs {
					if err := s.applyOps(run, disk[i]); err != nil {
						return err
					}
				}
				ops = ops[:0]
				return ctx.Err()
			}
			for it.Rewind(); it.Valid(); it.Next() {
				ops = append(ops, op{key: it.Item().KeyCopy(nil), del: true})
				if int64(len(ops)) >= maxCount {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return flush()
		})
		if err != nil {
			return fmt.Errorf("drop the projection's %q keys: %w", prefix, err)
		}
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, k := range [][]byte{keyStaged, keyCheckpoint, keyResetting} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("drop checkpoint: %w", err)
	}
	s.resetPending.Store(false)
	return nil
}

// recoverReset finishes a reset that a crash interrupted.
func (s *DB) recoverReset() error {
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(keyResetting)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read reset marker: %w", err)
	}
	s.logger.Warn("Finishing a projection reset that was interrupted")
	return s.finishReset(context.Background())
}
