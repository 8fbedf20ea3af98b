package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/collector/pagerduty"
	"github.com/hindsight-ops/hindsight/config"
)

// GeneratorSeed is the seed of the corpus in testdata/corpus.
const GeneratorSeed uint64 = 20260302

// The simulated Alertmanager: one route per severity, both grouping by
// [alertname, service] (group_wait 30s, group_interval 5m). Critical
// alerts go to the "oncall" receiver (PagerDuty and the Hindsight
// webhook), warnings to "team-slack" (Slack and the Hindsight webhook), so
// a page raised for a critical group carries sha256 of the same groupKey
// Hindsight sees.
const (
	groupWait     = 30 * time.Second
	groupInterval = 5 * time.Minute
	// maxLateness is correlation.max_lateness (its default): the late
	// family delays deliveries by up to this much.
	maxLateness = 10 * time.Minute
)

var clusters = [2]string{"prod-eu-1", "prod-us-1"}

// priorityFloor is the scenarios' pagerduty.priority_floor (the example of
// spec/config.md).
var priorityFloor = map[string]string{"P1": "SEV1", "P2": "SEV2"}

// Family describes one scenario family of the catalogue.
type Family struct {
	Name     string
	Variants int
	// Catalogue lists the items of research/correlation.md §8.3 covered.
	Catalogue string
	// About says what the family's scenarios contain and what the truth is.
	About string
	gen   func(b *builder, v int)
}

// Families returns the scenario families, in corpus order.
func Families() []Family { return families }

var families = []Family{
	{"single-service", 15, "1", "One service fails on its own: 1-4 alerts (different alert names and instances) fire within minutes and resolve; one incident. One variant in six is a security alert (category=security, SEV1).", genSingle},
	{"flapping", 12, "2", "One alert fires and resolves 8-16 times, 1-8 minutes apart, sometimes beside a steady alert on the same service; one incident.", genFlapping},
	{"refire", 12, "3", "An alert resolves and fires again 2-10 minutes later (same incident), then again after 90-180 quiet minutes (a new incident).", genRefire},
	{"dependency-outage", 20, "4, 7", "A datastore fails; 2-6 of its direct dependents (other namespaces too) alert within 30s-8m; in 2 of 5 variants the dependents' own dependents (two hops) alert as well; in about a third the dependents alert before the datastore's own alert. One incident.", genDependency},
	{"concurrent-unrelated", 15, "5", "Two or three services with no dependency between them fail within 5 minutes of each other in the same cluster (separate incidents); in 3 of 10 variants a datastore outage in one cluster coincides with its dependent's own fault in the other cluster.", genConcurrent},
	{"chain", 15, "8", "A -> B -> C: C fails and B (which depends on C) alerts; A has its own, unrelated fault in the same minutes. Two incidents: {C, B} and {A}. A must not join through B.", genChain},
	{"storm", 12, "4, 17, 18 (scaled down)", "A cluster-wide failure: 2-5 nodes not ready and 8-16 services (related or not) alert within 6 minutes, 20-50 alerts; one incident. Half the variants add an unrelated alert in the other cluster.", genStorm},
	{"slow-burn", 10, "6", "A disk fills over about three hours: a prediction warning, then low, then critical, all on one datastore; in half the variants a dependent's latency alert joins at the critical stage. One incident.", genSlowBurn},
	{"late-duplicate", 15, "15, 16", "A single-service, dependency or re-fire incident, then a new incident on the same service 1-2h later; every delivery is delayed by 0-10m (max_lateness), a third are delivered twice (HA pair) and firing alerts are resent every group_interval.", genLate},
	{"deploy-cause", 20, "9, 12", "A deploy causes the incident: of the failing service 1-15 minutes before (or in progress at) the first symptom, of a dependency 1-15 minutes before, a second older deploy in the window, or rolled back during the incident. Truth: that deploy.", genDeployCause},
	{"deploy-after", 12, "-", "A service fails on its own; its deploy (a fix or a routine rollout) starts 30s-15m after the first symptom. No cause.", genDeployAfter},
	{"deploy-coincidental", 12, "10", "A service fails on its own 1-10 minutes after a deploy of a service it does not depend on (unrelated, or one of its dependents). No cause.", genDeployCoincidental},
	{"pagerduty", 15, "13", "Pages raised by Alertmanager (incident_key = sha256(groupKey)) and by another integration on a mapped PagerDuty service, acknowledged and resolved, for one or two concurrent incidents.", genPagerDuty},
	{"monitoring-gap", 15, "14", "A page nobody's alert raised: alone (mapped or unmapped PagerDuty service) beside an unrelated alerting incident, or first, with the service's alerts catching up 2-8 minutes later (one incident).", genMonitoringGap},
	{"deploy-preexisting", 12, "11", "A service's alert is already firing when its own deploy starts (since 15-100 minutes), or fires and resolves 3-6 times, 2-10 minutes apart, in the 0.5-2h before and again 1-4 minutes after the deploy, or fired 1.5-2h before and fires again 1-10 minutes after it. Truth: no cause (the errors predate the deploy); one incident, except that a re-fire after 90+ quiet minutes is a new incident, as in refire.", genPreexisting},
	{"deploy-two", 12, "12", "Two deploys 1-20 minutes before the first symptom: the failing service's and its dependency's (either may be the later), or the service's and an unrelated service's in its namespace. Truth: the failing service's own deploy, except where the dependency itself fails first or with it and is rolled back, which ends the incident: then the dependency's deploy.", genTwoDeploys},
	{"am-restart", 12, "16", "A service's fault or a datastore outage (with dependents), sometimes beside an unrelated fault, in a cluster whose Alertmanager is simulated per aggregation group (group_wait, group_interval, notification log). 3-12 minutes in it restarts (down 20s-3m, log lost: every group re-sends its firing alerts, same fingerprints and startsAt; notifications due while it was down arrive together; a group left with only resolved alerts never sends them) or reloads (groups re-created and flushed at once). 1-2 new alerts join the same group afterwards. Truth: by fault, as if nothing restarted.", genAMRestart},
	{"coarse-groupby", 12, "17", "3-6 services with no dependency between them fail on their own within 15-45 minutes in one cluster, whose Alertmanager has one route grouping by cluster only: one group, notified every group_interval with all its alerts, carries them all (and the background there). Truth: one incident per fault; the shared groupKey is not evidence.", genCoarse},
	{"maintenance", 12, "19", "A service's fault or a datastore outage while a planned maintenance drains 2-4 nodes of the same cluster (from 15 minutes before to 10 after): KubeNodeUnschedulable (info) and KubePodNotReady / KubeDeploymentReplicasMismatch (warning) of rescheduled pods of unrelated services; no silence, the node alerts silenced beforehand, or a silence added 3-8 minutes in, which mutes later notifications and the resolutions. Truth: the maintenance is one incident of its own, not part of the fault.", genMaintenance},
}

// Generate builds the corpus: every family's variants, each from its own
// seed derived from seed, the family and the variant, so a scenario does
// not change when another is added.
func Generate(seed uint64) []*Scenario {
	var out []*Scenario
	n := 0
	for _, f := range families {
		for v := range f.Variants {
			b := newBuilder(f.Name, v, scenarioSeed(seed, f.Name, v), n)
			f.gen(b, v)
			out = append(out, b.finish())
			n++
		}
	}
	return out
}

func scenarioSeed(seed uint64, family string, v int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", family, v)
	return seed ^ h.Sum64()
}

// builder makes one scenario.
type builder struct {
	r       *rand.Rand
	sc      *Scenario
	cfg     *config.Config
	t0      time.Time
	cluster string // the primary cluster
	other   string
	evs     []pending
	incs    []*TrueIncident
	pdN     int
	// busy[cluster][service] marks services with an incident, so that
	// background incidents stay unrelated to them.
	busy      map[string]map[string]bool
	instances map[string]string
	// Delivery: lateness > 0 delays every delivery uniformly up to it;
	// dupProb delivers an event twice; resend resends firing alerts every
	// group_interval while they fire.
	lateness time.Duration
	dupProb  float64
	resend   bool
	// am, when set, is the cluster whose Alertmanager is simulated group
	// by group (aggregation groups, group_interval, restarts): its alerts
	// are held in sent and delivered by flushAM. coarse routes that
	// cluster's alerts into one group per cluster (group_by: [cluster]).
	am     string
	coarse bool
	sent   []*sentAlert
	// mute, when set, says whether a silence mutes a notification of
	// these labels sent at a time: the notification is not delivered.
	mute func(labels map[string]string, at time.Time) bool
}

type pending struct {
	le    LabelledEvent
	order int
}

func newBuilder(family string, v int, seed uint64, n int) *builder {
	r := rand.New(rand.NewPCG(seed, seed>>1|1))
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
	t0 := day.Add(6*time.Hour + time.Duration(r.IntN(12*3600))*time.Second)
	ci := r.IntN(2)
	b := &builder{
		r: r,
		sc: &Scenario{
			ID:            fmt.Sprintf("%s-%02d", family, v+1),
			Family:        family,
			Seed:          seed,
			Services:      specs(),
			PriorityFloor: priorityFloor,
		},
		t0:        t0,
		cluster:   clusters[ci],
		other:     clusters[1-ci],
		busy:      map[string]map[string]bool{},
		instances: map[string]string{},
	}
	b.cfg = b.sc.Config()
	return b
}

// Random helpers. Durations are whole seconds.

func (b *builder) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(b.r.Int64N(int64((hi-lo)/time.Second)+1))*time.Second
}

func (b *builder) chance(p float64) bool { return b.r.Float64() < p }

