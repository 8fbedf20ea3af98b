package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/export/api/auth"
)

// maxChangeBody bounds the JSON of a change request.
const maxChangeBody = 64 << 10

// decodeStrict reads a small JSON object and refuses unknown fields, so a
// typo ("severty") is an error rather than a silent no-op.
func decodeStrict(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxChangeBody+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxChangeBody {
		return fmt.Errorf("body is over %d bytes", maxChangeBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body; expected a JSON object")
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	return nil
}

// author is who signs a change: the name of the token the request was
// authenticated with (followed by the name the body gives, when that
// differs, so a shared token still tells who), or, without tokens, the
// name the body gives. A change that nobody signs is refused: the
// post-mortem must say who changed what.
func author(r *http.Request, claimed string) (string, error) {
	claimed = strings.TrimSpace(claimed)
	if id, ok := auth.FromContext(r.Context()); ok {
		if claimed == "" || claimed == id.Name {
			return id.Name, nil
		}
		return claimed + " (token " + id.Name + ")", nil
	}
	if claimed == "" {
		return "", errors.New("author: missing; say who makes this change (with api.tokens set, the token's name signs it)")
	}
	return claimed, nil
}

// anchors are the events a correction names its incident by, beside
// its id (correlate.AnchorEvents).
func anchors(tl correlate.Timeline) string { return correlate.JoinList(correlate.AnchorEvents(tl)) }

// correct appends a person's correction to the log (it is an event like
// any other) and answers with the incident as it is afterwards. labels
// holds the author the body names; the author signing it replaces it
// (see author), and summary is given that name.
func (a *API) correct(w http.ResponseWriter, r *http.Request, status int, source, kind string, summary func(who string) string, at time.Time, labels map[string]string) {
	inc, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	if entry := labels[correlate.LabelEntryID]; entry != "" && !slices.ContainsFunc(tl, func(e correlate.Entry) bool { return e.ID == entry }) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("entry %q is not on the timeline of %s", entry, inc.ID))
		return
	}
	who, err := author(r, labels[correlate.LabelAuthor])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels[correlate.LabelAuthor] = who
	if _, ok := a.record(w, r, inc, tl, source, kind, summary(who), at, labels); !ok {
		return
	}
	a.answer(w, r, status, inc.ID)
}

// subject reads the incident a change is about, with its timeline. A
// merged incident cannot be changed: the answer names the one it joined.
func (a *API) subject(w http.ResponseWriter, r *http.Request) (*correlate.Incident, correlate.Timeline, bool) {
	if a.sink == nil {
		writeError(w, http.StatusNotImplemented, "changes are not enabled on this server")
		return nil, nil, false
	}
	inc, tl, err := a.incidentWithTimeline(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, err)
		return nil, nil, false
	}
	if inc.MergedInto != "" {
		writeError(w, http.StatusConflict, fmt.Sprintf("incident %s was merged into %s; change that one", inc.ID, inc.MergedInto))
		return nil, nil, false
	}
	return inc, tl, true
}

