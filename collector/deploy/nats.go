package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	commoncfg "github.com/prometheus/common/config"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// EmbeddedStream is the stream the daemon creates on its embedded server.
const EmbeddedStream = "DEPLOYS"

// Results of a NATS message; the values of the "result" label of
// hindsight_collector_deploy_messages_total.
const (
	ResultReceived   = "received"   // taken from NATS, before any outcome
	ResultAcked      = "acked"      // stored (or not a deploy step) and the ack confirmed
	ResultAckFailed  = "ack_failed" // stored but the ack was not confirmed: it comes back, deduplicated
	ResultTerminated = "terminated" // undecodable: terminated, never redelivered
	ResultNakd       = "nakd"       // the sink failed: redelivered later
	ResultLost       = "lost"       // the sink failed on a plain subscription: gone
)

var results = []string{ResultReceived, ResultAcked, ResultAckFailed, ResultTerminated, ResultNakd, ResultLost}

// StartEmbedded starts a NATS server with JetStream in this process,
// listening on listenAddr (host:port; port 0 picks a free one) and
// keeping JetStream data under storeDir/jetstream. The server does not
// install signal handlers (they would os.Exit the daemon) and logs
// through logger: warnings and errors always, notices only when logger
// has debug enabled. The caller shuts it down with Shutdown and
// WaitForShutdown, after the consumers have drained.
func StartEmbedded(listenAddr, storeDir string, logger *slog.Logger) (*server.Server, error) {
	return StartEmbeddedWithAuth(listenAddr, storeDir, logger, nil)
}

// StartEmbeddedWithAuth is StartEmbedded with every client connection
// (the daemon's own, in-process, included) checked by auth, which also
// gives each client its permissions; nil lets everyone in with every
// permission.
func StartEmbeddedWithAuth(listenAddr, storeDir string, logger *slog.Logger, auth server.Authentication) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: listen address %q: %w", listenAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded NATS: listen address %q: bad port %q", listenAddr, portStr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	// The server reports a listen failure only in its log and then never
	// becomes ready; try the address first to give a clear error at once.
	if port != 0 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, portStr))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS cannot listen on %s: %w", listenAddr, err)
		}
		_ = l.Close()
	} else {
		port = server.RANDOM_PORT
	}
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded NATS: store directory: %w", err)
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "hindsight-embedded",
		Host:       host,
		Port:       port,
		NoSigs:     true,
		JetStream:  true,
		StoreDir:   storeDir,

		CustomClientAuthentication: auth,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	debug := logger.Enabled(context.Background(), slog.LevelDebug)
	ns.SetLoggerV2(&serverLogger{l: logger.With("component", "nats-server")}, debug, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start listening on %s within 10s", listenAddr)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS on %s: JetStream could not start with store directory %s", listenAddr, storeDir)
	}
	return ns, nil
}

// serverLogger adapts slog to the nats-server logger. Fatalf does not
// exit: the server's fatal errors are reported by StartEmbedded.
type serverLogger struct{ l *slog.Logger }

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }

// ConsumerOptions configures a Consumer.
type ConsumerOptions struct {
	// URL is the NATS server (comma-separated for a cluster). Ignored when
	// Embedded is set.
	URL string
	// Embedded, when set, is the in-process server to connect to without
	// a socket.
	Embedded *server.Server
	// NATS is the nats: configuration: subject, stream, durable consumer
	// name, credentials, TLS and MaxDeliver.
	NATS config.NATS
	// CreateStream creates NATS.Stream for NATS.DeploySubject when it does
	// not exist (embedded mode); otherwise a missing stream is an error
	// that is retried until it is created.
	CreateStream bool

	// AckWait is how long the server waits for an ack before redelivering;
	// 0 means 30s.
	AckWait time.Duration
	// NakDelay is the first redelivery delay after a sink error, doubled
	// on each further delivery up to a minute; 0 means 5s.
	NakDelay time.Duration
	// ReconnectWait is the pause between reconnect attempts (with
	// jitter); 0 means 2s.
	ReconnectWait time.Duration
	// MaxReconnects bounds consecutive reconnect attempts, after which Run
	// returns an error; 0 means unbounded (the daemon keeps trying, since
	// JetStream keeps the messages meanwhile).
	MaxReconnects int
	// CheckInterval is how often a JetStream consumer checks that its
	// stream and durable consumer still exist, to set them up again (or
	// report why it cannot) when someone deleted them; 0 means 5s.
	CheckInterval time.Duration
	// ConnectOptions are added to the connection's options: the daemon's
	// credentials on its embedded server, for one.
	ConnectOptions []nats.Option
	// Limits returns the intake limits (api.max_*) a message is held to,
	// per message so that a reload applies at once; nil means
	// config.DefaultLimits.
	Limits func() config.Limits
}

