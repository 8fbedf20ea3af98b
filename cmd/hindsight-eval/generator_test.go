package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

func jsonl(t *testing.T, scs []*Scenario) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteJSONL(&buf, scs))
	return buf.Bytes()
}

// generated is the corpus the generator makes, made once per test binary.
var generated = sync.OnceValue(func() []*Scenario { return Generate(GeneratorSeed) })

func TestGenerateIsDeterministic(t *testing.T) {
	a := jsonl(t, generated())
	require.Equal(t, a, jsonl(t, Generate(GeneratorSeed)))
	require.NotEqual(t, a, jsonl(t, Generate(GeneratorSeed+1)), "the seed matters")
}

func TestJSONLRoundTrip(t *testing.T) {
	scs := generated()[:20]
	data := jsonl(t, scs)
	back, err := ReadJSONL(bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, back, len(scs))
	require.Equal(t, data, jsonl(t, back))
	for i := range scs {
		require.Equal(t, len(scs[i].Events), len(back[i].Events))
		require.Equal(t, scs[i].Config().Services, back[i].Config().Services)
	}
	_, err = ReadJSONL(strings.NewReader(`{"type":"event","scenario":"x","event":{}}`))
	require.ErrorContains(t, err, "outside its scenario")
}

// TestCorpusIsWellFormed checks what the scoring relies on, for every
// scenario: labels, truth, causes, arrival order, and the Alertmanager and
// PagerDuty details the engine links by.
func TestCorpusIsWellFormed(t *testing.T) {
	scs := generated()
	perFamily := map[string]int{}
	for _, sc := range scs {
		perFamily[sc.Family]++
		t.Run(sc.ID, func(t *testing.T) {
			truth := map[string]TrueIncident{}
			for _, ti := range sc.Incidents {
				truth[ti.ID] = ti
				require.Contains(t, []string{"SEV1", "SEV2", "SEV3", "SEV4", "SEV5"}, ti.Severity, ti.ID)
			}
			members := map[string]int{}
			groupKeys := map[string]bool{}
			deploys := map[string]string{} // deploy id -> incident it caused
			var alerts int
			for i, le := range sc.Events {
				ev := le.Event
				require.NoError(t, ev.Validate())
				require.False(t, ev.ReceivedAt.Before(ev.At), "%s received before it happened", ev.ID)
				if i > 0 {
					require.False(t, ev.ReceivedAt.Before(sc.Events[i-1].Event.ReceivedAt), "events are in arrival order")
				}
				switch ev.Source {
				case collector.SourceAlertmanager:
					alerts++
					require.NotEmpty(t, le.Incident)
					require.NotNil(t, ev.Alert)
					require.NotEmpty(t, ev.Alert.GroupKey)
					require.NotEmpty(t, ev.Labels["alertname"])
					require.NotEmpty(t, ev.Labels["severity"])
					require.NotEmpty(t, ev.Labels["cluster"])
					require.NotEmpty(t, ev.Labels["instance"])
					h := sha256.Sum256([]byte(ev.Alert.GroupKey))
					groupKeys[hex.EncodeToString(h[:])] = true
				case collector.SourcePagerDuty:
					require.NotEmpty(t, le.Incident)
					require.NotEmpty(t, ev.Ref.PagerDutyIncidentID)
				case collector.SourceDeploy:
					require.Empty(t, le.Incident)
					if le.CauseOf != "" {
						deploys[ev.Ref.DeployID] = le.CauseOf
					}
				}
				if le.Incident != "" {
					_, ok := truth[le.Incident]
					require.True(t, ok, "label %s is a true incident", le.Incident)
					members[le.Incident]++
				}
			}
			require.Positive(t, alerts)
			for _, ti := range sc.Incidents {
				require.Positive(t, members[ti.ID], "%s has events", ti.ID)
				if ti.Cause != "" {
					require.Equal(t, ti.ID, deploys[ti.Cause], "the cause of %s is a deploy labelled as its cause", ti.ID)
				}
			}
			for id, inc := range deploys {
				require.Equal(t, id, truth[inc].Cause)
			}
			for _, le := range sc.Events {
				if k := le.Event.Labels["incident_key"]; k != "" {
					require.True(t, groupKeys[k], "a page raised by Alertmanager carries sha256 of a group key of the scenario")
				}
			}
		})
	}
	for _, f := range Families() {
		require.GreaterOrEqual(t, perFamily[f.Name], 5, f.Name)
		require.LessOrEqual(t, perFamily[f.Name], 20, f.Name)
	}
}

