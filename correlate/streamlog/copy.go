package streamlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

const (
	// copyBatch bounds how many messages one local transaction takes.
	copyBatch = 1024
	// headEvery is how often an idle copy asks the stream for its head.
	headEvery = 2 * time.Second
	// gcEvery is how often the local copy's value log is collected.
	gcEvery = 5 * time.Minute
)

// ErrStreamMismatch is the lasting failure of a copy that no longer
// matches the stream: the stream was recreated or lost acknowledged
// messages. The copy stops; see the package doc for the way out.
var ErrStreamMismatch = errors.New("the event stream does not match this replica's copy of it")

// run sets up the stream and copies it until ctx ends, resuming after
// every interruption where the copy is.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	gc := time.NewTicker(gcEvery)
	defer gc.Stop()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.follow(ctx, gc.C)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrStreamMismatch) {
			l.logger.Error("Event stream does not match the local copy; copy stopped", "stream", l.opts.Stream, "err", err)
			l.mu.Lock()
			l.failed = err
			l.advanceLocked()
			l.mu.Unlock()
			return
		}
		l.copyErrors.Inc()
		l.logger.Warn("Copy of the event stream interrupted; resuming", "stream", l.opts.Stream, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// follow copies the stream from the copied position until an error.
func (l *Log) follow(ctx context.Context, gc <-chan time.Time) error {
	stream, err := l.ensureStream(ctx)
	if err != nil {
		return err
	}
	if err := l.verify(ctx, stream); err != nil {
		return err
	}
	l.mu.Lock()
	first := l.stream == nil
	l.stream = stream
	from := l.copied + 1
	l.advanceLocked()
	l.mu.Unlock()
	if first {
		l.logger.Info("Following the event stream", "stream", l.opts.Stream, "from", from)
	}

	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}
	}
	cons, err := l.js.OrderedConsumer(ctx, l.opts.Stream, cfg)
	if err != nil {
		return fmt.Errorf("create ordered consumer: %w", err)
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan jetstream.Msg, copyBatch)
	errc := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-fctx.Done():
		}
	}, jetstream.PullMaxMessages(copyBatch), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		// The ordered consumer recreates itself after most of these;
		// they are worth a debug line, not an interruption.
		l.logger.Debug("Event stream consumer", "err", err)
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrStreamNotFound) {
			select {
			case errc <- err:
			default:
			}
		}
	}))
	if err != nil {
		return fmt.Errorf("consume event stream: %w", err)
	}
	defer cc.Stop()

	idle := time.NewTimer(headEvery)
	defer idle.Stop()
	batch := make([]jetstream.Msg, 0, copyBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-cc.Closed():
			return errors.New("event stream consumer stopped")
		case <-gc:
			l.collectGarbage()
			continue
		case <-idle.C:
			if err := l.refreshHead(ctx, stream); err != nil {
				return err
			}
			idle.Reset(headEvery)
			continue
		case m := <-msgs:
			batch = append(batch[:0], m)
		}
	gather:
		for len(batch) < copyBatch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break gather
			}
		}
		if err := l.commit(batch); err != nil {
			return err
		}
		idle.Reset(headEvery)
	}
}

// refreshHead asks the stream for its last sequence. When the copy is
// behind it but the stream holds no message after the copy (they were
// removed), the copy moves to the end: those positions hold no event.
func (l *Log) refreshHead(ctx context.Context, stream jetstream.Stream) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		l.logger.Debug("Event stream info", "err", err)
		return nil
	}
	last := info.State.LastSeq
	l.mu.Lock()
	l.head = max(l.head, last)
	l.contact = time.Now()
	copied := l.copied
	l.mu.Unlock()
	if last <= copied {
		return nil
	}
	_, err = l.leaderMsg(ctx, copied+1, true)
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // a message is on its way, or the stream cannot say
	}
	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	return l.commitTxn(txn, last, nil, 0)
}

// leaderMsg gets the stream's message at seq (or, with next, the first
// one at or after seq) from the stream's leader, which, unlike a direct
// get that any replica may answer, never lags behind the stream's state.
func (l *Log) leaderMsg(ctx context.Context, seq uint64, next bool) (*jetstream.RawStreamMsg, error) {
	req := map[string]any{"seq": seq}
	if next {
		req["next_by_subj"] = ">"
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := l.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+l.opts.Stream, body)
	if err != nil {
		return nil, fmt.Errorf("get stream message %d: %w", seq, err)
	}
	var r struct {
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("get stream message %d: %w", seq, err)
	}
	if r.Error != nil {
		if r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound {
			return nil, jetstream.ErrMsgNotFound
		}
		return nil, fmt.Errorf("get stream message %d: %w", seq, r.Error)
	}
	if r.Message == nil {
		return nil, fmt.Errorf("get stream message %d: empty answer", seq)
	}
	return &jetstream.RawStreamMsg{Subject: r.Message.Subject, Sequence: r.Message.Seq, Data: r.Message.Data, Time: r.Message.Time}, nil
}

