package deploy

import (
	"log/slog"
	"mime"
	"net/http"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Path is where the handler is mounted.
const Path = "/api/v1/ingest/deploys"

// NewHandler builds the deploy receiver for POST /api/v1/ingest/deploys.
// cfg is called per request so that a reload takes effect at once. The
// optional `format` query parameter names the body's shape (see Decode).
func NewHandler(cfg func() *config.Config, sink collector.Sink, m *collector.Metrics, logger *slog.Logger) http.Handler {
	logger = logger.With("component", "collector", "source", collector.SourceDeploy)
	return &collector.Intake{
		Source:       collector.SourceDeploy,
		Check:        func(r *http.Request) *collector.RequestError { return checkMediaType(r, r.URL.Query().Get("format")) },
		MaxBodyBytes: func() int64 { return int64(cfg().API.MaxBodyBytes) },
		MaxInFlight:  func() int { return cfg().API.MaxIngestsInFlight },
		Decode: func(r *http.Request, body []byte) ([]collector.Event, error) {
			format := r.URL.Query().Get("format")
			evs, err := DecodeLimited(body, format, r.Header, cfg().API.Limits)
			if err == nil && len(evs) == 0 {
				logger.Debug("Notification is not a deploy step; ignored", "format", format)
			}
			return evs, err
		},
		Sink:    sink,
		Metrics: m,
		Logger:  logger,
	}
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
