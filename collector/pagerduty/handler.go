package pagerduty

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// SignatureHeader carries the webhook's HMAC-SHA256 signatures, one per
// secret PagerDuty signs with.
const SignatureHeader = "X-PagerDuty-Signature"

// maxSignedBody is the most webhookv3.VerifySignature reads: a longer body
// is cut and could never verify. PagerDuty sends at most 256 KB.
const maxSignedBody = 2 << 20

// Handler serves POST /api/v1/ingest/pagerduty.
type Handler struct {
	intake collector.Intake
	cfg    func() *config.Config
	logger *slog.Logger
}

// NewHandler builds the receiver. cfg is called per request, so a reload
// that adds or rotates webhook secrets takes effect at once. Without
// secrets the handler accepts unsigned webhooks and says so once, here.
func NewHandler(cfg func() *config.Config, sink collector.Sink, m *collector.Metrics, logger *slog.Logger) http.Handler {
	logger = logger.With("component", "collector", "source", collector.SourcePagerDuty)
	h := &Handler{cfg: cfg, logger: logger}
	h.intake = collector.Intake{
		Source:       collector.SourcePagerDuty,
		MaxBodyBytes: func() int64 { return int64(cfg().API.MaxBodyBytes) },
		MaxInFlight:  func() int { return cfg().API.MaxIngestsInFlight },
		Decode:       h.decode,
		Sink:         sink,
		Metrics:      m,
		Logger:       logger,
	}
	if len(secrets(cfg())) == 0 {
		h.logger.Warn("PagerDuty webhook signatures are not checked: pagerduty.webhook_secrets is empty, so anyone who can reach the endpoint can add PagerDuty events")
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.intake.ServeHTTP(w, r) }

// decode checks the signature, then decodes the webhook.
func (h *Handler) decode(r *http.Request, body []byte) ([]collector.Event, error) {
	cfg := h.cfg()
	if s := secrets(cfg); len(s) > 0 {
		if err := verify(r, body, s); err != nil {
			return nil, err
		}
	}
	env, ev, err := DecodeLimited(body, cfg.API.Limits)
	if err != nil {
		return nil, err
	}
	if ev == nil {
		h.logger.Info("PagerDuty webhook subscription tested (pagey.ping)", "webhook_id", r.Header.Get("X-Webhook-Id"))
		return nil, nil
	}
	ev.Service = ServiceFor(cfg, ev.PagerDuty.ServiceID)
	h.logger.Debug("Webhook decoded", "event_type", env.Event.EventType, "event_id", env.Event.ID,
		"incident", ev.Ref.PagerDutyIncidentID, "webhook_id", r.Header.Get("X-Webhook-Id"))
	return []collector.Event{*ev}, nil
}

// secrets returns the configured webhook secrets that are not empty.
func secrets(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.PagerDuty.WebhookSecrets {
		if s != "" {
			out = append(out, string(s))
		}
	}
	return out
}

// verify checks the body's signature against each secret in turn; one
// match is enough (PagerDuty signs with every active secret during a
// rotation, and we may hold the old and the new one). The errors never
// carry a secret.
func verify(r *http.Request, body []byte, secrets []string) error {
	if len(body) > maxSignedBody {
		return &collector.RequestError{Status: http.StatusRequestEntityTooLarge, Reason: collector.ReasonTooLarge,
			Err: fmt.Errorf("body is over %d bytes, the most a PagerDuty signature can be checked on", maxSignedBody)}
	}
	// webhookv3 splits the header on "," without trimming, so a proxy's
	// "v1=a, v1=b" would lose the second signature; several header lines
	// are one list.
	var sigs []string
	for _, v := range r.Header.Values(SignatureHeader) {
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				sigs = append(sigs, s)
			}
		}
	}
	vr := r.Clone(r.Context())
	vr.Header.Set(SignatureHeader, strings.Join(sigs, ","))
	for _, secret := range secrets {
		// ReadBody has consumed r.Body: give the library a fresh reader
		// over the same bytes each time.
		vr.Body = io.NopCloser(bytes.NewReader(body))
		err := webhookv3.VerifySignature(vr, secret)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, webhookv3.ErrNoValidSignatures):
			continue
		case errors.Is(err, webhookv3.ErrMalformedHeader):
			// Unsigned is unauthenticated: 403, like a wrong signature,
			// since secrets are configured.
			return &collector.RequestError{Status: http.StatusForbidden, Reason: collector.ReasonUnauthorized,
				Err: fmt.Errorf("%s: missing, or holds no v1= signature, and pagerduty.webhook_secrets is set", SignatureHeader)}
		case errors.Is(err, webhookv3.ErrMalformedBody):
			return collector.BadRequest("invalid JSON: the body is empty")
		default:
			return collector.BadRequest("%s: %v", SignatureHeader, err)
		}
	}
	return &collector.RequestError{Status: http.StatusForbidden, Reason: collector.ReasonUnauthorized,
		Err: fmt.Errorf("%s: no signature matches a configured webhook secret (pagerduty.webhook_secrets)", SignatureHeader)}
}
