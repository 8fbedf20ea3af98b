package deploy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

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
// "checkout v2.3.1 deploy succeeded (dana, 9f1c2e7)" or "checkout rolled
// back to v2.3.0 (from v2.3.1)". On a rolled_back step Version is what
// runs afterwards (the release rolled back to) and PreviousVersion the
// release rolled back from (spec/deploy-event.md).
func (d *Deploy) Summary() string {
	var b strings.Builder
	b.WriteString(d.Service)
	if d.Status == StatusRolledBack {
		var extra []string
		switch {
		case d.Version != "":
			b.WriteString(" rolled back to " + d.Version)
			if d.PreviousVersion != "" {
				extra = append(extra, "from "+d.PreviousVersion)
			}
		case d.PreviousVersion != "":
			b.WriteString(" " + d.PreviousVersion + " rolled back")
		default:
			b.WriteString(" deploy rolled back")
		}
		if d.Author != "" {
			extra = append(extra, d.Author)
		}
		if len(extra) > 0 {
			b.WriteString(" (" + strings.Join(extra, ", ") + ")")
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
