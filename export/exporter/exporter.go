// Package exporter writes post-mortem drafts to the configured sinks on
// its own: export.delay after an incident has resolved (wall clock, so
// late events get in first), again as a new version when it resolves
// again after a reopen, and when its post-mortem is published.
//
// What was exported where is not kept here but in the event log: every
// delivery, and the first failures of one, is a postmortem.exported event
// naming the incident, the sink and the version, which the correlator
// folds into the incident's postmortem.exports. So the state is part of
// the projection: deterministic, visible in the API, kept by a restart or
// a recorrelation, and shared by every replica that reads the same log.
// Versions are numbered from that state: a mark ("resolved 2", "published
// 1") exported before keeps its version, a new one gets the next number.
//
// Only the instance that owns the export task does the timer-driven work
// (lease.Owner, task lease.TaskExport): a single instance always does;
// replicas on one JetStream log hold a lease one at a time, and the
// idempotency keys make a rare double delivery during a hand-over
// harmless.
//
// The exporter learns which incidents changed by reading the log from
// where the projection stood at its start (a full scan first), and keeps
// an in-memory watch list of incidents that are open, waiting out
// export.delay or failing to deliver.
package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/lease"
	"github.com/hindsight-ops/hindsight/export"
	"github.com/hindsight-ops/hindsight/export/sink"
)

// Lookup finds the incident an event joined ("" for none); the store
// implements it.
type Lookup interface {
	IncidentOfEvent(ctx context.Context, eventID string) (string, error)
}

// Setup is what the exporter exports with; the daemon rebuilds it when
// the configuration is reloaded (SetSetup), so a template or sink change
// applies to the next round.
type Setup struct {
	Config    *config.Config
	Renderers *export.RendererSet
	Sinks     []sink.Sink
}

// Options wire an Exporter.
type Options struct {
	Log    correlate.EventLog
	Reader correlate.Reader
	Lookup Lookup
	// Position is the log position the projection has applied; the
	// exporter reads the log from there after its first full scan.
	Position func() uint64
	// Source builds the drafts (view, impact, related incidents).
	Source *export.Source
	// Record appends the postmortem.exported events (the daemon's
	// ingester, which returns once they are applied).
	Record collector.Sink
	// Owner says whether this instance does the exports
	// (lease.TaskExport); nil means lease.Single.
	Owner  lease.Owner
	Logger *slog.Logger
	// Registerer takes the exporter's metrics; nil registers none.
	Registerer prometheus.Registerer

	// Tick is how often due incidents are looked for; 0 follows the
	// configuration (TickFor).
	Tick time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed delivery
	// is tried again (doubling); 0 means 10s and 10m.
	MinBackoff, MaxBackoff time.Duration
	// Rescan is how often every incident is scanned again, as a safety
	// net for changes the log does not tie to an incident; 0 means 1h.
	Rescan time.Duration
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// watched is an incident that may still need exporting.
type watched struct {
	// received is the latest wall-clock arrival of an event of the
	// incident (not the exporter's own bookkeeping): export.delay runs
	// from it, so late events get in first.
	received time.Time
}

// retry is the state of a delivery that failed.
type retry struct {
	attempts int
	next     time.Time
}

// Exporter exports drafts; see the package documentation.
type Exporter struct {
	o     Options
	mu    sync.Mutex // guards setup
	setup Setup

	watch   map[string]*watched
	retries map[string]*retry // incident \x00 sink \x00 version
	pos     uint64
	scanned time.Time
	leading bool

	deliveries *prometheus.CounterVec
	recordErrs prometheus.Counter
	pending    prometheus.Gauge
}

// New builds an exporter; Run starts it.
func New(o Options, s Setup) *Exporter {
	if o.MinBackoff <= 0 {
		o.MinBackoff = 10 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Rescan <= 0 {
		o.Rescan = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Owner == nil {
		o.Owner = lease.Single
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(o.Registerer)
	e := &Exporter{
		o:       o,
		setup:   s,
		watch:   map[string]*watched{},
		retries: map[string]*retry{},
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_export_deliveries_total",
			Help: "Deliveries of post-mortem drafts to sinks, by sink type and result (exported, failed); failed ones are retried.",
		}, []string{"type", "result"}),
		recordErrs: f.NewCounter(prometheus.CounterOpts{
			Name: "hindsight_export_record_errors_total",
			Help: "Exports whose result could not be recorded in the event log (retried; the sinks deduplicate by idempotency key).",
		}),
		pending: f.NewGauge(prometheus.GaugeOpts{
			Name: "hindsight_export_pending_incidents",
			Help: "Incidents the exporter watches: open, waiting out export.delay, or failing to deliver.",
		}),
	}
	for _, t := range []string{config.SinkDirectory, config.SinkWebhook, config.SinkNATS} {
		for _, r := range []string{correlate.ExportExported, correlate.ExportFailed} {
			e.deliveries.WithLabelValues(t, r)
		}
	}
	return e
}

// SetSetup swaps in the setup of a reloaded configuration.
func (e *Exporter) SetSetup(s Setup) {
	e.mu.Lock()
	e.setup = s
	e.mu.Unlock()
}

func (e *Exporter) current() Setup {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.setup
}

// Run exports until ctx is done.
func (e *Exporter) Run(ctx context.Context) error {
	for {
		if err := e.Round(ctx); err != nil && ctx.Err() == nil {
			e.o.Logger.Warn("Export round failed; retrying at the next tick", "err", err)
		}
		tick := e.o.Tick
		if tick <= 0 {
			tick = TickFor(e.current().Config)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tick):
		}
	}
}

// Round does one round of work: learn which incidents changed, then
// export what is due. Run calls it on every tick; tests call it directly.
func (e *Exporter) Round(ctx context.Context) error {
	s := e.current()
	if !e.o.Owner.Owns(lease.TaskExport) {
		e.leading = false
		return nil
	}
	if !e.leading || e.o.Now().Sub(e.scanned) >= e.o.Rescan {
		// Taking over (or starting), and now and then: look at everything.
		if err := e.scan(ctx); err != nil {
			return err
		}
		e.leading = true
	}
	if err := e.follow(ctx); err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(e.watch)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := e.process(ctx, s, id)
		if err != nil {
			e.o.Logger.Warn("Export of an incident failed; retrying later", "incident", id, "err", err)
			continue
		}
		if done {
			delete(e.watch, id)
		}
	}
	e.pending.Set(float64(len(e.watch)))
	return nil
}

