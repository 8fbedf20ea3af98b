package correlate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Signature is one thing two incidents can have in common that makes them
// look like the same problem again: an alert on a service, or a suspected
// deploy. The store indexes incidents by their signatures so that related
// incidents are found without scanning every incident.
type Signature struct {
	Service  string `json:"service,omitempty"`
	Alert    string `json:"alert,omitempty"`
	DeployID string `json:"deploy_id,omitempty"`
}

// Key names the signature as a stable string, for an index key.
func (s Signature) Key() string {
	if s.DeployID != "" {
		return "deploy\x00" + s.DeployID
	}
	return "alert\x00" + s.Service + "\x00" + s.Alert
}

// String is the signature as a person reads it in a reason.
func (s Signature) String() string {
	switch {
	case s.DeployID != "":
		return "deploy " + s.DeployID
	case s.Service == "":
		return s.Alert
	}
	return s.Alert + " on " + s.Service
}

// Signatures returns the signatures of inc, sorted and distinct: each
// (service, alert name) pair of its alerts, then each suspected deploy. A
// merged incident has none: its alerts and entries live on elsewhere.
func Signatures(inc *Incident) []Signature {
	if inc == nil || inc.MergedInto != "" {
		return nil
	}
	seen := map[Signature]bool{}
	var pairs, deploys []Signature
	for _, a := range inc.Alerts {
		s := Signature{Service: a.Service, Alert: a.Name}
		if a.Name != "" && !seen[s] {
			seen[s] = true
			pairs = append(pairs, s)
		}
	}
	for _, c := range inc.Suspects {
		s := Signature{DeployID: c.DeployID}
		if c.DeployID != "" && !seen[s] {
			seen[s] = true
			deploys = append(deploys, s)
		}
	}
	byKey := func(a, b Signature) int { return strings.Compare(a.Key(), b.Key()) }
	slices.SortFunc(pairs, byKey)
	slices.SortFunc(deploys, byKey)
	return append(pairs, deploys...)
}

// SignatureIndex finds incidents by their signatures; the store keeps the
// index in step with the projection.
type SignatureIndex interface {
	// IncidentsBySignature returns the ids of incidents with sig that
	// started before before, newest first, at most limit.
	IncidentsBySignature(ctx context.Context, sig Signature, before time.Time, limit int) ([]string, error)
}

// RelatedReader is what FindRelated reads: the index and the incidents.
type RelatedReader interface {
	Incident(ctx context.Context, id string) (*Incident, error)
	SignatureIndex
}

// RelatedIncident is an earlier incident that looks like this one, with
// the reasons a person can check and where its post-mortem is, so that
// its lessons and open action items are not forgotten.
type RelatedIncident struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	StartedAt time.Time `json:"started_at"`
	// Score, from 0 to 1, is two thirds the share of (service, alert)
	// pairs the two incidents have in common (of all pairs of either) and
	// one third a suspected deploy in common.
	Score         float64  `json:"score"`
	Reasons       []string `json:"reasons"`
	PostmortemURL string   `json:"postmortem_url"`
	// PostmortemStatus is draft, in_review or published; OpenActionItems
	// are its follow-ups not done yet, which a repeat of the problem puts
	// in question.
	PostmortemStatus string       `json:"postmortem_status"`
	OpenActionItems  []ActionItem `json:"open_action_items,omitempty"`
}

// PostmortemPath is the API path of an incident's post-mortem draft.
func PostmortemPath(id string) string { return "/api/v1/incidents/" + id + "/postmortem" }

// Bounds of FindRelated, so that a storm incident with hundreds of alerts
// or an alert that fires every week costs a bounded number of reads.
const (
	// RelatedLimit is how many related incidents the API shows.
	RelatedLimit = 5
	// minRelatedScore is the least share of alerts in common that makes
	// an incident related without a suspected deploy in common: one alert
	// of an incident with four is, one of a storm with fifty is not.
	minRelatedScore      = 0.25
	alertsWeight         = 2.0 / 3
	deployWeight         = 1.0 / 3
	maxRelatedSignatures = 64
	relatedPerSignature  = 50
	relatedCandidates    = 20
	maxListedAlerts      = 5
)

