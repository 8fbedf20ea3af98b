package deploy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
)

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	require.NoError(tb, err)
	return t
}

func TestDecodeSamples(t *testing.T) {
	canonicalID := "argocd:prod-eu-1:checkout-prod:9f3c2d1a"
	canonical := collector.Event{
		ID:      collector.EventID("deploy", canonicalID, "succeeded"),
		Source:  collector.SourceDeploy,
		Kind:    deploy.KindSucceeded,
		At:      mustTime(t, "2026-11-20T13:58:40Z"),
		Service: "checkout",
		Summary: "checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)",
		Labels:  map[string]string{"team": "payments", "cluster": "prod-eu-1"},
		Deploy: &collector.Deploy{
			Environment: "prod", Version: "v2.42.0", PreviousVersion: "v2.41.0",
			Author: "jdoe", Commit: "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d",
			URL:         "https://argocd.example.internal/applications/argocd/checkout-prod",
			Description: "checkout v2.42.0: new payment retry policy",
		},
		Ref: collector.Ref{DeployID: canonicalID},
	}
	tests := []struct {
		sample  string
		format  string
		headers http.Header
		want    collector.Event
		check   func(t *testing.T, ev collector.Event)
	}{
		{sample: sampleCanonical, want: canonical},
		{sample: sampleCanonical, format: "canonical", want: canonical},
		{sample: sampleCanonical, format: "argocd", check: func(t *testing.T, ev collector.Event) {
			require.Equal(t, canonical.ID, ev.ID)
			require.Equal(t, "argocd", ev.Labels["tool"])
		}},
		{sample: sampleCloudEvents, want: canonical},
		{sample: sampleCloudEvents, format: "cloudevents", want: canonical},
		{sample: sampleCDEvents, check: func(t *testing.T, ev collector.Event) {
			id := "cdevents:/event/source/argocd/prod-eu-1:271069a8-fc18-44f1-b38f-9d70a1695819"
			require.Equal(t, collector.EventID("deploy", id, "succeeded"), ev.ID)
			require.Equal(t, id, ev.Ref.DeployID)
			require.Equal(t, deploy.KindSucceeded, ev.Kind)
			require.Equal(t, "checkout", ev.Service)
			require.Equal(t, mustTime(t, "2026-11-20T13:58:40Z"), ev.At)
			require.Equal(t, "prod", ev.Deploy.Environment)
			require.Equal(t, "v2.42.0", ev.Deploy.Version)
			require.Equal(t, "checkout v2.42.0 deploy succeeded", ev.Summary)
		}},
		{sample: sampleGitHub, headers: http.Header{"X-Github-Event": {"deployment_status"}}, check: checkGitHub},
		{sample: sampleGitHub, format: "github", check: checkGitHub},
		{sample: sampleGitHub, check: checkGitHub}, // by shape
		{sample: sampleFlux, check: checkFlux},
		{sample: sampleFlux, format: "flux", check: checkFlux},
		{sample: sampleFlux, headers: http.Header{"Gotk-Component": {"helm-controller"}}, check: checkFlux},
		{sample: sampleSpinnaker, check: checkSpinnaker},
		{sample: sampleSpinnaker, format: "spinnaker", check: checkSpinnaker},
	}
	for _, tc := range tests {
		t.Run(tc.sample+"/"+tc.format, func(t *testing.T) {
			evs, err := deploy.Decode(readSample(t, tc.sample), tc.format, tc.headers)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.NoError(t, evs[0].Validate())
			if tc.check != nil {
				tc.check(t, evs[0])
				return
			}
			require.Equal(t, tc.want, evs[0])
		})
	}
}

func checkGitHub(t *testing.T, ev collector.Event) {
	require.Equal(t, "github:acme/checkout:1903884521", ev.Ref.DeployID)
	require.Equal(t, collector.EventID("deploy", "github:acme/checkout:1903884521", "succeeded"), ev.ID)
	require.Equal(t, deploy.KindSucceeded, ev.Kind)
	require.Equal(t, "checkout", ev.Service)
	require.Equal(t, mustTime(t, "2026-11-20T13:58:41Z"), ev.At)
	require.Equal(t, "jdoe", ev.Deploy.Author)
	require.Equal(t, "prod", ev.Deploy.Environment)
	require.Equal(t, "v2.42.0", ev.Deploy.Version)
	require.Equal(t, "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d", ev.Deploy.Commit)
	require.Equal(t, "https://github.com/acme/checkout/actions/runs/11993399210", ev.Deploy.URL)
	require.Equal(t, "Deployed v2.42.0", ev.Deploy.Description)
	require.Equal(t, "checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)", ev.Summary)
}

