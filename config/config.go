package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Defaults that other packages and the documentation refer to by name.
const (
	// DefaultTier is the tier of a service that the configuration does not
	// describe, or describes without a tier: the least critical of the
	// common tiers, so an unknown service never raises severity by itself.
	DefaultTier = 3
	// DefaultPagerDutyAPIURL is where the PagerDuty REST API is reached
	// unless pagerduty.api_url points at a proxy or a test server.
	DefaultPagerDutyAPIURL = "https://api.pagerduty.com"
	// DefaultMaxBodyBytes caps an ingestion request body: ample for an
	// Alertmanager webhook with hundreds of alerts, small enough that a
	// runaway client cannot exhaust memory.
	DefaultMaxBodyBytes = 1 << 20
	// MaxBodyBytesLimit is the largest api.max_body_bytes accepted, because
	// a body is held in memory while it is made durable.
	MaxBodyBytesLimit = 1 << 30

	// DefaultMaxAlertsPerNotification bounds the alerts (or deploy events)
	// of one request. Alertmanager never retries a 4xx, so the default must
	// take every notification that fits in the default 1MiB body: an alert
	// as Alertmanager sends it (status, labels, startsAt, endsAt,
	// generatorURL, fingerprint) takes at least ~150 bytes, so 1MiB holds
	// at most ~7,000 of them; 10,000 still stops a body of empty objects.
	DefaultMaxAlertsPerNotification = 10000
	// DefaultMaxLabelsPerAlert is generous for Kubernetes alerts (30-40
	// labels are common) and stops a label set of thousands.
	DefaultMaxLabelsPerAlert = 128
	// DefaultMaxLabelNameBytes is well past any real Prometheus label name.
	DefaultMaxLabelNameBytes = 256
	// DefaultMaxLabelValueBytes fits URLs and image references; a label
	// that is a document belongs in an annotation.
	DefaultMaxLabelValueBytes = 4 << 10
	// DefaultMaxAnnotationBytes fits a long description or runbook
	// excerpt, and PagerDuty's longest note.
	DefaultMaxAnnotationBytes = 64 << 10
	// DefaultMaxIngestsInFlight is how many intake requests of one source
	// are read and stored at once; more wait (see IngestWait) and then
	// get 503.
	DefaultMaxIngestsInFlight = 64
)

// Roles an API token can have. Read-only tokens are for dashboards and
// reporting; changes to incidents (notes, overrides, merges) need read-write.
const (
	RoleReadOnly  = "read-only"
	RoleReadWrite = "read-write"
)

// Sink types for export.sinks: where a finished post-mortem draft is sent.
const (
	SinkDirectory = "directory"
	SinkWebhook   = "webhook"
	SinkNATS      = "nats"
)

// Config is the whole configuration of the daemon. It is decoded from one YAML
// file and treated as read-only afterwards, so one value can be shared by
// every goroutine and swapped atomically on reload.
type Config struct {
	// ServiceLabels are the alert labels that name the service an event
	// belongs to, in order of preference.
	ServiceLabels []string `yaml:"service_labels"`
	// Services describes the services Hindsight should know more about than
	// their name: how they depend on each other and how much they matter.
	Services    map[string]Service `yaml:"services"`
	Correlation Correlation        `yaml:"correlation"`
	Severity    Severity           `yaml:"severity"`
	PagerDuty   PagerDuty          `yaml:"pagerduty"`
	Prometheus  Prometheus         `yaml:"prometheus"`
	NATS        NATS               `yaml:"nats"`
	Export      Export             `yaml:"export"`
	API         API                `yaml:"api"`
	Retention   Retention          `yaml:"retention"`
	Log         Log                `yaml:"log"`

	hash string // sha256 of the bytes this configuration was loaded from
}

// ErrorAt makes an error about key path that a check outside this package
// found (a template that does not parse, a directory that cannot be
// written), placed like the loader's own errors: at the key's line in
// file, the configuration file it was loaded from (empty: no place).
func ErrorAt(file, path, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if file == "" {
		return e
	}
	e.File = filepath.Base(file)
	if data, err := os.ReadFile(file); err == nil {
		d := newDecoder()
		d.decodeDocument(data, Default())
		e.Line = d.lineOf(path)
	}
	return e
}

