package export

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// Renderer writes a draft in one format. Implementations are safe for
// concurrent use, do not modify the draft, and write nothing when they
// fail (they render into memory first), so an HTTP handler can still
// answer with an error status.
type Renderer interface {
	// ContentType is the media type of the output, for Content-Type.
	ContentType() string
	// Render writes d to w.
	Render(w io.Writer, d *Draft) error
}

// ErrUnknownFormat is returned, wrapped, by ForFormat for a format it does
// not know, so that callers can answer 400 rather than 500.
var ErrUnknownFormat = errors.New("unknown format")

var errNilDraft = errors.New("no draft to render")

// formats are the accepted format names, as listed in errors.
var formats = []string{"markdown", "md", "json", "html"}

// builtin is the built-in renderers, made once on first use. The
// embedded templates are part of the binary and covered by tests, so a
// failure to parse them is a build defect, not a runtime condition.
var builtin = sync.OnceValue(func() map[string]Renderer {
	md, err := NewMarkdown(markdownTemplate)
	if err != nil {
		panic("export: built-in markdown template: " + err.Error())
	}
	h, err := newHTML()
	if err != nil {
		panic("export: built-in html template: " + err.Error())
	}
	return map[string]Renderer{"markdown": md, "md": md, "json": JSON{}, "html": h}
})

// Renderers returns the built-in renderers by format name: "markdown"
// (also "md"), "json" and "html". The map is new on each call, so a caller
// may replace an entry, say markdown with a team's template from
// NewMarkdown.
func Renderers() map[string]Renderer { return maps.Clone(builtin()) }

// ForFormat returns the built-in renderer of a format name (case and
// surrounding space ignored). An unknown name gives an error wrapping
// ErrUnknownFormat that lists the accepted ones.
func ForFormat(format string) (Renderer, error) {
	r, ok := builtin()[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, format, strings.Join(formats, ", "))
	}
	return r, nil
}

// Formats returns the accepted format names, for help texts and errors.
func Formats() []string { return slices.Clone(formats) }

// sampleDraft is a small but complete draft, with every list non-empty,
// on which templates are tried when they are parsed: a template executes
// a range body only for a non-empty list, so an empty draft would not
// catch a misspelt field inside one.
func sampleDraft() *Draft {
	t0 := time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC)
	end := t0.Add(30 * time.Minute)
	starts := t0
	gen := "http://prometheus.example/graph"
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {CustomerFacing: true, Tier: 1}}
	alert := &correlate.AlertState{Fingerprint: "1", Name: "HighErrorRate", Service: "checkout",
		Labels: map[string]string{"instance": "a:1"}, GeneratorURL: gen, FirstStart: t0, StartsAt: t0, EndsAt: end, Firings: 2}
	v := &correlate.View{
		ID: "inc-sample", Title: "checkout: HighErrorRate", Status: correlate.StatusResolved,
		StartedAt: t0, ResolvedAt: &end, Services: []string{"checkout"},
		Severity: correlate.SeverityView{Suggested: "SEV2", Effective: "SEV2", Reasons: []string{"SEV2: sample"},
			History: []correlate.SeverityPeriod{
				{Level: "SEV3", Since: t0, Until: t0.Add(5 * time.Minute), Reason: "sample"},
				{Level: "SEV2", Since: t0.Add(5 * time.Minute), Until: end, Reason: "sample", Override: true},
			}},
		Related: []correlate.RelatedIncident{{ID: "inc-older", Title: "older", StartedAt: t0.Add(-48 * time.Hour), Score: 0.5,
			Reasons: []string{"sample"}, PostmortemURL: correlate.PostmortemPath("inc-older")}},
		Impact:          correlate.Impact{Metrics: []correlate.ImpactMetric{{Name: "error_ratio", Service: "checkout", Value: 0.03, Query: "q"}}},
		SuspectedCauses: []correlate.SuspectedCause{{EntryID: "ent-d", DeployID: "d-1", Score: 0.5, Reasons: []string{"sample"}}},
		PagerDuty:       []correlate.PagerDutyLink{{IncidentID: "P1", URL: "https://pd.example/P1"}},
		Alerts:          []*correlate.AlertState{alert},
		Timeline: correlate.Timeline{
			{ID: "ent-d", At: t0.Add(-time.Minute), Source: collector.SourceDeploy, Kind: "deploy.succeeded", Summary: "deploy", Ref: collector.Ref{DeployID: "d-1"}},
			{ID: "ent-a", At: t0, Source: collector.SourceAlertmanager, Kind: collector.KindAlertFiring, Summary: "firing",
				Ref: collector.Ref{Fingerprint: "1", StartsAt: &starts}, Alert: &collector.Alert{Name: "HighErrorRate", GeneratorURL: gen}},
			{ID: "ent-p", At: t0.Add(time.Minute), Source: collector.SourcePagerDuty, Kind: kindPageTriggered, Summary: "page", Ref: collector.Ref{PagerDutyIncidentID: "P1"}},
			{ID: "ent-k", At: t0.Add(2 * time.Minute), Source: collector.SourcePagerDuty, Kind: kindPageAcknowledged, Summary: "ack",
				PagerDuty: &collector.PagerDuty{Agent: "sample"}, Ref: collector.Ref{PagerDutyIncidentID: "P1"}},
			{ID: "ent-r", At: t0.Add(4 * time.Minute), Source: collector.SourceDeploy, Kind: kindDeployRolledBack, Service: "checkout",
				Summary: "rollback", Ref: collector.Ref{DeployID: "d-1"}},
			{ID: "ent-n", At: t0.Add(3 * time.Minute), Source: collector.SourceNote, Kind: "note", Summary: "note"},
		},
	}
	d := NewDraft(v, cfg, end)
	d.Header.Responders = []string{"sample"}
	signed := end
	d.Review.Reviewers[0] = Reviewer{Role: "Author", Name: "sample", SignedOff: true, SignedOffAt: &signed}
	return d
}

// RendererSet is the renderers of one configuration: the built-in ones,
// with export.template_file, when set, in place of the built-in Markdown
// template. The daemon builds them when it loads its configuration, so a
// template that does not parse refuses the configuration (at start, at
// reload and in --config.check) rather than failing the first export.
type RendererSet struct {
	byName map[string]Renderer
}

// NewRendererSet builds the renderers of cfg. file is the configuration
// file cfg was loaded from ("" for none), to place an error at the
// export.template_file line; the template's own line is in the message.
func NewRendererSet(cfg *config.Config, file string) (*RendererSet, error) {
	r := &RendererSet{byName: Renderers()}
	if cfg == nil || cfg.Export.TemplateFile == "" {
		return r, nil
	}
	path := cfg.Export.TemplateFile
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, config.ErrorAt(file, "export.template_file", "export.template_file: %v", err)
	}
	md, err := NewMarkdown(string(b))
	if err != nil {
		// text/template names the template and line: postmortem.md:12.
		msg := strings.Replace(err.Error(), "postmortem.md:", filepath.Base(path)+":", 1)
		return nil, config.ErrorAt(file, "export.template_file", "export.template_file: %s", msg)
	}
	r.byName["markdown"], r.byName["md"] = md, md
	return r, nil
}

// For returns the renderer of a format name, like ForFormat.
func (r *RendererSet) For(format string) (Renderer, error) {
	if r == nil {
		return ForFormat(format)
	}
	rd, ok := r.byName[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return nil, fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, format, strings.Join(formats, ", "))
	}
	return rd, nil
}
