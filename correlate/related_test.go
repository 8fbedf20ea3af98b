package correlate

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memIndex is a RelatedReader over incidents in memory. It ignores the
// "before" bound on purpose: FindRelated must not list a later incident
// whatever its index answers.
type memIndex map[string]*Incident

func (m memIndex) Incident(_ context.Context, id string) (*Incident, error) {
	if inc, ok := m[id]; ok {
		return inc, nil
	}
	return nil, fmt.Errorf("incident %q: %w", id, ErrNotFound)
}

func (m memIndex) IncidentsBySignature(_ context.Context, sig Signature, _ time.Time, limit int) ([]string, error) {
	var ids []string
	for id, inc := range m {
		for _, s := range Signatures(inc) {
			if s == sig && len(ids) < limit {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// pastIncident builds a stored incident with alerts given as
// "service/alertname" and suspected deploys.
func pastIncident(id string, started time.Time, alerts []string, deploys ...string) *Incident {
	inc := &Incident{ID: id, Title: id, StartedAt: started, Alerts: map[string]*AlertState{}}
	for i, a := range alerts {
		svc, name, _ := strings.Cut(a, "/")
		fp := fmt.Sprintf("%s-%d", id, i)
		inc.Alerts[fp] = &AlertState{Fingerprint: fp, Service: svc, Name: name, FirstStart: started}
	}
	for _, d := range deploys {
		inc.Suspects = append(inc.Suspects, SuspectedCause{DeployID: d, Score: 0.5})
	}
	return inc
}

func TestFindRelated(t *testing.T) {
	day := 24 * time.Hour
	first := pastIncident("inc-first", t0, []string{"checkout/HighErrorRate", "checkout/HighLatency"}, "d-4711")
	first.Overrides.Title = "checkout errors after the v2.3.1 deploy"
	unrelated := pastIncident("inc-unrelated", t0.Add(time.Hour), []string{"search/IndexStale"})
	sameDeploy := pastIncident("inc-deploy", t0.Add(2*time.Hour), []string{"payments/Timeouts"}, "d-4711")
	merged := pastIncident("inc-merged", t0.Add(3*time.Hour), []string{"checkout/HighErrorRate", "checkout/HighLatency"})
	merged.MergedInto = "inc-first"
	// One alert in common with a storm of many: not alike.
	storm := pastIncident("inc-storm", t0.Add(4*time.Hour), []string{
		"checkout/HighErrorRate", "a/X", "b/X", "c/X", "d/X", "e/X", "f/X", "g/X", "h/X",
	})
	second := pastIncident("inc-second", t0.Add(day), []string{"checkout/HighErrorRate", "checkout/HighLatency"})
	later := pastIncident("inc-later", t0.Add(2*day), []string{"checkout/HighErrorRate", "checkout/HighLatency"}, "d-4711")
	idx := memIndex{}
	for _, inc := range []*Incident{first, unrelated, sameDeploy, merged, storm, second, later} {
		idx[inc.ID] = inc
	}

	got, err := FindRelated(t.Context(), idx, second, RelatedLimit)
	require.NoError(t, err)
	require.Equal(t, []RelatedIncident{{
		ID: "inc-first", Title: "checkout errors after the v2.3.1 deploy", StartedAt: t0, Score: 0.67,
		Reasons:       []string{"same alerts: HighErrorRate on checkout, HighLatency on checkout; 2 of the 2 alerts seen in either incident"},
		PostmortemURL: "/api/v1/incidents/inc-first/postmortem", PostmortemStatus: PostmortemDraft,
	}}, got, "the same alerts earlier; never the unrelated, merged, storm or later incidents")

	got, err = FindRelated(t.Context(), idx, later, RelatedLimit)
	require.NoError(t, err)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	require.Equal(t, []string{"inc-first", "inc-second", "inc-deploy"}, ids, "best first: alerts and deploy, alerts, deploy")
	require.Equal(t, []string{
		"same alerts: HighErrorRate on checkout, HighLatency on checkout; 2 of the 2 alerts seen in either incident",
		"same suspected change: deploy d-4711",
	}, got[0].Reasons)
	require.Equal(t, 1.0, got[0].Score)
	require.Equal(t, 0.67, got[1].Score)
	require.Equal(t, []string{"same suspected change: deploy d-4711"}, got[2].Reasons)
	require.Equal(t, 0.33, got[2].Score)

	got, err = FindRelated(t.Context(), idx, first, RelatedLimit)
	require.NoError(t, err)
	require.Empty(t, got, "a later incident is never related to an earlier one")

	got, err = FindRelated(t.Context(), idx, later, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
}
