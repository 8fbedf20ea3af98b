// Package sink delivers exported post-mortem drafts: into a directory (a
// wiki checkout, a Git repository), to a webhook, or onto a NATS subject.
//
// One Delivery is one version of one incident's draft, in every configured
// format. Deliveries are idempotent by key: each file carries a key that is
// the same on every retry and on every replica that might send it
// (hindsight-<incident>-v<version>-<format>), so a receiver that saw it
// once can drop the repeat (the webhook's Idempotency-Key header, the NATS
// Nats-Msg-Id header that JetStream deduplicates by), and the directory
// never writes a version's file twice.
//
// Errors never carry a webhook URL, which may hold a secret: they name the
// sink by Name.
package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/config"
)

// File is one format of a draft.
type File struct {
	// Format is markdown, html or json.
	Format string
	// Name is the file name a directory sink writes (inc-....v2.md).
	Name        string
	ContentType string
	Body        []byte
	// Key identifies this version of this incident's draft in this
	// format, the same on every retry (Idempotency-Key, Nats-Msg-Id).
	Key string
}

// Delivery is one version of one incident's draft, in every format the
// configuration asks for.
type Delivery struct {
	IncidentID string
	Version    int
	Files      []File
}

// Sink is one destination of drafts. Implementations are safe for
// concurrent use and idempotent per File.Key.
type Sink interface {
	// Name identifies the sink in the incident's postmortem.exports, in
	// logs and errors; it holds no secret ("webhook wiki.example.com").
	Name() string
	// Type is directory, webhook or nats: a bounded metric label.
	Type() string
	// Deliver sends every file of d, or returns why it could not; a
	// delivery that failed may be retried as a whole. The string says
	// where the draft went (file names, a subject), for people.
	Deliver(ctx context.Context, d Delivery) (string, error)
}

// Extensions are the file name extensions of the formats.
var Extensions = map[string]string{config.FormatMarkdown: "md", config.FormatHTML: "html", config.FormatJSON: "json"}

// FileName is the name a directory sink gives one version of a draft in
// one format: inc-01JD3....v2.md. Versioned names mean a later export
// never replaces an earlier one, which a person may have edited.
func FileName(incidentID string, version int, format string) string {
	return fmt.Sprintf("%s.v%d.%s", incidentID, version, Extensions[format])
}

// Key is the idempotency key of one version of a draft in one format.
func Key(incidentID string, version int, format string) string {
	return fmt.Sprintf("hindsight-%s-v%d-%s", incidentID, version, format)
}

// Options are the parts of a sink that are not configuration: retry
// timing (tests shorten it) and how to reach NATS.
type Options struct {
	// Attempts is how often a webhook is tried within one delivery; 0
	// means 3. The exporter retries failed deliveries later on its own,
	// with a longer backoff.
	Attempts int
	// MinBackoff and MaxBackoff bound the wait between those attempts
	// (doubling, with a Retry-After from the receiver honoured up to
	// MaxBackoff); 0 means 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one HTTP request or NATS flush; 0 means 30s.
	Timeout time.Duration
	// NATS connects to the NATS server for nats sinks: the daemon's
	// embedded server or --nats.url. Nil makes a nats sink fail every
	// delivery with that reason.
	NATS Connector
}

func (o Options) withDefaults() Options {
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return o
}

// New builds the sinks of cfg's export.sinks, in order. It fails, naming
// the key, on a sink that cannot work: a directory that cannot be
// created or written, a URL that is not http(s). file is the
// configuration file, to place the error at its line.
func New(cfg *config.Config, file string, o Options) ([]Sink, error) {
	o = o.withDefaults()
	var out []Sink
	var errs []error
	for i, sc := range cfg.Export.Sinks {
		key := fmt.Sprintf("export.sinks[%d]", i)
		switch sc.Type {
		case config.SinkDirectory:
			if err := checkDirectory(sc.Path); err != nil {
				errs = append(errs, config.ErrorAt(file, key+".path", "%s.path: %v", key, err))
				continue
			}
			out = append(out, &Directory{dir: sc.Path})
		case config.SinkWebhook:
			w, err := newWebhook(sc.URL, o)
			if err != nil {
				errs = append(errs, config.ErrorAt(file, key+".url", "%s.url: %v", key, err))
				continue
			}
			out = append(out, w)
		case config.SinkNATS:
			out = append(out, &NATS{subject: sc.Subject, conn: o.NATS, timeout: o.Timeout})
		default:
			errs = append(errs, config.ErrorAt(file, key+".type", "%s.type %q is not one of directory, webhook, nats", key, sc.Type))
		}
	}
	names := map[string]bool{}
	for _, s := range out {
		if names[s.Name()] {
			errs = append(errs, config.ErrorAt(file, "export.sinks", "export.sinks: %s is listed twice", s.Name()))
		}
		names[s.Name()] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// webhookName names a webhook by its host and a short hash of the whole
// URL, so two hooks on one host differ and no path or token is shown.
func webhookName(u *url.URL, raw string) string {
	h := sha256.Sum256([]byte(raw))
	return "webhook " + u.Host + " (" + hex.EncodeToString(h[:3]) + ")"
}

// permanent marks an error that retrying will not cure (a 4xx answer).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// IsPermanent reports whether err will not go away by retrying soon: the
// receiver refused the draft (a 4xx other than 408 and 429).
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// oneLine keeps an error text to one line for events and logs.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
