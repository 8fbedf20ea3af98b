package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"
)

// The document is valid OpenAPI 3 and served as JSON.
func TestOpenAPIDocument(t *testing.T) {
	f := newFixture(t)
	code, b := f.do(t, "GET", "/api/v1/openapi.json", "")
	require.Equal(t, http.StatusOK, code)
	var head struct {
		OpenAPI string `json:"openapi"`
	}
	require.NoError(t, json.Unmarshal(b, &head))
	require.True(t, strings.HasPrefix(head.OpenAPI, "3."), head.OpenAPI)

	doc, err := openapi3.NewLoader().LoadFromData(b)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(t.Context()))
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			require.NotEmpty(t, op.Summary, "%s %s has no summary", method, path)
			require.NotZero(t, op.Responses.Len(), "%s %s has no responses", method, path)
		}
	}
}

// Every route of the API is in the document (the daemon's test checks
// the whole server both ways).
func TestOpenAPICoversTheAPI(t *testing.T) {
	ops, err := Operations()
	require.NoError(t, err)
	a := New(nil, nil, nil, nil, promslog.NewNopLogger())
	for pattern := range a.Routes() {
		require.Contains(t, ops, PatternOperation(pattern), "route %s is not in openapi.yaml", pattern)
	}
}

func TestCheckRoutes(t *testing.T) {
	ops, err := Operations()
	require.NoError(t, err)
	patterns := []string{"GET /{$}", "GET /static/"}
	for _, o := range ops {
		if o != "GET /" && !strings.HasPrefix(o, "GET /static/") {
			patterns = append(patterns, o)
		}
	}
	require.NoError(t, CheckRoutes(patterns))
	require.ErrorContains(t, CheckRoutes(append(patterns, "DELETE /api/v1/incidents/{id}")),
		"routes served but not in openapi.yaml: DELETE /api/v1/incidents/{id}")
	require.ErrorContains(t, CheckRoutes(patterns[1:]), "routes in openapi.yaml but not served: GET /")
}
