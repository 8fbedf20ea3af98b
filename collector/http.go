package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hindsight-ops/hindsight/config"
)

// Reasons a request or message is rejected; the values of the "reason"
// label, so the set is closed.
const (
	ReasonBadRequest   = "bad_request"
	ReasonTooLarge     = "too_large"
	ReasonMediaType    = "unsupported_media_type"
	ReasonUnauthorized = "unauthorized"
	ReasonUnavailable  = "unavailable"
	// ReasonBusy is a request turned away because api.max_ingests_in_flight
	// requests of its source were being handled (503, Retry-After).
	ReasonBusy = "busy"
)

// IngestWait is how long a request waits for one of the
// api.max_ingests_in_flight slots of its source before it is answered 503
// with Retry-After. A waiting request holds a connection but not its
// body, which is read only once it has a slot.
const IngestWait = 5 * time.Second

// Metrics are the intake metrics every source shares, labelled by source,
// so a dashboard compares sources on the same series.
type Metrics struct {
	Received *prometheus.CounterVec
	Rejected *prometheus.CounterVec
	// InFlight is the requests being read, decoded and stored now.
	InFlight *prometheus.GaugeVec
}

// NewMetrics registers the intake metrics and pre-initialises them for
// the given sources so that their series exist at zero.
func NewMetrics(reg prometheus.Registerer, sources ...string) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		Received: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_collector_events_received_total",
			Help: "Events received and acknowledged as durable, duplicates included, by source.",
		}, []string{"source"}),
		Rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_collector_requests_rejected_total",
			Help: "Requests or messages not accepted, by source and reason.",
		}, []string{"source", "reason"}),
		InFlight: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hindsight_collector_requests_in_flight",
			Help: "Intake requests being read, decoded and stored now, by source (at most api.max_ingests_in_flight each).",
		}, []string{"source"}),
	}
	for _, s := range sources {
		m.Received.WithLabelValues(s)
		m.InFlight.WithLabelValues(s)
		for _, r := range []string{ReasonBadRequest, ReasonTooLarge, ReasonMediaType, ReasonUnauthorized, ReasonUnavailable, ReasonBusy} {
			m.Rejected.WithLabelValues(s, r)
		}
	}
	return m
}

// Intake is the HTTP handler of one source's ingestion endpoint, in the
// shape every source shares: check the request before reading it (the
// media type), read the body within the limit (413 past it), decode it (a
// 4xx naming what is wrong), store the events (503 with Retry-After when
// the store cannot take them, so the sender retries) and answer 200 only
// once they are durable. A source provides its Decode step and, where its
// senders need one, its own Check.
type Intake struct {
	// Source is the events' source, the "source" label of the metrics.
	Source string
	// Check rejects a request before its body is read; nil accepts what
	// CheckJSON accepts.
	Check func(r *http.Request) *RequestError
	// MaxBodyBytes returns the body limit (api.max_body_bytes). It is
	// called per request, so that a reload applies at once.
	MaxBodyBytes func() int64
	// MaxInFlight returns api.max_ingests_in_flight, per request like
	// MaxBodyBytes; nil means config.DefaultMaxIngestsInFlight. Requests
	// past it wait up to IngestWait for a slot, then get 503.
	MaxInFlight func() int
	// Wait bounds the wait for a slot; IngestWait when zero.
	Wait time.Duration
	// Decode turns a body into events (Intake sets their ReceivedAt). An
	// error is answered 400 with its text, which must name the problem;
	// a *RequestError is answered with its own status (a bad signature is
	// a 403). No events and no error is a 200 that stores nothing (a
	// ping, a notification that is not about anything we keep).
	Decode func(r *http.Request, body []byte) ([]Event, error)
	Sink   Sink
	// Metrics count what is received and rejected; Logger says why.
	Metrics *Metrics
	Logger  *slog.Logger
	// Timeout bounds storing one request's events; 30s when zero.
	Timeout time.Duration

	inFlight gate
}

// ServeHTTP implements http.Handler.
func (h *Intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := h.serve(r)
	Respond(w, h.Logger, h.Metrics, h.Source, n, err)
}

