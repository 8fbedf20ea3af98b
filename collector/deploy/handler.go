package deploy

import (
	"context"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Path is where the handler is mounted.
const Path = "/api/v1/ingest/deploys"

// handler serves POST /api/v1/ingest/deploys.
type handler struct {
	cfg     func() *config.Config
	sink    collector.Sink
	logger  *slog.Logger
	metrics *collector.Metrics
	timeout time.Duration
}

// NewHandler builds the deploy receiver for POST /api/v1/ingest/deploys.
// cfg is called per request so that a reload takes effect at once. The
// optional `format` query parameter names the body's shape (see Decode).
func NewHandler(cfg func() *config.Config, sink collector.Sink, m *collector.Metrics, logger *slog.Logger) http.Handler {
	return &handler{
		cfg:     cfg,
		sink:    sink,
		logger:  logger.With("component", "collector", "source", collector.SourceDeploy),
		metrics: m,
		timeout: 30 * time.Second,
	}
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := h.handle(r)
	collector.Respond(w, h.logger, h.metrics, collector.SourceDeploy, n, err)
}

func (h *handler) handle(r *http.Request) (int, error) {
	cfg := h.cfg()
	format := r.URL.Query().Get("format")
	if re := checkMediaType(r, format); re != nil {
		return 0, re
	}
	body, re := collector.ReadBody(r, int64(cfg.API.MaxBodyBytes))
	if re != nil {
		return 0, re
	}
	evs, err := Decode(body, format, r.Header)
	if err != nil {
		return 0, collector.BadRequest("%v", err)
	}
	if len(evs) == 0 {
		h.logger.Debug("Notification is not a deploy step; ignored", "format", format)
		return 0, nil
	}
	now := time.Now().UTC()
	for i := range evs {
		evs[i].ReceivedAt = now
	}
	// The request's own context would abandon a write that is about to
	// land; bound it instead, and let the sender retry on 503.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.timeout)
	defer cancel()
	if err := h.sink.Ingest(ctx, evs...); err != nil {
		return 0, err
	}
	h.logger.Debug("Deploy notification stored", "events", len(evs), "deploy_id", evs[0].Ref.DeployID)
	return len(evs), nil
}

// checkMediaType asks for JSON, except from senders that cannot send it
// as such: a GitHub webhook may be form-encoded (the JSON is its payload
// field), and an Argo CD webhook sends whatever Content-Type its template
// sets, often none. CloudEvents batches are JSON too.
func checkMediaType(r *http.Request, format string) *collector.RequestError {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case format == FormatArgoCD:
		return nil
	case mt == "application/x-www-form-urlencoded" && (format == FormatGitHub || (format == "" && r.Header.Get("X-GitHub-Event") != "")):
		return nil
	case mt == "application/cloudevents-batch+json":
		return nil
	}
	return collector.CheckJSON(r)
}
