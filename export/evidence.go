package export

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// This file reads the PagerDuty and deploy evidence of an incident: how
// the draft names pages and deploys, tells what people did as sentences,
// and finds the mitigations among the deploys.

// Event kinds the draft looks for beyond the alert kinds. They follow
// spec/api.md (PagerDuty webhook types, deploy steps); collector does not
// declare them.
const (
	kindPagePrefix       = "pagerduty.incident."
	kindPageTriggered    = kindPagePrefix + "triggered"
	kindPageAcknowledged = kindPagePrefix + "acknowledged"
	kindPageResolved     = kindPagePrefix + "resolved"
	kindPageEscalated    = kindPagePrefix + "escalated"
	kindPageDelegated    = kindPagePrefix + "delegated"
	kindPageAnnotated    = kindPagePrefix + "annotated"

	kindDeployPrefix     = "deploy."
	kindDeploySucceeded  = kindDeployPrefix + "succeeded"
	kindDeployFailed     = kindDeployPrefix + "failed"
	kindDeployRolledBack = kindDeployPrefix + "rolled_back"
)

// pageVerbs tell a PagerDuty action after the person who did it, for an
// entry that came without a summary.
var pageVerbs = map[string]string{
	"annotated":               "added a note to",
	"priority_updated":        "changed the priority of",
	"responder.added":         "added a responder to",
	"responder.replied":       "answered a request for responders on",
	"status_update_published": "published a status update on",
}

// pageName names a PagerDuty incident as people know it: by its number
// ("PagerDuty incident #8812") where known, else by its id.
func (b *builder) pageName(id string) string {
	switch {
	case id == "":
		return "a PagerDuty incident"
	case b.pageNumber[id] != "":
		return "PagerDuty incident #" + b.pageNumber[id]
	}
	return "PagerDuty incident " + id
}

// pageLink is where a reader checks a PagerDuty incident.
func (b *builder) pageLink(id string) string { return b.pageURL[id] }

// pageText tells a PagerDuty entry as "who did what". The collector's
// summary is already a sentence; what it leaves out that a reader needs
// (the text of a note, the reason of a resolve, who was added) is
// appended, and an entry without a summary gets one from its labels.
func (b *builder) pageText(e correlate.Entry) string {
	action := strings.TrimPrefix(e.Kind, kindPagePrefix)
	s := strings.TrimSuffix(oneLine(e.Summary), ".")
	if s == "" {
		name := b.pageName(e.Ref.PagerDutyIncidentID)
		if who := oneLine(pagerDutyOf(e).Agent); who != "" {
			s = who + " " + cmp.Or(pageVerbs[action], strings.ReplaceAll(action, "_", " ")) + " " + name
		} else {
			s = capitalize(name) + ": " + strings.NewReplacer("_", " ", ".", " ").Replace(action)
		}
	}
	pd := pagerDutyOf(e)
	add := func(text, format string) {
		// The summary may already quote the text, less a final period.
		if text = oneLine(text); text != "" && !strings.Contains(s, strings.TrimSuffix(text, ".")) {
			s += fmt.Sprintf(format, text)
		}
	}
	switch action {
	case "triggered":
		add(pd.Title, ": %s")
	case "priority_updated":
		add(pd.Priority, " (priority %s)")
	case "escalated", "reassigned", "delegated":
		add(collector.JoinAssignees(pd.Assignees), " (assigned to %s)")
	case "responder.added", "responder.replied":
		add(pd.Responder, " (responder: %s)")
	}
	add(pd.Note, `: "%s"`)
	add(pd.Message, `: "%s"`)
	add(pd.ResolveReason, ` (resolve reason: "%s")`)
	return s
}

// pagerDutyOf is e's PagerDuty part, empty for an entry without one.
func pagerDutyOf(e correlate.Entry) collector.PagerDuty {
	if e.PagerDuty != nil {
		return *e.PagerDuty
	}
	return collector.PagerDuty{}
}

// deployOf is e's deploy part, empty for an entry without one.
func deployOf(e correlate.Entry) collector.Deploy {
	if e.Deploy != nil {
		return *e.Deploy
	}
	return collector.Deploy{}
}

// agent is who did a PagerDuty action, if the event says.
func agent(e correlate.Entry) string { return oneLine(pagerDutyOf(e).Agent) }

// raisedByHand reports whether the first page was raised by a person:
// correlation found no alert behind it (the view's monitoring gap), or
// PagerDuty names a user as its agent.
func (b *builder) raisedByHand() bool {
	if len(b.pages) == 0 {
		return false
	}
	return b.v.MonitoringGap || pagerDutyOf(b.pages[0]).AgentType == "user_reference"
}

