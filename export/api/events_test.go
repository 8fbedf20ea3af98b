package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type eventPage struct {
	Events []EventView
	Next   string
}

func (f *fixture) events(t *testing.T, query string) eventPage {
	t.Helper()
	code, b := f.do(t, "GET", "/api/v1/events?"+query, "")
	require.Equal(t, http.StatusOK, code, string(b))
	var p eventPage
	require.NoError(t, json.Unmarshal(b, &p))
	return p
}

// The event list filters by incident (the events on its timeline), by
// service and by time, newest first by event time even when the events
// arrived out of order, and pages through its cursor.
func TestListEventsByIncidentServiceAndTime(t *testing.T) {
	f := newFixture(t)
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	// search's alert arrives first though it fired last.
	for _, body := range []string{
		amAlert("search", "Slow", "firing", t0.Add(2*time.Hour), time.Time{}),
		amAlert("checkout", "HighErrorRate", "firing", t0, time.Time{}),
		amAlert("checkout", "HighErrorRate", "resolved", t0, t0.Add(10*time.Minute)),
	} {
		code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", body)
		require.Equal(t, http.StatusOK, code, string(b))
	}

	all := f.events(t, "")
	require.Len(t, all.Events, 3)
	require.Equal(t, "search", all.Events[0].Service, "newest by event time first")
	require.True(t, all.Events[1].At.After(all.Events[2].At) || all.Events[1].Seq > all.Events[2].Seq)

	checkout := f.events(t, "service=checkout")
	require.Len(t, checkout.Events, 2)
	require.NotNil(t, checkout.Events[0].IncidentID)
	inc := *checkout.Events[0].IncidentID

	onTimeline := f.events(t, "incident="+inc)
	require.Len(t, onTimeline.Events, 2)
	for _, e := range onTimeline.Events {
		require.Equal(t, "checkout", e.Service)
	}
	require.Empty(t, f.events(t, "incident=inc-nosuch").Events)

	late := f.events(t, "since="+t0.Add(time.Hour).Format(time.RFC3339))
	require.Len(t, late.Events, 1)
	require.Equal(t, "search", late.Events[0].Service)
	early := f.events(t, "until="+t0.Add(time.Hour).Format(time.RFC3339)+"&source=alertmanager")
	require.Len(t, early.Events, 2)

	// Page by page: the same events in the same order.
	var paged []string
	p := f.events(t, "limit=1")
	for {
		for _, e := range p.Events {
			paged = append(paged, e.ID)
		}
		if p.Next == "" {
			break
		}
		p = f.events(t, "limit=1&cursor="+p.Next)
	}
	var ids []string
	for _, e := range all.Events {
		ids = append(ids, e.ID)
	}
	require.Equal(t, ids, paged)

	code, _ := f.do(t, "GET", "/api/v1/events?service=search&cursor="+checkout.Next+"x", "")
	require.Equal(t, http.StatusBadRequest, code)
}
