package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file writes replay scenarios in the format of the independent
// grader (../shared/eval/scenarios/README.md): a topology, the
// Alertmanager route, timed alerts, PagerDuty v3 envelopes and deploys,
// and the truth, labelled by that README's rules. They are a guard against
// fitting the engine to the development set: another topology (a video
// streaming platform), and a generator of long, dense days over many
// services to watch that incidents neither collapse into a few giant ones
// nor explode. They are written by `go run ./cmd/hindsight-eval
// -write-replay cmd/hindsight-eval/testdata/replay` and graded by the
// shared harness like the development set (EVALUATION.md says how).

// replayScenario mirrors the grader's scenario file.
type replayScenario struct {
	Name          string                   `json:"name"`
	Title         string                   `json:"title"`
	Description   string                   `json:"description"`
	Start         time.Time                `json:"start"`
	End           time.Time                `json:"end"`
	Alertmanager  replayRoute              `json:"alertmanager"`
	ServiceLabels []string                 `json:"service_labels"`
	Services      map[string]replayService `json:"services"`
	PagerDuty     replayPDConfig           `json:"pagerduty"`
	Incidents     []replayIncident         `json:"incidents"`
	Events        []replayEvent            `json:"events"`
}

type replayRoute struct {
	Receiver       string   `json:"receiver"`
	ExternalURL    string   `json:"external_url"`
	GroupBy        []string `json:"group_by"`
	GroupWait      string   `json:"group_wait"`
	GroupInterval  string   `json:"group_interval"`
	RepeatInterval string   `json:"repeat_interval"`
}

type replayService struct {
	CustomerFacing      bool     `json:"customer_facing"`
	Tier                int      `json:"tier"`
	DependsOn           []string `json:"depends_on,omitempty"`
	PagerDutyServiceIDs []string `json:"pagerduty_service_ids,omitempty"`
}

type replayPDConfig struct {
	WebhookSecret string            `json:"webhook_secret"`
	PriorityFloor map[string]string `json:"priority_floor,omitempty"`
}

type replayIncident struct {
	ID            string    `json:"id"`
	Title         string    `json:"title"`
	Kind          string    `json:"kind"`
	Severity      string    `json:"severity"`
	SeverityRange [2]string `json:"severity_range"`
	Causes        []string  `json:"causes"`
	LatentCauses  []string  `json:"latent_causes,omitempty"`
	Resolved      bool      `json:"resolved"`
	Rationale     string    `json:"rationale,omitempty"`
}

type replayEvent struct {
	At        time.Time       `json:"at"`
	Kind      string          `json:"kind"`
	Incident  string          `json:"incident,omitempty"`
	Role      string          `json:"role,omitempty"`
	Alert     *replayAlert    `json:"alert,omitempty"`
	PagerDuty json.RawMessage `json:"pagerduty,omitempty"`
	Deploy    *replayDeploy   `json:"deploy,omitempty"`
	Run       string          `json:"run,omitempty"`
}

type replayAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	EndsAt       *time.Time        `json:"ends_at,omitempty"`
	GeneratorURL string            `json:"generator_url,omitempty"`
}