func (a *API) incidentWithTimeline(ctx context.Context, id string) (*correlate.Incident, correlate.Timeline, error) {
	inc, err := a.reader.Incident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	tl, err := a.reader.Timeline(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return inc, tl, nil
}

// record appends the correction event about inc and waits until the
// projection reflects it. It answers the client itself when that fails.
func (a *API) record(w http.ResponseWriter, r *http.Request, inc *correlate.Incident, tl correlate.Timeline, source, kind, summary string, at time.Time, labels map[string]string) (collector.Event, bool) {
	labels[correlate.LabelIncidentID] = inc.ID
	labels[correlate.LabelAnchorEvents] = anchors(tl)
	now := time.Now().UTC()
	if at.IsZero() {
		at = now
	}
	ev := collector.Event{
		ID:         collector.EventID(source, inc.ID, kind, strconv.FormatInt(now.UnixNano(), 10), summary),
		Source:     source,
		Kind:       kind,
		At:         at.UTC(),
		ReceivedAt: now,
		Summary:    summary,
		Labels:     labels,
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := a.sink.Ingest(ctx, ev); err != nil {
		a.logger.Warn("Change not stored; client told to retry", "kind", kind, "incident", inc.ID, "err", err)
		collector.WriteUnavailable(w, err)
		return ev, false
	}
	return ev, true
}

// answer writes the incident id as it is now.
func (a *API) answer(w http.ResponseWriter, r *http.Request, status int, id string) {
	v, err := a.view(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	collector.WriteJSON(w, status, v)
}

func (a *API) merge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		From   []string `json:"from"`
		Author string   `json:"author"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.From) == 0 {
		writeError(w, http.StatusBadRequest, "from: missing; name the incidents to merge into this one")
		return
	}
	into, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	var ids, groups []string
	for _, id := range req.From {
		if id == into.ID {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("from: %s is the incident merged into; an incident cannot be merged into itself", id))
			return
		}
		if slices.Contains(ids, id) {
			continue
		}
		inc, itl, err := a.incidentWithTimeline(r.Context(), id)
		if errors.Is(err, correlate.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("from: incident %q not found", id))
			return
		}
		if err != nil {
			a.fail(w, err)
			return
		}
		if inc.MergedInto != "" {
			writeError(w, http.StatusConflict, fmt.Sprintf("from: incident %s was already merged into %s", id, inc.MergedInto))
			return
		}
		ids = append(ids, id)
		groups = append(groups, anchors(itl))
	}
	who, err := author(r, req.Author)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels := map[string]string{
		correlate.LabelAuthor:      who,
		correlate.LabelFrom:        correlate.JoinList(ids),
		correlate.LabelFromAnchors: strings.Join(groups, ";"),
	}
	if _, ok := a.record(w, r, into, tl, collector.SourceHindsight, correlate.KindIncidentMerged,
		who+" merged "+strings.Join(ids, ", ")+" into this incident", time.Time{}, labels); !ok {
		return
	}
	a.answer(w, r, http.StatusOK, into.ID)
}

func (a *API) split(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Entries []string `json:"entries"`
		Author  string   `json:"author"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Entries) == 0 {
		writeError(w, http.StatusBadRequest, "entries: missing; name the timeline entries to move to a new incident")
		return
	}
	src, tl, ok := a.subject(w, r)
	if !ok {
		return
	}
	var events []string
	for _, id := range req.Entries {
		i := slices.IndexFunc(tl, func(e correlate.Entry) bool { return e.ID == id })
		if i < 0 {
			writeError(w, http.StatusNotFound, fmt.Sprintf("entries: %q is not on the timeline of %s", id, src.ID))
			return
		}
		if !slices.Contains(events, tl[i].EventID) {
			events = append(events, tl[i].EventID)
		}
	}
	if moving := splitMoves(tl, events); moving == len(tl) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("entries: these would move all %d entries of %s (an alert or page moves with all its entries); nothing would remain", len(tl), src.ID))
		return
	}
	who, err := author(r, req.Author)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels := map[string]string{correlate.LabelAuthor: who, correlate.LabelEvents: correlate.JoinList(events)}
	if _, ok := a.record(w, r, src, tl, collector.SourceHindsight, correlate.KindIncidentSplit,
		fmt.Sprintf("%s split %d entries off this incident", who, len(events)), time.Time{}, labels); !ok {
		return
	}
	id := src.ID
	if l, ok := a.reader.(correlate.CommittedLookup); ok {
		got, err := l.IncidentOfEvent(r.Context(), events[0])
		if err != nil {
			a.fail(w, err)
			return
		}
		if got != "" {
			id = got
		}
	}
	w.Header().Set("Location", "/api/v1/incidents/"+id)
	a.answer(w, r, http.StatusCreated, id)
}

// splitMoves counts the entries a split of events moves: each alert and
// page goes whole, as the correlator moves them.
func splitMoves(tl correlate.Timeline, events []string) int {
	fps, pages := map[string]bool{}, map[string]bool{}
	for _, e := range tl {
		if slices.Contains(events, e.EventID) {
			fps[e.Ref.Fingerprint] = e.Ref.Fingerprint != ""
			pages[e.Ref.PagerDutyIncidentID] = e.Ref.PagerDutyIncidentID != ""
		}
	}
	n := 0
	for _, e := range tl {
		if slices.Contains(events, e.EventID) || fps[e.Ref.Fingerprint] || pages[e.Ref.PagerDutyIncidentID] {
			n++
		}
	}
	return n
}