// TestFamiliesCoverTheirCase checks that each family holds what it is
// named for.
func TestFamiliesCoverTheirCase(t *testing.T) {
	focal := func(sc *Scenario) []TrueIncident {
		var out []TrueIncident
		for _, ti := range sc.Incidents {
			if !strings.HasPrefix(ti.Notes, "background") {
				out = append(out, ti)
			}
		}
		return out
	}
	servicesOf := func(sc *Scenario, inc string) []string {
		var out []string
		for _, le := range sc.Events {
			if le.Incident == inc && le.Event.Service != "" && !slices.Contains(out, le.Event.Service) {
				out = append(out, le.Event.Service)
			}
		}
		return out
	}
	firings := func(sc *Scenario, inc string) int {
		seen := map[string]bool{}
		for _, le := range sc.Events {
			if le.Incident == inc && le.Event.Kind == collector.KindAlertFiring {
				seen[le.Event.ID] = true
			}
		}
		return len(seen)
	}
	checks := map[string]func(t *testing.T, sc *Scenario){
		"flapping": func(t *testing.T, sc *Scenario) {
			require.GreaterOrEqual(t, firings(sc, focal(sc)[0].ID), 8)
		},
		"refire": func(t *testing.T, sc *Scenario) {
			require.Len(t, focal(sc), 2)
		},
		"dependency-outage": func(t *testing.T, sc *Scenario) {
			require.GreaterOrEqual(t, len(servicesOf(sc, focal(sc)[0].ID)), 3)
		},
		"concurrent-unrelated": func(t *testing.T, sc *Scenario) {
			require.GreaterOrEqual(t, len(focal(sc)), 2)
		},
		"chain": func(t *testing.T, sc *Scenario) {
			f := focal(sc)
			require.Len(t, f, 2)
			require.Len(t, servicesOf(sc, f[0].ID), 2)
			require.Len(t, servicesOf(sc, f[1].ID), 1)
		},
		"storm": func(t *testing.T, sc *Scenario) {
			require.GreaterOrEqual(t, len(servicesOf(sc, focal(sc)[0].ID)), 8)
		},
		"late-duplicate": func(t *testing.T, sc *Scenario) {
			ids := map[string]int{}
			inverted := false
			for i, le := range sc.Events {
				ids[le.Event.ID]++
				for _, prev := range sc.Events[:i] {
					inverted = inverted || prev.Event.At.After(le.Event.At)
				}
			}
			dup := false
			for _, n := range ids {
				dup = dup || n > 1
			}
			require.True(t, dup, "some event is delivered twice")
			require.True(t, inverted, "some event arrives after a later one")
		},
		"deploy-cause": func(t *testing.T, sc *Scenario) {
			require.NotEmpty(t, focal(sc)[0].Cause)
		},
		"deploy-preexisting": func(t *testing.T, sc *Scenario) {
			// The deployed service's alert fired before the deploy started,
			// within 2h.
			var svc string
			var deployed time.Time
			for _, le := range sc.Events {
				if le.Event.Source == collector.SourceDeploy && svc == "" {
					svc, deployed = le.Event.Service, le.Event.At
				}
			}
			before := false
			for _, le := range sc.Events {
				ev := le.Event
				before = before || (ev.Kind == collector.KindAlertFiring && ev.Service == svc && ev.At.Before(deployed) && deployed.Sub(ev.At) <= 2*time.Hour)
			}
			require.True(t, before, "the alert fired in the 2h before the deploy")
			for _, ti := range sc.Incidents {
				require.Empty(t, ti.Cause)
			}
		},
		"deploy-two": func(t *testing.T, sc *Scenario) {
			deploys := map[string]bool{}
			for _, le := range sc.Events {
				if le.Event.Source == collector.SourceDeploy {
					deploys[le.Event.Ref.DeployID] = true
				}
			}
			require.GreaterOrEqual(t, len(deploys), 2)
			require.True(t, deploys[focal(sc)[0].Cause], "the cause is one of the deploys")
		},
		"am-restart": func(t *testing.T, sc *Scenario) {
			ids := map[string]int{}
			for _, le := range sc.Events {
				ids[le.Event.ID]++
			}
			dup := false
			for _, n := range ids {
				dup = dup || n > 1
			}
			require.True(t, dup, "the re-flush re-sends alerts already delivered")
		},
		"coarse-groupby": func(t *testing.T, sc *Scenario) {
			// One groupKey carries the alerts of three true incidents or more.
			incs := map[string]map[string]bool{}
			for _, le := range sc.Events {
				if ev := le.Event; ev.Alert != nil {
					if incs[ev.Alert.GroupKey] == nil {
						incs[ev.Alert.GroupKey] = map[string]bool{}
					}
					incs[ev.Alert.GroupKey][le.Incident] = true
				}
			}
			most := 0
			for _, m := range incs {
				most = max(most, len(m))
			}
			require.GreaterOrEqual(t, most, 3)
		},
		"maintenance": func(t *testing.T, sc *Scenario) {
			f := focal(sc)
			require.Len(t, f, 2)
			require.True(t, strings.HasPrefix(f[1].Notes, "maintenance"))
		},
		"monitoring-gap": func(t *testing.T, sc *Scenario) {
			first := map[string]string{}
			for _, le := range sc.Events {
				if _, ok := first[le.Incident]; !ok && le.Incident != "" {
					first[le.Incident] = le.Event.Source
				}
			}
			require.Equal(t, collector.SourcePagerDuty, first[focal(sc)[0].ID], "the page comes first")
		},
	}
	for _, sc := range generated() {
		for _, ti := range sc.Incidents {
			if sc.Family != "deploy-cause" && sc.Family != "deploy-two" {
				require.Empty(t, ti.Cause, "%s: only deploy-cause and deploy-two scenarios have a cause", sc.ID)
			}
		}
		if check := checks[sc.Family]; check != nil {
			t.Run(sc.ID, func(t *testing.T) { check(t, sc) })
		}
	}
}

