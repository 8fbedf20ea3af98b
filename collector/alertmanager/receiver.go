// Package alertmanager receives Alertmanager webhook notifications
// (payload version 4) and turns each alert state into a collector.Event.
//
// Alertmanager re-sends the whole group on every flush, so an alert state
// is identified by fingerprint + startsAt + status: the re-sends are
// stored once. Alertmanager retries 5xx and never 4xx, so a 4xx is given
// only for input that can never be stored, and a storage problem is a
// 503.
package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Message is the Alertmanager webhook body, version 4. Our own struct
// rather than Alertmanager's (whose package pulls in 66 modules); unknown
// fields are ignored so that newer Alertmanagers still deliver.
type Message struct {
	Receiver           string            `json:"receiver"`
	Status             string            `json:"status"`
	Alerts             []json.RawMessage `json:"alerts"`
	NotificationReason string            `json:"notification_reason,omitempty"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	RouteLabels        map[string]string `json:"routeLabels,omitempty"`
	ExternalURL        string            `json:"externalURL"`
	Version            string            `json:"version"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    uint64            `json:"truncatedAlerts"`
}

// Alert is one alert of a Message. Times are decoded by hand so that a
// bad one is reported with its field name.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{1,16}$`)

// Decode parses and validates a webhook body within the built-in limits
// (config.DefaultLimits); see DecodeLimited.
func Decode(body []byte) (*Message, []collector.Event, error) {
	return DecodeLimited(body, config.DefaultLimits())
}

// DecodeLimited parses and validates a webhook body and returns its
// events (without ReceivedAt and Service, which the caller sets). Errors
// name the field at fault, such as `alerts[1].startsAt: ...`; a body past
// one of lim's bounds is a *collector.RequestError (413) naming the limit.
func DecodeLimited(body []byte, lim config.Limits) (*Message, []collector.Event, error) {
	var m Message
	if err := collector.DecodeObject(body, "an Alertmanager webhook notification", &m); err != nil {
		return nil, nil, err
	}
	switch {
	case m.Version == "":
		return nil, nil, errors.New(`version: missing; expected "4" (an Alertmanager webhook payload)`)
	case m.Version != "4":
		return nil, nil, fmt.Errorf(`version: unsupported webhook version %q, expected "4"`, m.Version)
	case m.Alerts == nil:
		return nil, nil, errors.New("alerts: missing")
	case len(m.Alerts) == 0:
		return nil, nil, errors.New("alerts: the notification has no alerts")
	}
	if re := collector.CheckCount(lim, "alerts", len(m.Alerts), "alerts"); re != nil {
		re.Err = fmt.Errorf("%w; set max_alerts on the Alertmanager webhook receiver to at most %d", re.Err, lim.MaxAlertsPerNotification)
		return nil, nil, re
	}
	for _, f := range []struct{ name, v string }{
		{"receiver", m.Receiver}, {"groupKey", m.GroupKey}, {"externalURL", m.ExternalURL},
	} {
		if re := collector.CheckText(lim, f.name, f.v); re != nil {
			return nil, nil, re
		}
	}
	evs := make([]collector.Event, 0, len(m.Alerts))
	for i, raw := range m.Alerts {
		ev, err := decodeAlert(&m, raw, lim)
		if err != nil {
			return nil, nil, fmt.Errorf("alerts[%d].%w", i, err)
		}
		evs = append(evs, ev)
	}
	return &m, evs, nil
}

