// Package deploy receives deploy notifications, over HTTP
// (POST /api/v1/ingest/deploys) and from NATS, and turns each step of a
// deploy into a collector.Event.
//
// # Identity
//
// A deploy is one run of one service to one environment, named by the
// sender's `id`; each step of it (started, then succeeded, failed or
// rolled_back) is a separate message with the same id. The event ID is
// derived from id + status only, so a step sent twice (a retried webhook,
// a NATS redelivery, a replayed stream) is the same event and the log
// stores it once, while the steps of one deploy stay distinct and share
// Ref.DeployID.
//
// Foreign shapes are mapped onto the canonical event (deploy-event.md)
// with a stable id of their own: GitHub `github:<repo>:<deployment id>`,
// Flux `flux:<kind>/<namespace>/<name>:<revision>`, Spinnaker
// `spinnaker:<execution id>`, CDEvents `cdevents:<source>:<context id>`.
//
// # Delivery
//
// Over HTTP the answer is 200 only once the sink has made every event
// durable; 400 (never retried by senders) for input that can never be
// stored, 503 with Retry-After when the store is unavailable.
//
// On JetStream (a stream is configured, always in embedded mode) the
// durable pull consumer acknowledges a message only after the sink
// returned nil, and waits for the server to confirm the ack; a message
// that cannot be decoded is terminated (never redelivered), a sink error
// is answered with a delayed nak so the message comes back. This is
// at-least-once; the event ID makes it effectively once. MaxDeliver
// (config nats.max_deliver) bounds the redeliveries of a message the sink
// keeps refusing. Publishers may set the Nats-Msg-Id header so the stream
// itself drops repeats within its duplicate window; since every step of a
// deploy shares the id, the header must be `<id>:<status>`, not the bare
// id, or the stream would drop the second step.
//
// Without a stream (an external NATS server and no nats.stream) deploys
// are read from a plain core subscription: at-most-once, anything
// published while Hindsight is down or while the store refuses it is
// lost.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Statuses of a deploy step.
const (
	StatusStarted    = "started"
	StatusSucceeded  = "succeeded"
	StatusFailed     = "failed"
	StatusRolledBack = "rolled_back"
)

// Kinds of deploy events: "deploy." + status.
const (
	KindStarted    = "deploy." + StatusStarted
	KindSucceeded  = "deploy." + StatusSucceeded
	KindFailed     = "deploy." + StatusFailed
	KindRolledBack = "deploy." + StatusRolledBack
)

// Formats a body can be in; the values of the `format` query parameter.
const (
	FormatCanonical   = "canonical"
	FormatCloudEvents = "cloudevents"
	FormatCDEvents    = "cdevents"
	FormatGitHub      = "github"
	FormatArgoCD      = "argocd"
	FormatFlux        = "flux"
	FormatSpinnaker   = "spinnaker"
)

var formats = []string{FormatCanonical, FormatCloudEvents, FormatCDEvents, FormatGitHub, FormatArgoCD, FormatFlux, FormatSpinnaker}

