package api

import (
	"bytes"
	"cmp"
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

// anchorEvent is the event that opened the incident. Corrections name it
// beside the incident id, so that after a recorrelation they follow the
// event to whatever incident holds it.
func anchorEvent(inc *correlate.Incident, tl correlate.Timeline) string {
	for _, e := range tl {
		if e.Seq == inc.FirstSeq {
			return e.EventID
		}
	}
	if len(tl) > 0 {
		return tl[0].EventID
	}
	return ""
}

// correct appends a person's correction to the log (it is an event like
// any other) and answers with the incident as it is afterwards.
func (a *API) correct(w http.ResponseWriter, r *http.Request, status int, source, kind, summary string, at time.Time, labels map[string]string) {
	if a.sink == nil {
		writeError(w, http.StatusNotImplemented, "changes are not enabled on this server")
		return
	}
	id := r.PathValue("id")
	inc, err := a.reader.Incident(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	tl, err := a.reader.Timeline(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	if entry := labels[correlate.LabelEntryID]; entry != "" && !slices.ContainsFunc(tl, func(e correlate.Entry) bool { return e.ID == entry }) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("entry %q is not on the timeline of %s", entry, id))
		return
	}
	labels[correlate.LabelIncidentID] = inc.ID
	labels[correlate.LabelAnchorEvent] = anchorEvent(inc, tl)
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
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "change not stored, retry later: "+err.Error())
		return
	}
	v, err := a.view(r.Context(), inc.ID)
	if err != nil {
		a.fail(w, err)
		return
	}
	collector.WriteJSON(w, status, v)
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
	a.correct(w, r, http.StatusCreated, collector.SourceNote, correlate.KindNote, req.Text, at, labels)
}

var severities = []string{"SEV1", "SEV2", "SEV3", "SEV4", "SEV5"}

func (a *API) patchIncident(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Title    *string `json:"title"`
		Severity *string `json:"severity"`
		Status   *string `json:"status"`
		Author   string  `json:"author"`
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
	a.correct(w, r, http.StatusOK, collector.SourceHindsight, correlate.KindIncidentUpdated,
		cmp.Or(req.Author, "someone")+" changed the "+strings.Join(what, ", "), time.Time{}, labels)
}

func (a *API) patchEntry(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Pinned *bool   `json:"pinned"`
		Hidden *bool   `json:"hidden"`
		Note   *string `json:"note"`
		Author string  `json:"author"`
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
	a.correct(w, r, http.StatusOK, collector.SourceHindsight, correlate.KindEntryUpdated,
		"entry "+r.PathValue("entry")+" curated", time.Time{}, labels)
}

func (a *API) notYet(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotImplemented, what+" is not implemented yet; see the project's issues")
	}
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
