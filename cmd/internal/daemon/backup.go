package daemon

import (
	"context"
	"io"
	"time"

	"github.com/prometheus/common/version"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

// writeBackup writes an online backup of the daemon's storage to w
// (GET /api/v1/admin/backup): the store, one Badger snapshot holding the
// event log up to one position and the projection at or behind it; with
// log.type jetstream also this replica's copy of the stream, taken after
// the store, so that the copy is at or ahead of the projection. The
// embedded NATS server's files are not in it: a deploy is acknowledged
// to Hindsight's consumer once it is in the log, and what the embedded
// stream still holds unconsumed is a publisher's to send again.
func (d *Daemon) writeBackup(ctx context.Context, w io.Writer) error {
	cfg := d.reloader.Config()
	h := backup.Header{
		Log:       string(config.LogBadger),
		CreatedAt: time.Now().UTC(),
		Version:   version.Version,
		Parts:     []string{backup.PartStore},
	}
	if d.stream != nil {
		h.Log, h.Stream = string(config.LogJetStream), cfg.Log.Stream
		h.Parts = append(h.Parts, backup.PartStream)
	}
	bw, err := backup.NewWriter(ctx, w, h)
	if err != nil {
		return err
	}
	if err := d.db.Backup(bw); err != nil {
		return err
	}
	if d.stream != nil {
		if err := d.stream.Backup(bw); err != nil {
			return err
		}
	}
	return bw.Close()
}