// Consumer takes deploy events from NATS into the sink.
type Consumer struct {
	opts     ConsumerOptions
	sink     collector.Sink
	metrics  *collector.Metrics
	logger   *slog.Logger
	messages *prometheus.CounterVec
	// ready is closed once the consumer takes messages: subscribed, or
	// the stream and durable consumer exist.
	ready     chan struct{}
	readyOnce sync.Once
	// status is why the consumer does not take messages now; nil while
	// it does.
	status atomic.Pointer[error]
	nc     atomic.Pointer[nats.Conn]
	url    atomic.Value // string: where it connects, password hidden
}

// Ready is closed once the consumer takes messages for the first time.
func (c *Consumer) Ready() <-chan struct{} { return c.ready }

func (c *Consumer) markReady() {
	c.setStatus(nil)
	c.readyOnce.Do(func() { close(c.ready) })
}

func (c *Consumer) setStatus(err error) { c.status.Store(&err) }

// Status returns nil while the consumer takes deploys, and otherwise why
// not: not connected to NATS, its stream missing, its durable consumer
// not set up. The daemon's /-/ready reports it, so that a deploy
// published while it is not nil is known to wait or be lost.
func (c *Consumer) Status(context.Context) error {
	if nc := c.nc.Load(); nc != nil && !nc.IsConnected() {
		if err := nc.LastError(); err != nil {
			return fmt.Errorf("not connected to NATS at %s (%s): %w", c.url.Load(), nc.Status(), err)
		}
		return fmt.Errorf("not connected to NATS at %s (%s)", c.url.Load(), nc.Status())
	}
	if p := c.status.Load(); p != nil {
		return *p
	}
	return errors.New("starting")
}

// consumeConcurrency bounds the JetStream messages handled at once.
const consumeConcurrency = 64

// NewConsumer builds a consumer; Run starts it.
func NewConsumer(opts ConsumerOptions, sink collector.Sink, m *collector.Metrics, logger *slog.Logger, reg prometheus.Registerer) *Consumer {
	if opts.AckWait <= 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.NakDelay <= 0 {
		opts.NakDelay = 5 * time.Second
	}
	if opts.ReconnectWait <= 0 {
		opts.ReconnectWait = 2 * time.Second
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 5 * time.Second
	}
	if opts.NATS.DeploySubject == "" {
		opts.NATS.DeploySubject = "deploys.>"
	}
	if opts.NATS.Consumer == "" {
		opts.NATS.Consumer = "hindsight"
	}
	c := &Consumer{
		ready:   make(chan struct{}),
		opts:    opts,
		sink:    sink,
		metrics: m,
		logger:  logger.With("component", "collector", "source", collector.SourceDeploy, "subject", opts.NATS.DeploySubject),
		messages: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
			Name: "hindsight_collector_deploy_messages_total",
			Help: "Deploy messages taken from NATS, by result (received, acked, ack_failed, terminated, nakd, lost).",
		}, []string{"result"}),
	}
	for _, r := range results {
		c.messages.WithLabelValues(r)
	}
	return c
}

// Run connects and consumes until ctx is done, then drains: messages
// being handled finish, unhandled ones are left to the server. It returns
// nil after ctx is done, or an error when it cannot connect (bad
// credentials or TLS files) or the connection is closed for good.
func (c *Consumer) Run(ctx context.Context) error {
	closed := make(chan struct{})
	var closeOnce sync.Once
	nopts := []nats.Option{
		nats.Name("hindsight"),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(c.opts.ReconnectWait),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.logger.Warn("Disconnected from NATS; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.logger.Info("Reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { closeOnce.Do(func() { close(closed) }) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.logger.Warn("NATS error", "err", err)
		}),
	}
	if c.opts.MaxReconnects > 0 {
		nopts = append(nopts, nats.MaxReconnects(c.opts.MaxReconnects))
	}
	url := c.opts.URL
	if c.opts.Embedded != nil {
		url = c.opts.Embedded.ClientURL()
		nopts = append(nopts, nats.InProcessServer(c.opts.Embedded))
	} else {
		auth, err := ClientOptions(c.opts.NATS)
		if err != nil {
			return err
		}
		nopts = append(nopts, auth...)
	}
	if url == "" {
		url = nats.DefaultURL
	}
	nopts = append(nopts, c.opts.ConnectOptions...)
	c.url.Store(redactURL(url))
	c.setStatus(fmt.Errorf("connecting to NATS at %s", redactURL(url)))
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	c.nc.Store(nc)
	defer nc.Close()

	if c.opts.NATS.Stream == "" {
		return c.runPlain(ctx, nc, closed)
	}
	return c.runJetStream(ctx, nc, closed)
}

