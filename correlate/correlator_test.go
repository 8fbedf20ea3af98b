package correlate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

var t0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// alert builds the event Alertmanager's receiver would produce.
func alert(service, name, instance, status string, start, end time.Time, extra ...string) collector.Event {
	labels := map[string]string{"alertname": name, "service": service, "instance": instance, "severity": "critical"}
	for i := 0; i+1 < len(extra); i += 2 {
		labels[extra[i]] = extra[i+1]
	}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	fp := ls.Fingerprint().String()
	s := start
	ev := collector.Event{
		ID:     collector.EventID("alertmanager", fp, start.Format(time.RFC3339Nano), status),
		Source: collector.SourceAlertmanager,
		Kind:   "alert." + status,
		At:     start,
		Labels: labels,
		Ref:    collector.Ref{Fingerprint: fp, StartsAt: &s},
		Alert:  &collector.Alert{Name: name, Status: status, Severity: "critical", StartsAt: start, EndsAt: end},
	}
	if status == "resolved" {
		ev.At = end
	}
	ev.Summary = name + " " + status
	return ev
}

func firing(service, instance string, start time.Time, extra ...string) collector.Event {
	return alert(service, "HighErrorRate", instance, "firing", start, time.Time{}, extra...)
}

func resolved(service, instance string, start, end time.Time, extra ...string) collector.Event {
	return alert(service, "HighErrorRate", instance, "resolved", start, end, extra...)
}

// project applies events in order and returns the incidents and entries.
func project(t *testing.T, cfg *config.Config, evs ...collector.Event) (map[string]*Incident, []Entry) {
	t.Helper()
	c := NewCorrelator(cfg, State{})
	incs := map[string]*Incident{}
	var entries []Entry
	for i, ev := range evs {
		require.NoError(t, ev.Validate())
		c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: ev})
		ch := c.Flush()
		for id, inc := range ch.Incidents {
			incs[id] = inc
		}
		entries = append(entries, ch.Entries...)
	}
	return incs, entries
}

func m(d time.Duration) time.Time { return t0.Add(d) }

func TestGrouping(t *testing.T) {
	cfg := config.Default()
	min := time.Minute
	cases := []struct {
		name      string
		events    []collector.Event
		incidents int
		// reasons that must appear, in order, one per event
		reasons []string
	}{
		{
			name:      "same service within window joins",
			events:    []collector.Event{firing("checkout", "a", m(0)), firing("checkout", "b", m(3*min))},
			incidents: 1,
			reasons:   []string{"opened: first alert for the same service checkout", "joined: the same service checkout as the incident, which has alerts firing"},
		},
		{
			name:      "two services stay two incidents",
			events:    []collector.Event{firing("checkout", "a", m(0)), firing("search", "a", m(1*min))},
			incidents: 2,
			reasons:   []string{"opened:", "opened:"},
		},
		{
			name: "different cluster (group_by) stays apart",
			events: []collector.Event{
				firing("checkout", "a", m(0), "cluster", "eu-1"),
				firing("checkout", "a", m(1*min), "cluster", "us-1"),
			},
			incidents: 2,
			reasons:   []string{"opened: first alert for the same service checkout and cluster=eu-1", "opened:"},
		},
		{
			name: "after resolution, a new alert within window joins while not yet resolved",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				resolved("checkout", "a", m(0), m(5*min)),
				firing("checkout", "b", m(8*min)),
			},
			incidents: 1,
			reasons:   []string{"opened:", "resolves:", "joined: the same service checkout as the incident, 3m after its last event"},
		},
		{
			name: "after resolution and resolve_after, a new alert within reopen_within reopens",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				resolved("checkout", "a", m(0), m(5*min)),
				firing("checkout", "b", m(17*min)),
			},
			incidents: 1,
			reasons:   []string{"opened:", "resolves:", "joined: the same service checkout as the incident, which resolved 12m earlier"},
		},
		{
			name: "a new alert long after resolution opens a new incident",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				resolved("checkout", "a", m(0), m(5*min)),
				firing("checkout", "b", m(60*min)),
			},
			incidents: 2,
			reasons:   []string{"opened:", "resolves:", "opened:"},
		},
		{
			name: "the same alert re-firing within reopen_within continues its episode",
			events: []collector.Event{
				firing("checkout", "a", m(0)),
				resolved("checkout", "a", m(0), m(2*min)),
				firing("checkout", "a", m(14*min)),
			},
			incidents: 1,
			reasons:   []string{"opened:", "resolves:", "joined: the same alert fired again 12m after it resolved"},
		},
		{
			name: "a late event up to window before the start joins",
			events: []collector.Event{
				firing("checkout", "a", m(10*min)),
				resolved("checkout", "a", m(10*min), m(12*min)),
				firing("checkout", "b", m(4*min)),
			},
			incidents: 1,
			reasons:   []string{"opened:", "resolves:", "joined: the same service checkout as the incident, 6m before its first event"},
		},
		{
			name: "resolved without a firing is placed by its start",
			events: []collector.Event{
				resolved("checkout", "a", m(0), m(5*min)),
			},
			incidents: 1,
			reasons:   []string{"opened:"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			incs, entries := project(t, cfg, tc.events...)
			require.Len(t, incs, tc.incidents)
			require.Len(t, entries, len(tc.events))
			for i, want := range tc.reasons {
				require.NotEmpty(t, entries[i].Reasons)
				require.True(t, strings.HasPrefix(entries[i].Reasons[0], want), "entry %d reason %q, want prefix %q", i, entries[i].Reasons[0], want)
			}
		})
	}
}