// Deploy is the canonical deploy event (deploy-event.md). Times are kept
// as text so that a bad one is reported with its field name.
type Deploy struct {
	ID              string            `json:"id"`
	Service         string            `json:"service"`
	Environment     string            `json:"environment,omitempty"`
	Version         string            `json:"version,omitempty"`
	PreviousVersion string            `json:"previous_version,omitempty"`
	Status          string            `json:"status"`
	At              string            `json:"at"`
	Author          string            `json:"author,omitempty"`
	Commit          string            `json:"commit,omitempty"`
	URL             string            `json:"url,omitempty"`
	Description     string            `json:"description,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// Decode parses and validates a deploy body and returns its events
// (without ReceivedAt, which the caller sets). The shape is chosen by
// format when it is not empty (one of the Format constants), else by the
// headers (X-GitHub-Event, Gotk-Component, Ce-Specversion,
// Content-Type application/cloudevents+json), else by the shape of the
// body. Errors name the field at fault, such as `[2].id: missing`.
//
// A foreign notification that is not a deploy step (a GitHub ping or an
// `inactive` status, a Flux event about something else, a Spinnaker stage
// event) yields no events and no error: the sender did nothing wrong.
func Decode(body []byte, format string, headers http.Header) ([]collector.Event, error) {
	format = strings.ToLower(strings.TrimSpace(format))
	if format == "" {
		var err error
		if format, err = formatFromHeaders(headers); err != nil {
			return nil, err
		}
	}
	switch format {
	case "", FormatCanonical, FormatCloudEvents, FormatCDEvents, FormatArgoCD:
		return decodeGeneric(body, format)
	case FormatGitHub:
		return decodeGitHub(body, headers)
	case FormatFlux:
		return decodeFlux(body)
	case FormatSpinnaker:
		return decodeSpinnaker(body)
	}
	return nil, fmt.Errorf("format: %q is not one of %s", format, strings.Join(formats, ", "))
}

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

// topLevel splits a body into its objects: one for an object, each
// element for an array. arr reports whether it was an array.
func topLevel(body []byte) (objs []json.RawMessage, arr bool, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(body))
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := dec.Decode(&objs); err != nil {
			return nil, true, collector.JSONError(body, err)
		}
		arr = true
		if len(objs) == 0 {
			return nil, true, errors.New("the array has no deploy events")
		}
	} else {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false, collector.JSONError(body, err)
		}
		objs = []json.RawMessage{raw}
	}
	if dec.More() {
		return nil, arr, errors.New("invalid JSON: data after the top-level value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, arr, errors.New("invalid JSON: data after the top-level value")
	}
	return objs, arr, nil
}

// unmarshalObject decodes one JSON object into v, naming the field of a
// type error.
func unmarshalObject(raw json.RawMessage, v any) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		kind := strings.TrimPrefix(strings.TrimPrefix(collector.JSONKind(t), "a "), "an ")
		return fmt.Errorf("expected an object, got JSON %s", kind)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return collector.JSONError(raw, err)
	}
	return nil
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

// decodeGeneric handles the canonical event, CloudEvents and CDEvents,
// one object or an array (each element detected on its own), and the
// foreign single objects detected by shape.
func decodeGeneric(body []byte, format string) ([]collector.Event, error) {
	objs, arr, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	if !arr && format == "" {
		var p probe
		if json.Unmarshal(objs[0], &p) == nil {
			switch {
			case p.DeployStatus != nil && p.Deployment != nil:
				return decodeGitHub(body, nil)
			case p.InvolvedObject != nil && p.Reason != nil:
				return decodeFlux(body)
			case p.Details != nil && p.Content != nil && bytes.Contains(p.Details, []byte(`"orca:`)):
				return decodeSpinnaker(body)
			}
		}
	}
	evs := make([]collector.Event, 0, len(objs))
	for i, raw := range objs {
		ev, ok, err := decodeOne(raw, format)
		if err != nil {
			if arr {
				return nil, prefix(fmt.Sprintf("[%d]", i), err)
			}
			return nil, err
		}
		if ok {
			evs = append(evs, ev)
		}
	}
	return evs, nil
}

func decodeOne(raw json.RawMessage, format string) (collector.Event, bool, error) {
	var p probe
	if err := unmarshalObject(raw, &p); err != nil {
		// Report a type error against the canonical fields.
		var d Deploy
		if err2 := unmarshalObject(raw, &d); err2 != nil {
			return collector.Event{}, false, err2
		}
		return collector.Event{}, false, err
	}
	switch {
	case format == FormatCloudEvents || (format != FormatCDEvents && p.SpecVersion != nil):
		return decodeCloudEvent(raw)
	case format == FormatCDEvents || (p.Context != nil && p.Subject != nil && bytes.Contains(p.Context, []byte("dev.cdevents."))):
		return decodeCDEvent(raw, "")
	}
	var d Deploy
	if err := unmarshalObject(raw, &d); err != nil {
		return collector.Event{}, false, err
	}
	if format == FormatArgoCD {
		argoFixup(&d)
	}
	ev, err := d.Event()
	return ev, err == nil, err
}

// argoFixup accepts what an Argo CD notification template most easily
// produces: an operationState phase as status, and no tool label.
func argoFixup(d *Deploy) {
	switch d.Status {
	case "Running":
		d.Status = StatusStarted
	case "Succeeded":
		d.Status = StatusSucceeded
	case "Failed", "Error":
		d.Status = StatusFailed
	}
	if d.Labels["tool"] == "" {
		d.Labels = withLabel(d.Labels, "tool", "argocd")
	}
}