func decodeAlert(m *Message, raw json.RawMessage, lim config.Limits) (collector.Event, error) {
	var a Alert
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return collector.Event{}, fmt.Errorf("(alert): expected an object, got %.20s", t)
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return collector.Event{}, fmt.Errorf("%s: expected %s, got JSON %s", te.Field, collector.JSONType(te.Type.String()), te.Value)
		}
		return collector.Event{}, fmt.Errorf("(alert): expected an object: %w", err)
	}
	if a.Status != "firing" && a.Status != "resolved" {
		return collector.Event{}, fmt.Errorf(`status: %q is neither "firing" nor "resolved"`, a.Status)
	}
	if len(a.Labels) == 0 {
		return collector.Event{}, errors.New("labels: missing or empty; an alert is identified by its labels")
	}
	if re := collector.CheckLabels(lim, "labels", a.Labels); re != nil {
		return collector.Event{}, re
	}
	if re := collector.CheckAnnotations(lim, "annotations", a.Annotations); re != nil {
		return collector.Event{}, re
	}
	if re := collector.CheckText(lim, "generatorURL", a.GeneratorURL); re != nil {
		return collector.Event{}, re
	}
	starts, err := parseTime(a.StartsAt)
	if err != nil || starts.IsZero() {
		if err == nil {
			err = errors.New("missing")
		}
		return collector.Event{}, fmt.Errorf("startsAt: %w", err)
	}
	ends, err := parseTime(a.EndsAt)
	if err != nil {
		return collector.Event{}, fmt.Errorf("endsAt: %w", err)
	}
	if a.Status == "resolved" {
		if ends.IsZero() {
			return collector.Event{}, errors.New("endsAt: a resolved alert needs its end time")
		}
		if ends.Before(starts) {
			return collector.Event{}, fmt.Errorf("endsAt: %s is before startsAt %s", a.EndsAt, a.StartsAt)
		}
	}
	fp := strings.ToLower(a.Fingerprint)
	if fp == "" {
		fp = model.LabelSet(toLabelSet(a.Labels)).Fingerprint().String()
	} else if !fingerprintRE.MatchString(fp) {
		return collector.Event{}, fmt.Errorf("fingerprint: %q is not a hexadecimal Alertmanager fingerprint", a.Fingerprint)
	} else {
		fp = strings.Repeat("0", 16-len(fp)) + fp // one spelling per fingerprint
	}
	name := a.Labels[model.AlertNameLabel]
	if name == "" {
		name = "(unnamed alert)"
	}
	sev := a.Labels["severity"]
	startRef := starts
	ev := collector.Event{
		ID:          collector.EventID(collector.SourceAlertmanager, fp, starts.Format(time.RFC3339Nano), a.Status),
		Source:      collector.SourceAlertmanager,
		Labels:      a.Labels,
		Annotations: a.Annotations,
		Ref:         collector.Ref{Fingerprint: fp, StartsAt: &startRef},
		Alert: &collector.Alert{
			Name:         name,
			Status:       a.Status,
			Severity:     sev,
			StartsAt:     starts,
			EndsAt:       ends,
			GeneratorURL: a.GeneratorURL,
			Receiver:     m.Receiver,
			GroupKey:     m.GroupKey,
			ExternalURL:  m.ExternalURL,
		},
	}
	// Where it fired, when an instance says: an alert on a whole job or
	// an SLO has none, and "(no instance)" is not a place.
	on := ""
	if where := a.Labels["instance"]; where != "" {
		on = " on " + where
	}
	if a.Status == "firing" {
		ev.Kind = collector.KindAlertFiring
		ev.At = starts
		ev.Summary = fmt.Sprintf("%s firing%s", name, on)
	} else {
		ev.Kind = collector.KindAlertResolved
		ev.At = ends
		ev.Summary = fmt.Sprintf("%s resolved%s after %s", name, on, ends.Sub(starts).Round(time.Second))
	}
	if sev != "" {
		ev.Summary += " (" + sev + ")"
	}
	if s := a.Annotations["summary"]; s != "" && a.Status == "firing" {
		ev.Summary += ": " + s
	}
	return ev, nil
}

// jsonKind names the kind of JSON value b starts with.

// jsonType names a Go type the way a sender of JSON thinks of it.

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	if t.Year() <= 1 {
		return time.Time{}, nil // Alertmanager's "not yet resolved"
	}
	return t.UTC(), nil
}

// Handler serves POST /api/v1/ingest/alertmanager.
type Handler struct {
	intake    collector.Intake
	cfg       func() *config.Config
	logger    *slog.Logger
	truncated prometheus.Counter
}

// NewHandler builds the receiver. cfg is called per request so that a
// reload takes effect at once.
func NewHandler(cfg func() *config.Config, sink collector.Sink, m *collector.Metrics, logger *slog.Logger, reg prometheus.Registerer) *Handler {
	logger = logger.With("component", "collector", "source", collector.SourceAlertmanager)
	h := &Handler{
		cfg:    cfg,
		logger: logger,
		truncated: promauto.With(reg).NewCounter(prometheus.CounterOpts{
			Name: "hindsight_collector_alertmanager_truncated_alerts_total",
			Help: "Alerts Alertmanager dropped from notifications because of max_alerts; they never reach Hindsight.",
		}),
	}
	h.intake = collector.Intake{
		Source:       collector.SourceAlertmanager,
		MaxBodyBytes: func() int64 { return int64(cfg().API.MaxBodyBytes) },
		MaxInFlight:  func() int { return cfg().API.MaxIngestsInFlight },
		Decode:       h.decode,
		Sink:         sink,
		Metrics:      m,
		Logger:       logger,
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.intake.ServeHTTP(w, r) }

func (h *Handler) decode(_ *http.Request, body []byte) ([]collector.Event, error) {
	cfg := h.cfg()
	m, evs, err := DecodeLimited(body, cfg.API.Limits)
	if err != nil {
		return nil, err
	}
	if m.TruncatedAlerts > 0 {
		h.truncated.Add(float64(m.TruncatedAlerts))
		h.logger.Warn("Alertmanager truncated a notification; raise max_alerts on the webhook receiver",
			"group_key", m.GroupKey, "truncated_alerts", m.TruncatedAlerts)
	}
	for i := range evs {
		evs[i].Service = cfg.ServiceFor(evs[i].Labels)
	}
	return evs, nil
}
