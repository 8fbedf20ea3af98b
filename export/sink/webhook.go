package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/common/version"
)

// Webhook POSTs each format of a draft to a URL, one request per format,
// with an Idempotency-Key header (File.Key) that stays the same on every
// retry, so a receiver that failed after storing a draft, or whose answer
// was lost, can drop the repeat. 2xx is delivered; 408, 429, 5xx and
// network errors are retried with doubling backoff (a Retry-After is
// honoured up to the maximum); another 4xx is a refusal that retrying
// soon will not change.
type Webhook struct {
	url    string
	name   string
	client *http.Client
	o      Options
}

var _ Sink = (*Webhook)(nil)

func newWebhook(raw string, o Options) (*Webhook, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("must be an absolute http or https URL")
	}
	return &Webhook{url: raw, name: webhookName(u, raw), client: &http.Client{Timeout: o.Timeout}, o: o}, nil
}

// NewWebhook returns a sink posting to rawURL, with o's retry timing.
func NewWebhook(rawURL string, o Options) (*Webhook, error) {
	return newWebhook(rawURL, o.withDefaults())
}

// Name implements Sink; it names the host, not the URL, which may hold a
// token.
func (w *Webhook) Name() string { return w.name }

// Type implements Sink.
func (w *Webhook) Type() string { return "webhook" }

// Deliver implements Sink.
func (w *Webhook) Deliver(ctx context.Context, d Delivery) (string, error) {
	for _, f := range d.Files {
		if err := w.post(ctx, d, f); err != nil {
			return "", fmt.Errorf("%s: %s draft: %w", w.name, f.Format, err)
		}
	}
	return fmt.Sprintf("%d POST(s) to %s", len(d.Files), w.name), nil
}

func (w *Webhook) post(ctx context.Context, d Delivery, f File) error {
	backoff := w.o.MinBackoff
	var last error
	for attempt := 1; attempt <= w.o.Attempts; attempt++ {
		wait, err := w.try(ctx, d, f)
		if err == nil {
			return nil
		}
		last = err
		if IsPermanent(err) || attempt == w.o.Attempts {
			break
		}
		if wait <= 0 {
			wait = backoff
			backoff = min(2*backoff, w.o.MaxBackoff)
		}
		select {
		case <-ctx.Done():
			return errors.Join(last, ctx.Err())
		case <-time.After(min(wait, w.o.MaxBackoff)):
		}
	}
	return fmt.Errorf("after %d attempt(s): %w", w.o.Attempts, last)
}

// try sends one request. It returns how long the receiver asked to wait
// (Retry-After), if it did.
func (w *Webhook) try(ctx context.Context, d Delivery, f File) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(f.Body))
	if err != nil {
		return 0, permanent{errors.New("cannot build the request")}
	}
	req.Header.Set("Content-Type", f.ContentType)
	req.Header.Set("Idempotency-Key", f.Key)
	req.Header.Set("User-Agent", "hindsight/"+version.Version)
	req.Header.Set("X-Hindsight-Incident", d.IncidentID)
	req.Header.Set("X-Hindsight-Version", strconv.Itoa(d.Version))
	req.Header.Set("X-Hindsight-Format", f.Format)
	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may hold a secret: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("unreachable: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return 0, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("answered %s", resp.Status)
	default:
		return 0, permanent{fmt.Errorf("answered %s: the receiver refused the draft", resp.Status)}
	}
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