// Service is what Hindsight knows about one service: enough to join the alerts
// of a service and its dependencies into one incident, and to weigh severity.
type Service struct {
	// CustomerFacing marks services whose failure customers see; it raises
	// the suggested severity.
	CustomerFacing bool `yaml:"customer_facing"`
	// Tier is the criticality of the service, 1 being the most critical.
	// It must be between 1 and 5.
	Tier int `yaml:"tier"`
	// DependsOn names the services this one needs, so that an alert on a
	// dependency joins the incident of its dependants.
	DependsOn []string `yaml:"depends_on,omitempty"`
	// PagerDutyServiceIDs ties PagerDuty incidents to this service.
	PagerDutyServiceIDs []string `yaml:"pagerduty_service_ids,omitempty"`
	// ImpactQueries are PromQL expressions, by name, run over the incident's
	// span to put numbers on its impact. $window is replaced by that span.
	ImpactQueries map[string]string `yaml:"impact_queries,omitempty"`
}

// Correlation sets the windows that decide which events make one incident.
// Windows that compare events with each other use event time; windows that wait
// for silence use the wall clock (see spec/config.md).
type Correlation struct {
	// Window is the largest gap after which a related event still joins an
	// open incident.
	Window model.Duration `yaml:"window"`
	// DeployLookback is how long before the first alert a deploy is still a
	// candidate cause.
	DeployLookback model.Duration `yaml:"deploy_lookback"`
	// ReopenWithin is how soon after resolving an incident a new firing of
	// one of its alerts reopens it instead of starting another.
	ReopenWithin model.Duration `yaml:"reopen_within"`
	// ResolveAfter is how long nothing must fire before an incident is
	// resolved.
	ResolveAfter model.Duration `yaml:"resolve_after"`
	// MaxLateness is how late an event may arrive and still be placed by its
	// own time, measured against the newest event time received.
	MaxLateness model.Duration `yaml:"max_lateness"`
	// GroupBy lists labels that must be equal for events to join one
	// incident, so that the same service failing in two clusters makes two
	// incidents.
	GroupBy []string `yaml:"group_by"`
	// MaxSpan is how long after its first symptom an incident still takes
	// new alerts by service, topology or storm; later alerts open a new
	// incident, so a long-lived one does not swallow unrelated problems.
	// It stays open while its own alerts fire.
	MaxSpan model.Duration `yaml:"max_span"`
	// MaxAlerts caps the alerts of one incident; past it, new alerts open
	// a new incident rather than growing one nobody can read.
	MaxAlerts int `yaml:"max_alerts"`
	// StormIncidents incidents opening within StormWindow in the same
	// group_by labels are an alert storm: they are merged into the first,
	// and new alerts there join it. 0 turns the storm guard off.
	StormIncidents int            `yaml:"storm_incidents"`
	StormWindow    model.Duration `yaml:"storm_window"`
	// An alert that fires FlapFirings times within FlapWindow is flapping:
	// it is marked so in the incident and the draft, and while it flaps
	// its firings stay in its incident even after reopen_within.
	FlapFirings int            `yaml:"flap_firings"`
	FlapWindow  model.Duration `yaml:"flap_window"`
	// PageStaleAfter bounds how long a PagerDuty incident that nobody
	// resolved keeps its incident open: a page with no event (no
	// acknowledgement, note, escalation) for this long no longer counts as
	// firing, so its incident ends and takes in nothing new. People leave
	// pages open for days; that is not an outage lasting days.
	PageStaleAfter model.Duration `yaml:"page_stale_after"`
	// InfrastructureLabels name the machine an alert is about (a
	// Kubernetes node, a host): alerts of any services that carry the same
	// value of one of them while one of them fires are about one machine
	// failing, so they join. An empty list turns this off.
	InfrastructureLabels []string `yaml:"infrastructure_labels"`
	// DependencyLag is how long after an incident began a dependency of
	// its services may start alerting and still be taken for their
	// origin: infrastructure alerts wait out their `for:` (kube-prometheus'
	// node and pod rules wait 15m) and the Alertmanager group before they
	// arrive. A dependency that starts failing later than this, while its
	// dependents have been failing for long, has a fault of its own.
	DependencyLag model.Duration `yaml:"dependency_lag"`
	// MaxFutureSkew is how far ahead of the clock of the Hindsight that
	// received it an event's own time may be. Later events are refused at
	// intake (400, naming the field); one already in the log (stored by an
	// earlier version) is kept but not correlated, so one wrong clock
	// cannot move the event time everything else is judged by. Events of
	// any age in the past are accepted: a backfill places them by their
	// own time.
	MaxFutureSkew model.Duration `yaml:"max_future_skew"`
}

