package correlate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// relationsConfig: a tenant platform three products depend on, a DNS
// server and a cloud network, as in the public post-mortems the
// development set follows.
func relationsConfig() *config.Config {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"jira":            {CustomerFacing: true, Tier: 1, DependsOn: []string{"tenant-platform"}},
		"confluence":      {CustomerFacing: true, Tier: 1, DependsOn: []string{"tenant-platform"}},
		"opsgenie":        {CustomerFacing: true, Tier: 1, DependsOn: []string{"tenant-platform"}},
		"tenant-platform": {Tier: 1},
		"dns":             {Tier: 1},
		"web":             {CustomerFacing: true, Tier: 1, DependsOn: []string{"dns", "backend"}},
		"backend":         {CustomerFacing: true, Tier: 1, DependsOn: []string{"network"}},
		"network":         {Tier: 1},
	}
	return cfg
}

func pageOn(service, pdID string, at time.Time) collector.Event {
	ev := pdEv(pdID, "triggered", at, collector.PagerDuty{Title: service + " is down"})
	ev.Service = service
	return ev
}

func TestGroupLabelsOnlyDifferWhenBothHaveThem(t *testing.T) {
	cfg := relationsConfig()
	min := time.Minute
	// CoreDNS alerts carry cluster=global; the blackbox probes of web
	// carry no cluster at all. A missing label is not another cluster.
	incs, entries := project(t, cfg,
		firing("dns", "coredns", m(0), "cluster", "global"),
		firing("web", "https://web-01/healthz", m(1*min)),
		firing("web", "https://web-02/healthz", m(2*min), "cluster", "global"),
		firing("web", "https://web-03/healthz", m(3*min), "cluster", "eu-1"))
	require.Equal(t, map[string][]string{"dns": {"dns", "web"}, "web": {"web"}}, anchors(incs))
	require.Contains(t, entries[1].Reasons[0], "web depends on dns, the incident's anchor")
	require.Contains(t, entries[2].Reasons[0], "joined: the same service web")
	require.True(t, strings.HasPrefix(entries[3].Reasons[0], "opened:"), "cluster eu-1 contradicts the incident's cluster=global: %s", entries[3].Reasons[0])

	// Labels an unlabelled incident gains keep it to one cluster.
	incs, _ = project(t, cfg,
		firing("web", "a", m(0)),
		firing("web", "b", m(1*min), "cluster", "eu-1"),
		firing("web", "c", m(2*min), "cluster", "us-1"))
	require.Len(t, incs, 2)
}

func TestPageOpenIncidentTakesItsServiceWhileOpen(t *testing.T) {
	cfg := relationsConfig()
	min := time.Minute
	// Customers report Jira sites gone; the synthetic probes catch up 14
	// minutes later, while the page is still open.
	incs, entries := project(t, cfg,
		pageOn("jira", "Q1", m(0)),
		firing("jira", "probe-1", m(14*min)))
	require.Len(t, incs, 1)
	require.Contains(t, entries[1].Reasons[0], "a page on jira opened this incident 14m before this alert fired, and it is still open")

	// Once the page is resolved and resolve_after has passed, it does not.
	resolvedPage := pdEv("Q1", "resolved", m(5*min), collector.PagerDuty{})
	resolvedPage.Service = "jira"
	incs, _ = project(t, cfg, pageOn("jira", "Q1", m(0)), resolvedPage, firing("jira", "probe-1", m(40*min)))
	require.Len(t, incs, 2)
}

func TestSharedDependencyThatJustChanged(t *testing.T) {
	cfg := relationsConfig()
	min := time.Minute
	change := deployEv("chg-cleanup", "tenant-platform", "succeeded", m(-16*min))
	// Two products that share only the tenant platform, paged three
	// minutes apart after a maintenance script ran on it: one incident,
	// anchored on what they share; the third product joins while both
	// still fail.
	incs, entries := project(t, cfg,
		change,
		pageOn("jira", "Q1", m(0)),
		pageOn("confluence", "Q2", m(3*min)),
		firing("opsgenie", "heartbeat", m(14*min)))
	require.Equal(t, map[string][]string{"tenant-platform": {"confluence", "jira", "opsgenie"}}, anchors(incs))
	require.Contains(t, entries[2].Reasons[0], "all depend on tenant-platform, which has not alerted but changed 16m before the incident's first event (deploy chg-cleanup succeeded)")
	require.Contains(t, entries[3].Reasons[0], "opsgenie depends on tenant-platform, the incident's anchor, whose dependents confluence, jira has been firing")

	// Without the change two dependents of one service failing minutes
	// apart are as often two faults: they stay apart.
	incs, _ = project(t, cfg,
		pageOn("jira", "Q1", m(0)),
		pageOn("confluence", "Q2", m(3*min)))
	require.Len(t, incs, 2)

	// Past correlation.storm_window the change is no longer enough.
	incs, _ = project(t, cfg, change,
		pageOn("jira", "Q1", m(0)),
		pageOn("confluence", "Q2", m(6*min)))
	require.Len(t, incs, 2)
}

