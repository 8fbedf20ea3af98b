package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

var severityLevels = []string{"SEV1", "SEV2", "SEV3", "SEV4", "SEV5", "clear"}

func incPath(id string, rest ...string) string {
	p := "/api/v1/incidents/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// register declares every command with its flags and arguments.
func (c *cli) register(app *kingpin.Application) {
	c.registerRead(app)
	c.registerChanges(app)
	c.registerPostmortem(app)
	c.registerOps(app)
}

func (c *cli) registerRead(app *kingpin.Application) {
	list := app.Command("list", "List incidents, newest first.").Alias("ls")
	status := list.Flag("status", "Only open or resolved ones.").Enum("open", "resolved")
	service := list.Flag("service", "Only those involving this service.").String()
	severity := list.Flag("severity", "Only those at this effective severity.").Enum(severityLevels[:5]...)
	since := list.Flag("since", "Only those still going at or after this time (RFC 3339, or a duration ago: 24h).").String()
	until := list.Flag("until", "Only those started by this time.").String()
	limit := list.Flag("limit", "How many (1..1000).").Default("50").Int()
	cursor := list.Flag("cursor", "Go on from a previous page (its 'next').").String()
	c.action(list, func(ctx context.Context) error {
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		for k, v := range map[string]string{"status": *status, "service": *service, "severity": *severity, "since": *since, "until": *until, "cursor": *cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		var page struct {
			Incidents []correlate.View `json:"incidents"`
			Next      string           `json:"next"`
		}
		raw, err := c.client.get(ctx, "/api/v1/incidents", q, &page)
		if err != nil {
			return err
		}
		return c.emit(raw, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tSTATUS\tSEV\tDURATION\tSERVICES\tTITLE")
			for _, v := range page.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, v.StartedAt.UTC().Format("2006-01-02 15:04"), v.Status,
					v.Severity.Effective, fmtDur(time.Duration(v.Impact.DurationSeconds)*time.Second), strings.Join(v.Services, ","), v.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Next != "" {
				fmt.Fprintf(c.stderr, "more: hindsightctl list --cursor %s\n", page.Next)
			}
			return nil
		})
	})

	show := app.Command("show", "Show one incident: what, when, why, and its timeline.")
	showID := show.Arg("incident", "Incident id (inc-...).").Required().String()
	c.action(show, func(ctx context.Context) error {
		var v correlate.View
		raw, err := c.client.get(ctx, incPath(*showID), nil, &v)
		if err != nil {
			return err
		}
		return c.emit(raw, func(w io.Writer) error { return printIncident(w, &v) })
	})

	tl := app.Command("timeline", "Print an incident's timeline entries, oldest first.")
	tlID := tl.Arg("incident", "Incident id.").Required().String()
	reasons := tl.Flag("reasons", "Print each entry's reasons under it.").Bool()
	hidden := tl.Flag("hidden", "Include entries people hid.").Bool()
	c.action(tl, func(ctx context.Context) error {
		var v correlate.View
		raw, err := c.client.get(ctx, incPath(*tlID), nil, &v)
		if err != nil {
			return err
		}
		if c.output != "table" {
			raw, err = c.client.get(ctx, incPath(*tlID, "timeline"), nil, nil)
			if err != nil {
				return err
			}
		}
		return c.emit(raw, func(w io.Writer) error { return printTimeline(w, &v, *reasons, *hidden) })
	})

	events := app.Command("events", "List the normalised event log, newest first.")
	source := events.Flag("source", "Only from alertmanager, pagerduty, deploy, note or hindsight.").String()
	evService := events.Flag("service", "Only about this service.").String()
	evSince := events.Flag("since", "Only at or after this time (RFC 3339 or a duration ago).").String()
	evUntil := events.Flag("until", "Only at or before this time.").String()
	evLimit := events.Flag("limit", "How many (1..1000).").Default("50").Int()
	c.action(events, func(ctx context.Context) error {
		q := url.Values{"limit": {fmt.Sprint(*evLimit)}}
		for k, v := range map[string]string{"source": *source, "service": *evService, "since": *evSince, "until": *evUntil} {
			if v != "" {
				q.Set(k, v)
			}
		}
		var page struct {
			Events []struct {
				At         time.Time `json:"at"`
				Source     string    `json:"source"`
				Kind       string    `json:"kind"`
				Service    string    `json:"service"`
				Summary    string    `json:"summary"`
				IncidentID *string   `json:"incident_id"`
			} `json:"events"`
			Next string `json:"next"`
		}
		raw, err := c.client.get(ctx, "/api/v1/events", q, &page)
		if err != nil {
			return err
		}
		return c.emit(raw, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT (UTC)\tSOURCE\tKIND\tSERVICE\tINCIDENT\tSUMMARY")
			for _, e := range page.Events {
				inc := "-"
				if e.IncidentID != nil {
					inc = *e.IncidentID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Source, e.Kind, cmp.Or(e.Service, "-"), inc, e.Summary)
			}
			return tw.Flush()
		})
	})
}

