package main

import "slices"

// svcDef is one service of the synthetic shop: what kind of thing it is
// (which alerts it raises), where it runs and what it depends on.
type svcDef struct {
	name, ns, kind string
	cf             bool
	tier           int
	deps           []string
	pd             string // PagerDuty service id; "" when not paged
}

// shop is the topology every scenario runs on: a web shop with its
// datastores. Edges point from a service to what it depends on.
var shop = []svcDef{
	{"frontend", "shop", kindHTTP, true, 1, []string{"checkout", "catalog", "search", "cart", "auth"}, "PFRONTD"},
	{"checkout", "shop", kindHTTP, true, 1, []string{"payments", "orders", "postgres-main"}, "PCHKOUT"},
	{"payments", "payments", kindHTTP, true, 1, []string{"postgres-main", "kafka"}, "PPAYMNT"},
	{"auth", "identity", kindHTTP, true, 1, []string{"postgres-auth", "redis"}, "PAUTHSV"},
	{"orders", "shop", kindHTTP, false, 2, []string{"postgres-main", "kafka"}, "PORDERS"},
	{"cart", "shop", kindHTTP, true, 2, []string{"redis"}, "PCARTSV"},
	{"catalog", "shop", kindHTTP, true, 2, []string{"postgres-catalog", "redis"}, "PCATLOG"},
	{"search", "search", kindHTTP, true, 2, []string{"elasticsearch"}, "PSEARCH"},
	{"recommendations", "shop", kindHTTP, false, 3, []string{"catalog", "redis"}, "PRECOMM"},
	{"shipping", "logistics", kindHTTP, false, 3, []string{"kafka", "postgres-main"}, "PSHIPNG"},
	{"notifications", "logistics", kindWorker, false, 3, []string{"kafka"}, "PNOTIFY"},
	{"reporting", "analytics", kindWorker, false, 4, []string{"postgres-replica"}, ""},
	{"postgres-main", "data", kindPostgres, false, 1, nil, "PPGMAIN"},
	{"postgres-catalog", "data", kindPostgres, false, 2, nil, "PPGCATL"},
	{"postgres-auth", "identity", kindPostgres, false, 1, nil, "PPGAUTH"},
	{"postgres-replica", "data", kindPostgres, false, 3, []string{"postgres-main"}, ""},
	{"redis", "data", kindRedis, false, 2, nil, "PREDIS1"},
	{"kafka", "data", kindKafka, false, 1, nil, "PKAFKA1"},
	{"elasticsearch", "search", kindElastic, false, 2, nil, "PELASTC"},
}

// Kinds of services: they decide which alerts a service raises.
const (
	kindHTTP     = "http"
	kindWorker   = "worker"
	kindPostgres = "postgres"
	kindRedis    = "redis"
	kindKafka    = "kafka"
	kindElastic  = "elasticsearch"
)

func svcOf(name string) svcDef {
	for _, s := range shop {
		if s.name == name {
			return s
		}
	}
	return svcDef{name: name, ns: "kube-system", kind: kindWorker, tier: 3}
}

func isDatastore(name string) bool {
	switch svcOf(name).kind {
	case kindPostgres, kindRedis, kindKafka, kindElastic:
		return true
	}
	return false
}

// dependsOn reports whether a depends on b directly.
func dependsOn(a, b string) bool { return slices.Contains(svcOf(a).deps, b) }

// related reports whether a and b are the same service or one depends on
// the other directly: what a topology join may connect.
func related(a, b string) bool { return a == b || dependsOn(a, b) || dependsOn(b, a) }

// dependents returns the services that depend on name directly, in
// topology order.
func dependents(name string) []string {
	var out []string
	for _, s := range shop {
		if dependsOn(s.name, name) {
			out = append(out, s.name)
		}
	}
	return out
}

// chains returns every A -> B -> C of the topology where A does not depend
// on C directly: the transitivity trap.
func chains() [][3]string {
	var out [][3]string
	for _, a := range shop {
		for _, b := range a.deps {
			for _, c := range svcOf(b).deps {
				if c != a.name && !related(a.name, c) {
					out = append(out, [3]string{a.name, b, c})
				}
			}
		}
	}
	return out
}

