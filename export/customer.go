package export

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
)

// AudienceCustomer asks for the customer-facing variant of a post-mortem
// (?audience=customer); AudienceInternal, the default, for the draft.
const (
	AudienceInternal = "internal"
	AudienceCustomer = "customer"
)

// CustomerNotice is the customer-facing variant of a post-mortem: what was
// affected, when, what was done and what will change. It is written from
// the incident's facts in plain words and holds nothing internal: no host
// names, instances, fingerprints, people, internal links, alert names,
// deploy ids or suspect scores. What people wrote (their action items) is
// scrubbed of such details before it is quoted.
type CustomerNotice struct {
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	Title       string    `json:"title"`
	// Status is resolved or ongoing; Reviewed says the post-mortem was
	// published after review, so the notice can go out as it is.
	Status   string `json:"status"`
	Reviewed bool   `json:"reviewed"`
	Summary  string `json:"summary"`
	// Affected are the customer-facing services that were affected.
	Affected  []string   `json:"affected"`
	StartedAt *time.Time `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at"`
	Duration  *Duration  `json:"duration_seconds"`
	// Impact says what customers saw, in numbers where they were measured.
	Impact         []string        `json:"impact"`
	Timeline       []CustomerEvent `json:"timeline"`
	WhatWeDid      []string        `json:"what_we_did"`
	WhatWillChange []string        `json:"what_will_change"`
}

// CustomerEvent is one moment of the incident as customers are told it.
type CustomerEvent struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// NewCustomerNotice writes the customer-facing variant of the incident v,
// as configured by cfg (which services customers use), at generatedAt.
// Like NewDraft it is deterministic and reads no clock.
func NewCustomerNotice(v *correlate.View, cfg *config.Config, generatedAt time.Time) *CustomerNotice {
	b := newBuilder(v, cfg, generatedAt)
	n := &CustomerNotice{Version: DraftVersion, GeneratedAt: b.now, Status: "ongoing",
		Affected: []string{}, Impact: []string{}, Timeline: []CustomerEvent{}, WhatWeDid: []string{}, WhatWillChange: []string{}}
	if b.end != nil {
		n.Status = correlate.StatusResolved
		n.EndedAt = b.end
	}
	n.Reviewed = b.v.Postmortem.Status == correlate.PostmortemPublished
	if !b.start.IsZero() {
		n.StartedAt = timePtr(b.start)
	}
	n.Duration = b.duration()
	for _, s := range b.services {
		if s.CustomerFacing {
			n.Affected = append(n.Affected, s.Name)
		}
	}
	what := joinAnd(n.Affected)
	if what == "" {
		what = "some of our systems"
	}
	day := "an unknown date"
	if !b.start.IsZero() {
		day = b.start.Format("2 January 2006")
	}
	n.Title = "Service disruption: " + what + ", " + day

	// Summary: when, what, for how long, and that it is over.
	var sb strings.Builder
	if n.StartedAt != nil {
		fmt.Fprintf(&sb, "On %s from %s UTC", day, b.start.Format("15:04"))
		if b.end != nil {
			fmt.Fprintf(&sb, " to %s UTC", b.end.Format("15:04"))
		}
		sb.WriteString(", ")
	}
	if len(n.Affected) > 0 {
		sb.WriteString(joinAnd(n.Affected) + " " + pluralWord(len(n.Affected), "was", "were") + " degraded")
	} else {
		sb.WriteString("an internal problem occurred; no customer-facing service was affected")
	}
	if d := n.Duration; d != nil {
		sb.WriteString(" for " + spokenFor(time.Duration(*d)))
	}
	sb.WriteString(".")
	if b.end != nil {
		sb.WriteString(" The problem is resolved.")
	} else {
		sb.WriteString(" We are still working on it.")
	}
	n.Summary = sb.String()

	// Impact, from the measured numbers only: the alerts' own words can
	// name hosts.
	for _, m := range b.metrics() {
		switch {
		case isErrorRatio(m.Name) && m.Value >= 0 && m.Value <= 1 && customerFacing(b, m.Service):
			n.Impact = append(n.Impact, fmt.Sprintf("About %s of requests to %s failed.", m.Display, m.Service))
		case isFailedCount(m.Name) && customerFacing(b, m.Service):
			n.Impact = append(n.Impact, fmt.Sprintf("About %s requests to %s failed.", m.Display, m.Service))
		}
	}
	if len(n.Impact) == 0 && len(n.Affected) > 0 {
		n.Impact = append(n.Impact, "Some requests to "+joinAnd(n.Affected)+" failed or were slow.")
	}

	n.Timeline, n.WhatWeDid = b.customerStory()
	n.WhatWillChange = b.customerChanges()
	return n
}

