// Package auth decides who a request comes from and whether it may do
// what it asks, from the tokens of the configuration (api.tokens,
// api.ingest_tokens). The daemon checks every route through it, and the
// API reads the identity it leaves in the request context to sign
// people's changes with the token's name.
//
// It never puts a token in an error or a log line: errors name the
// token by its name, or the list it belongs to.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/hindsight-ops/hindsight/config"
)

// RoleIngest is the role of an ingest token (api.ingest_tokens): it may
// post to the intake endpoints and publish deploys, nothing else.
const RoleIngest = "ingest"

// Identity is who a request was authenticated as.
type Identity struct {
	// Name is the token's name from the configuration; it signs the
	// changes made with the token.
	Name string
	// Role is config.RoleReadOnly, config.RoleReadWrite or RoleIngest.
	Role string
}

type identityKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity a request was authenticated as, and
// false when the request carried none (no tokens are configured for the
// route it took).
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Access is what a route requires of a request.
type Access int

// The access classes of routes. Every route is registered with one, so
// no route can be served without a decision about who may use it.
const (
	// Public routes answer everyone: health and readiness probes.
	Public Access = iota
	// Read needs an API token of either role when api.tokens is set.
	Read
	// Write needs a read-write API token when api.tokens is set: every
	// change, recorrelation, backfill, reload and profiling.
	Write
	// Ingest needs an ingest token when api.ingest_tokens is set.
	Ingest
	// Metrics is Read, unless api.anonymous_metrics lets scrapers in
	// without a token.
	Metrics
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Read:
		return "read"
	case Write:
		return "write"
	case Ingest:
		return "ingest"
	case Metrics:
		return "metrics"
	default:
		return "unknown"
	}
}

// Credential returns the secret a request presents: a bearer token, or
// the password of basic auth (what Alertmanager, PagerDuty and browsers
// can send). It returns "" when there is none.
func Credential(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if _, p, ok := r.BasicAuth(); ok {
		return p
	}
	return ""
}

// Match finds the token whose value is secret among the API tokens and
// the ingest tokens of cfg. Every token is compared in constant time, so
// the answer takes as long whichever matches. The error reports token
// files that could not be read, by token name; a match elsewhere still
// counts.
func Match(cfg *config.Config, secret string) (Identity, bool, error) {
	if secret == "" {
		return Identity{}, false, nil
	}
	var (
		found Identity
		ok    bool
		errs  []error
	)
	check := func(t config.Token, role string) {
		v, err := t.Value()
		if err != nil {
			errs = append(errs, err)
			return
		}
		if v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(secret)) == 1 && !ok {
			found, ok = Identity{Name: t.Name, Role: role}, true
		}
	}
	for _, t := range cfg.API.Tokens {
		check(t, t.Role)
	}
	for _, t := range cfg.API.IngestTokens {
		check(t, RoleIngest)
	}
	return found, ok, errors.Join(errs...)
}

// Decision is the outcome of Authorize: the status to answer when the
// request is refused (0 when it may go on), why, and who it is.
type Decision struct {
	Status   int
	Reason   string
	Identity Identity
	// Known is true when the request was authenticated (Identity is set).
	Known bool
}

// Authorize decides whether r may use a route of class access under cfg.
// Without tokens for a class its routes are open. With them, a request
// without a known token is refused with 401; a known token whose role is
// not enough with 403. The reasons name the configuration keys, never a
// token.
func Authorize(cfg *config.Config, r *http.Request, access Access) (Decision, error) {
	if access == Metrics {
		if cfg.API.AnonymousMetrics {
			access = Public
		} else {
			access = Read
		}
	}
	if access == Public {
		return Decision{}, nil
	}
	guarded := len(cfg.API.Tokens) > 0
	if access == Ingest {
		guarded = len(cfg.API.IngestTokens) > 0
	}
	if !guarded {
		return Decision{}, nil
	}
	id, ok, err := Match(cfg, Credential(r))
	if !ok {
		d := Decision{Status: http.StatusUnauthorized, Reason: "missing or wrong API token (api.tokens)"}
		if access == Ingest {
			d.Reason = "missing or wrong ingest token (api.ingest_tokens)"
		}
		return d, err
	}
	d := Decision{Identity: id, Known: true}
	switch {
	case access == Ingest && id.Role != RoleIngest:
		d.Status, d.Reason = http.StatusForbidden, "token "+quote(id.Name)+" is an API token; the intake endpoints take an ingest token (api.ingest_tokens)"
	case access != Ingest && id.Role == RoleIngest:
		d.Status, d.Reason = http.StatusForbidden, "token "+quote(id.Name)+" is an ingest token; it may only send events (api.ingest_tokens)"
	case access == Write && id.Role != config.RoleReadWrite:
		d.Status, d.Reason = http.StatusForbidden, "token "+quote(id.Name)+" is "+id.Role+"; this needs a read-write token (api.tokens)"
	}
	return d, err
}

func quote(s string) string { return `"` + s + `"` }
