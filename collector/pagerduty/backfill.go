package pagerduty

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// NewClient returns a go-pagerduty REST client for the API at apiURL
// (config.DefaultPagerDutyAPIURL when empty). Its HTTP client notes the
// ratelimit-reset header of 429 answers, which go-pagerduty's APIError
// does not keep, so that a Backfiller waits exactly as long as PagerDuty
// asks.
func NewClient(token, apiURL string) *gopd.Client {
	if apiURL == "" {
		apiURL = config.DefaultPagerDutyAPIURL
	}
	c := gopd.NewClient(token, gopd.WithAPIEndpoint(strings.TrimRight(apiURL, "/")))
	c.HTTPClient = hintRecorder{next: c.HTTPClient}
	return c
}

// Stats counts what one backfill run did.
type Stats struct {
	// Incidents is how many incidents had their log entries read.
	Incidents int
	// LogEntries is how many log entries were read.
	LogEntries int
	// Events is how many events were handed to the sink and stored; those
	// a webhook already delivered are among them (the sink drops the
	// duplicates).
	Events int
	// Skipped counts log entries that made no event: an unreadable time,
	// or the assignment PagerDuty logs with every trigger (folded into the
	// triggered event, as the webhook has it).
	Skipped int
	// Retries counts API calls repeated after a 429 or a 5xx.
	Retries int
}

// Backfiller reads incidents and their log entries from the PagerDuty
// REST API and stores them as the events their webhooks would have been:
// same kinds, same IDs (see EventKey), so nothing is stored twice.
//
// Which incidents: those created in the window, those open now that were
// updated since the window began, and those that were open at the end of
// the previous Run and are not any more (resolved or merged since: an
// incident created long ago and resolved now would otherwise be missed).
// Log entries are read with is_overview, for the window only.
//
// Log entry types with a webhook counterpart (trigger_log_entry,
// acknowledge_log_entry, ...) become pagerduty.incident.<action>. The
// others (urgency_change_log_entry, snooze_log_entry, notify_log_entry when
// not filtered by is_overview, ...) are kept as pagerduty.log.<type>, with
// the entry's own summary: they are rare with is_overview and a
// post-mortem may want them. The assign_log_entry PagerDuty writes in the
// same second as the trigger is folded into the triggered event's
// assignees, since webhooks send no incident.reassigned for it.
type Backfiller struct {
	cfg    func() *config.Config
	sink   collector.Sink
	logger *slog.Logger

	pageSize    uint
	batchSize   int
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	maxWait     time.Duration // longest ratelimit-reset honoured
	callTimeout time.Duration

	mu     sync.Mutex // one Run at a time
	client *gopd.Client
	open   map[string]gopd.Incident // not resolved at the end of the last Run
}

// NewBackfiller builds a Backfiller. If client was not made by NewClient,
// its HTTPClient is wrapped to note ratelimit-reset (see NewClient); set
// the client up before calling this, and do not change it afterwards.
func NewBackfiller(client *gopd.Client, cfg func() *config.Config, sink collector.Sink, logger *slog.Logger) *Backfiller {
	b := &Backfiller{
		cfg:         cfg,
		sink:        sink,
		logger:      logger.With("component", "collector", "source", collector.SourcePagerDuty),
		pageSize:    100, // PagerDuty's maximum
		batchSize:   200,
		maxAttempts: 8,
		minBackoff:  time.Second,
		maxBackoff:  time.Minute,
		maxWait:     2 * time.Minute,
		callTimeout: time.Minute,
	}
	b.setClient(client)
	return b
}

func (b *Backfiller) setClient(client *gopd.Client) {
	if _, ok := client.HTTPClient.(hintRecorder); !ok {
		client.HTTPClient = hintRecorder{next: client.HTTPClient}
	}
	b.client = client
}