func (b *builder) intn(lo, hi int) int { return lo + b.r.IntN(hi-lo+1) }

func pick[T any](b *builder, xs []T) T { return xs[b.r.IntN(len(xs))] }

func (b *builder) shuffled(xs []string) []string {
	out := slices.Clone(xs)
	b.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func (b *builder) hexN(n int) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for range n {
		s.WriteByte(digits[b.r.IntN(16)])
	}
	return s.String()
}

// incident starts a true incident and returns its id.
func (b *builder) incident(notes string) string {
	id := fmt.Sprintf("I%d", len(b.incs)+1)
	b.incs = append(b.incs, &TrueIncident{ID: id, Notes: notes})
	return id
}

func (b *builder) truth(id string) *TrueIncident {
	for _, ti := range b.incs {
		if ti.ID == id {
			return ti
		}
	}
	panic("unknown incident " + id)
}

func (b *builder) reserve(cluster, svc string) {
	if b.busy[cluster] == nil {
		b.busy[cluster] = map[string]bool{}
	}
	b.busy[cluster][svc] = true
}

// free reports whether a background incident on svc in cluster would be
// unrelated to everything else there.
func (b *builder) free(cluster, svc string) bool {
	for s := range b.busy[cluster] {
		if related(s, svc) {
			return false
		}
	}
	return true
}

// add queues an event delivered at received (and perhaps again later).
func (b *builder) add(le LabelledEvent, received time.Time) {
	le.Event.ReceivedAt = received
	b.evs = append(b.evs, pending{le: le, order: len(b.evs)})
	if b.dupProb > 0 && b.chance(b.dupProb) {
		dup := le
		dup.Event.ReceivedAt = received.Add(b.between(time.Second, 2*time.Minute))
		b.evs = append(b.evs, pending{le: dup, order: len(b.evs)})
	}
}

// delay is how long after at an event reaches Hindsight: normally the
// sender's own delay (lo..hi), in the late family anything up to
// max_lateness.
func (b *builder) delay(at time.Time, lo, hi time.Duration) time.Time {
	if b.lateness > 0 {
		return at.Add(b.between(0, b.lateness))
	}
	return at.Add(b.between(lo, hi))
}

// instance returns a stable instance label for the i-th instance of svc in
// cluster, and the pod name for services that run in pods.
func (b *builder) instance(svc, cluster string, i int) (string, string) {
	key := fmt.Sprintf("%s|%s|%d", svc, cluster, i)
	if v, ok := b.instances[key]; ok {
		inst, pod, _ := strings.Cut(v, "|")
		return inst, pod
	}
	var inst, pod string
	octet := 10
	if cluster == clusters[1] {
		octet = 20
	}
	switch svcOf(svc).kind {
	case kindHTTP, kindWorker:
		inst = fmt.Sprintf("10.%d.%d.%d:8080", octet+b.r.IntN(4), b.r.IntN(256), 2+b.r.IntN(250))
		pod = fmt.Sprintf("%s-%s-%s", svc, b.hexN(9), b.hexN(5))
	default:
		port := map[string]int{kindPostgres: 9187, kindRedis: 9121, kindKafka: 9308, kindElastic: 9114}[svcOf(svc).kind]
		inst = fmt.Sprintf("%s-%d.%s.svc:%d", svc, i, svcOf(svc).ns, port)
	}
	b.instances[key] = inst + "|" + pod
	return inst, pod
}

// amAlert is a generated alert episode.
type amAlert struct {
	name       string
	severity   string
	groupKey   string
	svc        string
	start, end time.Time
	// flushed and resolvedFlush are when Alertmanager notified its
	// firing and its resolution.
	flushed, resolvedFlush time.Time
}

// alertSpec describes one alert episode.
type alertSpec struct {
	inc     string
	svc     string
	def     alertDef
	cluster string // "" for the primary cluster
	inst    int
	start   time.Time
	end     time.Time // zero: still firing at the end of the scenario
	node    string    // a node alert: no service label, job kube-state-metrics
}

// alert generates the firing (and resolved) notifications of one alert
// episode, decoded by the Alertmanager collector exactly as a webhook
// would be.
func (b *builder) alert(a alertSpec) amAlert {
	cl := a.cluster
	if cl == "" {
		cl = b.cluster
	}
	labels := map[string]string{"alertname": a.def.name, "severity": a.def.severity, "cluster": cl}
	if a.node != "" {
		labels["node"] = a.node
		labels["job"] = "kube-state-metrics"
		labels["instance"] = "kube-state-metrics.monitoring.svc:8080"
	} else {
		inst, pod := b.instance(a.svc, cl, a.inst)
		labels["service"] = a.svc
		labels["job"] = a.svc
		labels["namespace"] = svcOf(a.svc).ns
		labels["instance"] = inst
		if pod != "" {
			labels["pod"] = pod
		}
	}
	for k, v := range a.def.labels {
		labels[k] = v
	}
	ls := model.LabelSet{}
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	fp := ls.Fingerprint().String()
	gl := model.LabelSet{"alertname": model.LabelValue(a.def.name)}
	if s := labels["service"]; s != "" {
		gl["service"] = model.LabelValue(s)
	}
	receiver := "team-slack"
	if a.def.severity == "critical" {
		receiver = "oncall"
	}
	gk := fmt.Sprintf("{}/{severity=%q}:%s", a.def.severity, gl.String())
	ann := map[string]string{"summary": fmt.Sprintf("%s: %s", cmp.Or(labels["service"], labels["node"]), a.def.summary)}
	out := amAlert{name: a.def.name, severity: a.def.severity, groupKey: gk, svc: b.cfg.ServiceFor(labels), start: a.start, end: a.end}
	b.reserve(cl, out.svc)

	decode := func(status string) collector.Event {
		end := "0001-01-01T00:00:00Z"
		if status == "resolved" {
			end = a.end.Format(time.RFC3339)
		}
		raw, err := json.Marshal(alertmanager.Alert{
			Status: status, Labels: labels, Annotations: ann,
			StartsAt: a.start.Format(time.RFC3339), EndsAt: end, Fingerprint: fp,
		})
		if err != nil {
			panic(err)
		}
		body, err := json.Marshal(alertmanager.Message{
			Receiver: receiver, Status: status, Alerts: []json.RawMessage{raw},
			GroupLabels:  map[string]string{"alertname": a.def.name, "service": labels["service"]},
			CommonLabels: labels, CommonAnnotations: ann, Version: "4", GroupKey: gk,
		})
		if err != nil {
			panic(err)
		}
		_, evs, err := alertmanager.Decode(body)
		if err != nil {
			panic(fmt.Sprintf("generated webhook does not decode: %v", err))
		}
		ev := evs[0]
		ev.Service = b.cfg.ServiceFor(ev.Labels)
		return ev
	}

	if cl == b.am {
		b.hold(a, labels, ann, fp, &out)
		return out
	}
	fire := decode("firing")
	out.flushed = b.delay(a.start, groupWait, groupWait+time.Minute)
	if b.mute != nil && b.mute(labels, out.flushed) {
		return out
	}
	b.add(LabelledEvent{Incident: a.inc, Event: fire}, out.flushed)
	if b.resend {
		// Alertmanager repeats the group's firing alerts on every change
		// of the group, at most every group_interval.
		last := a.end
		if last.IsZero() {
			last = a.start.Add(time.Hour)
		}
		for at := out.flushed.Add(groupInterval); at.Before(last) && at.Sub(out.flushed) <= 30*time.Minute; at = at.Add(groupInterval) {
			if b.chance(0.5) {
				b.add(LabelledEvent{Incident: a.inc, Event: fire}, at)
			}
		}
	}
	if !a.end.IsZero() {
		out.resolvedFlush = b.delay(a.end, 5*time.Second, groupInterval)
		if b.mute != nil && b.mute(labels, out.resolvedFlush) {
			return out
		}
		b.add(LabelledEvent{Incident: a.inc, Event: decode("resolved")}, out.resolvedFlush)
	}
	return out
}

// fault generates the n alerts of one service failing from start to about
// end: the first of defs at start, the others (other alerts of defs, or
// the same on other instances) within four minutes.
func (b *builder) fault(inc, svc, cluster string, defs []alertDef, start, end time.Time, n int) []amAlert {
	var out []amAlert
	used := map[string]bool{}
	for i := range n {
		def := defs[0]
		inst := 0
		s := start
		if i > 0 {
			if len(defs) > 1 && b.chance(0.6) {
				def = defs[1+b.r.IntN(len(defs)-1)]
			}
			inst = b.r.IntN(3)
			s = start.Add(b.between(0, 4*time.Minute))
		}
		key := fmt.Sprintf("%s/%d", def.name, inst)
		for j := 0; used[key] && j < 3; j++ {
			inst++
			key = fmt.Sprintf("%s/%d", def.name, inst)
		}
		if used[key] {
			continue
		}
		used[key] = true
		e := end.Add(b.between(0, 4*time.Minute) - 2*time.Minute)
		if e.Before(s.Add(time.Minute)) {
			e = s.Add(time.Minute + b.between(0, time.Minute))
		}
		out = append(out, b.alert(alertSpec{inc: inc, svc: svc, def: def, cluster: cluster, inst: inst, start: s, end: e}))
	}
	return out
}

// pageSpec describes one PagerDuty incident and what happened to it.
type pageSpec struct {
	inc string
	// svc is the service whose pagerduty_service_ids holds pdServiceID;
	// "" for a PagerDuty service Hindsight does not map.
	svc                          string
	pdServiceID, pdService       string
	title, priority, incidentKey string
	triggered, acked, resolved   time.Time
}

