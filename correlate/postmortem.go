package correlate

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Kinds of the events that record a post-mortem's life: its review, its
// publication, its action items and where it was exported. They are
// corrections (source hindsight, named by incident id and anchor events),
// kept in the log like every other event, so the state they build is part
// of the projection: the same on every replica that reads the log, and
// after a recorrelation. They are bookkeeping, not part of what happened:
// they change the incident's Postmortem and ActionItems and add no
// timeline entry.
const (
	KindPostmortemUpdated   = "postmortem.updated"
	KindPostmortemReviewed  = "postmortem.reviewed"
	KindPostmortemPublished = "postmortem.published"
	KindPostmortemExported  = "postmortem.exported"
	KindActionItemAdded     = "action_item.added"
	KindActionItemUpdated   = "action_item.updated"
)

// Labels of the post-mortem events (besides LabelIncidentID,
// LabelAnchorEvents and LabelAuthor).
const (
	LabelReviewer = "reviewer"
	// LabelSignedBy is who made a post-mortem change, where that is not
	// what the change is about (the author set, the reviewer who reviews).
	LabelSignedBy = "signed_by"
	LabelApprove  = "approve"
	LabelItemID   = "item_id"
	LabelText     = "text"
	LabelOwner    = "owner"
	LabelDue      = "due"
	// LabelSink names an export sink (Export.Sink), LabelVersion the
	// draft version, LabelMark what the version stands for (Export.Mark),
	// LabelError why a delivery failed, LabelAttempts how many deliveries
	// failed so far, LabelLocation where the draft went.
	LabelSink     = "sink"
	LabelVersion  = "version"
	LabelMark     = "mark"
	LabelError    = "error"
	LabelAttempts = "attempts"
	LabelLocation = "location"
)

// Post-mortem statuses: a draft goes to review and is then published.
const (
	PostmortemDraft     = "draft"
	PostmortemInReview  = "in_review"
	PostmortemPublished = "published"
)

// Export statuses.
const (
	ExportExported = "exported"
	ExportFailed   = "failed"
)

// Action item statuses.
const (
	ActionOpen = "open"
	ActionDone = "done"
)

// Postmortem is the review state of an incident's post-mortem and where
// its versions were exported (the incident object's "postmortem").
type Postmortem struct {
	Status string `json:"status"`
	Author string `json:"author,omitempty"`
	// Reviews are the sign-offs, one per reviewer (a reviewer's later
	// review replaces the earlier one), in the order reviewers first
	// reviewed.
	Reviews []Review `json:"reviews"`
	// Published counts the publications; PublishedAt and PublishedBy are
	// the latest.
	Published   int        `json:"published,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	PublishedBy string     `json:"published_by,omitempty"`
	// Exports are the deliveries of each version to each sink, oldest
	// version first.
	Exports []Export `json:"exports"`
}

// Review is one reviewer's sign-off (Approve) or objection, with a note.
type Review struct {
	Reviewer string    `json:"reviewer"`
	Approve  bool      `json:"approve"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
}

