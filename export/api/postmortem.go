package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/export/api/auth"
)

// This file serves the post-mortem's review workflow (draft, in review,
// published) and the action items. Every change is an event in the log
// (correlate.KindPostmortem*, KindActionItem*), named by incident id and
// anchor events like any correction, so the state is part of the
// projection. The rules (who may publish) are checked here, before the
// event is appended; applying it is unconditional.

// bookkeepingTime is the event time of a post-mortem event: the incident's
// own latest time, so that bookkeeping done days later never moves the
// time correlation judges lateness by. When it happened on the wall clock
// is the event's received_at.
func bookkeepingTime(inc *correlate.Incident) time.Time {
	t := inc.StartedAt
	for _, u := range []time.Time{inc.LastActivity, inc.LastEnd} {
		if u.After(t) {
			t = u
		}
	}
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t
}

// signer is who signs a post-mortem change (see author): the token's
// name, or the name the body gives, else fallback (the post-mortem's
// author). It answers 400 itself when nobody signs.
func signer(w http.ResponseWriter, r *http.Request, claimed, fallback string) (string, bool) {
	who, err := author(r, cmp.Or(strings.TrimSpace(claimed), fallback))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return who, true
}

func (a *API) patchPostmortem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Author *string `json:"author"`
		Status *string `json:"status"`
		By     string  `json:"by"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels := map[string]string{}
	var what []string
	if req.Author != nil {
		v := strings.TrimSpace(*req.Author)
		if v == "" {
			writeError(w, http.StatusBadRequest, "author: empty; name the person who writes the post-mortem")
			return
		}
		labels[correlate.LabelAuthor] = v
		what = append(what, "author "+v)
	}
	if req.Status != nil {
		switch s := *req.Status; s {
		case correlate.PostmortemDraft, correlate.PostmortemInReview:
			labels[correlate.LabelStatus] = s
			what = append(what, "status "+s)
		case correlate.PostmortemPublished:
			writeError(w, http.StatusBadRequest, "status: publish with POST /api/v1/incidents/{id}/postmortem/publish, which checks the reviews")
			return
		default:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not draft or in_review", s))
			return
		}
	}
	if len(what) == 0 {
		writeError(w, http.StatusBadRequest, "nothing to change: give author or status")
		return
	}
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	current := ""
	if inc.Postmortem != nil {
		current = inc.Postmortem.Author
	}
	by, ok := signer(w, r, req.By, cmp.Or(labels[correlate.LabelAuthor], current))
	if !ok {
		return
	}
	labels[correlate.LabelSignedBy] = by
	if _, ok := a.record(w, r, inc, tl, collector.SourceHindsight, correlate.KindPostmortemUpdated,
		"post-mortem: "+strings.Join(what, ", ")+" (by "+by+")", bookkeepingTime(inc), labels); !ok {
		return
	}
	a.answer(w, r, http.StatusOK, inc.ID)
}

func (a *API) addReview(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reviewer string `json:"reviewer"`
		Approve  *bool  `json:"approve"`
		Note     string `json:"note"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	reviewer := strings.TrimSpace(req.Reviewer)
	if id, ok := auth.FromContext(r.Context()); ok && reviewer == "" {
		reviewer = id.Name // a personal token names the reviewer
	}
	switch {
	case reviewer == "":
		writeError(w, http.StatusBadRequest, "reviewer: missing; name who reviews")
		return
	case req.Approve == nil:
		writeError(w, http.StatusBadRequest, "approve: missing; true to sign off, false to ask for changes")
		return
	}
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	if pm := inc.Postmortem; pm != nil && pm.Status == correlate.PostmortemPublished {
		writeError(w, http.StatusConflict, "the post-mortem is published; set its status to in_review (PATCH .../postmortem) to review it again")
		return
	}
	verb := "asked for changes"
	if *req.Approve {
		verb = "approved"
	}
	by, ok := signer(w, r, reviewer, "")
	if !ok {
		return
	}
	labels := map[string]string{
		correlate.LabelReviewer: reviewer,
		correlate.LabelApprove:  strconv.FormatBool(*req.Approve),
		correlate.LabelNote:     req.Note,
		correlate.LabelSignedBy: by,
	}
	if _, ok := a.record(w, r, inc, tl, collector.SourceHindsight, correlate.KindPostmortemReviewed,
		"post-mortem review: "+reviewer+" "+verb, bookkeepingTime(inc), labels); !ok {
		return
	}
	a.answer(w, r, http.StatusCreated, inc.ID)
}