// commit writes a run of messages, in stream order, to the local copy:
// each event whose id the copy does not hold yet is kept at its stream
// position; a later copy of an id, or a message that is no valid event,
// is skipped, and the copied position moves past it either way. Every
// replica makes the same decisions from the same stream.
func (l *Log) commit(msgs []jetstream.Msg) error {
	l.mu.Lock()
	copied, head, ttl := l.copied, l.head, l.retention
	l.mu.Unlock()

	txn := l.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	var (
		kept     []correlate.LoggedEvent
		ids      = make(map[string]bool, len(msgs))
		dups     int
		invalid  int
		staged   = copied
		lastKept uint64
	)
	set := func(e *badger.Entry) error {
		if ttl > 0 {
			e.WithTTL(ttl)
		}
		err := txn.SetEntry(e)
		if errors.Is(err, badger.ErrTxnTooBig) {
			// Commit what is staged (with its position) and go on in a
			// new transaction.
			if err := l.commitTxn(txn, staged, kept, lastKept); err != nil {
				return err
			}
			kept, lastKept = nil, 0
			txn = l.db.NewTransaction(true)
			err = txn.SetEntry(e)
		}
		return err
	}
	for _, m := range msgs {
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		seq := md.Sequence.Stream
		if seq <= staged {
			continue // delivered again after a consumer reset
		}
		head = max(head, seq+md.NumPending)
		ev, data, ok := decode(m.Data(), md.Timestamp)
		switch {
		case m.Headers().Get(GapHeader) != "":
			// A position without an event (Migrate): a gap.
		case !ok:
			invalid++
			l.logger.Warn("Skipping a message of the event stream that is not a valid event", "stream", l.opts.Stream, "seq", seq, "subject", m.Subject())
		case ids[ev.ID]:
			dups++
		default:
			first, err := lookupFirst(txn, ev.ID)
			if err != nil {
				return err
			}
			if first > 0 {
				dups++
				break
			}
			var sb [8]byte
			binary.BigEndian.PutUint64(sb[:], seq)
			if err := set(badger.NewEntry(eventKey(seq), data)); err != nil {
				return fmt.Errorf("stage event at %d: %w", seq, err)
			}
			if err := set(badger.NewEntry(dedupKey(ev.ID), sb[:])); err != nil {
				return fmt.Errorf("stage event at %d: %w", seq, err)
			}
			ids[ev.ID] = true
			kept = append(kept, correlate.LoggedEvent{Seq: seq, Event: ev})
			lastKept = seq
		}
		staged = seq
	}
	if staged == copied {
		return nil
	}
	l.mu.Lock()
	l.head = max(l.head, head)
	l.mu.Unlock()
	if err := l.commitTxn(txn, staged, kept, lastKept); err != nil {
		return err
	}
	l.streamDups.Add(float64(dups))
	l.invalid.Add(float64(invalid))
	return nil
}

// commitTxn stores the copied position with the staged events, commits,
// and publishes the progress.
func (l *Log) commitTxn(txn *badger.Txn, copied uint64, kept []correlate.LoggedEvent, lastKept uint64) error {
	var pb [8]byte
	binary.BigEndian.PutUint64(pb[:], copied)
	if err := txn.Set(keyCopied, pb[:]); err != nil {
		return fmt.Errorf("stage copied position: %w", err)
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("commit copy up to %d: %w", copied, err)
	}
	l.remember(kept)
	l.mu.Lock()
	l.copied = copied
	l.head = max(l.head, copied)
	l.contact = time.Now()
	if lastKept > 0 {
		l.kept = lastKept
	}
	l.advanceLocked()
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return nil
}

// decode reads an event from a message. A message without a reception
// time gets the time the stream stored it, which every replica sees the
// same; the stored bytes are then re-encoded with it.
func decode(data []byte, stored time.Time) (collector.Event, []byte, bool) {
	var ev collector.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, nil, false
	}
	if ev.Validate() != nil {
		return ev, nil, false
	}
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = stored.UTC()
		b, err := json.Marshal(&ev)
		if err != nil {
			return ev, nil, false
		}
		data = b
	}
	return ev, data, true
}

