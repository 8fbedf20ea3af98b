package export

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
	"golang.org/x/net/html"

	"github.com/hindsight-ops/hindsight/correlate"
)

// mdDoc is what a Markdown document parses to with a GFM parser, as
// GitHub renders it: its headings and its tables.
type mdDoc struct {
	h2, h3 []string
	tables [][][]string // table -> rows (header first) -> cells
}

func parseGFM(t *testing.T, src []byte) mdDoc {
	t.Helper()
	doc := goldmark.New(goldmark.WithExtensions(east.GFM)).Parser().Parse(text.NewReader(src))
	var d mdDoc
	plain := func(n gast.Node) string {
		var b strings.Builder
		_ = gast.Walk(n, func(c gast.Node, entering bool) (gast.WalkStatus, error) {
			if entering {
				if tx, ok := c.(*gast.Text); ok {
					b.Write(tx.Segment.Value(src))
					if tx.SoftLineBreak() {
						b.WriteByte(' ')
					}
				}
				if s, ok := c.(*gast.String); ok {
					b.Write(s.Value)
				}
			}
			return gast.WalkContinue, nil
		})
		return b.String()
	}
	require.NoError(t, gast.Walk(doc, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		if !entering {
			return gast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *gast.Heading:
			switch n.Level {
			case 2:
				d.h2 = append(d.h2, plain(n))
			case 3:
				d.h3 = append(d.h3, plain(n))
			}
		case *extast.Table:
			var rows [][]string
			for r := n.FirstChild(); r != nil; r = r.NextSibling() {
				var cells []string
				for c := r.FirstChild(); c != nil; c = c.NextSibling() {
					cells = append(cells, plain(c))
				}
				rows = append(rows, cells)
			}
			d.tables = append(d.tables, rows)
			return gast.WalkSkipChildren, nil
		}
		return gast.WalkContinue, nil
	}))
	return d
}

// TestMarkdownIsGFM parses every draft's Markdown as GitHub does: the
// sections are headings in the template's order, the timeline's phases
// are headings below Timeline, and every table keeps its columns in every
// row (no text from events breaks one).
func TestMarkdownIsGFM(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDraft(tc.view(), testConfig(), tc.generated)
			doc := parseGFM(t, render(t, "markdown", d))
			require.Equal(t, sections, doc.h2, "the sections, in order")
			var phases []string
			for _, p := range d.TimelinePhases() {
				phases = append(phases, p.Phase.Title()+": "+p.What)
			}
			require.Equal(t, phases, doc.h3, "one heading per phase of the timeline")
			require.NotEmpty(t, phases)
			timelineTables := 0
			for _, tb := range doc.tables {
				for i, row := range tb {
					require.Len(t, row, len(tb[0]), "row %d of table %v", i, tb[0])
				}
				if slices.Equal(tb[0], []string{"T", "Time (UTC)", "Source", "What happened"}) {
					timelineTables++
				}
			}
			require.Equal(t, len(phases), timelineTables, "a timeline table per phase")
			require.Contains(t, doc.tables, findTable(doc, "#"), "the action items are a table")
			require.Equal(t, []string{"#", "Action", "Owner", "Due", "Status"}, findTable(doc, "#")[0])
		})
	}
	// Text from alerts that looks like Markdown stays text.
	v := resolvedView()
	for i := range v.Timeline {
		v.Timeline[i].Annotations = map[string]string{"summary": "a | b ## not a heading\n| x | y |"}
	}
	doc := parseGFM(t, render(t, "markdown", NewDraft(v, testConfig(), cases[0].generated)))
	require.Equal(t, sections, doc.h2)
	for _, tb := range doc.tables {
		for _, row := range tb {
			require.Len(t, row, len(tb[0]))
		}
	}
}

func findTable(d mdDoc, firstHeader string) [][]string {
	for _, tb := range d.tables {
		if len(tb) > 0 && len(tb[0]) > 0 && tb[0][0] == firstHeader {
			return tb
		}
	}
	return nil
}

// htmlDoc is what the HTML draft parses to.
type htmlDoc struct {
	h2, h3 []string
	tables [][]int // table -> cells per row
	script bool
}

func parseHTML(t *testing.T, src []byte) htmlDoc {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(src))
	require.NoError(t, err)
	var d htmlDoc
	var textOf func(n *html.Node) string
	textOf = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(textOf(c))
		}
		return b.String()
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "h2":
				d.h2 = append(d.h2, textOf(n))
			case "h3":
				d.h3 = append(d.h3, textOf(n))
			case "script":
				d.script = true
			case "table":
				var rows []int
				var cells func(*html.Node)
				cells = func(m *html.Node) {
					for c := m.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && c.Data == "tr" {
							k := 0
							for td := c.FirstChild; td != nil; td = td.NextSibling {
								if td.Type == html.ElementNode && (td.Data == "td" || td.Data == "th") {
									k++
								}
							}
							rows = append(rows, k)
						} else {
							cells(c)
						}
					}
				}
				cells(n)
				d.tables = append(d.tables, rows)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return d
}