func customerFacing(b *builder, service string) bool {
	return slices.ContainsFunc(b.services, func(s ServiceInfo) bool { return s.Name == service && s.CustomerFacing })
}

// customerStory is the timeline in customers' terms, and what was done.
func (b *builder) customerStory() ([]CustomerEvent, []string) {
	events := []CustomerEvent{}
	did := []string{}
	if !b.start.IsZero() {
		events = append(events, CustomerEvent{At: b.start, Text: "The problem began."})
	}
	if at, ok := b.detectedAt(); ok {
		text := "Our monitoring alerted our engineers."
		if b.pageBeforeAlerts() {
			text = "Our engineers were alerted to the problem."
		}
		if n := len(events); n > 0 && events[n-1].At.Equal(at) {
			events[n-1].Text = "The problem began. " + text
		} else {
			events = append(events, CustomerEvent{At: at, Text: text})
		}
	}
	if ack, ok := b.firstAck(); ok {
		events = append(events, CustomerEvent{At: ack.At, Text: "Our engineers began investigating."})
	}
	failed, rollback := b.failedDuring()
	for i, f := range failed {
		if rollback[i] {
			events = append(events, CustomerEvent{At: f.At, Text: "A first attempt to reverse the change did not succeed."})
		}
	}
	for _, m := range b.mitigations() {
		svc := oneLine(m.Service)
		if !customerFacing(b, svc) {
			svc = "one of our systems"
		}
		text := "We deployed a fix to " + svc + "."
		if b.isRollback(m) {
			text = "We reversed a recent change to " + svc + "."
		}
		events = append(events, CustomerEvent{At: m.At, Text: text})
		did = append(did, text)
	}
	if b.end != nil {
		events = append(events, CustomerEvent{At: *b.end, Text: "Service was fully restored."})
		if len(did) == 0 {
			did = append(did, "Our engineers investigated and restored the service.")
		}
	}
	slices.SortStableFunc(events, func(x, y CustomerEvent) int { return x.At.Compare(y.At) })
	// Two moments at the same time read as one step each: keep them.
	return events, did
}

// customerChanges says what will change: the team's action items that
// hold no internal detail, as written, or a commitment to follow up. An
// item with a host name, a link or a name in it is left out rather than
// quoted with holes.
func (b *builder) customerChanges() []string {
	sc := newScrubber(b)
	var out []string
	for _, a := range b.v.ActionItems {
		if t := oneLine(a.Text); t != "" && sc.scrub(t) == t {
			out = append(out, strings.TrimSuffix(t, ".")+".")
		}
	}
	if len(out) == 0 {
		out = append(out, "We are reviewing this incident and will put safeguards in place so that it does not happen again.")
	}
	return out
}

// scrubber removes internal detail from text people wrote: links, host
// names and addresses, and every instance, fingerprint, person, deploy
// id, commit and alert name the incident holds.
type scrubber struct {
	words []string
}