// missingReviews says what keeps pm from being published with min
// approvals, or "" when nothing does.
func missingReviews(pm *correlate.Postmortem, min int) string {
	if pm == nil || pm.Author == "" {
		return `the post-mortem has no author: set one with "hindsightctl draft ID --assign NAME" (PATCH /api/v1/incidents/{id}/postmortem {"author": "..."}), who then approves it too`
	}
	var approved []string
	authorApproved := false
	for _, r := range pm.Reviews {
		if !r.Approve || slices.ContainsFunc(approved, func(s string) bool { return strings.EqualFold(s, r.Reviewer) }) {
			continue
		}
		approved = append(approved, r.Reviewer)
		authorApproved = authorApproved || strings.EqualFold(r.Reviewer, pm.Author)
	}
	if len(approved) >= min && authorApproved {
		return ""
	}
	var missing []string
	others := min - len(approved)
	if !authorApproved {
		missing = append(missing, "the author ("+pm.Author+")")
		others = min - len(approved) - 1
	}
	if others > 0 {
		missing = append(missing, strconv.Itoa(others)+" more "+plural(others, "reviewer", "reviewers"))
	}
	have := "no approval yet"
	if len(approved) > 0 {
		have = "approved by " + strings.Join(approved, ", ")
	}
	return fmt.Sprintf("publishing needs %d approving %s, the author among them (export.min_reviewers): %s; missing %s",
		min, plural(min, "reviewer", "reviewers"), have, strings.Join(missing, " and "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Author string `json:"author"`
	}
	if r.ContentLength != 0 {
		if err := decodeStrict(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	v := correlate.NewView(inc, nil, a.cfg(), a.now())
	pm := inc.Postmortem
	switch {
	case v.Status != correlate.StatusResolved:
		writeError(w, http.StatusConflict, "the incident is still open: publish its post-mortem once it has resolved")
		return
	case pm != nil && pm.Status == correlate.PostmortemPublished:
		writeError(w, http.StatusConflict, "the post-mortem is already published")
		return
	}
	if why := missingReviews(pm, a.cfg().Export.MinReviewers); why != "" {
		writeError(w, http.StatusConflict, why)
		return
	}
	by, ok := signer(w, r, req.Author, pm.Author)
	if !ok {
		return
	}
	labels := map[string]string{correlate.LabelAuthor: by}
	if _, ok := a.record(w, r, inc, tl, collector.SourceHindsight, correlate.KindPostmortemPublished,
		"post-mortem published by "+by+" after review by "+strings.Join(pm.Approvals(), ", "), bookkeepingTime(inc), labels); !ok {
		return
	}
	a.answer(w, r, http.StatusOK, inc.ID)
}

// parseDue accepts a date (2026-12-01) or an RFC 3339 time, and keeps the
// date: action items are due on a day.
func parseDue(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format(time.DateOnly), nil
	}
	return "", fmt.Errorf("due: %q is not a date such as 2026-12-01", s)
}

func (a *API) addActionItem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text   string `json:"text"`
		Owner  string `json:"owner"`
		Due    string `json:"due"`
		Author string `json:"author"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		writeError(w, http.StatusBadRequest, "text: missing; say what will be done")
		return
	}
	due, err := parseDue(req.Due)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	by, ok := signer(w, r, req.Author, "")
	if !ok {
		return
	}
	labels := map[string]string{correlate.LabelText: text, correlate.LabelOwner: strings.TrimSpace(req.Owner),
		correlate.LabelDue: due, correlate.LabelAuthor: by}
	ev, ok := a.record(w, r, inc, tl, collector.SourceHindsight, correlate.KindActionItemAdded,
		"action item: "+text, bookkeepingTime(inc), labels)
	if !ok {
		return
	}
	a.answerItem(w, r, http.StatusCreated, inc.ID, correlate.ActionItemID(ev.ID))
}

func (a *API) patchActionItem(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status *string `json:"status"`
		Owner  *string `json:"owner"`
		Due    *string `json:"due"`
		Text   *string `json:"text"`
		Author string  `json:"author"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	item := r.PathValue("item")
	by, ok := signer(w, r, req.Author, "")
	if !ok {
		return
	}
	labels := map[string]string{correlate.LabelItemID: item, correlate.LabelAuthor: by}
	var what []string
	if req.Status != nil {
		if *req.Status != correlate.ActionOpen && *req.Status != correlate.ActionDone {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not open or done", *req.Status))
			return
		}
		labels[correlate.LabelStatus] = *req.Status
		what = append(what, "status "+*req.Status)
	}
	if req.Owner != nil {
		labels[correlate.LabelOwner] = strings.TrimSpace(*req.Owner)
		what = append(what, "owner")
	}
	if req.Due != nil {
		due, err := parseDue(*req.Due)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		labels[correlate.LabelDue] = due
		what = append(what, "due date")
	}
	if req.Text != nil {
		if strings.TrimSpace(*req.Text) == "" {
			writeError(w, http.StatusBadRequest, "text: empty")
			return
		}
		labels[correlate.LabelText] = strings.TrimSpace(*req.Text)
		what = append(what, "text")
	}
	if len(what) == 0 {
		writeError(w, http.StatusBadRequest, "nothing to change: give status, owner, due or text")
		return
	}
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	if !slices.ContainsFunc(inc.ActionItems, func(x correlate.ActionItem) bool { return x.ID == item }) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("action item %q is not on incident %s", item, inc.ID))
		return
	}
	if _, ok := a.record(w, r, inc, tl, collector.SourceHindsight, correlate.KindActionItemUpdated,
		"action item "+item+": "+strings.Join(what, ", "), bookkeepingTime(inc), labels); !ok {
		return
	}
	a.answerItem(w, r, http.StatusOK, inc.ID, item)
}

