package main

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// The generator produces what a fleet of Alertmanagers sends: one
// Alertmanager per cluster (a lane; each load worker is one), each
// watching the same N services. Alerts are grouped as the README's route
// does (by alertname and service), and each group goes through cycles of
// "some instances fire, the group maybe flaps (fires again with a new
// startsAt) once or twice, then resolves", separated by quiet hours. A
// lane's notifications come in event-time order and, like Alertmanager,
// its worker sends them one at a time, so a resolution never overtakes
// its firing. A cycle is on average 3 notifications of which one is the
// resolution: roughly 1 notification in 3 resolves an earlier one, and
// incidents (per service and cluster, the default correlation) both open
// and resolve. Every alert state (fingerprint, startsAt, status) occurs
// once, so the receiver deduplicates nothing.

// genConfig parameterises the generator.
type genConfig struct {
	Alerts   int   // alerts per notification
	Services int   // services the alerts are spread over
	Seed     int64 // the same seed and number of lanes give the same bodies
}

// tsLayout is how timestamps are written: fixed width (20 bytes), so a
// body can be re-timed in place.
const tsLayout = "2006-01-02T15:04:05Z"

// genStart is the event time of the first cycle. Fixed so that a seed
// always gives the same bodies.
var genStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// stamp is a timestamp inside a body: where it is and what it says.
type stamp struct {
	off  int
	unix int64
}

// body is one pre-generated notification.
type body struct {
	data     []byte
	stamps   []stamp
	resolved bool
}

// pool holds the pre-generated notifications of every lane.
type pool struct {
	lanes  []*lane
	alerts int
}

// lane is the notification sequence of one Alertmanager. Request i of
// the lane sends body i mod len; past the end, copies are re-timed by a
// whole number of lane spans so that every alert state stays unique (the
// same fleet having the same weeks again, later). A lane is used by one
// worker at a time.
type lane struct {
	bodies []body
	shift  int64 // seconds added per round
	next   int64
}

// reset makes the next run start from the first body of every lane.
func (p *pool) reset() {
	for _, l := range p.lanes {
		l.next = 0
	}
}

// body returns the bytes of the lane's next request. Re-timed copies are
// made in buf, which is returned for reuse.
func (l *lane) body(buf []byte) (data, newBuf []byte) {
	i := l.next
	l.next++
	n := int64(len(l.bodies))
	b := &l.bodies[i%n]
	round := i / n
	if round == 0 {
		return b.data, buf
	}
	out := append(buf[:0], b.data...)
	for _, s := range b.stamps {
		time.Unix(s.unix+round*l.shift, 0).UTC().AppendFormat(out[s.off:s.off], tsLayout)
	}
	return out, out
}