func withLabel(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// Validate checks the required fields and returns the step time. Errors
// name the field.
func (d *Deploy) Validate() (time.Time, error) {
	switch {
	case strings.TrimSpace(d.ID) == "":
		return time.Time{}, errors.New("id: missing")
	case strings.TrimSpace(d.Service) == "":
		return time.Time{}, errors.New("service: missing")
	case d.At == "":
		return time.Time{}, errors.New("at: missing")
	case d.Status == "":
		return time.Time{}, errors.New("status: missing")
	}
	switch d.Status {
	case StatusStarted, StatusSucceeded, StatusFailed, StatusRolledBack:
	default:
		return time.Time{}, fmt.Errorf("status: %q is not one of started, succeeded, failed, rolled_back", d.Status)
	}
	at, err := time.Parse(time.RFC3339Nano, d.At)
	if err != nil {
		return time.Time{}, fmt.Errorf("at: %q is not an RFC 3339 time", d.At)
	}
	if at.Year() <= 1 {
		return time.Time{}, fmt.Errorf("at: %q is not a real time", d.At)
	}
	return at.UTC(), nil
}

// Event validates d and maps it onto a collector.Event (without
// ReceivedAt).
func (d *Deploy) Event() (collector.Event, error) {
	at, err := d.Validate()
	if err != nil {
		return collector.Event{}, err
	}
	// A sender's label named like a typed field (version, author, ...)
	// fills the field when the event leaves it empty, as it did when the
	// fields were labels; it is not kept twice.
	p := collector.Lift(collector.SourceDeploy, d.Labels, nil)
	info := p.Deploy
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&info.Environment, d.Environment}, {&info.Version, d.Version}, {&info.PreviousVersion, d.PreviousVersion},
		{&info.Author, d.Author}, {&info.Commit, d.Commit}, {&info.URL, d.URL}, {&info.Description, d.Description},
	} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	var labels map[string]string
	if len(p.Labels) > 0 {
		labels = make(map[string]string, len(p.Labels))
		for k, v := range p.Labels {
			labels[k] = v
		}
	}
	return collector.Event{
		ID:      collector.EventID(collector.SourceDeploy, d.ID, d.Status),
		Source:  collector.SourceDeploy,
		Kind:    "deploy." + d.Status,
		At:      at,
		Service: d.Service,
		Summary: d.Summary(),
		Labels:  labels,
		Deploy:  info,
		Ref:     collector.Ref{DeployID: d.ID},
	}, nil
}

// Summary is the one-line timeline text of the step, such as
// "checkout v2.3.1 deploy succeeded (dana, 9f1c2e7)" or
// "checkout rolled back to v2.3.0".
func (d *Deploy) Summary() string {
	var b strings.Builder
	b.WriteString(d.Service)
	if d.Status == StatusRolledBack {
		if d.PreviousVersion != "" {
			b.WriteString(" rolled back to " + d.PreviousVersion)
		} else if d.Version != "" {
			b.WriteString(" " + d.Version + " rolled back")
		} else {
			b.WriteString(" deploy rolled back")
		}
		if d.Author != "" {
			b.WriteString(" (" + d.Author + ")")
		}
		return b.String()
	}
	if d.Version != "" {
		b.WriteString(" " + d.Version)
	}
	b.WriteString(" deploy " + d.Status)
	var who []string
	if d.Author != "" {
		who = append(who, d.Author)
	}
	if d.Commit != "" {
		who = append(who, shortCommit(d.Commit))
	}
	if len(who) > 0 {
		b.WriteString(" (" + strings.Join(who, ", ") + ")")
	}
	return b.String()
}