// ClientOptions are the options that authenticate a client to an external
// NATS server as nats.credentials_file and nats.tls_config say; every
// connection of the daemon to --nats.url uses them.
func ClientOptions(n config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if f := n.CredentialsFile; f != "" {
		opts = append(opts, nats.UserCredentials(f))
	}
	if tlsSet(&n.TLS) {
		tc, err := commoncfg.NewTLSConfig(&n.TLS)
		if err != nil {
			return nil, fmt.Errorf("nats.tls_config: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

func tlsSet(t *commoncfg.TLSConfig) bool {
	return t.CA != "" || t.Cert != "" || t.Key != "" || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" ||
		t.CARef != "" || t.CertRef != "" || t.KeyRef != "" || t.ServerName != "" || t.InsecureSkipVerify ||
		t.MinVersion != 0 || t.MaxVersion != 0
}

// runPlain reads a core subscription: at-most-once. A deploy the sink
// refuses is lost (and counted); a request gets the outcome as its reply.
func (c *Consumer) runPlain(ctx context.Context, nc *nats.Conn, closed <-chan struct{}) error {
	c.logger.Warn("No nats.stream configured: deploys are read from a plain subscription and are lost while Hindsight is down or the store refuses them")
	sub, err := nc.Subscribe(c.opts.NATS.DeploySubject, func(m *nats.Msg) {
		c.messages.WithLabelValues(ResultReceived).Inc()
		evs, err := DecodeLimited(m.Data, "", nil, c.limits())
		if err != nil {
			c.reject(m.Subject, err)
			c.messages.WithLabelValues(ResultTerminated).Inc()
			c.reply(m, err)
			return
		}
		if err := c.ingest(ctx, evs); err != nil {
			c.logger.Error("Deploy not stored and lost (plain subscription, no stream to redeliver it)", "nats_subject", m.Subject, "err", err)
			c.messages.WithLabelValues(ResultLost).Inc()
			c.reply(m, err)
			return
		}
		c.messages.WithLabelValues(ResultAcked).Inc()
		c.reply(m, nil)
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", c.opts.NATS.DeploySubject, err)
	}
	c.logger.Info("Consuming deploys (plain subscription)")
	c.markReady()
	select {
	case <-ctx.Done():
		_ = sub.Drain()
		c.drain(nc, closed)
		return nil
	case <-closed:
		return errors.New("NATS connection closed")
	}
}

func (c *Consumer) reply(m *nats.Msg, err error) {
	if m.Reply == "" {
		return
	}
	body := []byte(`{"status":"success"}`)
	if err != nil {
		body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	_ = m.Respond(body)
}

func (c *Consumer) drain(nc *nats.Conn, closed <-chan struct{}) {
	if err := nc.Drain(); err != nil {
		return
	}
	select {
	case <-closed:
	case <-time.After(35 * time.Second):
	}
}

func (c *Consumer) limits() config.Limits {
	if c.opts.Limits == nil {
		return config.DefaultLimits()
	}
	return c.opts.Limits()
}

func (c *Consumer) reject(subject string, err error) {
	reason := collector.ReasonBadRequest
	if re, ok := errors.AsType[*collector.RequestError](err); ok {
		reason = re.Reason
	}
	c.metrics.Rejected.WithLabelValues(collector.SourceDeploy, reason).Inc()
	c.logger.Warn("Deploy message rejected", "nats_subject", subject, "reason", err)
}

// ingest stores evs (nothing to store is success). The write is bounded
// below AckWait so that a slow store does not race the redelivery.
func (c *Consumer) ingest(ctx context.Context, evs []collector.Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	for i := range evs {
		evs[i].ReceivedAt = now
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.AckWait-c.opts.AckWait/5)
	defer cancel()
	if err := c.sink.Ingest(ctx, evs...); err != nil {
		return err
	}
	c.metrics.Received.WithLabelValues(collector.SourceDeploy).Add(float64(len(evs)))
	return nil
}

// runJetStream consumes the stream through a durable pull consumer.
func (c *Consumer) runJetStream(ctx context.Context, nc *nats.Conn, closed <-chan struct{}) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// Messages are handled concurrently, each acked only after its own
	// ingest, so that concurrent deploys share the store's group commit
	// instead of waiting for one fsync each. Order does not matter:
	// correlation uses each deploy's own time.
	sem := make(chan struct{}, consumeConcurrency)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	// kick asks for a check of the stream at once, when the consume loop
	// reports that its consumer is gone.
	kick := make(chan struct{}, 1)
	for {
		cons, err := c.setupUntilReady(ctx, js, closed)
		if err != nil || cons == nil {
			if err == nil {
				c.drain(nc, closed)
			}
			return err
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			sem <- struct{}{}
			inflight.Go(func() {
				defer func() { <-sem }()
				c.handle(ctx, m)
			})
		},
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				c.logger.Debug("JetStream consume", "err", err)
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrNoHeartbeat) {
					select {
					case kick <- struct{}{}:
					default:
					}
				}
			}))
		if err != nil {
			return fmt.Errorf("consume from stream %s: %w", c.opts.NATS.Stream, err)
		}
		c.logger.Info("Consuming deploys (JetStream)", "stream", c.opts.NATS.Stream, "consumer", c.opts.NATS.Consumer)
		c.markReady()
		switch reason := c.watch(ctx, cons, closed, kick); {
		case ctx.Err() != nil:
			cc.Drain()
			select {
			case <-cc.Closed():
			case <-time.After(c.opts.AckWait + 5*time.Second):
			}
			c.drain(nc, closed)
			return nil
		case reason == nil:
			cc.Stop()
			return errors.New("NATS connection closed")
		default:
			cc.Stop()
			c.setStatus(reason)
			c.logger.Error("Deploy intake interrupted; setting the stream and consumer up again", "err", reason)
		}
	}
}

// setupUntilReady sets the stream and durable consumer up, retrying
// until it works. It returns nil, nil when ctx is done, and an error when
// the connection is closed for good.
func (c *Consumer) setupUntilReady(ctx context.Context, js jetstream.JetStream, closed <-chan struct{}) (jetstream.Consumer, error) {
	// The server may not be up yet (RetryOnFailedConnect) or the stream
	// not created yet: retry until ctx is done.
	for attempt := 0; ; attempt++ {
		cons, err := c.setup(ctx, js)
		if err == nil {
			return cons, nil
		}
		c.setStatus(err)
		lvl := slog.LevelWarn
		if attempt > 0 && attempt%10 == 0 {
			lvl = slog.LevelError
		}
		c.logger.Log(ctx, lvl, "Cannot set up the JetStream consumer; retrying", "stream", c.opts.NATS.Stream, "err", err)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-closed:
			return nil, errors.New("NATS connection closed")
		case <-time.After(c.opts.ReconnectWait):
		}
	}
}

