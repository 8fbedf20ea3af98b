package eval

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
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

	fire := decode("firing")
	out.flushed = b.delay(a.start, groupWait, groupWait+time.Minute)
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
	base := map[string]string{
		pagerduty.LabelIncidentNumber: num,
		pagerduty.LabelHTMLURL:        "https://acme.pagerduty.com/incidents/" + id,
		pagerduty.LabelTitle:          p.title,
		pagerduty.LabelService:        p.pdService,
		pagerduty.LabelServiceID:      p.pdServiceID,
		pagerduty.LabelUrgency:        "high",
	}
	if p.priority != "" {
		base[pagerduty.LabelPriority] = p.priority
	}
	if p.incidentKey != "" {
		base[pagerduty.LabelIncidentKey] = p.incidentKey
	}
	oncall := pick(b, []string{"Dana Oncall", "Sam Second", "Kim Primary", "Alex Backup"})
	emit := func(action, kind string, at time.Time, extra map[string]string) {
		labels := map[string]string{}
		for k, v := range base {
			if v != "" {
				labels[k] = v
			}
		}
		for k, v := range extra {
			labels[k] = v
		}
		ev := collector.Event{
			ID:      pagerduty.EventKey(id, action, at),
			Source:  collector.SourcePagerDuty,
			Kind:    kind,
			At:      at,
			Service: p.svc,
			Summary: fmt.Sprintf("#%s %s %s", num, p.title, action),
			Labels:  labels,
			Ref:     collector.Ref{PagerDutyIncidentID: id, PagerDutyEventID: "P" + strings.ToUpper(b.hexN(13))},
		}
		b.add(LabelledEvent{Incident: p.inc, Event: ev}, b.delay(at, time.Second, 5*time.Second))
	}
	emit("triggered", pagerduty.KindTriggered, p.triggered, map[string]string{pagerduty.LabelStatus: "triggered", pagerduty.LabelAssignees: oncall})
	if !p.acked.IsZero() {
		emit("acknowledged", pagerduty.KindAcknowledged, p.acked, map[string]string{
			pagerduty.LabelStatus: "acknowledged", pagerduty.LabelAgent: oncall, pagerduty.LabelAgentType: "user_reference"})
	}
	if !p.resolved.IsZero() {
		agent, typ := oncall, "user_reference"
		if p.incidentKey != "" {
			agent, typ = "Alertmanager", "service_reference"
		}
		emit("resolved", pagerduty.KindResolved, p.resolved, map[string]string{
			pagerduty.LabelStatus: "resolved", pagerduty.LabelAgent: agent, pagerduty.LabelAgentType: typ})
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
		d.Status = st.status
		d.At = st.at.Format(time.RFC3339)
		ev, err := d.Event()
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
	return lo, hi
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

// TrueSeverity derives a true incident's severity from the scenario by the
// rule below, written out independently of the engine but meant to agree
// with config.DefaultSeverityRules (spec/postmortem.md), evaluated over
// the incident's true members: its alert events and pages.
//
//  1. SEV1: some alert has category=security.
//  2. SEV1: some service is customer-facing, some service is tier 1, some
//     alert is critical (or page), and the incident lasted 30m or more.
//  3. SEV2: some service is customer-facing and some alert is critical.
//  4. SEV3: some alert is critical.
//  5. SEV3: some service is customer-facing and some alert is a warning.
//  6. SEV4: some alert is a warning.
//  7. SEV5: otherwise.
//
// Then a page's priority raises it to pagerduty.priority_floor (P1: SEV1,
// P2: SEV2). Services are attributed as Hindsight does (service_labels for
// alerts, the mapped PagerDuty service for pages); the duration runs from
// the earliest to the latest event time of the members.
func TrueSeverity(sc *Scenario, inc string) (string, string) {
	cfg := sc.Config()
	var first, last time.Time
	var cf, tier1, critical, warning, security bool
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
		svc := ev.Service
		if ev.Source == collector.SourceAlertmanager {
			svc = cfg.ServiceFor(ev.Labels)
			switch ev.Labels["severity"] {
			case "critical", "page":
				critical = true
			case "warning":
				warning = true
			}
			security = security || ev.Labels["category"] == "security"
		}
		if svc != "" {
			s := cfg.Service(svc)
			cf = cf || s.CustomerFacing
			tier1 = tier1 || (s.Tier > 0 && s.Tier <= 1)
		}
		if f, ok := sc.PriorityFloor[ev.Labels[pagerduty.LabelPriority]]; ok && ev.Source == collector.SourcePagerDuty && (floor == "" || f < floor) {
			floor = f
		}
	}
	var sev, why string
	switch {
	case security:
		sev, why = "SEV1", "security alert"
	case cf && tier1 && critical && last.Sub(first) >= 30*time.Minute:
		sev, why = "SEV1", "customer-facing tier-1, critical, 30m or more"
	case cf && critical:
		sev, why = "SEV2", "customer-facing and critical"
	case critical:
		sev, why = "SEV3", "critical"
	case cf && warning:
		sev, why = "SEV3", "customer-facing and warning"
	case warning:
		sev, why = "SEV4", "warning"
	default:
		sev, why = "SEV5", "no alert severity"
	}
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