// changed prints what a change did: the incident's headline, or the
// daemon's answer with -o json|yaml.
func (c *cli) changed(raw []byte, what string) error {
	return c.emit(raw, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, what)
		return err
	})
}

// change sends a change and reports it with the incident as it is now.
func (c *cli) change(ctx context.Context, method, path string, body map[string]any, what func(v *correlate.View) string) error {
	if c.author != "" {
		if _, ok := body["author"]; !ok {
			body["author"] = c.author
		}
	}
	var v correlate.View
	raw, err := c.client.send(ctx, method, path, body, &v)
	if err != nil {
		return err
	}
	return c.changed(raw, what(&v))
}

func (c *cli) registerChanges(app *kingpin.Application) {
	note := app.Command("note", "Add a note to an incident's timeline.")
	noteID := note.Arg("incident", "Incident id.").Required().String()
	noteText := note.Arg("text", "The note.").Required().Strings()
	noteAt := note.Flag("at", "When it happened (RFC 3339, or a duration ago: 10m); default now.").String()
	c.action(note, func(ctx context.Context) error {
		body := map[string]any{"text": strings.Join(*noteText, " ")}
		if *noteAt != "" {
			t, err := parseWhen(*noteAt)
			if err != nil {
				return usagef("--at: %v", err)
			}
			body["at"] = t.UTC().Format(time.RFC3339)
		}
		return c.change(ctx, http.MethodPost, incPath(*noteID, "notes"), body, func(v *correlate.View) string {
			return "note added to " + v.ID
		})
	})

	override := func(name, help, field string, values []string) {
		cmd := app.Command(name, help)
		id := cmd.Arg("incident", "Incident id.").Required().String()
		var value *string
		var words *[]string
		if values != nil {
			value = cmd.Arg(field, strings.Join(values, ", ")+" (clear drops the override).").Required().Enum(values...)
		} else {
			words = cmd.Arg(field, "The new "+field+".").Required().Strings()
		}
		reason := cmd.Flag("reason", "Why; kept with the change on the timeline.").Short('r').String()
		c.action(cmd, func(ctx context.Context) error {
			v := ""
			if value != nil {
				v = *value
			} else {
				v = strings.Join(*words, " ")
			}
			if v == "clear" {
				v = ""
			}
			body := map[string]any{field: v}
			if *reason != "" {
				body["reason"] = *reason
			}
			return c.change(ctx, http.MethodPatch, incPath(*id), body, func(inc *correlate.View) string {
				switch field {
				case "severity":
					return fmt.Sprintf("%s: severity %s (suggested %s)", inc.ID, inc.Severity.Effective, inc.Severity.Suggested)
				case "status":
					return fmt.Sprintf("%s: %s", inc.ID, inc.Status)
				}
				return fmt.Sprintf("%s: %s", inc.ID, inc.Title)
			})
		})
	}
	override("severity", "Override the suggested severity.", "severity", severityLevels)
	override("status", "Override the status (open, resolved).", "status", []string{"open", "resolved", "clear"})
	override("title", "Give the incident a title.", "title", nil)

	curate := func(name, help, done string, body map[string]any) {
		cmd := app.Command(name, help)
		id := cmd.Arg("incident", "Incident id.").Required().String()
		entry := cmd.Arg("entry", "Timeline entry id (ent-...; see hindsightctl timeline).").Required().String()
		reason := cmd.Flag("reason", "Why; kept with the change.").Short('r').String()
		c.action(cmd, func(ctx context.Context) error {
			b := map[string]any{}
			for k, v := range body {
				b[k] = v
			}
			if *reason != "" {
				b["reason"] = *reason
			}
			return c.change(ctx, http.MethodPatch, incPath(*id, "entries", *entry), b, func(v *correlate.View) string {
				return fmt.Sprintf("%s: entry %s %s", v.ID, *entry, done)
			})
		})
	}
	curate("pin", "Pin an entry: the draft keeps it in its short timeline.", "pinned", map[string]any{"pinned": true})
	curate("unpin", "Unpin an entry.", "unpinned", map[string]any{"pinned": false})
	curate("hide", "Hide an entry from the draft (it stays in the log).", "hidden", map[string]any{"hidden": true})
	curate("unhide", "Show a hidden entry again.", "shown again", map[string]any{"hidden": false})
	annotate := app.Command("annotate", "Give a timeline entry a note (an empty text removes it).")
	aID := annotate.Arg("incident", "Incident id.").Required().String()
	aEntry := annotate.Arg("entry", "Timeline entry id.").Required().String()
	aText := annotate.Arg("text", "The note on the entry.").Strings()
	c.action(annotate, func(ctx context.Context) error {
		return c.change(ctx, http.MethodPatch, incPath(*aID, "entries", *aEntry), map[string]any{"note": strings.Join(*aText, " ")},
			func(v *correlate.View) string { return fmt.Sprintf("%s: entry %s annotated", v.ID, *aEntry) })
	})

	merge := app.Command("merge", "Merge incidents into one.")
	into := merge.Arg("into", "The incident that stays.").Required().String()
	from := merge.Arg("from", "The incidents merged into it.").Required().Strings()
	c.action(merge, func(ctx context.Context) error {
		return c.change(ctx, http.MethodPost, incPath(*into, "merge"), map[string]any{"from": *from}, func(v *correlate.View) string {
			return fmt.Sprintf("merged %s into %s (services: %s)", strings.Join(*from, ", "), v.ID, strings.Join(v.Services, ", "))
		})
	})

	split := app.Command("split", "Move timeline entries off an incident into a new one.")
	splitID := split.Arg("incident", "Incident id.").Required().String()
	entries := split.Arg("entries", "Timeline entry ids to move (an alert or page moves whole).").Required().Strings()
	c.action(split, func(ctx context.Context) error {
		return c.change(ctx, http.MethodPost, incPath(*splitID, "split"), map[string]any{"entries": *entries}, func(v *correlate.View) string {
			return fmt.Sprintf("%s: %d entries moved there from %s", v.ID, len(v.Timeline), *splitID)
		})
	})
}