// page generates the PagerDuty webhook events of one PagerDuty incident,
// as the PagerDuty collector produces them.
func (b *builder) page(p pageSpec) {
	b.pdN++
	id := "Q" + strings.ToUpper(b.hexN(6)) + "X" + strings.ToUpper(b.hexN(6))
	num := fmt.Sprint(4100 + b.pdN*7)
	base := collector.PagerDuty{
		IncidentNumber: num,
		HTMLURL:        "https://acme.pagerduty.com/incidents/" + id,
		Title:          p.title,
		ServiceName:    p.pdService,
		ServiceID:      p.pdServiceID,
		Urgency:        "high",
		Priority:       p.priority,
		IncidentKey:    p.incidentKey,
	}
	oncall := pick(b, []string{"Dana Oncall", "Sam Second", "Kim Primary", "Alex Backup"})
	emit := func(action, kind string, at time.Time, set func(*collector.PagerDuty)) {
		pd := base
		set(&pd)
		ev := collector.Event{
			ID:        pagerduty.EventKey(id, action, at),
			Source:    collector.SourcePagerDuty,
			Kind:      kind,
			At:        at,
			Service:   p.svc,
			Summary:   fmt.Sprintf("#%s %s %s", num, p.title, action),
			PagerDuty: &pd,
			Ref:       collector.Ref{PagerDutyIncidentID: id, PagerDutyEventID: "P" + strings.ToUpper(b.hexN(13))},
		}
		b.add(LabelledEvent{Incident: p.inc, Event: ev}, b.delay(at, time.Second, 5*time.Second))
	}
	emit("triggered", pagerduty.KindTriggered, p.triggered, func(pd *collector.PagerDuty) {
		pd.Status, pd.Assignees = "triggered", []string{oncall}
	})
	if !p.acked.IsZero() {
		emit("acknowledged", pagerduty.KindAcknowledged, p.acked, func(pd *collector.PagerDuty) {
			pd.Status, pd.Agent, pd.AgentType = "acknowledged", oncall, "user_reference"
		})
	}
	if !p.resolved.IsZero() {
		agent, typ := oncall, "user_reference"
		if p.incidentKey != "" {
			agent, typ = "Alertmanager", "service_reference"
		}
		emit("resolved", pagerduty.KindResolved, p.resolved, func(pd *collector.PagerDuty) {
			pd.Status, pd.Agent, pd.AgentType = "resolved", agent, typ
		})
	}
}

// amPage pages for a critical alert's group the way Alertmanager's
// PagerDuty integration does: triggered in the group's first
// notification, resolved in the notification of its resolution.
func (b *builder) amPage(inc string, a amAlert, priority string) {
	sum := sha256.Sum256([]byte(a.groupKey))
	p := pageSpec{
		inc: inc, svc: a.svc, pdServiceID: svcOf(a.svc).pd, pdService: a.svc + " (prod)",
		title:       fmt.Sprintf("[FIRING:1] %s %s", a.name, a.svc),
		priority:    priority,
		incidentKey: hex.EncodeToString(sum[:]),
		triggered:   a.flushed.Add(b.between(time.Second, 3*time.Second)),
	}
	if p.pdServiceID == "" {
		p.svc = ""
	}
	if b.chance(0.8) {
		p.acked = p.triggered.Add(b.between(time.Minute, 6*time.Minute))
		if !a.end.IsZero() && !p.acked.Before(a.end) {
			p.acked = time.Time{}
		}
	}
	if !a.end.IsZero() {
		p.resolved = a.resolvedFlush.Add(b.between(time.Second, 10*time.Second))
		if b.lateness > 0 {
			p.resolved = a.end.Add(b.between(time.Second, groupInterval))
		}
	}
	b.page(p)
}

// deployStep is one step of a deploy.
type deployStep struct {
	status string
	at     time.Time
}

// deploy generates the events of one deploy, decoded by the deploy
// collector from the canonical format, and returns its id.
func (b *builder) deploy(svc, causeOf string, steps ...deployStep) string {
	minor := b.intn(10, 80)
	d := deploy.Deploy{
		ID:              fmt.Sprintf("argocd:%s:%s-prod:%s", b.cluster, svc, b.hexN(8)),
		Service:         svc,
		Environment:     "prod",
		Version:         fmt.Sprintf("v2.%d.0", minor),
		PreviousVersion: fmt.Sprintf("v2.%d.0", minor-1),
		Author:          pick(b, []string{"jdoe", "mlee", "ci-bot", "rpatel"}),
		Commit:          b.hexN(40),
		Labels:          map[string]string{"cluster": b.cluster, "team": svcOf(svc).ns},
	}
	for _, st := range steps {
		step := d
		step.Status = st.status
		step.At = st.at.Format(time.RFC3339)
		if st.status == deploy.StatusRolledBack {
			// What runs afterwards is the release rolled back to.
			step.Version, step.PreviousVersion = d.PreviousVersion, d.Version
		}
		ev, err := step.Event()
		if err != nil {
			panic(fmt.Sprintf("generated deploy does not decode: %v", err))
		}
		b.add(LabelledEvent{CauseOf: causeOf, Event: ev}, b.delay(st.at, time.Second, 10*time.Second))
	}
	if causeOf != "" {
		b.truth(causeOf).Cause = d.ID
	}
	return d.ID
}

// rollout is the steps of a deploy that starts at started and ends with
// status after took.
func rollout(started time.Time, took time.Duration, status string) []deployStep {
	return []deployStep{{deploy.StatusStarted, started}, {status, started.Add(took)}}
}

