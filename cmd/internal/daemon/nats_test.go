package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
)

const deployJSON = `{"id":"d-1","service":"checkout","status":"succeeded","at":"2026-11-20T09:56:10Z","version":"v2.3.1"}`

func connect(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.Timeout(5 * time.Second), nats.NoReconnect()}, opts...)...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

func deployEvents(t *testing.T, base, token string) int {
	t.Helper()
	code, b := do(t, http.MethodGet, base+"/api/v1/events?source=deploy", token, "")
	require.Equal(t, http.StatusOK, code, "%s", b)
	var resp struct{ Events []json.RawMessage }
	require.NoError(t, json.Unmarshal(b, &resp))
	return len(resp.Events)
}

// TestNATSPublishersNeedIngestToken: with ingest tokens set, the embedded
// NATS server refuses a client without one or with a wrong one; a
// publisher with an ingest token (user = its name, password = the token)
// publishes deploys, but cannot delete or create streams, nor publish
// elsewhere.
func TestNATSPublishersNeedIngestToken(t *testing.T) {
	dir := t.TempDir()
	d := daemontest.Start(t, dir, accessConfig(t, dir))
	url := d.NATSURL()

	for name, opts := range map[string][]nats.Option{
		"anonymous":          nil,
		"wrong password":     {nats.UserInfo("alertmanager", "not-a-token")},
		"api token":          {nats.UserInfo("ops", rwToken)},
		"wrong user":         {nats.UserInfo("someone-else", ingestToken)},
		"daemon's own user":  {nats.UserInfo("hindsight", ingestToken)},
		"token, wrong value": {nats.Token("not-a-token")},
	} {
		_, err := connect(t, url, opts...)
		require.ErrorIs(t, err, nats.ErrAuthorization, name)
	}

	errs := make(chan error, 10)
	nc, err := connect(t, url, nats.UserInfo("alertmanager", ingestToken),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.Stream(ctx, "DEPLOYS")
	require.NoError(t, err, "a publisher may check that the stream exists")
	_, err = js.Publish(ctx, "deploys.checkout", []byte(deployJSON), jetstream.WithMsgID("d-1:succeeded"))
	require.NoError(t, err, "a publisher with an ingest token publishes deploys")
	require.Eventually(t, func() bool { return deployEvents(t, d.URL, roToken) == 1 }, 10*time.Second, 20*time.Millisecond)

	// The server drops a request it does not permit: the caller waits
	// in vain.
	denied, cancelDenied := context.WithTimeout(context.Background(), time.Second)
	defer cancelDenied()
	err = js.DeleteStream(denied, "DEPLOYS")
	require.Error(t, err, "a publisher cannot delete the stream")
	_, err = js.CreateStream(denied, jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}})
	require.Error(t, err, "a publisher cannot create streams")
	require.NoError(t, nc.Publish("other.subject", []byte("x")))
	select {
	case err := <-errs:
		require.ErrorIs(t, err, nats.ErrPermissionViolation)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "publishing outside the deploy subject should be refused")
	}
	require.NoError(t, d.WaitReady(time.Second), "the stream is still there")

	// A token in the URL (nats://TOKEN@host) works too.
	tokURL := strings.Replace(url, "nats://", "nats://"+ingestToken+"@", 1)
	_, err = connect(t, tokURL)
	require.NoError(t, err)
	requireNoSecret(t, d.Log())
}

// TestNATSAnonymousPublishOnly: without ingest tokens anyone may publish
// deploys (as before), but nobody anonymous manages streams.
func TestNATSAnonymousPublishOnly(t *testing.T) {
	d := daemontest.Start(t, t.TempDir(), "")
	nc, err := connect(t, d.NATSURL())
	require.NoError(t, err)
	require.NoError(t, nc.Publish("deploys.checkout", []byte(deployJSON)))
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool { return deployEvents(t, d.URL, "") == 1 }, 10*time.Second, 20*time.Millisecond)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.Error(t, js.DeleteStream(ctx, "DEPLOYS"), "an anonymous client cannot delete the stream")
	require.NoError(t, d.WaitReady(time.Second))
}
