package export

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/postmortem.md.tmpl
var markdownTemplate string

// MarkdownTemplate returns the built-in Markdown template, so that a team
// can start its own (export.template_file) from it rather than from
// scratch.
func MarkdownTemplate() string { return markdownTemplate }

// markdown renders a draft through a text/template. The template is
// parsed once; executing it is safe for concurrent use.
type markdown struct {
	t *template.Template
}

var _ Renderer = (*markdown)(nil)

// NewMarkdown parses tmpl, a Go text/template whose data is a *Draft and
// which may use the functions listed in the package documentation, into a
// Markdown renderer. It exists so that export.template_file can replace
// the built-in template: a parse error names the template line, and the
// template is tried on a sample draft so that a misspelt field fails here,
// at configuration time, rather than at the first export.
func NewMarkdown(tmpl string) (Renderer, error) {
	t, err := template.New("postmortem.md").Funcs(markdownFuncs).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("parse markdown template: %w", err)
	}
	m := &markdown{t: t}
	if err := m.Render(io.Discard, sampleDraft()); err != nil {
		return nil, fmt.Errorf("check markdown template: %w", err)
	}
	return m, nil
}

// ContentType is the media type of CommonMark (RFC 7763), as wikis and
// browsers expect it.
func (m *markdown) ContentType() string { return "text/markdown; charset=utf-8" }

// Render writes d as Markdown. It renders into memory first, so that a
// failure writes nothing.
func (m *markdown) Render(w io.Writer, d *Draft) error {
	if d == nil {
		return errNilDraft
	}
	var buf bytes.Buffer
	if err := m.t.Execute(&buf, d); err != nil {
		return fmt.Errorf("render markdown: %w", err)
	}
	_, err := w.Write(tidyMarkdown(buf.Bytes()))
	return err
}

// markdownFuncs are the functions a Markdown template may use; the
// package documentation lists them for template authors.
var markdownFuncs = template.FuncMap{
	"md":   escapeMarkdown,
	"code": codeSpan,
	"link": markdownLink,
	"item": markdownItem,
	"utc":  formatTime,
	"dur":  formatDuration,
	"add":  func(a, b int) int { return a + b },
	// Times as the phased timeline shows them.
	"since": sinceStart,
	"clock": formatClock,
}

// formatClock renders a time.Time or *time.Time as 14:02:11 (UTC), and a
// nil or zero one as "unknown".
func formatClock(v any) string {
	switch t := v.(type) {
	case time.Time:
		if !t.IsZero() {
			return clock(t)
		}
	case *time.Time:
		if t != nil && !t.IsZero() {
			return clock(*t)
		}
	}
	return "unknown"
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "|", `\|`, "~", `\~`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;",
)

// orderedListStart matches what would start an ordered list ("1. ").
var orderedListStart = regexp.MustCompile(`^(\d{1,9})([.)])(\s|$)`)

// escapeMarkdown makes text from events (alert summaries, labels, notes)
// print as itself: it folds it onto one line, since it goes into table
// cells and list items, escapes the characters that Markdown or a table
// would read as syntax, and writes < > & as entities so that no HTML in
// an annotation reaches the page.
func escapeMarkdown(s string) string {
	s = markdownEscaper.Replace(oneLine(s))
	if s != "" && strings.ContainsRune("#+-=", rune(s[0])) {
		s = `\` + s
	}
	return orderedListStart.ReplaceAllString(s, `$1\$2$3`)
}

// codeSpan shows text literally (a PromQL query) in a code span that is
// safe in a table cell.
func codeSpan(s string) string {
	s = oneLine(s)
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

var urlEscaper = strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E", "|", "%7C", "`", "%60")

// markdownLink writes [text](url), or the text alone when url is not an
// http(s) URL.
func markdownLink(text, u string) string {
	u = safeURL(u)
	if u == "" {
		return escapeMarkdown(text)
	}
	return "[" + escapeMarkdown(text) + "](" + urlEscaper.Replace(u) + ")"
}

// markdownItem writes an item with its provenance mark: a fact with a
// link to its source, a suggestion prefixed "_Suggested:_", a slot
// prefixed "_To be written by the team:_" (the template puts slots in a
// quote).
func markdownItem(it Item) string {
	text := escapeMarkdown(it.Text)
	switch it.Kind {
	case Suggestion:
		text = "_Suggested:_ " + text
	case Slot:
		text = "_To be written by the team:_ " + text
	}
	if safeURL(it.Link) != "" {
		text += " (" + markdownLink("source", it.Link) + ")"
	}
	return text
}

// formatTime renders a time.Time or *time.Time as 2026-11-20 14:02:11
// UTC, and a nil or zero one as "unknown".
func formatTime(v any) string {
	switch t := v.(type) {
	case time.Time:
		if !t.IsZero() {
			return ts(t)
		}
	case *time.Time:
		if t != nil && !t.IsZero() {
			return ts(*t)
		}
	}
	return "unknown"
}

// formatDuration renders a Duration or *Duration for people, and a nil
// one as "unknown".
func formatDuration(v any) string {
	switch d := v.(type) {
	case Duration:
		return d.String()
	case *Duration:
		if d != nil {
			return d.String()
		}
	case time.Duration:
		return fmtDur(d)
	}
	return "unknown"
}

// tidyMarkdown folds runs of blank lines into one, outside fenced code
// blocks, and ends the document with one newline. Templates can then
// space their blocks freely without producing ragged output.
func tidyMarkdown(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	out := make([]string, 0, len(lines))
	fenced, blank := false, true // true: no blank line at the start
	for _, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
		}
		if !fenced && strings.TrimSpace(l) == "" {
			if blank {
				continue
			}
			blank = true
			out = append(out, "")
			continue
		}
		blank = false
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return []byte(strings.Join(out, "\n") + "\n")
}
