package streamlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"

	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

// Backup writes a snapshot of this replica's copy of the stream to w as
// the part backup.PartStream: the copied position and every event up to
// it, at one read timestamp. Take it after the projection's (the copy is
// always at or ahead of the projection), so that the restored projection
// never describes events the restored copy lacks.
func (l *Log) Backup(w *backup.Writer) error {
	return store.BackupBadger(w, backup.PartStream, l.db)
}

// CopiedPosition reads the stream position a copy in dir (Options.Dir)
// reflects, without opening the stream: for tools that inspect a stopped
// replica's storage (hindsight restore).
func CopiedPosition(dir string, logger *slog.Logger) (uint64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(badgerLogger{logger}).WithLoggingLevel(badger.WARNING).WithMetricsEnabled(false))
	if err != nil {
		return 0, fmt.Errorf("open local copy of the event stream %q: %w", dir, err)
	}
	defer db.Close()
	var pos uint64
	err = db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyCopied)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("corrupt copied position: %d bytes", len(v))
			}
			pos = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read copied position in %q: %w", dir, err)
	}
	return pos, nil
}