func TestIncidentStateAndStatus(t *testing.T) {
	cfg := config.Default()
	incs, entries := project(t, cfg,
		firing("checkout", "a", m(0)),
		firing("checkout", "b", m(1*time.Minute)),
		resolved("checkout", "a", m(0), m(20*time.Minute)),
	)
	require.Len(t, incs, 1)
	var inc *Incident
	for _, v := range incs {
		inc = v
	}
	require.Equal(t, m(0), inc.StartedAt)
	require.Equal(t, []string{"checkout"}, inc.Services)
	require.Equal(t, 1, inc.Firing())
	require.Equal(t, StatusOpen, inc.Status(m(24*time.Hour), 5*time.Minute, 24*time.Hour), "an alert still fires")
	require.Len(t, entries, 3)
	require.Equal(t, inc.ID, entries[2].IncidentID)
	require.True(t, strings.HasPrefix(inc.ID, "inc-"))

	_, _ = project(t, cfg)
	incs, _ = project(t, cfg,
		firing("checkout", "a", m(0)),
		resolved("checkout", "a", m(0), m(20*time.Minute)),
	)
	for _, v := range incs {
		inc = v
	}
	require.Equal(t, StatusOpen, inc.Status(m(22*time.Minute), 5*time.Minute, 24*time.Hour), "within resolve_after")
	require.Equal(t, StatusResolved, inc.Status(m(25*time.Minute), 5*time.Minute, 24*time.Hour), "resolve_after passed")
	v := NewView(inc, nil, cfg, m(30*time.Minute))
	require.NotNil(t, v.ResolvedAt)
	require.Equal(t, m(20*time.Minute), *v.ResolvedAt)
	require.Equal(t, int64(20*60), v.Impact.DurationSeconds)
}

// TestDeterministicIDs: the same log gives the same incident ids, which is
// what makes a replay or a crash recovery give the same incidents.
func TestDeterministicIDs(t *testing.T) {
	cfg := config.Default()
	var evs []collector.Event
	for i := range 50 {
		svc := fmt.Sprintf("svc-%d", i%5)
		evs = append(evs, firing(svc, fmt.Sprint(i), m(time.Duration(i)*time.Minute)))
	}
	a, ea := project(t, cfg, evs...)
	b, eb := project(t, cfg, evs...)
	require.Equal(t, a, b)
	require.Equal(t, ea, eb)
}

// TestRestoreMatchesUninterrupted: persisting the live state at any point
// and restoring it gives the same result as never stopping.
func TestRestoreMatchesUninterrupted(t *testing.T) {
	cfg := config.Default()
	var evs []collector.Event
	for i := range 40 {
		start := m(time.Duration(i*7) * time.Minute)
		evs = append(evs, firing("checkout", fmt.Sprint(i%3), start), resolved("checkout", fmt.Sprint(i%3), start, start.Add(4*time.Minute)))
	}
	_, want := project(t, cfg, evs...)

	for cut := 1; cut < len(evs); cut += 13 {
		c := NewCorrelator(cfg, State{})
		var got []Entry
		incs := map[string]*Incident{}
		eps := map[string]*Episode{}
		var cp Checkpoint
		for i, ev := range evs[:cut] {
			c.Apply(LoggedEvent{Seq: uint64(i + 1), Event: ev})
		}
		ch := c.Flush()
		got = append(got, ch.Entries...)
		for id, inc := range ch.Incidents {
			incs[id] = inc
		}
		for fp, ep := range ch.Episodes {
			eps[fp] = ep
		}
		cp = ch.Checkpoint
		st := State{Checkpoint: cp}
		for _, inc := range incs {
			st.Live = append(st.Live, inc)
		}
		for _, ep := range eps {
			st.Episodes = append(st.Episodes, ep)
		}
		c2 := NewCorrelator(cfg, st)
		for i, ev := range evs[cut:] {
			c2.Apply(LoggedEvent{Seq: uint64(cut + i + 1), Event: ev})
		}
		got = append(got, c2.Flush().Entries...)
		require.Equal(t, len(want), len(got))
		for i := range want {
			require.Equal(t, want[i].IncidentID, got[i].IncidentID, "cut %d entry %d", cut, i)
			require.Equal(t, want[i].Reasons, got[i].Reasons, "cut %d entry %d", cut, i)
		}
	}
}