// span is the event-time range of the events so far.
func (b *builder) span() (time.Time, time.Time) {
	var lo, hi time.Time
	for _, p := range b.evs {
		at := p.le.Event.At
		if lo.IsZero() || at.Before(lo) {
			lo = at
		}
		if at.After(hi) {
			hi = at
		}
	}
	for _, sa := range b.sent { // alerts held for the simulated Alertmanager
		if lo.IsZero() || sa.start.Before(lo) {
			lo = sa.start
		}
		hi = maxTime(hi, sa.start, sa.end)
	}
	return lo, hi
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// noise adds n background incidents: one service failing briefly on its
// own, somewhere unrelated to every other incident of its cluster (one in
// five in the other cluster), at any time from 30 minutes before the
// scenario's first event to 30 minutes after its last.
func (b *builder) noise(n int) {
	lo, hi := b.span()
	lo, hi = lo.Add(-30*time.Minute), hi.Add(30*time.Minute)
	for range n {
		cl := b.cluster
		if b.chance(0.2) {
			cl = b.other
		}
		var cands []string
		for _, s := range serviceNames(nil) {
			if b.free(cl, s) {
				cands = append(cands, s)
			}
		}
		if len(cands) == 0 {
			continue
		}
		svc := pick(b, cands)
		defs := symptomAlerts[svcOf(svc).kind]
		def := pick(b, defs)
		if b.chance(0.3) {
			def = downAlerts[svcOf(svc).kind][0]
		}
		inc := b.incident(fmt.Sprintf("background: %s %s in %s", svc, def.name, cl))
		s := lo.Add(b.between(0, hi.Sub(lo)))
		b.fault(inc, svc, cl, []alertDef{def, pick(b, defs)}, s, s.Add(b.between(2*time.Minute, 20*time.Minute)), b.intn(1, 2))
	}
}

// noiseDeploys adds n deploys of services unrelated to every incident.
func (b *builder) noiseDeploys(n int) {
	lo, hi := b.span()
	for range n {
		var cands []string
		for _, s := range serviceNames(nil) {
			ok := true
			for _, busy := range b.busy {
				for u := range busy {
					ok = ok && !related(s, u)
				}
			}
			if ok {
				cands = append(cands, s)
			}
		}
		if len(cands) == 0 {
			return
		}
		at := lo.Add(b.between(-20*time.Minute, hi.Sub(lo)))
		b.deploy(pick(b, cands), "", rollout(at, b.between(2*time.Minute, 6*time.Minute), deploy.StatusSucceeded)...)
	}
}

// finish orders the events by arrival, derives each incident's true
// severity and returns the scenario.
func (b *builder) finish() *Scenario {
	slices.SortStableFunc(b.evs, func(x, y pending) int {
		if c := x.le.Event.ReceivedAt.Compare(y.le.Event.ReceivedAt); c != 0 {
			return c
		}
		return x.order - y.order
	})
	sc := b.sc
	for _, p := range b.evs {
		sc.Events = append(sc.Events, p.le)
	}
	var notes []string
	for _, ti := range b.incs {
		ti.Severity, ti.SeverityWhy = TrueSeverity(sc, ti.ID)
		sc.Incidents = append(sc.Incidents, *ti)
		if !strings.HasPrefix(ti.Notes, "background") {
			notes = append(notes, ti.ID+": "+ti.Notes)
		}
	}
	sc.Notes = strings.Join(notes, "; ")
	return sc
}

// TrueSeverity derives a true incident's severity from the scenario by
// the SEV table of spec/postmortem.md as the grader's labelling rules
// read it (SEVTable, shared with the held-back-like sets), over the
// incident's true members, its alert events and pages:
//
//   - SEV1: a security alert (category=security); three or more
//     customer-facing tier-1 services critical (or the frontend and
//     another) for 30 minutes or more; one for over an hour;
//   - SEV4: a customer-facing service critical for under 10 minutes (a
//     blip);
//   - SEV2: a customer-facing tier-1 service critical;
//   - SEV3: a customer-facing tier-2 service critical;
//   - SEV4: a customer-facing tier-3 service critical, warnings on
//     customer-facing services, or an internal service critical (it needs
//     action, customers can still work);
//   - SEV5: warnings on internal services only.
//
// Then a page's priority raises it to pagerduty.priority_floor (P1: SEV1,
// P2: SEV2). Services are attributed as Hindsight does (service_labels for
// alerts, the mapped PagerDuty service for pages); the duration runs from
// the earliest to the latest event time of the members.
//
// Until this revision the rule followed the engine's old default rules
// instead (any customer-facing critical alert SEV2, any critical SEV3,
// any warning SEV4), which the SEV table and the labelling rules
// contradict.
func TrueSeverity(sc *Scenario, inc string) (string, string) {
	cfg := sc.Config()
	var first, last time.Time
	var security bool
	crit, warn := map[string]bool{}, map[string]bool{}
	floor := ""
	for _, le := range sc.Events {
		if le.Incident != inc {
			continue
		}
		ev := le.Event
		if first.IsZero() || ev.At.Before(first) {
			first = ev.At
		}
		if ev.At.After(last) {
			last = ev.At
		}
		if ev.Source == collector.SourceAlertmanager {
			svc := cfg.ServiceFor(ev.Labels)
			switch ev.Labels["severity"] {
			case "critical", "page":
				crit[svc] = true
			case "warning":
				warn[svc] = true
			}
			security = security || ev.Labels["category"] == "security"
		}
		if ev.Source != collector.SourcePagerDuty || ev.PagerDuty == nil {
			continue
		}
		if f, ok := sc.PriorityFloor[ev.PagerDuty.Priority]; ok && (floor == "" || f < floor) {
			floor = f
		}
	}
	f := SevFacts{Security: security, Length: last.Sub(first)}
	for svc := range crit {
		s := cfg.Service(svc)
		switch {
		case s.CustomerFacing && s.Tier > 0 && s.Tier <= 1:
			f.CFTier1Critical++
			f.CFCritical++
			f.EntryCritical = f.EntryCritical || svc == "frontend"
		case s.CustomerFacing:
			f.CFCritical++
			if s.Tier >= 3 {
				f.CFTier3Critical++
			}
		default:
			f.InternalCritical = true
		}
	}
	for svc := range warn {
		f.CFWarning = f.CFWarning || cfg.Service(svc).CustomerFacing && !crit[svc]
	}
	sev, _, _, why := SEVTable(f)
	if floor != "" && floor < sev {
		sev, why = floor, why+"; raised by the page's priority"
	}
	return sev, why
}

// Family generators. b.t0 is the first symptom of the scenario's focal
// incident.

func httpOrWorker(s svcDef) bool { return s.kind == kindHTTP || s.kind == kindWorker }

func genSingle(b *builder, v int) {
	T := b.t0
	if v%6 == 5 {
		svc := pick(b, []string{"frontend", "auth"})
		inc := b.incident(svc + ": credential-stuffing attack (security)")
		b.fault(inc, svc, "", []alertDef{wafAttack, latencyP99}, T, T.Add(b.between(8*time.Minute, 30*time.Minute)), b.intn(1, 2))
		b.noise(b.intn(1, 3))
		return
	}
	svc := pick(b, serviceNames(httpOrWorker))
	inc := b.incident(svc + ": fails on its own")
	als := b.fault(inc, svc, "", downAlerts[svcOf(svc).kind], T, T.Add(b.between(4*time.Minute, 45*time.Minute)), b.intn(1, 4))
	if als[0].severity == "critical" && b.chance(0.3) {
		b.amPage(inc, als[0], pick(b, []string{"", "P2", "P3"}))
	}
	b.noise(b.intn(1, 3))
}

func genFlapping(b *builder, v int) {
	svc := pick(b, serviceNames(func(s svcDef) bool { return s.kind != kindKafka }))
	def := pick(b, downAlerts[svcOf(svc).kind])
	flips := b.intn(8, 16)
	inc := b.incident(fmt.Sprintf("%s: %s flaps %d times", svc, def.name, flips))
	t := b.t0
	for range flips {
		d := b.between(time.Minute, 4*time.Minute)
		b.alert(alertSpec{inc: inc, svc: svc, def: def, start: t, end: t.Add(d)})
		t = t.Add(d + b.between(time.Minute, 8*time.Minute))
	}
	if v%2 == 0 {
		defs := symptomAlerts[svcOf(svc).kind]
		steady := defs[len(defs)-1]
		if steady.name == def.name {
			steady = defs[0]
		}
		if steady.name != def.name {
			b.alert(alertSpec{inc: inc, svc: svc, def: steady, inst: 1, start: b.t0.Add(b.between(0, 5*time.Minute)), end: t.Add(-b.between(0, 5*time.Minute))})
		}
	}
	b.noise(b.intn(2, 4))
}

func genRefire(b *builder, v int) {
	svc := pick(b, serviceNames(nil))
	defs := downAlerts[svcOf(svc).kind]
	di := b.r.IntN(2)
	def := defs[di]
	i1 := b.incident(fmt.Sprintf("%s: %s fires, resolves and fires again within minutes", svc, def.name))
	s := b.t0
	e := s.Add(b.between(4*time.Minute, 20*time.Minute))
	b.alert(alertSpec{inc: i1, svc: svc, def: def, start: s, end: e})
	if v%4 != 3 {
		s = e.Add(b.between(2*time.Minute, 10*time.Minute))
		e = s.Add(b.between(3*time.Minute, 15*time.Minute))
		b.alert(alertSpec{inc: i1, svc: svc, def: def, start: s, end: e})
	}
	quiet := b.between(90*time.Minute, 180*time.Minute)
	i2 := b.incident(fmt.Sprintf("%s: %s fires again after %s quiet (a new fault)", svc, def.name, quiet))
	s = e.Add(quiet)
	e = s.Add(b.between(5*time.Minute, 30*time.Minute))
	b.alert(alertSpec{inc: i2, svc: svc, def: def, start: s, end: e})
	if b.chance(0.4) {
		other := defs[(di+1)%len(defs)]
		b.alert(alertSpec{inc: i2, svc: svc, def: other, inst: 1, start: s.Add(b.between(0, 3*time.Minute)), end: e})
	}
	b.noise(b.intn(2, 4))
}

// outage generates a datastore outage from T to about T+length: the
// datastore's own alerts and its dependents' symptoms, and returns the
// datastore's primary alert.
func (b *builder) outage(inc, root, cluster string, deps []string, T time.Time, length time.Duration, rootFirst bool) amAlert {
	rootStart := T
	if !rootFirst {
		rootStart = T.Add(b.between(time.Minute, 3*time.Minute))
	}
	end := T.Add(length)
	rootAlerts := b.fault(inc, root, cluster, downAlerts[svcOf(root).kind], rootStart, end, b.intn(1, 2))
	for i, d := range deps {
		s := T.Add(b.between(30*time.Second, 8*time.Minute))
		if !rootFirst && i == 0 {
			s = T
		}
		b.fault(inc, d, cluster, symptomAlerts[svcOf(d).kind], s, end.Add(b.between(0, 3*time.Minute)), b.intn(1, 3))
	}
	return rootAlerts[0]
}

func genDependency(b *builder, v int) {
	roots := serviceNames(func(s svcDef) bool { return isDatastore(s.name) && len(dependents(s.name)) >= 2 })
	root := pick(b, roots)
	deps := b.shuffled(dependents(root))
	deps = deps[:b.intn(2, min(6, len(deps)))]
	var second []string
	if v%5 < 2 {
		for _, d := range deps {
			for _, dd := range dependents(d) {
				if !slices.Contains(deps, dd) && !slices.Contains(second, dd) && !related(dd, root) && len(second) < 2 {
					second = append(second, dd)
				}
			}
		}
	}
	rootFirst := b.chance(0.65)
	note := fmt.Sprintf("%s outage; dependents %s alert", root, strings.Join(deps, ", "))
	if len(second) > 0 {
		note += "; two hops away " + strings.Join(second, ", ")
	}
	if !rootFirst {
		note += "; dependents alert before the datastore"
	}
	inc := b.incident(note)
	T := b.t0
	length := b.between(8*time.Minute, 45*time.Minute)
	primary := b.outage(inc, root, "", deps, T, length, rootFirst)
	for _, d := range second {
		s := T.Add(b.between(2*time.Minute, 9*time.Minute))
		b.fault(inc, d, "", symptomAlerts[svcOf(d).kind], s, T.Add(length+b.between(0, 3*time.Minute)), b.intn(1, 2))
	}
	if b.chance(0.4) && primary.severity == "critical" {
		b.amPage(inc, primary, pick(b, []string{"", "P1", "P2"}))
	}
	b.noise(b.intn(1, 3))
}

// unrelatedSet picks k services with no dependency between any two.
func (b *builder) unrelatedSet(k int, filter func(svcDef) bool) []string {
	for range 100 {
		cands := b.shuffled(serviceNames(filter))
		var out []string
		for _, c := range cands {
			ok := true
			for _, o := range out {
				ok = ok && !related(c, o)
			}
			if ok {
				out = append(out, c)
			}
			if len(out) == k {
				return out
			}
		}
	}
	panic("no unrelated set")
}

func genConcurrent(b *builder, v int) {
	T := b.t0
	if v%10 >= 7 {
		roots := serviceNames(func(s svcDef) bool { return isDatastore(s.name) && len(dependents(s.name)) >= 2 })
		root := pick(b, roots)
		deps := b.shuffled(dependents(root))
		x := deps[0]
		rest := deps[1:min(len(deps), 1+b.intn(1, 2))]
		i1 := b.incident(fmt.Sprintf("%s outage in %s; dependents %s alert", root, b.cluster, strings.Join(rest, ", ")))
		b.outage(i1, root, "", rest, T, b.between(10*time.Minute, 30*time.Minute), true)
		i2 := b.incident(fmt.Sprintf("%s fails on its own in %s (it depends on %s, which is fine there)", x, b.other, root))
		s := T.Add(b.between(0, 5*time.Minute))
		b.fault(i2, x, b.other, downAlerts[svcOf(x).kind], s, s.Add(b.between(5*time.Minute, 25*time.Minute)), b.intn(1, 2))
		b.noise(b.intn(0, 2))
		return
	}
	k := 2
	if b.chance(0.3) {
		k = 3
	}
	for _, svc := range b.unrelatedSet(k, nil) {
		inc := b.incident(svc + ": fails on its own, concurrently with the others")
		s := T.Add(b.between(0, 5*time.Minute))
		b.fault(inc, svc, "", downAlerts[svcOf(svc).kind], s, s.Add(b.between(5*time.Minute, 30*time.Minute)), b.intn(1, 3))
	}
	b.noise(b.intn(0, 2))
}

func genChain(b *builder, v int) {
	ch := pick(b, chains())
	a, bb, c := ch[0], ch[1], ch[2]
	T := b.t0
	cFirst := b.chance(0.6)
	note := fmt.Sprintf("%s fails and %s (which depends on it) alerts", c, bb)
	if !cFirst {
		note += ", " + bb + " first"
	}
	i1 := b.incident(note)
	i2 := b.incident(fmt.Sprintf("%s fails on its own (it depends on %s, which depends on %s)", a, bb, c))
	length := b.between(10*time.Minute, 40*time.Minute)
	cStart, bStart := T, T.Add(b.between(30*time.Second, 5*time.Minute))
	if !cFirst {
		bStart, cStart = T, T.Add(b.between(time.Minute, 3*time.Minute))
	}
	b.fault(i1, c, "", downAlerts[svcOf(c).kind], cStart, T.Add(length), b.intn(1, 2))
	b.fault(i1, bb, "", symptomAlerts[svcOf(bb).kind], bStart, T.Add(length+b.between(0, 3*time.Minute)), b.intn(1, 2))
	aStart := T.Add(b.between(-5*time.Minute, 8*time.Minute))
	aDefs := []alertDef{crashLoop, latencyP99, errorRate}
	if svcOf(a).kind == kindWorker {
		aDefs = downAlerts[kindWorker]
	}
	b.fault(i2, a, "", aDefs, aStart, aStart.Add(b.between(5*time.Minute, 25*time.Minute)), b.intn(1, 2))
	b.noise(b.intn(1, 2))
}

func genStorm(b *builder, v int) {
	T := b.t0
	inc := b.incident("cluster-wide failure in " + b.cluster)
	for i := range b.intn(2, 5) {
		node := fmt.Sprintf("ip-10-%d-%d-%d.compute.internal", 10+b.r.IntN(4), b.r.IntN(256), 2+b.r.IntN(250))
		s := T.Add(b.between(0, 2*time.Minute))
		b.alert(alertSpec{inc: inc, def: nodeNotReady, node: node, inst: i, start: s, end: T.Add(b.between(10*time.Minute, 40*time.Minute))})
	}
	svcs := b.shuffled(serviceNames(nil))[:b.intn(8, 16)]
	for _, svc := range svcs {
		defs := stormAlerts
		if isDatastore(svc) {
			defs = []alertDef{downAlerts[svcOf(svc).kind][0], podNotReady}
		}
		defs = append([]alertDef{pick(b, defs)}, defs...)
		s := T.Add(b.between(0, 6*time.Minute))
		b.fault(inc, svc, "", defs, s, T.Add(b.between(10*time.Minute, 40*time.Minute)), b.intn(1, 3))
	}
	for _, s := range serviceNames(nil) {
		b.reserve(b.cluster, s) // background only in the other cluster
	}
	if v%2 == 0 {
		svc := pick(b, serviceNames(nil))
		other := b.incident(fmt.Sprintf("%s fails on its own in %s during the storm", svc, b.other))
		s := T.Add(b.between(0, 10*time.Minute))
		b.fault(other, svc, b.other, downAlerts[svcOf(svc).kind], s, s.Add(b.between(5*time.Minute, 20*time.Minute)), 1)
	}
	b.noise(b.intn(0, 2))
}

func genSlowBurn(b *builder, v int) {
	svc := pick(b, []string{"postgres-main", "postgres-catalog", "elasticsearch", "kafka", "postgres-replica"})
	T := b.t0
	low := T.Add(b.between(40*time.Minute, 80*time.Minute))
	crit := T.Add(b.between(100*time.Minute, 160*time.Minute))
	cleanup := crit.Add(b.between(10*time.Minute, 40*time.Minute))
	note := svc + ": disk fills over " + formatMinutes(cleanup.Sub(T))
	var dep string
	if v%2 == 0 && len(dependents(svc)) > 0 {
		dep = pick(b, dependents(svc))
		note += "; " + dep + " slows down at the critical stage"
	}
	inc := b.incident(note)
	b.alert(alertSpec{inc: inc, svc: svc, def: diskPredict, start: T, end: cleanup.Add(b.between(0, 2*time.Minute))})
	b.alert(alertSpec{inc: inc, svc: svc, def: diskLow, start: low, end: cleanup.Add(b.between(0, 2*time.Minute))})
	b.alert(alertSpec{inc: inc, svc: svc, def: diskCrit, start: crit, end: cleanup})
	if dep != "" {
		s := crit.Add(b.between(time.Minute, 5*time.Minute))
		b.alert(alertSpec{inc: inc, svc: dep, def: latencyP99, start: s, end: cleanup.Add(b.between(0, 3*time.Minute))})
	}
	b.noise(b.intn(3, 5))
}

// formatMinutes renders a duration as whole hours and minutes.
func formatMinutes(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

func genLate(b *builder, v int) {
	b.lateness = maxLateness
	b.dupProb = 1.0 / 3
	b.resend = true
	T := b.t0
	var svc string
	var end time.Time
	switch v % 3 {
	case 0:
		svc = pick(b, serviceNames(httpOrWorker))
		inc := b.incident(svc + ": fails on its own (deliveries late and duplicated)")
		end = T.Add(b.between(2*time.Minute, 20*time.Minute))
		b.fault(inc, svc, "", downAlerts[svcOf(svc).kind], T, end, b.intn(1, 4))
	case 1:
		roots := serviceNames(func(s svcDef) bool { return isDatastore(s.name) && len(dependents(s.name)) >= 2 })
		svc = pick(b, roots)
		deps := b.shuffled(dependents(svc))[:2]
		inc := b.incident(fmt.Sprintf("%s outage; dependents %s alert (deliveries late and duplicated)", svc, strings.Join(deps, ", ")))
		length := b.between(5*time.Minute, 25*time.Minute)
		end = T.Add(length + 3*time.Minute)
		b.outage(inc, svc, "", deps, T, length, true)
	default:
		svc = pick(b, serviceNames(nil))
		def := downAlerts[svcOf(svc).kind][0]
		inc := b.incident(svc + ": " + def.name + " fires, resolves and fires again within minutes (deliveries late and duplicated)")
		e := T.Add(b.between(2*time.Minute, 8*time.Minute))
		b.alert(alertSpec{inc: inc, svc: svc, def: def, start: T, end: e})
		s := e.Add(b.between(2*time.Minute, 8*time.Minute))
		end = s.Add(b.between(2*time.Minute, 10*time.Minute))
		b.alert(alertSpec{inc: inc, svc: svc, def: def, start: s, end: end})
	}
	later := end.Add(b.between(60*time.Minute, 120*time.Minute))
	inc2 := b.incident(svc + ": fails again, 1-2h later (a new fault)")
	b.fault(inc2, svc, "", downAlerts[svcOf(svc).kind], later, later.Add(b.between(3*time.Minute, 10*time.Minute)), b.intn(1, 2))
	b.noise(b.intn(1, 2))
}

func genDeployCause(b *builder, v int) {
	T := b.t0
	svc := pick(b, serviceNames(func(s svcDef) bool { return s.kind == kindHTTP }))
	length := b.between(8*time.Minute, 35*time.Minute)
	var inc string
	switch v % 5 {
	case 0:
		d := b.between(time.Minute, 15*time.Minute)
		inc = b.incident(fmt.Sprintf("%s: deploy %s before the first symptom breaks it", svc, d))
		b.deploy(svc, inc, deployStep{deploy.StatusStarted, T.Add(-d - b.between(2*time.Minute, 6*time.Minute))},
			deployStep{deploy.StatusSucceeded, T.Add(-d)})
	case 1:
		dep := pick(b, svcOf(svc).deps)
		d := b.between(time.Minute, 15*time.Minute)
		inc = b.incident(fmt.Sprintf("%s: a deploy of its dependency %s %s before breaks it", svc, dep, d))
		b.deploy(dep, inc, deployStep{deploy.StatusStarted, T.Add(-d - b.between(2*time.Minute, 5*time.Minute))},
			deployStep{deploy.StatusSucceeded, T.Add(-d)})
	case 2:
		old := b.between(18*time.Minute, 28*time.Minute)
		d := b.between(2*time.Minute, 8*time.Minute)
		inc = b.incident(fmt.Sprintf("%s: two deploys in the window, %s and %s before; the later one breaks it", svc, old, d))
		b.deploy(svc, "", rollout(T.Add(-old-3*time.Minute), 3*time.Minute, deploy.StatusSucceeded)...)
		b.deploy(svc, inc, rollout(T.Add(-d-3*time.Minute), 3*time.Minute, deploy.StatusSucceeded)...)
	case 3:
		before := b.between(time.Minute, 4*time.Minute)
		inc = b.incident(fmt.Sprintf("%s: breaks %s into a rollout", svc, before))
		b.deploy(svc, inc, rollout(T.Add(-before), before+b.between(time.Minute, 4*time.Minute), deploy.StatusSucceeded)...)
	default:
		d := b.between(2*time.Minute, 10*time.Minute)
		back := b.between(5*time.Minute, 15*time.Minute)
		length = back + b.between(time.Minute, 4*time.Minute)
		inc = b.incident(fmt.Sprintf("%s: deploy %s before breaks it; rolled back %s into the incident", svc, d, back))
		b.deploy(svc, inc, deployStep{deploy.StatusStarted, T.Add(-d - 3*time.Minute)},
			deployStep{deploy.StatusSucceeded, T.Add(-d)}, deployStep{deploy.StatusRolledBack, T.Add(back)})
	}
	b.fault(inc, svc, "", downAlerts[kindHTTP], T, T.Add(length), b.intn(1, 3))
	b.noise(b.intn(1, 2))
	b.noiseDeploys(b.intn(0, 2))
}

func genDeployAfter(b *builder, v int) {
	T := b.t0
	svc := pick(b, serviceNames(func(s svcDef) bool { return s.kind == kindHTTP }))
	after := b.between(30*time.Second, 15*time.Minute)
	inc := b.incident(fmt.Sprintf("%s: fails on its own; its deploy starts %s later", svc, after))
	b.fault(inc, svc, "", downAlerts[kindHTTP], T, T.Add(after+b.between(5*time.Minute, 30*time.Minute)), b.intn(1, 3))
	b.deploy(svc, "", rollout(T.Add(after), b.between(2*time.Minute, 5*time.Minute), deploy.StatusSucceeded)...)
	if v%3 == 0 {
		dep := pick(b, svcOf(svc).deps)
		b.deploy(dep, "", rollout(T.Add(b.between(time.Minute, 10*time.Minute)), 3*time.Minute, deploy.StatusSucceeded)...)
	}
	b.noise(b.intn(1, 2))
	b.noiseDeploys(b.intn(0, 1))
}

func genDeployCoincidental(b *builder, v int) {
	T := b.t0
	svc := pick(b, serviceNames(func(s svcDef) bool { return s.kind == kindHTTP && len(dependents(s.name)) > 0 }))
	var x string
	if v%5 < 2 {
		x = pick(b, dependents(svc))
	} else {
		var cands []string
		for _, s := range serviceNames(nil) {
			if !related(s, svc) {
				cands = append(cands, s)
			}
		}
		x = pick(b, cands)
	}
	d := b.between(time.Minute, 10*time.Minute)
	inc := b.incident(fmt.Sprintf("%s: fails on its own %s after an unrelated deploy of %s", svc, d, x))
	b.deploy(x, "", rollout(T.Add(-d-3*time.Minute), 3*time.Minute, deploy.StatusSucceeded)...)
	b.reserve(b.cluster, x)
	b.reserve(b.other, x)
	b.fault(inc, svc, "", downAlerts[kindHTTP], T, T.Add(b.between(5*time.Minute, 30*time.Minute)), b.intn(1, 3))
	b.noise(b.intn(1, 2))
}

func genPagerDuty(b *builder, v int) {
	T := b.t0
	pair := b.unrelatedSet(2, func(s svcDef) bool { return s.kind == kindHTTP && s.pd != "" })
	s1, s2 := pair[0], pair[1]
	i1 := b.incident(s1 + ": fails; Alertmanager pages")
	a1 := b.fault(i1, s1, "", downAlerts[kindHTTP], T, T.Add(b.between(8*time.Minute, 40*time.Minute)), b.intn(1, 3))
	b.amPage(i1, a1[0], pick(b, []string{"", "P1", "P2", "P3"}))
	synthetic := func(inc, svc string, start, end time.Time) {
		p := pageSpec{
			inc: inc, svc: svc, pdServiceID: svcOf(svc).pd, pdService: svc + " (prod)",
			title: "Synthetic check failed: " + svc + " /health", priority: pick(b, []string{"", "P2", "P3"}),
			triggered: start.Add(b.between(time.Minute, 4*time.Minute)),
		}
		p.acked = p.triggered.Add(b.between(time.Minute, 5*time.Minute))
		p.resolved = end.Add(b.between(2*time.Minute, 10*time.Minute))
		b.page(p)
	}
	if v%3 == 0 {
		synthetic(i1, s1, T, a1[0].end)
	}
	if v%5 != 4 {
		i2 := b.incident(s2 + ": fails; a synthetic check pages through another integration")
		s := T.Add(b.between(0, 5*time.Minute))
		e := s.Add(b.between(8*time.Minute, 30*time.Minute))
		b.fault(i2, s2, "", []alertDef{latencyP99, errorRate}, s, e, b.intn(1, 2))
		synthetic(i2, s2, s, e)
	}
	b.noise(b.intn(1, 2))
}

func genMonitoringGap(b *builder, v int) {
	T := b.t0
	pair := b.unrelatedSet(2, func(s svcDef) bool { return s.kind == kindHTTP && s.pd != "" })
	x, y := pair[0], pair[1]
	p := pageSpec{
		svc: x, pdServiceID: svcOf(x).pd, pdService: x + " (prod)",
		title:    "Customers report failures on " + x,
		priority: pick(b, []string{"P1", "P2", "P2", "P3"}),
	}
	switch v % 5 {
	case 0, 1, 4:
		if v%5 == 4 {
			p.svc, p.pdServiceID, p.pdService = "", "PSUPESC", "Customer Support Escalations"
			p.title = "Escalation: checkout emails not arriving"
		}
		p.inc = b.incident("a page raised by hand; no alert fired (" + cmp.Or(p.svc, p.pdService) + ")")
		p.triggered = T
		p.acked = T.Add(b.between(time.Minute, 5*time.Minute))
		p.resolved = T.Add(b.between(20*time.Minute, 60*time.Minute))
		b.page(p)
		if p.svc != "" {
			b.reserve(b.cluster, x)
		}
		iy := b.incident(y + ": fails on its own at the same time")
		s := T.Add(b.between(-5*time.Minute, 5*time.Minute))
		b.fault(iy, y, "", downAlerts[kindHTTP], s, s.Add(b.between(5*time.Minute, 30*time.Minute)), b.intn(1, 3))
	default:
		lag := b.between(2*time.Minute, 8*time.Minute)
		p.inc = b.incident(fmt.Sprintf("%s: paged by hand; its alerts catch up %s later", x, lag))
		end := T.Add(lag + b.between(10*time.Minute, 30*time.Minute))
		p.triggered = T
		p.acked = T.Add(b.between(time.Minute, 3*time.Minute))
		p.resolved = end.Add(b.between(2*time.Minute, 10*time.Minute))
		b.page(p)
		b.fault(p.inc, x, "", downAlerts[kindHTTP], T.Add(lag), end, b.intn(1, 3))
	}
	b.noise(b.intn(1, 2))
}

// The Alertmanager simulated group by group (builder.am): the am-restart
// and coarse-groupby families.

// sentAlert is an alert episode held for the simulated Alertmanager.
type sentAlert struct {
	inc                string
	labels, ann        map[string]string
	fp                 string
	start, end         time.Time
	receiver, groupKey string
	groupLabels        map[string]string
	// amFire and amEnd are when Alertmanager learned of the firing and of
	// the resolution (Prometheus evaluates the rule and sends within a
	// minute); amEnd is zero while it fires.
	amFire, amEnd time.Time
}

// hold keeps an alert of the simulated cluster for flushAM, routed by the
// usual routes or, when coarse, by the one route grouping by cluster.
func (b *builder) hold(a alertSpec, labels, ann map[string]string, fp string, out *amAlert) {
	sa := &sentAlert{inc: a.inc, labels: labels, ann: ann, fp: fp, start: a.start, end: a.end}
	if b.coarse {
		sa.receiver = "platform-oncall"
		sa.groupLabels = map[string]string{"cluster": labels["cluster"]}
		sa.groupKey = "{}:" + model.LabelSet{"cluster": model.LabelValue(labels["cluster"])}.String()
	} else {
		sa.receiver = "team-slack"
		if a.def.severity == "critical" {
			sa.receiver = "oncall"
		}
		sa.groupLabels = map[string]string{"alertname": a.def.name, "service": labels["service"]}
		sa.groupKey = out.groupKey
	}
	out.groupKey = sa.groupKey
	sa.amFire = a.start.Add(b.between(0, time.Minute))
	if !a.end.IsZero() {
		sa.amEnd = a.end.Add(b.between(0, time.Minute))
	}
	b.sent = append(b.sent, sa)
}

// amRestart is an Alertmanager restart or configuration reload.
type amRestart struct {
	// at is when Alertmanager stopped (restart) or reloaded; back is when
	// Prometheus's alerts reached it again (equal to at for a reload).
	at, back time.Time
	// reload keeps the notification log: a reload re-creates every
	// aggregation group and flushes it at once, but only a group that
	// changed since its last notification notifies (prometheus/
	// alertmanager#3037, #3410, PR #3074). A restart loses the log (an
	// emptyDir volume), so every group with a firing alert notifies again
	// and a group left with only resolved alerts never does.
	reload bool
}

// flushAM delivers the held alerts the way Alertmanager notifies them:
// per aggregation group (receiver and groupKey), the first notification
// group_wait after the group is created, then at most one every
// group_interval and only when the group changed, each notification
// carrying every firing alert of the group and those resolved since the
// last one. rs, if not nil, restarts or reloads Alertmanager once.
func (b *builder) flushAM(rs *amRestart) {
	if rs != nil {
		for _, sa := range b.sent {
			// What Prometheus sent while Alertmanager was down reaches it
			// when it is back.
			if !sa.amFire.Before(rs.at) && sa.amFire.Before(rs.back) {
				sa.amFire = rs.back
			}
			if !sa.amEnd.IsZero() && !sa.amEnd.Before(rs.at) && sa.amEnd.Before(rs.back) {
				sa.amEnd = rs.back
			}
		}
	}
	var keys []string
	groups := map[string][]*sentAlert{}
	for _, sa := range b.sent {
		k := sa.receiver + "|" + sa.groupKey
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], sa)
	}
	for _, k := range keys {
		b.simulateGroup(groups[k], rs)
	}
	b.sent = nil
}

