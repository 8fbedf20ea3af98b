package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate"
	"github.com/hindsight-ops/hindsight/correlate/store"
)

// benchEvents is the size of the store BenchmarkQueries1M queries.
const benchEvents = 1_000_000

// monthOfEvents calls add with n events, in batches, ending at end: a
// month of alert cycles (three instances of one alert of a service in a
// cluster fire and resolve 10-60 minutes later) over 200 services in 10
// clusters, with deploys (about 1 in 100 events) and PagerDuty pages
// (about 1 in 300). The last cycles are left firing.
func monthOfEvents(n int, end time.Time, add func([]collector.Event) error) error {
	rng := rand.New(rand.NewPCG(13, 13))
	cycles := n / 7
	span := 30 * 24 * time.Hour
	start := end.Add(-span)
	step := span / time.Duration(cycles)
	var batch []collector.Event
	flush := func() error {
		err := add(batch)
		batch = batch[:0]
		return err
	}
	type pending struct {
		at time.Time
		ev collector.Event
	}
	var later []pending // resolutions, by time
	emitted := 0
	for c := 0; emitted < n; c++ {
		at := start.Add(time.Duration(c) * step)
		for len(later) > 0 && !later[0].at.After(at) && emitted < n {
			batch = append(batch, later[0].ev)
			later = later[1:]
			emitted++
		}
		svc := fmt.Sprintf("svc-%d", rng.IntN(200))
		cluster := fmt.Sprintf("c-%d", rng.IntN(10))
		name := fmt.Sprintf("Alert%d", rng.IntN(20))
		dur := time.Duration(10+rng.IntN(50)) * time.Minute
		for i := range 3 {
			if emitted >= n {
				break
			}
			labels := map[string]string{"alertname": name, "service": svc, "cluster": cluster, "instance": fmt.Sprint(i), "severity": "critical"}
			ls := model.LabelSet{}
			for k, v := range labels {
				ls[model.LabelName(k)] = model.LabelValue(v)
			}
			fp := ls.Fingerprint().String()
			s := at
			fire := collector.Event{ID: collector.EventID("alertmanager", fp, at.Format(time.RFC3339Nano), "firing"),
				Source: collector.SourceAlertmanager, Kind: collector.KindAlertFiring, At: at, ReceivedAt: at, Service: svc,
				Labels: labels, Summary: name + " firing", Ref: collector.Ref{Fingerprint: fp, StartsAt: &s},
				Alert: &collector.Alert{Name: name, Status: "firing", Severity: "critical", StartsAt: at}}
			batch = append(batch, fire)
			emitted++
			if at.Add(dur).Before(end) {
				res := fire
				res.ID = collector.EventID("alertmanager", fp, at.Format(time.RFC3339Nano), "resolved")
				res.Kind, res.At, res.ReceivedAt, res.Summary = collector.KindAlertResolved, at.Add(dur), at.Add(dur), name+" resolved"
				res.Alert = &collector.Alert{Name: name, Status: "resolved", Severity: "critical", StartsAt: at, EndsAt: at.Add(dur)}
				i := slices.IndexFunc(later, func(p pending) bool { return p.at.After(res.At) })
				if i < 0 {
					i = len(later)
				}
				later = slices.Insert(later, i, pending{res.At, res})
			}
		}
		if c%14 == 0 && emitted < n {
			id := fmt.Sprintf("dep-%d", c)
			batch = append(batch, collector.Event{ID: collector.EventID("deploy", id, "succeeded"), Source: collector.SourceDeploy,
				Kind: "deploy.succeeded", At: at.Add(-time.Minute), ReceivedAt: at, Service: svc, Summary: svc + " deploy succeeded",
				Ref: collector.Ref{DeployID: id}})
			emitted++
		}
		if c%43 == 0 && emitted < n {
			id := fmt.Sprintf("PD%d", c)
			batch = append(batch, collector.Event{ID: collector.EventID("pagerduty", id, "triggered"), Source: collector.SourcePagerDuty,
				Kind: "pagerduty.incident.triggered", At: at.Add(time.Minute), ReceivedAt: at, Service: svc, Summary: "page " + id,
				Ref: collector.Ref{PagerDutyIncidentID: id}, PagerDuty: &collector.PagerDuty{IncidentNumber: fmt.Sprint(c), Title: name + " " + svc}})
			emitted++
		}
		if len(batch) >= 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// benchStore opens the store the benchmark queries: the directory in
// HINDSIGHT_BENCH_STORE if it holds one already (built by an earlier run,
// to save the fill), else a new one filled with benchEvents events and
// projected.
func benchStore(b *testing.B, end time.Time) *store.DB {
	dir := os.Getenv("HINDSIGHT_BENCH_STORE")
	if dir == "" {
		dir = b.TempDir()
	}
	db, err := store.Open(dir, store.Options{}, promslog.NewNopLogger(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cp, err := db.Checkpoint()
	if err != nil {
		b.Fatal(err)
	}
	if cp.Seq >= benchEvents {
		return db
	}
	start := time.Now()
	if err := monthOfEvents(benchEvents, end, func(evs []collector.Event) error {
		_, err := db.Append(ctx, evs...)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d events in %s", benchEvents, time.Since(start).Round(time.Second))
	start = time.Now()
	p, err := correlate.NewProjector(ctx, db, db, config.Default(), promslog.NewNopLogger(), prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.CatchUp(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("projected in %s", time.Since(start).Round(time.Second))
	return db
}

// BenchmarkQueries1M measures the query API over a store of a million
// events (a month): each listed query through the indexes, and the same
// query through a scan of the log or of every incident (the API before
// the indexes) as the baseline, in the same run. It reports the p50 and
// p99 of the calls (ms) and the size of the answer.
func BenchmarkQueries1M(b *testing.B) {
	end := time.Now().UTC().Truncate(time.Second)
	db := benchStore(b, end)
	defer db.Close()
	cfg := config.Default()
	mux := func(r correlate.Reader) http.Handler {
		m := http.NewServeMux()
		a := New(r, nil, nil, func() *config.Config { return cfg }, promslog.NewNopLogger())
		a.now = func() time.Time { return end }
		for p, h := range a.Routes() {
			m.Handle(p, h)
		}
		return m
	}
	indexed, scan := mux(db), mux(scanOnly{db})

	// An incident of a busy service, for the events of one incident.
	var incID string
	_ = db.ScanIncidents(context.Background(), "", func(inc *correlate.Incident, _ string) bool {
		if inc.Entries >= 6 {
			incID = inc.ID
			return false
		}
		return true
	})
	rfc := func(d time.Duration) string { return end.Add(-d).Format(time.RFC3339) }
	queries := []string{
		"/api/v1/events",
		"/api/v1/events?source=deploy",
		"/api/v1/events?source=pagerduty",
		"/api/v1/events?service=svc-17",
		"/api/v1/events?source=deploy&service=svc-17",
		"/api/v1/events?since=" + rfc(time.Hour),
		"/api/v1/events?since=" + rfc(15*24*time.Hour) + "&until=" + rfc(14*24*time.Hour),
		"/api/v1/events?incident=" + incID,
		"/api/v1/incidents",
		"/api/v1/incidents?status=open",
		"/api/v1/incidents?status=resolved",
		"/api/v1/incidents?service=svc-17",
		"/api/v1/incidents?status=open&service=svc-17",
		"/api/v1/incidents?severity=SEV2",
		"/api/v1/incidents?since=" + rfc(time.Hour),
		"/api/v1/incidents?until=" + rfc(14*24*time.Hour),
	}
	for _, q := range queries {
		for _, mode := range []struct {
			name string
			h    http.Handler
		}{{"indexed", indexed}, {"scan", scan}} {
			b.Run(fmt.Sprintf("%s/%s", mode.name, q), func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				items := 0
				for b.Loop() {
					rec := httptest.NewRecorder()
					t0 := time.Now()
					mode.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, q, nil))
					lat = append(lat, time.Since(t0))
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", q, rec.Code, rec.Body)
					}
					var page map[string]json.RawMessage
					_ = json.Unmarshal(rec.Body.Bytes(), &page)
					var list []json.RawMessage
					_ = json.Unmarshal(page["events"], &list)
					if len(list) == 0 {
						_ = json.Unmarshal(page["incidents"], &list)
					}
					items = len(list)
				}
				slices.Sort(lat)
				pct := func(p float64) float64 {
					return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
				}
				b.ReportMetric(pct(0.5), "p50_ms")
				b.ReportMetric(pct(0.99), "p99_ms")
				b.ReportMetric(float64(items), "items")
			})
		}
	}
}
