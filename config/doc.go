// Package config is Hindsight's configuration: the YAML schema described in
// spec/config.md, its built-in defaults, loading and validation.
//
// # Loading
//
// [Load] and [LoadFile] start from [Default], lay the document over it key by
// key, and then run [Config.Validate]. Every key has a default, so an empty
// file (or one holding only comments) gives exactly [Default]. Setting one key
// of a section keeps the defaults of its other keys. Lists and maps are
// replaced as a whole: a file that sets severity.rules replaces the built-in
// rules, it does not add to them.
//
// A few conventions make files forgiving where that is safe:
//   - A key with no value (`window:` or `window: null`) is the same as
//     leaving the key out: the default stays.
//   - A list of strings may be written as a single string
//     (`alert_severity: critical` is `alert_severity: [critical]`).
//   - An empty list or map (`[]`, `{}`) means none; it is kept as nil.
//
// And strict where a typo would silently change behaviour: an unknown key, a
// key given twice, a value of the wrong type, or a second YAML document in the
// file is an error.
//
// # Errors
//
// Every problem is an [*Error] that says where it is and names the key path,
// in the form `FILE:LINE: MESSAGE`, for example:
//
//	hindsight.yml:12: unknown key "windwo" in correlation
//	hindsight.yml:7: correlation.window: expected a duration like 30s, 5m or 1h, got "ten"
//	hindsight.yml:9: services.checkout.tier must be between 1 and 5, got 7
//
// FILE is left out by [Load] (it reads bytes, not a file) and LINE when the
// problem has no place in the file. A file with several problems gives an
// [Errors] that lists them all on one line, so the daemon can refuse a bad
// file with a single line on stderr.
//
// # Why the decoder walks YAML nodes
//
// The Alertmanager pattern (UnmarshalYAML that sets defaults and decodes via
// `type plain`) is not used for Hindsight's own types. With
// go.yaml.in/yaml/v3, an error returned by a custom unmarshaler (such as
// model.Duration's) loses its line number, and unmarshalers of the
// yaml.Node kind lose the decoder's KnownFields strictness. Instead the
// document is parsed into a yaml.Node tree and walked against the Go types by
// reflection (decode.go), so every error knows its key path and line. Types
// from prometheus/common that bring their own UnmarshalYAML (TLS and HTTP
// client settings, secrets) are first walked the same way for unknown keys
// and bad values, and then decoded by their own unmarshaler so their defaults
// and checks still apply.
//
// # Secrets
//
// Inline secrets use commoncfg.Secret, which [Config.String] prints as
// <secret>. Files named by token_file and api_token_file are not read at load
// time: a rotated token is picked up when it is used ([Token.Value]).
// Relative paths in a file loaded with [LoadFile] are resolved against the
// file's directory. Errors never quote a value that may be a secret: under
// api.tokens, api.ingest_tokens, pagerduty.webhook_secrets, basic_auth,
// authorization and tls_config, and of any key whose name says token,
// secret, password, credential or key, they name the key and line only
// (errors reach logs, POST /-/reload's answer and --config.check).
//
// A *Config is read-only once loaded: the daemon shares one value between
// goroutines and swaps in a new one on reload.
package config