func shortCommit(c string) string {
	if len(c) >= 40 && isHex(c) {
		return c[:7]
	}
	return c
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// cloudEvent is a CloudEvents 1.0 structured-mode JSON envelope.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject"`
	Time        string          `json:"time"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
}

func decodeCloudEvent(raw json.RawMessage) (collector.Event, bool, error) {
	var ce cloudEvent
	if err := unmarshalObject(raw, &ce); err != nil {
		return collector.Event{}, false, err
	}
	switch {
	case ce.SpecVersion == "":
		return collector.Event{}, false, errors.New("specversion: missing (a CloudEvents envelope)")
	case ce.SpecVersion != "1.0":
		return collector.Event{}, false, fmt.Errorf("specversion: %q is not supported, expected \"1.0\"", ce.SpecVersion)
	case ce.Type == "":
		return collector.Event{}, false, errors.New("type: missing (a CloudEvents envelope)")
	case ce.Data == nil || string(bytes.TrimSpace(ce.Data)) == "null":
		if ce.DataBase64 != "" {
			return collector.Event{}, false, errors.New("data_base64: binary data is not supported; send the deploy event as JSON data")
		}
		return collector.Event{}, false, errors.New("data: missing")
	}
	if strings.HasPrefix(ce.Type, "dev.cdevents.") {
		ev, ok, err := decodeCDEvent(ce.Data, ce.Type)
		if err != nil {
			return ev, ok, prefix("data", err)
		}
		return ev, ok, nil
	}
	var d Deploy
	if err := unmarshalObject(ce.Data, &d); err != nil {
		return collector.Event{}, false, prefix("data", err)
	}
	// The envelope supplies what the data leaves out.
	if d.At == "" {
		d.At = ce.Time
	}
	if d.Service == "" {
		d.Service = ce.Subject
	}
	ev, err := d.Event()
	if err != nil {
		return collector.Event{}, false, prefix("data", err)
	}
	return ev, true, nil
}

// prefix puts path in front of a field error ("id: missing" becomes
// "data.id: missing").
func prefix(path string, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " ") {
		return fmt.Errorf("%s.%w", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// cdEvent is the part of a CDEvents (v0.3/v0.4) service event we use.
type cdEvent struct {
	Context struct {
		Version   string `json:"version"`
		ID        string `json:"id"`
		Source    string `json:"source"`
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
	} `json:"context"`
	Subject struct {
		ID      string `json:"id"`
		Source  string `json:"source"`
		Content struct {
			Environment struct {
				ID     string `json:"id"`
				Source string `json:"source"`
			} `json:"environment"`
			ArtifactID string `json:"artifactId"`
		} `json:"content"`
	} `json:"subject"`
	CustomData json.RawMessage `json:"customData"`
}

// decodeCDEvent maps service.deployed and service.upgraded onto
// succeeded and service.rolledback onto rolled_back. ceType is the
// CloudEvents type when the CDEvent came as CloudEvents data.
func decodeCDEvent(raw json.RawMessage, ceType string) (collector.Event, bool, error) {
	var c cdEvent
	if err := unmarshalObject(raw, &c); err != nil {
		return collector.Event{}, false, err
	}
	typ := c.Context.Type
	if typ == "" {
		typ = ceType
	}
	var status string
	switch {
	case typ == "":
		return collector.Event{}, false, errors.New("context.type: missing (a CDEvent)")
	case strings.HasPrefix(typ, "dev.cdevents.service.deployed."), strings.HasPrefix(typ, "dev.cdevents.service.upgraded."):
		status = StatusSucceeded
	case strings.HasPrefix(typ, "dev.cdevents.service.rolledback."):
		status = StatusRolledBack
	default:
		return collector.Event{}, false, fmt.Errorf("context.type: %q is not a deploy CDEvent (dev.cdevents.service.deployed, upgraded or rolledback)", typ)
	}
	switch {
	case c.Context.ID == "":
		return collector.Event{}, false, errors.New("context.id: missing")
	case c.Subject.ID == "":
		return collector.Event{}, false, errors.New("subject.id: missing (the service)")
	case c.Context.Timestamp == "":
		return collector.Event{}, false, errors.New("context.timestamp: missing")
	}
	d := Deploy{
		ID:          "cdevents:" + c.Context.Source + ":" + c.Context.ID,
		Service:     c.Subject.ID,
		Environment: c.Subject.Content.Environment.ID,
		Version:     purlVersion(c.Subject.Content.ArtifactID),
		Status:      status,
		At:          c.Context.Timestamp,
		Labels:      map[string]string{"tool": "cdevents"},
	}
	if c.Context.Source != "" {
		d.Labels["cdevents_source"] = c.Context.Source
	}
	if a := c.Subject.Content.ArtifactID; a != "" {
		d.Labels["artifact"] = a
	}
	ev, err := d.Event()
	if err != nil {
		if strings.HasPrefix(err.Error(), "at:") {
			return collector.Event{}, false, fmt.Errorf("context.timestamp: %q is not an RFC 3339 time", c.Context.Timestamp)
		}
		return collector.Event{}, false, err
	}
	return ev, true, nil
}

// purlVersion returns the version of a package URL: the tag qualifier
// when there is one (an OCI image), else what follows '@'.
func purlVersion(purl string) string {
	if purl == "" {
		return ""
	}
	rest, query, _ := strings.Cut(purl, "?")
	if q, err := url.ParseQuery(query); err == nil && q.Get("tag") != "" {
		return q.Get("tag")
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		v := rest[i+1:]
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		v, _, _ = strings.Cut(v, "#")
		return v
	}
	return ""
}

// gitHubPayload is the part of a GitHub deployment_status webhook we use.
type gitHubPayload struct {
	DeploymentStatus *struct {
		State       string `json:"state"`
		Description string `json:"description"`
		Environment string `json:"environment"`
		TargetURL   string `json:"target_url"`
		LogURL      string `json:"log_url"`
		CreatedAt   string `json:"created_at"`
		UpdatedAt   string `json:"updated_at"`
	} `json:"deployment_status"`
	Deployment *struct {
		ID          json.Number     `json:"id"`
		SHA         string          `json:"sha"`
		Ref         string          `json:"ref"`
		Environment string          `json:"environment"`
		Description *string         `json:"description"`
		Payload     json.RawMessage `json:"payload"`
		Creator     *struct {
			Login string `json:"login"`
		} `json:"creator"`
	} `json:"deployment"`
	Repository *struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		HTMLURL  string `json:"html_url"`
	} `json:"repository"`
	Sender *struct {
		Login string `json:"login"`
	} `json:"sender"`
}

// decodeGitHub maps a deployment_status webhook. The service is
// deployment.payload.service when the workflow sets it, else the
// repository name. A form-encoded body (the webhook's other content type)
// carries the JSON in its payload field.
func decodeGitHub(body []byte, headers http.Header) ([]collector.Event, error) {
	if headers != nil {
		switch ev := headers.Get("X-GitHub-Event"); ev {
		case "", "deployment_status":
		case "ping":
			return nil, nil
		default:
			return nil, fmt.Errorf("X-GitHub-Event: %q is not deployment_status; subscribe the webhook to deployment statuses only", ev)
		}
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' && t[0] != '[' {
		if form, err := url.ParseQuery(string(t)); err == nil && form.Has("payload") {
			body = []byte(form.Get("payload"))
		}
	}
	objs, arr, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	if arr {
		return nil, errors.New("expected a GitHub deployment_status webhook object, got an array")
	}
	var g gitHubPayload
	if err := unmarshalObject(objs[0], &g); err != nil {
		return nil, err
	}
	switch {
	case g.DeploymentStatus == nil:
		return nil, errors.New("deployment_status: missing (a GitHub deployment_status webhook)")
	case g.Deployment == nil:
		return nil, errors.New("deployment: missing")
	case g.Deployment.ID == "":
		return nil, errors.New("deployment.id: missing")
	}
	ds, dp := g.DeploymentStatus, g.Deployment
	var status string
	switch ds.State {
	case "queued", "pending", "in_progress":
		status = StatusStarted
	case "success":
		status = StatusSucceeded
	case "failure", "error":
		status = StatusFailed
	case "inactive":
		return nil, nil // superseded by a later deployment: not a step
	case "":
		return nil, errors.New("deployment_status.state: missing")
	default:
		return nil, fmt.Errorf("deployment_status.state: %q is not one of queued, pending, in_progress, success, failure, error, inactive", ds.State)
	}
	var repo, repoName, repoURL string
	if g.Repository != nil {
		repo, repoName, repoURL = g.Repository.FullName, g.Repository.Name, g.Repository.HTMLURL
	}
	service := repoName
	var payload struct {
		Service string `json:"service"`
	}
	if len(dp.Payload) > 0 && dp.Payload[0] == '{' && json.Unmarshal(dp.Payload, &payload) == nil && payload.Service != "" {
		service = payload.Service
	}
	if service == "" {
		return nil, errors.New("deployment.payload.service: missing, and no repository.name to use instead")
	}
	d := Deploy{
		ID:          "github:" + repo + ":" + dp.ID.String(),
		Service:     service,
		Environment: ds.Environment,
		Version:     dp.Ref,
		Status:      status,
		At:          ds.UpdatedAt,
		Commit:      dp.SHA,
		URL:         ds.TargetURL,
		Description: ds.Description,
		Labels:      map[string]string{"tool": "github"},
	}
	if d.Environment == "" {
		d.Environment = dp.Environment
	}
	if d.At == "" {
		d.At = ds.CreatedAt
	}
	if d.URL == "" {
		d.URL = ds.LogURL
	}
	if d.Description == "" && dp.Description != nil {
		d.Description = *dp.Description
	}
	if dp.Creator != nil {
		d.Author = dp.Creator.Login
	} else if g.Sender != nil {
		d.Author = g.Sender.Login
	}
	if repo != "" {
		d.Labels["repository"] = repo
	}
	if repoURL != "" {
		d.Labels["repository_url"] = repoURL
	}
	ev, err := d.Event()
	if err != nil {
		if strings.HasPrefix(err.Error(), "at:") {
			return nil, fmt.Errorf("deployment_status.updated_at: %q is not an RFC 3339 time", d.At)
		}
		return nil, fmt.Errorf("github deployment_status: %w", err)
	}
	return []collector.Event{ev}, nil
}

// fluxEvent is a Flux notification-controller event (eventv1.Event).
type fluxEvent struct {
	InvolvedObject *struct {
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace"`
		Name       string `json:"name"`
		UID        string `json:"uid"`
		APIVersion string `json:"apiVersion"`
	} `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Timestamp           string            `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Metadata            map[string]string `json:"metadata"`
	ReportingController string            `json:"reportingController"`
}

