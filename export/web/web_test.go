package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestPagesAndAssets(t *testing.T) {
	srv := serve(t)
	for _, path := range []string{"/", "/incidents/inc-01ABC"} {
		resp, body := get(t, srv.URL+path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, body, `<script src="/static/app.js"`)
	}
	for path, typ := range map[string]string{"/static/app.js": "javascript", "/static/style.css": "text/css"} {
		resp, _ := get(t, srv.URL+path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), typ)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	}
	resp, _ := get(t, srv.URL+"/static/")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no directory listing")
	resp, _ = get(t, srv.URL+"/incidents/")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// The page must work on a network that reaches nothing but the daemon:
// no asset may name another host (the SVG namespace is a name, not a
// request).
func TestAssetsNeedNoOtherHost(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		require.NoError(t, err)
		for _, m := range url.FindAllString(string(b), -1) {
			require.True(t, strings.HasPrefix(m, "http://www.w3.org"), "%s refers to %s", path, m)
		}
		return nil
	})
	require.NoError(t, err)
}
