package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// problem is a validation failure at a key path; the loader turns the path
// into a line.
type problem struct {
	path string
	msg  string
}

type problems []problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, problem{path: path, msg: fmt.Sprintf(format, args...)})
}

// Validate checks the values that decoding cannot: ranges, references and
// combinations of keys. [Load] calls it; call it yourself after building or
// changing a Config in code. The error is an [*Error] or [Errors] whose
// messages name the key path. Like prometheus/common's own Validate, it
// normalises the HTTP client settings (a bearer_token becomes authorization).
func (c *Config) Validate() error {
	ps := c.validate()
	if len(ps) == 0 {
		return nil
	}
	errs := make(Errors, len(ps))
	for i, p := range ps {
		errs[i] = &Error{Msg: p.msg}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errs
}

func (c *Config) validate() problems {
	var ps problems
	c.validateServices(&ps)
	c.Correlation.validate(&ps)
	c.Severity.validate(&ps)
	c.PagerDuty.validate(&ps)
	c.Prometheus.validate(&ps)
	c.NATS.validate(&ps)
	c.Export.validate(&ps)
	c.API.validate(&ps)
	if min := model.Duration(time.Hour); c.Retention.Events < min {
		ps.add("retention.events", "retention.events must be at least %s, got %s", min, c.Retention.Events)
	}
	c.Log.validate(&ps)
	return ps
}

func (l Log) validate(ps *problems) {
	switch l.Type {
	case LogBadger, LogJetStream:
	default:
		ps.add("log.type", "log.type must be %s or %s, got %q", LogBadger, LogJetStream, l.Type)
	}
	if l.Stream == "" || strings.ContainsAny(l.Stream, " \t\r\n.*>/\\") {
		ps.add("log.stream", "log.stream %q is not a JetStream stream name (no spaces, '.', '*', '>', '/' or '\\')", l.Stream)
	}
	if l.Replicas < 1 || l.Replicas > 5 {
		ps.add("log.replicas", "log.replicas must be between 1 and 5, got %d", l.Replicas)
	}
}

func (c *Config) validateServices(ps *problems) {
	if len(c.ServiceLabels) == 0 {
		ps.add("service_labels", "service_labels must not be empty: events could not be attributed to a service")
	}
	nonEmpty(ps, "service_labels", c.ServiceLabels)
	for _, name := range sortedKeys(c.Services) {
		s, path := c.Services[name], "services."+name
		if name == "" {
			ps.add("services", "services has a service with an empty name")
			continue
		}
		if s.Tier < 1 || s.Tier > 5 {
			ps.add(path+".tier", "%s.tier must be between 1 and 5, got %d", path, s.Tier)
		}
		for i, dep := range s.DependsOn {
			p := fmt.Sprintf("%s.depends_on[%d]", path, i)
			switch dep {
			case "":
				ps.add(p, "%s must not be empty", p)
			case name:
				ps.add(p, "%s: a service cannot depend on itself", p)
			}
		}
		nonEmpty(ps, path+".pagerduty_service_ids", s.PagerDutyServiceIDs)
		for _, q := range sortedKeys(s.ImpactQueries) {
			if q == "" {
				ps.add(path+".impact_queries", "%s.impact_queries has a query with an empty name", path)
			} else if strings.TrimSpace(s.ImpactQueries[q]) == "" {
				ps.add(path+".impact_queries."+q, "%s.impact_queries.%s must not be empty", path, q)
			}
		}
	}
}

func (c Correlation) validate(ps *problems) {
	for _, d := range []struct {
		key string
		v   model.Duration
	}{
		{"window", c.Window},
		{"deploy_lookback", c.DeployLookback},
		{"reopen_within", c.ReopenWithin},
		{"resolve_after", c.ResolveAfter},
		{"max_lateness", c.MaxLateness},
		{"max_span", c.MaxSpan},
		{"storm_window", c.StormWindow},
		{"flap_window", c.FlapWindow},
		{"page_stale_after", c.PageStaleAfter},
		{"max_future_skew", c.MaxFutureSkew},
		{"dependency_lag", c.DependencyLag},
	} {
		if d.v <= 0 {
			ps.add("correlation."+d.key, "correlation.%s must be greater than zero", d.key)
		}
	}
	nonEmpty(ps, "correlation.group_by", c.GroupBy)
	for i, l := range c.InfrastructureLabels {
		if l == "" {
			ps.add("correlation.infrastructure_labels", "correlation.infrastructure_labels[%d] is empty", i)
		}
	}
	if c.MaxAlerts < 1 {
		ps.add("correlation.max_alerts", "correlation.max_alerts must be at least 1")
	}
	if c.StormIncidents == 1 || c.StormIncidents < 0 {
		ps.add("correlation.storm_incidents", "correlation.storm_incidents must be 0 (no storm guard) or at least 2")
	}
	if c.FlapFirings < 2 {
		ps.add("correlation.flap_firings", "correlation.flap_firings must be at least 2")
	}
	if c.MaxSpan > 0 && c.MaxSpan < c.Window {
		ps.add("correlation.max_span", "correlation.max_span (%s) must not be shorter than correlation.window (%s)", c.MaxSpan, c.Window)
	}
}

func (s Severity) validate(ps *problems) {
	if len(s.Rules) == 0 {
		ps.add("severity.rules", "severity.rules must not be empty; leave the key out to use the built-in rules")
	}
	for i, r := range s.Rules {
		path := fmt.Sprintf("severity.rules[%d]", i)
		validSeverity(ps, path+".severity", r.Severity)
		w := path + ".when"
		for _, name := range sortedKeys(r.When.Labels) {
			p := w + ".labels." + name
			if name == "" {
				ps.add(w+".labels", "%s.labels has a label with an empty name", w)
				continue
			}
			if err := checkRegexp(r.When.Labels[name]); err != nil {
				ps.add(p, "%s %q is not a valid regular expression: %s", p, r.When.Labels[name], err)
			}
		}
		nonEmpty(ps, w+".alert_severity", r.When.AlertSeverity)
		if r.When.MinDuration < 0 {
			ps.add(w+".min_duration", "%s.min_duration must not be negative", w)
		}
		if r.When.MaxTier < 0 || r.When.MaxTier > 5 {
			ps.add(w+".max_tier", "%s.max_tier must be between 1 and 5 (or 0 for any tier), got %d", w, r.When.MaxTier)
		}
		if r.When.MinServices < 0 {
			ps.add(w+".min_services", "%s.min_services must not be negative, got %d", w, r.When.MinServices)
		}
		if r.When.MinCustomerFacing < 0 {
			ps.add(w+".min_customer_facing", "%s.min_customer_facing must not be negative, got %d", w, r.When.MinCustomerFacing)
		}
		if r.When.MinAlerts < 0 {
			ps.add(w+".min_alerts", "%s.min_alerts must not be negative, got %d", w, r.When.MinAlerts)
		}
	}
}

// checkRegexp compiles a label matcher's value as Prometheus does: anchored
// at both ends. The error shows the expression as written, not anchored.
func checkRegexp(re string) error {
	if _, err := regexp.Compile(re); err != nil {
		if se, ok := errors.AsType[*syntax.Error](err); ok {
			return fmt.Errorf("%s: `%s`", se.Code, se.Expr)
		}
		return err
	}
	if _, err := regexp.Compile("^(?:" + re + ")$"); err != nil {
		return err
	}
	return nil
}

func (p PagerDuty) validate(ps *problems) {
	for i, s := range p.WebhookSecrets {
		if s == "" {
			ps.add(fmt.Sprintf("pagerduty.webhook_secrets[%d]", i), "pagerduty.webhook_secrets[%d] must not be empty", i)
		}
	}
	if p.PollInterval < 0 {
		ps.add("pagerduty.poll_interval", "pagerduty.poll_interval must not be negative")
	}
	if p.PollInterval > 0 && p.APITokenFile == "" {
		ps.add("pagerduty.poll_interval", "pagerduty.poll_interval is set but pagerduty.api_token_file is not: polling needs an API token")
	}
	for _, prio := range sortedKeys(p.PriorityFloor) {
		if prio == "" {
			ps.add("pagerduty.priority_floor", "pagerduty.priority_floor has a priority with an empty name")
			continue
		}
		validSeverity(ps, "pagerduty.priority_floor."+prio, p.PriorityFloor[prio])
	}
	if p.APIURL == "" {
		ps.add("pagerduty.api_url", "pagerduty.api_url must not be empty")
	} else {
		validHTTPURL(ps, "pagerduty.api_url", p.APIURL)
	}
}

func (p *Prometheus) validate(ps *problems) {
	if p.URL != "" {
		validHTTPURL(ps, "prometheus.url", p.URL)
	}
	if err := p.HTTPClientConfig.Validate(); err != nil {
		ps.add("prometheus", "prometheus: %s", err)
	}
	if p.QueryTimeout <= 0 {
		ps.add("prometheus.query_timeout", "prometheus.query_timeout must be greater than zero")
	}
}

func (n *NATS) validate(ps *problems) {
	if n.DeploySubject == "" {
		ps.add("nats.deploy_subject", "nats.deploy_subject must not be empty")
	} else if !validSubject(n.DeploySubject, true) {
		ps.add("nats.deploy_subject", "nats.deploy_subject %q is not a valid NATS subject", n.DeploySubject)
	}
	if n.Stream != "" && !validName(n.Stream) {
		ps.add("nats.stream", "nats.stream %q must not contain spaces, '.', '*' or '>'", n.Stream)
	}
	if n.Consumer == "" {
		ps.add("nats.consumer", "nats.consumer must not be empty")
	} else if !validName(n.Consumer) {
		ps.add("nats.consumer", "nats.consumer %q must not contain spaces, '.', '*' or '>'", n.Consumer)
	}
	if n.MaxDeliver == 0 || n.MaxDeliver < -1 {
		ps.add("nats.max_deliver", "nats.max_deliver must be at least 1 (or -1 for no limit), got %d", n.MaxDeliver)
	}
	if err := n.TLS.Validate(); err != nil {
		ps.add("nats.tls_config", "nats.tls_config: %s", err)
	}
}

// validSubject reports whether s is a NATS subject: dot-separated tokens
// without spaces; with wildcards, `*` stands for a whole token and `>` for the
// last one.
func validSubject(s string, wildcards bool) bool {
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "" || strings.ContainsAny(t, " \t\r\n"):
			return false
		case t == "*" || t == ">" && i == len(tokens)-1:
			if !wildcards {
				return false
			}
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// validName reports whether s can name a JetStream stream or consumer.
func validName(s string) bool {
	return !strings.ContainsAny(s, " \t\r\n.*>/\\")
}

func (e Export) validate(ps *problems) {
	if e.Delay < 0 {
		ps.add("export.delay", "export.delay must not be negative")
	}
	if e.MaxAge < 0 {
		ps.add("export.max_age", "export.max_age must not be negative (0 means no limit)")
	}
	if e.MinReviewers < 1 {
		ps.add("export.min_reviewers", "export.min_reviewers must be at least 1 (the author), got %d", e.MinReviewers)
	}
	if len(e.Formats) == 0 {
		ps.add("export.formats", "export.formats must name at least one of %s", strings.Join(ExportFormats, ", "))
	}
	for i, f := range e.Formats {
		path := fmt.Sprintf("export.formats[%d]", i)
		switch {
		case !slices.Contains(ExportFormats, f):
			ps.add(path, "%s %q is not one of %s", path, f, strings.Join(ExportFormats, ", "))
		case slices.Index(e.Formats, f) < i:
			ps.add(path, "%s %q is listed twice", path, f)
		}
	}
	for i, s := range e.Sinks {
		path := fmt.Sprintf("export.sinks[%d]", i)
		fields := map[string]string{"path": s.Path, "url": s.URL, "subject": s.Subject}
		var needs string
		switch s.Type {
		case SinkDirectory:
			needs = "path"
		case SinkWebhook:
			needs = "url"
			if s.URL != "" {
				validHTTPURL(ps, path+".url", s.URL)
			}
		case SinkNATS:
			needs = "subject"
			if s.Subject != "" && !validSubject(s.Subject, false) {
				ps.add(path+".subject", "%s.subject %q is not a valid NATS subject to publish to", path, s.Subject)
			}
		case "":
			ps.add(path+".type", "%s.type must be set: one of directory, webhook, nats", path)
			continue
		default:
			ps.add(path+".type", "%s.type %q is not one of directory, webhook, nats", path, s.Type)
			continue
		}
		if fields[needs] == "" {
			ps.add(path, "%s.%s must be set for a %s sink", path, needs, s.Type)
		}
		for _, f := range []string{"path", "url", "subject"} {
			if f != needs && fields[f] != "" {
				ps.add(path+"."+f, "%s.%s does not apply to a %s sink", path, f, s.Type)
			}
		}
	}
}

func (a API) validate(ps *problems) {
	names := map[string]string{}   // token name -> path of its first use
	secrets := map[string]string{} // inline token -> path of its first use
	for _, list := range []struct {
		key    string
		tokens []Token
		roles  bool
	}{
		{"api.tokens", a.Tokens, true},
		{"api.ingest_tokens", a.IngestTokens, false},
	} {
		for i, t := range list.tokens {
			path := fmt.Sprintf("%s[%d]", list.key, i)
			switch prev, dup := names[t.Name]; {
			case t.Name == "":
				ps.add(path+".name", "%s.name must not be empty", path)
			case dup:
				ps.add(path+".name", "%s.name %q is already used by %s", path, t.Name, prev)
			default:
				names[t.Name] = path
			}
			if list.roles {
				switch t.Role {
				case RoleReadOnly, RoleReadWrite:
				case "":
					ps.add(path+".role", "%s.role must be set: read-only or read-write", path)
				default:
					ps.add(path+".role", "%s.role %q is not one of read-only, read-write", path, t.Role)
				}
			}
			switch {
			case t.Token != "" && t.TokenFile != "":
				ps.add(path, "%s sets both token and token_file; keep one", path)
			case t.Token == "" && t.TokenFile == "":
				ps.add(path, "%s needs token or token_file", path)
			case t.Token != "":
				if prev, dup := secrets[string(t.Token)]; dup {
					ps.add(path+".token", "%s.token is the same secret as %s.token", path, prev)
				} else {
					secrets[string(t.Token)] = path
				}
			}
		}
	}
	switch {
	case a.MaxBodyBytes <= 0:
		ps.add("api.max_body_bytes", "api.max_body_bytes must be greater than zero")
	case a.MaxBodyBytes > MaxBodyBytesLimit:
		ps.add("api.max_body_bytes", "api.max_body_bytes must be at most %s, got %s", Bytes(MaxBodyBytesLimit), a.MaxBodyBytes)
	}
	for _, l := range []struct {
		key string
		v   int64
	}{
		{"max_alerts_per_notification", int64(a.MaxAlertsPerNotification)},
		{"max_labels_per_alert", int64(a.MaxLabelsPerAlert)},
		{"max_label_name_bytes", int64(a.MaxLabelNameBytes)},
		{"max_label_value_bytes", int64(a.MaxLabelValueBytes)},
		{"max_annotation_bytes", int64(a.MaxAnnotationBytes)},
		{"max_ingests_in_flight", int64(a.MaxIngestsInFlight)},
	} {
		if l.v < 1 {
			ps.add("api."+l.key, "api.%s must be at least 1, got %d", l.key, l.v)
		}
	}
}

func validSeverity(ps *problems, path, sev string) {
	switch sev {
	case "SEV1", "SEV2", "SEV3", "SEV4", "SEV5":
	case "":
		ps.add(path, "%s must be set: one of SEV1..SEV5", path)
	default:
		ps.add(path, "%s %q is not one of SEV1..SEV5", path, sev)
	}
}

// validHTTPURL checks an absolute http(s) URL. The message leaves the value
// out: a webhook URL often carries a secret, and the line points at it.
func validHTTPURL(ps *problems, path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps.add(path, "%s must be an http or https URL with a host", path)
	}
}

func nonEmpty(ps *problems, path string, list []string) {
	for i, s := range list {
		if s == "" {
			ps.add(fmt.Sprintf("%s[%d]", path, i), "%s[%d] must not be empty", path, i)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