// Severity holds the rules that suggest an incident's severity. They are
// configurable because what counts as a SEV2 differs between organisations.
type Severity struct {
	// Rules are tried in order: the first that matches sets the suggestion,
	// and every rule that matches is given as a reason.
	Rules []SeverityRule `yaml:"rules"`
}

// SeverityRule suggests a severity for incidents that meet its condition.
type SeverityRule struct {
	// Severity is the suggested level, SEV1 (worst) to SEV5.
	Severity string `yaml:"severity"`
	// When is the condition; an empty one matches every incident.
	When Condition `yaml:"when"`
}

// Condition describes incidents that a severity rule applies to. Every field
// that is set must hold, so a rule reads as a conjunction; an empty condition
// always matches, which makes a catch-all last rule.
//
// The alert conditions (Labels, AlertSeverity) and the service conditions
// (CustomerFacing, MaxTier) hold together, on the same alerts: "a critical
// alert on a customer-facing service", not a critical alert somewhere and a
// customer-facing service elsewhere. The counts and the duration are of
// those alerts.
type Condition struct {
	// Labels must all match on the same alert. Values are RE2 regular
	// expressions anchored at both ends, as in Prometheus matchers.
	Labels map[string]string `yaml:"labels,omitempty"`
	// CustomerFacing, when set, must equal whether the alert's service is
	// customer-facing (false: an internal service). Without alert
	// conditions it applies to the incident's services.
	CustomerFacing *bool `yaml:"customer_facing,omitempty"`
	// AlertSeverity requires that the alert's `severity` label is one of
	// these values.
	AlertSeverity []string `yaml:"alert_severity,omitempty"`
	// MinDuration requires that the alerts the rule matches have lasted at
	// least this long together, from the first one's start to the last
	// one's end (or now while one fires); a rule with no alert or service
	// condition measures the incident.
	MinDuration model.Duration `yaml:"min_duration,omitempty"`
	// MaxTier requires the alert's service to be of tier MaxTier or more
	// critical; 0 leaves tiers out of the condition.
	MaxTier int `yaml:"max_tier,omitempty"`
	// MinServices requires at least this many services to be involved,
	// a sign of a wide outage; 0 leaves the count out.
	MinServices int `yaml:"min_services,omitempty"`
	// MinCustomerFacing requires the matching alerts to be on at least
	// this many customer-facing services: the breadth of what customers
	// see; 0 leaves the count out.
	MinCustomerFacing int `yaml:"min_customer_facing,omitempty"`
	// MinAlerts requires at least this many distinct matching alerts
	// (fingerprints): more than one host or pod, more than one symptom.
	MinAlerts int `yaml:"min_alerts,omitempty"`
	// Paged, when set, must equal whether a PagerDuty incident is linked:
	// someone was asked to act.
	Paged *bool `yaml:"paged,omitempty"`
}

// PagerDuty configures the PagerDuty webhook intake and the optional REST
// backfill.
type PagerDuty struct {
	// WebhookSecrets verify X-PagerDuty-Signature. Several may be given so
	// that a secret can be rotated without refusing webhooks; none means
	// signatures are not checked.
	WebhookSecrets []commoncfg.Secret `yaml:"webhook_secrets"`
	// APITokenFile holds a REST API token. It is read when used, not at load
	// time, so the token can be rotated without a reload.
	APITokenFile string `yaml:"api_token_file"`
	// PollInterval is how often the REST API is polled to backfill events a
	// webhook missed; 0 turns polling off.
	PollInterval model.Duration `yaml:"poll_interval"`
	// PriorityFloor maps a PagerDuty priority name to the least severity an
	// incident with that priority gets, since a human already judged it.
	PriorityFloor map[string]string `yaml:"priority_floor"`
	// APIURL is the base URL of the REST API.
	APIURL string `yaml:"api_url"`
}

// Prometheus configures the Prometheus server that impact queries run against.
type Prometheus struct {
	// URL of the Prometheus server; empty turns impact queries off.
	URL string `yaml:"url"`
	// HTTPClientConfig takes the same keys as a Prometheus scrape or remote
	// read client (basic_auth, authorization, tls_config, ...), inline.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
	// QueryTimeout bounds one impact query, so a slow Prometheus cannot hold
	// up a post-mortem draft.
	QueryTimeout model.Duration `yaml:"query_timeout"`
}