// watch checks every CheckInterval (and when kicked) that the stream and
// the durable consumer still exist. It returns why consuming must be set
// up again, or nil when ctx is done or the connection closed.
func (c *Consumer) watch(ctx context.Context, cons jetstream.Consumer, closed <-chan struct{}, kick <-chan struct{}) error {
	t := time.NewTicker(c.opts.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-closed:
			return nil
		case <-t.C:
		case <-kick:
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := cons.Info(ictx)
		cancel()
		switch {
		case err == nil:
			c.setStatus(nil)
		case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("stream %s was deleted; deploys published meanwhile are lost", c.opts.NATS.Stream)
			}
			return fmt.Errorf("durable consumer %s of stream %s was deleted", c.opts.NATS.Consumer, c.opts.NATS.Stream)
		case ctx.Err() != nil:
			return nil
		default:
			// Disconnected or slow: the connection reconnects on its own;
			// report it meanwhile.
			c.setStatus(fmt.Errorf("cannot check stream %s: %w", c.opts.NATS.Stream, err))
		}
	}
}

// redactURL hides the password of a NATS URL (nats://user:pass@host).
func redactURL(u string) string {
	var out []string
	for part := range strings.SplitSeq(u, ",") {
		if pu, err := url.Parse(strings.TrimSpace(part)); err == nil && pu.User != nil {
			part = pu.Redacted()
		}
		out = append(out, part)
	}
	return strings.Join(out, ",")
}