// stats returns the number of bodies, their mean size and the share of
// resolutions.
func (p *pool) stats() (n, avgSize int, resolved float64) {
	var size, res int
	for _, l := range p.lanes {
		for i := range l.bodies {
			n++
			size += len(l.bodies[i].data)
			if l.bodies[i].resolved {
				res++
			}
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	return n, size / n, float64(res) / float64(n)
}

// newPool generates about total notifications spread over lanes lanes.
func newPool(cfg genConfig, lanes, total int) (*pool, error) {
	if cfg.Alerts < 1 || cfg.Services < 1 || lanes < 1 || total < 1 {
		return nil, fmt.Errorf("need at least one alert, service, lane and body (got %d, %d, %d, %d)", cfg.Alerts, cfg.Services, lanes, total)
	}
	if cfg.Alerts > instancesPerService {
		return nil, fmt.Errorf("--alerts %d: at most %d alerts per notification (distinct instances of a service)", cfg.Alerts, instancesPerService)
	}
	p := &pool{alerts: cfg.Alerts, lanes: make([]*lane, lanes)}
	per := max((total+lanes-1)/lanes, 1)
	errs := make([]error, lanes)
	var wg sync.WaitGroup
	for w := range lanes {
		wg.Go(func() { p.lanes[w], errs[w] = newLane(cfg, w, per) })
	}
	wg.Wait()
	return p, errors.Join(errs...)
}

// newLane generates n notifications of the Alertmanager of cluster w,
// then the resolutions of the cycles still open, so that a later round
// starts from a quiet fleet.
func newLane(cfg genConfig, w, n int) (*lane, error) {
	g := newGenerator(cfg, w)
	l := &lane{bodies: make([]body, 0, n+len(g.groups)/8)}
	var last time.Time
	for len(l.bodies) < n || g.open > 0 {
		closing := len(l.bodies) >= n
		b, at, err := g.next(closing)
		if err != nil {
			return nil, err
		}
		if b.data != nil {
			l.bodies = append(l.bodies, b)
			last = at
		}
	}
	// Leave a quiet week between rounds so that every incident of a
	// round is settled before the next starts.
	span := last.Sub(genStart) + 7*24*time.Hour
	l.shift = int64(span.Round(time.Hour) / time.Second)
	return l, nil
}

// alertKind is a kind of alert a service can have; each is a group.
type alertKind struct {
	name, severity, summary, description, expr string
}

var alertKinds = []alertKind{
	{"HighErrorRate", "page", "%s 5xx ratio above 5%%", "5xx ratio is %d.%d%% over the last 5m", "job:%s_http_5xx:ratio5m > 0.05"},
	{"HighLatencyP99", "page", "%s p99 latency above 1s", "p99 latency is 1.%d%ds over the last 5m", "histogram_quantile(0.99, sum by (le) (rate(%s_http_request_duration_seconds_bucket[5m]))) > 1"},
	{"PodCrashLooping", "critical", "%s pods are restarting", "restarted %d times in 15m (%d OOM)", "increase(kube_pod_container_status_restarts_total{namespace=\"%s\"}[15m]) > 3"},
	{"TargetDown", "warning", "%s targets are down", "%d%% of targets down for %dm", "up{job=\"%s\"} == 0"},
	{"DiskWillFillIn4h", "warning", "%s disk fills within 4h", "%d%% used, %d GiB/h growth", "predict_linear(node_filesystem_avail_bytes{job=\"%s\"}[1h], 4*3600) < 0"},
	{"QueueBacklog", "critical", "%s consumer lag growing", "lag is %d messages, %ds behind", "sum(kafka_consumergroup_lag{group=\"%s\"}) > 10000"},
	{"CertificateExpiry", "info", "%s certificate expires soon", "expires in %d days (%d checks)", "probe_ssl_earliest_cert_expiry{job=\"%s\"} - time() < 14*86400"},
}

var serviceNames = []string{
	"checkout", "payments", "cart", "search", "catalog", "inventory", "shipping",
	"accounts", "auth", "notifications", "recommendations", "pricing", "orders",
	"billing", "reviews", "media", "gateway", "ledger", "fraud", "loyalty",
	"email", "sms", "analytics", "reporting", "scheduler",
}

var regions = []string{"eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1", "ap-northeast-1", "sa-east-1", "ca-central-1"}

// clusterName names the cluster of lane w: eu-west-1a, eu-central-1a, ...
func clusterName(w int) string {
	c := regions[w%len(regions)] + string(rune('a'+w/len(regions)%8))
	if r := w / (len(regions) * 8); r > 0 {
		c += "-" + strconv.Itoa(r+1)
	}
	return c
}

const instancesPerService = 12

type service struct {
	name, cluster string
	instances     []string
}

// group is one Alertmanager group: one alert kind of one service.
type group struct {
	id   int
	svc  *service
	kind *alertKind
	next time.Time // event time of its next notification

	// The cycle in progress.
	inCycle   bool
	labels    []map[string]string
	fps       []string
	starts    []time.Time
	flapsLeft int
}

type generator struct {
	cfg    genConfig
	rng    *rand.Rand
	groups []*group
	queue  groupHeap
	open   int // groups in a cycle
}

func newGenerator(cfg genConfig, w int) *generator {
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x68696e6473696768+uint64(w)))}
	cluster := clusterName(w)
	for i := range cfg.Services {
		name := serviceNames[i%len(serviceNames)]
		if i >= len(serviceNames) {
			name += "-" + strconv.Itoa(i/len(serviceNames)+1)
		}
		s := &service{name: name, cluster: cluster}
		rs := g.token(5, "0123456789abcdef")
		for range instancesPerService {
			s.instances = append(s.instances, fmt.Sprintf("%s-%s-%s:8080", name, rs, g.token(5, "bcdfghjklmnpqrstvwxz2456789")))
		}
		for k := range alertKinds {
			gr := &group{
				id:   len(g.groups),
				svc:  s,
				kind: &alertKinds[k],
				next: genStart.Add(g.between(0, 24*time.Hour)),
			}
			g.groups = append(g.groups, gr)
		}
	}
	g.queue = slices.Clone(g.groups)
	heap.Init(&g.queue)
	return g
}