func (a *API) addNote(w http.ResponseWriter, r *http.Request) {
	var req struct {
		At     *time.Time `json:"at"`
		Author string     `json:"author"`
		Text   string     `json:"text"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		writeError(w, http.StatusBadRequest, "text: missing; a note needs text")
		return
	}
	var at time.Time
	if req.At != nil {
		at = *req.At
	}
	labels := map[string]string{correlate.LabelAuthor: req.Author}
	a.correct(w, r, http.StatusCreated, collector.SourceNote, correlate.KindNote, func(string) string { return req.Text }, at, labels)
}

var severities = []string{"SEV1", "SEV2", "SEV3", "SEV4", "SEV5"}

func (a *API) patchIncident(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title    *string `json:"title"`
		Severity *string `json:"severity"`
		Status   *string `json:"status"`
		Author   string  `json:"author"`
		Reason   string  `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels := map[string]string{correlate.LabelAuthor: req.Author}
	var what []string
	if req.Title != nil {
		if strings.TrimSpace(*req.Title) == "" {
			writeError(w, http.StatusBadRequest, "title: empty")
			return
		}
		labels[correlate.LabelTitle] = *req.Title
		what = append(what, "title")
	}
	if req.Severity != nil {
		s := strings.ToUpper(*req.Severity)
		if s != "" && !slices.Contains(severities, s) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("severity: %q is not one of SEV1..SEV5 (or \"\" to clear the override)", *req.Severity))
			return
		}
		labels[correlate.LabelSeverity] = s
		what = append(what, "severity")
	}
	if req.Status != nil {
		s := *req.Status
		if s != "" && s != correlate.StatusOpen && s != correlate.StatusResolved {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("status: %q is not open or resolved (or \"\" to clear the override)", s))
			return
		}
		labels[correlate.LabelStatus] = s
		what = append(what, "status")
	}
	if len(what) == 0 {
		writeError(w, http.StatusBadRequest, "nothing to change: give title, severity or status")
		return
	}
	why := reasonFor(req.Reason, labels)
	a.correct(w, r, http.StatusOK, collector.SourceHindsight, correlate.KindIncidentUpdated,
		func(who string) string { return who + " changed the " + strings.Join(what, ", ") + why }, time.Time{}, labels)
}

func (a *API) patchEntry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Pinned *bool   `json:"pinned"`
		Hidden *bool   `json:"hidden"`
		Note   *string `json:"note"`
		Author string  `json:"author"`
		Reason string  `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	labels := map[string]string{correlate.LabelAuthor: req.Author, correlate.LabelEntryID: r.PathValue("entry")}
	if req.Pinned != nil {
		labels[correlate.LabelPinned] = strconv.FormatBool(*req.Pinned)
	}
	if req.Hidden != nil {
		labels[correlate.LabelHidden] = strconv.FormatBool(*req.Hidden)
	}
	if req.Note != nil {
		labels[correlate.LabelNote] = *req.Note
	}
	if len(labels) == 2 {
		writeError(w, http.StatusBadRequest, "nothing to change: give pinned, hidden or note")
		return
	}
	why := reasonFor(req.Reason, labels)
	a.correct(w, r, http.StatusOK, collector.SourceHindsight, correlate.KindEntryUpdated,
		func(string) string { return "entry " + r.PathValue("entry") + " curated" + why }, time.Time{}, labels)
}

// labelReason keeps why a person made a change, beside what changed.
const labelReason = "reason"

// reasonFor keeps why as a label and returns what the change's summary
// (which the timeline shows) ends with: ": why", or nothing.
func reasonFor(reason string, labels map[string]string) string {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return ""
	}
	labels[labelReason] = reason
	return ": " + reason
}

func (a *API) recorrelate(w http.ResponseWriter, r *http.Request) {
	if a.rebuild == nil {
		writeError(w, http.StatusNotImplemented, "recorrelation is not enabled on this server")
		return
	}
	start := time.Now()
	if err := a.rebuild(r.Context()); err != nil {
		a.fail(w, fmt.Errorf("recorrelate: %w", err))
		return
	}
	collector.WriteJSON(w, http.StatusOK, map[string]any{"status": "success", "duration_seconds": time.Since(start).Seconds()})
}