func TestDependencyOfAFailingService(t *testing.T) {
	cfg := relationsConfig()
	min := time.Minute
	// An external monitor pages on web; 15 minutes later its backend's
	// servers go down. The backend does not explain dns-backed web alone,
	// so the incident keeps its anchor, but it is one incident.
	incs, entries := project(t, cfg,
		pageOn("web", "Q1", m(0)),
		firing("backend", "haproxy-1", m(15*min)))
	require.Equal(t, map[string][]string{"backend": {"backend", "web"}}, anchors(incs), "backend explains web's page: re-anchored")
	require.Contains(t, entries[1].Reasons[0], "every service of the incident depends on backend, and the anchor web still fails (page #4711")

	// After the page is resolved, the backend is its own incident.
	res := pdEv("Q1", "resolved", m(5*min), collector.PagerDuty{})
	res.Service = "web"
	incs, _ = project(t, cfg, pageOn("web", "Q1", m(0)), res, firing("backend", "haproxy-1", m(25*min)))
	require.Len(t, incs, 2)
}

func TestSameMachine(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"api-gateway": {CustomerFacing: true, Tier: 1},
		"mobile-api":  {CustomerFacing: true, Tier: 1, DependsOn: []string{"api-gateway"}},
	}
	day := 24 * time.Hour
	t.Run("an early warning that fired for days and the failure it announced are one incident", func(t *testing.T) {
		warn := alert("api-gateway", "CertificateWillExpireSoon", "https://api.example.com:443", "firing", m(-3*day), time.Time{}, "severity", "warning")
		warnEnd := alert("api-gateway", "CertificateWillExpireSoon", "https://api.example.com:443", "resolved", m(-3*day), m(0), "severity", "warning")
		expired := alert("api-gateway", "CertificateExpired", "https://api.example.com:443", "firing", m(30*time.Second), time.Time{})
		probe := alert("api-gateway", "ProbeFailed", "https://api.example.com/healthz", "firing", m(40*time.Second), time.Time{})
		dependent := firing("mobile-api", "m-1", m(time.Minute))
		incs, entries := project(t, cfg, warn, warnEnd, expired, probe, dependent)
		require.Len(t, incs, 1)
		require.Contains(t, entries[2].Reasons[0], "joined: the same host api.example.com (instance) as CertificateWillExpireSoon on api-gateway in this incident, which resolved 30s before")
		require.Contains(t, entries[2].Reasons[1], "past correlation.max_span 12h: what it warned about now fails")
		require.Contains(t, entries[4].Reasons[0], "mobile-api depends on api-gateway", "the span counts from the failure, so its dependents join")
	})
	t.Run("another service's alert on the same instance host is not enough, the same node is", func(t *testing.T) {
		incs, _ := project(t, cfg,
			firing("api-gateway", "10.0.0.7:8080", m(0)),
			firing("billing", "10.0.0.7:9100", m(time.Minute)))
		require.Len(t, incs, 2, "exporters and sidecars share hosts with unrelated services")
		incs, entries := project(t, cfg,
			firing("api-gateway", "a", m(0), "node", "ip-10-0-0-7"),
			firing("billing", "b", m(time.Minute), "node", "ip-10-0-0-7"))
		require.Len(t, incs, 1)
		require.Contains(t, entries[1].Reasons[0], "joined: the same node=ip-10-0-0-7 as HighErrorRate on api-gateway in this incident, which has been firing since")
	})
}

func TestDependencyAlertingLateAbsorbsItsDependentsIncidents(t *testing.T) {
	cfg := relationsConfig()
	cfg.Services["edge"] = config.Service{CustomerFacing: true, Tier: 1, DependsOn: []string{"auth"}}
	cfg.Services["ui"] = config.Service{CustomerFacing: true, Tier: 1, DependsOn: []string{"edge"}}
	cfg.Services["auth"] = config.Service{CustomerFacing: true, Tier: 1}
	min := time.Minute
	// auth fails; ui's probe (ui -> edge -> auth) is delivered before
	// edge's alert, so it opened its own incident; edge joins auth's and
	// takes ui's with it.
	incs, _ := project(t, cfg,
		firing("auth", "a", m(0)),
		firing("ui", "probe", m(2*min)),
		firing("edge", "e", m(2*min)))
	require.Len(t, live(incs), 1)
	// A dependent's incident that began before the failure did is its own.
	incs, _ = project(t, cfg,
		firing("ui", "probe", m(0)),
		firing("auth", "a", m(5*min)),
		firing("edge", "e", m(6*min)))
	require.Len(t, live(incs), 2)
}