// ActionItemView is an action item as the API lists it: with the incident
// it came from.
type ActionItemView struct {
	correlate.ActionItem
	IncidentID    string   `json:"incident_id"`
	IncidentTitle string   `json:"incident_title"`
	Services      []string `json:"services"`
}

func (a *API) answerItem(w http.ResponseWriter, r *http.Request, status int, incID, item string) {
	v, err := a.view(r.Context(), incID)
	if err != nil {
		a.fail(w, err)
		return
	}
	for _, it := range v.ActionItems {
		if it.ID == item {
			w.Header().Set("Location", "/api/v1/incidents/"+incID+"/action-items/"+item)
			collector.WriteJSON(w, status, ActionItemView{ActionItem: it, IncidentID: v.ID, IncidentTitle: v.Title, Services: v.Services})
			return
		}
	}
	a.fail(w, fmt.Errorf("action item %s of %s: %w", item, incID, correlate.ErrNotFound))
}

// listActionItems serves GET /api/v1/action-items: the action items of
// every incident, newest incident first, filtered by status, owner and
// service.
func (a *API) listActionItems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseList(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	status, owner, service := q.Get("status"), q.Get("owner"), q.Get("service")
	if status != "" && status != correlate.ActionOpen && status != correlate.ActionDone {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not open or done", status))
		return
	}
	cfg, now := a.cfg(), a.now()
	ls := newListStream(w, "action_items", a.listBytes.Load())
	var pg page
	err = a.reader.ScanIncidents(r.Context(), p.cursor, func(inc *correlate.Incident, cur string) bool {
		if !pg.scan(cur) {
			return false
		}
		if len(inc.ActionItems) == 0 || inc.MergedInto != "" || (service != "" && !slices.Contains(inc.Services, service)) {
			return true
		}
		var items []ActionItemView
		for _, it := range inc.ActionItems {
			if (status != "" && it.Status != status) || (owner != "" && !strings.EqualFold(it.Owner, owner)) {
				continue
			}
			items = append(items, ActionItemView{ActionItem: it, IncidentID: inc.ID, Services: slices.Clone(inc.Services)})
		}
		if len(items) == 0 {
			return true
		}
		// A page holds whole incidents' items, so it may pass limit by
		// the last incident's.
		if ls.items >= p.limit || ls.full() {
			pg.more = true
			return false
		}
		title := correlate.NewView(inc, nil, cfg, now).Title
		for i := range items {
			items[i].IncidentTitle = title
			if pg.werr = ls.add(items[i]); pg.werr != nil {
				return false
			}
		}
		pg.next = cur
		return true
	})
	a.finishList(w, ls, &pg, err)
}