// fluxStatus maps the reasons that are deploy steps; other reasons
// (artifact fetched, dependency not ready, ...) are not deploys.
var fluxStatus = map[string]string{
	"Progressing":             StatusStarted,
	"InstallSucceeded":        StatusSucceeded,
	"UpgradeSucceeded":        StatusSucceeded,
	"ReconciliationSucceeded": StatusSucceeded,
	"InstallFailed":           StatusFailed,
	"UpgradeFailed":           StatusFailed,
	"ReconciliationFailed":    StatusFailed,
	"HealthCheckFailed":       StatusFailed,
	"RollbackSucceeded":       StatusRolledBack,
}

// decodeFlux maps a Flux event (Provider type generic or generic-hmac).
// The service is the involved object's name; its namespace, kind and
// controller become labels; the revision from the metadata is the
// version (a `main@sha1:<sha>` revision also gives the commit).
func decodeFlux(body []byte) ([]collector.Event, error) {
	objs, arr, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	if arr {
		return nil, errors.New("expected a Flux event object, got an array")
	}
	var f fluxEvent
	if err := unmarshalObject(objs[0], &f); err != nil {
		return nil, err
	}
	switch {
	case f.InvolvedObject == nil:
		return nil, errors.New("involvedObject: missing (a Flux event)")
	case f.InvolvedObject.Name == "":
		return nil, errors.New("involvedObject.name: missing")
	case f.Reason == "":
		return nil, errors.New("reason: missing")
	}
	status, ok := fluxStatus[f.Reason]
	if !ok {
		return nil, nil
	}
	var revision string
	for k, v := range f.Metadata {
		if strings.HasSuffix(k, "/revision") {
			revision = v
		}
	}
	if revision == "" && status == StatusSucceeded && f.Reason == "ReconciliationSucceeded" {
		return nil, nil // a periodic reconciliation that changed nothing
	}
	o := f.InvolvedObject
	d := Deploy{
		ID:          "flux:" + o.Kind + "/" + o.Namespace + "/" + o.Name + ":" + revision,
		Service:     o.Name,
		Version:     revision,
		Status:      status,
		At:          f.Timestamp,
		Description: f.Message,
		Labels:      map[string]string{"tool": "flux"},
	}
	if ref, sha, ok := strings.Cut(revision, "@sha1:"); ok {
		d.Commit = sha
		d.Version = ref + "@" + shortCommit(sha)
	}
	for k, v := range map[string]string{"namespace": o.Namespace, "kind": o.Kind, "controller": f.ReportingController} {
		if v != "" {
			d.Labels[k] = v
		}
	}
	ev, err := d.Event()
	if err != nil {
		if strings.HasPrefix(err.Error(), "at:") {
			if f.Timestamp == "" {
				return nil, errors.New("timestamp: missing")
			}
			return nil, fmt.Errorf("timestamp: %q is not an RFC 3339 time", f.Timestamp)
		}
		return nil, fmt.Errorf("flux event: %w", err)
	}
	return []collector.Event{ev}, nil
}

