package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/export/api/auth"
)

// Secrets of the access tests. None may ever appear in a log line or an
// answer.
const (
	rwToken     = "rw-Secret-7f3a9c1e"
	roToken     = "ro-Secret-2b8d4e6f"
	ingestToken = "ingest-Secret-9a1c5d3b"
)

// accessConfig sets one token of each kind; the read-only one is read
// from a file, as in production.
func accessConfig(t *testing.T, dir string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ro-token"), []byte(roToken+"\n"), 0o600))
	return `api:
  tokens:
    - {name: ops, role: read-write, token: ` + rwToken + `}
    - {name: dashboard, role: read-only, token_file: ro-token}
  ingest_tokens:
    - {name: alertmanager, token: ` + ingestToken + `}
`
}

// routeAccess is what each route must require, written down here rather
// than read from the daemon, so that a route registered with the wrong
// class fails, and a route added without an entry here fails too.
var routeAccess = map[string]auth.Access{
	"POST /api/v1/ingest/alertmanager":                 auth.Ingest,
	"POST /api/v1/ingest/deploys":                      auth.Ingest,
	"POST /api/v1/ingest/pagerduty":                    auth.Ingest,
	"POST /api/v1/backfill/pagerduty":                  auth.Write,
	"GET /api/v1/admin/backup":                         auth.Write,
	"GET /api/v1/incidents":                            auth.Read,
	"GET /api/v1/incidents/{id}":                       auth.Read,
	"GET /api/v1/incidents/{id}/postmortem":            auth.Read,
	"GET /api/v1/incidents/{id}/postmortem.md":         auth.Read,
	"GET /api/v1/incidents/{id}/timeline":              auth.Read,
	"GET /api/v1/events":                               auth.Read,
	"POST /api/v1/incidents/{id}/notes":                auth.Write,
	"PATCH /api/v1/incidents/{id}":                     auth.Write,
	"PATCH /api/v1/incidents/{id}/entries/{entry}":     auth.Write,
	"POST /api/v1/incidents/{id}/merge":                auth.Write,
	"POST /api/v1/incidents/{id}/split":                auth.Write,
	"POST /api/v1/recorrelate":                         auth.Write,
	"PATCH /api/v1/incidents/{id}/postmortem":          auth.Write,
	"POST /api/v1/incidents/{id}/postmortem/reviews":   auth.Write,
	"POST /api/v1/incidents/{id}/postmortem/publish":   auth.Write,
	"POST /api/v1/incidents/{id}/action-items":         auth.Write,
	"PATCH /api/v1/incidents/{id}/action-items/{item}": auth.Write,
	"GET /api/v1/action-items":                         auth.Read,
	"GET /api/v1/stream":                               auth.Read,
	"GET /api/v1/openapi.json":                         auth.Read,
	"GET /metrics":                                     auth.Metrics,
	"GET /-/healthy":                                   auth.Public,
	"GET /-/ready":                                     auth.Public,
	"POST /-/reload":                                   auth.Write,
	"GET /{$}":                                         auth.Read,
	"GET /incidents/{id}":                              auth.Read,
	"GET /static/":                                     auth.Read,
	"GET /debug/pprof/":                                auth.Write,
	"GET /debug/pprof/cmdline":                         auth.Write,
	"GET /debug/pprof/profile":                         auth.Write,
	"GET /debug/pprof/symbol":                          auth.Write,
	"GET /debug/pprof/trace":                           auth.Write,
}

type credential struct {
	name string
	set  func(*http.Request)
}

var credentials = []credential{
	{"none", func(*http.Request) {}},
	{"wrong bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer not-a-token") }},
	{"wrong basic", func(r *http.Request) { r.SetBasicAuth("ops", "not-a-token") }},
	{"ingest", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+ingestToken) }},
	{"ingest basic", func(r *http.Request) { r.SetBasicAuth("alertmanager", ingestToken) }},
	{"read-only", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+roToken) }},
	{"read-write", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+rwToken) }},
	{"read-write basic", func(r *http.Request) { r.SetBasicAuth("ops", rwToken) }},
}

