package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sources of events. They are the values of Event.Source and of the
// "source" metric label, so the set is closed.
const (
	SourceAlertmanager = "alertmanager"
	SourcePagerDuty    = "pagerduty"
	SourceDeploy       = "deploy"
	SourceNote         = "note"
	SourceHindsight    = "hindsight"
)

// Kinds of Alertmanager events. Other sources add their own kinds.
const (
	KindAlertFiring   = "alert.firing"
	KindAlertResolved = "alert.resolved"
)

// Event is one thing that happened, normalised from any source. It is what
// the event log stores and what correlation consumes, so it carries
// everything needed to rebuild incidents without the original payload.
type Event struct {
	// ID is stable across redeliveries (see package doc); duplicates are
	// dropped by the log.
	ID     string `json:"id"`
	Source string `json:"source"`
	Kind   string `json:"kind"`
	// At is the event time given by the source.
	At time.Time `json:"at"`
	// ReceivedAt is when Hindsight first received it.
	ReceivedAt time.Time `json:"received_at"`
	// Service is the service the event is attributed to (config
	// service_labels); empty when no label names one.
	Service     string            `json:"service,omitempty"`
	Summary     string            `json:"summary"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Ref         Ref               `json:"ref"`
	// Alert holds what an Alertmanager alert adds; nil for other sources.
	Alert *Alert `json:"alert,omitempty"`
	// PagerDuty holds what a PagerDuty event adds; nil for other sources.
	PagerDuty *PagerDuty `json:"pagerduty,omitempty"`
	// Deploy holds what a deploy step adds; nil for other sources.
	Deploy *Deploy `json:"deploy,omitempty"`
}

// Ref holds the source keys that let a client find where an event landed,
// exactly as the timeline entry's "ref" in the API contract.
type Ref struct {
	Fingerprint         string     `json:"fingerprint,omitempty"`
	StartsAt            *time.Time `json:"starts_at,omitempty"`
	PagerDutyIncidentID string     `json:"pagerduty_incident_id,omitempty"`
	PagerDutyEventID    string     `json:"pagerduty_event_id,omitempty"`
	DeployID            string     `json:"deploy_id,omitempty"`
}

// Alert is the part of an Alertmanager alert that the draft and the
// correlation need beyond labels and annotations.
type Alert struct {
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	Severity     string    `json:"severity,omitempty"`
	StartsAt     time.Time `json:"starts_at"`
	EndsAt       time.Time `json:"ends_at,omitzero"`
	GeneratorURL string    `json:"generator_url,omitempty"`
	Receiver     string    `json:"receiver,omitempty"`
	GroupKey     string    `json:"group_key,omitempty"`
	ExternalURL  string    `json:"external_url,omitempty"`
}

// Validate reports the first missing field that would make the event
// useless downstream; the log refuses such events rather than storing
// half of one.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("event has no id")
	case e.Source == "":
		return errors.New("event has no source")
	case e.Kind == "":
		return errors.New("event has no kind")
	case e.At.IsZero():
		return errors.New("event has no time")
	}
	return nil
}

// EventID derives a stable event ID from a source and the parts of its
// identity. Parts are length-prefixed before hashing so that ("a","bc")
// and ("ab","c") never collide.
func EventID(source string, parts ...string) string {
	h := sha256.New()
	var b strings.Builder
	for _, p := range append([]string{source}, parts...) {
		b.Reset()
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
		h.Write([]byte(b.String()))
	}
	return "ev-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// Sink takes normalised events from a source. Implementations are safe
// for concurrent use.
type Sink interface {
	// Ingest returns nil only once every event is durable and visible to
	// queries; duplicates of stored events count as stored. An error
	// wrapping ErrUnavailable means "try again later" (answer 503).
	Ingest(ctx context.Context, evs ...Event) error
}

// SinkFunc adapts a function to Sink, for tests and for wiring.
type SinkFunc func(ctx context.Context, evs ...Event) error

// Ingest calls f.
func (f SinkFunc) Ingest(ctx context.Context, evs ...Event) error { return f(ctx, evs...) }

// ErrUnavailable marks a transient failure to store: the sender should
// retry (HTTP 503, a NATS nak), never drop the event.
var ErrUnavailable = errors.New("event store unavailable")

// UnavailableError is a transient failure to store that says, in plain
// words fit for the sender, why (Reason: "the disk is nearly full"); the
// cause, which may hold the store's internals, is for the log only.
type UnavailableError struct {
	Reason string
	Err    error
}

// Unavailable wraps cause (which may be nil) as a transient failure whose
// sender is told reason.
func Unavailable(reason string, cause error) error {
	return &UnavailableError{Reason: reason, Err: cause}
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

// Unwrap makes errors.Is(err, ErrUnavailable) hold and reaches the cause.
func (e *UnavailableError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// UnavailableReason is what a sender may be told about err: the reason of
// the outermost UnavailableError in it, or a generic one.
func UnavailableReason(err error) string {
	if ue, ok := errors.AsType[*UnavailableError](err); ok {
		return ue.Reason
	}
	return "try again later"
}
