package sink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
)

func delivery(id string, version int, formats ...string) Delivery {
	d := Delivery{IncidentID: id, Version: version}
	for _, f := range formats {
		d.Files = append(d.Files, File{Format: f, Name: FileName(id, version, f), ContentType: "text/plain",
			Body: []byte("# draft " + id + " v" + string(rune('0'+version)) + " " + f + "\n"), Key: Key(id, version, f)})
	}
	return d
}

func TestDirectoryLeavesAnEditedFileAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "postmortems", "checkout") // created on first use
	d := NewDirectory(dir)
	ctx := t.Context()

	loc, err := d.Deliver(ctx, delivery("inc-1", 1, config.FormatMarkdown, config.FormatJSON))
	require.NoError(t, err)
	require.Equal(t, "inc-1.v1.md, inc-1.v1.json", loc)
	md := filepath.Join(dir, "inc-1.v1.md")
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	require.Equal(t, "# draft inc-1 v1 markdown\n", string(b))

	// A person edits the exported file; the same version again (a retry)
	// leaves it as they wrote it.
	edited := "# Checkout outage, 20 Nov\n\nWritten by Dana.\n"
	require.NoError(t, os.WriteFile(md, []byte(edited), 0o644))
	loc, err = d.Deliver(ctx, delivery("inc-1", 1, config.FormatMarkdown, config.FormatJSON))
	require.NoError(t, err)
	require.Contains(t, loc, "already there, left as it is: inc-1.v1.md, inc-1.v1.json")
	b, err = os.ReadFile(md)
	require.NoError(t, err)
	require.Equal(t, edited, string(b))

	// A later export is a new version beside it.
	loc, err = d.Deliver(ctx, delivery("inc-1", 2, config.FormatMarkdown))
	require.NoError(t, err)
	require.Equal(t, "inc-1.v2.md", loc)
	b, err = os.ReadFile(md)
	require.NoError(t, err)
	require.Equal(t, edited, string(b), "version 2 did not touch version 1")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"inc-1.v1.json", "inc-1.v1.md", "inc-1.v2.md"}, names, "no temporary file is left behind")
}

func TestNewRefusesSinksThatCannotWork(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-dir")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	cfgFile := filepath.Join(dir, "hindsight.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(`export:
  sinks:
    - type: directory
      path: not-a-dir/postmortems
    - type: directory
      path: fine/postmortems
`), 0o600))
	cfg, err := config.LoadFile(cfgFile)
	require.NoError(t, err)
	_, err = New(cfg, cfgFile, Options{})
	require.EqualError(t, err, `hindsight.yml:4: export.sinks[0].path: directory "`+file+`/postmortems" cannot be created: "`+file+`" is not a directory`)

	cfg.Export.Sinks = []config.Sink{{Type: config.SinkWebhook, URL: "ftp://wiki.example.com/hook"}}
	_, err = New(cfg, "", Options{})
	require.EqualError(t, err, "export.sinks[0].url: must be an absolute http or https URL")

	cfg.Export.Sinks = []config.Sink{{Type: config.SinkDirectory, Path: filepath.Join(dir, "ok")}, {Type: config.SinkNATS, Subject: "pm"}}
	sinks, err := New(cfg, "", Options{})
	require.NoError(t, err)
	require.Len(t, sinks, 2)
	_, err = os.Stat(filepath.Join(dir, "ok"))
	require.ErrorIs(t, err, os.ErrNotExist, "checking writes nothing")
}