// ensureStream finds the stream, or creates it with the settings of the
// package doc. An existing stream is kept as the operator made it, but
// for its replication factor, which follows log.replicas; it must
// capture the subjects events are published on.
func (l *Log) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	// Short attempts: a create racing another replica's can hang until
	// the cluster settles; the next lookup then finds the stream.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	o := l.opts
	maxBytes := int64(-1)
	if o.MaxBytes > 0 {
		maxBytes = o.MaxBytes
	}
	cfg := jetstream.StreamConfig{
		Name:        o.Stream,
		Description: "Hindsight event log: every event, in order, shared by the replicas",
		Subjects:    []string{o.Stream + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Discard:     jetstream.DiscardNew,
		MaxAge:      o.Retention,
		MaxBytes:    maxBytes,
		MaxMsgs:     -1,
		Duplicates:  o.DuplicateWindow,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
	s, err := l.js.Stream(ctx, o.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = l.js.CreateStream(ctx, cfg)
		if err == nil {
			l.logger.Info("Created the event stream", "stream", o.Stream, "replicas", o.Replicas, "duplicate_window", o.DuplicateWindow, "max_age", o.Retention)
			return s, nil
		}
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = l.js.Stream(ctx, o.Stream) // another replica was first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("look up event stream %s: %w", o.Stream, err)
	}
	have := s.CachedInfo().Config
	if !capturesAll(have.Subjects, o.Stream) {
		return nil, fmt.Errorf("%w: stream %s captures %q, not %q where events are published (log.stream names a stream Hindsight does not own?)",
			ErrStreamMismatch, o.Stream, have.Subjects, o.Stream+".>")
	}
	if have.Replicas != o.Replicas {
		upd := have
		upd.Replicas = o.Replicas
		if s2, err := l.js.UpdateStream(ctx, upd); err != nil {
			l.logger.Warn("Cannot change the event stream's replicas to log.replicas", "stream", o.Stream, "have", have.Replicas, "want", o.Replicas, "err", err)
		} else {
			l.logger.Info("Changed the event stream's replicas to log.replicas", "stream", o.Stream, "from", have.Replicas, "to", o.Replicas)
			s = s2
		}
	}
	if have.Discard == jetstream.DiscardOld && (have.MaxBytes > 0 || have.MaxMsgs > 0) {
		l.logger.Warn("The event stream drops its oldest events when full (discard: old); Hindsight creates it with discard: new", "stream", o.Stream)
	}
	return s, nil
}

// capturesAll reports whether subjects cover every "<stream>.<token>".
func capturesAll(subjects []string, stream string) bool {
	for _, s := range subjects {
		if s == ">" || s == stream+".>" {
			return true
		}
	}
	return false
}

// verify checks that the stream still holds what the copy has: it must
// reach the copied position, and the last event the copy kept must be
// the stream's message at that position (unless the stream has removed
// it since, by age).
func (l *Log) verify(ctx context.Context, stream jetstream.Stream) error {
	l.mu.Lock()
	copied, kept := l.copied, l.kept
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("event stream info: %w", err)
	}
	l.mu.Lock()
	l.head = max(l.head, info.State.LastSeq)
	l.contact = time.Now()
	l.mu.Unlock()
	if info.State.LastSeq < copied {
		return fmt.Errorf("%w: stream %s ends at %d, the copy at %d", ErrStreamMismatch, l.opts.Stream, info.State.LastSeq, copied)
	}
	if kept == 0 || kept < info.State.FirstSeq {
		return nil
	}
	msg, err := l.leaderMsg(ctx, kept, false)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stream message %d: %w", kept, err)
	}
	var theirs collector.Event
	_ = json.Unmarshal(msg.Data, &theirs)
	var ours collector.Event
	err = l.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(eventKey(kept))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return json.Unmarshal(v, &ours) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil // expired locally
	}
	if err != nil {
		return fmt.Errorf("read local copy at %d: %w", kept, err)
	}
	if theirs.ID != ours.ID {
		return fmt.Errorf("%w: stream %s holds event %q at %d, the copy %q", ErrStreamMismatch, l.opts.Stream, theirs.ID, kept, ours.ID)
	}
	return nil
}

func (l *Log) collectGarbage() {
	if l.opts.InMemory {
		return
	}
	for l.db.RunValueLogGC(0.5) == nil {
	}
}
