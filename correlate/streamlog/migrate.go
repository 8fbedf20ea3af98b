package streamlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/correlate"
)

// GapHeader marks a message that holds no event: Migrate publishes one
// at each position of the source log that has none, so that the
// stream's positions are the source's. A copy skips it as a gap.
const GapHeader = "Hindsight-Gap"

// SourceLog is a log to migrate: the events in order (correlate.EventLog's
// Read) and the last position, which may be past the last event.
type SourceLog interface {
	Read(ctx context.Context, after uint64, limit int) ([]correlate.LoggedEvent, error)
	Head() (uint64, error)
}

// MigrateResult says what Migrate did.
type MigrateResult struct {
	// From is the stream's last position before Migrate (a resumed
	// migration's start), Head the source's last position: the stream's
	// last position after Migrate.
	From, Head uint64
	// Events and Gaps are how many events and gap markers Migrate
	// published.
	Events, Gaps int
}

// migrateWindow is how many publishes are in flight at once.
const migrateWindow = 512

// Migrate publishes the events of src into the stream o.Stream, in
// order and each at the position it has in src: positions of src
// without an event get a gap marker. The stream's positions are then
// src's, so a projection made from src (the single instance's incidents,
// their checkpoint) stays valid for a replica on the stream. The stream
// is created as Open creates it if it does not exist; it must be empty
// or hold what an earlier Migrate of the same src published (a
// migration that stopped half-way resumes where it stopped). Every
// publish names the sequence it expects before it, so nothing else can
// be published in between unnoticed: stop the writers of src and keep
// the replicas off the stream until Migrate returns.
func Migrate(ctx context.Context, nc *nats.Conn, o Options, src SourceLog, logger *slog.Logger) (MigrateResult, error) {
	var res MigrateResult
	o.InMemory = true // no copy here
	if err := o.setDefaults(); err != nil {
		return res, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(migrateWindow))
	if err != nil {
		return res, fmt.Errorf("jetstream: %w", err)
	}
	l := &Log{opts: o, js: js, logger: logger}
	stream, err := l.ensureStream(ctx)
	if err != nil {
		return res, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("event stream info: %w", err)
	}
	res.Head, err = src.Head()
	if err != nil {
		return res, err
	}
	res.From = info.State.LastSeq
	if err := l.checkMigrated(ctx, src, res.From, res.Head); err != nil {
		return res, err
	}

	pos := res.From // the stream's last position
	var pending []jetstream.PubAckFuture
	var wantSeq []uint64
	flush := func() error {
		timer := time.NewTimer(o.AckTimeout)
		defer timer.Stop()
		for i, f := range pending {
			select {
			case ack := <-f.Ok():
				if ack.Sequence != wantSeq[i] || ack.Duplicate {
					return fmt.Errorf("%w: position %d was published at %d (duplicate %v): something else publishes to stream %s",
						ErrStreamMismatch, wantSeq[i], ack.Sequence, ack.Duplicate, o.Stream)
				}
			case err := <-f.Err():
				return fmt.Errorf("publish position %d: %w", wantSeq[i], err)
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				return fmt.Errorf("publish position %d: no acknowledgement within %s", wantSeq[i], o.AckTimeout)
			}
		}
		pending, wantSeq = pending[:0], wantSeq[:0]
		return nil
	}
	publish := func(m *nats.Msg, opts ...jetstream.PublishOpt) error {
		f, err := js.PublishMsgAsync(m, append(opts, jetstream.WithExpectStream(o.Stream), jetstream.WithExpectLastSequence(pos))...)
		if err != nil {
			return fmt.Errorf("publish position %d: %w", pos+1, err)
		}
		pos++
		pending, wantSeq = append(pending, f), append(wantSeq, pos)
		if len(pending) >= migrateWindow {
			return flush()
		}
		return nil
	}
	gapsUpTo := func(to uint64) error {
		for pos < to {
			m := &nats.Msg{Subject: o.Stream + ".gap", Header: nats.Header{GapHeader: []string{strconv.FormatUint(pos+1, 10)}}}
			if err := publish(m); err != nil {
				return err
			}
			res.Gaps++
		}
		return nil
	}
	for {
		evs, err := src.Read(ctx, pos, copyBatch)
		if err != nil {
			return res, fmt.Errorf("read the log after %d: %w", pos, err)
		}
		if len(evs) == 0 {
			break
		}
		for _, le := range evs {
			if err := gapsUpTo(le.Seq - 1); err != nil {
				return res, err
			}
			data, err := json.Marshal(&le.Event)
			if err != nil {
				return res, fmt.Errorf("encode event %s: %w", le.Event.ID, err)
			}
			m := &nats.Msg{Subject: l.subject(le.Event.Source), Data: data, Header: nats.Header{}}
			if err := publish(m, jetstream.WithMsgID(le.Event.ID)); err != nil {
				return res, err
			}
			res.Events++
		}
		if err := flush(); err != nil {
			return res, err
		}
	}
	if err := gapsUpTo(res.Head); err != nil {
		return res, err
	}
	return res, flush()
}

