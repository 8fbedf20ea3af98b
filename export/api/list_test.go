package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestListSinceAfterUntil(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/api/v1/incidents", "/api/v1/events", "/api/v1/action-items"} {
		code, b := f.do(t, "GET", path+"?since=2026-11-20T15:00:00Z&until=2026-11-20T14:00:00Z", "")
		require.Equal(t, http.StatusBadRequest, code, path)
		require.JSONEq(t, `{"error":"since: 2026-11-20T15:00:00Z is after until 2026-11-20T14:00:00Z"}`, string(b), path)
	}
	code, _ := f.do(t, "GET", "/api/v1/incidents?since=2026-11-20T14:00:00Z&until=2026-11-20T14:00:00Z", "")
	require.Equal(t, http.StatusOK, code, "since = until is a point in time")
}

// TestListPagesStopAtSize: however large the limit, a page stops once it
// holds listBytes (with next), and following next gives every item once,
// in order: a client sees the whole list, the daemon never builds a huge
// answer.
func TestListPagesStopAtSize(t *testing.T) {
	f := newFixture(t)
	start := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const n = 12
	for i := range n {
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", amAlert(fmt.Sprintf("svc-%02d", i), "Down", "firing", at, time.Time{}))
		require.Equal(t, http.StatusOK, code, string(b))
	}

	all := func(path, key string) (ids []string, pages int) {
		t.Helper()
		cursor := ""
		for {
			q := url.Values{"limit": {"1000"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			code, b := f.do(t, "GET", path+"?"+q.Encode(), "")
			require.Equal(t, http.StatusOK, code, string(b))
			var page map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &page))
			var items []struct{ ID string }
			require.NoError(t, json.Unmarshal(page[key], &items))
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			pages++
			require.Less(t, pages, 100, "next never ends")
			next, ok := page["next"]
			if !ok {
				return ids, pages
			}
			require.NotEmpty(t, items, "a page with next holds something")
			require.NoError(t, json.Unmarshal(next, &cursor))
		}
	}
	whole, pages := all("/api/v1/incidents", "incidents")
	require.Len(t, whole, n)
	require.Equal(t, 1, pages)
	events, _ := all("/api/v1/events", "events")
	require.Len(t, events, n)

	f.api.listBytes.Store(1500) // about two incidents
	paged, pages := all("/api/v1/incidents", "incidents")
	require.Equal(t, whole, paged, "the same incidents in the same order")
	require.Greater(t, pages, 3)
	pagedEvents, pages := all("/api/v1/events", "events")
	require.Equal(t, events, pagedEvents)
	require.Greater(t, pages, 2)
}