// TestHTMLParses parses every HTML draft: the sections in order, a
// heading per phase, tables with whole rows, and no script.
func TestHTMLParses(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDraft(tc.view(), testConfig(), tc.generated)
			doc := parseHTML(t, render(t, "html", d))
			require.Equal(t, sections, doc.h2)
			require.Len(t, doc.h3, len(d.TimelinePhases()))
			require.False(t, doc.script)
			for _, rows := range doc.tables[1:] { // the header table has 2 cells a row
				for _, n := range rows[1:] {
					require.Equal(t, rows[0], n, "every row has the header's cells")
				}
			}
		})
	}
}

// internals are the strings of a view that must never reach a customer:
// instances, fingerprints, people, links, deploy ids, commits, alert
// names, PagerDuty ids.
func internals(v *correlate.View, d *Draft) []string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); len(s) >= 3 && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, a := range v.Alerts {
		add(a.Fingerprint)
		add(a.Name)
		add(a.Labels["instance"])
		add(a.GeneratorURL)
		add(a.RunbookURL)
	}
	for _, e := range v.Timeline {
		add(e.Ref.Fingerprint)
		add(e.Ref.DeployID)
		add(e.Ref.PagerDutyIncidentID)
		add(deployOf(e).Commit)
		add(deployOf(e).URL)
		add(deployOf(e).Author)
		add(pagerDutyOf(e).HTMLURL)
		add(pagerDutyOf(e).Agent)
	}
	for _, p := range d.Header.People {
		add(p.Name)
	}
	for _, r := range v.Responders {
		add(r)
	}
	for _, p := range v.PagerDuty {
		add(p.URL)
	}
	for _, c := range v.SuspectedCauses {
		add(c.DeployID)
	}
	out = append(out, "http://", "https://", "score", "suspect", "PagerDuty", ":8080", "prometheus")
	return out
}

// TestCustomerVariant: the customer-facing variant says what was
// affected, when, what was done and what will change, and nothing
// internal; golden files pin it (-update).
func TestCustomerVariant(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.view()
			// People's action items, as written, with internal detail.
			v.ActionItems = []correlate.ActionItem{
				{ID: "ai-1", Text: "Canary checkout deploys on checkout-7d9f-abcde:8080 first (see https://ci.example.com/runs/4711, d22af6f0ad867df4)",
					Owner: "Dana Oncall", Status: correlate.ActionOpen},
				{ID: "ai-2", Text: "Alert on card declines at 10.0.3.7 and payments.internal.example before customers call", Owner: "Kim Lead", Status: correlate.ActionOpen},
				{ID: "ai-3", Text: "Roll out every change to checkout and payments in stages, watching their error rates", Owner: "Sam", Status: correlate.ActionOpen},
			}
			n := NewCustomerNotice(v, testConfig(), tc.generated)
			d := NewDraft(v, testConfig(), tc.generated)
			secrets := internals(v, d)
			for _, f := range []struct{ format, ext string }{{"markdown", "md"}, {"html", "html"}, {"json", "json"}} {
				var b bytes.Buffer
				ct, err := RenderCustomer(&b, f.format, n)
				require.NoError(t, err)
				require.NotEmpty(t, ct)
				out := b.String()
				for _, s := range secrets {
					require.NotContains(t, out, s, "%s leaks %q", f.format, s)
				}
				require.Contains(t, out, "Roll out every change to checkout and payments in stages", "what will change, from the team's items")
				require.NotContains(t, out, "Canary checkout deploys", "an item with internal detail is left out, not quoted with holes")
				require.NotContains(t, out, "10.0.3.7")
				path := filepath.Join("testdata", tc.name+".customer."+f.ext+".golden")
				if *update {
					require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test ./export/ -update to create the golden file")
				require.Equal(t, string(want), out, "output differs from %s; rerun with -update and review the diff", path)
			}
			doc := parseGFM(t, func() []byte { var b bytes.Buffer; _, _ = RenderCustomer(&b, "md", n); return b.Bytes() }())
			require.Equal(t, []string{"What was affected", "When", "What we did", "What will change"}, doc.h2)
			var back CustomerNotice
			var b bytes.Buffer
			_, err := RenderCustomer(&b, "json", n)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b.Bytes(), &back))
		})
	}
	paged := NewCustomerNotice(pagedView(), testConfig(), cases[2].generated)
	require.Equal(t, []string{"checkout"}, paged.Affected)
	require.Equal(t, []string{"About 5.2% of requests to checkout failed."}, paged.Impact)
	require.Equal(t, []string{"We reversed a recent change to checkout."}, paged.WhatWeDid)
	require.Equal(t, "On 20 November 2026 from 14:02 UTC to 14:21 UTC, checkout was degraded for 19 minutes. The problem is resolved.", paged.Summary)
	var b bytes.Buffer
	_, err := RenderCustomer(&b, "pdf", paged)
	require.ErrorIs(t, err, ErrUnknownFormat)
}
