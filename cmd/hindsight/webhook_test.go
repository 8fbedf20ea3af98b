package main

// Builders of Alertmanager webhook notifications (version 4) in the shape
// of testdata/alertmanager_webhook_*.json, for the subprocess tests.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

type whAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

type whMessage struct {
	Receiver           string            `json:"receiver"`
	Status             string            `json:"status"`
	Alerts             []whAlert         `json:"alerts"`
	NotificationReason string            `json:"notification_reason"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	RouteLabels        map[string]string `json:"routeLabels"`
	ExternalURL        string            `json:"externalURL"`
	Version            string            `json:"version"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    int               `json:"truncatedAlerts"`
}

func fingerprintOf(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// newWebhook builds a notification of one group (alertname, service) with
// the given alerts, as Alertmanager does: the whole group, firing and
// resolved, with the labels and annotations they share.
func newWebhook(alertname, service string, alerts []whAlert) whMessage {
	m := whMessage{
		Receiver:    "hindsight",
		Status:      "resolved",
		Alerts:      alerts,
		GroupLabels: map[string]string{"alertname": alertname, "service": service},
		RouteLabels: map[string]string{},
		ExternalURL: "http://alertmanager.example.internal:9093",
		Version:     "4",
		GroupKey:    fmt.Sprintf(`{}:{alertname=%q, service=%q}`, alertname, service),
	}
	resolved := 0
	for _, a := range alerts {
		if a.Status == "firing" {
			m.Status = "firing"
		} else {
			resolved++
		}
	}
	switch {
	case resolved == len(alerts):
		m.NotificationReason = "all alerts resolved"
	case resolved > 0:
		m.NotificationReason = "some alerts resolved"
	default:
		m.NotificationReason = "new alerts"
	}
	m.CommonLabels = common(alerts, func(a whAlert) map[string]string { return a.Labels })
	m.CommonAnnotations = common(alerts, func(a whAlert) map[string]string { return a.Annotations })
	return m
}

func common(alerts []whAlert, get func(whAlert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, get(alerts[0]))
	for _, a := range alerts[1:] {
		m := get(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// request is one notification a simulated Alertmanager sends, with the
// alert states it carries.
type request struct {
	Body   []byte
	States []stateKey
}

func (m whMessage) request() request {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	r := request{Body: b}
	for _, a := range m.Alerts {
		kind := "alert.firing"
		if a.Status == "resolved" {
			kind = "alert.resolved"
		}
		r.States = append(r.States, stateKey{Fingerprint: a.Fingerprint, StartsAt: a.StartsAt.UTC().Format(time.RFC3339Nano), Kind: kind})
	}
	return r
}

// Gaps between two notifications of one service, in event time. Some are
// below correlation.window (10m) and reopen_within (15m), so that alerts
// join the running incident or reopen it; some are above both, so that a
// quiet service starts a new incident.
var shortGaps = []time.Duration{15 * time.Second, 40 * time.Second, 2 * time.Minute, 4 * time.Minute, 7 * time.Minute, 9 * time.Minute}
var longGaps = []time.Duration{11 * time.Minute, 14 * time.Minute, 18 * time.Minute, 25 * time.Minute, 45 * time.Minute, 2 * time.Hour}

// genSequence simulates what Alertmanager sends for one service: alerts
// of two groups on a few instances fire and resolve at increasing event
// times; each notification carries its group's firing alerts (re-sent,
// as Alertmanager does) and the ones that just resolved; now and then a
// notification is a plain repeat. The result depends only on rnd.
func genSequence(rnd *rand.Rand, service string, start time.Time, n int) []request {
	type alertKey struct{ name, instance string }
	groups := []string{"HighErrorRate", "HighLatency"}
	instances := []string{"a", "b", "c", "d"}
	active := map[alertKey]*whAlert{}
	t := start
	var out []request

	build := func(name string, extra []whAlert) {
		var alerts []whAlert
		for k, a := range active {
			if k.name == name {
				alerts = append(alerts, *a)
			}
		}
		alerts = append(alerts, extra...)
		sort.Slice(alerts, func(i, j int) bool { return alerts[i].Labels["instance"] < alerts[j].Labels["instance"] })
		out = append(out, newWebhook(name, service, alerts).request())
	}
	for len(out) < n {
		name := groups[rnd.IntN(len(groups))]
		if len(active) > 0 && rnd.Float64() < 0.7 {
			// Mostly act on a group that has alerts firing, so that
			// services fall quiet now and then.
			keys := slices.SortedFunc(maps.Keys(active), func(a, b alertKey) int {
				return strings.Compare(a.name+"/"+a.instance, b.name+"/"+b.instance)
			})
			name = keys[rnd.IntN(len(keys))].name
		}
		var firing []alertKey
		for k := range active {
			if k.name == name {
				firing = append(firing, k)
			}
		}
		slices.SortFunc(firing, func(a, b alertKey) int { return strings.Compare(a.instance, b.instance) })
		switch r := rnd.Float64(); {
		case len(firing) > 0 && r < 0.1:
			// A repeat of the group (group_interval / repeat_interval).
			build(name, nil)
		case len(firing) == 0 || (len(firing) < 3 && r < 0.4):
			var free []string
			for _, in := range instances {
				if active[alertKey{name, in}] == nil {
					free = append(free, in)
				}
			}
			in := free[rnd.IntN(len(free))]
			sev := "critical"
			if name == "HighLatency" {
				sev = "warning"
			}
			labels := map[string]string{
				"alertname": name,
				"service":   service,
				"job":       service,
				"instance":  service + "-" + in + ":8080",
				// One cluster per service: the storm guard groups services
				// that alert together in one cluster, which would make the
				// result depend on how the concurrent workers interleave.
				"cluster":  "eu-" + service,
				"severity": sev,
			}
			active[alertKey{name, in}] = &whAlert{
				Status: "firing",
				Labels: labels,
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s %s on %s", service, name, in),
					"description": "ratio above threshold over the last 5m",
					"runbook_url": "https://runbooks.example.internal/" + service + "/" + strings.ToLower(name),
				},
				StartsAt:     t,
				GeneratorURL: "http://prometheus.example.internal:9090/graph?g0.expr=up",
				Fingerprint:  fingerprintOf(labels),
			}
			build(name, nil)
		default:
			k := firing[rnd.IntN(len(firing))]
			a := *active[k]
			delete(active, k)
			a.Status = "resolved"
			a.EndsAt = t
			build(name, []whAlert{a})
		}
		gaps := shortGaps
		if len(active) == 0 && rnd.Float64() < 0.7 {
			gaps = longGaps
		}
		t = t.Add(gaps[rnd.IntN(len(gaps))])
	}
	return out
}
