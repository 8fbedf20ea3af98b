package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
)

// sseEvent is one server-sent event as a browser's EventSource sees it.
type sseEvent struct {
	id, event, data string
}

// sseConn reads server-sent events from one connection.
type sseConn struct {
	resp *http.Response
	r    *bufio.Reader
	evs  chan sseEvent
}

func (f *fixture) stream(t *testing.T, lastID string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/v1/stream", nil)
	require.NoError(t, err)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	c := &sseConn{resp: resp, r: bufio.NewReader(resp.Body), evs: make(chan sseEvent, 100)}
	go func() {
		defer close(c.evs)
		var ev sseEvent
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.event != "" {
					c.evs <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return c
}

func (c *sseConn) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-c.evs:
		require.True(t, ok, "stream closed")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return sseEvent{}
	}
}

func (c *sseConn) close() { c.resp.Body.Close() }

func TestStreamTellsChangesAndResumes(t *testing.T) {
	f := newFixture(t)
	c := f.stream(t, "")
	hello := c.next(t)
	require.Equal(t, "hello", hello.event)
	require.NotEmpty(t, hello.id)

	start := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	f.send(t, webhook("checkout", "HighErrorRate", "firing", start, time.Time{}))
	ev := c.next(t)
	require.Equal(t, "incident", ev.event)
	var got incidentSummary
	require.NoError(t, json.Unmarshal([]byte(ev.data), &got))
	id := f.list(t)[0].ID
	require.Equal(t, id, got.ID)
	require.Equal(t, "open", got.Status)
	require.Equal(t, []string{"checkout"}, got.Services)
	require.NotEmpty(t, got.Severity.Effective)
	c.close()

	// While nobody listens, the alert resolves and a note is added.
	f.send(t, webhook("checkout", "HighErrorRate", "resolved", start, start.Add(5*time.Minute)))
	code, b := f.do(t, "POST", "/api/v1/incidents/"+id+"/notes", `{"author":"dana","text":"rolled back"}`)
	require.Equal(t, http.StatusCreated, code, string(b))

	// Resuming from the last id seen replays both changes, in order, and
	// no hello (the client's id stays right).
	r := f.stream(t, ev.id)
	first, second := r.next(t), r.next(t)
	require.Equal(t, "incident", first.event)
	require.Equal(t, "incident", second.event)
	require.Contains(t, first.data, id)
	require.NotEqual(t, ev.id, first.id)
	require.NotEqual(t, first.id, second.id)
	require.NoError(t, json.Unmarshal([]byte(second.data), &got))
	require.Equal(t, 3, got.Entries, "the firing, its resolution and the note")

	// Resuming from the last of those gives nothing old; the next change
	// comes live.
	r.close()
	r = f.stream(t, second.id)
	f.send(t, webhook("search", "HighLatency", "firing", start, time.Time{}))
	ev = r.next(t)
	require.Equal(t, "incident", ev.event)
	require.Contains(t, ev.data, `"services":["search"]`)
}

func TestStreamResetWhenItCannotResume(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"garbage", "otherepoch.5.0"} {
		c := f.stream(t, id)
		require.Equal(t, "reset", c.next(t).event, id)
		require.Equal(t, "hello", c.next(t).event, id)
		c.close()
	}

	// A rebuild renumbers everything: listeners are told to reload.
	c := f.stream(t, "")
	require.Equal(t, "hello", c.next(t).event)
	f.send(t, webhook("checkout", "HighErrorRate", "firing", time.Now().Add(-time.Minute), time.Time{}))
	require.Equal(t, "incident", c.next(t).event)
	code, b := f.do(t, "POST", "/api/v1/recorrelate", "")
	require.Equal(t, http.StatusOK, code, string(b))
	ev := c.next(t)
	require.Equal(t, "reset", ev.event)
	// The rebuilt incident comes again under the new epoch.
	again := c.next(t)
	require.Equal(t, "incident", again.event)
	require.Equal(t, strings.Split(ev.id, ".")[0], strings.Split(again.id, ".")[0])
}

// fakeCommits lets a test drive the hub commit by commit.
type fakeCommits struct{ fn func(correlate.Commit) }

func (f *fakeCommits) Subscribe(fn func(correlate.Commit)) func() { f.fn = fn; return func() {} }

func TestStreamBoundsClients(t *testing.T) {
	f := newFixture(t)
	a := New(f.db, nil, nil, f.cfg.Load, promslog.NewNopLogger())
	fc := &fakeCommits{}
	a.SetStream(t.Context(), fc)
	h := a.hub

	// A client that reads nothing is dropped once it is a buffer behind,
	// and the others are not held up by it.
	slow, _, _, _, err := h.subscribe("")
	require.NoError(t, err)
	for i := range streamClientBuffer + 1 {
		fc.fn(correlate.Commit{Seq: uint64(i + 1), Incidents: []string{"inc-x"}})
	}
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		_, still := h.clients[slow]
		return !still
	}, 10*time.Second, 10*time.Millisecond, "the slow client is dropped")
	n := 0
	for range slow.out {
		n++
	}
	require.Equal(t, streamClientBuffer, n, "it got what fit in its buffer, then its channel closed")

	// The replay kept is bounded too.
	for i := range streamReplay + 10 {
		h.apply(t.Context(), correlate.Commit{Seq: uint64(1000 + i), Incidents: []string{"inc-y"}})
	}
	h.mu.Lock()
	require.Len(t, h.ring, streamReplay)
	epoch := h.epoch
	h.mu.Unlock()
	// An id older than what is kept cannot be resumed.
	_, replay, _, first, err := h.subscribe(formatID(epoch, streamKey{seq: 5}))
	require.NoError(t, err)
	require.Empty(t, replay)
	require.Contains(t, string(first), "event: reset")

	// No more than maxStreamClients listen at once.
	for len(h.clients) < maxStreamClients {
		_, _, _, _, err := h.subscribe("")
		require.NoError(t, err)
	}
	_, _, _, _, err = h.subscribe("")
	require.ErrorContains(t, err, "clients are listening already")
	srv := a.Routes()["GET /api/v1/stream"]
	rec := httptest.NewRecorder()
	srv(rec, httptest.NewRequest("GET", "/api/v1/stream", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Contains(t, rec.Body.String(), "clients are listening already")
}

// Commits the stream could not queue are not silently skipped: the
// listeners are told to reload.
func TestStreamOverflowResets(t *testing.T) {
	f := newFixture(t)
	h := newHub(New(f.db, nil, nil, f.cfg.Load, promslog.NewNopLogger()))
	cl, _, _, _, err := h.subscribe("")
	require.NoError(t, err)
	epoch := h.epoch
	for i := range streamQueue + 1 {
		h.enqueue(correlate.Commit{Seq: uint64(i + 1), Incidents: []string{"inc-x"}})
	}
	h.apply(t.Context(), <-h.in)
	require.NotEqual(t, epoch, h.epoch)
	it := <-cl.out
	require.Contains(t, string(it.msg), "event: reset")
}
