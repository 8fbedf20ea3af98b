package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hindsight-ops/hindsight/correlate"
)

// The event stream (GET /api/v1/stream) tells browsers and scripts which
// incidents changed, as server-sent events: one "incident" event per
// incident a projection commit changed, carrying the incident's summary.
// Its memory is bounded whatever the clients do: at most maxStreamClients
// listen at once, a client that falls streamClientBuffer events behind is
// disconnected (its EventSource reconnects and resumes), and the last
// streamReplay events are kept for resuming with Last-Event-ID. A client
// that cannot be resumed (its id is older than what is kept, or from
// before a restart or a rebuild) gets a "reset" event: reload everything.
const (
	maxStreamClients   = 64
	streamClientBuffer = 256
	streamReplay       = 4096
	// streamQueue is how many commits may wait for the stream before it
	// gives up on them and resets its clients.
	streamQueue = 1024
	// streamHeartbeat keeps idle connections open through proxies.
	streamHeartbeat = 20 * time.Second
	// streamRetry is the reconnection delay the stream asks browsers for.
	streamRetry = 2 * time.Second
)

// Commits tells the stream what each projection commit changed: the
// correlate.Projector.
type Commits interface {
	Subscribe(fn func(correlate.Commit)) (cancel func())
}

// SetStream serves GET /api/v1/stream from c's commits until ctx is done.
// Without it the stream answers 501.
func (a *API) SetStream(ctx context.Context, c Commits) {
	h := newHub(a)
	a.hub = h
	cancel := c.Subscribe(h.enqueue)
	go func() {
		defer cancel()
		h.run(ctx)
	}()
}

// streamKey orders stream events: the commit's log position, then the
// event's place in the commit.
type streamKey struct {
	seq uint64
	i   int
}

func (k streamKey) less(o streamKey) bool {
	return k.seq < o.seq || (k.seq == o.seq && k.i < o.i)
}

// streamItem is one event: which incident changed, and its encoded
// message once some client needed it.
type streamItem struct {
	key      streamKey
	incident string
	msg      []byte
}

// streamClient is one connected listener; the hub closes out when it
// drops the client.
type streamClient struct {
	out chan streamItem
}

// hub turns commits into stream events and hands them to the clients.
type hub struct {
	api *API
	in  chan correlate.Commit

	mu sync.Mutex
	// epoch names this run of the stream; ids of another epoch cannot be
	// resumed (a restart, a rebuild, commits the stream had to skip).
	epoch   string
	ring    []streamItem // the last streamReplay events, oldest first
	evicted *streamKey   // the newest event no longer in ring
	last    streamKey    // the newest event
	clients map[*streamClient]struct{}
	// overflow: commits were lost because the queue was full.
	overflow bool
}

func newHub(a *API) *hub {
	return &hub{
		api:     a,
		in:      make(chan correlate.Commit, streamQueue),
		epoch:   newEpoch(),
		clients: map[*streamClient]struct{}{},
	}
}

func newEpoch() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// enqueue is the projector's callback: it must not block.
func (h *hub) enqueue(c correlate.Commit) {
	select {
	case h.in <- c:
	default:
		h.mu.Lock()
		h.overflow = true
		h.mu.Unlock()
	}
}

func (h *hub) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			for c := range h.clients {
				h.drop(c)
			}
			h.mu.Unlock()
			return
		case c := <-h.in:
			h.apply(ctx, c)
		}
	}
}