// simulateGroup runs one aggregation group and delivers its notifications.
func (b *builder) simulateGroup(als []*sentAlert, rs *amRestart) {
	als = slices.Clone(als)
	slices.SortStableFunc(als, func(x, y *sentAlert) int { return x.amFire.Compare(y.amFire) })
	// The notification log's entry: what the last notification held.
	var logged map[string]string // fingerprint -> "firing" or "resolved"
	inserted := map[*sentAlert]bool{}
	deleted := map[*sentAlert]bool{}
	restarted := rs == nil
	alive := false
	var next time.Time
	insertUpTo := func(t time.Time) {
		for _, sa := range als {
			if !sa.amFire.After(t) {
				inserted[sa] = true
			}
		}
	}
	for range 10000 {
		var arrival *sentAlert
		for _, sa := range als {
			if !inserted[sa] {
				arrival = sa
				break
			}
		}
		switch {
		case !restarted && ((alive && rs.at.Before(next)) || (!alive && (arrival == nil || !arrival.amFire.Before(rs.at)))):
			// Alertmanager restarts or reloads before the group's next
			// flush. The group is re-created when the alerts come back and
			// flushes at once: its alerts are older than group_wait.
			restarted = true
			if !rs.reload {
				logged = nil
			}
			if alive {
				next = rs.back.Add(b.between(0, 2*time.Second))
			}
			continue
		case !alive && arrival == nil:
			return
		case !alive:
			alive = true
			inserted[arrival] = true
			next = arrival.amFire.Add(groupWait)
			if arrival.start.Add(groupWait).Before(arrival.amFire) {
				next = arrival.amFire // an old alert: flush at once
			}
			continue
		}
		// Flush at next.
		t := next
		insertUpTo(t)
		var firing, resolved []*sentAlert
		for _, sa := range als {
			if !inserted[sa] || deleted[sa] {
				continue
			}
			if !sa.amEnd.IsZero() && !sa.amEnd.After(t) {
				resolved = append(resolved, sa)
			} else {
				firing = append(firing, sa)
			}
		}
		if len(firing)+len(resolved) == 0 {
			alive = false
			continue
		}
		needs := false
		if logged == nil {
			needs = len(firing) > 0
		} else {
			for _, sa := range firing {
				needs = needs || logged[sa.fp] != "firing"
			}
			for _, sa := range resolved {
				needs = needs || logged[sa.fp] != "resolved"
			}
		}
		if needs {
			b.notify(firing, resolved, t.Add(b.between(0, 2*time.Second)))
			logged = map[string]string{}
			for _, sa := range firing {
				logged[sa.fp] = "firing"
			}
			for _, sa := range resolved {
				logged[sa.fp] = "resolved"
			}
		}
		for _, sa := range resolved {
			deleted[sa] = true
		}
		if len(firing) == 0 {
			alive = false // the group is empty and goes away
			continue
		}
		next = t.Add(groupInterval)
	}
	panic("simulateGroup does not end")
}