// Export is where one version of the draft went, or why it did not.
type Export struct {
	// Sink names the destination (export.sinks: "directory postmortems/",
	// "webhook wiki.example.com", "nats postmortems.drafts").
	Sink   string    `json:"sink"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	// Version numbers the drafts exported, from 1; Mark is what the
	// version stands for: "resolved 1" for the first resolution, "resolved
	// 2" after a reopen, "published 1" for the first publication.
	Version  int    `json:"version"`
	Mark     string `json:"mark"`
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	// Location says where it went: the files written, the subject.
	Location string `json:"location,omitempty"`
}

// ActionItem is a follow-up people committed to, tracked across
// incidents (GET /api/v1/action-items) and shown, while open, in the
// drafts of later related incidents.
type ActionItem struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Owner  string `json:"owner,omitempty"`
	Due    string `json:"due,omitempty"`
	Status string `json:"status"`
	// By is who added it; CreatedAt and UpdatedAt are wall-clock times.
	By        string    `json:"by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ActionItemID derives an action item's id from the event that added it,
// so that the API can name the item before the event is applied.
func ActionItemID(eventID string) string {
	h := sha256.Sum256([]byte(eventID))
	return "ai-" + hex.EncodeToString(h[:6])
}

// Approvals returns the reviewers whose latest review approves, in review
// order.
func (p *Postmortem) Approvals() []string {
	var out []string
	if p == nil {
		return nil
	}
	for _, r := range p.Reviews {
		if r.Approve {
			out = append(out, r.Reviewer)
		}
	}
	return out
}

// ExportOf returns the record of version's delivery to sink, if any.
func (p *Postmortem) ExportOf(sink string, version int) (Export, bool) {
	if p == nil {
		return Export{}, false
	}
	for _, e := range p.Exports {
		if e.Sink == sink && e.Version == version {
			return e, true
		}
	}
	return Export{}, false
}

// VersionOf returns the version a mark was exported as, or, for a mark
// not exported yet, the next version number (false).
func (p *Postmortem) VersionOf(mark string) (int, bool) {
	next := 1
	if p == nil {
		return next, false
	}
	for _, e := range p.Exports {
		if mark != "" && e.Mark == mark {
			return e.Version, true
		}
		next = max(next, e.Version+1)
	}
	return next, false
}

// NextVersion is the number the next new mark is exported as.
func (p *Postmortem) NextVersion() int {
	v, _ := p.VersionOf("")
	return v
}

func isPostmortemEvent(kind string) bool {
	switch kind {
	case KindPostmortemUpdated, KindPostmortemReviewed, KindPostmortemPublished, KindPostmortemExported,
		KindActionItemAdded, KindActionItemUpdated:
		return true
	}
	return false
}

// postmortemApplied applies a post-mortem event to the incident it names.
// The API checked the request (statuses, the publishing rule) before it
// appended the event, so applying it is unconditional: a replay under
// another configuration gives the same state.
func (c *Correlator) postmortemApplied(ev *collector.Event) {
	inc := c.target(ev)
	if inc == nil {
		return
	}
	l := ev.Labels
	at := ev.ReceivedAt.UTC()
	if at.IsZero() {
		at = ev.At.UTC()
	}
	if ev.Kind == KindActionItemAdded || ev.Kind == KindActionItemUpdated {
		c.actionItemApplied(inc, ev, at)
		c.changes.Incidents[inc.ID] = inc
		return
	}
	pm := inc.Postmortem
	if pm == nil {
		pm = &Postmortem{Status: PostmortemDraft}
		inc.Postmortem = pm
	}
	switch ev.Kind {
	case KindPostmortemUpdated:
		if v, ok := l[LabelAuthor]; ok && v != "" {
			pm.Author = v
		}
		if v, ok := l[LabelStatus]; ok && v != "" {
			pm.Status = v
		}
	case KindPostmortemReviewed:
		r := Review{Reviewer: l[LabelReviewer], Approve: l[LabelApprove] == "true", Note: l[LabelNote], At: at}
		if i := slices.IndexFunc(pm.Reviews, func(x Review) bool { return x.Reviewer == r.Reviewer }); i >= 0 {
			pm.Reviews[i] = r
		} else {
			pm.Reviews = append(pm.Reviews, r)
		}
		if pm.Status == PostmortemDraft {
			pm.Status = PostmortemInReview // a review starts the review
		}
	case KindPostmortemPublished:
		pm.Status = PostmortemPublished
		pm.Published++
		pm.PublishedAt = &at
		pm.PublishedBy = l[LabelAuthor]
	case KindPostmortemExported:
		version, _ := strconv.Atoi(l[LabelVersion])
		attempts, _ := strconv.Atoi(l[LabelAttempts])
		e := Export{Sink: l[LabelSink], Status: l[LabelStatus], At: at, Version: version, Mark: l[LabelMark],
			Error: l[LabelError], Attempts: attempts, Location: l[LabelLocation]}
		i := slices.IndexFunc(pm.Exports, func(x Export) bool { return x.Sink == e.Sink && x.Version == e.Version })
		switch {
		case i < 0:
			pm.Exports = append(pm.Exports, e)
		case pm.Exports[i].Status != ExportExported:
			pm.Exports[i] = e // a success is final; a late failure report does not undo it
		}
		slices.SortStableFunc(pm.Exports, func(a, b Export) int {
			return cmp.Or(cmp.Compare(a.Version, b.Version), cmp.Compare(a.Sink, b.Sink))
		})
	}
	c.changes.Incidents[inc.ID] = inc
}

func (c *Correlator) actionItemApplied(inc *Incident, ev *collector.Event, at time.Time) {
	l := ev.Labels
	switch ev.Kind {
	case KindActionItemAdded:
		id := cmp.Or(l[LabelItemID], ActionItemID(ev.ID))
		if slices.ContainsFunc(inc.ActionItems, func(a ActionItem) bool { return a.ID == id }) {
			return
		}
		inc.ActionItems = append(inc.ActionItems, ActionItem{ID: id, Text: l[LabelText], Owner: l[LabelOwner], Due: l[LabelDue],
			Status: ActionOpen, By: l[LabelAuthor], CreatedAt: at, UpdatedAt: at})
	case KindActionItemUpdated:
		i := slices.IndexFunc(inc.ActionItems, func(a ActionItem) bool { return a.ID == l[LabelItemID] })
		if i < 0 {
			return
		}
		a := &inc.ActionItems[i]
		if v, ok := l[LabelStatus]; ok && v != "" {
			a.Status = v
		}
		if v, ok := l[LabelOwner]; ok {
			a.Owner = v
		}
		if v, ok := l[LabelDue]; ok {
			a.Due = v
		}
		if v, ok := l[LabelText]; ok && v != "" {
			a.Text = v
		}
		a.UpdatedAt = at
	}
}