// checkMigrated checks that a stream ending at last holds what Migrate
// of src would have put there: nothing, or src's event (or a gap marker)
// at last.
func (l *Log) checkMigrated(ctx context.Context, src SourceLog, last, head uint64) error {
	if last == 0 {
		return nil
	}
	if last > head {
		return fmt.Errorf("%w: stream %s ends at %d, past the log's end at %d: it holds other events", ErrStreamMismatch, l.opts.Stream, last, head)
	}
	msg, err := l.leaderMsg(ctx, last, false)
	if err != nil {
		return fmt.Errorf("read stream message %d: %w", last, err)
	}
	evs, err := src.Read(ctx, last-1, 1)
	if err != nil {
		return fmt.Errorf("read the log at %d: %w", last, err)
	}
	var theirs collector.Event
	gap := json.Unmarshal(msg.Data, &theirs) != nil || theirs.ID == ""
	switch {
	case len(evs) == 1 && evs[0].Seq == last && !gap && theirs.ID == evs[0].Event.ID:
		return nil
	case (len(evs) == 0 || evs[0].Seq != last) && gap:
		return nil
	}
	return fmt.Errorf("%w: stream %s already holds events that are not this log's (at position %d): migrate into an empty stream", ErrStreamMismatch, l.opts.Stream, last)
}

// CopyReader reads a replica's copy of the stream in a stopped
// replica's storage (Options.Dir), without the stream: a SourceLog for
// Migrate, to put a restored backup back into a new stream.
type CopyReader struct{ db *badger.DB }

// OpenCopy opens the copy in dir for reading. Close it.
func OpenCopy(dir string, logger *slog.Logger) (*CopyReader, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(badgerLogger{logger}).WithLoggingLevel(badger.WARNING).WithMetricsEnabled(false))
	if err != nil {
		return nil, fmt.Errorf("open local copy of the event stream %q: %w", dir, err)
	}
	return &CopyReader{db: db}, nil
}

// Close closes the copy.
func (c *CopyReader) Close() error { return c.db.Close() }

// Head implements SourceLog: the copied position.
func (c *CopyReader) Head() (uint64, error) {
	var pos uint64
	err := c.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyCopied)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("corrupt copied position: %d bytes", len(v))
			}
			pos = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return pos, err
}

// Read implements SourceLog.
func (c *CopyReader) Read(ctx context.Context, after uint64, limit int) ([]correlate.LoggedEvent, error) {
	var out []correlate.LoggedEvent
	err := c.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{pEvent}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(eventKey(after + 1)); it.Valid() && len(out) < limit; it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			le := correlate.LoggedEvent{Seq: binary.BigEndian.Uint64(it.Item().Key()[1:])}
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &le.Event) }); err != nil {
				return fmt.Errorf("decode event %d: %w", le.Seq, err)
			}
			out = append(out, le)
		}
		return nil
	})
	return out, err
}
