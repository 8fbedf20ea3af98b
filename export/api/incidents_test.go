package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
)

// scanOnly hides the store's indexes: the API then reads every incident,
// as it did before they existed.
type scanOnly struct{ correlate.Reader }

// The incident list answers every filter from the indexes exactly as a
// scan of every incident does, page by page.
func TestListIncidentsIndexedEqualsScan(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	services := []string{"checkout", "search", "payments", "ledger"}
	// Incidents over two days: resolved long ago, resolved minutes ago
	// (open until resolve_after), and still firing.
	for i := range 24 {
		svc := services[i%len(services)]
		start := now.Add(-time.Duration(48-2*i) * time.Hour)
		name := fmt.Sprintf("Alert%d", i)
		post := func(body string) {
			code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", body)
			require.Equal(t, http.StatusOK, code, string(b))
		}
		post(amAlert(svc, name, "firing", start, time.Time{}))
		switch i % 3 {
		case 0:
			post(amAlert(svc, name, "resolved", start, start.Add(20*time.Minute)))
		case 1:
			if i > 20 {
				post(amAlert(svc, name, "resolved", start, now.Add(-time.Minute)))
			}
		}
	}
	mux := http.NewServeMux()
	scan := New(scanOnly{f.db}, nil, nil, f.cfg.Load, promslog.NewNopLogger())
	scan.now = func() time.Time { return now }
	for p, h := range scan.Routes() {
		mux.Handle(p, h)
	}
	scanSrv := httptest.NewServer(mux)
	defer scanSrv.Close()

	list := func(base, query string) []string {
		var ids []string
		cursor := ""
		for range 100 {
			q := query + "&limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			resp, err := http.Get(base + "/api/v1/incidents?" + q)
			require.NoError(t, err)
			var page struct {
				Incidents []correlate.View
				Next      string
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, query)
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
			resp.Body.Close()
			for _, v := range page.Incidents {
				ids = append(ids, v.ID)
			}
			if page.Next == "" {
				return ids
			}
			cursor = page.Next
		}
		t.Fatalf("%s: no end", query)
		return nil
	}
	rfc := func(d time.Duration) string { return url.QueryEscape(now.Add(d).Format(time.RFC3339)) }
	total := len(list(scanSrv.URL, ""))
	require.Greater(t, total, 10)
	open := 0
	for _, status := range []string{"", "open", "resolved"} {
		for _, svc := range []string{"", "search", "nosuch"} {
			for _, bounds := range []string{"", "since=" + rfc(-6*time.Hour), "until=" + rfc(-30*time.Hour), "since=" + rfc(-30*time.Hour) + "&until=" + rfc(-10*time.Hour)} {
				for _, sev := range []string{"", "SEV2"} {
					q := fmt.Sprintf("status=%s&service=%s&severity=%s&%s", status, svc, sev, bounds)
					exp := list(scanSrv.URL, q)
					require.Equal(t, exp, list(f.srv.URL, q), q)
					if status == "open" && svc == "" && bounds == "" && sev == "" {
						open = len(exp)
					}
				}
			}
		}
	}
	require.Positive(t, open)
	require.Less(t, open, total)
}