// notify delivers one webhook notification of a group, carrying its
// firing and resolved alerts, decoded as the receiver decodes it.
func (b *builder) notify(firing, resolved []*sentAlert, at time.Time) {
	all := append(slices.Clone(firing), resolved...)
	g := all[0]
	var raws []json.RawMessage
	common := maps.Clone(g.labels)
	commonAnn := maps.Clone(g.ann)
	for i, sa := range all {
		status, end := "firing", "0001-01-01T00:00:00Z"
		if i >= len(firing) {
			status, end = "resolved", sa.end.Format(time.RFC3339)
		}
		raw, err := json.Marshal(alertmanager.Alert{
			Status: status, Labels: sa.labels, Annotations: sa.ann,
			StartsAt: sa.start.Format(time.RFC3339), EndsAt: end, Fingerprint: sa.fp,
		})
		if err != nil {
			panic(err)
		}
		raws = append(raws, raw)
		maps.DeleteFunc(common, func(k, v string) bool { return sa.labels[k] != v })
		maps.DeleteFunc(commonAnn, func(k, v string) bool { return sa.ann[k] != v })
	}
	status := "resolved"
	if len(firing) > 0 {
		status = "firing"
	}
	body, err := json.Marshal(alertmanager.Message{
		Receiver: g.receiver, Status: status, Alerts: raws,
		GroupLabels: g.groupLabels, CommonLabels: common, CommonAnnotations: commonAnn, Version: "4", GroupKey: g.groupKey,
	})
	if err != nil {
		panic(err)
	}
	_, evs, err := alertmanager.Decode(body)
	if err != nil {
		panic(fmt.Sprintf("generated webhook does not decode: %v", err))
	}
	for i, ev := range evs {
		ev.Service = b.cfg.ServiceFor(ev.Labels)
		b.add(LabelledEvent{Incident: all[i].inc, Event: ev}, at)
	}
}

