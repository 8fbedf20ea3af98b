package streamlog

import (
	"fmt"
	"log/slog"

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
	c, err := OpenCopy(dir, logger)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	pos, err := c.Head()
	if err != nil {
		return 0, fmt.Errorf("read copied position in %q: %w", dir, err)
	}
	return pos, nil
}
