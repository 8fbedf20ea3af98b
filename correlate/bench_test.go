package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// benchEvents builds n alert events over services services and clusters
// clusters, a firing and later a resolution per alert, in time order.
func benchEvents(n, services, clusters int, start time.Time) []collector.Event {
	evs := make([]collector.Event, 0, n)
	for i := 0; len(evs) < n; i++ {
		svc := fmt.Sprintf("svc-%d", i%services)
		cl := fmt.Sprintf("c-%d", (i/services)%clusters)
		at := start.Add(time.Duration(i) * time.Second)
		evs = append(evs, firing(svc, fmt.Sprint(i), at, "cluster", cl))
		if i%3 == 0 && len(evs) < n {
			evs = append(evs, resolved(svc, fmt.Sprint(i), at, at.Add(90*time.Second), "cluster", cl))
		}
	}
	return evs
}

// BenchmarkApplyWith10kOpen measures the amortised cost of correlating one
// alert event while 10,000 incidents are open (the target is at
// most 5µs). Every open incident has an alert firing, so none can be
// forgotten; the measured events join them or open new ones.
func BenchmarkApplyWith10kOpen(b *testing.B) {
	cfg := config.Default()
	c := NewCorrelator(cfg, State{})
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	for i := range 10000 {
		seq++
		c.Apply(LoggedEvent{Seq: seq, Event: firing(fmt.Sprintf("open-%d", i), "x", t0.Add(time.Duration(i)*time.Second), "cluster", fmt.Sprintf("c-%d", i))})
	}
	c.Flush()
	if c.Live() < 10000 {
		b.Fatalf("%d live incidents", c.Live())
	}
	evs := benchEvents(200000, 2000, 20, t0.Add(3*time.Hour))
	b.ResetTimer()
	for i := range b.N {
		seq++
		c.Apply(LoggedEvent{Seq: seq, Event: evs[i%len(evs)]})
		if i%512 == 511 {
			c.Flush() // as the projector does per batch
		}
	}
	b.ReportMetric(float64(c.Live()), "live_incidents")
}

// BenchmarkReplay1M applies one million events to a fresh correlator, the
// in-memory part of a recorrelation (the target for the whole replay is
// 20s); the store's part is measured by the load tool's fill.
func BenchmarkReplay1M(b *testing.B) {
	cfg := config.Default()
	evs := benchEvents(1_000_000, 500, 10, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b.ResetTimer()
	for range b.N {
		c := NewCorrelator(cfg, State{})
		for i := range evs {
			c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: evs[i]})
			if i%512 == 511 {
				c.Flush()
			}
		}
	}
	b.ReportMetric(float64(len(evs)), "events/op")
}

// BenchmarkDeploysAndPagesWith10kOpen is BenchmarkApplyWith10kOpen with
// one event in a hundred a deploy step and one in fifty a page on a
// service, the events that used to walk every live incident: their
// placement now looks only at the incidents of the service and its
// neighbours.
func BenchmarkDeploysAndPagesWith10kOpen(b *testing.B) {
	cfg := config.Default()
	c := NewCorrelator(cfg, State{})
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	seq := uint64(0)
	for i := range 10000 {
		seq++
		c.Apply(LoggedEvent{Seq: seq, Event: firing(fmt.Sprintf("open-%d", i), "x", t0.Add(time.Duration(i)*time.Second), "cluster", fmt.Sprintf("c-%d", i))})
	}
	c.Flush()
	if c.Live() < 10000 {
		b.Fatalf("%d live incidents", c.Live())
	}
	evs := benchEvents(200000, 2000, 20, t0.Add(3*time.Hour))
	for i := range evs {
		svc := fmt.Sprintf("svc-%d", (i*7)%2000)
		switch {
		case i%100 == 5:
			evs[i] = collector.Event{ID: collector.EventID("deploy", fmt.Sprint("d-", i), "succeeded"), Source: collector.SourceDeploy,
				Kind: "deploy.succeeded", At: evs[i].At, Service: svc, Summary: "deploy", Ref: collector.Ref{DeployID: fmt.Sprint("d-", i)}}
		case i%50 == 3:
			evs[i] = collector.Event{ID: collector.EventID("pagerduty", fmt.Sprint("P", i), "triggered"), Source: collector.SourcePagerDuty,
				Kind: "pagerduty.incident.triggered", At: evs[i].At, Service: svc, Summary: "page",
				Ref: collector.Ref{PagerDutyIncidentID: fmt.Sprint("P", i)}, PagerDuty: &collector.PagerDuty{Title: "page"}}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		seq++
		c.Apply(LoggedEvent{Seq: seq, Event: evs[i%len(evs)]})
		if i%512 == 511 {
			c.Flush()
		}
	}
	b.ReportMetric(float64(c.Live()), "live_incidents")
}
