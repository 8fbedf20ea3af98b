package deploy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
)

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