// want is the answer a credential gets on a route of a class: 401, 403,
// or 0 for "let through to the handler" (whatever it answers then, it is
// not 401 or 403 from the access check).
func want(access auth.Access, cred string) int {
	kind := strings.TrimSuffix(cred, " basic")
	switch {
	case access == auth.Public:
		return 0
	case kind == "none" || kind == "wrong" || cred == "wrong bearer":
		return http.StatusUnauthorized
	case access == auth.Ingest:
		if kind == "ingest" {
			return 0
		}
		return http.StatusForbidden
	case kind == "ingest":
		return http.StatusForbidden
	case access == auth.Write && kind == "read-only":
		return http.StatusForbidden
	default:
		return 0
	}
}

var pathParam = regexp.MustCompile(`\{[^}$]*\}`)

// requestFor builds a request for a route pattern: a made-up id for each
// path parameter, an empty JSON object as body.
func requestFor(t *testing.T, base, pattern string) *http.Request {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.ReplaceAll(path, "{$}", "")
	path = pathParam.ReplaceAllString(path, "x-nope")
	if strings.HasPrefix(path, "/debug/pprof/profile") || strings.HasPrefix(path, "/debug/pprof/trace") {
		path += "?seconds=1"
	}
	var body io.Reader
	if method != http.MethodGet && method != http.MethodHead {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, base+path, body)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// TestAccessEveryRoute asks every route the daemon registers with every
// kind of credential and checks the answer: 401 without a token or with
// a wrong one (naming the configuration key, with a challenge), 403 with
// a token whose role is not enough, and through to the handler
// otherwise. The routes come from the daemon itself, so a route added
// later is checked too, or fails the test until it has an entry in
// routeAccess.
func TestAccessEveryRoute(t *testing.T) {
	dir := t.TempDir()
	d := daemontest.Start(t, dir, accessConfig(t, dir), func(o *daemon.Options) { o.EnablePprof = true })
	routes := d.Routes()
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.Pattern] = true
		expected, ok := routeAccess[r.Pattern]
		if !assertf(t, ok, "route %q is not in routeAccess: add it with the access it needs", r.Pattern) {
			continue
		}
		require.Equal(t, expected.String(), r.Access.String(), "access class of %s", r.Pattern)
	}
	for p := range routeAccess {
		assertf(t, registered[p], "routeAccess lists %q, which the daemon does not serve", p)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	for _, r := range routes {
		for _, c := range credentials {
			t.Run(r.Pattern+"/"+c.name, func(t *testing.T) {
				req := requestFor(t, d.URL, r.Pattern)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req = req.WithContext(ctx)
				c.set(req)
				resp, err := client.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				w := want(r.Access, c.name)
				if w == 0 {
					require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.StatusCode,
						"%s with %s must reach the handler", r.Pattern, c.name)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				require.Equal(t, w, resp.StatusCode, "%s with %s: %s", r.Pattern, c.name, b)
				var e struct{ Error string }
				require.NoError(t, json.Unmarshal(b, &e), "%s", b)
				require.Regexp(t, `api\.(ingest_)?tokens`, e.Error, "the error names the configuration key")
				if w == http.StatusUnauthorized {
					require.Contains(t, resp.Header.Values("WWW-Authenticate"), `Bearer realm="hindsight"`)
				}
			})
		}
	}
	requireNoSecret(t, d.Log())
}

func assertf(t *testing.T, ok bool, format string, args ...any) bool {
	t.Helper()
	if !ok {
		t.Errorf(format, args...)
	}
	return ok
}

func requireNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{rwToken, roToken, ingestToken} {
		require.NotContains(t, s, secret[len(secret)-8:], "a secret leaked")
	}
}

