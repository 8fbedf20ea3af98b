package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

// TestRequestsFollowTheContract checks what each command sends against
// api.md, for the endpoints the daemon on this branch may not serve yet
// (reviews, publishing, action items, backups): the method, the path,
// the query and the JSON body, and how an answer is reported. The
// script tests run the others against the real daemon.
func TestRequestsFollowTheContract(t *testing.T) {
	type req struct {
		method, path, query string
		body                map[string]any
	}
	var got req
	answer, status := `{}`, http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = req{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
		b, _ := io.ReadAll(r.Body)
		if len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &got.body))
		}
		require.Equal(t, "Bearer t0ken", r.Header.Get("Authorization"))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}))
	defer srv.Close()
	t.Setenv("HINDSIGHT_TOKEN", "t0ken")
	t.Setenv("USER", "dana")
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(t.Context(), append([]string{"--url", srv.URL}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	for _, c := range []struct {
		args []string
		want req
		out  string
	}{
		{[]string{"review", "inc-1", "--note", "clear timeline"},
			req{"POST", "/api/v1/incidents/inc-1/postmortem/reviews", "", map[string]any{"reviewer": "dana", "approve": true, "note": "clear timeline"}},
			"dana approved the post-mortem of inc-1\n"},
		{[]string{"review", "--request-changes", "--reviewer", "lee", "inc-1"},
			req{"POST", "/api/v1/incidents/inc-1/postmortem/reviews", "", map[string]any{"reviewer": "lee", "approve": false}},
			"lee asked for changes to the post-mortem of inc-1\n"},
		{[]string{"publish", "inc-1"}, req{"POST", "/api/v1/incidents/inc-1/postmortem/publish", "", nil}, "post-mortem of inc-1 published\n"},
		{[]string{"draft", "inc-1", "--assign", "dana", "--status", "in_review"},
			req{"PATCH", "/api/v1/incidents/inc-1/postmortem", "", map[string]any{"author": "dana", "status": "in_review"}}, "post-mortem of inc-1 updated\n"},
		{[]string{"action", "add", "inc-1", "add", "an", "alert", "--owner", "lee", "--due", "2026-12-24"},
			req{"POST", "/api/v1/incidents/inc-1/action-items", "", map[string]any{"text": "add an alert", "owner": "lee", "due": "2026-12-24", "author": "dana"}},
			"action item (no id) added to inc-1\n"},
		{[]string{"action", "done", "inc-1", "ai-7"}, req{"PATCH", "/api/v1/incidents/inc-1/action-items/ai-7", "", map[string]any{"status": "done", "author": "dana"}},
			"action item ai-7 of inc-1 updated\n"},
		{[]string{"action", "update", "inc-1", "ai-7", "--owner", "kim"}, req{"PATCH", "/api/v1/incidents/inc-1/action-items/ai-7", "", map[string]any{"owner": "kim", "author": "dana"}},
			"action item ai-7 of inc-1 updated\n"},
		{[]string{"action", "list", "--owner", "lee"}, req{"GET", "/api/v1/action-items", "owner=lee&status=open", nil},
			"ID  INCIDENT  STATUS  OWNER  DUE  TEXT\n"},
	} {
		code, out, errOut := run(c.args...)
		require.Equal(t, 0, code, "%v: %s", c.args, errOut)
		require.Equal(t, c.want, got, c.args)
		require.Equal(t, c.out, out, c.args)
	}

	// The answer with -o json is the daemon's.
	answer = `{"action_items":[{"id":"ai-7","incident_id":"inc-1","text":"add an alert","owner":"lee","status":"open"}]}`
	code, out, _ := run("action", "list", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, answer, out)
	code, out, _ = run("action", "list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "ai-7  inc-1     open    lee    -    add an alert")

	// Publishing before enough approvals: the daemon's reason, exit 5.
	answer, status = `{"error":"2 of 3 reviewers approved; missing: the author dana"}`, http.StatusConflict
	code, _, errOut := run("publish", "inc-1")
	require.Equal(t, exitConflict, code)
	require.Contains(t, errOut, "missing: the author dana (409 Conflict)")
	answer, status = `{"error":"missing or wrong API token (api.tokens)"}`, http.StatusUnauthorized
	code, _, _ = run("publish", "inc-1")
	require.Equal(t, exitDenied, code)

	// A backup streams to a file, written whole (its checksum verified)
	// or not at all.
	var bak bytes.Buffer
	bw, err := backup.NewWriter(t.Context(), &bak, backup.Header{Log: "badger", CreatedAt: time.Unix(0, 0).UTC(), Parts: []string{"store"}})
	require.NoError(t, err)
	require.NoError(t, bw.Part("store"))
	_, err = bw.Write([]byte("BADGER-BYTES"))
	require.NoError(t, err)
	require.NoError(t, bw.Close())
	answer, status = bak.String(), http.StatusOK
	file := filepath.Join(t.TempDir(), "hindsight.bak")
	code, _, errOut = run("backup", file)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, req{"GET", "/api/v1/admin/backup", "", nil}, got)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, bak.Bytes(), b)
	require.Contains(t, errOut, "hindsight restore --storage.path DIR "+file)
	answer = bak.String()[:bak.Len()-3] // cut short: refused, no file
	cut := filepath.Join(t.TempDir(), "cut.bak")
	code, _, errOut = run("backup", cut)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "incomplete")
	require.NoFileExists(t, cut)
	answer, status = `{"error":"backup failed"}`, http.StatusInternalServerError
	other := filepath.Join(t.TempDir(), "other.bak")
	code, _, _ = run("backup", other)
	require.Equal(t, exitFailed, code)
	require.NoFileExists(t, other)
}