// Run backfills the window [since, until). It returns what it did so far
// with the first error; events already handed to the sink stay stored. A
// 429 is waited out (ratelimit-reset, else backoff from 1s) and retried,
// as is a 5xx, up to 8 attempts per call; ctx ends the wait.
func (b *Backfiller) Run(ctx context.Context, since, until time.Time) (Stats, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var st Stats
	if !until.After(since) {
		return st, fmt.Errorf("backfill window: until %s is not after since %s", until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	since, until = since.UTC(), until.UTC()

	incidents, openNow, err := b.incidents(ctx, since, until, &st)
	if err != nil {
		return st, err
	}
	var batch []collector.Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := b.sink.Ingest(ctx, batch...); err != nil {
			return fmt.Errorf("store %d PagerDuty events: %w", len(batch), err)
		}
		st.Events += len(batch)
		batch = batch[:0]
		return nil
	}
	for _, inc := range incidents {
		entries, err := b.logEntries(ctx, inc.ID, since, until, &st)
		if err != nil {
			return st, err
		}
		st.Incidents++
		st.LogEntries += len(entries)
		evs, skipped := b.eventsOf(inc, entries)
		st.Skipped += skipped
		batch = append(batch, evs...)
		if len(batch) >= b.batchSize {
			if err := flush(); err != nil {
				return st, err
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	b.open = openNow
	return st, nil
}

// incidents lists what to read (see Backfiller) and the incidents open
// now.
func (b *Backfiller) incidents(ctx context.Context, since, until time.Time, st *Stats) ([]gopd.Incident, map[string]gopd.Incident, error) {
	var out []gopd.Incident
	seen := map[string]bool{}
	add := func(inc gopd.Incident) {
		if inc.ID == "" || seen[inc.ID] {
			return
		}
		seen[inc.ID] = true
		out = append(out, inc)
	}
	created, err := b.listIncidents(ctx, gopd.ListIncidentsOptions{
		Since: since.Format(time.RFC3339), Until: until.Format(time.RFC3339), TimeZone: "UTC",
	}, st)
	if err != nil {
		return nil, nil, err
	}
	for _, inc := range created {
		add(inc)
	}
	open, err := b.listIncidents(ctx, gopd.ListIncidentsOptions{
		DateRange: "all", Statuses: []string{"triggered", "acknowledged"}, TimeZone: "UTC",
	}, st)
	if err != nil {
		return nil, nil, err
	}
	openNow := make(map[string]gopd.Incident, len(open))
	for _, inc := range open {
		openNow[inc.ID] = inc
		// An open incident untouched since the window began has nothing
		// to give; without a readable updated_at, read it anyway.
		if t, err := time.Parse(time.RFC3339, cmp.Or(inc.UpdatedAt, inc.LastStatusChangeAt)); err == nil && t.Before(since) {
			continue
		}
		add(inc)
	}
	var closed []gopd.Incident
	for id, inc := range b.open {
		if _, ok := openNow[id]; !ok {
			closed = append(closed, inc)
		}
	}
	slices.SortFunc(closed, func(a, b gopd.Incident) int { return strings.Compare(a.ID, b.ID) })
	for _, inc := range closed {
		add(inc)
	}
	return out, openNow, nil
}

func (b *Backfiller) listIncidents(ctx context.Context, opts gopd.ListIncidentsOptions, st *Stats) ([]gopd.Incident, error) {
	opts.Limit = b.pageSize
	var out []gopd.Incident
	for {
		var res *gopd.ListIncidentsResponse
		err := b.call(ctx, st, "list PagerDuty incidents", func(ctx context.Context) (err error) {
			res, err = b.client.ListIncidentsWithContext(ctx, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Incidents...)
		if !res.More || len(res.Incidents) == 0 {
			return out, nil
		}
		opts.Offset = res.Offset + cmp.Or(res.Limit, uint(len(res.Incidents)))
	}
}

func (b *Backfiller) logEntries(ctx context.Context, incidentID string, since, until time.Time, st *Stats) ([]gopd.LogEntry, error) {
	opts := gopd.ListIncidentLogEntriesOptions{
		Limit: b.pageSize, IsOverview: true, TimeZone: "UTC",
		Since: since.Format(time.RFC3339), Until: until.Format(time.RFC3339),
	}
	var out []gopd.LogEntry
	for {
		var res *gopd.ListIncidentLogEntriesResponse
		err := b.call(ctx, st, "list log entries of PagerDuty incident "+incidentID, func(ctx context.Context) (err error) {
			res, err = b.client.ListIncidentLogEntriesWithContext(ctx, incidentID, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, res.LogEntries...)
		if !res.More || len(res.LogEntries) == 0 {
			return out, nil
		}
		opts.Offset = res.Offset + cmp.Or(res.Limit, uint(len(res.LogEntries)))
	}
}

// call runs one API call, waiting out 429s and 5xx.
func (b *Backfiller) call(ctx context.Context, st *Stats, what string, fn func(context.Context) error) error {
	backoff := b.minBackoff
	for attempt := 1; ; attempt++ {
		hint := new(rateHint)
		err := b.attempt(context.WithValue(ctx, rateHintKey{}, hint), fn)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
		ae, ok := errors.AsType[gopd.APIError](err)
		if !ok || !ae.Temporary() || attempt >= b.maxAttempts {
			return fmt.Errorf("%s: %w", what, err)
		}
		wait := backoff
		if ae.RateLimited() && hint.reset > 0 {
			wait = min(hint.reset, b.maxWait)
		}
		backoff = min(backoff*2, b.maxBackoff)
		st.Retries++
		b.logger.Info("PagerDuty API asked to wait; retrying", "call", what, "status", ae.StatusCode, "wait", wait, "attempt", attempt)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// attempt runs fn with a timeout, turning a panic in the client (its log
// entry decoder panics on some malformed channels) into an error.
func (b *Backfiller) attempt(ctx context.Context, fn func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, b.callTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PagerDuty client failed on the response: %v", p)
		}
	}()
	return fn(ctx)
}

// eventsOf maps an incident's log entries to events.
func (b *Backfiller) eventsOf(inc gopd.Incident, entries []gopd.LogEntry) (evs []collector.Event, skipped int) {
	cfg := b.cfg()
	type timed struct {
		e  gopd.LogEntry
		at time.Time
	}
	var ts []timed
	for _, e := range entries {
		at, err := parseTime(e.CreatedAt)
		if err != nil {
			b.logger.Debug("Log entry skipped", "incident", inc.ID, "log_entry", e.ID, "err", fmt.Errorf("created_at: %w", err))
			skipped++
			continue
		}
		ts = append(ts, timed{e, at})
	}
	// Response order is not a promise: sort by time, then id.
	slices.SortStableFunc(ts, func(a, b timed) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.e.ID, b.e.ID))
	})
	var hs []happening
	trigger := -1
	for _, t := range ts {
		h := logHappening(inc, t.e, t.at)
		switch h.action {
		case "triggered":
			trigger = len(hs)
		case "reassigned":
			if trigger >= 0 && hs[trigger].at.Truncate(time.Second).Equal(h.at.Truncate(time.Second)) {
				if a := h.pd.Assignees; len(a) > 0 && len(hs[trigger].pd.Assignees) == 0 {
					hs[trigger].pd.Assignees = a
				}
				skipped++
				continue
			}
		}
		hs = append(hs, h)
	}
	now := time.Now().UTC()
	for i := range hs {
		ev := hs[i].event()
		ev.ReceivedAt = now
		ev.Service = ServiceFor(cfg, ev.PagerDuty.ServiceID)
		evs = append(evs, ev)
	}
	return evs, skipped
}

// logHappening reads a REST log entry into the form shared with webhooks,
// taking the incident's details from the incident list.
func logHappening(inc gopd.Incident, e gopd.LogEntry, at time.Time) happening {
	h := happening{
		at:         at,
		incidentID: cmp.Or(e.Incident.ID, inc.ID),
		sourceID:   e.ID,
	}
	if action, ok := logEntryActions[e.Type]; ok {
		h.action, h.eventType = action, "incident."+action
	} else {
		h.action, h.eventType = e.Type, "log."+e.Type
		h.detail = e.Summary
	}
	set(&h.pd.LogEntryType, e.Type)
	set(&h.pd.Agent, e.Agent.Summary)
	set(&h.pd.AgentType, e.Agent.Type)

	num, title := splitIncidentSummary(e.Incident.Summary)
	if inc.IncidentNumber > 0 {
		num = strconv.FormatUint(uint64(inc.IncidentNumber), 10)
	}
	set(&h.pd.IncidentNumber, num)
	set(&h.pd.Title, cmp.Or(inc.Title, title))
	set(&h.pd.HTMLURL, cmp.Or(inc.HTMLURL, e.Incident.HTMLURL))
	set(&h.pd.IncidentKey, inc.IncidentKey)
	set(&h.pd.Urgency, inc.Urgency)
	set(&h.pd.EscalationPolicy, inc.EscalationPolicy.Summary)
	if inc.Priority != nil {
		set(&h.pd.Priority, cmp.Or(inc.Priority.Summary, inc.Priority.Name))
	}
	if e.Service.ID != "" {
		set(&h.pd.ServiceID, e.Service.ID)
		set(&h.pd.ServiceName, e.Service.Summary)
	} else {
		set(&h.pd.ServiceID, inc.Service.ID)
		set(&h.pd.ServiceName, inc.Service.Summary)
	}
	switch h.action {
	case "triggered", "unacknowledged":
		set(&h.pd.Status, "triggered")
	case "acknowledged":
		set(&h.pd.Status, "acknowledged")
	case "resolved":
		set(&h.pd.Status, "resolved")
	case "annotated":
		set(&h.pd.Note, channelString(e.Channel, "content", "summary"))
	}
	for _, a := range e.Assignees {
		if s := cmp.Or(a.Summary, a.ID); s != "" {
			h.pd.Assignees = append(h.pd.Assignees, s)
		}
	}
	return h
}

// channelString returns the first of the channel's keys that holds a
// string.
func channelString(c gopd.Channel, keys ...string) string {
	for _, k := range keys {
		if s, ok := c.Raw[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// rateHint carries the wait a 429 asked for from the HTTP client back to
// the caller, through the request's context.
type rateHint struct{ reset time.Duration }

type rateHintKey struct{}

// hintRecorder notes the ratelimit-reset (or Retry-After) header of a 429
// in the rateHint of the request's context.
type hintRecorder struct{ next gopd.HTTPClient }

func (h hintRecorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := h.next.Do(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if hint, ok := req.Context().Value(rateHintKey{}).(*rateHint); ok {
			hint.reset = resetAfter(resp.Header)
		}
	}
	return resp, err
}

// resetAfter reads how long PagerDuty asks to wait: ratelimit-reset in
// seconds (docs/REST-API/04-Rate-Limits.md), else Retry-After in seconds;
// 0 when neither is usable.
func resetAfter(h http.Header) time.Duration {
	for _, k := range []string{"Ratelimit-Reset", "Retry-After"} {
		v := strings.TrimSpace(h.Get(k))
		if v == "" {
			continue
		}
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 24*3600 {
			return time.Duration(s * float64(time.Second))
		}
	}
	return 0
}

// RunEvery backfills the last 2×interval now and then every interval,
// until ctx ends; one missed round is thus covered by the next. Errors
// are logged and the next round tried.
func (b *Backfiller) RunEvery(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("backfill interval %s is not positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		b.round(ctx, interval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (b *Backfiller) round(ctx context.Context, interval time.Duration) {
	now := time.Now()
	st, err := b.Run(ctx, now.Add(-2*interval), now)
	if err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("PagerDuty backfill failed; trying again next round", "err", err,
				"incidents", st.Incidents, "events", st.Events)
		}
		return
	}
	b.logger.Debug("PagerDuty backfill done", "incidents", st.Incidents, "log_entries", st.LogEntries,
		"events", st.Events, "skipped", st.Skipped, "retries", st.Retries)
}

// Poller runs the backfill on pagerduty.poll_interval. It reads the
// configuration every round, so a reload that changes the interval, the
// token file or the API URL (or rotates the token in its file) applies
// from the next round; without an interval or a token file it idles.
type Poller struct {
	// Owns, when set, is asked before each round: with several replicas,
	// only the one that holds the polling lease polls (the daemon sets
	// it from correlate/lease); nil polls always.
	Owns func() bool

	cfg    func() *config.Config
	sink   collector.Sink
	logger *slog.Logger
	idle   time.Duration

	b      *Backfiller
	token  string
	apiURL string
}

// NewPoller builds a Poller; Run starts it.
func NewPoller(cfg func() *config.Config, sink collector.Sink, logger *slog.Logger) *Poller {
	return &Poller{cfg: cfg, sink: sink, logger: logger, idle: time.Minute}
}

// Run polls until ctx ends, then returns ctx.Err().
func (p *Poller) Run(ctx context.Context) error {
	for {
		wait := p.idle
		c := p.cfg().PagerDuty
		if interval := time.Duration(c.PollInterval); interval > 0 && c.APITokenFile != "" {
			wait = interval
			if p.Owns != nil && !p.Owns() {
				// Another replica polls; ask again soon, so that this one
				// takes over quickly when it holds the lease.
				wait = min(interval, 5*time.Second)
			} else if err := p.prepare(c); err != nil {
				p.logger.Warn("PagerDuty backfill skipped", "component", "collector", "source", collector.SourcePagerDuty, "err", err)
			} else {
				p.b.round(ctx, interval)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// prepare (re)builds the client when the token or the API URL changed,
// keeping the Backfiller's memory of open incidents.
func (p *Poller) prepare(c config.PagerDuty) error {
	token, err := c.APIToken()
	if err != nil {
		return err
	}
	if p.b != nil && token == p.token && c.APIURL == p.apiURL {
		return nil
	}
	client := NewClient(token, c.APIURL)
	if p.b == nil {
		p.b = NewBackfiller(client, p.cfg, p.sink, p.logger)
	} else {
		p.b.mu.Lock()
		p.b.setClient(client)
		p.b.mu.Unlock()
	}
	p.token, p.apiURL = token, c.APIURL
	return nil
}