// spinnakerEvent is a Spinnaker Echo event as its rest listener sends it.
type spinnakerEvent struct {
	Details *struct {
		Source      string `json:"source"`
		Type        string `json:"type"`
		Created     string `json:"created"`
		Application string `json:"application"`
	} `json:"details"`
	Content struct {
		ExecutionID string `json:"executionId"`
		Execution   *struct {
			ID             string      `json:"id"`
			Application    string      `json:"application"`
			Name           string      `json:"name"`
			Status         string      `json:"status"`
			StartTime      json.Number `json:"startTime"`
			EndTime        json.Number `json:"endTime"`
			Authentication struct {
				User string `json:"user"`
			} `json:"authentication"`
			Trigger struct {
				Type string `json:"type"`
				Tag  string `json:"tag"`
				User string `json:"user"`
			} `json:"trigger"`
		} `json:"execution"`
	} `json:"content"`
}

// decodeSpinnaker maps orca pipeline events: starting → started,
// complete → succeeded (failed unless the status is SUCCEEDED), failed →
// failed. Stage and task events are not deploy steps.
func decodeSpinnaker(body []byte) ([]collector.Event, error) {
	objs, arr, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	if arr {
		return nil, errors.New("expected a Spinnaker echo event object, got an array")
	}
	var s spinnakerEvent
	if err := unmarshalObject(objs[0], &s); err != nil {
		return nil, err
	}
	if s.Details == nil {
		return nil, errors.New("details: missing (a Spinnaker echo event)")
	}
	ex := s.Content.Execution
	var status string
	switch s.Details.Type {
	case "orca:pipeline:starting":
		status = StatusStarted
	case "orca:pipeline:complete":
		status = StatusSucceeded
		if ex != nil && ex.Status != "" && ex.Status != "SUCCEEDED" {
			status = StatusFailed
		}
	case "orca:pipeline:failed":
		status = StatusFailed
	case "":
		return nil, errors.New("details.type: missing")
	default:
		return nil, nil
	}
	if ex == nil {
		return nil, errors.New("content.execution: missing")
	}
	id := ex.ID
	if id == "" {
		id = s.Content.ExecutionID
	}
	if id == "" {
		return nil, errors.New("content.execution.id: missing")
	}
	app := ex.Application
	if app == "" {
		app = s.Details.Application
	}
	at, err := spinnakerTime(s.Details.Created, ex.EndTime, ex.StartTime, status)
	if err != nil {
		return nil, err
	}
	d := Deploy{
		ID:          "spinnaker:" + id,
		Service:     app,
		Version:     ex.Trigger.Tag,
		Status:      status,
		At:          at,
		Author:      ex.Authentication.User,
		Description: ex.Name,
		Labels:      map[string]string{"tool": "spinnaker"},
	}
	if d.Author == "" {
		d.Author = ex.Trigger.User
	}
	if ex.Name != "" {
		d.Labels["pipeline"] = ex.Name
	}
	ev, err := d.Event()
	if err != nil {
		if strings.HasPrefix(err.Error(), "service:") {
			return nil, errors.New("content.execution.application: missing")
		}
		return nil, fmt.Errorf("spinnaker event: %w", err)
	}
	return []collector.Event{ev}, nil
}

// spinnakerTime picks the step time from epoch milliseconds: the event's
// creation, else the execution's end (or start for a started step).
func spinnakerTime(created string, end, start json.Number, status string) (string, error) {
	cands := []struct {
		field, v string
	}{{"details.created", created}}
	if status == StatusStarted {
		cands = append(cands, struct{ field, v string }{"content.execution.startTime", start.String()})
	} else {
		cands = append(cands, struct{ field, v string }{"content.execution.endTime", end.String()})
	}
	for _, c := range cands {
		if c.v == "" || c.v == "0" {
			continue
		}
		ms, err := strconv.ParseInt(c.v, 10, 64)
		if err != nil || ms < 0 || ms > 1e14 {
			return "", fmt.Errorf("%s: %q is not a time in epoch milliseconds", c.field, c.v)
		}
		return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), nil
	}
	return "", errors.New("details.created: missing")
}
