package daemon_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/export/api"
)

// TestOpenAPIMatchesRoutes holds /api/v1/openapi.json to the routes the
// daemon really registers (profiling on, so that every route is there):
// a route added without documentation, or a documented one that is not
// served, fails here.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	d := daemontest.Start(t, t.TempDir(), "", func(o *daemon.Options) { o.EnablePprof = true })
	var patterns []string
	for _, r := range d.Routes() {
		patterns = append(patterns, r.Pattern)
	}
	require.NoError(t, api.CheckRoutes(patterns))

	// And the daemon serves the document it is checked against.
	resp, err := http.Get(d.URL + "/api/v1/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Contains(t, doc.Paths, "/api/v1/stream")
}