// NATS configures how deploy events are consumed. The server itself is chosen
// by command-line flags, since it cannot change on reload.
type NATS struct {
	// DeploySubject is the subject deploy events are published on; it may
	// hold wildcards.
	DeploySubject string `yaml:"deploy_subject"`
	// Stream is a JetStream stream to consume durably; empty means a plain
	// subscription, which loses events while Hindsight is down.
	Stream string `yaml:"stream"`
	// Consumer is the durable consumer name, so a restart resumes where it
	// stopped.
	Consumer string `yaml:"consumer"`
	// CredentialsFile is a NATS .creds file for an external server.
	CredentialsFile string `yaml:"credentials_file"`
	// TLS configures TLS to an external server.
	TLS commoncfg.TLSConfig `yaml:"tls_config"`
	// MaxDeliver bounds redelivery of an event that keeps failing, so one
	// bad message cannot block the consumer forever; -1 means no bound.
	MaxDeliver int `yaml:"max_deliver"`
}

// Export configures when and where post-mortem drafts are written.
type Export struct {
	// OnResolve writes a draft when an incident resolves; without it drafts
	// are only made on request.
	OnResolve bool `yaml:"on_resolve"`
	// Delay waits after the resolution for late events before the draft is
	// written.
	Delay model.Duration `yaml:"delay"`
	// TemplateFile is a Go text/template that replaces the built-in Markdown
	// template; empty keeps the built-in one.
	TemplateFile string `yaml:"template_file"`
	// Formats are what each sink receives: markdown, html, json, one file
	// or message per format.
	Formats []string `yaml:"formats"`
	// MinReviewers is how many distinct reviewers must approve before a
	// post-mortem can be published, the author among them.
	MinReviewers int `yaml:"min_reviewers"`
	// MaxAge stops automatic exports of incidents that ended longer ago
	// than this, so that a backfill of old data does not flood the sinks;
	// 0 means no limit. Published post-mortems are exported whatever
	// their age.
	MaxAge model.Duration `yaml:"max_age"`
	// Sinks are the destinations of drafts; none means drafts are only
	// served by the API.
	Sinks []Sink `yaml:"sinks"`
}

// Export formats, as export.formats lists them.
const (
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
	FormatJSON     = "json"
)

// ExportFormats are the accepted export.formats, in the order drafts are
// written.
var ExportFormats = []string{FormatMarkdown, FormatHTML, FormatJSON}

// Sink is one destination for post-mortem drafts. Type says which of the other
// fields applies: Path for directory, URL for webhook, Subject for nats.
type Sink struct {
	// Type is directory, webhook or nats.
	Type string `yaml:"type"`
	// Path is the directory drafts are written to, one file per draft.
	Path string `yaml:"path,omitempty"`
	// URL receives each draft as a POST; it may carry a secret, so it is
	// never put in errors or logs.
	URL string `yaml:"url,omitempty"`
	// Subject is the NATS subject drafts are published on.
	Subject string `yaml:"subject,omitempty"`
}

// API configures authentication and limits of the HTTP API.
type API struct {
	// Tokens guard the query and change endpoints; none means they are open,
	// which suits a listener only reachable from a trusted network.
	Tokens []Token `yaml:"tokens"`
	// IngestTokens guard the ingestion endpoints separately, because
	// Alertmanager and PagerDuty hold them in their own configuration.
	IngestTokens []Token `yaml:"ingest_tokens"`
	// MaxBodyBytes caps a request body; larger requests get 413.
	MaxBodyBytes Bytes `yaml:"max_body_bytes"`
	// Limits bound what one ingested request may carry beyond its size.
	Limits `yaml:",inline"`
	// MaxIngestsInFlight bounds the intake requests of each source that
	// are read and stored at once, so that a storm of senders costs a
	// bounded amount of memory; the others wait briefly, then get 503
	// with Retry-After.
	MaxIngestsInFlight int `yaml:"max_ingests_in_flight"`
	// AnonymousMetrics lets /metrics be scraped without a token even when
	// Tokens is set; by default a scraper needs a token of either role,
	// since the metrics name services and show the load.
	AnonymousMetrics bool `yaml:"anonymous_metrics"`
}