func checkFlux(t *testing.T, ev collector.Event) {
	require.Equal(t, "flux:HelmRelease/checkout/checkout:2.42.0", ev.Ref.DeployID)
	require.Equal(t, deploy.KindSucceeded, ev.Kind)
	require.Equal(t, "checkout", ev.Service)
	require.Equal(t, mustTime(t, "2026-11-20T13:58:39Z"), ev.At)
	require.Equal(t, "2.42.0", ev.Deploy.Version)
	require.Equal(t, "checkout", ev.Labels["namespace"])
	require.Contains(t, ev.Deploy.Description, "Helm upgrade succeeded")
}

func checkSpinnaker(t *testing.T, ev collector.Event) {
	require.Equal(t, "spinnaker:01JD4QA0XS3N7B5V2C8M6L4K1J", ev.Ref.DeployID)
	require.Equal(t, deploy.KindSucceeded, ev.Kind)
	require.Equal(t, "checkout", ev.Service)
	require.Equal(t, time.UnixMilli(1795183120000).UTC(), ev.At)
	require.Equal(t, "v2.42.0", ev.Deploy.Version)
	require.Equal(t, "jdoe@acme.example", ev.Deploy.Author)
}

// canonicalDoc returns the canonical sample as a document to edit.
func canonicalDoc(tb testing.TB) map[string]any {
	tb.Helper()
	var doc map[string]any
	require.NoError(tb, json.Unmarshal(readSample(tb, sampleCanonical), &doc))
	return doc
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return b
}