// receiver is a webhook receiver that keeps what it stored by
// Idempotency-Key and answers 500 to the first fails requests, after
// storing: the case where a retry without a key would store twice.
type receiver struct {
	mu       sync.Mutex
	fails    int
	requests int
	keys     []string
	stored   map[string]string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	key := r.Header.Get("Idempotency-Key")
	rc.keys = append(rc.keys, key)
	if rc.stored == nil {
		rc.stored = map[string]string{}
	}
	if _, seen := rc.stored[key]; !seen && key != "" {
		rc.stored[key] = string(body)
	}
	if rc.requests <= rc.fails {
		http.Error(w, "temporarily broken", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhookRetriesAndIsDeliveredOnceByKey(t *testing.T) {
	rc := &receiver{fails: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	w, err := NewWebhook(srv.URL+"/hooks/postmortem?token=s3cret", Options{Attempts: 4, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NotContains(t, w.Name(), "s3cret")

	_, err = w.Deliver(t.Context(), delivery("inc-1", 1, config.FormatMarkdown))
	require.NoError(t, err)
	require.Equal(t, 3, rc.requests, "failed twice, then delivered")
	require.Equal(t, []string{Key("inc-1", 1, "markdown"), Key("inc-1", 1, "markdown"), Key("inc-1", 1, "markdown")}, rc.keys,
		"the same Idempotency-Key on every retry")
	require.Len(t, rc.stored, 1, "stored once")
	require.Equal(t, "# draft inc-1 v1 markdown\n", rc.stored[Key("inc-1", 1, "markdown")])

	// The exporter retrying the whole delivery later changes nothing.
	_, err = w.Deliver(t.Context(), delivery("inc-1", 1, config.FormatMarkdown))
	require.NoError(t, err)
	require.Len(t, rc.stored, 1)
}

func TestWebhookErrorsKeepTheURLOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such wiki page", http.StatusNotFound)
	}))
	defer srv.Close()
	w, err := NewWebhook(srv.URL+"/hooks/T0KEN", Options{Attempts: 3, MinBackoff: time.Millisecond})
	require.NoError(t, err)
	_, err = w.Deliver(t.Context(), delivery("inc-1", 1, config.FormatMarkdown))
	require.ErrorContains(t, err, "404 Not Found: the receiver refused the draft")
	require.ErrorContains(t, err, "after 3 attempt(s)")
	require.True(t, IsPermanent(err), "a 4xx is not retried at once")
	require.NotContains(t, err.Error(), "T0KEN")

	srv.Close() // now unreachable
	_, err = w.Deliver(t.Context(), delivery("inc-1", 1, config.FormatMarkdown))
	require.ErrorContains(t, err, "unreachable")
	require.False(t, IsPermanent(err))
	require.NotContains(t, err.Error(), "T0KEN")
}

func runNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir()})
	require.NoError(t, err)
	ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func TestNATSSubscriberReceivesTheDraft(t *testing.T) {
	ns := runNATS(t)
	sub, err := nats.Connect(ns.ClientURL())
	require.NoError(t, err)
	defer sub.Close()
	msgs := make(chan *nats.Msg, 8)
	s, err := sub.ChanSubscribe("postmortems.drafts", msgs)
	require.NoError(t, err)
	defer func() { _ = s.Unsubscribe() }()
	require.NoError(t, sub.Flush())

	n := NewNATS("postmortems.drafts", func() (*nats.Conn, error) { return nats.Connect(ns.ClientURL()) }, time.Second)
	defer n.Close()
	loc, err := n.Deliver(t.Context(), delivery("inc-1", 2, config.FormatMarkdown, config.FormatJSON))
	require.NoError(t, err)
	require.Equal(t, "2 message(s) on postmortems.drafts", loc)
	for _, f := range []string{config.FormatMarkdown, config.FormatJSON} {
		select {
		case m := <-msgs:
			require.Equal(t, "# draft inc-1 v2 "+f+"\n", string(m.Data))
			require.Equal(t, Key("inc-1", 2, f), m.Header.Get(nats.MsgIdHdr))
			require.Equal(t, "inc-1", m.Header.Get("Hindsight-Incident"))
			require.Equal(t, "2", m.Header.Get("Hindsight-Version"))
			require.Equal(t, f, m.Header.Get("Hindsight-Format"))
		case <-time.After(5 * time.Second):
			t.Fatalf("the subscriber got no %s draft", f)
		}
	}

	// A JetStream stream capturing the subject keeps each version once,
	// however often it is sent.
	js, err := jetstream.New(sub)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "POSTMORTEMS", Subjects: []string{"postmortems.>"}})
	require.NoError(t, err)
	for range 2 {
		_, err = n.Deliver(ctx, delivery("inc-1", 3, config.FormatMarkdown))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}, 5*time.Second, 50*time.Millisecond, "the stream dropped the repeat by Nats-Msg-Id")
}

func TestNATSWithoutConnection(t *testing.T) {
	n := NewNATS("pm", nil, time.Second)
	_, err := n.Deliver(t.Context(), delivery("inc-1", 1, config.FormatMarkdown))
	require.ErrorContains(t, err, "no NATS connection configured")
	require.True(t, strings.HasPrefix(n.Name(), "nats "))
}
