package export

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// A post-mortem is blame-free: outside the responders table it speaks of
// roles and changes, not of people. This file gives everyone the events
// name a role (the on-call engineer of a page, a responder who was added,
// the person who raised a page, the deployer) and puts the role where the
// name was.

// Person is someone the incident's events name, with the role the draft
// uses for them everywhere but the responders table.
type Person struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// people finds the people of the incident and their roles, first role
// found wins: page assignees, escalation targets, added responders, people
// who raised a page, PagerDuty agents, deploy and note authors.
func (b *builder) people() []Person {
	pageServices := map[string]bool{}
	for _, p := range b.pages {
		pageServices[b.pageService(p)] = true
	}
	onCall := "the on-call engineer"
	var out []Person
	// Names that are not people: services, alerts, PagerDuty services
	// (an agent can be a service), so that a role never replaces them.
	notPeople := map[string]bool{b.v.Anchor: true}
	for _, s := range b.v.Services {
		notPeople[s] = true
	}
	for _, a := range b.alerts {
		notPeople[a.Name], notPeople[a.Service] = true, true
	}
	for _, e := range b.entries {
		notPeople[e.Service] = true
		notPeople[oneLine(pagerDutyOf(e).ServiceName)] = true
	}
	add := func(name, role string) {
		name = oneLine(name)
		if name == "" || len(name) < 3 || notPeople[name] || slices.ContainsFunc(out, func(p Person) bool { return p.Name == name }) {
			return
		}
		out = append(out, Person{Name: name, Role: role})
	}
	for _, p := range b.pages {
		role := onCall
		if svc := b.pageService(p); len(pageServices) > 1 && svc != "" {
			role = "the " + svc + " on-call engineer"
		}
		if b.raisedByHand() && pagerDutyOf(p).AgentType == "user_reference" { // a person, not a service or an integration
			add(agent(p), "a colleague")
		}
		for _, a := range pagerDutyOf(p).Assignees {
			add(a, role)
		}
	}
	for _, e := range b.escalations {
		for _, a := range pagerDutyOf(e).Assignees {
			add(a, "the engineer the page escalated to")
		}
	}
	for _, l := range b.v.PagerDuty {
		for _, a := range l.Assignees {
			add(a, onCall)
		}
	}
	for _, e := range b.entries {
		if e.Source == collector.SourcePagerDuty {
			for _, r := range splitNames(pagerDutyOf(e).Responder) {
				add(r, "another engineer")
			}
		}
	}
	for _, l := range b.v.PagerDuty {
		for _, r := range l.Responders {
			add(r, "a responder")
		}
	}
	for _, r := range b.v.Responders {
		add(r, "a responder")
	}
	for _, e := range b.entries {
		switch e.Source {
		case collector.SourcePagerDuty:
			if pagerDutyOf(e).AgentType == "user_reference" { // not a service or an integration
				add(agent(e), "a responder")
			}
		case collector.SourceDeploy:
			add(deployOf(e).Author, "the deployer")
		case collector.SourceNote, collector.SourceHindsight:
			add(e.Labels[correlate.LabelAuthor], "a responder")
		}
	}
	return out
}

// pageService is the service a page is on: the service it was mapped to,
// else PagerDuty's name of it.
func (b *builder) pageService(p correlate.Entry) string {
	return cmp.Or(oneLine(p.Service), oneLine(pagerDutyOf(p).ServiceName))
}

// splitNames reads a list of names as the PagerDuty collector writes it.
func splitNames(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// blameless puts roles where the names of people were. Longer names go
// first, so "Dana Oncall" is not half-replaced by a "Dana".
type blameless struct {
	res   []*regexp.Regexp
	roles []string
}

func newBlameless(people []Person) *blameless {
	ps := slices.Clone(people)
	slices.SortStableFunc(ps, func(a, b Person) int { return cmp.Compare(len(b.Name), len(a.Name)) })
	bl := &blameless{}
	for _, p := range ps {
		bl.res = append(bl.res, regexp.MustCompile(`(^|[^\pL\pN_])`+regexp.QuoteMeta(p.Name)+`($|[^\pL\pN_])`))
		bl.roles = append(bl.roles, p.Role)
	}
	return bl
}

// text rewrites s with roles for names; a role that starts the text
// gets a capital when the name had one.
func (bl *blameless) text(s string) string {
	if bl == nil || s == "" {
		return s
	}
	upper := s[0] >= 'A' && s[0] <= 'Z'
	for i, re := range bl.res {
		s = re.ReplaceAllString(s, "${1}"+strings.ReplaceAll(bl.roles[i], "$", "$$")+"${2}")
	}
	if upper {
		s = capitalize(s)
	}
	return strings.NewReplacer(". the ", ". The ", ". a ", ". A ", "; the ", "; the ").Replace(s)
}

// name rewrites a header field (who acknowledged, who raised the page)
// without capitalising: it follows "by" in the header.
func (bl *blameless) name(s string) string {
	if bl == nil || s == "" {
		return s
	}
	for i, re := range bl.res {
		s = re.ReplaceAllString(s, "${1}"+strings.ReplaceAll(bl.roles[i], "$", "$$")+"${2}")
	}
	return s
}

func (bl *blameless) item(it Item) Item {
	it.Text = bl.text(it.Text)
	return it
}

func (bl *blameless) items(its []Item) []Item {
	for i := range its {
		its[i] = bl.item(its[i])
	}
	return its
}

// apply rewrites every statement of the draft outside the responders
// table, the review and the action items people wrote.
func (bl *blameless) apply(d *Draft) {
	h := &d.Header
	h.DetectedBy = bl.name(h.DetectedBy)
	h.AcknowledgedBy = bl.name(h.AcknowledgedBy)
	h.MitigatedBy = bl.name(h.MitigatedBy)
	for i := range h.Links {
		h.Links[i].Text = bl.name(h.Links[i].Text)
	}
	d.Overview = bl.item(d.Overview)
	for i := range d.Timeline {
		d.Timeline[i].Item = bl.item(d.Timeline[i].Item)
	}
	bl.items(d.Detection)
	for i := range d.WhatHappened {
		d.WhatHappened[i].Item = bl.item(d.WhatHappened[i].Item)
	}
	bl.items(d.Resolution)
	bl.items(d.ContributingFactors)
	bl.items(d.Impact.Notes)
	bl.items(d.WentWell)
	bl.items(d.WentBadly)
	for i := range d.ActionItems {
		if d.ActionItems[i].Kind != Fact {
			d.ActionItems[i].Item = bl.item(d.ActionItems[i].Item)
		}
	}
	bl.items(d.FollowUps)
	for i := range d.FiveWhys {
		d.FiveWhys[i].Answer = bl.item(d.FiveWhys[i].Answer)
	}
}