func (g *generator) token(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// between returns a random duration in [lo, hi), whole seconds.
func (g *generator) between(lo, hi time.Duration) time.Duration {
	return (lo + time.Duration(g.rng.Int64N(int64(hi-lo)))).Truncate(time.Second)
}

// next returns the next notification in event-time order and its time.
// With closing, it only resolves the cycles in progress: it returns an
// empty body for a group that is quiet, and stops scheduling groups.
func (g *generator) next(closing bool) (body, time.Time, error) {
	gr := g.queue[0]
	at := gr.next
	var status, reason string
	switch {
	case closing && !gr.inCycle:
		heap.Pop(&g.queue)
		return body{}, at, nil
	case !gr.inCycle:
		g.startCycle(gr)
		status, reason = "firing", "first notification"
	case gr.flapsLeft > 0 && !closing:
		// The group resolved and fired again between two flushes:
		// Alertmanager sends the alerts as firing with a new startsAt.
		gr.flapsLeft--
		for i := range gr.starts {
			gr.starts[i] = at.Add(-g.between(0, 30*time.Second))
		}
		status = "firing"
	default:
		status = "resolved"
	}
	b, err := g.render(gr, status, reason, at)
	if err != nil {
		return body{}, time.Time{}, err
	}
	switch {
	case status == "resolved":
		gr.inCycle = false
		g.open--
		// Quiet for hours: the service's incidents settle in between,
		// though groups of one service sometimes overlap.
		gr.next = at.Add(g.between(2*time.Hour, 48*time.Hour))
	case gr.flapsLeft > 0:
		gr.next = at.Add(g.between(30*time.Second, 5*time.Minute))
	default:
		gr.next = at.Add(g.between(2*time.Minute, 25*time.Minute))
	}
	if closing && !gr.inCycle {
		heap.Pop(&g.queue)
	} else {
		heap.Fix(&g.queue, 0)
	}
	return b, at, nil
}

func (g *generator) startCycle(gr *group) {
	gr.inCycle = true
	g.open++
	gr.flapsLeft = g.rng.IntN(3) // 0, 1 or 2: a cycle is 3 notifications on average
	gr.labels, gr.fps, gr.starts = gr.labels[:0], gr.fps[:0], gr.starts[:0]
	s := gr.svc
	for _, i := range g.rng.Perm(len(s.instances))[:g.cfg.Alerts] {
		l := map[string]string{
			"alertname": gr.kind.name,
			"cluster":   s.cluster,
			"env":       "prod",
			"instance":  s.instances[i],
			"job":       s.name,
			"namespace": s.name,
			"service":   s.name,
			"severity":  gr.kind.severity,
		}
		ls := make(model.LabelSet, len(l))
		for k, v := range l {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		gr.labels = append(gr.labels, l)
		gr.fps = append(gr.fps, ls.Fingerprint().String())
		gr.starts = append(gr.starts, gr.next.Add(-g.between(0, time.Minute)))
	}
}

// The webhook payload, version 4, as Alertmanager writes it.
type amMessage struct {
	Receiver           string            `json:"receiver"`
	Status             string            `json:"status"`
	Alerts             []amAlert         `json:"alerts"`
	GroupLabels        map[string]string `json:"groupLabels"`
	CommonLabels       map[string]string `json:"commonLabels"`
	CommonAnnotations  map[string]string `json:"commonAnnotations"`
	ExternalURL        string            `json:"externalURL"`
	Version            string            `json:"version"`
	GroupKey           string            `json:"groupKey"`
	TruncatedAlerts    int               `json:"truncatedAlerts"`
	NotificationReason string            `json:"notification_reason,omitempty"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

const zeroTime = "0001-01-01T00:00:00Z"

func (g *generator) render(gr *group, status, reason string, at time.Time) (body, error) {
	k, s := gr.kind, gr.svc
	summary := fmt.Sprintf(k.summary, s.name)
	runbook := "https://runbooks.example.internal/" + s.name + "/" + k.name
	m := amMessage{
		Receiver:    "hindsight",
		Status:      status,
		GroupLabels: map[string]string{"alertname": k.name, "service": s.name},
		CommonLabels: map[string]string{
			"alertname": k.name, "cluster": s.cluster, "env": "prod", "job": s.name,
			"namespace": s.name, "service": s.name, "severity": k.severity,
		},
		CommonAnnotations:  map[string]string{"summary": summary, "runbook_url": runbook},
		ExternalURL:        "http://alertmanager." + s.cluster + ".example.internal:9093",
		Version:            "4",
		GroupKey:           fmt.Sprintf(`{}/{cluster=%q,severity=%q}:{alertname=%q, service=%q}`, s.cluster, k.severity, k.name, s.name),
		NotificationReason: reason,
	}
	expr := fmt.Sprintf(k.expr, s.name)
	for i, l := range gr.labels {
		a := amAlert{
			Status: status,
			Labels: l,
			Annotations: map[string]string{
				"summary":     summary,
				"description": fmt.Sprintf(k.description, 2+g.rng.IntN(40), g.rng.IntN(10)),
				"runbook_url": runbook,
			},
			StartsAt:     gr.starts[i].Format(tsLayout),
			EndsAt:       zeroTime,
			GeneratorURL: "http://prometheus." + s.cluster + ".example.internal:9090/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1",
			Fingerprint:  gr.fps[i],
		}
		if status == "resolved" {
			a.EndsAt = at.Add(-g.between(0, 30*time.Second)).Format(tsLayout)
			if a.EndsAt < a.StartsAt {
				a.EndsAt = a.StartsAt
			}
		}
		m.Alerts = append(m.Alerts, a)
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return body{}, fmt.Errorf("encode notification: %w", err)
	}
	return body{data: data, stamps: findStamps(data), resolved: status == "resolved"}, nil
}

// findStamps records where the startsAt and endsAt values are, except
// the zero endsAt of firing alerts (Alertmanager's "not resolved").
func findStamps(data []byte) []stamp {
	var out []stamp
	for _, key := range [][]byte{[]byte(`"startsAt":"`), []byte(`"endsAt":"`)} {
		for from := 0; ; {
			i := bytes.Index(data[from:], key)
			if i < 0 {
				break
			}
			off := from + i + len(key)
			from = off
			v := string(data[off : off+len(tsLayout)])
			if v == zeroTime {
				continue
			}
			t, err := time.Parse(tsLayout, v)
			if err != nil {
				continue
			}
			out = append(out, stamp{off: off, unix: t.Unix()})
		}
	}
	return out
}

// groupHeap orders groups by the event time of their next notification.
type groupHeap []*group

func (h groupHeap) Len() int { return len(h) }
func (h groupHeap) Less(i, j int) bool {
	if h[i].next.Equal(h[j].next) {
		return h[i].id < h[j].id
	}
	return h[i].next.Before(h[j].next)
}
func (h groupHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *groupHeap) Push(x any)   { *h = append(*h, x.(*group)) }
func (h *groupHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
