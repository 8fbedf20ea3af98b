package correlate

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

func topologyConfig() *config.Config {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{
		"checkout": {CustomerFacing: true, Tier: 1, DependsOn: []string{"postgres"}},
		"orders":   {DependsOn: []string{"postgres"}},
		"search":   {DependsOn: []string{"postgres"}},
		"cart":     {DependsOn: []string{"postgres"}},
		"billing":  {DependsOn: []string{"postgres"}},
		"postgres": {Tier: 1},
		// a chain: web -> api -> db2
		"web": {DependsOn: []string{"api"}},
		"api": {DependsOn: []string{"db2"}},
		"db2": {},
	}
	return cfg
}

func anchors(incs map[string]*Incident) map[string][]string {
	out := map[string][]string{}
	for _, inc := range incs {
		out[inc.Anchor] = inc.Services
	}
	return out
}

func TestTopology(t *testing.T) {
	cfg := topologyConfig()
	min := time.Minute
	dependents := []string{"checkout", "orders", "search", "cart", "billing"}
	cases := []struct {
		name   string
		events []collector.Event
		want   map[string][]string // anchor -> services
	}{
		{
			name: "a database outage that makes five services alert is one incident anchored on the database",
			events: func() []collector.Event {
				evs := []collector.Event{firing("postgres", "pg-0", m(0))}
				for i, s := range dependents {
					evs = append(evs, firing(s, "a", m(time.Duration(i+1)*min)))
				}
				return evs
			}(),
			want: map[string][]string{"postgres": {"billing", "cart", "checkout", "orders", "postgres", "search"}},
		},
		{
			name: "dependents alerting before the database re-anchor the incident on it",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				firing("postgres", "pg-0", m(2*min)),
				firing("orders", "a", m(3*min)),
				firing("search", "a", m(4*min)),
			},
			want: map[string][]string{"postgres": {"checkout", "orders", "postgres", "search"}},
		},
		{
			name: "a failure spreads through dependents: web depends on api, which depends on db2 and fails with it",
			events: []collector.Event{
				firing("db2", "a", m(0)),
				firing("api", "a", m(1*min)),
				firing("web", "a", m(2*min)),
			},
			want: map[string][]string{"db2": {"api", "db2", "web"}},
		},
		{
			name: "a path runs only through services of the incident: web does not join db2 while api is fine",
			events: []collector.Event{
				firing("db2", "a", m(0)),
				firing("web", "a", m(2*min)),
			},
			want: map[string][]string{"db2": {"db2"}, "web": {"web"}},
		},
		{
			name: "two unrelated problems at the same time stay two incidents",
			events: []collector.Event{
				firing("postgres", "a", m(0)),
				firing("db2", "a", m(1*min)),
				firing("checkout", "a", m(2*min)),
				firing("api", "a", m(3*min)),
			},
			want: map[string][]string{"postgres": {"checkout", "postgres"}, "db2": {"api", "db2"}},
		},
		{
			name: "a dependent alerting long after the database incident started joins while the database still fails (slow burn)",
			events: []collector.Event{
				firing("postgres", "a", m(0)),
				firing("checkout", "a", m(45*min)),
			},
			want: map[string][]string{"postgres": {"checkout", "postgres"}},
		},
		{
			name: "a dependent alerting past the window after the database stopped failing is not joined",
			events: []collector.Event{
				firing("postgres", "a", m(0)),
				resolved("postgres", "a", m(0), m(40*min)),
				firing("checkout", "a", m(43*min)), // the incident waits resolve_after, but postgres no longer fires
			},
			want: map[string][]string{"postgres": {"postgres"}, "checkout": {"checkout"}},
		},
		{
			name: "a dependency alerting past the window while its dependent still fails re-anchors the incident on it (a for: duration)",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				firing("postgres", "a", m(15*min)),
			},
			want: map[string][]string{"postgres": {"checkout", "postgres"}},
		},
		{
			name: "a dependency starting to fail past correlation.dependency_lag, while its dependent has failed for long, is its own incident",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				firing("postgres", "a", m(45*min)),
			},
			want: map[string][]string{"postgres": {"postgres"}, "checkout": {"checkout"}},
		},
		{
			name: "a dependency alerting past the window after its dependent recovered is its own incident",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				resolved("checkout", "a", m(0), m(20*min)),
				firing("postgres", "a", m(45*min)),
			},
			want: map[string][]string{"postgres": {"postgres"}, "checkout": {"checkout"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			incs, entries := project(t, cfg, tc.events...)
			require.Equal(t, tc.want, anchors(incs))
			for _, e := range entries {
				require.NotEmpty(t, e.Reasons)
			}
		})
	}
}

