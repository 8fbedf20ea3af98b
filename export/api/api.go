// Package api serves Hindsight's versioned query API (/api/v1/...):
// incidents with their timelines, the normalised event log and the
// post-mortem drafts. It reads the projection through correlate.Reader
// and renders drafts through export, so correlate stays free of HTTP.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/export"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
	// maxScan bounds how many stored items one list request examines, so
	// that a filter matching nothing cannot scan the whole store.
	maxScan = 50000
)

// API is the query API. Register it on a mux; it is safe for concurrent
// use.
type API struct {
	reader correlate.Reader
	// sink takes people's corrections, which are events; rebuild
	// recomputes the projection. Either may be nil (read-only API).
	sink    collector.Sink
	rebuild func(context.Context) error
	// impact measures an incident's impact queries; nil leaves the numbers
	// out.
	impact    Measurer
	renderers func() *export.RendererSet
	cfg       func() *config.Config
	logger    *slog.Logger
	now       func() time.Time
	// sem caps concurrent expensive GETs so that queries cannot starve
	// ingestion of CPU.
	sem chan struct{}
	// hub serves the event stream (SetStream); nil until then.
	hub *hub
	// listBytes is where a list page stops early (maxListBytes); tests
	// lower it.
	listBytes atomic.Int64
}

// Measurer runs impact queries over an incident's window (the Prometheus
// querier in correlate/impact); errors come back as text for the draft.
type Measurer = export.Measurer

// SetImpact makes single-incident answers and drafts carry impact numbers.
func (a *API) SetImpact(m Measurer) { a.impact = m }

// SetRenderers makes drafts render with the configuration's renderers
// (export.template_file); without it they use the built-in ones.
func (a *API) SetRenderers(r func() *export.RendererSet) { a.renderers = r }

// New builds the API. cfg is called per request so reloads apply at once.
// sink receives corrections (notes, overrides, curation) as events;
// rebuild serves recorrelation. Both may be nil for a read-only API.
func New(r correlate.Reader, sink collector.Sink, rebuild func(context.Context) error, cfg func() *config.Config, logger *slog.Logger) *API {
	a := &API{
		reader:  r,
		sink:    sink,
		rebuild: rebuild,
		cfg:     cfg,
		logger:  logger.With("component", "api"),
		now:     time.Now,
		sem:     make(chan struct{}, 16),
	}
	a.listBytes.Store(maxListBytes)
	return a
}

// Routes returns the API's routes as method+pattern to handler, so the
// caller can instrument each under its pattern (a bounded label).
func (a *API) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /api/v1/incidents":                            a.limited(a.listIncidents),
		"GET /api/v1/incidents/{id}":                       a.limited(a.getIncident),
		"GET /api/v1/incidents/{id}/postmortem":            a.limited(a.postmortem),
		"GET /api/v1/events":                               a.limited(a.listEvents),
		"GET /api/v1/incidents/{id}/timeline":              a.limited(a.getTimeline),
		"GET /api/v1/incidents/{id}/postmortem.md":         a.limited(a.postmortemMarkdown),
		"POST /api/v1/incidents/{id}/notes":                a.addNote,
		"PATCH /api/v1/incidents/{id}":                     a.patchIncident,
		"PATCH /api/v1/incidents/{id}/entries/{entry}":     a.patchEntry,
		"POST /api/v1/incidents/{id}/merge":                a.merge,
		"POST /api/v1/incidents/{id}/split":                a.split,
		"POST /api/v1/recorrelate":                         a.recorrelate,
		"PATCH /api/v1/incidents/{id}/postmortem":          a.patchPostmortem,
		"POST /api/v1/incidents/{id}/postmortem/reviews":   a.addReview,
		"POST /api/v1/incidents/{id}/postmortem/publish":   a.publish,
		"POST /api/v1/incidents/{id}/action-items":         a.addActionItem,
		"PATCH /api/v1/incidents/{id}/action-items/{item}": a.patchActionItem,
		"GET /api/v1/action-items":                         a.limited(a.listActionItems),
		// Long-lived, so outside the query limit; bounded on its own.
		"GET /api/v1/stream":       a.stream,
		"GET /api/v1/openapi.json": a.openapi,
	}
}

func (a *API) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case a.sem <- struct{}{}:
			defer func() { <-a.sem }()
			h(w, r)
		case <-r.Context().Done():
			writeError(w, http.StatusServiceUnavailable, "too many concurrent queries")
		}
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	collector.WriteJSON(w, status, map[string]string{"error": msg})
}