type replayDeploy struct {
	ID              string            `json:"id"`
	Service         string            `json:"service"`
	At              time.Time         `json:"at"`
	Status          string            `json:"status"`
	Environment     string            `json:"environment,omitempty"`
	Version         string            `json:"version,omitempty"`
	PreviousVersion string            `json:"previous_version,omitempty"`
	Author          string            `json:"author,omitempty"`
	URL             string            `json:"url,omitempty"`
	Description     string            `json:"description,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// rb builds one replay scenario.
type rb struct {
	s    *replayScenario
	day  time.Time
	pdNo int
	// last end of each label set, so that firings of one never overlap.
	lastEnd map[string]time.Time
}

func newRB(name, title, desc, day string) *rb {
	d, err := time.Parse("2006-01-02", day)
	if err != nil {
		panic(err)
	}
	h := hash8(name)
	return &rb{day: d, pdNo: 2000 + int(hashU(name)%5000), lastEnd: map[string]time.Time{}, s: &replayScenario{
		Name: name, Title: title, Description: desc,
		Alertmanager: replayRoute{Receiver: "hindsight", ExternalURL: "http://alertmanager.monitoring.svc:9093",
			GroupBy: []string{"alertname", "service"}, GroupWait: "30s", GroupInterval: "5m", RepeatInterval: "4h"},
		ServiceLabels: []string{"service", "app", "job"},
		Services:      map[string]replayService{},
		PagerDuty:     replayPDConfig{WebhookSecret: "whsec-" + h + hash8(h), PriorityFloor: map[string]string{"P1": "SEV1", "P2": "SEV2"}},
	}}
}

// at is HH:MM[:SS] on the scenario's day plus offset days.
func (b *rb) at(days int, hms string) time.Time {
	t, err := time.Parse("15:04:05", hms)
	if err != nil {
		t, err = time.Parse("15:04", hms)
		if err != nil {
			panic(err)
		}
	}
	return b.day.AddDate(0, 0, days).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func (b *rb) service(name string, cf bool, tier int, pd bool, deps ...string) {
	s := replayService{CustomerFacing: cf, Tier: tier, DependsOn: deps}
	if pd {
		s.PagerDutyServiceIDs = []string{pdServiceID(name)}
	}
	b.s.Services[name] = s
}

func (b *rb) incident(id, kind, title, sev, lo, hi string, resolved bool, causes []string, why string) *replayIncident {
	if causes == nil {
		causes = []string{}
	}
	b.s.Incidents = append(b.s.Incidents, replayIncident{ID: id, Kind: kind, Title: title, Severity: sev,
		SeverityRange: [2]string{lo, hi}, Causes: causes, Resolved: resolved, Rationale: why})
	return &b.s.Incidents[len(b.s.Incidents)-1]
}

// alert adds one firing; end zero means still firing at the end. It
// shifts the start past the previous firing of the same labels.
func (b *rb) alert(inc, role, name, service, severity string, start, end time.Time, labels map[string]string) {
	l := map[string]string{"alertname": name, "severity": severity, "prometheus": "monitoring/k8s"}
	if service != "" {
		l["service"] = service
	}
	maps.Copy(l, labels)
	key := labelKey(l)
	if last, ok := b.lastEnd[key]; ok && !start.After(last) {
		start = last.Add(time.Minute)
		if !end.IsZero() && !end.After(start) {
			end = start.Add(time.Minute)
		}
	}
	a := &replayAlert{Labels: l, Annotations: map[string]string{
		"summary":     name + " on " + service,
		"description": name + " (" + severity + ")",
	}, GeneratorURL: "http://prometheus-k8s-0:9090/graph?g0.expr=" + name}
	if !end.IsZero() {
		e := end
		a.EndsAt = &e
		b.lastEnd[key] = end
	} else {
		b.lastEnd[key] = b.day.AddDate(100, 0, 0)
	}
	b.s.Events = append(b.s.Events, replayEvent{At: start, Kind: "alert", Incident: inc, Role: role, Alert: a})
}

func (b *rb) deploy(inc, role, id, run, service, status, version, prev, desc string, at time.Time, labels map[string]string) {
	d := &replayDeploy{ID: id, Service: service, At: at, Status: status, Environment: "production", Version: version,
		PreviousVersion: prev, Author: "ci", URL: "https://ci.example.com/pipelines/" + run, Description: desc, Labels: labels}
	r := run
	if r == id {
		r = ""
	}
	b.s.Events = append(b.s.Events, replayEvent{At: at, Kind: "deploy", Incident: inc, Role: role, Deploy: d, Run: r})
}

// deployRun adds a started and a succeeded step (RUN-s, RUN).
func (b *rb) deployRun(inc, role, run, service, version, prev, desc string, started time.Time, took time.Duration, labels map[string]string) {
	b.deploy(inc, role, run+"-s", run, service, "started", version, prev, desc, started, labels)
	b.deploy(inc, role, run, run, service, "succeeded", version, prev, desc, started.Add(took), labels)
}

// page is one PagerDuty incident's lifecycle as a v3 webhook would tell it.
type page struct {
	b                          *rb
	id, title, service, svcID  string
	number                     int
	priority, inc, status, key string
	created                    time.Time
}

func (b *rb) page(inc, service, title, priority string) *page {
	b.pdNo++
	id := "Q" + strings.ToUpper(hash8(b.s.Name+title) + hash8(fmt.Sprint(b.pdNo)))[:13]
	return &page{b: b, id: id, title: title, service: service, svcID: pdServiceID(service), number: b.pdNo,
		priority: priority, inc: inc, key: hash8(id) + hash8(title) + hash8(service) + hash8("k")}
}

func (p *page) emit(at time.Time, typ, role string, human bool, data map[string]any) {
	agent := map[string]any{"id": p.svcID, "summary": p.service, "type": "service_reference"}
	var client any = map[string]any{"name": "Alertmanager", "url": p.b.s.Alertmanager.ExternalURL}
	if human {
		agent = map[string]any{"id": "PUSER01", "summary": "Robin Oncall", "type": "user_reference"}
		client = nil
	}
	if data == nil {
		var prio any
		if p.priority != "" {
			prio = map[string]any{"id": "P" + strings.ToUpper(hash8(p.priority))[:6], "summary": p.priority, "type": "priority_reference"}
		}
		data = map[string]any{
			"id": p.id, "type": "incident", "self": "https://api.pagerduty.com/incidents/" + p.id,
			"html_url": "https://acme.pagerduty.com/incidents/" + p.id, "number": p.number, "status": p.status,
			"incident_key": p.key, "created_at": p.created.UTC().Format(time.RFC3339), "title": p.title,
			"service":   map[string]any{"id": p.svcID, "summary": p.service, "type": "service_reference"},
			"assignees": []any{map[string]any{"id": "PUSER01", "summary": "Robin Oncall", "type": "user_reference"}},
			"escalation_policy": map[string]any{"id": "PEP" + strings.ToUpper(hash8(p.service))[:4], "summary": p.service + " on-call",
				"type": "escalation_policy_reference"},
			"teams": []any{}, "priority": prio, "urgency": "high", "conference_bridge": nil, "resolve_reason": nil,
		}
	}
	ev := map[string]any{"event": map[string]any{
		"id": "01" + strings.ToUpper(hash8(p.id+typ+at.String()) + hash8(typ+p.id) + hash8(at.String()))[:24], "event_type": typ,
		"resource_type": "incident", "occurred_at": at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"agent": agent, "client": client, "data": data,
	}}
	raw, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	p.b.s.Events = append(p.b.s.Events, replayEvent{At: at, Kind: "pagerduty", Incident: p.inc, Role: role, PagerDuty: raw})
}

func (p *page) trigger(at time.Time, byHand bool) {
	p.created, p.status = at, "triggered"
	role := "page"
	if byHand {
		role = "manual page"
	}
	p.emit(at, "incident.triggered", role, byHand, nil)
}

func (p *page) ack(at time.Time) {
	p.status = "acknowledged"
	p.emit(at, "incident.acknowledged", "", true, nil)
}

func (p *page) resolve(at time.Time) {
	p.status = "resolved"
	p.emit(at, "incident.resolved", "", true, nil)
}

// mergeInto resolves the page as merged into another, as PagerDuty does.
func (p *page) mergeInto(at time.Time, into *page) {
	p.status = "resolved"
	data := map[string]any{
		"id": p.id, "type": "incident", "number": p.number, "status": "resolved", "incident_key": p.key,
		"created_at": p.created.UTC().Format(time.RFC3339), "title": p.title,
		"html_url": "https://acme.pagerduty.com/incidents/" + p.id,
		"service":  map[string]any{"id": p.svcID, "summary": p.service, "type": "service_reference"},
		"resolve_reason": map[string]any{"type": "merge_resolve_reason", "incident": map[string]any{
			"id": into.id, "type": "incident_reference", "summary": fmt.Sprintf("[#%d] %s", into.number, into.title)}},
	}
	p.emit(at, "incident.resolved", "", true, data)
}

func (b *rb) finish() *replayScenario {
	s := b.s
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At.Before(s.Events[j].At) })
	first, last := s.Events[0].At, s.Events[0].At
	for _, ev := range s.Events {
		last = maxT(last, ev.At)
		if ev.Alert != nil && ev.Alert.EndsAt != nil {
			last = maxT(last, *ev.Alert.EndsAt)
		}
	}
	s.Start = first.Add(-30 * time.Minute).Truncate(time.Minute)
	s.End = last.Add(time.Hour).Truncate(time.Minute)
	return s
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func labelKey(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

func pdServiceID(name string) string { return "P" + strings.ToUpper(hash8("svc" + name))[:6] }

func hash8(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

func hashU(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(h[:8])
}

// WriteReplay writes the guard scenarios into dir, one JSON file each.
func WriteReplay(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, s := range ReplayScenarios() {
		if err := writeScenario(filepath.Join(dir, fmt.Sprintf("%02d-%s.json", i+1, s.Name)), s); err != nil {
			return err
		}
	}
	return nil
}

func writeScenario(path string, s *replayScenario) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// streaming is the guard set's topology: a video streaming platform,
// two clusters. It shares no service name with the development set's
// topologies.
func streaming(b *rb) {
	b.service("web-ui", true, 1, true, "edge-lb")
	b.service("edge-lb", true, 1, false, "auth", "catalog-api", "playback-api")
	b.service("auth", true, 1, true, "users-db", "sessions-redis")
	b.service("catalog-api", true, 1, false, "catalog-db", "search")
	b.service("playback-api", true, 1, true, "license-svc", "cdn-origin", "auth")
	b.service("license-svc", false, 1, false, "users-db")
	b.service("cdn-origin", true, 1, true, "object-store")
	b.service("object-store", false, 1, true)
	b.service("transcoder", false, 2, false, "object-store", "kafka")
	b.service("recommendations", true, 3, false, "kafka", "search")
	b.service("search", true, 2, true, "search-es")
	b.service("search-es", false, 2, false)
	b.service("users-db", false, 1, true)
	b.service("catalog-db", false, 2, false)
	b.service("sessions-redis", false, 2, false)
	b.service("kafka", false, 1, true)
	b.service("billing", true, 2, true, "users-db", "kafka")
	b.service("reporting", false, 3, false, "kafka")
}

// ReplayScenarios are the guard set, each after a common failure shape.
func ReplayScenarios() []*replayScenario {
	min := time.Minute
	var out []*replayScenario
	cl := func(c string, kv ...string) map[string]string {
		m := map[string]string{"cluster": c}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	{ // 1: a bad deploy of auth cascades two hops, rolled back.
		b := newRB("auth-deploy-cascade", "auth release breaks token refresh; playback and the web UI fail until rollback",
			"auth v8.4.0 (started and succeeded steps under their own ids) breaks token refresh two minutes after it finishes; playback-api (depends on auth) and edge-lb and web-ui (two hops up) fail; paged P2; rolled back at +14m, symptoms end within five minutes. Noise: a flapping CPU warning on transcoder; an unrelated reporting deploy ten minutes before.", "2026-11-03")
		streaming(b)
		t := b.at(0, "14:10")
		b.incident("T1", "primary", "auth release breaks token refresh", "SEV2", "SEV1", "SEV3", true, []string{"auth-840"},
			"Three customer-facing tier-1 services failing for most users for about 20 minutes.")
		b.incident("N1", "noise", "transcoder CPU flapping", "SEV5", "SEV4", "SEV5", true, nil, "One internal warning, flapping.")
		b.deploy("", "noise", "reporting-311", "reporting-311", "reporting", "succeeded", "3.1.1", "3.1.0", "Weekly report layout", t.Add(-12*min), nil)
		b.deployRun("T1", "cause", "auth-840", "auth", "8.4.0", "8.3.9", "Token refresh rewrite", t.Add(-9*min), 6*min, nil)
		for i := range 3 {
			b.alert("T1", "symptom", "HighErrorRate", "auth", "critical", t.Add(time.Duration(i*20)*time.Second), t.Add(18*min+time.Duration(i)*time.Minute),
				cl("prod-a", "pod", fmt.Sprintf("auth-7d9f-%d", i), "instance", fmt.Sprintf("10.1.2.%d:8080", 10+i)))
		}
		b.alert("T1", "symptom", "ErrorBudgetBurn", "playback-api", "critical", t.Add(90*time.Second), t.Add(20*min), cl("prod-a", "slo", "playback-start"))
		b.alert("T1", "symptom", "HighErrorRate", "edge-lb", "critical", t.Add(2*min), t.Add(19*min), cl("prod-a"))
		for i := range 4 {
			b.alert("T1", "storm", "BlackboxProbeFailed", "web-ui", "critical", t.Add(2*min+time.Duration(i*15)*time.Second), t.Add(19*min+time.Duration(i*20)*time.Second),
				map[string]string{"instance": fmt.Sprintf("https://www.example.tv/%d", i), "job": "blackbox"})
		}
		p := b.page("T1", "auth", "[FIRING:3] HighErrorRate auth", "P2")
		p.trigger(t.Add(3*min), false)
		p.ack(t.Add(5 * min))
		b.deploy("T1", "mitigation", "auth-840-rb", "auth-840", "auth", "rolled_back", "8.3.9", "8.4.0", "Roll back token refresh", t.Add(14*min), nil)
		p.resolve(t.Add(25 * min))
		for i := range 5 {
			s := t.Add(-40*min + time.Duration(i*9)*time.Minute)
			b.alert("N1", "flap", "HostHighCpuLoad", "transcoder", "warning", s, s.Add(3*min), map[string]string{"instance": "transcoder-2:9100", "job": "node"})
		}
		out = append(out, b.finish())
	}

	{ // 2: a storage node dies; a worker the topology does not know shares the node.
		b := newRB("storage-node-failure", "A storage node fails: object-store, the CDN origin and transcoding degrade",
			"storage-node-3 loses power: three object-store instances on it go down (node label), cdn-origin (depends on object-store) serves errors for part of the catalogue, transcoder (depends on it) fails jobs, and thumbnail-worker, which the topology does not list, crash-loops on the same node. No change caused it; a recommendations deploy eight minutes before is unrelated (it does not touch storage).", "2026-11-05")
		streaming(b)
		t := b.at(0, "03:40")
		b.incident("T1", "primary", "storage-node-3 power loss", "SEV3", "SEV2", "SEV3", true, nil,
			"Part of the catalogue fails to play for about 45 minutes: one customer-facing service partly down.")
		b.deploy("", "noise", "recs-12", "recs-12", "recommendations", "succeeded", "12.0", "11.9", "Ranking tweak", t.Add(-8*min), nil)
		for i := range 3 {
			b.alert("T1", "storm", "InstanceDown", "object-store", "critical", t.Add(time.Duration(i*7)*time.Second), t.Add(50*min),
				cl("prod-a", "node", "storage-node-3", "instance", fmt.Sprintf("osd-%d.storage:9283", 30+i)))
		}
		b.alert("T1", "symptom", "HighErrorRate", "cdn-origin", "critical", t.Add(70*time.Second), t.Add(46*min), cl("prod-a"))
		b.alert("T1", "symptom", "KubeJobFailed", "transcoder", "warning", t.Add(4*min), t.Add(52*min), cl("prod-a", "job_name", "transcode-4412"))
		b.alert("T1", "symptom", "KubePodCrashLooping", "thumbnail-worker", "warning", t.Add(3*min), t.Add(49*min),
			cl("prod-a", "node", "storage-node-3", "pod", "thumbnail-worker-5c7-x1"))
		p := b.page("T1", "object-store", "[FIRING:3] InstanceDown object-store", "P3")
		p.trigger(t.Add(2*min), false)
		p.ack(t.Add(6 * min))
		p.resolve(t.Add(55 * min))
		out = append(out, b.finish())
	}

	{ // 3: a slow burn on kafka beside an independent search incident.
		b := newRB("kafka-slow-burn-and-search", "Kafka disks fill for hours, then brokers stop; a separate search release overloads Elasticsearch",
			"A retention change four hours earlier (latent) makes kafka's disks fill: a warning for three hours, then brokers go offline and billing (customer-facing) and reporting fail. A recommendations deploy 20 minutes before the brokers stop is on a consumer and innocent. Separately, ten minutes into it, a search release (deployed six minutes before) overloads search-es: search latency burns its budget for 20 minutes until rolled back. Noise: a sessions-redis memory warning later.", "2026-11-07")
		streaming(b)
		t := b.at(0, "09:00")
		b.incident("T1", "primary", "kafka brokers out of disk", "SEV3", "SEV2", "SEV3", true, nil,
			"Billing (customer-facing, tier 2) failing for 40 minutes; no customer-facing tier-1 service down.")
		b.s.Incidents[0].LatentCauses = []string{"kafka-retention-7d"}
		b.incident("T2", "primary", "search release overloads Elasticsearch", "SEV3", "SEV3", "SEV4", true, []string{"search-52"},
			"Search slow for part of the users for 20 minutes.")
		b.incident("N1", "noise", "sessions-redis near maxmemory", "SEV5", "SEV4", "SEV5", true, nil, "One internal warning.")
		b.deploy("T1", "latent-cause", "kafka-retention-7d", "kafka-retention-7d", "kafka", "succeeded", "retention=7d", "retention=3d", "Raise retention to 7 days", t.Add(-4*time.Hour), nil)
		b.alert("T1", "early warning", "KafkaBrokerDiskFilling", "kafka", "warning", t, t.Add(4*time.Hour), cl("prod-a", "instance", "kafka-0:9308"))
		crit := t.Add(3 * time.Hour)
		b.deploy("", "noise", "recs-13", "recs-13", "recommendations", "succeeded", "13.0", "12.0", "Cache warmup", crit.Add(-20*min), nil)
		b.alert("T1", "symptom", "KafkaBrokerOffline", "kafka", "critical", crit, crit.Add(45*min), cl("prod-a", "instance", "kafka-0:9308"))
		b.alert("T1", "symptom", "ErrorBudgetBurn", "billing", "critical", crit.Add(2*min), crit.Add(42*min), cl("prod-a", "slo", "billing-charge"))
		b.alert("T1", "symptom", "KubeJobFailed", "reporting", "warning", crit.Add(5*min), crit.Add(50*min), cl("prod-a", "job_name", "nightly-1"))
		p := b.page("T1", "kafka", "[FIRING:1] KafkaBrokerOffline kafka", "P3")
		p.trigger(crit.Add(time.Minute), false)
		p.ack(crit.Add(4 * min))
		p.resolve(crit.Add(55 * min))
		s := crit.Add(10 * min)
		b.deployRun("T2", "cause", "search-52", "search", "5.2.0", "5.1.4", "New ranking features", s.Add(-9*min), 3*min, nil)
		for i := range 2 {
			b.alert("T2", "storm", "ElasticsearchHeapUsageTooHigh", "search-es", "critical", s.Add(time.Duration(i*40)*time.Second), s.Add(22*min),
				cl("prod-a", "instance", fmt.Sprintf("es-data-%d:9114", i)))
		}
		b.alert("T2", "symptom", "LatencyBudgetBurn", "search", "critical", s.Add(2*min), s.Add(23*min), cl("prod-a", "slo", "search-latency"))
		b.deploy("T2", "mitigation", "search-52-rb", "search-52", "search", "rolled_back", "5.1.4", "5.2.0", "Roll back ranking", s.Add(15*min), nil)
		b.alert("N1", "noise", "RedisOutOfConfiguredMaxmemory", "sessions-redis", "warning", crit.Add(3*time.Hour), crit.Add(3*time.Hour+12*min), cl("prod-a", "instance", "sessions-redis-0:9121"))
		out = append(out, b.finish())
	}

	{ // 4: a network change the topology does not place, and a separate fault in the other cluster.
		b := newRB("core-switch-upgrade", "A core switch firmware upgrade cuts zone b: databases, caches and brokers drop at once",
			"A network change recorded as a deploy of netops-core (a name no service depends on) upgrades the zone-b core switch; within three minutes users-db, catalog-db, sessions-redis and kafka alert, then auth, catalog-api, playback-api and billing. Paged P1. In the other cluster, minutes later, billing fails on its own after its own deploy (a separate incident).", "2026-11-10")
		streaming(b)
		t := b.at(0, "22:05")
		b.incident("T1", "primary", "zone-b core switch upgrade", "SEV1", "SEV1", "SEV1", true, []string{"netops-core-fw"},
			"Sign-in, catalogue and playback down for all users for an hour and a half.")
		b.incident("T2", "primary", "billing release fails in prod-b", "SEV3", "SEV3", "SEV4", true, []string{"billing-prod-b-77"},
			"Billing (tier 2) fails in one cluster for 20 minutes.")
		b.deploy("T1", "cause", "netops-core-fw", "netops-core-fw", "netops-core", "succeeded", "fw-17.3", "fw-17.1", "Core switch firmware upgrade, zone b", t.Add(-2*min), nil)
		for i, s := range []string{"users-db", "catalog-db", "sessions-redis", "kafka"} {
			name := map[string]string{"users-db": "PostgresDown", "catalog-db": "PostgresDown", "sessions-redis": "RedisDown", "kafka": "KafkaBrokerOffline"}[s]
			b.alert("T1", "symptom", name, s, "critical", t.Add(time.Duration(20+i*25)*time.Second), t.Add(95*min), cl("prod-a", "zone", "b"))
		}
		for i, s := range []string{"auth", "catalog-api", "playback-api", "billing"} {
			b.alert("T1", "symptom", "HighErrorRate", s, "critical", t.Add(2*min+time.Duration(i*20)*time.Second), t.Add(97*min), cl("prod-a"))
		}
		p := b.page("T1", "playback-api", "Playback down everywhere", "P1")
		p.trigger(t.Add(5*min), true)
		p.ack(t.Add(7 * min))
		p.resolve(t.Add(105 * min))
		s := t.Add(6 * min)
		b.deploy("T2", "cause", "billing-prod-b-77", "billing-prod-b-77", "billing", "succeeded", "7.7.0", "7.6.2", "Invoice rounding", s.Add(-4*min),
			map[string]string{"cluster": "prod-b"})
		b.alert("T2", "symptom", "ErrorBudgetBurn", "billing", "critical", s, s.Add(20*min), cl("prod-b", "slo", "billing-charge"))
		out = append(out, b.finish())
	}

	{ // 5: people page first, merge pages, alerts catch up.
		b := newRB("pages-first-and-merged", "Customers report playback failures before any alert; two teams are paged and the pages merged",
			"A CDN origin config change breaks signed URLs for a share of titles. Support pages playback-api by hand (no alert yet), the CDN team is paged by hand four minutes later, responders merge the CDN page into the playback page in PagerDuty, and cdn-origin's alerts fire ten minutes after the first page. The config change 12 minutes before the first page is the cause. Noise: an edge-lb warning hours later.", "2026-11-12")
		streaming(b)
		t := b.at(0, "17:20")
		b.incident("T1", "primary", "cdn-origin signed URL config breaks playback", "SEV2", "SEV2", "SEV3", true, []string{"cdn-cfg-88"},
			"Playback failing for many titles for half an hour.")
		b.incident("N1", "noise", "edge-lb connection warning", "SEV4", "SEV4", "SEV5", true, nil, "A customer-facing warning, minor.")
		b.deploy("T1", "cause", "cdn-cfg-88", "cdn-cfg-88", "cdn-origin", "succeeded", "cfg-88", "cfg-87", "Signed URL key rotation", t.Add(-12*min), nil)
		p1 := b.page("T1", "playback-api", "Customers report playback errors", "P2")
		p1.trigger(t, true)
		p1.ack(t.Add(2 * min))
		p2 := b.page("T1", "cdn-origin", "Origin returning 403 for some titles", "P2")
		p2.trigger(t.Add(4*min), true)
		p2.mergeInto(t.Add(8*min), p1)
		for i := range 3 {
			b.alert("T1", "symptom", "HighErrorRate", "cdn-origin", "critical", t.Add(10*min+time.Duration(i*30)*time.Second), t.Add(38*min),
				cl("prod-a", "instance", fmt.Sprintf("origin-%d:8080", i)))
		}
		b.alert("T1", "symptom", "ErrorBudgetBurn", "playback-api", "critical", t.Add(11*min), t.Add(36*min), cl("prod-a", "slo", "playback-start"))
		b.deploy("T1", "mitigation", "cdn-cfg-88-rb", "cdn-cfg-88", "cdn-origin", "rolled_back", "cfg-87", "cfg-88", "Restore previous signing key", t.Add(30*min), nil)
		p1.resolve(t.Add(45 * min))
		b.alert("N1", "noise", "HighConnectionCount", "edge-lb", "warning", t.Add(4*time.Hour), t.Add(4*time.Hour+15*min), cl("prod-a", "instance", "edge-lb-2:9101"))
		out = append(out, b.finish())
	}

	{ // 6: a day of noise and one blip: nothing should merge.
		b := newRB("quiet-day-noise", "A quiet day: unrelated warnings, a flapping alert, a repeat two hours later, one short blip",
			"Nothing is broken for long: a flapping disk warning on reporting, two crash-looping transcoder pods, a failed billing job, a search probe failing for eight minutes, and the same billing job failing again two hours later (its own incident). Several deploys, none close to a symptom of its own service.", "2026-11-14")
		streaming(b)
		t := b.at(0, "08:00")
		b.incident("N1", "noise", "reporting disk warning flapping", "SEV5", "SEV4", "SEV5", true, nil, "One internal warning, flapping.")
		b.incident("N2", "noise", "transcoder pods crash-looping", "SEV4", "SEV4", "SEV5", true, nil, "Internal, two pods: needs action.")
		b.incident("N3", "noise", "billing batch job failed", "SEV5", "SEV4", "SEV5", true, nil, "Internal batch job.")
		b.incident("T1", "primary", "search probe blip", "SEV4", "SEV3", "SEV5", true, nil, "One probe of a tier-2 service failing for eight minutes.")
		b.incident("N4", "noise", "billing batch job failed again", "SEV5", "SEV4", "SEV5", true, nil, "The same job two hours later: another incident.")
		for i := range 4 {
			s := t.Add(time.Duration(i*11) * time.Minute)
			b.alert("N1", "flap", "HostDiskWillFillIn24Hours", "reporting", "warning", s, s.Add(4*min), map[string]string{"instance": "reporting-1:9100", "job": "node"})
		}
		b.deploy("", "noise", "transcoder-41", "transcoder-41", "transcoder", "succeeded", "4.1", "4.0", "Codec update", t.Add(20*min), nil)
		for i := range 2 {
			b.alert("N2", "storm", "KubePodCrashLooping", "transcoder", "warning", t.Add(90*min+time.Duration(i*40)*time.Second), t.Add(110*min),
				cl("prod-a", "pod", fmt.Sprintf("transcoder-9f-%d", i)))
		}
		b.alert("N3", "noise", "KubeJobFailed", "billing", "warning", t.Add(3*time.Hour), t.Add(3*time.Hour+25*min), cl("prod-a", "job_name", "invoice-run-1"))
		b.alert("T1", "symptom", "BlackboxProbeFailed", "search", "critical", t.Add(4*time.Hour), t.Add(4*time.Hour+8*min),
			map[string]string{"instance": "https://search.example.tv/health", "job": "blackbox"})
		b.alert("N4", "noise", "KubeJobFailed", "billing", "warning", t.Add(5*time.Hour+10*min), t.Add(5*time.Hour+30*min), cl("prod-a", "job_name", "invoice-run-1"))
		out = append(out, b.finish())
	}
	return out
}

// DenseDays writes one long scenario over many services: a random
// topology (seeded), failures of the guard set's shapes (a dependency
// outage cascading to its dependents, a bad deploy, a slow burn, a
// service failing alone) spread over days with noise in between, and the
// truth labelled as the grader's README says. It is how the engine is
// watched at scale: incidents must neither collapse nor explode.
func DenseDays(seed uint64, services, days, failuresPerDay, instances int) *replayScenario {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := newRB(fmt.Sprintf("dense-%dsvc-%dd-seed%d", services, days, seed), "Dense days over a random topology",
		"Generated: failures cascading to dependents, bad deploys, slow burns and single-service faults, with background noise.", "2026-10-01")
	names := make([]string, services)
	tier := map[string]int{}
	for i := range names {
		names[i] = fmt.Sprintf("svc-%03d", i)
	}
	// Layers: the first fifth are datastores, the rest depend on 1-3
	// services of lower index (a DAG).
	for i, n := range names {
		var deps []string
		if i >= services/5 {
			for range 1 + r.IntN(3) {
				d := names[r.IntN(i)]
				if !slices.Contains(deps, d) {
					deps = append(deps, d)
				}
			}
		}
		t := 1 + r.IntN(3)
		tier[n] = t
		b.service(n, i >= services/2 && r.IntN(2) == 0, t, r.IntN(3) == 0, deps...)
	}
	dependents := map[string][]string{}
	for _, n := range names {
		for _, d := range b.s.Services[n].DependsOn {
			dependents[d] = append(dependents[d], n)
		}
	}
	busyUntil := map[string]time.Time{} // a service in a failure takes no other signal meanwhile
	clusters := []string{"prod-a", "prod-b"}
	free := func(s string, from, to time.Time) bool {
		return !busyUntil[s].After(from.Add(-20 * time.Minute))
	}
	id := 0
	start := b.day
	var failures []time.Time
	var noiseDeploys []replayDeploy
	for d := range days {
		for range failuresPerDay {
			id++
			inc := fmt.Sprintf("T%d", id)
			t0 := start.Add(time.Duration(d)*24*time.Hour + time.Duration(r.IntN(24*60))*time.Minute).Add(time.Duration(r.IntN(60)) * time.Second)
			cluster := clusters[r.IntN(2)]
			length := time.Duration(10+r.IntN(50)) * time.Minute
			root := names[r.IntN(services)]
			shape := r.IntN(4)
			if !free(root, t0.Add(-time.Hour), t0.Add(length)) {
				continue
			}
			members := []string{root}
			if shape == 0 || shape == 1 { // cascade to dependents (and theirs)
				for _, x := range dependents[root] {
					if r.IntN(2) == 0 && free(x, t0, t0.Add(length)) {
						members = append(members, x)
						for _, y := range dependents[x] {
							if r.IntN(3) == 0 && free(y, t0, t0.Add(length)) && !slices.Contains(members, y) {
								members = append(members, y)
							}
						}
					}
				}
			}
			causes := []string{}
			if shape == 1 {
				run := fmt.Sprintf("%s-r%d", root, id)
				b.deployRun(inc, "cause", run, root, fmt.Sprintf("v%d", id), fmt.Sprintf("v%d", id-1), "Release", t0.Add(-time.Duration(3+r.IntN(10))*time.Minute), 2*time.Minute,
					map[string]string{"cluster": cluster})
				causes = []string{run}
			}
			if shape == 2 { // slow burn: a warning an hour before
				b.alert(inc, "early warning", "DiskFillingUp", root, "warning", t0.Add(-time.Hour), t0.Add(length), map[string]string{"cluster": cluster, "instance": root + "-0:9100"})
			}
			cf, crit := false, 0
			for i, m := range members {
				s := t0.Add(time.Duration(i*(20+r.IntN(60))) * time.Second)
				sev := "critical"
				if r.IntN(4) == 0 {
					sev = "warning"
				}
				if sev == "critical" && b.s.Services[m].CustomerFacing && tier[m] == 1 {
					crit++
				}
				cf = cf || b.s.Services[m].CustomerFacing
				for k := range 1 + r.IntN(max(instances, 1)) {
					b.alert(inc, "symptom", "HighErrorRate", m, sev, s.Add(time.Duration(k*10)*time.Second), s.Add(length), map[string]string{"cluster": cluster, "instance": fmt.Sprintf("%s-%d:8080", m, k)})
				}
				busyUntil[m] = t0.Add(length + time.Hour)
			}
			sev, lo, hi := "SEV4", "SEV3", "SEV5"
			switch {
			case crit >= 2:
				sev, lo, hi = "SEV2", "SEV1", "SEV3"
			case cf && length >= 15*time.Minute:
				sev, lo, hi = "SEV3", "SEV2", "SEV4"
			}
			b.incident(inc, "primary", root+" failure", sev, lo, hi, true, causes, "generated")
			if r.IntN(3) == 0 {
				p := b.page(inc, root, fmt.Sprintf("[FIRING:%d] HighErrorRate %s (%s)", len(members), root, cluster), "P3")
				p.trigger(t0.Add(2*time.Minute), false)
				p.resolve(t0.Add(length + 5*time.Minute))
			}
			failures = append(failures, t0)
			// Noise: an unrelated warning on a free service that is no
			// neighbour of the failure (an alert on a dependent would be
			// part of it), and an unrelated deploy.
			near := func(n string) bool {
				for _, m := range members {
					if n == m || slices.Contains(b.s.Services[n].DependsOn, m) || slices.Contains(b.s.Services[m].DependsOn, n) {
						return true
					}
				}
				return false
			}
			if n := names[r.IntN(services)]; free(n, t0, t0.Add(time.Hour)) && !near(n) {
				id++
				ni := fmt.Sprintf("N%d", id)
				ns := t0.Add(time.Duration(r.IntN(120)-60) * time.Minute)
				nl := map[string]string{"cluster": clusters[r.IntN(2)], "instance": n + "-9:9100"}
				if r.IntN(3) == 0 { // flapping: up 2-4m every 6-10m for up to an hour
					period := time.Duration(6+r.IntN(5)) * time.Minute
					for k := range 3 + r.IntN(5) {
						fs := ns.Add(time.Duration(k) * period)
						b.alert(ni, "flap", "HostHighCpuLoad", n, "warning", fs, fs.Add(time.Duration(2+r.IntN(3))*time.Minute), nl)
					}
				} else {
					b.alert(ni, "noise", "HostHighCpuLoad", n, "warning", ns, ns.Add(time.Duration(5+r.IntN(20))*time.Minute), nl)
				}
				b.incident(ni, "noise", n+" CPU", "SEV5", "SEV4", "SEV5", true, nil, "generated noise")
				busyUntil[n] = ns.Add(time.Hour)
			}
			if n := names[r.IntN(services)]; !slices.Contains(members, n) {
				noiseDeploys = append(noiseDeploys, replayDeploy{ID: fmt.Sprintf("%s-n%d", n, id), Service: n,
					At: t0.Add(time.Duration(r.IntN(180)-90) * time.Minute)})
			}
		}
	}
	// A routine deploy within an hour before a failure would be a fair
	// suspect; the truth here says unrelated, so keep them apart.
	for _, nd := range noiseDeploys {
		close := false
		for _, f := range failures {
			if d := f.Sub(nd.At); d >= -10*time.Minute && d <= time.Hour {
				close = true
			}
		}
		if !close {
			b.deploy("", "noise", nd.ID, nd.ID, nd.Service, "succeeded", "x", "y", "Routine", nd.At, nil)
		}
	}
	return b.finish()
}