func TestTopologyReasonAndRestore(t *testing.T) {
	cfg := topologyConfig()
	evs := []collector.Event{
		firing("checkout", "a", m(0)),
		firing("postgres", "pg-0", m(2*time.Minute)),
		firing("orders", "a", m(3*time.Minute)),
		firing("orders", "b", m(4*time.Minute)),
	}
	_, entries := project(t, cfg, evs...)
	require.True(t, strings.HasPrefix(entries[1].Reasons[0], "joined through the dependency graph: checkout, the incident's anchor, depends on postgres"), entries[1].Reasons[0])
	require.Contains(t, entries[1].Reasons[1], "re-anchored on postgres")
	require.Contains(t, entries[2].Reasons[0], "orders depends on postgres, the incident's anchor")
	require.Contains(t, entries[3].Reasons[0], "joined: the same service orders")
}

func TestEngineFixes(t *testing.T) {
	cfg := topologyConfig()
	min := time.Minute
	t.Run("topology joins respect group_by", func(t *testing.T) {
		incs, _ := project(t, cfg,
			firing("postgres", "a", m(0), "cluster", "eu-1"),
			firing("checkout", "a", m(1*min), "cluster", "us-1"))
		require.Len(t, incs, 2)
	})
	t.Run("joining upstream needs the new anchor to explain every member", func(t *testing.T) {
		incs, _ := project(t, cfg,
			firing("web", "a", m(0)), // web -> api -> db2
			firing("api", "a", m(1*min)),
			firing("db2", "a", m(2*min)))
		require.Equal(t, map[string][]string{"db2": {"api", "db2", "web"}}, anchors(incs), "web reaches db2 through api")
		incs, _ = project(t, cfg,
			firing("web", "a", m(0)),
			firing("checkout", "a", m(1*min)),
			firing("api", "a", m(1*min)),
			firing("postgres", "a", m(2*min)))
		require.Equal(t, map[string][]string{"api": {"api", "web"}, "postgres": {"checkout", "postgres"}}, anchors(incs),
			"postgres explains checkout, not web and api")
	})
	t.Run("a firing delivered after its own resolution stays resolved", func(t *testing.T) {
		incs, entries := project(t, cfg,
			resolved("checkout", "a", m(0), m(6*min)),
			firing("checkout", "a", m(0)))
		require.Len(t, incs, 1)
		for _, inc := range incs {
			require.Equal(t, 0, inc.Firing())
		}
		require.Contains(t, entries[1].Reasons[0], "late delivery")
	})
	t.Run("a resolution of a new firing is placed by its own start", func(t *testing.T) {
		incs, _ := project(t, cfg,
			firing("checkout", "a", m(0)),
			resolved("checkout", "a", m(0), m(5*min)),
			resolved("checkout", "a", m(90*min), m(95*min)))
		require.Len(t, incs, 2, "90m later is another incident")
	})
	t.Run("an alert joins the incident a page on its service opened", func(t *testing.T) {
		pd := pdEv("Q7", "triggered", m(0), collector.PagerDuty{})
		pd.Service = "checkout"
		incs, entries := project(t, cfg, pd, firing("checkout", "a", m(2*min)))
		require.Len(t, incs, 1)
		require.Contains(t, entries[1].Reasons[0], "a page on checkout opened this incident")
	})
	t.Run("storm guard: many incidents in one cluster within minutes become one", func(t *testing.T) {
		cfg := config.Default()
		var evs []collector.Event
		for i := range 12 {
			evs = append(evs, firing("svc-"+string(rune('a'+i)), "x", m(time.Duration(i)*20*time.Second), "cluster", "eu-1"))
		}
		evs = append(evs, firing("svc-z", "x", m(time.Hour), "cluster", "eu-1")) // long after: its own
		n := cfg.Correlation.StormIncidents
		for _, batch := range []int{1, 100} {
			p := replay(t, cfg, batch, evs...)
			incs := p.Incidents()
			require.Len(t, incs, 2, "the storm is one incident, with the ones that opened before it was called")
			storm := incidentOf(t, p, evs[0].ID)
			require.True(t, storm.Storm)
			require.Len(t, storm.Alerts, 12)
			tl := p.StoredTimeline(storm.ID)
			require.Len(t, tl, 12)
			require.Contains(t, tl[1].Reasons[len(tl[1].Reasons)-1], "moved: alert storm in cluster=eu-1")
			// The fourth alert would open the fourth incident: that is the storm.
			require.Contains(t, tl[n-1].Reasons[0], "alert storm in cluster=eu-1: 4 incidents opened within correlation.storm_window 5m")
			require.Contains(t, tl[n].Reasons[0], "still going on")
		}
		cfg.Correlation.StormIncidents = 0
		require.Len(t, replay(t, cfg, 1, evs...).Incidents(), 13, "storm_incidents 0 turns the guard off")
	})
}
