// Package export turns an incident into a post-mortem draft and renders
// it for people and tools.
//
// Data flow:
//
//	correlate.View (the incident as clients see it: timeline, alerts,
//	severity, impact, suspected causes, PagerDuty links)
//	    -> NewDraft(view, cfg, generatedAt) -> *Draft (render-independent model)
//	    -> Renderer.Render: Markdown (embedded text/template), JSON, HTML
//
// Source reads the view the same way for the API and the exporter
// (export/exporter), which sends drafts to the sinks (export/sink).
//
// The Draft has one field per section of spec/postmortem.md, in the
// order of that document, which is the contract: Header, Overview,
// Timeline, Detection, What happened, Resolution, Contributing factors,
// Impact, What went well?, What didn't go so well?, Where we got lucky,
// Related incidents, Action items, Five whys, Lessons learned, Review.
//
// Invariants:
//
//   - Blame-free and honest about provenance. Every statement is an Item
//     tagged Fact (observed, linked to its source where there is one),
//     Suggestion (Hindsight's inference, for a person to check) or Slot (for
//     people to write). Renderers mark each kind visibly.
//   - Deterministic. NewDraft sorts everything it takes from maps or from
//     unordered lists, and reads no clock but its generatedAt argument, so
//     the same incident gives byte-identical drafts (golden files in
//     testdata/ pin the output; regenerate them with
//     `go test ./export/ -update` and review the diff like code).
//   - Text from events is plain text in the Draft. Each renderer escapes
//     it for its format: Markdown escapes its syntax and table pipes and
//     writes < > & as entities; HTML uses html/template. Links are kept only
//     when they are absolute http(s) URLs; the one exception is the path of
//     a related incident's post-mortem on the Hindsight API, which Hindsight
//     makes itself (a link in HTML, a code span in Markdown).
//   - Times are UTC; an unknown time or duration is nil (null in JSON,
//     "unknown" in Markdown and HTML).
//   - Blame-free: everyone the events name gets a role (Header.People),
//     and the role stands wherever the name was, except in the responders
//     table, the review and the action items people wrote.
//
// # Markdown templates
//
// NewMarkdown accepts a replacement for the built-in template
// (MarkdownTemplate, configured by export.template_file; NewRendererSet
// loads it with the configuration, so a broken template is refused by
// --config.check with its line). Its data is a *Draft, whose fields are
// the data model (go doc ./export Draft; the JSON draft shows the same
// fields, snake_case): Header (title, severity with Meaning and Reasons,
// the times, Services, Responders, People with their roles, Links,
// ExportVersion), Overview, Timeline (lines with Phase, SinceStart, At,
// Until, Count, Item), Detection, WhatHappened (Steps by Phase),
// Resolution, ContributingFactors, Impact (Metrics, AlertFigures,
// TimeAtSeverity, SeverityHistory, Notes), WentWell, WentBadly, Lucky,
// RelatedIncidents (with PostmortemStatus and OpenActionItems),
// ActionItems (ID, Owner, Due, Status), FollowUps, FiveWhys,
// LessonsLearned and Review (Status, Author, Reviewers, Rule, Changes).
// Every statement is an Item (Kind fact, suggestion or slot; Text; Link).
// A template may call the method TimelinePhases (the timeline by phase,
// each with What it spans and its From/Until times) and these functions:
//
//	md TEXT         escape text from events for Markdown (one line, table-safe)
//	code TEXT       a code span that is safe in a table cell
//	link TEXT URL   [TEXT](URL), or TEXT alone when URL is not http(s)
//	item ITEM       an Item with its provenance mark and source link
//	utc TIME        2026-11-20 14:02:11 UTC, or "unknown" (time.Time or *time.Time)
//	clock TIME      14:02:11 (UTC), or "unknown"
//	dur DURATION    29m29s, or "unknown" (Duration or *Duration)
//	since DURATION  T+4m, T−6m, T+0: a time from the first symptom
//	add A B         A+B, for numbering lists
//
// Runs of blank lines in the output are folded into one (outside fenced
// code blocks), so a template may space its blocks freely.
// examples/postmortem.md.tmpl is a short one to start from.
//
// # The customer-facing variant
//
// NewCustomerNotice writes what customers are told (what was affected,
// when, what was done, what will change) from the same incident, and
// RenderCustomer renders it as Markdown, HTML or JSON. It is built from
// facts in Hindsight's own words, never from event text, so no host name,
// instance, fingerprint, person, link, alert name, deploy id or suspect
// score reaches it; people's action items are quoted only when they hold
// none.
package export