func live(incs map[string]*Incident) []*Incident {
	var out []*Incident
	for _, inc := range incs {
		if inc.MergedInto == "" {
			out = append(out, inc)
		}
	}
	return out
}

// TestRelationRulesAreDeterministic: the same log, in batches of any
// size, gives byte-identical incidents and timelines, with every rule of
// this file at work (the indexes they read are maps).
func TestRelationRulesAreDeterministic(t *testing.T) {
	cfg := relationsConfig()
	cfg.Services["edge"] = config.Service{CustomerFacing: true, Tier: 1, DependsOn: []string{"web"}}
	min := time.Minute
	var evs []collector.Event
	evs = append(evs,
		deployEv("chg-1", "tenant-platform", "succeeded", m(-10*min)),
		pageOn("jira", "Q1", m(0)),
		pageOn("confluence", "Q2", m(2*min)),
		firing("opsgenie", "o", m(3*min)),
		firing("dns", "coredns", m(4*min), "cluster", "global"),
		firing("web", "w1", m(5*min)),
		firing("edge", "e1", m(5*min)),
		firing("backend", "b1", m(6*min), "node", "n-1"),
		firing("network", "x", m(6*min), "node", "n-1"))
	for i := range 8 {
		evs = append(evs, firing(fmt.Sprintf("svc-%d", i), "s", m(20*min+time.Duration(i)*20*time.Second), "cluster", "eu"))
	}
	evs = append(evs, resolved("web", "w1", m(5*min), m(30*min)), firing("web", "w1", m(35*min)))
	dump := func(p *memoryProjection) string {
		var out []any
		for _, inc := range p.Incidents() {
			out = append(out, inc, inc.Alerts, p.StoredTimeline(inc.ID))
		}
		b, err := json.Marshal(out)
		require.NoError(t, err)
		return string(b)
	}
	first := dump(replay(t, cfg, 1, evs...))
	for _, batch := range []int{1, 3, 7, 100} {
		require.Equal(t, first, dump(replay(t, cfg, batch, evs...)), "batch %d", batch)
	}
}

// TestLateNeighbourWithItsOwnFault: past correlation.window the
// dependency graph no longer draws a service into a neighbour's incident
// when a lone warning is all the neighbour shows, or when the service was
// released after that incident began (its own change explains it
// better); a dependency whose dependents fail in earnest still does.
func TestLateNeighbourWithItsOwnFault(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"cart":     {CustomerFacing: true, Tier: 1, DependsOn: []string{"redis"}},
		"checkout": {CustomerFacing: true, Tier: 1, DependsOn: []string{"cart"}},
		"redis":    {Tier: 1},
	}
	min := time.Minute
	incidentOf := func(incs map[string]*Incident, svc string) string {
		t.Helper()
		return onlyIncident(t, incs, svc).ID
	}

	// A memory warning on redis for half an hour, then cart fails.
	incs, _ := project(t, cfg, warning("redis", "MemoryPressure", "r-0", m(0)), firing("cart", "c-0", m(30*min)))
	require.NotEqual(t, incidentOf(incs, "redis"), incidentOf(incs, "cart"), "a lone warning on redis does not explain cart failing 30 minutes later")

	// cart fails; checkout is released 35 minutes in and fails 5 minutes later.
	incs, _ = project(t, cfg, firing("cart", "c-0", m(0)),
		deployEv("checkout-42", "checkout", "started", m(35*min)), deployEv("checkout-42", "checkout", "succeeded", m(36*min)),
		firing("checkout", "k-0", m(40*min)))
	require.NotEqual(t, incidentOf(incs, "cart"), incidentOf(incs, "checkout"), "checkout's own release explains its late failure")

	// The same without the release: checkout joins cart's incident, which
	// still fails.
	incs, _ = project(t, cfg, firing("cart", "c-0", m(0)), firing("checkout", "k-0", m(40*min)))
	require.Equal(t, incidentOf(incs, "cart"), incidentOf(incs, "checkout"))

	// A warning on redis with cart failing in earnest: checkout, late,
	// still joins through cart.
	incs, _ = project(t, cfg, warning("redis", "MemoryPressure", "r-0", m(0)), firing("cart", "c-0", m(2*min)), firing("checkout", "k-0", m(30*min)))
	require.Equal(t, incidentOf(incs, "redis"), incidentOf(incs, "checkout"))
}
