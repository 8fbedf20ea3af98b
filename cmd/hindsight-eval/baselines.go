package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
)

// Baseline parameters.
const (
	// GroupQuiet is how long an Alertmanager group must have had nothing
	// firing before its next alert starts a new cluster (group_interval).
	GroupQuiet = 5 * time.Minute
	// Window is the global window of the time-only baseline.
	Window = 10 * time.Minute
)

// episode identifies one firing of one alert: its fingerprint and start.
// The firing and resolved events of an episode belong together.
func episode(ev *collector.Event) (string, time.Time) {
	start := ev.At
	if ev.Alert != nil && !ev.Alert.StartsAt.IsZero() {
		start = ev.Alert.StartsAt
	}
	return ev.Ref.Fingerprint + "|" + start.UTC().Format(time.RFC3339Nano), start
}

// byEventTime returns the events sorted by event time, ties in the given
// (arrival) order: the baselines see a perfectly ordered stream, which
// only helps them.
func byEventTime(evs []collector.Event) []collector.Event {
	out := slices.Clone(evs)
	slices.SortStableFunc(out, func(a, b collector.Event) int { return a.At.Compare(b.At) })
	return out
}

// GroupKeyBaseline clusters alert events the way Alertmanager's grouping
// alone would: by the groupKey of the notification that carried them
// (route + group_by [alertname, service]), with a new cluster for a group
// whose alerts had all resolved more than GroupQuiet before its next
// alert started (Alertmanager then starts a new aggregation group, with a
// new first notification, under the same key).
//
// Precisely, over the events in event-time order: an episode (fingerprint,
// startsAt) keeps the cluster its first event got. A new episode of group
// g joins g's current cluster, unless g has no episode firing and its last
// resolution (endsAt) is more than GroupQuiet before the new episode's
// start, in which case g's cluster counter is incremented first. A
// resolved event ends its episode. Events without a groupKey are grouped
// under the empty key.
func GroupKeyBaseline(evs []collector.Event) Partition {
	type group struct {
		epoch      int
		firing     map[string]bool
		quietSince time.Time
	}
	groups := map[string]*group{}
	episodes := map[string]string{}
	out := Partition{}
	for _, ev := range byEventTime(evs) {
		gk := ""
		if ev.Alert != nil {
			gk = ev.Alert.GroupKey
		}
		g := groups[gk]
		if g == nil {
			g = &group{firing: map[string]bool{}}
			groups[gk] = g
		}
		ep, start := episode(&ev)
		c, ok := episodes[ep]
		if !ok {
			if len(g.firing) == 0 && !g.quietSince.IsZero() && start.Sub(g.quietSince) > GroupQuiet {
				g.epoch++
			}
			c = fmt.Sprintf("%s#%d", gk, g.epoch)
			episodes[ep] = c
			if ev.Kind == collector.KindAlertFiring {
				g.firing[ep] = true
			}
		}
		out[ev.ID] = c
		if ev.Kind == collector.KindAlertResolved {
			delete(g.firing, ep)
			if len(g.firing) == 0 && ev.At.After(g.quietSince) {
				g.quietSince = ev.At
			}
		}
	}
	return out
}

// WindowBaseline clusters alert events by time alone, globally: episodes
// (fingerprint, startsAt) in order of start, each joining the current
// cluster when it starts within window of the previous episode's start and
// opening the next cluster otherwise. Every event goes to its episode's
// cluster.
func WindowBaseline(evs []collector.Event, window time.Duration) Partition {
	type ep struct {
		key   string
		start time.Time
	}
	var eps []ep
	seen := map[string]bool{}
	for _, ev := range evs {
		k, start := episode(&ev)
		if !seen[k] {
			seen[k] = true
			eps = append(eps, ep{k, start})
		}
	}
	slices.SortStableFunc(eps, func(a, b ep) int { return a.start.Compare(b.start) })
	cluster := map[string]string{}
	n := 0
	for i, e := range eps {
		if i > 0 && e.start.Sub(eps[i-1].start) > window {
			n++
		}
		cluster[e.key] = fmt.Sprintf("w%d", n)
	}
	out := Partition{}
	for _, ev := range evs {
		k, _ := episode(&ev)
		out[ev.ID] = cluster[k]
	}
	return out
}