// scan puts every incident that may need exporting on the watch list.
func (e *Exporter) scan(ctx context.Context) error {
	pos := e.o.Position()
	now := e.o.Now()
	var found []string
	err := e.o.Reader.ScanIncidents(ctx, "", func(inc *correlate.Incident, _ string) bool {
		if inc.MergedInto == "" && e.watch[inc.ID] == nil && !exportedAll(inc, e.current()) {
			found = append(found, inc.ID)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("scan incidents: %w", err)
	}
	for _, id := range found {
		// export.delay runs from the latest arrival of its events.
		tl, err := e.o.Reader.Timeline(ctx, id)
		if err != nil {
			return fmt.Errorf("scan incidents: %w", err)
		}
		w := &watched{}
		for _, en := range tl {
			if en.Kind != correlate.KindPostmortemExported && en.ReceivedAt.After(w.received) {
				w.received = en.ReceivedAt
			}
		}
		e.watch[id] = w
	}
	if pos > e.pos {
		e.pos = pos
	}
	e.scanned = now
	return nil
}

// exportedAll reports whether inc needs nothing more: every sink has its
// latest resolution (when it is resolved and automatic export is on) and
// its latest publication. It errs towards watching.
func exportedAll(inc *correlate.Incident, s Setup) bool {
	if len(s.Sinks) == 0 {
		return true
	}
	pm := inc.Postmortem
	var marks []string
	if s.Config.Export.OnResolve {
		marks = append(marks, resolvedMark(inc))
	}
	if pm != nil && pm.Published > 0 {
		marks = append(marks, publishedMark(pm))
	}
	for _, m := range marks {
		v, ok := pm.VersionOf(m)
		if !ok {
			return false
		}
		for _, sk := range s.Sinks {
			if x, ok := pm.ExportOf(sk.Name(), v); !ok || x.Status != correlate.ExportExported {
				return false
			}
		}
	}
	return true
}

func resolvedMark(inc *correlate.Incident) string { return "resolved " + strconv.Itoa(inc.Reopens+1) }

func publishedMark(pm *correlate.Postmortem) string { return "published " + strconv.Itoa(pm.Published) }

// follow reads the log past the last position, up to where the
// projection has applied it (so that the incident an event joined is
// known), and watches the incidents its events belong to.
func (e *Exporter) follow(ctx context.Context) error {
	applied := e.o.Position()
	for e.pos < applied {
		evs, err := e.o.Log.Read(ctx, e.pos, 512)
		if err != nil {
			return fmt.Errorf("read the log after %d: %w", e.pos, err)
		}
		if len(evs) == 0 {
			return nil
		}
		for _, le := range evs {
			if le.Seq > applied {
				return nil
			}
			ev := &le.Event
			ids := []string{ev.Labels[correlate.LabelIncidentID]}
			of := []string{ev.ID}
			if ev.Kind == correlate.KindIncidentSplit {
				// The new incident holds the moved events.
				of = append(of, correlate.SplitList(ev.Labels[correlate.LabelEvents])...)
			}
			for _, evID := range of {
				id, err := e.o.Lookup.IncidentOfEvent(ctx, evID)
				if err != nil {
					// A failed read is not "no incident": read on from
					// this event next round.
					return fmt.Errorf("incident of event %s: %w", evID, err)
				}
				ids = append(ids, id)
			}
			bookkeeping := ev.Kind == correlate.KindPostmortemExported
			for _, id := range ids {
				if id == "" {
					continue
				}
				w := e.watch[id]
				if w == nil {
					w = &watched{}
					e.watch[id] = w
				}
				if !bookkeeping && ev.ReceivedAt.After(w.received) {
					w.received = ev.ReceivedAt
				}
			}
			e.pos = le.Seq
		}
	}
	return nil
}

// due is one version to export: what it stands for and its number.
type due struct {
	mark    string
	version int
}

// process exports what is due of incident id. It reports whether the
// incident needs no more watching.
func (e *Exporter) process(ctx context.Context, s Setup, id string) (bool, error) {
	if len(s.Sinks) == 0 {
		return true, nil
	}
	inc, err := e.o.Reader.Incident(ctx, id)
	if errors.Is(err, correlate.ErrNotFound) {
		return true, nil // gone (a recorrelation gave it another id)
	}
	if err != nil {
		return false, err
	}
	if inc.MergedInto != "" {
		return true, nil // its events live on in the incident it joined
	}
	now := e.o.Now()
	cfg := s.Config
	w := e.watch[id]
	var dues []due
	waiting := false
	pm := inc.Postmortem
	next := pm.NextVersion()
	add := func(mark string) {
		v, ok := pm.VersionOf(mark)
		if !ok {
			v = next
			next++
		}
		dues = append(dues, due{mark: mark, version: v})
	}
	if cfg.Export.OnResolve {
		v := correlate.NewView(inc, nil, cfg, now)
		switch {
		case v.Status != correlate.StatusResolved:
			waiting = true // open: watch until it resolves
		case cfg.Export.MaxAge > 0 && v.ResolvedAt != nil && now.Sub(*v.ResolvedAt) > time.Duration(cfg.Export.MaxAge):
			// Ended long ago (a backfill): not exported automatically.
		default:
			// export.delay from the later of its last event's arrival and
			// its resolution, both on the wall clock for live traffic.
			from := inc.LastEnd.Add(time.Duration(cfg.Correlation.ResolveAfter))
			if w != nil && w.received.After(from) {
				from = w.received
			}
			if now.Before(from.Add(time.Duration(cfg.Export.Delay))) {
				waiting = true
			} else {
				add(resolvedMark(inc))
			}
		}
	}
	if pm != nil && pm.Published > 0 {
		add(publishedMark(pm))
	}
	pendingLeft := false
	for _, d := range dues {
		left, err := e.export(ctx, s, inc, d)
		if err != nil {
			return false, err
		}
		pendingLeft = pendingLeft || left
	}
	return !waiting && !pendingLeft, nil
}

// export delivers version d of inc to every sink that does not have it,
// and records each result. It reports whether a delivery is still to be
// retried.
func (e *Exporter) export(ctx context.Context, s Setup, inc *correlate.Incident, d due) (bool, error) {
	now := e.o.Now()
	var todo []sink.Sink
	left := false
	for _, sk := range s.Sinks {
		if x, ok := inc.Postmortem.ExportOf(sk.Name(), d.version); ok && x.Status == correlate.ExportExported {
			continue
		}
		if r := e.retries[retryKey(inc.ID, sk.Name(), d.version)]; r != nil && now.Before(r.next) {
			left = true
			continue
		}
		todo = append(todo, sk)
	}
	if len(todo) == 0 {
		return left, nil
	}
	dl, err := e.render(ctx, s, inc.ID, d.version)
	if err != nil {
		return true, err
	}
	for _, sk := range todo {
		loc, err := sk.Deliver(ctx, dl)
		key := retryKey(inc.ID, sk.Name(), d.version)
		labels := map[string]string{
			correlate.LabelSink:    sk.Name(),
			correlate.LabelVersion: strconv.Itoa(d.version),
			correlate.LabelMark:    d.mark,
		}
		if err == nil {
			delete(e.retries, key)
			e.deliveries.WithLabelValues(sk.Type(), correlate.ExportExported).Inc()
			labels[correlate.LabelStatus] = correlate.ExportExported
			labels[correlate.LabelLocation] = loc
			e.o.Logger.Info("Post-mortem draft exported", "incident", inc.ID, "version", d.version, "sink", sk.Name(), "location", loc)
		} else {
			r := e.retries[key]
			if r == nil {
				r = &retry{}
				e.retries[key] = r
			}
			r.attempts++
			wait := e.o.MinBackoff << min(r.attempts-1, 20)
			r.next = now.Add(min(wait, e.o.MaxBackoff))
			left = true
			e.deliveries.WithLabelValues(sk.Type(), correlate.ExportFailed).Inc()
			e.o.Logger.Warn("Post-mortem draft not exported; retrying", "incident", inc.ID, "version", d.version,
				"sink", sk.Name(), "attempts", r.attempts, "retry_in", r.next.Sub(now), "err", err)
			if r.attempts&(r.attempts-1) != 0 {
				continue // recorded at attempts 1, 2, 4, 8...: the log stays small
			}
			labels[correlate.LabelStatus] = correlate.ExportFailed
			labels[correlate.LabelError] = oneLine(err.Error())
			labels[correlate.LabelAttempts] = strconv.Itoa(r.attempts)
		}
		if err := e.recordResult(ctx, inc, labels); err != nil {
			e.recordErrs.Inc()
			return true, err
		}
	}
	return left, nil
}

func retryKey(id, sinkName string, version int) string {
	return id + "\x00" + sinkName + "\x00" + strconv.Itoa(version)
}

// render builds the draft of incident id as it is now and renders it in
// every configured format.
func (e *Exporter) render(ctx context.Context, s Setup, id string, version int) (sink.Delivery, error) {
	now := e.o.Now()
	_, v, err := e.o.Source.View(ctx, id, now, true)
	if err != nil {
		return sink.Delivery{}, fmt.Errorf("read incident %s: %w", id, err)
	}
	d := export.NewDraft(v, s.Config, now)
	d.Header.ExportVersion = version
	dl := sink.Delivery{IncidentID: id, Version: version}
	for _, f := range s.Config.Export.Formats {
		rd, err := s.Renderers.For(f)
		if err != nil {
			return sink.Delivery{}, err
		}
		var b bytes.Buffer
		if err := rd.Render(&b, d); err != nil {
			return sink.Delivery{}, fmt.Errorf("render the %s draft of %s: %w", f, id, err)
		}
		dl.Files = append(dl.Files, sink.File{Format: f, Name: sink.FileName(id, version, f), ContentType: rd.ContentType(),
			Body: b.Bytes(), Key: sink.Key(id, version, f)})
	}
	return dl, nil
}

// recordResult appends a postmortem.exported event about inc, named like
// every correction, and returns once it is applied.
func (e *Exporter) recordResult(ctx context.Context, inc *correlate.Incident, labels map[string]string) error {
	tl, err := e.o.Reader.Timeline(ctx, inc.ID)
	if err != nil {
		return err
	}
	labels[correlate.LabelIncidentID] = inc.ID
	labels[correlate.LabelAnchorEvents] = correlate.JoinList(correlate.AnchorEvents(tl))
	now := e.o.Now().UTC()
	at := inc.StartedAt
	for _, t := range []time.Time{inc.LastActivity, inc.LastEnd} {
		if t.After(at) {
			at = t
		}
	}
	summary := "post-mortem version " + labels[correlate.LabelVersion] + " " + labels[correlate.LabelStatus] + " to " + labels[correlate.LabelSink]
	ev := collector.Event{
		ID:         collector.EventID(collector.SourceHindsight, inc.ID, correlate.KindPostmortemExported, strconv.FormatInt(now.UnixNano(), 10), summary),
		Source:     collector.SourceHindsight,
		Kind:       correlate.KindPostmortemExported,
		At:         at, // the incident's own time: bookkeeping never moves the watermark
		ReceivedAt: now,
		Summary:    summary,
		Labels:     labels,
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.o.Record.Ingest(rctx, ev); err != nil {
		return fmt.Errorf("record the export of %s: %w", inc.ID, err)
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// NewSetup builds the renderers and sinks of cfg. It fails, naming the
// key and its line in file (the configuration file, "" for none), on a
// template that does not parse or a sink that cannot work, which is what
// --config.check and a reload refuse.
func NewSetup(cfg *config.Config, file string, o sink.Options) (Setup, error) {
	r, err := export.NewRendererSet(cfg, file)
	if err != nil {
		return Setup{}, err
	}
	sinks, err := sink.New(cfg, file, o)
	if err != nil {
		return Setup{}, err
	}
	return Setup{Config: cfg, Renderers: r, Sinks: sinks}, nil
}

// Close releases what the sinks hold (NATS connections).
func (s Setup) Close() {
	for _, sk := range s.Sinks {
		if c, ok := sk.(interface{ Close() }); ok {
			c.Close()
		}
	}
}

// TickFor is how often an exporter with cfg looks for due incidents: a
// quarter of export.delay, between half a second and five seconds.
func TickFor(cfg *config.Config) time.Duration {
	return min(max(time.Duration(cfg.Export.Delay)/4, 500*time.Millisecond), 5*time.Second)
}
