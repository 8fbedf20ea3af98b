package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// backupIdle is how long a backup download may make no progress before
// the daemon gives up on the client; the server's own write timeout does
// not apply to it, since a large store takes longer than that to send.
const backupIdle = time.Minute

// BackupHandler serves GET /api/v1/admin/backup: write streams an online
// backup (store/backup's format, consistent at one log position) to the
// client. One backup runs at a time; a second is refused with 503 and
// Retry-After. A failure before the first byte is a JSON error; after it,
// the connection is cut, and the backup's missing end checksum tells the
// client it is incomplete.
func BackupHandler(write func(ctx context.Context, w io.Writer) error, logger *slog.Logger) http.Handler {
	var running atomic.Bool
	logger = logger.With("component", "api")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !running.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusServiceUnavailable, "a backup is already under way; try again when it is done")
			return
		}
		defer running.Store(false)
		start := time.Now()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "hindsight-"+start.UTC().Format("20060102T150405Z")+".backup"))
		w.Header().Set("Cache-Control", "no-store")
		bw := &progressWriter{w: w, rc: http.NewResponseController(w)}
		err := write(r.Context(), bw)
		if err == nil {
			logger.Info("Backup sent", "bytes", bw.n, "duration", time.Since(start), "remote", r.RemoteAddr)
			return
		}
		if r.Context().Err() != nil {
			logger.Warn("Backup download abandoned by the client", "bytes", bw.n, "remote", r.RemoteAddr)
			return
		}
		logger.Error("Backup failed", "err", err, "bytes", bw.n)
		if bw.n == 0 {
			writeError(w, http.StatusServiceUnavailable, "backup failed: "+err.Error())
			return
		}
		// Cut the connection: the client must not take what it got for a
		// whole backup (it has no end checksum either way).
		panic(http.ErrAbortHandler)
	})
}

// progressWriter counts what it writes and keeps the connection's write
// deadline a little ahead of the last progress.
type progressWriter struct {
	w  io.Writer
	rc *http.ResponseController
	n  int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(backupIdle))
	n, err := p.w.Write(b)
	p.n += int64(n)
	return n, err
}