func TestDecodeStatuses(t *testing.T) {
	for _, tc := range []struct{ status, kind, summary string }{
		{"started", deploy.KindStarted, "checkout v2.42.0 deploy started (jdoe, 9f3c2d1)"},
		{"succeeded", deploy.KindSucceeded, "checkout v2.42.0 deploy succeeded (jdoe, 9f3c2d1)"},
		{"failed", deploy.KindFailed, "checkout v2.42.0 deploy failed (jdoe, 9f3c2d1)"},
		{"rolled_back", deploy.KindRolledBack, "checkout rolled back to v2.42.0 (from v2.41.0, jdoe)"},
	} {
		doc := canonicalDoc(t)
		doc["status"] = tc.status
		evs, err := deploy.Decode(marshal(t, doc), "", nil)
		require.NoError(t, err)
		require.Equal(t, tc.kind, evs[0].Kind)
		require.Equal(t, tc.summary, evs[0].Summary)
		require.Equal(t, collector.EventID("deploy", doc["id"].(string), tc.status), evs[0].ID)
	}
	// The spec's own example.
	evs, err := deploy.Decode([]byte(`{"id": "d-4711", "service": "checkout", "environment": "production",
 "version": "v2.3.1", "previous_version": "v2.3.0", "status": "succeeded",
 "at": "2026-11-20T09:56:10Z", "author": "dana", "commit": "9f1c2e7",
 "url": "https://ci.example.com/runs/4711", "labels": {"cluster": "eu-west-1"}}`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "checkout v2.3.1 deploy succeeded (dana, 9f1c2e7)", evs[0].Summary)
	evs, err = deploy.Decode([]byte(`{"id": "d-4711", "service": "checkout", "status": "rolled_back",
 "version": "v2.3.1", "previous_version": "v2.3.0", "at": "2026-11-20T10:09:10Z"}`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "checkout rolled back to v2.3.1 (from v2.3.0)", evs[0].Summary, "version is what runs afterwards")
	require.Nil(t, evs[0].Annotations)
	require.Nil(t, evs[0].Labels)
}

func TestDecodeSameStepSameID(t *testing.T) {
	body := readSample(t, sampleCanonical)
	a, err := deploy.Decode(body, "", nil)
	require.NoError(t, err)
	doc := canonicalDoc(t)
	doc["at"] = "2026-11-20T13:59:00Z" // a resend with another time is still the same step
	b, err := deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.Equal(t, a[0].ID, b[0].ID)
	doc["status"] = "started"
	c, err := deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.NotEqual(t, a[0].ID, c[0].ID)
	require.Equal(t, a[0].Ref.DeployID, c[0].Ref.DeployID)
}

func TestDecodeArray(t *testing.T) {
	doc := canonicalDoc(t)
	started := canonicalDoc(t)
	started["status"] = "started"
	var ce map[string]any
	require.NoError(t, json.Unmarshal(readSample(t, sampleCloudEvents), &ce))
	ce["data"].(map[string]any)["id"] = "other"
	evs, err := deploy.Decode(marshal(t, []any{started, doc, ce}), "", nil)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	require.Equal(t, deploy.KindStarted, evs[0].Kind)
	require.Equal(t, deploy.KindSucceeded, evs[1].Kind)
	require.Equal(t, "other", evs[2].Ref.DeployID)

	bad := canonicalDoc(t)
	delete(bad, "id")
	_, err = deploy.Decode(marshal(t, []any{doc, started, bad}), "", nil)
	require.EqualError(t, err, "[2].id: missing")
	_, err = deploy.Decode(marshal(t, []any{doc, "x"}), "", nil)
	require.EqualError(t, err, "[1]: expected an object, got JSON string")
	ce["data"].(map[string]any)["status"] = "done"
	_, err = deploy.Decode(marshal(t, []any{ce}), "", nil)
	require.EqualError(t, err, `[0].data.status: "done" is not one of started, succeeded, failed, rolled_back`)
	_, err = deploy.Decode([]byte(`[]`), "", nil)
	require.EqualError(t, err, "the array has no deploy events")
}

func TestDecodeErrors(t *testing.T) {
	edit := func(f func(doc map[string]any)) []byte {
		doc := canonicalDoc(t)
		f(doc)
		return marshal(t, doc)
	}
	for _, tc := range []struct {
		name, format, want string
		body               []byte
	}{
		{name: "status", body: edit(func(d map[string]any) { d["status"] = "done" }),
			want: `status: "done" is not one of started, succeeded, failed, rolled_back`},
		{name: "no status", body: edit(func(d map[string]any) { delete(d, "status") }), want: "status: missing"},
		{name: "no at", body: edit(func(d map[string]any) { delete(d, "at") }), want: "at: missing"},
		{name: "bad at", body: edit(func(d map[string]any) { d["at"] = "yesterday" }), want: `at: "yesterday" is not an RFC 3339 time`},
		{name: "no id", body: edit(func(d map[string]any) { delete(d, "id") }), want: "id: missing"},
		{name: "blank id", body: edit(func(d map[string]any) { d["id"] = " " }), want: "id: missing"},
		{name: "no service", body: edit(func(d map[string]any) { delete(d, "service") }), want: "service: missing"},
		{name: "id type", body: edit(func(d map[string]any) { d["id"] = 4711 }), want: "id: expected a string, got JSON number"},
		{name: "label type", body: edit(func(d map[string]any) { d["labels"] = map[string]any{"a": 1} }), want: "labels: expected a string, got JSON number"},
		{name: "empty", body: []byte(""), want: "invalid JSON: the body is empty"},
		{name: "truncated", body: []byte(`{"id": "x"`), want: "invalid JSON: the body ends before the value does (truncated?)"},
		{name: "syntax", body: []byte("{\n\"id\": x}"), want: "invalid JSON at line 2 (byte 9): invalid character 'x' looking for beginning of value"},
		{name: "trailing", body: []byte(`{} {}`), want: "invalid JSON: data after the top-level value"},
		{name: "not object", body: []byte(`"x"`), want: "expected an object, got JSON string"},
		{name: "null", body: []byte(`null`), want: "expected an object, got JSON null"},
		{name: "format", format: "jenkins", body: readSample(t, sampleCanonical),
			want: "format: \"jenkins\" is not one of canonical, cloudevents, cdevents, github, argocd, flux, spinnaker"},
		{name: "ce version", body: []byte(`{"specversion": "0.3", "type": "x", "data": {}}`), want: `specversion: "0.3" is not supported, expected "1.0"`},
		{name: "ce no data", body: []byte(`{"specversion": "1.0", "type": "x", "id": "1", "source": "s"}`), want: "data: missing"},
		{name: "ce data id", body: []byte(`{"specversion": "1.0", "type": "x", "data": {"service": "a", "status": "started", "at": "2026-11-20T13:58:40Z"}}`), want: "data.id: missing"},
		{name: "cdevent type", body: []byte(`{"context": {"type": "dev.cdevents.service.removed.0.2.0", "id": "1", "timestamp": "2026-11-20T13:58:40Z"}, "subject": {"id": "checkout"}}`),
			want: `context.type: "dev.cdevents.service.removed.0.2.0" is not a deploy CDEvent (dev.cdevents.service.deployed, upgraded or rolledback)`},
		{name: "cdevent service", body: []byte(`{"context": {"type": "dev.cdevents.service.deployed.0.2.0", "id": "1", "timestamp": "2026-11-20T13:58:40Z"}, "subject": {}}`),
			want: "subject.id: missing (the service)"},
		{name: "cdevent time", format: "cdevents", body: []byte(`{"context": {"type": "dev.cdevents.service.deployed.0.2.0", "id": "1", "timestamp": "soon"}, "subject": {"id": "a"}}`),
			want: `context.timestamp: "soon" is not an RFC 3339 time`},
		{name: "github state", format: "github", body: []byte(strings.Replace(string(readSample(t, sampleGitHub)), `"success"`, `"weird"`, 1)),
			want: `deployment_status.state: "weird" is not one of queued, pending, in_progress, success, failure, error, inactive`},
		{name: "github no status", format: "github", body: []byte(`{"deployment": {"id": 1}}`),
			want: "deployment_status: missing (a GitHub deployment_status webhook)"},
		{name: "flux no time", format: "flux", body: []byte(`{"involvedObject": {"name": "a"}, "reason": "UpgradeSucceeded", "metadata": {"x/revision": "1"}}`),
			want: "timestamp: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := deploy.Decode(tc.body, tc.format, nil)
			require.EqualError(t, err, tc.want)
			require.Nil(t, evs)
		})
	}
}

func TestDecodeCloudEventsEnvelopeFills(t *testing.T) {
	evs, err := deploy.Decode([]byte(`{"specversion": "1.0", "type": "io.hindsight.deploy.v1", "id": "e1", "source": "ci",
		"subject": "checkout", "time": "2026-11-20T13:58:40Z", "data": {"id": "d1", "status": "started"}}`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "checkout", evs[0].Service)
	require.Equal(t, mustTime(t, "2026-11-20T13:58:40Z"), evs[0].At)
}

func TestDecodeCDEventsInCloudEvents(t *testing.T) {
	var cd map[string]any
	require.NoError(t, json.Unmarshal(readSample(t, sampleCDEvents), &cd))
	cd["context"].(map[string]any)["type"] = "dev.cdevents.service.rolledback.0.2.0"
	ce := map[string]any{"specversion": "1.0", "id": "x", "source": "s", "type": "dev.cdevents.service.rolledback.0.2.0", "data": cd}
	evs, err := deploy.Decode(marshal(t, ce), "", nil)
	require.NoError(t, err)
	require.Equal(t, deploy.KindRolledBack, evs[0].Kind)
	require.Equal(t, "checkout", evs[0].Service)

	cd["context"].(map[string]any)["type"] = "dev.cdevents.service.upgraded.0.2.0"
	evs, err = deploy.Decode(marshal(t, cd), "", nil)
	require.NoError(t, err)
	require.Equal(t, deploy.KindSucceeded, evs[0].Kind)
}

func TestDecodeGitHub(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(readSample(t, sampleGitHub), &doc))
	h := http.Header{"X-Github-Event": {"deployment_status"}}
	for state, kind := range map[string]string{"queued": deploy.KindStarted, "in_progress": deploy.KindStarted,
		"failure": deploy.KindFailed, "error": deploy.KindFailed} {
		doc["deployment_status"].(map[string]any)["state"] = state
		evs, err := deploy.Decode(marshal(t, doc), "", h)
		require.NoError(t, err, state)
		require.Equal(t, kind, evs[0].Kind, state)
		require.Equal(t, "github:acme/checkout:1903884521", evs[0].Ref.DeployID)
	}
	// Inactive is a superseded deployment, and a ping is no deploy: nothing, no error.
	doc["deployment_status"].(map[string]any)["state"] = "inactive"
	evs, err := deploy.Decode(marshal(t, doc), "", h)
	require.NoError(t, err)
	require.Empty(t, evs)
	evs, err = deploy.Decode([]byte(`{"zen": "Keep it logically awesome.", "hook_id": 1}`), "", http.Header{"X-Github-Event": {"ping"}})
	require.NoError(t, err)
	require.Empty(t, evs)
	_, err = deploy.Decode(readSample(t, sampleGitHub), "", http.Header{"X-Github-Event": {"push"}})
	require.EqualError(t, err, `X-GitHub-Event: "push" is not deployment_status; subscribe the webhook to deployment statuses only`)
	// Without payload.service the repository name is the service.
	doc["deployment_status"].(map[string]any)["state"] = "success"
	doc["deployment"].(map[string]any)["payload"] = "a string payload"
	doc["repository"].(map[string]any)["name"] = "checkout-svc"
	evs, err = deploy.Decode(marshal(t, doc), "", h)
	require.NoError(t, err)
	require.Equal(t, "checkout-svc", evs[0].Service)
}

func TestDecodeGitHubForm(t *testing.T) {
	body := "payload=" + strings.ReplaceAll(string(readSample(t, sampleGitHub)), "\n", "")
	form := strings.NewReplacer("+", "%2B", "&", "%26", "%", "%25", "#", "%23").Replace(body)
	evs, err := deploy.Decode([]byte(form), "github", nil)
	require.NoError(t, err)
	checkGitHub(t, evs[0])
}

func TestDecodeFlux(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(readSample(t, sampleFlux), &doc))
	for reason, kind := range map[string]string{"UpgradeFailed": deploy.KindFailed, "RollbackSucceeded": deploy.KindRolledBack,
		"Progressing": deploy.KindStarted, "InstallSucceeded": deploy.KindSucceeded} {
		doc["reason"] = reason
		evs, err := deploy.Decode(marshal(t, doc), "", nil)
		require.NoError(t, err, reason)
		require.Equal(t, kind, evs[0].Kind, reason)
	}
	doc["reason"] = "ArtifactUpToDate"
	evs, err := deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.Empty(t, evs)
	// A Kustomization revision gives the commit.
	doc["reason"] = "ReconciliationSucceeded"
	doc["involvedObject"].(map[string]any)["kind"] = "Kustomization"
	doc["metadata"] = map[string]any{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d"}
	evs, err = deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.Equal(t, "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d", evs[0].Deploy.Commit)
	require.Equal(t, "main@9f3c2d1", evs[0].Deploy.Version)
}

func TestDecodeSpinnaker(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(readSample(t, sampleSpinnaker), &doc))
	doc["content"].(map[string]any)["execution"].(map[string]any)["status"] = "TERMINAL"
	evs, err := deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.Equal(t, deploy.KindFailed, evs[0].Kind)
	doc["details"].(map[string]any)["type"] = "orca:stage:complete"
	evs, err = deploy.Decode(marshal(t, doc), "", nil)
	require.NoError(t, err)
	require.Empty(t, evs)
}