func TestSeverityDefaults(t *testing.T) {
	cfg := config.Default()
	cfg.Services = map[string]config.Service{"checkout": {CustomerFacing: true, Tier: 1}}
	cfg.Services["checkout"] = config.Service{CustomerFacing: true, Tier: 1, DependsOn: []string{"payments"}}
	cfg.Services["payments"] = config.Service{CustomerFacing: true, Tier: 1}
	cfg.Services["ledger"] = config.Service{Tier: 1}
	level := func(at time.Duration, evs ...collector.Event) SeverityView {
		t.Helper()
		incs, _ := project(t, cfg, evs...)
		require.Len(t, incs, 1)
		for _, inc := range incs {
			sv := Assess(inc, cfg, m(at))
			require.Equal(t, sv.Suggested, sv.Effective)
			require.NotEmpty(t, sv.Reasons)
			return sv
		}
		return SeverityView{}
	}
	min := time.Minute
	sv := level(10*min, firing("checkout", "a", m(0)))
	require.Equal(t, "SEV4", sv.Suggested, "one customer-facing service critical for 10 minutes: a blip so far")
	sv = level(20*min, firing("checkout", "a", m(0)))
	require.Equal(t, "SEV3", sv.Suggested, "for 15 minutes: partial loss of functionality")
	require.Contains(t, sv.Reasons[0], "checkout customer-facing")
	sv = level(10*min, firing("checkout", "a", m(0)), firing("checkout", "b", m(1*min), "service", "payments"))
	require.Equal(t, "SEV2", sv.Suggested, "two customer-facing tier-1 services critical: most customers cannot use the product")
	require.Contains(t, sv.Reasons[0], "2 customer-facing services (checkout, payments)")
	sv = level(90*min, firing("checkout", "a", m(0)))
	require.Equal(t, "SEV2", sv.Suggested, "one customer-facing tier-1 service critical for an hour")
	sv = level(10*min, firing("ledger", "a", m(0)))
	require.Equal(t, "SEV4", sv.Suggested, "critical on an internal tier-1 service whose consumers do not fail: it needs action, customers can still work")
	sv = level(10*min, firing("batch", "a", m(0)))
	require.Equal(t, "SEV4", sv.Suggested, "critical on an internal service of the default tier")
	sv = level(10*min, warning("batch", "JobFailed", "a", m(0)))
	require.Equal(t, "SEV5", sv.Suggested, "one internal warning is cosmetic")
	sv = level(10*min, warning("batch", "PodCrashLooping", "a", m(0)), warning("batch", "PodCrashLooping", "b", m(1*min)))
	require.Equal(t, "SEV4", sv.Suggested, "internal warnings on two pods need action")
	require.Contains(t, sv.Reasons[0], "2 alerts")
	// The duration is the critical state's, not the incident's: a disk
	// warning on checkout for hours, then checkout critical for 10
	// minutes. (A lone warning on a dependency no longer draws a
	// dependent failing hours later: see TestLoneWarningDrawsNoLateDependent.)
	sv = level(3*time.Hour+10*min, warning("checkout", "DiskFillingUp", "a", m(0)), firing("checkout", "a", m(3*time.Hour)))
	require.Equal(t, "SEV4", sv.Suggested)
}

// TestFmtDur pins fmtDur (built without fmt, for speed) to the
// fmt-based rendering reasons have always used.
func TestFmtDur(t *testing.T) {
	want := func(d time.Duration) string {
		if d < 0 {
			d = -d
		}
		d = d.Round(time.Second)
		switch {
		case d == 0:
			return "0s"
		case d < time.Minute:
			return fmt.Sprintf("%ds", int(d.Seconds()))
		case d < time.Hour:
			if s := int(d.Seconds()) % 60; s != 0 {
				return fmt.Sprintf("%dm%ds", int(d.Minutes()), s)
			}
			return fmt.Sprintf("%dm", int(d.Minutes()))
		default:
			h := int(d.Hours())
			m := int(d.Minutes()) % 60
			if d >= 48*time.Hour {
				return fmt.Sprintf("%dd%dh", h/24, h%24)
			}
			if m == 0 {
				return fmt.Sprintf("%dh", h)
			}
			return fmt.Sprintf("%dh%dm", h, m)
		}
	}
	for d := -3 * time.Hour; d < 100*time.Hour; d += 7*time.Second + 300*time.Millisecond {
		require.Equal(t, want(d), fmtDur(d), "%v", d)
	}
	for _, d := range []time.Duration{0, 499 * time.Millisecond, 500 * time.Millisecond, time.Minute, time.Hour, 48 * time.Hour, 1<<63 - 1, -1 << 63} {
		require.Equal(t, want(d), fmtDur(d), "%v", d)
	}
}
