package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Connector opens the NATS connection nats sinks publish on; the daemon
// connects to its embedded server or to --nats.url with the nats:
// credentials and TLS.
type Connector func() (*nats.Conn, error)

// NATS publishes each format of a draft on a subject, one message per
// format, with a Nats-Msg-Id header (File.Key), so a JetStream stream that
// captures the subject stores each version once however often it is sent,
// and headers saying what the message is (Hindsight-Incident,
// Hindsight-Version, Hindsight-Format, Content-Type). A delivery counts
// once the server has the messages (a flush); a subscriber that was not
// listening misses them unless a stream keeps them.
type NATS struct {
	subject string
	conn    Connector
	timeout time.Duration

	mu sync.Mutex
	nc *nats.Conn
}

var _ Sink = (*NATS)(nil)

// NewNATS returns a sink publishing on subject over the connection conn
// opens (once, then reused).
func NewNATS(subject string, conn Connector, timeout time.Duration) *NATS {
	return &NATS{subject: subject, conn: conn, timeout: Options{Timeout: timeout}.withDefaults().Timeout}
}

// Name implements Sink.
func (n *NATS) Name() string { return "nats " + n.subject }

// Type implements Sink.
func (n *NATS) Type() string { return "nats" }

func (n *NATS) connection() (*nats.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil && !n.nc.IsClosed() {
		return n.nc, nil
	}
	if n.conn == nil {
		return nil, errors.New("no NATS connection configured")
	}
	nc, err := n.conn()
	if err != nil {
		return nil, err
	}
	n.nc = nc
	return nc, nil
}

// Deliver implements Sink.
func (n *NATS) Deliver(ctx context.Context, d Delivery) (string, error) {
	nc, err := n.connection()
	if err != nil {
		return "", fmt.Errorf("%s: connect: %w", n.Name(), err)
	}
	for _, f := range d.Files {
		if mp := nc.MaxPayload(); mp > 0 && int64(len(f.Body)) > mp {
			return "", permanent{fmt.Errorf("%s: the %s draft is %d bytes, over the server's max_payload of %d", n.Name(), f.Format, len(f.Body), mp)}
		}
		m := nats.NewMsg(n.subject)
		m.Data = f.Body
		m.Header.Set(nats.MsgIdHdr, f.Key)
		m.Header.Set("Content-Type", f.ContentType)
		m.Header.Set("Hindsight-Incident", d.IncidentID)
		m.Header.Set("Hindsight-Version", strconv.Itoa(d.Version))
		m.Header.Set("Hindsight-Format", f.Format)
		if err := nc.PublishMsg(m); err != nil {
			return "", fmt.Errorf("%s: publish: %w", n.Name(), err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		return "", fmt.Errorf("%s: flush: %w", n.Name(), err)
	}
	return fmt.Sprintf("%d message(s) on %s", len(d.Files), n.subject), nil
}

// Close closes the connection, if one was opened.
func (n *NATS) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nc != nil {
		n.nc.Close()
		n.nc = nil
	}
}