func serviceNames(filter func(svcDef) bool) []string {
	var out []string
	for _, s := range shop {
		if filter == nil || filter(s) {
			out = append(out, s.name)
		}
	}
	return out
}

// specs returns the topology as the scenario's configuration.
func specs() map[string]ServiceSpec {
	out := make(map[string]ServiceSpec, len(shop))
	for _, s := range shop {
		sp := ServiceSpec{Namespace: s.ns, CustomerFacing: s.cf, Tier: s.tier, DependsOn: slices.Clone(s.deps)}
		if s.pd != "" {
			sp.PagerDutyServiceIDs = []string{s.pd}
		}
		out[s.name] = sp
	}
	return out
}

// alertDef is an alerting rule: the alert's name, severity label, summary
// and any extra labels.
type alertDef struct {
	name, severity, summary string
	labels                  map[string]string
}

var (
	errorRate    = alertDef{name: "HighErrorRate", severity: "critical", summary: "5xx ratio above 5% for 2m"}
	latencyP99   = alertDef{name: "HighLatencyP99", severity: "warning", summary: "p99 latency above 1s for 5m"}
	crashLoop    = alertDef{name: "PodCrashLooping", severity: "warning", summary: "container restarting repeatedly"}
	targetDown   = alertDef{name: "TargetDown", severity: "critical", summary: "scrape targets down"}
	podNotReady  = alertDef{name: "KubePodNotReady", severity: "warning", summary: "pod not ready for 5m"}
	backlog      = alertDef{name: "QueueBacklogGrowing", severity: "warning", summary: "consumer lag growing for 10m"}
	jobFailures  = alertDef{name: "JobFailuresHigh", severity: "critical", summary: "more than 10% of jobs failing"}
	nodeNotReady = alertDef{name: "KubeNodeNotReady", severity: "critical", summary: "node not ready for 2m"}
	wafAttack    = alertDef{name: "WAFAttackDetected", severity: "warning", summary: "WAF blocking a credential-stuffing burst",
		labels: map[string]string{"category": "security"}}
	diskPredict = alertDef{name: "DiskWillFillIn4Hours", severity: "warning", summary: "volume predicted to fill within 4h"}
	diskLow     = alertDef{name: "DiskSpaceLow", severity: "warning", summary: "less than 15% disk space left"}
	diskCrit    = alertDef{name: "DiskSpaceCritical", severity: "critical", summary: "less than 5% disk space left"}
)

// downAlerts are what a service raises when it itself fails: the first
// is the primary (most telling) alert.
var downAlerts = map[string][]alertDef{
	kindHTTP:   {errorRate, latencyP99, crashLoop},
	kindWorker: {jobFailures, backlog, crashLoop},
	kindPostgres: {
		{name: "PostgresDown", severity: "critical", summary: "postgres instance unreachable"},
		{name: "PostgresTooManyConnections", severity: "warning", summary: "connections above 90% of max_connections"},
		{name: "PostgresReplicationLagHigh", severity: "warning", summary: "replica lag above 30s"},
	},
	kindRedis: {
		{name: "RedisDown", severity: "critical", summary: "redis instance unreachable"},
		{name: "RedisRejectedConnections", severity: "warning", summary: "redis rejecting connections"},
	},
	kindKafka: {
		{name: "KafkaOfflinePartitions", severity: "critical", summary: "partitions without a leader"},
		{name: "KafkaUnderReplicatedPartitions", severity: "warning", summary: "under-replicated partitions"},
	},
	kindElastic: {
		{name: "ElasticsearchClusterRed", severity: "critical", summary: "cluster health red"},
		{name: "ElasticsearchHeapUsageHigh", severity: "warning", summary: "JVM heap above 90%"},
	},
}

// symptomAlerts are what a service raises when something it depends on
// fails.
var symptomAlerts = map[string][]alertDef{
	kindHTTP:     {errorRate, latencyP99},
	kindWorker:   {backlog, jobFailures},
	kindPostgres: {downAlerts[kindPostgres][1], downAlerts[kindPostgres][2]},
	kindRedis:    {downAlerts[kindRedis][1]},
	kindKafka:    {downAlerts[kindKafka][1]},
	kindElastic:  {downAlerts[kindElastic][1]},
}

// stormAlerts are what services raise when the cluster under them fails.
var stormAlerts = []alertDef{targetDown, errorRate, podNotReady}
