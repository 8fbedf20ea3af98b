package store

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

// Backup writes a snapshot of the store to w as the part
// backup.PartStore. The snapshot is one Badger read timestamp: the event
// log up to one position and the projection at its checkpoint then (at
// or behind that position), so a daemon started on the restored store
// applies the rest of the log and answers as the original did at that
// position. A projection commit that was staged (stage.go) is in the
// snapshot as it was, and Open finishes it after the restore. Appends and
// commits go on meanwhile.
func (s *DB) Backup(w *backup.Writer) error {
	return BackupBadger(w, backup.PartStore, s.db)
}

// BackupBadger writes a snapshot of db to w as the part name: what
// badger.DB.Backup writes, at one read timestamp.
func BackupBadger(w *backup.Writer, name string, db *badger.DB) error {
	if err := w.Part(name); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	if _, err := db.Backup(w, 0); err != nil {
		return fmt.Errorf("backup %s: %w", name, err)
	}
	return nil
}

// LoadBadger creates a Badger database in dir, which must hold none, and
// loads into it a part of a backup written by BackupBadger (r ends where
// the part does). It returns once the loaded data is on disk.
func LoadBadger(dir string, r io.Reader, logger *slog.Logger) error {
	bo := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{logger}).
		WithLoggingLevel(badger.WARNING).
		WithMemTableSize(memTableSize).
		WithValueLogFileSize(valueLogFileSize).
		WithValueThreshold(valueThreshold).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false)
	db, err := badger.Open(bo)
	if err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := db.Load(r, 16); err != nil {
		_ = db.Close()
		return fmt.Errorf("load into %s: %w", dir, err)
	}
	if err := db.Sync(); err != nil {
		_ = db.Close()
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dir, err)
	}
	return nil
}

// Head is the log's last position: the last event appended (0 for an
// empty log).
func (s *DB) Head() (uint64, error) { return s.readHead() }
