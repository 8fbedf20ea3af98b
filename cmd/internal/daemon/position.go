package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Headers of read-your-writes across replicas (README, "Several
// replicas"). Positions are the event log's: with log.type jetstream the
// stream's sequences, the same on every replica.
const (
	// HeaderLogPosition is on every 2xx answer of the API and intake: on
	// an intake or a change, the position a reader must have applied to
	// see what the request stored; on a query, the position the replica
	// had applied when it began reading (the answer reflects at least
	// that much of the log).
	HeaderLogPosition = "Hindsight-Log-Position"
	// HeaderMinLogPosition on a request makes the replica wait until it
	// has applied the log up to that position before it answers (at most
	// minPositionWait, and no longer than the request); if it cannot,
	// it answers 503 with Retry-After.
	HeaderMinLogPosition = "Hindsight-Min-Log-Position"
)

// minPositionWait bounds the wait a Hindsight-Min-Log-Position asks for.
const minPositionWait = 10 * time.Second

// positioned adds the log-position headers to h.
func (d *Daemon) positioned(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(HeaderMinLogPosition); v != "" {
			want, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				collector.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("%s: %q is not a log position (a whole number, as %s gives)", HeaderMinLogPosition, v, HeaderLogPosition)})
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), minPositionWait)
			err = d.proj.WaitApplied(ctx, want)
			cancel()
			if err != nil {
				if r.Context().Err() != nil {
					return
				}
				w.Header().Set("Retry-After", "1")
				collector.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": fmt.Sprintf(
					"this replica has applied the event log up to position %d, not yet the %d asked for (%s); ask again or ask another replica",
					d.proj.Applied(), want, HeaderMinLogPosition)})
				return
			}
		}
		ctx, rec := correlate.WithPositionRecorder(r.Context())
		pw := &positionWriter{ResponseWriter: w, rec: rec, applied: d.proj.Applied()}
		h.ServeHTTP(pw, r.WithContext(ctx))
	})
}

// positionWriter sets Hindsight-Log-Position on a 2xx answer as its
// header is written.
type positionWriter struct {
	http.ResponseWriter
	rec     *correlate.PositionRecorder
	applied uint64
	wrote   bool
}

func (p *positionWriter) WriteHeader(code int) {
	if !p.wrote {
		p.wrote = true
		if code/100 == 2 {
			pos := p.rec.Position()
			if pos == 0 {
				pos = p.applied
			}
			p.Header().Set(HeaderLogPosition, strconv.FormatUint(pos, 10))
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *positionWriter) Write(b []byte) (int, error) {
	if !p.wrote {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of
// the event stream, the backup's write deadline).
func (p *positionWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
