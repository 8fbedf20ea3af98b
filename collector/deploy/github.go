package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
)

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
