package correlate

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// kindPagerDutyPrefix starts the kinds of PagerDuty events.
const kindPagerDutyPrefix = "pagerduty."

// PagerDutyState is what Hindsight knows of one PagerDuty incident linked
// to an incident: who was paged, when they acknowledged, how it ended.
type PagerDutyState struct {
	IncidentID     string    `json:"incident_id"`
	Number         string    `json:"number,omitempty"`
	URL            string    `json:"url,omitempty"`
	Title          string    `json:"title,omitempty"`
	Service        string    `json:"service,omitempty"`
	Status         string    `json:"status"`
	Priority       string    `json:"priority,omitempty"`
	Urgency        string    `json:"urgency,omitempty"`
	TriggeredAt    time.Time `json:"triggered_at,omitzero"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	Escalations    int       `json:"escalations"`
	Assignees      []string  `json:"assignees,omitempty"`
	Responders     []string  `json:"responders,omitempty"`
	// LinkReason says why this PagerDuty incident belongs here.
	LinkReason string `json:"link_reason"`
	// OnService is the service of this configuration the page's
	// PagerDuty service maps to (services.<name>.pagerduty_service_ids).
	OnService string `json:"on_service,omitempty"`
	// LastEventAt is the time of the latest event on the page: a page
	// left open with no event for correlation.page_stale_after no longer
	// holds its incident open (ActiveAt).
	LastEventAt time.Time `json:"last_event_at,omitzero"`
}

// Active reports whether the page is still open in PagerDuty.
func (p *PagerDutyState) Active() bool { return p.Status != "resolved" }

// ActiveAt reports whether the page holds its incident open at t: it is
// not resolved, and it has had an event within stale before t (0: no
// bound). A page stored before LastEventAt existed counts as active.
func (p *PagerDutyState) ActiveAt(t time.Time, stale time.Duration) bool {
	if !p.Active() {
		return false
	}
	return stale <= 0 || p.LastEventAt.IsZero() || t.Before(p.LastEventAt.Add(stale))
}

// GroupKeyHash is how Alertmanager's PagerDuty integration derives the
// incident key from a group key (hex sha256), so an incident key equal to
// it links the page to the alert group exactly.
func GroupKeyHash(groupKey string) string {
	h := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(h[:])
}

func isPagerDuty(ev *collector.Event) bool {
	return ev.Source == collector.SourcePagerDuty && strings.HasPrefix(ev.Kind, kindPagerDutyPrefix)
}

// pagerDutyApplied puts a PagerDuty event on the incident of the page it
// is about: the incident already linked, else the one whose alert group
// the page was raised for (exact), else an open incident of the mapped
// service (by time), else a new incident flagged as a monitoring gap.
func (c *Correlator) pagerDutyApplied(seq uint64, ev *collector.Event) {
	pdID := ev.Ref.PagerDutyIncidentID
	if pdID == "" {
		return // service.* and other non-incident events: log only
	}
	action := strings.TrimPrefix(ev.Kind, kindPagerDutyPrefix+"incident.")
	pd := pagerDutyOf(ev)
	number := pd.IncidentNumber
	name := "PagerDuty incident " + pdID
	if number != "" {
		name = "PagerDuty incident #" + number
	}
	var inc *Incident
	var reasons []string
	if id, ok := c.pdIncidents[pdID]; ok && c.live[id] != nil {
		inc = c.live[id]
		reasons = []string{"joined: " + name + " is linked to this incident"}
	} else if key := pd.IncidentKey; key != "" && c.live[c.groupKeys[key]] != nil {
		inc = c.live[c.groupKeys[key]]
		reasons = []string{fmt.Sprintf("linked exactly: the incident key of %s is sha256 of the Alertmanager group key of this incident's alerts", name)}
	} else if inc = c.openIncidentOf(ev.Service, ev.At); inc != nil {
		reasons = []string{fmt.Sprintf("linked: %s is on PagerDuty service %s, which maps to %s (services.%s.pagerduty_service_ids), and this incident was open at %s",
			name, cmp.Or(pd.ServiceName, pd.ServiceID), ev.Service, ev.Service, ev.At.UTC().Format(time.RFC3339))}
	} else if inc, reasons = c.pageByTitle(ev, pd); inc != nil {
	} else if inc, reasons = c.pageRelated(ev); inc != nil {
		reasons[0] = fmt.Sprintf("linked: %s is on %s (PagerDuty service %s); %s", name, ev.Service,
			cmp.Or(pd.ServiceName, pd.ServiceID), strings.TrimPrefix(reasons[0], "joined "))
	} else {
		inc = c.newPagerDutyIncident(seq, ev, name)
		reasons = []string{"opened: " + name + " has no alert behind it"}
		if action == "triggered" {
			inc.MonitoringGap = true
			reasons = append(reasons, "monitoring gap: a page was raised before any alert fired")
		}
	}
	st := c.pdState(inc, pdID, reasons[0])
	c.pdIncidents[pdID] = inc.ID
	if ev.At.After(st.LastEventAt) {
		st.LastEventAt = ev.At
	}
	st.OnService = cmp.Or(ev.Service, st.OnService)
	st.Number = cmp.Or(number, st.Number)
	st.URL = cmp.Or(pd.HTMLURL, st.URL)
	st.Title = cmp.Or(pd.Title, st.Title)
	st.Service = cmp.Or(pd.ServiceName, st.Service)
	st.Urgency = cmp.Or(pd.Urgency, st.Urgency)
	if p := pd.Priority; p != "" {
		st.Priority = p
	}
	if len(pd.Assignees) > 0 {
		st.Assignees = slices.Clone(pd.Assignees)
	}
	switch action {
	case "triggered":
		if st.TriggeredAt.IsZero() || ev.At.Before(st.TriggeredAt) {
			st.TriggeredAt = ev.At
		}
		if st.Status == "" {
			st.Status = "triggered"
		}
	case "acknowledged":
		if st.AcknowledgedAt.IsZero() || ev.At.Before(st.AcknowledgedAt) {
			st.AcknowledgedAt = ev.At
		}
		if st.Status != "resolved" {
			st.Status = "acknowledged"
		}
	case "unacknowledged":
		if st.Status != "resolved" {
			st.Status = "triggered"
		}
	case "escalated", "delegated":
		st.Escalations++
	case "resolved":
		st.Status = "resolved"
		st.ResolvedAt = ev.At
		if ev.At.After(inc.LastEnd) {
			inc.LastEnd = ev.At
		}
	case "reopened":
		st.Status = "triggered"
		st.ResolvedAt = time.Time{}
	case "responder.added", "responder.replied":
		if r := pd.Responder; r != "" && !slices.Contains(st.Responders, r) {
			st.Responders = append(st.Responders, r)
		}
	}
	if st.Status == "" {
		st.Status = cmp.Or(pd.Status, "triggered")
	}
	if a := pd.Agent; a != "" && pd.AgentType == "user_reference" && !slices.Contains(st.Responders, a) {
		st.Responders = append(st.Responders, a)
	}
	c.addEntry(inc, seq, ev, ev.Service, reasons)
	if action == "resolved" && strings.HasPrefix(pd.ResolveReason, "merge") {
		c.pagerDutyMerged(inc, st, pd.ResolveReason)
	}
}

// mergedIntoRE finds the PagerDuty incident a merge resolve reason names:
// "merge into [#4712] title" or "merge into Q2XK8LJ4N1ABCD".
var mergedIntoRE = regexp.MustCompile(`into (?:\[#(\d+)\]|(\S+))`)

// pagerDutyMerged follows a merge responders made in PagerDuty: the page
// was resolved by merging it into another, so the incident holding it and
// the incident holding the other are one.
func (c *Correlator) pagerDutyMerged(inc *Incident, st *PagerDutyState, reason string) {
	m := mergedIntoRE.FindStringSubmatch(reason)
	if m == nil {
		return
	}
	var target *Incident
	var name string
	for _, id := range c.liveIDs() {
		cand := c.live[id]
		for _, p := range cand.PagerDuty {
			if p.IncidentID == st.IncidentID {
				continue
			}
			if (m[1] != "" && p.Number == m[1]) || (m[2] != "" && p.IncidentID == m[2]) {
				target, name = cand, "#"+cmp.Or(p.Number, p.IncidentID)
			}
		}
		if target != nil {
			break
		}
	}
	if target == nil || target == inc || target.MergedInto != "" {
		return
	}
	c.merge(target, inc, fmt.Sprintf("moved: responders merged PagerDuty incident #%s into %s, so its incident %s is part of this one",
		cmp.Or(st.Number, st.IncidentID), name, inc.ID))
}

// noPagerDuty is what an event without a PagerDuty part says.
var noPagerDuty collector.PagerDuty

// pagerDutyOf returns ev's PagerDuty part, or an empty one, for reading.
func pagerDutyOf(ev *collector.Event) *collector.PagerDuty {
	if ev.PagerDuty != nil {
		return ev.PagerDuty
	}
	return &noPagerDuty
}

// titleWords splits a page title into words: Alertmanager's PagerDuty
// template puts the alert name and the group labels in it ("[FIRING:3]
// HighErrorRate checkout (prod-eu-1)").
var titleWords = regexp.MustCompile(`[A-Za-z0-9_.\-]+`)

// pageByTitle links a page on a PagerDuty service no service maps to by
// its title: the open incident that holds a service the title names
// (and, to choose between several, an alert name it names), active
// within correlation.window. It is the weakest link, tried last but one.
func (c *Correlator) pageByTitle(ev *collector.Event, pd *collector.PagerDuty) (*Incident, []string) {
	if ev.Service != "" || pd.Title == "" || ev.Kind != kindPagerDutyPrefix+"incident.triggered" {
		return nil, nil
	}
	words := map[string]bool{}
	for _, w := range titleWords.FindAllString(pd.Title, -1) {
		words[w] = true
	}
	var best *Incident
	var bestSvc, bestAlert string
	for _, w := range slices.Sorted(maps.Keys(words)) {
		for _, inc := range c.holding(w) {
			if c.resolved(inc, ev.At) || (c.firing(inc, ev.At) == 0 && ev.At.Sub(maxTime(inc.LastActivity, inc.LastEnd)) > c.s.window) ||
				ev.At.Before(inc.StartedAt.Add(-c.s.window)) {
				continue
			}
			alertName := ""
			for _, a := range inc.AlertList() {
				if a.Service == w && words[a.Name] {
					alertName = a.Name
					break
				}
			}
			if best == nil || (alertName != "" && bestAlert == "") ||
				(alertName != "" == (bestAlert != "") && (inc.StartedAt.After(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID < best.ID))) {
				best, bestSvc, bestAlert = inc, w, alertName
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	what := bestSvc
	if bestAlert != "" {
		what = bestAlert + " on " + bestSvc
	}
	return best, []string{fmt.Sprintf("linked: PagerDuty service %s maps to no service, but the page's title %q names %s, which this incident holds (active at %s)",
		cmp.Or(pd.ServiceName, pd.ServiceID), pd.Title, what, ev.At.UTC().Format(time.RFC3339))}
}

// pageRelated places a new page on a mapped service that has no open
// incident of its own as an alert there would be placed: through the
// dependency graph, or with a dependent of what the service shares with
// an incident that began minutes before.
func (c *Correlator) pageRelated(ev *collector.Event) (*Incident, []string) {
	if ev.Service == "" || ev.Kind != kindPagerDutyPrefix+"incident.triggered" {
		return nil, nil
	}
	if inc, r := c.topologyJoin(ev.Service, nil, ev.At); inc != nil {
		return inc, r
	}
	if inc, r := c.siblingJoin(ev.Service, nil, ev.At); inc != nil {
		return inc, r
	}
	return c.changeBurstJoin(ev.Service, nil, ev.At)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Correlator) pdState(inc *Incident, pdID, reason string) *PagerDutyState {
	for _, p := range inc.PagerDuty {
		if p.IncidentID == pdID {
			return p
		}
	}
	p := &PagerDutyState{IncidentID: pdID, LinkReason: reason}
	inc.PagerDuty = append(inc.PagerDuty, p)
	return p
}

// openIncidentOf returns the newest live incident of service that has not
// resolved by t (the first by id of those that started together), or
// nil. It looks only at the incidents of the service (holding).
func (c *Correlator) openIncidentOf(service string, t time.Time) *Incident {
	if service == "" {
		return nil
	}
	var best *Incident
	for _, inc := range c.holding(service) {
		if !holds(inc, service) || c.resolved(inc, t) {
			continue
		}
		if t.Before(inc.StartedAt.Add(-c.s.window)) {
			continue
		}
		if best == nil || inc.StartedAt.After(best.StartedAt) || (inc.StartedAt.Equal(best.StartedAt) && inc.ID < best.ID) {
			best = inc
		}
	}
	return best
}

func (c *Correlator) newPagerDutyIncident(seq uint64, ev *collector.Event, name string) *Incident {
	key := "pagerduty=" + ev.Ref.PagerDutyIncidentID
	inc := c.newIncident(seq, ev, key, ev.Service, nil, ev.At)
	pd := pagerDutyOf(ev)
	anchor := cmp.Or(ev.Service, pd.ServiceName, "PagerDuty")
	c.setAnchor(inc, anchor)
	inc.Title = anchor + ": " + cmp.Or(pd.Title, name)
	return inc
}

// linkGroupKey records the Alertmanager group key of an alert so that a
// page raised for that group links exactly.
func (c *Correlator) linkGroupKey(inc *Incident, ev *collector.Event) {
	if ev.Alert == nil || ev.Alert.GroupKey == "" {
		return
	}
	h := GroupKeyHash(ev.Alert.GroupKey)
	if c.groupKeys[h] == inc.ID {
		return
	}
	c.groupKeys[h] = inc.ID
	if !slices.Contains(inc.GroupKeyHashes, h) {
		inc.GroupKeyHashes = append(inc.GroupKeyHashes, h)
	}
}

// PagerDutyFloor returns the severity floor a linked page's priority sets
// (pagerduty.priority_floor), with its reason, or "" when none applies.
func pagerDutyFloor(inc *Incident, floors map[string]string) (string, string) {
	best, why := "", ""
	for _, p := range inc.PagerDuty {
		if sev, ok := floors[p.Priority]; ok && (best == "" || sev < best) {
			best = sev
			why = fmt.Sprintf("PagerDuty priority %s of #%s sets at least %s (pagerduty.priority_floor)", p.Priority, cmp.Or(p.Number, p.IncidentID), sev)
		}
	}
	return best, why
}