func (a *API) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, correlate.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, correlate.ErrBadCursor):
		writeError(w, http.StatusBadRequest, "cursor: "+err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away.
	default:
		a.logger.Error("Query failed", "err", err)
		writeError(w, http.StatusInternalServerError, "internal error: "+err.Error())
	}
}

type listParams struct {
	limit        int
	cursor       string
	since, until time.Time
}

func parseList(q map[string][]string) (listParams, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := listParams{limit: defaultLimit, cursor: get("cursor")}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return p, fmt.Errorf("limit: %q is not a number from 1 to %d", s, maxLimit)
		}
		p.limit = n
	}
	var err error
	if p.since, err = parseTime("since", get("since")); err != nil {
		return p, err
	}
	if p.until, err = parseTime("until", get("until")); err != nil {
		return p, err
	}
	if !p.since.IsZero() && !p.until.IsZero() && p.since.After(p.until) {
		return p, fmt.Errorf("since: %s is after until %s", p.since.UTC().Format(time.RFC3339), p.until.UTC().Format(time.RFC3339))
	}
	return p, nil
}

// parseTime accepts RFC 3339 or a Prometheus duration meaning "that long
// ago" (since=2h), which is what people type.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Now().Add(-time.Duration(d)), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a duration such as 2h", name, s)
}

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseList(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	status := q.Get("status")
	if status != "" && status != correlate.StatusOpen && status != correlate.StatusResolved {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not open or resolved", status))
		return
	}
	severity := strings.ToUpper(q.Get("severity"))
	if severity != "" && !slices.Contains([]string{"SEV1", "SEV2", "SEV3", "SEV4", "SEV5"}, severity) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("severity: %q is not one of SEV1..SEV5", q.Get("severity")))
		return
	}
	service := q.Get("service")
	cfg := a.cfg()
	now := a.now()
	ls := newListStream(w, "incidents", a.listBytes.Load())
	var pg page
	iq := correlate.IncidentQuery{Service: service, Open: status == correlate.StatusOpen,
		OpenSince: now.Add(-time.Duration(cfg.Correlation.ResolveAfter)), Since: p.since, Until: p.until}
	err = a.scanIncidents(r.Context(), iq, p.cursor, func(inc *correlate.Incident, cur string) bool {
		if !pg.scan(cur) {
			return false
		}
		if !p.until.IsZero() && inc.StartedAt.After(p.until) {
			return true
		}
		v := correlate.NewView(inc, nil, cfg, now)
		end := now
		if v.ResolvedAt != nil {
			end = *v.ResolvedAt
		}
		if !p.since.IsZero() && end.Before(p.since) {
			return true
		}
		if (status != "" && v.Status != status) || (service != "" && !slices.Contains(v.Services, service)) ||
			(severity != "" && v.Severity.Effective != severity) {
			return true
		}
		return pg.add(ls, p.limit, v, cur)
	})
	a.finishList(w, ls, &pg, err)
}

func (a *API) view(ctx context.Context, id string) (*correlate.View, error) {
	_, v, err := a.source().View(ctx, id, a.now(), false)
	return v, err
}

// fullView is one incident as its own answer and its post-mortem show it:
// the view with the earlier incidents that look like it.
func (a *API) fullView(ctx context.Context, id string) (*correlate.View, error) {
	_, v, err := a.source().View(ctx, id, a.now(), true)
	return v, err
}

func (a *API) source() *export.Source {
	return &export.Source{Reader: a.reader, Impact: a.impact, Config: a.cfg}
}