// apply turns one commit into events. The incidents are read once per
// event, and only while someone listens; a replay reads what is missing.
func (h *hub) apply(ctx context.Context, c correlate.Commit) {
	h.mu.Lock()
	overflow := h.overflow
	h.overflow = false
	listening := len(h.clients) > 0
	h.mu.Unlock()
	if overflow || c.Reset {
		h.reset()
		if c.Reset {
			return
		}
	}
	items := make([]streamItem, len(c.Incidents))
	for i, id := range c.Incidents {
		items[i] = streamItem{key: streamKey{c.Seq, i}, incident: id}
	}
	h.mu.Lock()
	epoch := h.epoch
	h.mu.Unlock()
	if listening {
		for i := range items {
			items[i].msg = h.message(ctx, epoch, items[i])
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.epoch != epoch {
		return // reset meanwhile (the queue overflowed): these are stale
	}
	for _, it := range items {
		if !h.last.less(it.key) {
			continue // a position seen before; cannot happen without a reset
		}
		h.ring = append(h.ring, it)
		h.last = it.key
		for cl := range h.clients {
			h.send(cl, it)
		}
	}
	if n := len(h.ring) - streamReplay; n > 0 {
		k := h.ring[n-1].key
		h.evicted = &k
		h.ring = append(h.ring[:0:0], h.ring[n:]...)
	}
}

// reset starts a new epoch: every client reloads.
func (h *hub) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epoch = newEpoch()
	h.ring, h.evicted, h.last = nil, nil, streamKey{}
	it := streamItem{msg: resetMessage(h.epoch)}
	for cl := range h.clients {
		h.send(cl, it)
	}
}

// send hands it to cl, or drops cl if it is too far behind. h.mu is
// held. An item without its message (nobody listened when it was made)
// is read by the client's own goroutine.
func (h *hub) send(cl *streamClient, it streamItem) {
	select {
	case cl.out <- it:
	default:
		h.api.logger.Warn("Dropping a slow event-stream client; it will reconnect and resume", "queued", len(cl.out))
		h.drop(cl)
	}
}

func (h *hub) drop(cl *streamClient) {
	if _, ok := h.clients[cl]; ok {
		delete(h.clients, cl)
		close(cl.out)
	}
}

// incidentSummary is what an "incident" event carries: enough to redraw
// a row of the incident list. Clients read the incident for the rest.
type incidentSummary struct {
	ID            string     `json:"id"`
	Title         string     `json:"title"`
	Status        string     `json:"status"`
	StartedAt     time.Time  `json:"started_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	Services      []string   `json:"services"`
	Severity      sevSummary `json:"severity"`
	Entries       int        `json:"entries"`
	Suspects      int        `json:"suspects"`
	PagedAt       *time.Time `json:"paged_at"`
	MonitoringGap bool       `json:"monitoring_gap"`
	MergedInto    string     `json:"merged_into,omitempty"`
}

type sevSummary struct {
	Suggested string  `json:"suggested"`
	Effective string  `json:"effective"`
	Override  *string `json:"override"`
}

// message encodes the event for it, reading the incident as it is now.
func (h *hub) message(ctx context.Context, epoch string, it streamItem) []byte {
	var data any
	inc, err := h.api.reader.Incident(ctx, it.incident)
	if err != nil {
		// Gone (or unreadable): say so; the client drops or reloads it.
		data = map[string]string{"id": it.incident, "error": "not found"}
	} else {
		v := correlate.NewView(inc, nil, h.api.cfg(), h.api.now())
		data = incidentSummary{
			ID: v.ID, Title: v.Title, Status: v.Status, StartedAt: v.StartedAt, ResolvedAt: v.ResolvedAt,
			Services: v.Services, Severity: sevSummary{v.Severity.Suggested, v.Severity.Effective, v.Severity.Override},
			Entries: v.Entries, Suspects: len(v.SuspectedCauses), PagedAt: v.PagedAt,
			MonitoringGap: v.MonitoringGap, MergedInto: v.MergedInto,
		}
	}
	return sseMessage(formatID(epoch, it.key), "incident", data)
}

func formatID(epoch string, k streamKey) string {
	return epoch + "." + strconv.FormatUint(k.seq, 10) + "." + strconv.Itoa(k.i)
}

// parseID reads an id formatFormatID wrote.
func parseID(s string) (epoch string, k streamKey, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return "", k, false
	}
	seq, err1 := strconv.ParseUint(parts[1], 10, 64)
	i, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil {
		return "", k, false
	}
	return parts[0], streamKey{seq, i}, true
}

func sseMessage(id, event string, data any) []byte {
	var b bytes.Buffer
	if id != "" {
		fmt.Fprintf(&b, "id: %s\n", id)
	}
	fmt.Fprintf(&b, "event: %s\ndata: ", event)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(data) // ends with the newline that ends the data line
	b.WriteByte('\n')
	return b.Bytes()
}

func resetMessage(epoch string) []byte {
	return sseMessage(formatID(epoch, streamKey{}), "reset", map[string]string{"reason": "the stream cannot be resumed from there; reload"})
}

// subscribe registers a client and returns what it must be sent first:
// the events after lastID, or a reset, then a hello with the position.
// Registering and taking the replay happen under one lock, so nothing is
// missed or sent twice.
func (h *hub) subscribe(lastID string) (*streamClient, []streamItem, string, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= maxStreamClients {
		return nil, nil, "", nil, fmt.Errorf("%d clients are listening already", maxStreamClients)
	}
	cl := &streamClient{out: make(chan streamItem, streamClientBuffer)}
	h.clients[cl] = struct{}{}
	var replay []streamItem
	var first []byte
	if lastID != "" {
		epoch, k, ok := parseID(lastID)
		switch {
		case !ok || epoch != h.epoch || (h.evicted != nil && k.less(*h.evicted)):
			first = resetMessage(h.epoch)
		default:
			for _, it := range h.ring {
				if k.less(it.key) {
					replay = append(replay, it)
				}
			}
		}
	}
	hello := sseMessage(formatID(h.epoch, h.last), "hello", map[string]any{"position": h.last.seq})
	if lastID != "" && first == nil {
		hello = nil // resuming: the id the client holds stays right
	}
	return cl, replay, h.epoch, append(first, hello...), nil
}

func (h *hub) unsubscribe(cl *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(cl)
}

func (a *API) stream(w http.ResponseWriter, r *http.Request) {
	h := a.hub
	if h == nil {
		writeError(w, http.StatusNotImplemented, "the event stream is not enabled on this server")
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	cl, replay, epoch, first, err := h.subscribe(lastID)
	if err != nil {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "event stream: "+err.Error())
		return
	}
	defer h.unsubscribe(cl)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		// The server's write timeout is for ordinary answers; a stream
		// lives as long as its client.
		_ = rc.SetWriteDeadline(time.Now().Add(streamHeartbeat + 10*time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(fmt.Appendf(nil, "retry: %d\n\n", streamRetry.Milliseconds())) || (len(first) > 0 && !write(first)) {
		return
	}
	send := func(it streamItem) bool {
		if it.msg == nil {
			it.msg = h.message(r.Context(), epoch, it)
		}
		return write(it.msg)
	}
	for _, it := range replay {
		if !send(it) {
			return
		}
	}
	tick := time.NewTicker(streamHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case it, ok := <-cl.out:
			if !ok {
				return // dropped: too slow, or the server stops
			}
			if !send(it) {
				return
			}
		case <-tick.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		}
	}
}