// Limits bound what one intake request (an Alertmanager notification, a
// PagerDuty webhook, a deploy request or NATS message) may carry, so that
// hostile or runaway input cannot take the daemon's memory or fill its
// store. A request past one is refused (413) with a message naming the
// limit's key and the field at fault. Every value must be at least 1.
type Limits struct {
	// MaxAlertsPerNotification bounds the alerts of one Alertmanager
	// notification and the events of one deploy batch.
	MaxAlertsPerNotification int `yaml:"max_alerts_per_notification"`
	// MaxLabelsPerAlert bounds the labels of one alert or deploy event.
	MaxLabelsPerAlert int `yaml:"max_labels_per_alert"`
	// MaxLabelNameBytes bounds one label's name.
	MaxLabelNameBytes Bytes `yaml:"max_label_name_bytes"`
	// MaxLabelValueBytes bounds one label's value.
	MaxLabelValueBytes Bytes `yaml:"max_label_value_bytes"`
	// MaxAnnotationBytes bounds one annotation's value, and every text of
	// a PagerDuty event or a deploy (a note, a title, a description).
	MaxAnnotationBytes Bytes `yaml:"max_annotation_bytes"`
}

// DefaultLimits returns the built-in api.max_* intake limits.
func DefaultLimits() Limits {
	return Limits{
		MaxAlertsPerNotification: DefaultMaxAlertsPerNotification,
		MaxLabelsPerAlert:        DefaultMaxLabelsPerAlert,
		MaxLabelNameBytes:        DefaultMaxLabelNameBytes,
		MaxLabelValueBytes:       DefaultMaxLabelValueBytes,
		MaxAnnotationBytes:       DefaultMaxAnnotationBytes,
	}
}

// Token is one bearer token. Exactly one of TokenFile and Token is set; a file
// keeps the secret out of the configuration and lets it be rotated.
type Token struct {
	// Name identifies the token's holder in logs and in the timeline, never
	// the token itself.
	Name string `yaml:"name"`
	// Role is read-only or read-write; it is ignored for ingest tokens.
	Role string `yaml:"role,omitempty"`
	// TokenFile holds the token; it is read when used (see Value).
	TokenFile string `yaml:"token_file,omitempty"`
	// Token is the token written inline, for tests and quick setups.
	Token commoncfg.Secret `yaml:"token,omitempty"`
}

// Retention bounds how long data is kept.
type Retention struct {
	// Events is how long raw events are kept. At least an hour, since the
	// correlation windows need them.
	Events model.Duration `yaml:"events"`
}

// Event log types for log.type.
const (
	// LogBadger keeps the event log in the local store: one instance.
	LogBadger = "badger"
	// LogJetStream keeps it in a JetStream stream on the NATS cluster of
	// --nats.url, shared by several replicas (correlate/streamlog).
	LogJetStream = "jetstream"
)

// Log says where the event log lives. It cannot change while the daemon
// runs.
type Log struct {
	// Type is badger (the local store, one instance) or jetstream (a
	// stream shared by the replicas).
	Type string `yaml:"type"`
	// Stream is the JetStream stream of the jetstream log; every replica
	// of one installation names the same.
	Stream string `yaml:"stream"`
	// Replicas is the stream's replication factor on the cluster, 1 to 5.
	Replicas int `yaml:"replicas"`
}

