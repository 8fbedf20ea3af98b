package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// maxListBytes is where a page of a list stops early, with next, however
// large the limit asked: a page of incidents of hundreds of alerts each
// would otherwise run to 150 MB. With the items written as they are
// found, a list answer holds one item in memory, not the page.
const maxListBytes = 8 << 20

// listStream writes a list answer, {"<key>": [...], "next": "..."}, item
// by item as a scan finds them, instead of building the page and then
// its encoding. Nothing is written before the first item, so a scan that
// fails early still gets a plain error answer; one that fails later
// aborts the response (see abort), since its status is already sent.
type listStream struct {
	w     http.ResponseWriter
	key   string
	max   int64 // bytes past which the page is full
	bw    *bufio.Writer
	cw    countingWriter
	enc   *json.Encoder
	items int
}

func newListStream(w http.ResponseWriter, key string, maxBytes int64) *listStream {
	return &listStream{w: w, key: key, max: maxBytes}
}

// started reports whether the answer has begun.
func (s *listStream) started() bool { return s.bw != nil }

func (s *listStream) start() {
	s.w.Header().Set("Content-Type", "application/json")
	s.w.WriteHeader(http.StatusOK)
	s.bw = bufio.NewWriterSize(s.w, 32<<10)
	s.cw = countingWriter{w: s.bw}
	s.enc = json.NewEncoder(&s.cw)
	s.enc.SetEscapeHTML(false)
	keyJSON, _ := json.Marshal(s.key)
	_, _ = s.cw.Write([]byte("{" + string(keyJSON) + ":["))
}

// add writes one item.
func (s *listStream) add(v any) error {
	if !s.started() {
		s.start()
	}
	if s.items > 0 {
		_, _ = s.cw.Write([]byte(","))
	}
	s.items++
	return s.enc.Encode(v)
}

// full reports whether the page has reached its size (maxListBytes).
func (s *listStream) full() bool { return s.max > 0 && s.cw.n >= s.max }

// finish closes the list, with next when it is not empty.
func (s *listStream) finish(next string) error {
	if !s.started() {
		s.start()
	}
	tail := []byte("]")
	if next != "" {
		nextJSON, _ := json.Marshal(next)
		tail = append(append(tail, `,"next":`...), nextJSON...)
	}
	tail = append(tail, "}\n"...)
	if _, err := s.cw.Write(tail); err != nil {
		return err
	}
	return s.bw.Flush()
}

// abort ends a response whose 200 is already sent but whose list could
// not be finished: the connection is cut so that the client sees an
// error rather than a list that looks complete.
func (s *listStream) abort() {
	panic(http.ErrAbortHandler)
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// page follows one list request's scan: how far it went, where the next
// page starts, whether writing failed.
type page struct {
	scanned int
	// last is the cursor of the last item examined, next that of the
	// last item written; more says a next page is worth asking for.
	last, next string
	more       bool
	werr       error
}

// scan counts one more item examined; past maxScan it stops the scan
// with next at the last item examined, so that the next page goes on
// from there rather than scanning the same ground again.
func (pg *page) scan(cur string) bool {
	pg.scanned++
	if pg.scanned > maxScan {
		pg.next, pg.more = pg.last, true
		return false
	}
	pg.last = cur
	return true
}

// add writes v unless the page is full (limit items or maxListBytes), in
// which case the scan stops with next at the item before.
func (pg *page) add(ls *listStream, limit int, v any, cur string) bool {
	if ls.items == limit || ls.full() {
		pg.more = true
		return false
	}
	if pg.werr = ls.add(v); pg.werr != nil {
		return false
	}
	pg.next = cur
	return true
}

// finishList ends a streamed list: next when more remain, or the scan's
// error (as an error answer when nothing was written yet).
func (a *API) finishList(w http.ResponseWriter, ls *listStream, pg *page, err error) {
	switch {
	case pg.werr != nil:
		return // the client went away
	case err != nil && !ls.started():
		a.fail(w, err)
		return
	case err != nil:
		if !errors.Is(err, context.Canceled) {
			a.logger.Error("Query failed after the answer began; connection cut", "err", err)
		}
		ls.abort()
	}
	next := ""
	if pg.more {
		next = pg.next
	}
	_ = ls.finish(next)
}
