package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openapiYAML describes every route the daemon serves (ingestion, API,
// operations, web view). It is written as YAML for people and served as
// JSON; a test holds it to the daemon's real routes.
//
//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the OpenAPI 3 document as JSON.
var OpenAPI = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
})

func (a *API) openapi(w http.ResponseWriter, _ *http.Request) {
	b, err := OpenAPI()
	if err != nil {
		a.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// Operations lists the document's operations as "METHOD /path", sorted.
func Operations() ([]string, error) {
	b, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops, nil
}

// PatternOperation turns a ServeMux pattern into the operation the
// document names it by: "GET /{$}" is "GET /", "GET /static/" (a
// subtree) is "GET /static/{file}" when the document says so.
func PatternOperation(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return pattern
	}
	path = strings.TrimSuffix(path, "{$}")
	path = strings.ReplaceAll(path, "...}", "}")
	return method + " " + path
}

// CheckRoutes compares the routes a server registers (ServeMux
// patterns) with the document: every route documented, every documented
// route served. Subtree patterns ("GET /static/") match a documented
// path under them with one parameter.
func CheckRoutes(patterns []string) error {
	ops, err := Operations()
	if err != nil {
		return err
	}
	served := map[string]bool{}
	var undocumented []string
	for _, p := range patterns {
		op := PatternOperation(p)
		if slices.Contains(ops, op) {
			served[op] = true
			continue
		}
		if strings.HasSuffix(op, "/") {
			matched := false
			for _, o := range ops {
				if rest, ok := strings.CutPrefix(o, op); ok && strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}") && !strings.Contains(rest, "/") {
					served[o], matched = true, true
				}
			}
			if matched {
				continue
			}
		}
		undocumented = append(undocumented, p)
	}
	var unserved []string
	for _, o := range ops {
		if !served[o] {
			unserved = append(unserved, o)
		}
	}
	slices.Sort(undocumented)
	var errs []string
	if len(undocumented) > 0 {
		errs = append(errs, "routes served but not in openapi.yaml: "+strings.Join(undocumented, ", "))
	}
	if len(unserved) > 0 {
		errs = append(errs, "routes in openapi.yaml but not served: "+strings.Join(unserved, ", "))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