// The Argo CD template in testdata, rendered for a sync that is running.
func TestDecodeArgoCD(t *testing.T) {
	body := `{
  "id": "argocd:checkout-prod:9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d",
  "service": "checkout",
  "environment": "checkout-prod",
  "version": "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d",
  "commit": "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d",
  "author": "Jane Doe <jdoe@acme.example>",
  "status": "started",
  "at": "2026-11-20T13:56:01Z",
  "url": "https://argocd.example.internal/applications/checkout-prod",
  "labels": {"tool": "argocd", "app": "checkout-prod"}
}`
	evs, err := deploy.Decode([]byte(body), "argocd", nil)
	require.NoError(t, err)
	require.Equal(t, deploy.KindStarted, evs[0].Kind)
	require.Equal(t, "checkout-prod", evs[0].Labels["app"])
	require.Equal(t, "checkout 9f3c2d1 deploy started (Jane Doe <jdoe@acme.example>, 9f3c2d1)", strings.Replace(evs[0].Summary, "9f3c2d1a7b6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d", "9f3c2d1", 1))
	// A raw operationState phase is accepted as the status.
	evs, err = deploy.Decode([]byte(strings.Replace(body, `"started"`, `"Failed"`, 1)), "argocd", nil)
	require.NoError(t, err)
	require.Equal(t, deploy.KindFailed, evs[0].Kind)
}

// A sender's label named like a field of the deploy (version, author, ...)
// fills the field the event leaves empty, as when the fields were labels,
// and is not kept among the labels a second time; the field wins when both
// are given.
func TestDecodeLabelNamedLikeAField(t *testing.T) {
	evs, err := deploy.Decode([]byte(`{"id": "d-1", "service": "checkout", "status": "succeeded", "at": "2026-11-20T09:56:10Z",
 "author": "dana", "labels": {"version": "v2.3.1", "author": "someone else", "cluster": "eu-west-1"}}`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "v2.3.1", evs[0].Deploy.Version)
	require.Equal(t, "dana", evs[0].Deploy.Author)
	require.Equal(t, map[string]string{"cluster": "eu-west-1"}, evs[0].Labels)
	require.Equal(t, map[string]string{"cluster": "eu-west-1", "version": "v2.3.1", "author": "dana"}, evs[0].FlatLabels())
}