func TestTrueSeverity(t *testing.T) {
	// The rule applied to hand-made scenarios: checkout is customer-facing
	// tier 1, orders is neither.
	mk := func(service, severity string, minutes int, extra map[string]string, priority string) *Scenario {
		b := newBuilder("t", 0, 1, 0)
		inc := b.incident("t")
		def := alertDef{name: "X", severity: severity, labels: extra}
		b.alert(alertSpec{inc: inc, svc: service, def: def, start: b.t0, end: b.t0.Add(durMin(minutes))})
		if priority != "" {
			b.page(pageSpec{inc: inc, svc: service, title: "t", priority: priority, triggered: b.t0})
		}
		return b.finish()
	}
	cases := []struct {
		sc   *Scenario
		want string
	}{
		{mk("checkout", "critical", 5, nil, ""), "SEV4"}, // a blip
		{mk("checkout", "critical", 10, nil, ""), "SEV2"},
		{mk("checkout", "critical", 40, nil, ""), "SEV2"},
		{mk("checkout", "critical", 70, nil, ""), "SEV1"}, // over an hour: the SLA
		{mk("cart", "critical", 40, nil, ""), "SEV3"},     // customer-facing, tier 2
		{mk("orders", "critical", 40, nil, ""), "SEV4"},   // internal: needs action
		{mk("checkout", "warning", 10, nil, ""), "SEV4"},
		{mk("orders", "warning", 10, nil, ""), "SEV5"},
		{mk("orders", "info", 10, nil, ""), "SEV5"},
		{mk("orders", "warning", 10, map[string]string{"category": "security"}, ""), "SEV1"},
		{mk("orders", "warning", 10, nil, "P2"), "SEV2"},
		{mk("checkout", "critical", 10, nil, "P3"), "SEV2"},
	}
	for _, tc := range cases {
		got, why := TrueSeverity(tc.sc, "I1")
		require.Equal(t, tc.want, got, why)
	}
}

func durMin(m int) time.Duration { return time.Duration(m) * time.Minute }