func (c *Consumer) setup(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n := c.opts.NATS
	if _, err := js.Stream(actx, n.Stream); err != nil {
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("look up stream %s: %w", n.Stream, err)
		}
		if !c.opts.CreateStream {
			return nil, fmt.Errorf("stream %s does not exist; create it for subject %s", n.Stream, n.DeploySubject)
		}
		if _, err := js.CreateStream(actx, jetstream.StreamConfig{
			Name:        n.Stream,
			Description: "Deploy events for Hindsight",
			Subjects:    []string{n.DeploySubject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      7 * 24 * time.Hour,
			Duplicates:  10 * time.Minute,
			Discard:     jetstream.DiscardOld,
		}); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("create stream %s: %w", n.Stream, err)
		}
		c.logger.Info("Created JetStream stream", "stream", n.Stream)
	}
	maxDeliver := n.MaxDeliver
	if maxDeliver == 0 {
		maxDeliver = -1
	}
	cons, err := js.CreateOrUpdateConsumer(actx, n.Stream, jetstream.ConsumerConfig{
		Durable:       n.Consumer,
		Description:   "Hindsight deploy intake",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opts.AckWait,
		MaxDeliver:    maxDeliver,
		FilterSubject: n.DeploySubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on stream %s: %w", n.Consumer, n.Stream, err)
	}
	return cons, nil
}

// handle decides the fate of one JetStream message: terminated if it can
// never be stored, acked (and the ack confirmed) once stored, nak'd with
// a growing delay when the sink fails.
func (c *Consumer) handle(ctx context.Context, m jetstream.Msg) {
	c.messages.WithLabelValues(ResultReceived).Inc()
	log := c.logger.With("nats_subject", m.Subject())
	var delivered uint64 = 1
	if md, err := m.Metadata(); err == nil {
		delivered = md.NumDelivered
		log = log.With("stream_seq", md.Sequence.Stream, "delivery", delivered)
	}
	if ctx.Err() != nil {
		// Shutting down: leave it to the next consumer, at once.
		_ = m.Nak()
		c.messages.WithLabelValues(ResultNakd).Inc()
		return
	}
	evs, err := DecodeLimited(m.Data(), "", nil, c.limits())
	if err != nil {
		c.reject(m.Subject(), err)
		if terr := m.TermWithReason(err.Error()); terr != nil {
			log.Warn("Could not terminate a rejected deploy message", "err", terr)
		}
		c.messages.WithLabelValues(ResultTerminated).Inc()
		return
	}
	if err := c.ingest(ctx, evs); err != nil {
		if _, bad := errors.AsType[*collector.RequestError](err); bad {
			// Refused for what it says (a time far ahead of ours): it can
			// never be stored, so it is not redelivered.
			c.reject(m.Subject(), err)
			if terr := m.TermWithReason(err.Error()); terr != nil {
				log.Warn("Could not terminate a rejected deploy message", "err", terr)
			}
			c.messages.WithLabelValues(ResultTerminated).Inc()
			return
		}
		c.metrics.Rejected.WithLabelValues(collector.SourceDeploy, collector.ReasonUnavailable).Inc()
		delay := c.opts.NakDelay << min(delivered-1, 8)
		delay = min(delay, time.Minute)
		if ctx.Err() != nil {
			delay = 0
		}
		if mx := c.opts.NATS.MaxDeliver; mx > 0 && delivered >= uint64(mx) {
			log.Error("Deploy not stored after the last delivery allowed by nats.max_deliver; it will not come back", "err", err)
		} else {
			log.Warn("Deploy not stored; redelivery asked", "err", err, "delay", delay)
		}
		_ = m.NakWithDelay(delay)
		c.messages.WithLabelValues(ResultNakd).Inc()
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.DoubleAck(actx); err != nil {
		// Stored: the redelivery that follows is deduplicated by the log.
		log.Warn("Deploy stored but its ack was not confirmed; it will be redelivered and deduplicated", "err", err)
		c.messages.WithLabelValues(ResultAckFailed).Inc()
		return
	}
	c.messages.WithLabelValues(ResultAcked).Inc()
	if len(evs) > 0 {
		log.Debug("Deploy stored", "deploy_id", evs[0].Ref.DeployID, "kind", evs[0].Kind)
	}
}