// pageAssignees names who a page went to first.
func (b *builder) pageAssignees(p correlate.Entry) string {
	if a := oneLine(collector.JoinAssignees(pagerDutyOf(p).Assignees)); a != "" {
		return a
	}
	return ""
}

// escalationCount is how often the pages were escalated or delegated:
// PagerDuty's own count where it is higher than the entries show.
func (b *builder) escalationCount() int { return max(b.v.Escalations, len(b.escalations)) }

// responders are the people who worked on the incident: PagerDuty
// assignees and responders, sorted.
func (b *builder) responders() []string {
	seen := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			if n = oneLine(n); n != "" {
				seen[n] = true
			}
		}
	}
	add(b.v.Responders...)
	for _, p := range b.v.PagerDuty {
		add(p.Assignees...)
		add(p.Responders...)
	}
	return sortedKeys(seen)
}

// ---- deploys ----

// deployURL is the link a deploy event gave (the deploy notification's
// url: its pipeline run or change), which the entry keeps among its
// annotations and labels.
func deployURL(e correlate.Entry) string {
	return safeURL(deployOf(e).URL)
}

// deployText tells a deploy step by what changed, not who changed it:
// "checkout v2.3.1 deploy succeeded (9f1c2e7, d-4711): Switch the payment
// client to async retries". A rollback carries the description of the
// change it undoes, which would read as what the rollback did, so it has
// none. Steps without fields are told by their summary.
func deployText(e correlate.Entry) string {
	dp := deployOf(e)
	version, prev := oneLine(dp.Version), oneLine(dp.PreviousVersion)
	status := strings.ReplaceAll(strings.TrimPrefix(e.Kind, kindDeployPrefix), "_", " ")
	var s string
	var extra []string
	switch {
	case e.Kind == kindDeployRolledBack && (version != "" || prev != ""):
		// Told from its fields, not its stored summary: collectors before
		// the fix of issue 9 (defect 6) wrote it backwards. version is
		// what runs afterwards, previous_version what was rolled back.
		s = rollbackText(e.Service, version, prev)
		if version != "" && prev != "" {
			extra = append(extra, "from "+prev)
		}
	case version != "" || dp.Commit != "":
		s = strings.TrimSpace(oneLine(e.Service) + " " + version + " deploy " + status)
		if c := oneLine(dp.Commit); c != "" {
			extra = append(extra, c[:min(len(c), 7)])
		}
	default:
		// Only a summary: keep the change, drop who made it.
		s = byAuthor.ReplaceAllString(strings.TrimSuffix(oneLine(e.Summary), "."), "")
		if s == "" {
			s = strings.TrimSpace(oneLine(e.Service) + " deploy " + status)
		}
	}
	if id := oneLine(e.Ref.DeployID); id != "" && !strings.Contains(s, id) {
		extra = append(extra, id)
	}
	if len(extra) > 0 {
		if strings.HasSuffix(s, ")") {
			s = s[:len(s)-1] + ", " + strings.Join(extra, ", ") + ")"
		} else {
			s += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	if d := deployDescription(e); d != "" && e.Kind != kindDeployRolledBack && !strings.Contains(s, d) {
		s += ": " + d
	}
	return s
}

// byAuthor is " by dana" in a deploy summary.
var byAuthor = regexp.MustCompile(` by [^\s(),]+`)

// deployDescription is what a deploy says it changes.
func deployDescription(e correlate.Entry) string {
	return strings.TrimSuffix(oneLine(deployOf(e).Description), ".")
}

// rollbackText tells a rollback step: "checkout rolled back to v2.3.0".
func rollbackText(service, to, from string) string {
	service = cmp.Or(oneLine(service), "the service")
	switch {
	case to != "":
		return service + " rolled back to " + to
	case from != "":
		return service + " " + from + " rolled back"
	}
	return service + " deploy rolled back"
}

// deployWhat names what a deploy shipped, not who shipped it: "checkout
// v2.3.1 to production".
func deployWhat(e correlate.Entry) string {
	dp := deployOf(e)
	s := strings.TrimSpace(oneLine(e.Service) + " " + oneLine(dp.Version))
	if env := oneLine(dp.Environment); env != "" && s != "" {
		s += " to " + env
	}
	return s
}

// mitigationName names a mitigating deploy for the header: "rollback of
// checkout to v2.3.0 (d-4711)" or "deploy of payments v4.2.1 (d-5122)".
func (b *builder) mitigationName(e correlate.Entry) string {
	var s string
	if b.isRollback(e) {
		s = "rollback"
		if svc := oneLine(e.Service); svc != "" {
			s += " of " + svc
		}
		if to := oneLine(deployOf(e).Version); to != "" {
			s += " to " + to
		}
	} else {
		s = strings.TrimSpace("deploy of " + oneLine(e.Service) + " " + oneLine(deployOf(e).Version))
	}
	if id := oneLine(e.Ref.DeployID); id != "" {
		s += " (" + id + ")"
	}
	return s
}

// isRollback reports whether a deploy step rolls a change back: a
// rolled_back step, a deploy that says so, or one that ships the version
// an earlier deploy of the service replaced.
func (b *builder) isRollback(e correlate.Entry) bool {
	if e.Kind == kindDeployRolledBack {
		return true
	}
	text := strings.ToLower(e.Summary + " " + deployOf(e).Description)
	for _, w := range []string{"rollback", "roll back", "rolled back", "rolling back", "revert"} {
		if strings.Contains(text, w) {
			return true
		}
	}
	v := deployOf(e).Version
	if v == "" {
		return false
	}
	for _, d := range b.deploySteps {
		if d.Kind != kindDeployRolledBack && d.At.Before(e.At) && d.Service == e.Service && deployOf(d).PreviousVersion == v && deployOf(d).Version != v {
			return true
		}
	}
	return false
}

// during reports whether t falls in the incident, from its first symptom.
func (b *builder) during(t time.Time) bool { return b.start.IsZero() || !t.Before(b.start) }

// firstAlertAt is when the first alert fired, or the first symptom when
// none did.
func (b *builder) firstAlertAt() time.Time {
	if fa := b.firstAlerts(); len(fa) > 0 {
		return fa[0].FirstStart.UTC()
	}
	return b.start
}

// mitigations are the deploys that mitigated the incident, oldest first: a
// rollback during it, or a deploy of one of its services that succeeded
// after the first alert (a fix going out).
func (b *builder) mitigations() []correlate.Entry {
	var out []correlate.Entry
	first := b.firstAlertAt()
	for _, e := range b.deploySteps {
		if !b.during(e.At) {
			continue
		}
		switch e.Kind {
		case kindDeployRolledBack:
			out = append(out, e)
		case kindDeploySucceeded:
			if e.At.After(first) && (slices.Contains(b.v.Services, e.Service) || b.isRollback(e)) {
				out = append(out, e)
			}
		}
	}
	return out
}

// firstMitigation is the first rollback or fixing deploy of the incident.
func (b *builder) firstMitigation() (correlate.Entry, bool) {
	if ms := b.mitigations(); len(ms) > 0 {
		return ms[0], true
	}
	return correlate.Entry{}, false
}

// failedDuring returns the deploys that failed during the incident, and
// which of them were rollbacks.
func (b *builder) failedDuring() (failed []correlate.Entry, rollback []bool) {
	for _, f := range b.failedDeploys {
		if b.during(f.At) {
			failed = append(failed, f)
			rollback = append(rollback, b.isRollback(f))
		}
	}
	return failed, rollback
}

// rollbackWorked returns the first rollback after which every alert had
// resolved within rollbackWindow, and how long that took.
func (b *builder) rollbackWorked() (correlate.Entry, time.Duration, bool) {
	la := b.lastResolved()
	if b.end == nil || len(la) == 0 {
		return correlate.Entry{}, 0, false
	}
	last := la[0].EndsAt.UTC()
	for _, m := range b.mitigations() {
		if !b.isRollback(m) {
			continue
		}
		if d := last.Sub(m.At); d >= 0 && d <= rollbackWindow {
			return m, d, true
		}
	}
	return correlate.Entry{}, 0, false
}

// pageNotes are the notes people added on the pages during the incident.
func (b *builder) pageNotes() []correlate.Entry {
	var out []correlate.Entry
	for _, e := range b.entries {
		if e.Source == collector.SourcePagerDuty && e.Kind == kindPageAnnotated && b.during(e.At) {
			out = append(out, e)
		}
	}
	return out
}

// synthPage stands for a page event that the view's PagerDuty links
// record but the timeline does not hold.
func synthPage(id, kind string, at time.Time) correlate.Entry {
	return correlate.Entry{At: at.UTC(), Source: collector.SourcePagerDuty, Kind: kind,
		Ref: collector.Ref{PagerDutyIncidentID: id}}
}