func (a *API) getIncident(w http.ResponseWriter, r *http.Request) {
	v, err := a.fullView(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	collector.WriteJSON(w, http.StatusOK, v)
}

func (a *API) getTimeline(w http.ResponseWriter, r *http.Request) {
	v, err := a.view(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	// Entry by entry: a long incident's timeline is its largest answer.
	ls := newListStream(w, "timeline", 0)
	for _, e := range v.Timeline {
		if ls.add(e) != nil {
			return
		}
	}
	_ = ls.finish("")
}

func (a *API) postmortem(w http.ResponseWriter, r *http.Request) {
	switch aud := r.URL.Query().Get("audience"); aud {
	case "", export.AudienceInternal:
		a.renderDraft(w, r, r.URL.Query().Get("format"))
	case export.AudienceCustomer:
		a.renderCustomer(w, r, r.URL.Query().Get("format"))
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("audience: %q is not internal or customer", aud))
	}
}

// renderCustomer answers the customer-facing variant of the post-mortem.
func (a *API) renderCustomer(w http.ResponseWriter, r *http.Request, format string) {
	if format == "" {
		format = "markdown"
	}
	if _, err := export.ForFormat(format); err != nil {
		writeError(w, http.StatusBadRequest, "format: "+err.Error())
		return
	}
	v, err := a.view(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	var b strings.Builder
	ct, err := export.RenderCustomer(&b, format, export.NewCustomerNotice(v, a.cfg(), a.now()))
	if err != nil {
		a.fail(w, fmt.Errorf("render the customer %s variant: %w", format, err))
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write([]byte(b.String()))
}

func (a *API) postmortemMarkdown(w http.ResponseWriter, r *http.Request) {
	a.renderDraft(w, r, "markdown")
}

func (a *API) renderDraft(w http.ResponseWriter, r *http.Request, format string) {
	if format == "" {
		format = "markdown"
	}
	var set *export.RendererSet
	if a.renderers != nil {
		set = a.renderers()
	}
	rd, err := set.For(format)
	if err != nil {
		writeError(w, http.StatusBadRequest, "format: "+err.Error())
		return
	}
	v, err := a.fullView(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return
	}
	d := export.NewDraft(v, a.cfg(), a.now())
	var b strings.Builder
	if err := rd.Render(&b, d); err != nil {
		a.fail(w, fmt.Errorf("render %s draft: %w", format, err))
		return
	}
	w.Header().Set("Content-Type", rd.ContentType())
	_, _ = w.Write([]byte(b.String()))
}

// EventView is an event as the events API lists it.
type EventView struct {
	ID         string        `json:"id"`
	Seq        uint64        `json:"seq"`
	At         time.Time     `json:"at"`
	ReceivedAt time.Time     `json:"received_at"`
	Source     string        `json:"source"`
	Kind       string        `json:"kind"`
	Service    string        `json:"service"`
	Summary    string        `json:"summary"`
	Ref        collector.Ref `json:"ref"`
	IncidentID *string       `json:"incident_id"`
	// Labels include the event's typed parts under their label names, as
	// this answer has always shown them (collector.Payload.Flatten).
	Labels map[string]string `json:"labels,omitempty"`
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseList(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	source, service, incident := q.Get("source"), q.Get("service"), q.Get("incident")
	ls := newListStream(w, "events", a.listBytes.Load())
	var pg page
	indexed := true
	err = a.scanEvents(r.Context(), correlate.EventQuery{Source: source, Service: service, Incident: incident, Since: p.since, Until: p.until},
		p.cursor, &indexed, func(er correlate.EventRecord, cur string) bool {
			if !pg.scan(cur) {
				return false
			}
			ev := er.Event
			if (source != "" && ev.Source != source) || (service != "" && ev.Service != service) ||
				(!p.since.IsZero() && ev.At.Before(p.since)) || (!p.until.IsZero() && ev.At.After(p.until)) ||
				// The index answers the events on the incident's
				// timeline; a scan knows only the incident each joined.
				(!indexed && incident != "" && er.IncidentID != incident) {
				return true
			}
			v := EventView{ID: ev.ID, Seq: er.Seq, At: ev.At.UTC(), ReceivedAt: ev.ReceivedAt.UTC(), Source: ev.Source,
				Kind: ev.Kind, Service: ev.Service, Summary: ev.Summary, Ref: ev.Ref, Labels: ev.FlatLabels()}
			if er.IncidentID != "" {
				id := er.IncidentID
				v.IncidentID = &id
			}
			return pg.add(ls, p.limit, v, cur)
		})
	a.finishList(w, ls, &pg, err)
}

// scanEvents lists events from the reader's indexes when it has them
// (newest first by event time), else by a scan of the log (newest first
// by position), and says which in indexed.
func (a *API) scanEvents(ctx context.Context, q correlate.EventQuery, cursor string, indexed *bool, fn func(correlate.EventRecord, string) bool) error {
	if eq, ok := a.reader.(correlate.EventQuerier); ok {
		err := eq.QueryEvents(ctx, q, cursor, fn)
		if !errors.Is(err, errors.ErrUnsupported) {
			*indexed = true
			return err
		}
	}
	*indexed = false
	return a.reader.ScanEvents(ctx, cursor, fn)
}

// scanIncidents lists the incidents that may match q from the reader's
// indexes when it has them, else all of them; the caller filters.
func (a *API) scanIncidents(ctx context.Context, q correlate.IncidentQuery, cursor string, fn func(*correlate.Incident, string) bool) error {
	if iq, ok := a.reader.(correlate.IncidentQuerier); ok {
		return iq.QueryIncidents(ctx, q, cursor, fn)
	}
	return a.reader.ScanIncidents(ctx, cursor, fn)
}
