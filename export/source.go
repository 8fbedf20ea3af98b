package export

import (
	"context"
	"time"

	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/impact"
)

// Measurer runs impact queries over an incident's window (the Prometheus
// querier in correlate/impact); what cannot be measured comes back as
// text for the draft.
type Measurer interface {
	Measure(ctx context.Context, key string, services []string, start, end time.Time) ([]correlate.ImpactMetric, []string)
}

// Source reads what a draft is made of, the same way for the API (a draft
// on request) and the exporter (a draft sent to the sinks): the incident's
// view with its timeline, the impact numbers, and the earlier incidents
// that look like it with their open action items.
type Source struct {
	Reader correlate.Reader
	// Impact measures the impact queries; nil leaves the numbers out.
	Impact Measurer
	// Config is called for each read, so a reload applies at once.
	Config func() *config.Config
}

// View reads incident id with its timeline and impact numbers, as at now;
// with related it also finds the earlier incidents that look like it.
func (s *Source) View(ctx context.Context, id string, now time.Time, related bool) (*correlate.Incident, *correlate.View, error) {
	inc, err := s.Reader.Incident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	tl, err := s.Reader.Timeline(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if tl == nil {
		tl = correlate.Timeline{}
	}
	v := correlate.NewView(inc, tl, s.Config(), now)
	if s.Impact != nil {
		end := now
		if v.ResolvedAt != nil {
			end = *v.ResolvedAt
		}
		metrics, errs := s.Impact.Measure(ctx, inc.ID, v.Services, v.StartedAt, end)
		if len(metrics) > 0 {
			v.Impact.Metrics = metrics
			v.Impact.Summary = impact.Summary(v.Impact.Summary, metrics)
		}
		v.Impact.Errors = errs
	}
	if related {
		if v.Related, err = correlate.FindRelated(ctx, s.Reader, inc, correlate.RelatedLimit); err != nil {
			return nil, nil, err
		}
	}
	return inc, v, nil
}
