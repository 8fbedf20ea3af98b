package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

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
