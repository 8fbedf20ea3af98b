// Command hindsightctl is the operator's client of the Hindsight HTTP API.
// The daemon's address comes from --url or HINDSIGHT_URL, its token from
// HINDSIGHT_TOKEN.
//
//	hindsightctl list [--status open|resolved] [--service S] [--limit N]
//	hindsightctl show INCIDENT
//	hindsightctl export INCIDENT [--format markdown|json|html]
//	hindsightctl events [--source S] [--limit N]
//	hindsightctl backfill pagerduty [--since 72h] [--until T]
//	hindsightctl note INCIDENT --author NAME TEXT...
//	hindsightctl severity INCIDENT SEV1..SEV5|clear [--author NAME]
//	hindsightctl recorrelate
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs hindsightctl with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("hindsightctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	base := global.String("url", envOr("HINDSIGHT_URL", "http://localhost:9097"), "Hindsight address (HINDSIGHT_URL)")
	timeout := global.Duration("timeout", 5*time.Minute, "how long to wait for an answer")
	global.Usage = func() {
		fmt.Fprintln(stderr, "usage: hindsightctl [--url URL] list|show|export|events|backfill|note|severity|merge|split|recorrelate ...")
		global.PrintDefaults()
	}
	if err := global.Parse(args); err != nil {
		return 2
	}
	if global.NArg() == 0 {
		global.Usage()
		return 2
	}
	c := &client{base: strings.TrimRight(*base, "/"), token: os.Getenv("HINDSIGHT_TOKEN"), http: &http.Client{Timeout: *timeout}}
	cmd, rest := global.Arg(0), global.Args()[1:]
	var err error
	switch cmd {
	case "list":
		err = c.list(ctx, rest, stdout)
	case "show":
		err = c.show(ctx, rest, stdout)
	case "export":
		err = c.export(ctx, rest, stdout)
	case "events":
		err = c.events(ctx, rest, stdout)
	case "backfill":
		err = c.backfill(ctx, rest, stdout)
	case "note":
		err = c.note(ctx, rest, stdout)
	case "severity":
		err = c.severity(ctx, rest, stdout)
	case "merge":
		err = c.merge(ctx, rest, stdout)
	case "split":
		err = c.split(ctx, rest, stdout)
	case "recorrelate":
		var body []byte
		body, err = c.send(ctx, http.MethodPost, "/api/v1/recorrelate", nil)
		if err == nil {
			_, err = stdout.Write(body)
		}
	default:
		err = fmt.Errorf("unknown command %q (list, show, export, events, backfill, note, severity, merge, split, recorrelate)", cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "hindsightctl: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type client struct {
	base, token string
	http        *http.Client
}

// do sends a request and returns the body of a 2xx answer, or an error
// carrying the daemon's {"error": ...} message.
func (c *client) do(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return c.request(ctx, method, u, nil)
}

// send posts a JSON body.
func (c *client) send(ctx context.Context, method, path string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	return c.request(ctx, method, c.base+path, r)
}

func (c *client) request(ctx context.Context, method, u string, body io.Reader) ([]byte, error) {
	path := strings.TrimPrefix(u, c.base)
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(answer, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s %s: %s (%d)", method, path, e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return answer, nil
}

func (c *client) list(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	status := fs.String("status", "", "open or resolved")
	service := fs.String("service", "", "only incidents involving this service")
	limit := fs.Int("limit", 50, "how many")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	if *status != "" {
		q.Set("status", *status)
	}
	if *service != "" {
		q.Set("service", *service)
	}
	body, err := c.do(ctx, http.MethodGet, "/api/v1/incidents", q)
	if err != nil {
		return err
	}
	var page struct {
		Incidents []struct {
			ID        string    `json:"id"`
			Title     string    `json:"title"`
			Status    string    `json:"status"`
			StartedAt time.Time `json:"started_at"`
			Services  []string  `json:"services"`
			Severity  struct {
				Effective string `json:"effective"`
			} `json:"severity"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("decode incidents: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tSTATUS\tSEV\tSERVICES\tTITLE")
	for _, i := range page.Incidents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.StartedAt.UTC().Format("2006-01-02 15:04"), i.Status,
			i.Severity.Effective, strings.Join(i.Services, ","), i.Title)
	}
	return tw.Flush()
}

func oneArg(args []string, what string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: give the %s", errUsage, what)
	}
	return args[0], args[1:], nil
}

func (c *client) show(ctx context.Context, args []string, out io.Writer) error {
	id, _, err := oneArg(args, "incident id")
	if err != nil {
		return err
	}
	body, err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode incident: %w", err)
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *client) export(ctx context.Context, args []string, out io.Writer) error {
	id, rest, err := oneArg(args, "incident id")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "markdown", "markdown, json or html")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	body, err := c.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id)+"/postmortem", url.Values{"format": {*format}})
	if err != nil {
		return err
	}
	_, err = out.Write(body)
	return err
}

func (c *client) events(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	source := fs.String("source", "", "alertmanager, pagerduty or deploy")
	limit := fs.Int("limit", 50, "how many")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	if *source != "" {
		q.Set("source", *source)
	}
	body, err := c.do(ctx, http.MethodGet, "/api/v1/events", q)
	if err != nil {
		return err
	}
	var page struct {
		Events []struct {
			At         time.Time `json:"at"`
			Source     string    `json:"source"`
			Kind       string    `json:"kind"`
			Summary    string    `json:"summary"`
			IncidentID *string   `json:"incident_id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("decode events: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT (UTC)\tSOURCE\tKIND\tINCIDENT\tSUMMARY")
	for _, e := range page.Events {
		inc := "-"
		if e.IncidentID != nil {
			inc = *e.IncidentID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Source, e.Kind, inc, e.Summary)
	}
	return tw.Flush()
}

func (c *client) backfill(ctx context.Context, args []string, out io.Writer) error {
	src, rest, err := oneArg(args, "source to backfill (pagerduty)")
	if err != nil {
		return err
	}
	if src != "pagerduty" {
		return fmt.Errorf("%w: only pagerduty can be backfilled, not %q", errUsage, src)
	}
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	since := fs.String("since", "72h", "start of the window: a duration ago (72h) or an RFC 3339 time")
	until := fs.String("until", "", "end of the window (default now)")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	q := url.Values{"since": {*since}}
	if *until != "" {
		q.Set("until", *until)
	}
	body, err := c.do(ctx, http.MethodPost, "/api/v1/backfill/pagerduty", q)
	if err != nil {
		return err
	}
	_, err = out.Write(body)
	return err
}

func (c *client) note(ctx context.Context, args []string, out io.Writer) error {
	id, rest, err := oneArg(args, "incident id")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("note", flag.ContinueOnError)
	author := fs.String("author", os.Getenv("USER"), "who writes the note")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" {
		return fmt.Errorf("%w: give the note's text", errUsage)
	}
	_, err = c.send(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/notes", map[string]string{"author": *author, "text": text})
	if err == nil {
		fmt.Fprintf(out, "note added to %s\n", id)
	}
	return err
}

func (c *client) severity(ctx context.Context, args []string, out io.Writer) error {
	id, rest, err := oneArg(args, "incident id")
	if err != nil {
		return err
	}
	sev, rest, err := oneArg(rest, "severity (SEV1..SEV5, or clear)")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("severity", flag.ContinueOnError)
	author := fs.String("author", os.Getenv("USER"), "who overrides")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	if sev == "clear" {
		sev = ""
	}
	_, err = c.send(ctx, http.MethodPatch, "/api/v1/incidents/"+url.PathEscape(id), map[string]string{"severity": sev, "author": *author})
	if err == nil {
		fmt.Fprintf(out, "severity of %s set to %s\n", id, cmp.Or(sev, "the suggestion"))
	}
	return err
}

// merge: hindsightctl merge INTO [--author A] FROM...
func (c *client) merge(ctx context.Context, args []string, out io.Writer) error {
	into, rest, err := oneArg(args, "incident to merge into")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	author := fs.String("author", os.Getenv("USER"), "who merges")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the incidents to merge into %s", errUsage, into)
	}
	body, err := c.send(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(into)+"/merge", map[string]any{"from": fs.Args(), "author": *author})
	if err != nil {
		return err
	}
	var v struct {
		ID       string   `json:"id"`
		Services []string `json:"services"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode incident: %w", err)
	}
	fmt.Fprintf(out, "merged %s into %s (services: %s)\n", strings.Join(fs.Args(), ", "), v.ID, strings.Join(v.Services, ", "))
	return nil
}

// split: hindsightctl split ID [--author A] ENTRY...
func (c *client) split(ctx context.Context, args []string, out io.Writer) error {
	id, rest, err := oneArg(args, "incident id")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("split", flag.ContinueOnError)
	author := fs.String("author", os.Getenv("USER"), "who splits")
	if err := fs.Parse(rest); err != nil {
		return errUsage
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: give the timeline entries (ent-...) to move to a new incident", errUsage)
	}
	body, err := c.send(ctx, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/split", map[string]any{"entries": fs.Args(), "author": *author})
	if err != nil {
		return err
	}
	var v struct {
		ID       string `json:"id"`
		Timeline []any  `json:"timeline"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("decode incident: %w", err)
	}
	fmt.Fprintf(out, "%s: %d entries moved there from %s\n", v.ID, len(v.Timeline), id)
	return nil
}