func (c *cli) registerPostmortem(app *kingpin.Application) {
	export := app.Command("postmortem", "Print or save an incident's post-mortem draft.").Alias("export")
	id := export.Arg("incident", "Incident id.").Required().String()
	format := export.Flag("format", "markdown, html or json.").Short('f').Default("markdown").Enum("markdown", "md", "html", "json")
	audience := export.Flag("audience", "customer: the customer-facing variant.").Enum("internal", "customer")
	file := export.Flag("file", "Write it to this file instead of standard output.").PlaceHolder("FILE").String()
	c.action(export, func(ctx context.Context) error {
		f := *format
		if f == "md" {
			f = "markdown"
		}
		q := url.Values{"format": {f}}
		if *audience == "customer" {
			q.Set("audience", "customer")
		}
		body, err := c.client.call(ctx, http.MethodGet, incPath(*id, "postmortem"), q, nil)
		if err != nil {
			return err
		}
		if *file == "" {
			_, err = c.stdout.Write(body)
			return err
		}
		if err := writeFileAtomic(*file, body); err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "wrote %s (%d bytes)\n", *file, len(body))
		return nil
	})

	draft := app.Command("draft", "Set who writes the post-mortem, and its status (draft, in_review).")
	dID := draft.Arg("incident", "Incident id.").Required().String()
	assign := draft.Flag("assign", "The post-mortem's author.").String()
	dStatus := draft.Flag("status", "draft or in_review.").Enum("draft", "in_review")
	c.action(draft, func(ctx context.Context) error {
		body := map[string]any{}
		if *assign != "" {
			body["author"] = *assign
		}
		if *dStatus != "" {
			body["status"] = *dStatus
		}
		if len(body) == 0 {
			return usagef("draft: give --assign or --status")
		}
		raw, err := c.client.send(ctx, http.MethodPatch, incPath(*dID, "postmortem"), body, nil)
		if err != nil {
			return err
		}
		return c.changed(raw, "post-mortem of "+*dID+" updated")
	})

	review := app.Command("review", "Review an incident's post-mortem: approve it or ask for changes.")
	rID := review.Arg("incident", "Incident id.").Required().String()
	reject := review.Flag("request-changes", "Do not approve (yet).").Bool()
	rNote := review.Flag("note", "What the reviewer says.").String()
	reviewer := review.Flag("reviewer", "Who reviews (default --author).").String()
	c.action(review, func(ctx context.Context) error {
		who := cmp.Or(*reviewer, c.author)
		if who == "" {
			return usagef("review: give --reviewer (or --author, HINDSIGHT_AUTHOR, USER)")
		}
		body := map[string]any{"reviewer": who, "approve": !*reject}
		if *rNote != "" {
			body["note"] = *rNote
		}
		raw, err := c.client.send(ctx, http.MethodPost, incPath(*rID, "postmortem", "reviews"), body, nil)
		if err != nil {
			return err
		}
		verb := "approved"
		if *reject {
			verb = "asked for changes to"
		}
		return c.changed(raw, fmt.Sprintf("%s %s the post-mortem of %s", who, verb, *rID))
	})

	publish := app.Command("publish", "Publish an incident's post-mortem (needs the reviews export.min_reviewers asks for).")
	pID := publish.Arg("incident", "Incident id.").Required().String()
	c.action(publish, func(ctx context.Context) error {
		raw, err := c.client.send(ctx, http.MethodPost, incPath(*pID, "postmortem", "publish"), nil, nil)
		if err != nil {
			return err
		}
		return c.changed(raw, "post-mortem of "+*pID+" published")
	})

	action := app.Command("action", "Action items: the follow-ups a post-mortem commits to.")
	add := action.Command("add", "Add an action item to an incident.")
	addID := add.Arg("incident", "Incident id.").Required().String()
	addText := add.Arg("text", "What will be done.").Required().Strings()
	owner := add.Flag("owner", "Who does it.").String()
	due := add.Flag("due", "By when (YYYY-MM-DD or RFC 3339).").String()
	c.action(add, func(ctx context.Context) error {
		body := map[string]any{"text": strings.Join(*addText, " ")}
		if *owner != "" {
			body["owner"] = *owner
		}
		if *due != "" {
			body["due"] = *due
		}
		if c.author != "" {
			body["author"] = c.author // the daemon signs changes with it (or the token's name)
		}
		var item struct {
			ID string `json:"id"`
		}
		raw, err := c.client.send(ctx, http.MethodPost, incPath(*addID, "action-items"), body, &item)
		if err != nil {
			return err
		}
		return c.changed(raw, fmt.Sprintf("action item %s added to %s", cmp.Or(item.ID, "(no id)"), *addID))
	})
	set := func(name, help string, fixed map[string]any) {
		cmd := action.Command(name, help)
		id := cmd.Arg("incident", "Incident id.").Required().String()
		item := cmd.Arg("item", "Action item id.").Required().String()
		var status, owner, due *string
		if fixed == nil {
			status = cmd.Flag("status", "open or done.").Enum("open", "done")
			owner = cmd.Flag("owner", "Who does it.").String()
			due = cmd.Flag("due", "By when.").String()
		}
		c.action(cmd, func(ctx context.Context) error {
			body := map[string]any{}
			for k, v := range fixed {
				body[k] = v
			}
			if fixed == nil {
				for k, v := range map[string]*string{"status": status, "owner": owner, "due": due} {
					if *v != "" {
						body[k] = *v
					}
				}
				if len(body) == 0 {
					return usagef("action update: give --status, --owner or --due")
				}
			}
			if c.author != "" {
				body["author"] = c.author
			}
			raw, err := c.client.send(ctx, http.MethodPatch, incPath(*id, "action-items", *item), body, nil)
			if err != nil {
				return err
			}
			return c.changed(raw, fmt.Sprintf("action item %s of %s updated", *item, *id))
		})
	}
	set("update", "Change an action item's status, owner or due date.", nil)
	set("done", "Mark an action item done.", map[string]any{"status": "done"})
	ls := action.Command("list", "List action items across incidents.").Alias("ls")
	lsStatus := ls.Flag("status", "open or done.").Default("open").Enum("open", "done", "all")
	lsOwner := ls.Flag("owner", "Only this owner's.").String()
	lsService := ls.Flag("service", "Only from incidents on this service.").String()
	c.action(ls, func(ctx context.Context) error {
		q := url.Values{}
		if *lsStatus != "all" {
			q.Set("status", *lsStatus)
		}
		if *lsOwner != "" {
			q.Set("owner", *lsOwner)
		}
		if *lsService != "" {
			q.Set("service", *lsService)
		}
		var page struct {
			Items []struct {
				ID         string `json:"id"`
				IncidentID string `json:"incident_id"`
				Text       string `json:"text"`
				Owner      string `json:"owner"`
				Due        string `json:"due"`
				Status     string `json:"status"`
			} `json:"action_items"`
		}
		raw, err := c.client.get(ctx, "/api/v1/action-items", q, &page)
		if err != nil {
			return err
		}
		return c.emit(raw, func(w io.Writer) error {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tINCIDENT\tSTATUS\tOWNER\tDUE\tTEXT")
			for _, it := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.IncidentID, it.Status, cmp.Or(it.Owner, "-"), cmp.Or(it.Due, "-"), it.Text)
			}
			return tw.Flush()
		})
	})
}

