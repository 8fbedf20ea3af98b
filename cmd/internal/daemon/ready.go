package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// checkTimeout bounds one readiness check, so that a stuck part makes
// /-/ready answer "not ready" rather than not answer.
const checkTimeout = 2 * time.Second

// Readiness is the registry of named checks behind GET /-/ready. Parts
// add theirs while the daemon is wired; it is safe for concurrent use.
type Readiness struct {
	mu     sync.Mutex
	checks []readyCheck
}

type readyCheck struct {
	name  string
	check func(context.Context) error
}

// Add registers check under name. The check returns nil when the part
// can do its work, or an error saying why not; it is called on every
// request to /-/ready and must be cheap.
func (r *Readiness) Add(name string, check func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, readyCheck{name, check})
}

// Failure is a check that did not pass.
type Failure struct {
	Check  string
	Reason string
}

// Check runs every check, in the order they were added, and returns the
// ones that fail; none means ready.
func (r *Readiness) Check(ctx context.Context) []Failure {
	r.mu.Lock()
	checks := append([]readyCheck(nil), r.checks...)
	r.mu.Unlock()
	var out []Failure
	for _, c := range checks {
		if err := runCheck(ctx, c.check); err != nil {
			out = append(out, Failure{Check: c.name, Reason: err.Error()})
		}
	}
	return out
}

func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err = <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s", checkTimeout)
	}
}

// ServeHTTP answers GET /-/ready: 200 when every check passes, else 503
// with a line per failing check, "name: reason".
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	failures := r.Check(req.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(failures) == 0 {
		_, _ = w.Write([]byte("Hindsight is Ready.\n"))
		return
	}
	var b strings.Builder
	b.WriteString("Hindsight is not ready.\n")
	for _, f := range failures {
		fmt.Fprintf(&b, "%s: %s\n", f.Check, oneLine(f.Reason))
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(b.String()))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