// Default returns the built-in configuration. Every key has a default, so an
// empty file runs; each call returns a new value the caller may change.
func Default() *Config {
	return &Config{
		ServiceLabels: []string{"service", "app", "job"},
		Correlation: Correlation{
			Window:               model.Duration(10 * time.Minute),
			DeployLookback:       model.Duration(30 * time.Minute),
			ReopenWithin:         model.Duration(15 * time.Minute),
			ResolveAfter:         model.Duration(5 * time.Minute),
			MaxLateness:          model.Duration(10 * time.Minute),
			GroupBy:              []string{"cluster"},
			MaxSpan:              model.Duration(12 * time.Hour),
			MaxAlerts:            500,
			StormIncidents:       4,
			StormWindow:          model.Duration(5 * time.Minute),
			FlapFirings:          4,
			FlapWindow:           model.Duration(time.Hour),
			PageStaleAfter:       model.Duration(24 * time.Hour),
			InfrastructureLabels: []string{"node", "host"},
			MaxFutureSkew:        model.Duration(10 * time.Minute),
			DependencyLag:        model.Duration(20 * time.Minute),
		},
		Severity: Severity{Rules: DefaultSeverityRules()},
		PagerDuty: PagerDuty{
			APIURL: DefaultPagerDutyAPIURL,
		},
		Prometheus: Prometheus{
			HTTPClientConfig: commoncfg.DefaultHTTPClientConfig,
			QueryTimeout:     model.Duration(30 * time.Second),
		},
		NATS: NATS{
			DeploySubject: "deploys.>",
			Consumer:      "hindsight",
			MaxDeliver:    5,
		},
		Export: Export{
			OnResolve:    true,
			Delay:        model.Duration(10 * time.Minute),
			Formats:      []string{FormatMarkdown},
			MinReviewers: 3,
		},
		API: API{
			MaxBodyBytes:       DefaultMaxBodyBytes,
			Limits:             DefaultLimits(),
			MaxIngestsInFlight: DefaultMaxIngestsInFlight,
		},
		Retention: Retention{
			Events: model.Duration(400 * 24 * time.Hour),
		},
		Log: Log{
			Type:     LogBadger,
			Stream:   "HINDSIGHT_EVENTS",
			Replicas: 3,
		},
		hash: hashOf(nil),
	}
}

// DefaultSeverityRules returns the built-in severity rules, which follow the
// SEV1..SEV5 table of spec/postmortem.md from what was observed: how many
// customer-facing services were critical (breadth), for how long
// (duration), whether the service matters to customers at all, and whether
// anyone was paged. The first rule that matches sets the suggestion, so the
// most severe come first; pagerduty.priority_floor then raises it.
func DefaultSeverityRules() []SeverityRule {
	critical := []string{"critical", "page"}
	yes := new(true)
	return []SeverityRule{
		// SEV1: a security issue, which may expose customer data and warrants
		// public notification whatever else is true.
		{Severity: "SEV1", When: Condition{Labels: map[string]string{"category": "security"}}},
		// SEV1: two or more customer-facing tier-1 services critical for an
		// hour: the product down long enough to break the SLA.
		{Severity: "SEV1", When: Condition{CustomerFacing: yes, AlertSeverity: critical, MaxTier: 1,
			MinCustomerFacing: 2, MinDuration: model.Duration(time.Hour)}},
		// SEV2: two or more customer-facing tier-1 services critical: most
		// customers cannot use the product.
		{Severity: "SEV2", When: Condition{CustomerFacing: yes, AlertSeverity: critical, MaxTier: 1, MinCustomerFacing: 2}},
		// SEV2: one customer-facing tier-1 service critical for an hour.
		{Severity: "SEV2", When: Condition{CustomerFacing: yes, AlertSeverity: critical, MaxTier: 1, MinDuration: model.Duration(time.Hour)}},
		// SEV3: a customer-facing service critical for 15 minutes or more:
		// partial loss of functionality, not for most customers.
		{Severity: "SEV3", When: Condition{CustomerFacing: yes, AlertSeverity: critical, MinDuration: model.Duration(15 * time.Minute)}},
		// SEV4: critical elsewhere or briefly (a blip on one probe, one
		// host, an internal service of any tier whose consumers do not
		// fail): needs action, customers can still work.
		{Severity: "SEV4", When: Condition{AlertSeverity: critical}},
		// SEV4: a warning on a customer-facing service.
		{Severity: "SEV4", When: Condition{CustomerFacing: yes, AlertSeverity: []string{"warning"}}},
		// SEV4: an internal warning someone was paged for, or on more than
		// one host or pod: it needs action.
		{Severity: "SEV4", When: Condition{AlertSeverity: []string{"warning"}, Paged: yes}},
		{Severity: "SEV4", When: Condition{AlertSeverity: []string{"warning"}, MinAlerts: 2}},
		// SEV5: everything else (one internal warning) is cosmetic until a
		// person says otherwise.
		{Severity: "SEV5"},
	}
}

// Load parses a configuration from YAML: the defaults first, then the
// document, then [Config.Validate]. Relative paths are kept as written; use
// [LoadFile] to resolve them against a file's directory. The error, if any, is
// an [*Error] or [Errors].
func Load(data []byte) (*Config, error) {
	return load(data, "")
}