var (
	urlRE = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://\S+`)
	// hostRE is an IP address, a dotted host name (a later label has a
	// letter, so "v2.3.1" and "0.5" stay) or host:port.
	hostRE = regexp.MustCompile(`(?i)\b(?:\d{1,3}(?:\.\d{1,3}){3}|[a-z0-9-]+(?:\.[a-z0-9-]*[a-z][a-z0-9-]*)+)(?::\d+)?\b|\b[a-z0-9-]+:\d{2,5}\b`)
	hexRE  = regexp.MustCompile(`(?i)\b[0-9a-f]{7,64}\b`)
)

func newScrubber(b *builder) *scrubber {
	seen := map[string]bool{}
	add := func(s string) {
		if s = oneLine(s); len(s) >= 3 {
			seen[s] = true
		}
	}
	for _, a := range b.alerts {
		add(a.Fingerprint)
		add(a.Name)
		for k, v := range a.Labels {
			if k != "service" {
				add(v)
			}
		}
	}
	for _, e := range b.entries {
		add(e.Ref.Fingerprint)
		add(e.Ref.DeployID)
		add(e.Ref.PagerDutyIncidentID)
		add(deployOf(e).Commit)
		add(instance(e.Labels))
		if e.Source == collector.SourceDeploy {
			add(deployOf(e).Author)
		}
	}
	for _, p := range b.people() {
		add(p.Name)
	}
	for _, r := range b.responders() {
		add(r)
	}
	for _, a := range b.v.ActionItems {
		add(a.Owner)
		add(a.By)
	}
	words := make([]string, 0, len(seen))
	for w := range seen {
		words = append(words, w)
	}
	slices.SortFunc(words, func(a, b string) int { return len(b) - len(a) }) // longest first
	return &scrubber{words: words}
}

func (s *scrubber) scrub(text string) string {
	text = oneLine(text)
	text = urlRE.ReplaceAllString(text, "")
	for _, w := range s.words {
		text = strings.ReplaceAll(text, w, "")
	}
	text = hostRE.ReplaceAllString(text, "")
	text = hexRE.ReplaceAllStringFunc(text, func(h string) string {
		if strings.ContainsAny(h, "0123456789") {
			return "" // a fingerprint or a commit, not a word
		}
		return h
	})
	return strings.Join(strings.Fields(text), " ")
}

//go:embed templates/customer.md.tmpl
var customerMarkdown string

//go:embed templates/customer.html.tmpl
var customerHTML string

var customerTemplates = sync.OnceValues(func() (*template.Template, *htmltemplate.Template) {
	funcs := map[string]any{"md": escapeMarkdown, "utc": formatTime, "dur": formatDuration, "clock": formatClock}
	md := template.Must(template.New("customer.md").Funcs(funcs).Option("missingkey=error").Parse(customerMarkdown))
	h := htmltemplate.Must(htmltemplate.New("customer.html").Funcs(funcs).Option("missingkey=error").Parse(customerHTML))
	return md, h
})

// RenderCustomer writes the customer notice n in format (markdown, html or
// json) and returns the media type, or an error wrapping
// ErrUnknownFormat. A failure writes nothing.
func RenderCustomer(w io.Writer, format string, n *CustomerNotice) (string, error) {
	if n == nil {
		return "", errNilDraft
	}
	md, h := customerTemplates()
	var buf bytes.Buffer
	var ct string
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "markdown", "md":
		ct = "text/markdown; charset=utf-8"
		if err := md.Execute(&buf, n); err != nil {
			return "", fmt.Errorf("render customer markdown: %w", err)
		}
		b := tidyMarkdown(buf.Bytes())
		buf.Reset()
		buf.Write(b)
	case "html":
		ct = "text/html; charset=utf-8"
		if err := h.Execute(&buf, n); err != nil {
			return "", fmt.Errorf("render customer html: %w", err)
		}
	case "json":
		ct = "application/json"
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(n); err != nil {
			return "", fmt.Errorf("render customer json: %w", err)
		}
	default:
		return "", fmt.Errorf("%w %q: use one of %s", ErrUnknownFormat, format, strings.Join(formats, ", "))
	}
	_, err := w.Write(buf.Bytes())
	return ct, err
}
