package export

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed templates/postmortem.html.tmpl
var htmlTemplate string

// htmlRenderer renders a draft as one self-contained HTML page for reading
// and printing. html/template escapes every value by context, so text and
// links from alerts cannot inject markup or script.
type htmlRenderer struct {
	t *template.Template
}

var _ Renderer = (*htmlRenderer)(nil)

func newHTML() (Renderer, error) {
	t, err := template.New("postmortem.html").Funcs(template.FuncMap{
		"utc":   formatTime,
		"dur":   formatDuration,
		"add":   func(a, b int) int { return a + b },
		"since": sinceStart,
		"clock": formatClock,
	}).Option("missingkey=error").Parse(htmlTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse html template: %w", err)
	}
	h := &htmlRenderer{t: t}
	if err := h.Render(io.Discard, sampleDraft()); err != nil {
		return nil, fmt.Errorf("check html template: %w", err)
	}
	return h, nil
}

// ContentType is text/html with its charset, since the page holds
// non-ASCII text (the draft status' dash, names from alerts).
func (h *htmlRenderer) ContentType() string { return "text/html; charset=utf-8" }

// Render writes d as an HTML page; a failure writes nothing.
func (h *htmlRenderer) Render(w io.Writer, d *Draft) error {
	if d == nil {
		return errNilDraft
	}
	var buf bytes.Buffer
	if err := h.t.Execute(&buf, d); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