// LoadFile reads and parses a configuration file. Relative paths in it
// (token files, template file, directory sinks, TLS and credentials files) are
// resolved against the file's directory, so the file means the same wherever
// the daemon is started. Errors start with the file's base name and line,
// such as `hindsight.yml:12: unknown key "windwo" in correlation`.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, fmt.Errorf("%s: read config file: %w", path, pe.Err)
		}
		return nil, fmt.Errorf("%s: read config file: %w", path, err)
	}
	c, err := load(data, filepath.Base(path))
	if err != nil {
		return nil, err
	}
	c.setDirectory(filepath.Dir(path))
	return c, nil
}

func load(data []byte, file string) (*Config, error) {
	c := Default()
	c.hash = hashOf(data)
	d := newDecoder()
	d.decodeDocument(data, c)
	if len(d.errs) > 0 {
		return nil, d.result(file)
	}
	for _, p := range c.validate() {
		d.errs = append(d.errs, &Error{Line: d.lineOf(p.path), Msg: p.msg})
	}
	if len(d.errs) > 0 {
		return nil, d.result(file)
	}
	return c, nil
}

// setDirectory resolves relative paths against dir.
func (c *Config) setDirectory(dir string) {
	for i := range c.API.Tokens {
		c.API.Tokens[i].TokenFile = commoncfg.JoinDir(dir, c.API.Tokens[i].TokenFile)
	}
	for i := range c.API.IngestTokens {
		c.API.IngestTokens[i].TokenFile = commoncfg.JoinDir(dir, c.API.IngestTokens[i].TokenFile)
	}
	c.PagerDuty.APITokenFile = commoncfg.JoinDir(dir, c.PagerDuty.APITokenFile)
	c.Export.TemplateFile = commoncfg.JoinDir(dir, c.Export.TemplateFile)
	for i, s := range c.Export.Sinks {
		if s.Type == SinkDirectory {
			c.Export.Sinks[i].Path = commoncfg.JoinDir(dir, s.Path)
		}
	}
	c.Prometheus.HTTPClientConfig.SetDirectory(dir)
	c.NATS.CredentialsFile = commoncfg.JoinDir(dir, c.NATS.CredentialsFile)
	c.NATS.TLS.SetDirectory(dir)
}

// String returns the configuration as YAML, as the daemon understood it, for
// `--config.check` output and a status page. Inline secrets are shown as
// <secret> (unless another package sets commoncfg.MarshalSecretValue).
func (c *Config) String() string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("<error creating config string: %s>", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Sprintf("<error creating config string: %s>", err)
	}
	return buf.String()
}

// Hash returns the hex SHA-256 of the bytes the configuration was loaded from,
// for a config-hash metric that shows which file each instance runs.
// [Default] hashes as an empty file.
func (c *Config) Hash() string {
	return c.hash
}

// ServiceFor returns the service an event with these labels belongs to: the
// value of the first of ServiceLabels that is present and non-empty, or "" when
// none is.
func (c *Config) ServiceFor(labels map[string]string) string {
	for _, name := range c.ServiceLabels {
		if v := labels[name]; v != "" {
			return v
		}
	}
	return ""
}

// Service returns the configuration of the named service. A service that is
// not configured is still a service: not customer-facing, of DefaultTier, with
// no dependencies.
func (c *Config) Service(name string) Service {
	if s, ok := c.Services[name]; ok {
		return s
	}
	return defaultService()
}

func defaultService() Service {
	return Service{Tier: DefaultTier}
}

// setDefaults lets the decoder give a service listed without a tier the
// default one.
func (s *Service) setDefaults() {
	*s = defaultService()
}

// Value returns the token: the inline secret, or the trimmed content of
// TokenFile. The file is read on every call so that a rotated token takes
// effect without a reload; callers that check many requests should cache it.
func (t Token) Value() (string, error) {
	if t.TokenFile == "" {
		return string(t.Token), nil
	}
	return readSecretFile(t.TokenFile, fmt.Sprintf("token %q", t.Name))
}

// APIToken returns the PagerDuty REST API token read from APITokenFile, or ""
// when no file is configured.
func (p PagerDuty) APIToken() (string, error) {
	if p.APITokenFile == "" {
		return "", nil
	}
	return readSecretFile(p.APITokenFile, "pagerduty api token")
}

func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("read %s: file %s is empty", what, path)
	}
	return v, nil
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
