package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

func dur(d time.Duration) model.Duration { return model.Duration(d) }

func TestLoadGood(t *testing.T) {
	c, err := LoadFile("testdata/good.yml")
	require.NoError(t, err)

	require.Equal(t, []string{"service", "app", "job", "component"}, c.ServiceLabels)
	require.Equal(t, map[string]Service{
		"checkout": {
			CustomerFacing:      true,
			Tier:                1,
			DependsOn:           []string{"payments", "postgres-main"},
			PagerDutyServiceIDs: []string{"PXYZ123"},
			ImpactQueries: map[string]string{
				"error_ratio": `sum(rate(http_requests_total{service="checkout",code=~"5.."}[$window])) / sum(rate(http_requests_total{service="checkout"}[$window]))`,
			},
		},
		"payments":      {CustomerFacing: true, Tier: 1},
		"postgres-main": {Tier: DefaultTier, DependsOn: []string{"storage"}},
		"storage":       {Tier: DefaultTier},
	}, c.Services)

	require.Equal(t, Correlation{
		Window:               dur(15 * time.Minute),
		DeployLookback:       dur(time.Hour),
		ReopenWithin:         dur(20 * time.Minute),
		ResolveAfter:         dur(10 * time.Minute),
		MaxLateness:          dur(2 * time.Minute),
		GroupBy:              []string{"cluster", "region"},
		MaxSpan:              dur(6 * time.Hour),
		MaxAlerts:            300,
		StormIncidents:       5,
		StormWindow:          dur(3 * time.Minute),
		FlapFirings:          3,
		FlapWindow:           dur(30 * time.Minute),
		PageStaleAfter:       dur(12 * time.Hour),
		InfrastructureLabels: []string{"node", "hostname"},
		MaxFutureSkew:        dur(2 * time.Minute),
		DependencyLag:        dur(25 * time.Minute),
	}, c.Correlation)

	require.Equal(t, []SeverityRule{
		{Severity: "SEV1", When: Condition{Labels: map[string]string{"category": "security"}}},
		{Severity: "SEV2", When: Condition{CustomerFacing: new(true), AlertSeverity: []string{"critical"}, MinDuration: dur(5 * time.Minute)}},
		{Severity: "SEV3", When: Condition{
			Labels:        map[string]string{"team": "pay(ments|outs)"},
			MaxTier:       2,
			MinServices:   3,
			AlertSeverity: []string{"warning", "critical"},
		}},
		{Severity: "SEV5"},
	}, c.Severity.Rules)

	require.Equal(t, PagerDuty{
		WebhookSecrets: []commoncfg.Secret{"first-secret", "second-secret"},
		APITokenFile:   "/etc/hindsight/pd-token",
		PollInterval:   dur(5 * time.Minute),
		PriorityFloor:  map[string]string{"P1": "SEV1", "P2": "SEV2"},
		APIURL:         "https://pd-proxy.example.com",
	}, c.PagerDuty)

	// Relative paths are resolved against the file's directory.
	require.Equal(t, "http://prometheus:9090", c.Prometheus.URL)
	require.Equal(t, dur(time.Minute), c.Prometheus.QueryTimeout)
	hc := c.Prometheus.HTTPClientConfig
	require.Equal(t, &commoncfg.BasicAuth{Username: "hindsight", PasswordFile: "testdata/prometheus-password"}, hc.BasicAuth)
	require.Equal(t, "testdata/ca.pem", hc.TLSConfig.CAFile)
	require.False(t, hc.FollowRedirects)
	require.True(t, hc.EnableHTTP2, "an HTTP client key left out keeps its default")

	require.Equal(t, NATS{
		DeploySubject:   "ci.deploys.>",
		Stream:          "DEPLOYS",
		Consumer:        "hindsight-prod",
		CredentialsFile: "testdata/nats.creds",
		TLS:             commoncfg.TLSConfig{CAFile: "/etc/hindsight/nats-ca.pem"},
		MaxDeliver:      10,
	}, c.NATS)

	require.Equal(t, Export{
		OnResolve:    false,
		Delay:        dur(30 * time.Minute),
		TemplateFile: "testdata/postmortem.tmpl",
		Formats:      []string{FormatMarkdown, FormatHTML, FormatJSON},
		MinReviewers: 2,
		MaxAge:       dur(30 * 24 * time.Hour),
		Sinks: []Sink{
			{Type: SinkDirectory, Path: "testdata/postmortems"},
			{Type: SinkWebhook, URL: "https://wiki.example.com/hooks/postmortem"},
			{Type: SinkNATS, Subject: "postmortems.drafts"},
		},
	}, c.Export)

	require.Equal(t, API{
		Tokens: []Token{
			{Name: "ops", Role: RoleReadWrite, TokenFile: "/etc/hindsight/ops-token"},
			{Name: "dashboard", Role: RoleReadOnly, Token: "inline-dashboard-token"},
		},
		IngestTokens: []Token{{Name: "alertmanager", TokenFile: "testdata/am-token"}},
		MaxBodyBytes: 512 << 10,
		Limits: Limits{
			MaxAlertsPerNotification: 500,
			MaxLabelsPerAlert:        64,
			MaxLabelNameBytes:        128,
			MaxLabelValueBytes:       2 << 10,
			MaxAnnotationBytes:       32 << 10,
		},
		MaxIngestsInFlight: 32,
		AnonymousMetrics:   true,
	}, c.API)

	require.Equal(t, dur(90*24*time.Hour), c.Retention.Events)
	require.Equal(t, Log{Type: LogJetStream, Stream: "HS_EVENTS", Replicas: 5}, c.Log)

	data, err := os.ReadFile("testdata/good.yml")
	require.NoError(t, err)
	require.Equal(t, hashOf(data), c.Hash())
	require.Len(t, c.Hash(), 64)
}

