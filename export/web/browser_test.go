package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startDaemon builds and starts the real daemon on free ports and returns
// its base URL.
func startDaemon(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "hindsight.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(config), 0o600))
	bin := filepath.Join(dir, "hindsight")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hindsight").CombinedOutput()
	require.NoError(t, err, string(out))
	web := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--web.listen-address="+web, "--storage.path="+filepath.Join(dir, "data"),
		"--nats.listen-address="+freeAddr(t), "--log.level=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := "http://" + web
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond)
	return base
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
}

// alertWebhook is an Alertmanager notification of HighErrorRate on two
// checkout instances.
func alertWebhook(status string, start, end time.Time) string {
	endText := "0001-01-01T00:00:00Z"
	if !end.IsZero() {
		endText = end.UTC().Format(time.RFC3339)
	}
	alert := func(instance, fp string) string {
		return fmt.Sprintf(`{"status":%q,"labels":{"alertname":"HighErrorRate","service":"checkout","severity":"critical","instance":%q,"cluster":"eu-1"},
"annotations":{"summary":"checkout 5xx ratio above 5%%","runbook_url":"https://runbooks.example.internal/checkout/5xx"},
"startsAt":%q,"endsAt":%q,"generatorURL":"http://prometheus.example.internal/graph","fingerprint":%q}`,
			status, instance, start.UTC().Format(time.RFC3339), endText, fp)
	}
	return fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0,"status":%q,"receiver":"hindsight",
"groupLabels":{"alertname":"HighErrorRate"},"commonLabels":{"alertname":"HighErrorRate","service":"checkout"},"commonAnnotations":{},
"externalURL":"http://alertmanager.example.internal","alerts":[%s,%s]}`,
		status, alert("checkout-1:8080", "aa11aa11aa11aa11"), alert("checkout-2:8080", "bb22bb22bb22bb22"))
}

// shoot writes a screenshot of the page to the test's artifact
// directory, and to $HINDSIGHT_SCREENSHOTS when set.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	shot := filepath.Join(t.ArtifactDir(), name)
	require.NoError(t, os.WriteFile(shot, png, 0o644))
	t.Logf("screenshot: %s", shot)
	if dir := os.Getenv("HINDSIGHT_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
}

// pagerDutyWebhook is a v3 webhook about PagerDuty incident #4711 on the
// checkout service.
func pagerDutyWebhook(eventID, eventType, status, at string) string {
	return fmt.Sprintf(`{"event":{"id":%q,"event_type":%q,"resource_type":"incident","occurred_at":%q,
"agent":{"id":"PJ0ONCALL","summary":"Dana Oncall","type":"user_reference"},
"data":{"id":"Q2XK8LJ4N1ABCD","type":"incident","html_url":"https://acme.pagerduty.com/incidents/Q2XK8LJ4N1ABCD","number":4711,
"status":%q,"created_at":%q,"title":"HighErrorRate checkout","service":{"id":"PCHKOUT","summary":"checkout (prod)","type":"service_reference"},
"assignees":[{"id":"PJ0ONCALL","summary":"Dana Oncall","type":"user_reference"}],"priority":{"id":"PPRIO01","summary":"P1","type":"priority_reference"},"urgency":"high"}}}`,
		eventID, eventType, at, status, at)
}

// TestBrowser drives the web view in a real headless Chromium against the
// real daemon: the list fills without a reload when a webhook comes in,
// the incident page draws the alerts and marks the suspect deploy, its
// reasons are one click away, and the resolution comes live. It writes
// a screenshot of the incident page (see the log for where).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon and Chromium")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		chromium = "/usr/bin/chromium"
		if _, err := os.Stat(chromium); err != nil {
			t.Fatal("Debian's chromium is needed for the browser test: make test-deps installs it")
		}
	}
	// An incident resolves resolve_after (wall clock) after its last
	// alert; a second keeps the test short.
	base := startDaemon(t, "correlation: {resolve_after: 1s}\n"+
		"services: {checkout: {customer_facing: true, tier: 1, pagerduty_service_ids: [PCHKOUT]}}\n")
	// The story, told in the past so that it can end within the test: a
	// deploy, the first symptom 7m later, a page 1m after that, an
	// acknowledgement, a rollback, the alerts resolving 8m in.
	now := time.Now().UTC().Truncate(time.Second)
	start := now.Add(-10 * time.Minute)
	at := func(d time.Duration) string { return start.Add(d).Format(time.RFC3339) }
	// The deploy comes first; alone it is no incident.
	post(t, base+"/api/v1/ingest/deploys", fmt.Sprintf(`{"id":"d-4711","service":"checkout","status":"succeeded","at":%q,"version":"v2.3.1"}`, at(-7*time.Minute)))

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1366, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	// Every request the page makes, and every script error.
	var mu sync.Mutex
	var requests, jsErrors []string
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	excs := chromedp.Events(ctx, runtime.ExceptionThrown)
	logs := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			mu.Lock()
			requests = append(requests, ev.Request.URL)
			mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range excs {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			mu.Lock()
			jsErrors = append(jsErrors, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, text))
			mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				mu.Lock()
				for _, a := range ev.Args {
					jsErrors = append(jsErrors, "console.error: "+a.Description+string(a.Value))
				}
				mu.Unlock()
			}
		}
	}()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(dctx, actions...)
		dcancel()
		if err != nil {
			// Say what the page showed and complained about.
			mu.Lock()
			t.Logf("script errors: %q", jsErrors)
			mu.Unlock()
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if png, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100)); serr == nil {
				shot := filepath.Join(t.ArtifactDir(), "failed.png")
				_ = os.WriteFile(shot, png, 0o644)
				if dir := os.Getenv("HINDSIGHT_SCREENSHOTS"); dir != "" {
					_ = os.WriteFile(filepath.Join(dir, "failed.png"), png, 0o644)
				}
				t.Logf("screenshot at the failure: %s", shot)
			}
		}
		require.NoError(t, err, what)
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	eval := func(js string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		require.NoError(t, err, js)
		return v
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }

	// The list loads, empty, and the stream is live.
	do("load the list", chromedp.Navigate(base+"/"), visible(`td.empty`), visible(`body[data-live="on"]`))
	eval(`window.__sameDocument = 1`)

	// A webhook posted now makes the incident appear without a reload.
	post(t, base+"/api/v1/ingest/alertmanager", alertWebhook("firing", start, time.Time{}))
	do("the incident appears", visible(`table.incidents a.row-link`))
	post(t, base+"/api/v1/ingest/pagerduty", pagerDutyWebhook("01PAGE0000000000000000TRIG", "incident.triggered", "triggered", at(time.Minute)))
	post(t, base+"/api/v1/ingest/pagerduty", pagerDutyWebhook("01PAGE0000000000000000ACKD", "incident.acknowledged", "acknowledged", at(3*time.Minute)))
	post(t, base+"/api/v1/ingest/deploys", fmt.Sprintf(`{"id":"d-4712","service":"checkout","status":"succeeded","at":%q,"version":"v2.3.0","previous_version":"v2.3.1"}`, at(6*time.Minute)))
	require.Equal(t, 1, eval(`window.__sameDocument || 0`), "the page was not reloaded")
	row := text(`table.incidents tbody tr`)
	require.Contains(t, row, "checkout: HighErrorRate")
	require.Contains(t, row, "open")
	require.Contains(t, row, "1 suspect")
	shoot(t, ctx, "list.png")

	// Filters apply to what is listed: resolved only hides it.
	change := `document.querySelector('select[name=status]').dispatchEvent(new Event('change', {bubbles: true}))`
	do("filter resolved", chromedp.SetValue(chromedp.CSS(`select[name=status]`), "resolved"))
	eval(change + `, 0`)
	do("nothing resolved", visible(`td.empty`))
	do("filter any", chromedp.SetValue(chromedp.CSS(`select[name=status]`), ""))
	eval(change + `, 0`)
	do("listed again", visible(`table.incidents a.row-link`))
	require.Equal(t, 1, eval(`document.querySelectorAll('table.incidents a.row-link').length`))

	// The keyboard opens it: j selects the first incident, Enter follows.
	do("open by keyboard", chromedp.KeyEvent("j"), chromedp.KeyEvent("\r"),
		visible(`.chart svg`), visible(`table.entries`), visible(`.chart svg .suspect-label`))
	entries := text(`table.entries`)
	require.Contains(t, entries, "HighErrorRate firing on checkout-1:8080")
	require.Contains(t, entries, "HighErrorRate firing on checkout-2:8080")
	require.Contains(t, entries, "checkout v2.3.1 deploy succeeded")
	require.Equal(t, 2, eval(`document.querySelectorAll('.chart svg rect.bar').length`), "one bar per firing alert")
	require.Equal(t, 1, eval(`document.querySelectorAll('.chart svg .mark.suspect').length`), "the deploy is marked as the suspect")
	label, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`.chart svg .suspect-label`)))
	require.NoError(t, err)
	require.Contains(t, label, "suspect")
	suspects := text(`#suspects`)
	require.Contains(t, suspects, "checkout v2.3.1 deploy succeeded")
	require.Contains(t, suspects, "before the first symptom")
	require.Equal(t, 1, eval(`document.querySelectorAll('.chart svg .gap').length`), "the time to detection is drawn")

	// One click on the suspect marker shows why it is on the timeline.
	do("click the suspect", chromedp.Click(chromedp.CSS(`.chart svg .mark.suspect`)),
		visible(`table.entries tr.selected details[open] ul.reasons`))
	reasons := text(`table.entries tr.selected details[open]`)
	require.Contains(t, reasons, "before the first symptom")
	require.Contains(t, reasons, "Suspect")

	// Lanes by source with l; the draft preview with d.
	do("lanes by source", chromedp.KeyEvent("l"), visible(`.seg button[aria-pressed="true"]`))
	require.Contains(t, text(`.seg button[aria-pressed="true"]`), "by source")
	lanes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.chart svg .lane-label:not(.sub)')].map(e => e.textContent)`))
	require.NoError(t, err)
	require.Equal(t, []string{"deploys", "alerts", "pages"}, lanes)
	do("lanes by service", chromedp.KeyEvent("l"))
	do("draft preview", chromedp.KeyEvent("d"), visible(`#draft iframe`))
	require.Equal(t, 1, eval(`document.querySelector('#draft iframe').getAttribute('src').includes('/postmortem?format=html') ? 1 : 0`))
	require.Equal(t, 4, eval(`document.querySelectorAll('#draft a[download]').length`))

	// The resolution arrives while the page is open.
	eval(`window.__sameDocument = 2`)
	post(t, base+"/api/v1/ingest/alertmanager", alertWebhook("resolved", start, start.Add(8*time.Minute)))
	post(t, base+"/api/v1/ingest/pagerduty", pagerDutyWebhook("01PAGE0000000000000000RSLV", "incident.resolved", "resolved", at(8*time.Minute+30*time.Second)))
	do("resolved live", visible(`.headline .status.resolved`), visible(`.chart svg`))
	require.Equal(t, "resolved", text(`.headline .status`))
	require.Equal(t, 2, eval(`window.__sameDocument || 0`), "the page was not reloaded")

	// The screenshot an on-call engineer would see.
	eval(`window.scrollTo(0, 0), 0`)
	do("settle", chromedp.Sleep(300*time.Millisecond))
	shoot(t, ctx, "incident.png")

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, jsErrors, "script errors on the page")
	for _, u := range requests {
		require.True(t, strings.HasPrefix(u, base+"/") || strings.HasPrefix(u, "data:"), "the page asked for %s: it must need nothing but the daemon", u)
	}
}
