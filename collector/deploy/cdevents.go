package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
)

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
