package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hindsight-ops/hindsight/correlate"
)

// fmtDur prints 45s, 6m1s, 2h5m, 3d4h.
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	s := (d - m*time.Minute) / time.Second
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%s", days, cond(h > 0, fmt.Sprintf("%dh", h)))
	case h > 0:
		return fmt.Sprintf("%dh%s", h, cond(m > 0, fmt.Sprintf("%dm", m)))
	case m > 0:
		return fmt.Sprintf("%dm%s", m, cond(s > 0, fmt.Sprintf("%ds", s)))
	}
	return fmt.Sprintf("%ds", s)
}

func cond(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// after says when t came relative to the first symptom.
func after(t *time.Time, start time.Time) string {
	if t == nil {
		return "-"
	}
	return fmt.Sprintf("%s (+%s)", t.UTC().Format("15:04:05"), fmtDur(t.Sub(start)))
}

// printIncident is `show`: what an on-call engineer reads first, then
// the timeline.
func printIncident(w io.Writer, v *correlate.View) error {
	fmt.Fprintf(w, "%s  %s  [%s]\n", v.Severity.Effective, v.Title, v.Status)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", k, val)
		}
	}
	row("ID", v.ID)
	if v.MergedInto != "" {
		row("Merged into", v.MergedInto)
	}
	row("Services", strings.Join(v.Services, ", "))
	row("Started", utc(v.StartedAt))
	if v.ResolvedAt != nil {
		row("Resolved", fmt.Sprintf("%s (lasted %s)", utc(*v.ResolvedAt), fmtDur(v.ResolvedAt.Sub(v.StartedAt))))
	} else {
		row("Resolved", fmt.Sprintf("no, ongoing for %s", fmtDur(time.Duration(v.Impact.DurationSeconds)*time.Second)))
	}
	sev := v.Severity.Effective + " (suggested)"
	if v.Severity.Override != nil {
		sev = fmt.Sprintf("%s (set by hand; suggested %s)", v.Severity.Effective, v.Severity.Suggested)
	}
	row("Severity", sev)
	row("Paged", after(v.PagedAt, v.StartedAt))
	row("Acknowledged", after(v.AcknowledgedAt, v.StartedAt))
	for _, p := range v.PagerDuty {
		row("PagerDuty", strings.TrimSpace(fmt.Sprintf("#%s %s %s %s", cmp.Or(p.Number, p.IncidentID), p.Priority, p.Status, p.URL)))
	}
	row("Responders", strings.Join(v.Responders, ", "))
	row("Impact", v.Impact.Summary)
	for _, m := range v.Impact.Metrics {
		row("", fmt.Sprintf("%s %s = %g", m.Service, m.Name, m.Value))
	}
	if v.MonitoringGap {
		row("Monitoring gap", "a page came before any alert fired")
	}
	row("Post-mortem", postmortemLine(v.Postmortem))
	if n := len(v.Postmortem.Exports); n > 0 {
		e := v.Postmortem.Exports[n-1]
		row("Last export", strings.TrimSpace(fmt.Sprintf("v%d (%s) to %s: %s %s", e.Version, e.Mark, e.Sink, e.Status, e.Error)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(v.Severity.Reasons) > 0 {
		fmt.Fprintln(w, "\nWhy "+v.Severity.Effective)
		for _, r := range v.Severity.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
	}
	if len(v.SuspectedCauses) > 0 {
		fmt.Fprintln(w, "\nSuspected changes (suspects, not causes)")
		for _, s := range v.SuspectedCauses {
			what := "deploy " + s.DeployID
			for _, e := range v.Timeline {
				if e.ID == s.EntryID {
					what = fmt.Sprintf("%s (%s, %s before the first symptom)", e.Summary, s.DeployID, fmtDur(v.StartedAt.Sub(e.At)))
				}
			}
			fmt.Fprintf(w, "  %3.0f%%  %s\n", s.Score*100, what)
			for _, r := range s.Reasons {
				fmt.Fprintf(w, "        - %s\n", r)
			}
		}
	}
	if len(v.Related) > 0 {
		fmt.Fprintln(w, "\nRelated incidents")
		for _, r := range v.Related {
			fmt.Fprintf(w, "  %s  %s  %s\n", r.ID, r.StartedAt.UTC().Format("2006-01-02"), r.Title)
		}
	}
	fmt.Fprintf(w, "\nTimeline (%d entries; hindsightctl timeline %s --reasons says why each is here)\n", len(v.Timeline), v.ID)
	return printEntries(w, v, false, true, "  ")
}

// postmortemLine says where the post-mortem stands in its review: its
// status, its author and who approved it, so that the next step (assign an
// author, review, publish) is plain from `show`.
func postmortemLine(pm correlate.Postmortem) string {
	var approved, objected []string
	for _, r := range pm.Reviews {
		if r.Approve {
			approved = append(approved, r.Reviewer)
		} else {
			objected = append(objected, r.Reviewer)
		}
	}
	parts := []string{cmp.Or(pm.Status, correlate.PostmortemDraft)}
	parts = append(parts, "author "+cmp.Or(pm.Author, "none yet"))
	if len(approved) > 0 {
		parts = append(parts, "approved by "+strings.Join(approved, ", "))
	}
	if len(objected) > 0 {
		parts = append(parts, "changes asked by "+strings.Join(objected, ", "))
	}
	if pm.PublishedAt != nil {
		parts = append(parts, "published "+utc(*pm.PublishedAt))
	}
	return strings.Join(parts, "; ")
}

// printTimeline is `timeline`: every entry with its id, for curation.
func printTimeline(w io.Writer, v *correlate.View, reasons, hidden bool) error {
	return printEntries(w, v, reasons, hidden, "")
}

func printEntries(w io.Writer, v *correlate.View, reasons, hidden bool, indent string) error {
	suspects := map[string]float64{}
	for _, s := range v.SuspectedCauses {
		suspects[s.EntryID] = s.Score
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%sTIME (UTC)\tOFFSET\tSOURCE\tSERVICE\tSUMMARY\tENTRY\n", indent)
	for _, e := range v.Timeline {
		if e.Hidden && !hidden {
			continue
		}
		var marks []string
		if s, ok := suspects[e.ID]; ok {
			marks = append(marks, fmt.Sprintf("[suspect %.0f%%]", s*100))
		}
		if e.Pinned {
			marks = append(marks, "[pinned]")
		}
		if e.Hidden {
			marks = append(marks, "[hidden]")
		}
		if e.Note != "" {
			marks = append(marks, "[note: "+e.Note+"]")
		}
		off := e.At.Sub(v.StartedAt)
		sign := "+"
		if off < 0 {
			sign = ""
		}
		summary := strings.TrimSpace(e.Summary + " " + strings.Join(marks, " "))
		fmt.Fprintf(tw, "%s%s\t%s%s\t%s\t%s\t%s\t%s\n", indent, e.At.UTC().Format("2006-01-02 15:04:05"), sign, fmtDur(off),
			e.Source, cmp.Or(e.Service, "-"), summary, e.ID)
		if reasons {
			for _, r := range e.Reasons {
				fmt.Fprintf(tw, "%s\t\t\t\t  - %s\t\n", indent, r)
			}
		}
	}
	return tw.Flush()
}