func TestDefaults(t *testing.T) {
	c, err := Load(nil)
	require.NoError(t, err)
	require.Equal(t, Default(), c)
	require.NoError(t, Default().Validate(), "the defaults must be valid")

	for _, doc := range []string{"# only a comment\n\n# and another\n", "---\n", "~\n", "null"} {
		c, err := Load([]byte(doc))
		require.NoError(t, err, doc)
		c.hash = Default().hash
		require.Equal(t, Default(), c, doc)
	}

	t.Run("a section keeps the defaults of keys it leaves out", func(t *testing.T) {
		c, err := Load([]byte("correlation:\n  window: 1m\nprometheus:\n  url: http://prom:9090\n"))
		require.NoError(t, err)
		want := Default().Correlation
		want.Window = dur(time.Minute)
		require.Equal(t, want, c.Correlation)
		require.Equal(t, commoncfg.DefaultHTTPClientConfig, c.Prometheus.HTTPClientConfig)
		require.Equal(t, dur(30*time.Second), c.Prometheus.QueryTimeout)
		require.Equal(t, Default().Severity, c.Severity)
	})

	t.Run("an empty value keeps the default", func(t *testing.T) {
		c, err := Load([]byte("correlation:\n  window:\n  group_by: ~\nseverity:\n"))
		require.NoError(t, err)
		require.Equal(t, Default().Correlation, c.Correlation)
		require.Equal(t, Default().Severity, c.Severity)
	})

	t.Run("a service without a tier gets the default tier", func(t *testing.T) {
		c, err := Load([]byte("services:\n  checkout:\n    customer_facing: true\n  cache:\n"))
		require.NoError(t, err)
		require.Equal(t, Service{CustomerFacing: true, Tier: DefaultTier}, c.Services["checkout"])
		require.Equal(t, Service{Tier: DefaultTier}, c.Services["cache"])
	})

	t.Run("severity rules replace the built-in list", func(t *testing.T) {
		c, err := Load([]byte("severity:\n  rules:\n    - severity: SEV4\n"))
		require.NoError(t, err)
		require.Equal(t, []SeverityRule{{Severity: "SEV4"}}, c.Severity.Rules)
	})

	t.Run("an empty list means none", func(t *testing.T) {
		c, err := Load([]byte("correlation:\n  group_by: []\n"))
		require.NoError(t, err)
		require.Nil(t, c.Correlation.GroupBy)
	})

	t.Run("anchors and merge keys", func(t *testing.T) {
		c, err := Load([]byte(`
services:
  payments: &critical {customer_facing: true, tier: 1}
  checkout: {<<: *critical, depends_on: [payments]}
  ledger: {<<: *critical, tier: 2}
`))
		require.NoError(t, err)
		require.Equal(t, Service{CustomerFacing: true, Tier: 1, DependsOn: []string{"payments"}}, c.Services["checkout"])
		require.Equal(t, Service{CustomerFacing: true, Tier: 2}, c.Services["ledger"])
	})

	t.Run("default severity rules follow the SEV table", func(t *testing.T) {
		rules := Default().Severity.Rules
		sevs := make([]string, len(rules))
		for i, r := range rules {
			sevs[i] = r.Severity
		}
		require.Equal(t, []string{"SEV1", "SEV1", "SEV2", "SEV2", "SEV3", "SEV4", "SEV4", "SEV4", "SEV4", "SEV5"}, sevs)
		require.True(t, slices.IsSorted(sevs), "the most severe come first")
		require.Equal(t, Condition{}, rules[len(rules)-1].When, "the last rule catches everything")
	})
}

func TestLoadBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		{"bad-unknown-top-level-key.yml", `bad-unknown-top-level-key.yml:2: unknown top-level key "corelation"`},
		{"bad-unknown-correlation-key.yml", `bad-unknown-correlation-key.yml:3: unknown key "windwo" in correlation`},
		{"bad-unknown-service-key.yml", `bad-unknown-service-key.yml:4: unknown key "teir" in services.checkout`},
		{"bad-tls-unknown-key.yml", `bad-tls-unknown-key.yml:5: unknown key "insecure" in prometheus.tls_config`},
		{"bad-duplicate-key.yml", `bad-duplicate-key.yml:4: key "window" in correlation is set twice (first at line 2)`},
		{"bad-duration-type.yml", `bad-duration-type.yml:2: correlation.window: expected a duration like 30s, 5m or 1h, got a list`},
		{"bad-duration-text.yml", `bad-duration-text.yml:2: correlation.resolve_after: expected a duration like 30s, 5m or 1h, got "10 minutes"`},
		{"bad-tier-type.yml", `bad-tier-type.yml:3: services.checkout.tier: expected an integer, got "1.5"`},
		{"bad-max-body-bytes.yml", `bad-max-body-bytes.yml:2: api.max_body_bytes: expected a size like 512KiB, 1MiB or 10MB, got "lots"`},
		{"bad-not-a-mapping.yml", `bad-not-a-mapping.yml:1: the configuration must be a mapping of keys, got a list`},
		{"bad-tabs.yml", `bad-tabs.yml:2: invalid YAML: found character that cannot start any token (YAML is indented with spaces, not tabs)`},
		{"bad-yaml.yml", `bad-yaml.yml:1: invalid YAML: did not find expected ',' or ']'`},
		{"bad-two-documents.yml", `bad-two-documents.yml:3: a configuration file holds one YAML document; a second one starts here`},
		{"bad-zero-window.yml", `bad-zero-window.yml:3: correlation.window must be greater than zero`},
		{"bad-storm-guard.yml", "bad-storm-guard.yml:3: correlation.storm_incidents must be 0 (no storm guard) or at least 2; bad-storm-guard.yml:4: correlation.max_span (5m) must not be shorter than correlation.window (10m)"},
		{"bad-severity-name.yml", `bad-severity-name.yml:7: severity.rules[2].severity "SEV9" is not one of SEV1..SEV5`},
		{"bad-tier.yml", `bad-tier.yml:3: services.checkout.tier must be between 1 and 5, got 7`},
		{"bad-self-dependency.yml", `bad-self-dependency.yml:5: services.checkout.depends_on[1]: a service cannot depend on itself`},
		{"bad-regex.yml", "bad-regex.yml:6: severity.rules[0].when.labels.alertname \"HighErrorRate(Checkout\" is not a valid regular expression: missing closing ): `HighErrorRate(Checkout`"},
		{"bad-sink-type.yml", `bad-sink-type.yml:3: export.sinks[0].type "s3" is not one of directory, webhook, nats`},
		{"bad-sink-without-path.yml", `bad-sink-without-path.yml:5: export.sinks[1].path must be set for a directory sink`},
		{"bad-export.yml", `bad-export.yml:4: export.formats[1] "pdf" is not one of markdown, html, json; bad-export.yml:5: export.min_reviewers must be at least 1 (the author), got 0`},
		{"bad-token-both.yml", `bad-token-both.yml:3: api.tokens[0] sets both token and token_file; keep one`},
		{"bad-role.yml", `bad-role.yml:3: api.tokens[0].role "admin" is not one of read-only, read-write`},
		{"bad-duplicate-token-name.yml", `bad-duplicate-token-name.yml:5: api.ingest_tokens[0].name "ops" is already used by api.tokens[0]`},
		{"bad-priority-floor.yml", `bad-priority-floor.yml:4: pagerduty.priority_floor.P2 "high" is not one of SEV1..SEV5`},
		{"bad-http-client.yml", `bad-http-client.yml:1: prometheus: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured`},
		{"bad-retention.yml", `bad-retention.yml:2: retention.events must be at least 1h, got 30m`},
		{"bad-log.yml", `bad-log.yml:2: log.type must be badger or jetstream, got "kafka"; bad-log.yml:3: log.stream "hs.events" is not a JetStream stream name (no spaces, '.', '*', '>', '/' or '\'); bad-log.yml:4: log.replicas must be between 1 and 5, got 7`},
		{"bad-several.yml", `bad-several.yml:3: services.checkout.tier must be between 1 and 5, got 0; bad-several.yml:5: correlation.resolve_after must be greater than zero`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c, err := LoadFile(filepath.Join("testdata", tc.file))
			require.Nil(t, c)
			require.EqualError(t, err, tc.want)

			e, ok := errors.AsType[*Error](err)
			require.True(t, ok, "every problem is a *config.Error")
			require.Equal(t, tc.file, e.File)
			require.Positive(t, e.Line)
		})
	}

	t.Run("every bad file is in the table", func(t *testing.T) {
		files, err := filepath.Glob("testdata/bad-*.yml")
		require.NoError(t, err)
		require.Len(t, files, 30)
	})
}