// Alerts of a node drain.
var (
	nodeUnschedulable = alertDef{name: "KubeNodeUnschedulable", severity: "info", summary: "node cordoned (unschedulable) for 5m"}
	replicasMismatch  = alertDef{name: "KubeDeploymentReplicasMismatch", severity: "warning", summary: "deployment has not matched the expected number of replicas for 5m"}
)

// focalFault generates a service's own fault (v even) or a datastore
// outage with its dependents (v odd) from T, and returns the failing
// service and its primary alert.
func (b *builder) focalFault(v int, T time.Time, length time.Duration, n int) (string, alertDef, string) {
	if v%2 == 0 {
		svc := pick(b, serviceNames(httpOrWorker))
		inc := b.incident(svc + ": fails on its own")
		b.fault(inc, svc, "", downAlerts[svcOf(svc).kind], T, T.Add(length), n)
		return svc, downAlerts[svcOf(svc).kind][0], inc
	}
	roots := serviceNames(func(s svcDef) bool { return isDatastore(s.name) && len(dependents(s.name)) >= 2 })
	root := pick(b, roots)
	deps := b.shuffled(dependents(root))
	deps = deps[:b.intn(2, min(4, len(deps)))]
	inc := b.incident(fmt.Sprintf("%s outage; dependents %s alert", root, strings.Join(deps, ", ")))
	b.outage(inc, root, "", deps, T, length, b.chance(0.65))
	return root, downAlerts[svcOf(root).kind][0], inc
}

func genPreexisting(b *builder, v int) {
	svc := pick(b, serviceNames(func(s svcDef) bool { return s.kind == kindHTTP }))
	def := pick(b, []alertDef{errorRate, latencyP99})
	D := b.t0 // the deploy starts
	took := b.between(2*time.Minute, 4*time.Minute)
	fin := D.Add(took)
	switch v % 3 {
	case 0:
		pre := b.between(15*time.Minute, 100*time.Minute)
		inc := b.incident(fmt.Sprintf("%s: %s firing since %s before its deploy, which does not help; no cause", svc, def.name, formatMinutes(pre)))
		e := fin.Add(b.between(5*time.Minute, 30*time.Minute))
		b.alert(alertSpec{inc: inc, svc: svc, def: def, start: D.Add(-pre), end: e})
		if b.chance(0.5) {
			other := crashLoop
			if def.name == latencyP99.name {
				other = pick(b, []alertDef{crashLoop, errorRate})
			}
			s := fin.Add(b.between(time.Minute, 8*time.Minute))
			b.alert(alertSpec{inc: inc, svc: svc, def: other, inst: 1, start: s, end: e.Add(b.between(0, 3*time.Minute))})
		}
	case 1:
		n := b.intn(3, 6)
		inc := b.incident("")
		e := D.Add(-b.between(0, 2*time.Minute))
		var first time.Time
		for range n {
			first = e.Add(-b.between(2*time.Minute, 8*time.Minute))
			b.alert(alertSpec{inc: inc, svc: svc, def: def, start: first, end: e})
			e = first.Add(-b.between(2*time.Minute, 10*time.Minute))
		}
		s := fin.Add(b.between(time.Minute, 4*time.Minute))
		b.alert(alertSpec{inc: inc, svc: svc, def: def, start: s, end: s.Add(b.between(5*time.Minute, 20*time.Minute))})
		b.truth(inc).Notes = fmt.Sprintf("%s: %s fires and resolves %d times, 2-10 minutes apart, in the %s before its deploy, and again %s after it finished; no cause", svc, def.name, n, formatMinutes(D.Sub(first)), s.Sub(fin))
	default:
		post := fin.Add(b.between(time.Minute, 10*time.Minute))
		gap := b.between(90*time.Minute, 100*time.Minute)
		e1 := post.Add(-gap)
		s1 := e1.Add(-b.between(5*time.Minute, 10*time.Minute))
		i1 := b.incident(fmt.Sprintf("%s: %s fires %s before its deploy started and resolves (a fault of its own)", svc, def.name, formatMinutes(D.Sub(s1))))
		i2 := b.incident(fmt.Sprintf("%s: the same %s fires again %s after the deploy; it fired before the deploy, so no cause", svc, def.name, post.Sub(fin)))
		b.alert(alertSpec{inc: i1, svc: svc, def: def, start: s1, end: e1})
		b.alert(alertSpec{inc: i2, svc: svc, def: def, start: post, end: post.Add(b.between(5*time.Minute, 25*time.Minute))})
	}
	b.deploy(svc, "", rollout(D, took, deploy.StatusSucceeded)...)
	b.noise(b.intn(1, 2))
}