// TestAccessOpenWithoutTokens: with no tokens configured everything is
// open, as before (a listener reachable only from a trusted network);
// profiling is off unless enabled; /metrics can be opened with
// api.anonymous_metrics while tokens guard the rest.
func TestAccessOpenWithoutTokens(t *testing.T) {
	dir := t.TempDir()
	d := daemontest.Start(t, dir, "correlation:\n  resolve_after: 1s\n")
	for _, p := range []string{"/api/v1/incidents", "/metrics", "/"} {
		code, body := get(t, d.URL+p)
		require.Equal(t, http.StatusOK, code, "%s: %s", p, body)
	}
	code, _ := get(t, d.URL+"/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "profiling is off unless --web.enable-pprof")

	require.NoError(t, os.WriteFile(d.ConfigFile, []byte(accessConfig(t, dir)+"  anonymous_metrics: true\n"), 0o600))
	require.NoError(t, d.Reload(t.Context()), "tokens can be turned on by a reload")
	code, _ = get(t, d.URL+"/metrics")
	require.Equal(t, http.StatusOK, code, "api.anonymous_metrics lets scrapers in")
	code, _ = get(t, d.URL+"/api/v1/incidents")
	require.Equal(t, http.StatusUnauthorized, code)
}

// TestAuthorIsTheToken: with tokens, the token's name signs a change; a
// name given in the body is kept beside it, never instead of it.
func TestAuthorIsTheToken(t *testing.T) {
	dir := t.TempDir()
	d := daemontest.Start(t, dir, accessConfig(t, dir)+"correlation:\n  resolve_after: 1s\n")
	body, err := os.ReadFile("../../hindsight/testdata/alertmanager_webhook_firing.json")
	require.NoError(t, err)
	code, b := do(t, http.MethodPost, d.URL+"/api/v1/ingest/alertmanager", ingestToken, string(body))
	require.Equal(t, http.StatusOK, code, "%s", b)
	code, b = do(t, http.MethodGet, d.URL+"/api/v1/incidents", roToken, "")
	require.Equal(t, http.StatusOK, code, "%s", b)
	var list struct{ Incidents []struct{ ID string } }
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Incidents, 1)
	id := list.Incidents[0].ID

	code, b = do(t, http.MethodPatch, d.URL+"/api/v1/incidents/"+id, roToken, `{"severity":"SEV1"}`)
	require.Equal(t, http.StatusForbidden, code, "%s", b)
	code, b = do(t, http.MethodPatch, d.URL+"/api/v1/incidents/"+id, rwToken, `{"severity":"SEV1"}`)
	require.Equal(t, http.StatusOK, code, "%s", b)
	code, b = do(t, http.MethodPost, d.URL+"/api/v1/incidents/"+id+"/notes", rwToken, `{"text":"paged the DBA","author":"mallory"}`)
	require.Equal(t, http.StatusCreated, code, "%s", b)

	var inc struct {
		Severity struct{ Reasons []string }
		Timeline []struct {
			Kind    string
			Summary string
			Labels  map[string]string
		}
	}
	code, b = do(t, http.MethodGet, d.URL+"/api/v1/incidents/"+id, roToken, "")
	require.Equal(t, http.StatusOK, code, "%s", b)
	require.NoError(t, json.Unmarshal(b, &inc))
	authors := map[string]string{}
	for _, e := range inc.Timeline {
		if a := e.Labels["author"]; a != "" {
			authors[e.Kind] = a
		}
	}
	require.Equal(t, "ops", authors["incident.updated"], "the override is signed by the token")
	require.Equal(t, "mallory (token ops)", authors["note"], "a name in the body does not replace the token's")
	reasons := strings.Join(inc.Severity.Reasons, "|")
	require.Contains(t, reasons, "ops")
	require.NotContains(t, reasons, "someone")
}

func do(t *testing.T, method, u, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
