package daemon_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
	"github.com/hindsight-ops/hindsight/correlate/streamlog/natstest"
)

const mixinDir = "../../../export/mixin"

// metricRef finds the metric names an expression uses: ours, and the Go
// and process collectors' ones the dashboard shows.
var metricRef = regexp.MustCompile(`\b(?:hindsight|process|go)_[a-zA-Z0-9_]+\b`)

// mixinExprs returns every PromQL expression of the mixin's alerting
// rules and dashboards, by where it is.
func mixinExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	rules, err := filepath.Glob(filepath.Join(mixinDir, "alerts", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, rules)
	for _, f := range rules {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc struct {
			Groups []struct {
				Rules []struct{ Alert, Record, Expr string }
			}
		}
		require.NoError(t, yaml.Unmarshal(b, &doc), f)
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				exprs[filepath.Base(f)+" "+r.Alert+r.Record] = r.Expr
			}
		}
	}
	dashboards, err := filepath.Glob(filepath.Join(mixinDir, "dashboards", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, dashboards)
	for _, f := range dashboards {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc any
		require.NoError(t, json.Unmarshal(b, &doc), "%s is not JSON", f)
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				title, _ := v["title"].(string)
				for k, x := range v {
					if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
						exprs[filepath.Base(f)+" "+path+" "+k] = s
					}
					walk(path+"/"+title, x)
				}
			case []any:
				for _, x := range v {
					walk(path, x)
				}
			}
		}
		walk("", doc)
	}
	return exprs
}

// scrapedNames returns the sample names a daemon's /metrics shows.
func scrapedNames(t *testing.T, d *daemontest.Daemon, into map[string]bool) {
	t.Helper()
	code, b := do(t, http.MethodGet, d.URL+"/metrics", "", "")
	require.Equal(t, http.StatusOK, code)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		into[name] = true
	}
	require.NoError(t, sc.Err())
}

// TestMixinMetricsExist: every metric the alerting rules and the
// dashboard of export/mixin use is one a running daemon exports, with
// the local log and with the replicated one, so that no rule silently
// never fires because of a renamed metric.
func TestMixinMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("starts daemons and a NATS server")
	}
	exprs := mixinExprs(t)
	require.Greater(t, len(exprs), 20)

	exported := map[string]bool{}
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	local := daemontest.Start(t, t.TempDir(), "")
	ingest(t, local, webhook("firing", "checkout", "i-0", t0))
	getBody(t, local, "/api/v1/incidents")
	scrapedNames(t, local, exported)

	c := natstest.Start(t, 1)
	replica := daemontest.Start(t, t.TempDir(), "log: {type: jetstream, replicas: 1}\n", func(o *daemon.Options) { o.NATSURL = c.URLs() })
	ingest(t, replica, webhook("firing", "checkout", "i-0", t0))
	scrapedNames(t, replica, exported)

	var missing []string
	for where, e := range exprs {
		for _, name := range metricRef.FindAllString(e, -1) {
			if !exported[name] {
				missing = append(missing, where+": "+name)
			}
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing, "metrics the mixin uses that no daemon exports")
}