// FindRelated returns at most limit incidents that started before inc and
// share its alerts on the same services, or one of its suspected deploys,
// best first (by score, then the most recent). Merged incidents and inc
// itself are never listed; nor is an incident that started at or after
// inc, whatever the index says.
func FindRelated(ctx context.Context, r RelatedReader, inc *Incident, limit int) ([]RelatedIncident, error) {
	sigs := Signatures(inc)
	if len(sigs) == 0 || limit <= 0 {
		return []RelatedIncident{}, nil
	}
	asked := sigs
	if len(asked) > maxRelatedSignatures {
		// Suspected deploys come last, are few and are telling: keep them.
		d := slices.IndexFunc(asked, func(s Signature) bool { return s.DeployID != "" })
		if d < 0 {
			d = len(asked)
		}
		pairs := asked[:min(d, max(maxRelatedSignatures-(len(asked)-d), 0))]
		asked = append(slices.Clip(pairs), asked[d:]...)
	}
	hits := map[string]int{}
	var order []string
	for _, s := range asked {
		ids, err := r.IncidentsBySignature(ctx, s, inc.StartedAt, relatedPerSignature)
		if err != nil {
			return nil, fmt.Errorf("related incidents of %s by %s: %w", inc.ID, s, err)
		}
		for _, id := range ids {
			if id == inc.ID {
				continue
			}
			if hits[id] == 0 {
				order = append(order, id)
			}
			hits[id]++
		}
	}
	// Most signatures in common first; the index gives newest first.
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(hits[b], hits[a]) })
	if len(order) > relatedCandidates {
		order = order[:relatedCandidates]
	}
	out := []RelatedIncident{}
	for _, id := range order {
		c, err := r.Incident(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // dropped since it was indexed
		}
		if err != nil {
			return nil, fmt.Errorf("related incident %s of %s: %w", id, inc.ID, err)
		}
		if c.MergedInto != "" || !c.StartedAt.Before(inc.StartedAt) {
			continue
		}
		if ri, ok := relate(sigs, c); ok {
			out = append(out, ri)
		}
	}
	slices.SortFunc(out, func(a, b RelatedIncident) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), b.StartedAt.Compare(a.StartedAt), strings.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// relate scores the earlier incident c against the incident whose
// signatures are sigs, and says why they look alike.
func relate(sigs []Signature, c *Incident) (RelatedIncident, bool) {
	mine := map[Signature]bool{}
	for _, s := range sigs {
		mine[s] = true
	}
	var shared, deploys []Signature
	union := 0
	for s := range mine {
		if s.DeployID == "" {
			union++
		}
	}
	for _, s := range Signatures(c) {
		switch {
		case mine[s] && s.DeployID != "":
			deploys = append(deploys, s)
		case mine[s]:
			shared = append(shared, s)
		case s.DeployID == "":
			union++
		}
	}
	share := 0.0
	if union > 0 {
		share = float64(len(shared)) / float64(union)
	}
	if share < minRelatedScore && len(deploys) == 0 {
		return RelatedIncident{}, false
	}
	var reasons []string
	if len(shared) > 0 {
		names := make([]string, 0, maxListedAlerts+1)
		for i, s := range shared {
			if i == maxListedAlerts {
				names = append(names, fmt.Sprintf("and %d more", len(shared)-i))
				break
			}
			names = append(names, s.String())
		}
		reasons = append(reasons, fmt.Sprintf("same alerts: %s; %d of the %d alerts seen in either incident",
			strings.Join(names, ", "), len(shared), union))
	}
	for _, d := range deploys {
		reasons = append(reasons, "same suspected change: "+d.String())
	}
	score := alertsWeight * share
	if len(deploys) > 0 {
		score += deployWeight
	}
	status := PostmortemDraft
	if c.Postmortem != nil {
		status = c.Postmortem.Status
	}
	var open []ActionItem
	for _, a := range c.ActionItems {
		if a.Status != ActionDone {
			open = append(open, a)
		}
	}
	return RelatedIncident{
		ID:               c.ID,
		Title:            cmp.Or(c.Overrides.Title, title(c)),
		StartedAt:        c.StartedAt.UTC(),
		Score:            math.Round(score*100) / 100,
		Reasons:          reasons,
		PostmortemURL:    PostmortemPath(c.ID),
		PostmortemStatus: status,
		OpenActionItems:  open,
	}, true
}