func (h *Intake) serve(r *http.Request) (int, error) {
	check := h.Check
	if check == nil {
		check = CheckJSON
	}
	if re := check(r); re != nil {
		return 0, re
	}
	limit := config.DefaultMaxIngestsInFlight
	if h.MaxInFlight != nil {
		limit = h.MaxInFlight()
	}
	wait := h.Wait
	if wait <= 0 {
		wait = IngestWait
	}
	wctx, cancel := context.WithTimeout(r.Context(), wait)
	ok := h.inFlight.acquire(wctx, limit)
	cancel()
	if !ok {
		return 0, &RequestError{Status: http.StatusServiceUnavailable, Reason: ReasonBusy,
			Err: fmt.Errorf("%d requests are being stored already, the limit (api.max_ingests_in_flight); retry later", limit)}
	}
	defer h.inFlight.release()
	if h.Metrics != nil {
		g := h.Metrics.InFlight.WithLabelValues(h.Source)
		g.Inc()
		defer g.Dec()
	}
	body, re := ReadBody(r, h.MaxBodyBytes())
	if re != nil {
		return 0, re
	}
	evs, err := h.Decode(r, body)
	if err != nil {
		if re, ok := errors.AsType[*RequestError](err); ok {
			// The whole message: decoders prefix the field's place.
			return 0, &RequestError{Status: re.Status, Reason: re.Reason, Err: err}
		}
		return 0, BadRequest("%v", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	for i := range evs {
		evs[i].ReceivedAt = now
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// The request's own context would abandon a write that is about to
	// land; bound it instead, and let the sender retry on 503.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	if err := h.Sink.Ingest(ctx, evs...); err != nil {
		return 0, err
	}
	h.Logger.Debug("Events stored", "events", len(evs), "first_event", evs[0].ID)
	return len(evs), nil
}

// RequestError is an intake failure with the HTTP status it deserves and
// the reason label it is counted under.
type RequestError struct {
	Status int
	Reason string
	Err    error
}

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// BadRequest builds a 400 whose message names the problem.
func BadRequest(format string, a ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Reason: ReasonBadRequest, Err: fmt.Errorf(format, a...)}
}

// CheckJSON rejects a body that is not declared as JSON: a sender that
// posts something else is misconfigured and should hear so.
func CheckJSON(r *http.Request) *RequestError {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/cloudevents+json") {
		return &RequestError{Status: http.StatusUnsupportedMediaType, Reason: ReasonMediaType,
			Err: fmt.Errorf("content type %q is not application/json", ct)}
	}
	return nil
}

// maxDrain is how much of an oversized body is read and thrown away
// before answering 413. Clients that send the whole body before reading
// the answer (most do) then see the 413 instead of a reset connection.
const maxDrain = 64 << 20

// ReadBody reads at most limit bytes and answers 413 past that, so one
// sender cannot exhaust memory.
func ReadBody(r *http.Request, limit int64) ([]byte, *RequestError) {
	tooLarge := func() *RequestError {
		_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
		return &RequestError{Status: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge,
			Err: fmt.Errorf("body is over the limit of %d bytes (api.max_body_bytes)", limit)}
	}
	if r.ContentLength > limit {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, BadRequest("read body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge()
	}
	return body, nil
}

// Respond writes the outcome of an intake request: 200 with a JSON
// summary on success, the RequestError's status with {"error": ...}
// otherwise, and 503 with Retry-After when the store could not take the
// events (the sender retries; the retry is deduplicated).
func Respond(w http.ResponseWriter, logger *slog.Logger, m *Metrics, source string, accepted int, err error) {
	if err == nil {
		m.Received.WithLabelValues(source).Add(float64(accepted))
		WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "accepted": accepted})
		return
	}
	if re, ok := errors.AsType[*RequestError](err); ok {
		m.Rejected.WithLabelValues(source, re.Reason).Inc()
		logger.Debug("Request rejected", "source", source, "reason", re.Reason, "err", re.Err)
		if re.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		WriteJSON(w, re.Status, map[string]string{"error": re.Error()})
		return
	}
	m.Rejected.WithLabelValues(source, ReasonUnavailable).Inc()
	logger.Warn("Events not stored; sender told to retry", "source", source, "err", err)
	WriteUnavailable(w, err)
}

// WriteUnavailable answers 503 with Retry-After for a failure to store.
// The body says why in plain words (UnavailableReason), never the
// store's internals: the caller logs err itself.
func WriteUnavailable(w http.ResponseWriter, err error) {
	w.Header().Set("Retry-After", "5")
	WriteJSON(w, http.StatusServiceUnavailable, map[string]string{
		"error": "the event store cannot accept writes right now: " + UnavailableReason(err)})
}

// WriteJSON writes v as the JSON response body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