func genTwoDeploys(b *builder, v int) {
	T := b.t0
	length := b.between(8*time.Minute, 30*time.Minute)
	httpDeps := func(s string) []string {
		var out []string
		for _, d := range svcOf(s).deps {
			if svcOf(d).kind == kindHTTP {
				out = append(out, d)
			}
		}
		return out
	}
	withHTTPDep := serviceNames(func(s svcDef) bool { return len(httpDeps(s.name)) > 0 })
	ago := func(d time.Duration) []deployStep {
		took := b.between(2*time.Minute, 4*time.Minute)
		return rollout(T.Add(-d-took), took, deploy.StatusSucceeded)
	}
	switch v % 3 {
	case 0:
		svc := pick(b, withHTTPDep)
		dep := pick(b, httpDeps(svc))
		d, od := b.between(time.Minute, 12*time.Minute), b.between(time.Minute, 20*time.Minute)
		inc := b.incident(fmt.Sprintf("%s: its own deploy %s before breaks it; its dependency %s deployed %s before, harmless", svc, d, dep, od))
		b.deploy(svc, inc, ago(d)...)
		b.deploy(dep, "", ago(od)...)
		b.fault(inc, svc, "", downAlerts[kindHTTP], T, T.Add(length), b.intn(1, 3))
	case 1:
		svc := pick(b, withHTTPDep)
		dep := pick(b, httpDeps(svc))
		d, od := b.between(time.Minute, 12*time.Minute), b.between(time.Minute, 20*time.Minute)
		back := b.between(5*time.Minute, 15*time.Minute)
		depFirst := b.chance(0.7)
		note := fmt.Sprintf("%s: a deploy of its dependency %s %s before breaks %s (rolled back %s in, which ends it); %s's own deploy %s before is harmless", svc, dep, d, dep, back, svc, od)
		if !depFirst {
			note += "; " + svc + " alerts first"
		}
		inc := b.incident(note)
		took := b.between(2*time.Minute, 4*time.Minute)
		b.deploy(dep, inc, deployStep{deploy.StatusStarted, T.Add(-d - took)},
			deployStep{deploy.StatusSucceeded, T.Add(-d)}, deployStep{deploy.StatusRolledBack, T.Add(back)})
		b.deploy(svc, "", ago(od)...)
		end := T.Add(back + b.between(time.Minute, 4*time.Minute))
		dS, sS := T, T.Add(b.between(30*time.Second, 4*time.Minute))
		if !depFirst {
			dS, sS = T.Add(b.between(time.Minute, 3*time.Minute)), T
		}
		b.fault(inc, dep, "", downAlerts[kindHTTP], dS, end, b.intn(1, 2))
		b.fault(inc, svc, "", symptomAlerts[kindHTTP], sS, end.Add(b.between(0, 2*time.Minute)), b.intn(1, 2))
	default:
		var pairs [][2]string
		for _, s := range serviceNames(func(s svcDef) bool { return s.kind == kindHTTP }) {
			for _, x := range serviceNames(func(x svcDef) bool { return x.kind == kindHTTP || x.kind == kindWorker }) {
				if svcOf(s).ns == svcOf(x).ns && !related(s, x) {
					pairs = append(pairs, [2]string{s, x})
				}
			}
		}
		p := pick(b, pairs)
		svc, x := p[0], p[1]
		d, xd := b.between(time.Minute, 12*time.Minute), b.between(time.Minute, 15*time.Minute)
		inc := b.incident(fmt.Sprintf("%s: its own deploy %s before breaks it; %s (same namespace, unrelated) deployed %s before, harmless", svc, d, x, xd))
		b.deploy(svc, inc, ago(d)...)
		b.deploy(x, "", ago(xd)...)
		b.reserve(b.cluster, x)
		b.reserve(b.other, x)
		b.fault(inc, svc, "", downAlerts[kindHTTP], T, T.Add(length), b.intn(1, 3))
	}
	b.noise(b.intn(1, 2))
}

func genAMRestart(b *builder, v int) {
	b.am = b.cluster
	T := b.t0
	length := b.between(15*time.Minute, 40*time.Minute)
	svc, def, inc := b.focalFault(v, T, length, b.intn(2, 4))
	R := T.Add(b.between(3*time.Minute, 12*time.Minute))
	reload := v%3 == 1
	rs := &amRestart{at: R, back: R, reload: reload}
	what := "reloads its configuration"
	if !reload {
		down := b.between(20*time.Second, 3*time.Minute)
		rs.back = R.Add(down + b.between(5*time.Second, time.Minute))
		what = "restarts (down " + down.String() + ", notification log lost)"
	}
	t := b.truth(inc)
	t.Notes += fmt.Sprintf("; Alertmanager %s %s in", what, R.Sub(T))
	// New alerts for the same group after the restart: the same alert on
	// other instances.
	for i := range b.intn(1, 2) {
		s := R.Add(b.between(0, 8*time.Minute))
		b.alert(alertSpec{inc: inc, svc: svc, def: def, inst: 6 + i, start: s, end: T.Add(length + b.between(0, 3*time.Minute))})
	}
	if v%4 >= 2 {
		var cands []string
		for _, s := range serviceNames(httpOrWorker) {
			if b.free(b.cluster, s) {
				cands = append(cands, s)
			}
		}
		if len(cands) > 0 {
			x := pick(b, cands)
			i2 := b.incident(x + ": fails on its own at the same time")
			s := T.Add(b.between(-3*time.Minute, 8*time.Minute))
			b.fault(i2, x, "", downAlerts[svcOf(x).kind], s, s.Add(b.between(8*time.Minute, 30*time.Minute)), b.intn(1, 3))
		}
	}
	b.noise(b.intn(1, 3))
	b.flushAM(rs)
}

func genCoarse(b *builder, v int) {
	b.am = b.cluster
	b.coarse = true
	T := b.t0
	k := b.intn(3, 6)
	span := b.between(15*time.Minute, 45*time.Minute)
	for i, svc := range b.unrelatedSet(k, nil) {
		s := T
		if i > 0 {
			s = T.Add(b.between(0, span))
		}
		inc := b.incident(svc + ": fails on its own; its alerts share the cluster's one Alertmanager group with the other faults")
		b.fault(inc, svc, "", downAlerts[svcOf(svc).kind], s, s.Add(b.between(5*time.Minute, 30*time.Minute)), b.intn(1, 4))
	}
	b.noise(b.intn(1, 3))
	b.flushAM(nil)
}

func genMaintenance(b *builder, v int) {
	T := b.t0
	length := b.between(10*time.Minute, 35*time.Minute)
	b.focalFault(v, T, length, b.intn(1, 3))
	M := T.Add(b.between(-15*time.Minute, 10*time.Minute))
	nodes := b.intn(2, 4)
	var cands []string
	for _, s := range serviceNames(httpOrWorker) {
		if b.free(b.cluster, s) {
			cands = append(cands, s)
		}
	}
	cl := b.cluster
	drain := []string{nodeUnschedulable.name, podNotReady.name, replicasMismatch.name}
	var silence string
	switch v % 3 {
	case 0:
		silence = "no silence"
	case 1:
		silence = "the node alerts silenced beforehand"
		at := M.Add(-10 * time.Minute)
		b.mute = func(l map[string]string, t time.Time) bool {
			return l["cluster"] == cl && l["alertname"] == nodeUnschedulable.name && !t.Before(at)
		}
	default:
		late := b.between(3*time.Minute, 8*time.Minute)
		silence = "a silence added " + late.String() + " in: later notifications, resolutions included, are muted"
		at := M.Add(late)
		b.mute = func(l map[string]string, t time.Time) bool {
			return l["cluster"] == cl && slices.Contains(drain, l["alertname"]) && !t.Before(at)
		}
	}
	mi := b.incident(fmt.Sprintf("maintenance: planned drain of %d nodes in %s, pods of unrelated services rescheduled (%s); not part of the incident", nodes, cl, silence))
	t := M
	inst := map[string]int{}
	for i := range nodes {
		node := fmt.Sprintf("ip-10-%d-%d-%d.compute.internal", 10+b.r.IntN(4), b.r.IntN(256), 2+b.r.IntN(250))
		b.alert(alertSpec{inc: mi, def: nodeUnschedulable, node: node, inst: i, start: t, end: t.Add(b.between(8*time.Minute, 20*time.Minute))})
		if len(cands) > 0 {
			for range b.intn(1, 2) {
				svc := pick(b, cands)
				s := t.Add(b.between(30*time.Second, 3*time.Minute))
				b.alert(alertSpec{inc: mi, svc: svc, def: pick(b, []alertDef{podNotReady, replicasMismatch}), inst: inst[svc], start: s, end: s.Add(b.between(3*time.Minute, 10*time.Minute))})
				inst[svc]++
			}
		}
		t = t.Add(b.between(4*time.Minute, 10*time.Minute))
	}
	b.mute = nil
	b.noise(b.intn(1, 2))
}
