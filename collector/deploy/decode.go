package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
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

// Decode is DecodeLimited within the built-in limits
// (config.DefaultLimits).
func Decode(body []byte, format string, headers http.Header) ([]collector.Event, error) {
	return DecodeLimited(body, format, headers, config.DefaultLimits())
}

// DecodeLimited parses and validates a deploy body and returns its events
// (without ReceivedAt, which the caller sets). The shape is chosen by
// format when it is not empty (one of the Format constants), else by the
// headers (X-GitHub-Event, Gotk-Component, Ce-Specversion,
// Content-Type application/cloudevents+json), else by the shape of the
// body. Errors name the field at fault, such as `[2].id: missing`.
//
// A foreign notification that is not a deploy step (a GitHub ping or an
// `inactive` status, a Flux event about something else, a Spinnaker stage
// event) yields no events and no error: the sender did nothing wrong.
//
// Bodies are held to collector.CheckJSONText (UTF-8, no NUL, no key
// twice), and their events to lim: a batch past
// api.max_alerts_per_notification, or an event past a label or text
// limit, is a *collector.RequestError (413) naming the limit and the
// event (by its index in a batch).
func DecodeLimited(body []byte, format string, headers http.Header, lim config.Limits) ([]collector.Event, error) {
	evs, err := decode(body, format, headers)
	if err != nil {
		return nil, err
	}
	if re := collector.CheckCount(lim, "", len(evs), "deploy events"); re != nil {
		return nil, re
	}
	for i := range evs {
		path := ""
		if len(evs) > 1 {
			path = fmt.Sprintf("[%d]", i)
		}
		if re := collector.CheckEvent(lim, path, &evs[i]); re != nil {
			return nil, re
		}
		if re := collector.CheckName(lim, collector.JoinPath(path, "id"), evs[i].Ref.DeployID); re != nil {
			return nil, re
		}
	}
	return evs, nil
}

func decode(body []byte, format string, headers http.Header) ([]collector.Event, error) {
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
	if re := collector.CheckJSONText(body); re != nil {
		return nil, arr, re
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

// decodeGeneric handles the canonical event, CloudEvents and CDEvents,
// one object or an array (each element detected on its own), and the
// foreign single objects detected by shape.
func decodeGeneric(body []byte, format string) ([]collector.Event, error) {
	objs, arr, err := topLevel(body)
	if err != nil {
		return nil, err
	}
	if !arr && format == "" {
		switch objectFormat(objs[0]) {
		case FormatGitHub:
			return decodeGitHub(body, nil)
		case FormatFlux:
			return decodeFlux(body)
		case FormatSpinnaker:
			return decodeSpinnaker(body)
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
	switch elementFormat(p, format) {
	case FormatCloudEvents:
		return decodeCloudEvent(raw)
	case FormatCDEvents:
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

// prefix puts path in front of a field error ("id: missing" becomes
// "data.id: missing").
func prefix(path string, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " ") {
		return fmt.Errorf("%s.%w", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}