func (c *cli) registerOps(app *kingpin.Application) {
	rec := app.Command("recorrelate", "Rebuild every incident from the event log with the current rules (corrections are kept).")
	c.action(rec, func(ctx context.Context) error {
		var res struct {
			Duration float64 `json:"duration_seconds"`
		}
		raw, err := c.client.send(ctx, http.MethodPost, "/api/v1/recorrelate", nil, &res)
		if err != nil {
			return err
		}
		return c.changed(raw, fmt.Sprintf("incidents rebuilt from the log in %s", fmtDur(time.Duration(res.Duration*float64(time.Second)))))
	})

	backfill := app.Command("backfill", "Read past events from a source's API.")
	pd := backfill.Command("pagerduty", "Read PagerDuty incidents and their log entries over a window (needs pagerduty.api_token_file).")
	since := pd.Flag("since", "Start of the window: a duration ago (72h) or an RFC 3339 time.").Default("72h").String()
	until := pd.Flag("until", "End of the window (default now).").String()
	c.action(pd, func(ctx context.Context) error {
		q := url.Values{"since": {*since}}
		if *until != "" {
			q.Set("until", *until)
		}
		raw, err := c.client.call(ctx, http.MethodPost, "/api/v1/backfill/pagerduty", q, nil)
		if err != nil {
			return err
		}
		return c.emit(raw, func(w io.Writer) error {
			y, err := toYAML(raw)
			if err != nil {
				return err
			}
			_, err = w.Write(y)
			return err
		})
	})

	backup := app.Command("backup", "Take an online backup of the running daemon (read-write token). Restore it with 'hindsight restore'.")
	file := backup.Arg("file", "Where to write it; - for standard output.").Required().String()
	c.action(backup, func(ctx context.Context) error {
		resp, err := c.client.open(ctx, http.MethodGet, "/api/v1/admin/backup", nil, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body := newVerifyingReader(resp.Body)
		if *file == "-" {
			_, err := io.Copy(c.stdout, body)
			return err
		}
		n, err := copyFileAtomic(*file, body)
		if err != nil {
			return err
		}
		h := body.header
		fmt.Fprintf(c.stderr, "backup written to %s (%d bytes, log.type %s, taken %s); restore with: hindsight restore --storage.path DIR %s\n",
			*file, n, h.Log, h.CreatedAt.Format(time.RFC3339), *file)
		return nil
	})

	cfg := app.Command("config", "Configuration files.")
	check := cfg.Command("check", "Check configuration files without starting the daemon (as amtool check-config).")
	files := check.Arg("file", "Configuration files.").Required().ExistingFiles()
	c.action(check, func(ctx context.Context) error {
		bad := 0
		for _, f := range *files {
			if _, err := config.LoadFile(f); err != nil {
				bad++
				fmt.Fprintf(c.stdout, "%s: FAILED\n  %v\n", f, err)
				continue
			}
			fmt.Fprintf(c.stdout, "%s: SUCCESS\n", f)
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d configuration files are invalid", bad, len(*files))
		}
		return nil
	})
}

// parseWhen accepts RFC 3339 or a duration meaning that long ago.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 10m", s)
	}
	return time.Now().Add(-time.Duration(d)), nil
}

func writeFileAtomic(path string, b []byte) error {
	_, err := copyFileAtomic(path, strings.NewReader(string(b)))
	return err
}

// copyFileAtomic writes r to path through a temporary file, so that a
// failure leaves no half-written file under the name.
func copyFileAtomic(path string, r io.Reader) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return n, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}