func TestLoadErrors(t *testing.T) {
	t.Run("Load names the line without a file", func(t *testing.T) {
		_, err := Load([]byte("correlation:\n  windwo: 5m\n"))
		require.EqualError(t, err, `line 2: unknown key "windwo" in correlation`)
	})

	t.Run("a missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing.yml")
		_, err := LoadFile(path)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.EqualError(t, err, path+": read config file: no such file or directory")
	})

	t.Run("several problems are all reported, on one line", func(t *testing.T) {
		_, err := Load([]byte("a: 1\ncorrelation:\n  b: 2\n"))
		require.EqualError(t, err, `line 1: unknown top-level key "a"; line 3: unknown key "b" in correlation`)
		es, ok := errors.AsType[Errors](err)
		require.True(t, ok)
		require.Len(t, es, 2)
		require.NotContains(t, err.Error(), "\n")
	})

	for _, tc := range []struct {
		name, doc, want string
	}{
		{"alias cycle", "service_labels: &a [*a]", `line 1: service_labels[0]: expected a string, got a list`},
		{"merge cycle", "services: {a: &s {tier: 1, <<: *s}}", `line 1: services.a: << merges a mapping into itself`},
		{"non-string key", "services:\n  ? [a]\n  : {}\n", `line 2: keys in services must be strings, got a list`},
		{"scalar section", "correlation: fast\n", `line 1: correlation: expected a mapping of keys, got "fast"`},
		{"mapping for a secret", "pagerduty: {webhook_secrets: [{a: b}]}", `line 1: pagerduty.webhook_secrets[0]: expected a string, got a mapping`},
		{"bool", "export: {on_resolve: maybe}", `line 1: export.on_resolve: expected true or false, got "maybe"`},
		{"nested foreign value", "prometheus: {tls_config: {min_version: TLS9}}", `line 1: prometheus.tls_config.min_version: unknown TLS version: TLS9`},
		{"nested foreign list", "prometheus: {oauth2: {client_id: a, token_url: 'http://t', scopes: read}}", `line 1: prometheus.oauth2.scopes: expected a list, got "read"`},
		{"nats tls", "nats: {tls_config: {cert_file: a}}", `line 1: nats.tls_config: exactly one of key or key_file must be configured when a client certificate is configured`},
		{"negative duration", "correlation: {window: -5m}", `line 1: correlation.window: expected a duration like 30s, 5m or 1h, got "-5m"`},
		{"too big body", "api: {max_body_bytes: 2GiB}", `line 1: api.max_body_bytes must be at most 1GiB, got 2GiB`},
		{"zero body", "api: {max_body_bytes: 0}", `line 1: api.max_body_bytes must be greater than zero`},
		{"zero labels", "api: {max_labels_per_alert: 0}", `line 1: api.max_labels_per_alert must be at least 1, got 0`},
		{"negative alerts", "api:\n  max_alerts_per_notification: -3", `line 2: api.max_alerts_per_notification must be at least 1, got -3`},
		{"label value size", "api: {max_label_value_bytes: huge}", `line 1: api.max_label_value_bytes: expected a size like 512KiB, 1MiB or 10MB, got "huge"`},
		{"zero in flight", "api: {max_ingests_in_flight: 0}", `line 1: api.max_ingests_in_flight must be at least 1, got 0`},
		{"token without a value", "api: {tokens: [{name: a, role: read-only}]}", `line 1: api.tokens[0] needs token or token_file`},
		{"token without a role", "api: {tokens: [{name: a, token: x}]}", `line 1: api.tokens[0].role must be set: read-only or read-write`},
		{"same inline token twice", "api: {tokens: [{name: a, role: read-only, token: x}, {name: b, role: read-write, token: x}]}", `line 1: api.tokens[1].token is the same secret as api.tokens[0].token`},
		{"empty service labels", "service_labels: []", `line 1: service_labels must not be empty: events could not be attributed to a service`},
		{"empty rules", "severity: {rules: []}", `line 1: severity.rules must not be empty; leave the key out to use the built-in rules`},
		{"polling without a token", "pagerduty: {poll_interval: 1m}", `line 1: pagerduty.poll_interval is set but pagerduty.api_token_file is not: polling needs an API token`},
		{"bad api url", "pagerduty: {api_url: 'ftp://x'}", `line 1: pagerduty.api_url must be an http or https URL with a host`},
		{"webhook url is not echoed", "export: {sinks: [{type: webhook, url: 'hooks.example.com/s3cr3t'}]}", `line 1: export.sinks[0].url must be an http or https URL with a host`},
		{"field of another sink type", "export: {sinks: [{type: nats, subject: a, path: b}]}", `line 1: export.sinks[0].path does not apply to a nats sink`},
		{"publish subject with wildcard", "export: {sinks: [{type: nats, subject: 'a.>'}]}", `line 1: export.sinks[0].subject "a.>" is not a valid NATS subject to publish to`},
		{"bad subject", "nats: {deploy_subject: 'a..b'}", `line 1: nats.deploy_subject "a..b" is not a valid NATS subject`},
		{"bad stream", "nats: {stream: 'a.b'}", `line 1: nats.stream "a.b" must not contain spaces, '.', '*' or '>'`},
		{"bad max_deliver", "nats: {max_deliver: 0}", `line 1: nats.max_deliver must be at least 1 (or -1 for no limit), got 0`},
		{"max_tier range", "severity: {rules: [{severity: SEV1, when: {max_tier: 9}}]}", `line 1: severity.rules[0].when.max_tier must be between 1 and 5 (or 0 for any tier), got 9`},
		{"empty dependency", "services: {a: {depends_on: ['']}}", `line 1: services.a.depends_on[0] must not be empty`},
		{"empty impact query", "services: {a: {impact_queries: {errors: ''}}}", `line 1: services.a.impact_queries.errors must not be empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.doc))
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestHideSecrets(t *testing.T) {
	c, err := LoadFile("testdata/good.yml")
	require.NoError(t, err)
	c.Prometheus.HTTPClientConfig.BasicAuth.Password = "prometheus-password-value"
	c.NATS.TLS.Key = "nats-tls-key-value"

	s := c.String()
	for _, secret := range []string{"first-secret", "second-secret", "inline-dashboard-token", "prometheus-password-value", "nats-tls-key-value"} {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, s, "token: <secret>")
	require.Contains(t, s, "    - <secret>")
	require.Contains(t, s, "password: <secret>")
	// Paths to secrets are not secret.
	require.Contains(t, s, "token_file: /etc/hindsight/ops-token")

	t.Run("not in errors either", func(t *testing.T) {
		_, err := Load([]byte("api:\n  tokens:\n    - {name: a, role: read-only, token: hunter2}\n    - {name: b, role: read-only, token: hunter2}\n"))
		require.Error(t, err)
		require.NotContains(t, err.Error(), "hunter2")
	})
}

func TestStringReloads(t *testing.T) {
	for _, c := range []*Config{Default(), mustLoadFile(t, "testdata/good.yml")} {
		c.PagerDuty.WebhookSecrets = nil
		if len(c.API.Tokens) > 1 {
			c.API.Tokens = c.API.Tokens[:1] // the second has an inline secret
		}
		again, err := Load([]byte(c.String()))
		require.NoError(t, err)
		again.hash = c.hash
		require.Equal(t, c, again)
	}
}

func mustLoadFile(t *testing.T, path string) *Config {
	t.Helper()
	c, err := LoadFile(path)
	require.NoError(t, err)
	return c
}

func TestLoadFileResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hindsight.yml")
	require.NoError(t, os.WriteFile(path, []byte(`
pagerduty: {api_token_file: pd-token}
export:
  template_file: tmpl/postmortem.tmpl
  sinks:
    - {type: directory, path: drafts}
    - {type: directory, path: /var/lib/hindsight/drafts}
api:
  tokens: [{name: ops, role: read-write, token_file: ops-token}]
  ingest_tokens: [{name: am, token_file: secrets/am-token}]
nats:
  credentials_file: nats.creds
  tls_config: {cert_file: tls/cert.pem, key_file: tls/key.pem}
prometheus:
  authorization: {credentials_file: prom-token}
`), 0o600))
	c, err := LoadFile(path)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "pd-token"), c.PagerDuty.APITokenFile)
	require.Equal(t, filepath.Join(dir, "tmpl/postmortem.tmpl"), c.Export.TemplateFile)
	require.Equal(t, filepath.Join(dir, "drafts"), c.Export.Sinks[0].Path)
	require.Equal(t, "/var/lib/hindsight/drafts", c.Export.Sinks[1].Path)
	require.Equal(t, filepath.Join(dir, "ops-token"), c.API.Tokens[0].TokenFile)
	require.Equal(t, filepath.Join(dir, "secrets/am-token"), c.API.IngestTokens[0].TokenFile)
	require.Equal(t, filepath.Join(dir, "nats.creds"), c.NATS.CredentialsFile)
	require.Equal(t, filepath.Join(dir, "tls/cert.pem"), c.NATS.TLS.CertFile)
	require.Equal(t, filepath.Join(dir, "tls/key.pem"), c.NATS.TLS.KeyFile)
	require.Equal(t, filepath.Join(dir, "prom-token"), c.Prometheus.HTTPClientConfig.Authorization.CredentialsFile)

	// Load keeps paths as written: it has no directory to resolve them against.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err = Load(data)
	require.NoError(t, err)
	require.Equal(t, "pd-token", c.PagerDuty.APITokenFile)
}

func TestTokenValue(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(file, []byte("  s3cr3t\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))

	v, err := Token{Name: "ops", TokenFile: file}.Value()
	require.NoError(t, err)
	require.Equal(t, "s3cr3t", v)

	v, err = Token{Name: "ops", Token: "inline"}.Value()
	require.NoError(t, err)
	require.Equal(t, "inline", v)

	_, err = Token{Name: "ops", TokenFile: filepath.Join(dir, "missing")}.Value()
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, `read token "ops": open `+filepath.Join(dir, "missing"))

	_, err = Token{Name: "ops", TokenFile: empty}.Value()
	require.EqualError(t, err, `read token "ops": file `+empty+" is empty")

	v, err = PagerDuty{APITokenFile: file}.APIToken()
	require.NoError(t, err)
	require.Equal(t, "s3cr3t", v)
	v, err = PagerDuty{}.APIToken()
	require.NoError(t, err)
	require.Empty(t, v)
}

func TestServiceFor(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"service": "checkout", "app": "web", "job": "node"}, "checkout"},
		{map[string]string{"service": "", "app": "web", "job": "node"}, "web"},
		{map[string]string{"job": "node"}, "node"},
		{map[string]string{"instance": "a:9100"}, ""},
		{nil, ""},
	} {
		require.Equal(t, tc.want, c.ServiceFor(tc.labels), tc.labels)
	}
}

func TestService(t *testing.T) {
	c := Default()
	c.Services = map[string]Service{"checkout": {CustomerFacing: true, Tier: 1}}
	require.Equal(t, Service{CustomerFacing: true, Tier: 1}, c.Service("checkout"))
	require.Equal(t, Service{Tier: DefaultTier}, c.Service("unknown"))
}

func TestValidateInCode(t *testing.T) {
	c := Default()
	c.Correlation.Window = 0
	c.Services = map[string]Service{"a": {Tier: 9}}
	require.EqualError(t, c.Validate(), "services.a.tier must be between 1 and 5, got 9; correlation.window must be greater than zero")
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Bytes
		str  string
	}{
		{"1048576", 1 << 20, "1MiB"},
		{"1MiB", 1 << 20, "1MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"512 kib", 512 << 10, "512KiB"},
		{"10MB", 10_000_000, "10MB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1500B", 1500, "1500"},
		{"3000", 3000, "3KB"},
		{"1023", 1023, "1023"},
		{"0", 0, "0"},
	} {
		b, err := ParseBytes(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, b, tc.in)
		require.Equal(t, tc.str, b.String(), tc.in)
		again, err := ParseBytes(b.String())
		require.NoError(t, err)
		require.Equal(t, b, again)
	}
	for _, in := range []string{"", "lots", "1.5MiB", "-1", "1 XB", "99999999999999999999", "9999999999TiB"} {
		_, err := ParseBytes(in)
		require.Error(t, err, in)
	}
}

// TestErrorsHideSecrets feeds malformed documents whose secret lands where
// an error would quote it: the error still names the key and the line,
// and never holds the secret (errors reach logs, POST /-/reload's answer
// and --config.check).
func TestErrorsHideSecrets(t *testing.T) {
	const secret = "s3cr3t-Value-42"
	for _, tc := range []struct{ doc, want string }{
		{"api:\n  tokens: " + secret + "\n", "line 2: api.tokens: expected a list"},
		{"api:\n  tokens: [" + secret + "]\n", "line 2: api.tokens[0]: expected a mapping of keys"},
		{"api:\n  ingest_tokens: [" + secret + "]\n", "line 2: api.ingest_tokens[0]: expected a mapping of keys"},
		{"api:\n  tokens: [{name: a, role: read-only, " + secret + "}]\n", "line 2: unknown key in api.tokens[0]"},
		{"pagerduty:\n  webhook_secrets: " + secret + "\n", "line 2: pagerduty.webhook_secrets: expected a list"},
		{"prometheus:\n  basic_auth: " + secret + "\n", "line 2: prometheus.basic_auth: cannot unmarshal"},
		{"nats:\n  tls_config: " + secret + "\n", "line 2: nats.tls_config: cannot unmarshal"},
		{"api:\n  tokens:\n    - {name: a, role: read-only, token: " + secret + "}\n    - {name: b, role: read-write, token: " + secret + "}\n", "line 4: api.tokens[1].token is the same secret as api.tokens[0].token"},
	} {
		_, err := Load([]byte(tc.doc))
		require.Error(t, err, "%s", tc.doc)
		require.Contains(t, err.Error(), tc.want)
		require.NotContains(t, err.Error(), secret)
		require.NotContains(t, err.Error(), secret[:6], "not even a part of it")
	}
	// A plain typo of a key is still named.
	_, err := Load([]byte("api:\n  tokens: [{name: a, role: read-only, tokn: x}]\n"))
	require.ErrorContains(t, err, `unknown key "tokn" in api.tokens[0]`)
}
