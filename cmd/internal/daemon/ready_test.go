package daemon

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
)

func TestReadinessRegistry(t *testing.T) {
	var r Readiness
	r.Add("store", func(context.Context) error { return nil })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "Hindsight is Ready.\n", w.Body.String())

	r.Add("deploys", func(context.Context) error {
		return errors.New("not connected to NATS at nats://x:4222\n(RECONNECTING)")
	})
	r.Add("stuck", func(ctx context.Context) error { <-ctx.Done(); time.Sleep(3 * time.Second); return nil })
	r.Add("broken", func(context.Context) error { panic("boom") })
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "Hindsight is not ready.\n"+
		"deploys: not connected to NATS at nats://x:4222 (RECONNECTING)\n"+
		"stuck: no answer within 2s\n"+
		"broken: check panicked: boom\n", w.Body.String())
}

func TestFirstDifferenceNamesTheKey(t *testing.T) {
	a, b := config.Default(), config.Default()
	_, changed := firstDifference("nats", a.NATS, b.NATS)
	require.False(t, changed)
	b.NATS.TLS.CAFile = "ca.pem"
	key, changed := firstDifference("nats", a.NATS, b.NATS)
	require.True(t, changed)
	require.Equal(t, "nats.tls_config.ca_file", key)
}
