package deploy

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Which shape a body is in is decided here, and only here. The `format`
// query parameter wins; else the headers (formatFromHeaders); else a
// single object's keys (objectFormat); and each object of the generic
// shapes, one alone or an array's element, is read as canonical,
// CloudEvents or CDEvents by its own keys (elementFormat).

// formatFromHeaders names the format the sender's headers announce, or "".
func formatFromHeaders(h http.Header) (string, error) {
	if h == nil {
		return "", nil
	}
	if ev := h.Get("X-GitHub-Event"); ev != "" {
		return FormatGitHub, nil
	}
	if h.Get("Gotk-Component") != "" {
		return FormatFlux, nil
	}
	return "", nil
}

// probe holds the keys that tell the shapes apart.
type probe struct {
	SpecVersion    *string         `json:"specversion"`
	Context        json.RawMessage `json:"context"`
	Subject        json.RawMessage `json:"subject"`
	InvolvedObject json.RawMessage `json:"involvedObject"`
	Reason         json.RawMessage `json:"reason"`
	DeployStatus   json.RawMessage `json:"deployment_status"`
	Deployment     json.RawMessage `json:"deployment"`
	Details        json.RawMessage `json:"details"`
	Content        json.RawMessage `json:"content"`
}

// objectFormat names the foreign shape (GitHub, Flux, Spinnaker) a single
// object sent without a format has, or "" for the generic shapes.
func objectFormat(raw json.RawMessage) string {
	var p probe
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	switch {
	case p.DeployStatus != nil && p.Deployment != nil:
		return FormatGitHub
	case p.InvolvedObject != nil && p.Reason != nil:
		return FormatFlux
	case p.Details != nil && p.Content != nil && bytes.Contains(p.Details, []byte(`"orca:`)):
		return FormatSpinnaker
	}
	return ""
}

// elementFormat names how one object of the generic shapes is read, given
// the format asked for ("", canonical, cloudevents, cdevents or argocd):
// a CloudEvents envelope or a CDEvent is recognised by its keys unless
// the format says otherwise; anything else is read as the asked format.
func elementFormat(p probe, format string) string {
	switch {
	case format == FormatCloudEvents || (format != FormatCDEvents && p.SpecVersion != nil):
		return FormatCloudEvents
	case format == FormatCDEvents || (p.Context != nil && p.Subject != nil && bytes.Contains(p.Context, []byte("dev.cdevents."))):
		return FormatCDEvents
	}
	return format
}
