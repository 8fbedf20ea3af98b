package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIngestRefusesFarFutureEvents: an Alertmanager notification whose
// startsAt is years ahead of the receiving clock answers 400 naming the
// field, and nothing of it is stored (issue 9, defect 3).
func TestIngestRefusesFarFutureEvents(t *testing.T) {
	f := newFixture(t)
	far := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	code, b := f.do(t, "POST", "/api/v1/ingest/alertmanager", amAlert("checkout", "HighErrorRate", "firing", far, time.Time{}))
	require.Equal(t, http.StatusBadRequest, code, string(b))
	require.Contains(t, string(b), "startsAt 2099-01-01T00:00:00Z is")
	require.Contains(t, string(b), "correlation.max_future_skew 10m")
	code, b = f.do(t, "GET", "/api/v1/events", "")
	require.Equal(t, http.StatusOK, code, string(b))
	require.NotContains(t, string(b), "2099-01-01")

	// A notification from a clock a few minutes ahead is taken.
	code, b = f.do(t, "POST", "/api/v1/ingest/alertmanager", amAlert("checkout", "HighErrorRate", "firing", time.Now().Add(2*time.Minute), time.Time{}))
	require.Equal(t, http.StatusOK, code, string(b))
}
