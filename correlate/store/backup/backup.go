// Package backup is the file format of Hindsight's backups (hindsightctl
// backup, hindsight restore): a header, then named parts, each the
// Badger backup stream of one database, then a SHA-256 checksum of
// everything before it. It is written as a stream, while the daemon
// reads its snapshot, so a failure half-way cannot change the HTTP
// status any more; the checksum at the end is what tells a complete
// backup from a cut one.
//
// Layout:
//
//	"HINDSIGHT-BACKUP\n"
//	frame*: <type:1> <length:4, big-endian> <payload>
//	  'H' the header, JSON (Header); the first frame
//	  'P' the start of a part; payload: its name
//	  'D' a chunk of the current part's data
//	  'E' the end; payload: SHA-256 of every byte before this frame
//
// The package does not depend on Badger, so that clients can check a
// backup without linking the store.
package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Magic starts every backup file.
const Magic = "HINDSIGHT-BACKUP\n"

// Format is the header's format version this package writes and reads.
const Format = 1

// Names of the parts Hindsight writes.
const (
	// PartStore is the Badger store: the event log (with log.type
	// badger) and the projection (incidents, timelines).
	PartStore = "store"
	// PartStream is a replica's copy of the event stream (log.type
	// jetstream).
	PartStream = "stream"
)

const (
	frameHeader = 'H'
	framePart   = 'P'
	frameData   = 'D'
	frameEnd    = 'E'
	// chunkSize is how much part data one frame carries at most.
	chunkSize = 1 << 20
	// maxFrame bounds a frame a reader accepts, so a corrupt length
	// cannot make it allocate gigabytes.
	maxFrame = 4 << 20
)

// ErrCorrupt is returned for a file that is not a complete backup: cut
// short, altered, or not a backup at all.
var ErrCorrupt = errors.New("not a complete Hindsight backup")

// Header describes a backup.
type Header struct {
	// Format is the format version (Format).
	Format int `json:"format"`
	// Log is the log.type of the daemon that wrote it: "badger" or
	// "jetstream".
	Log string `json:"log"`
	// Stream is the JetStream stream (log.stream) the copy in the backup
	// follows, with log.type jetstream.
	Stream string `json:"stream,omitempty"`
	// CreatedAt is when the daemon began the backup.
	CreatedAt time.Time `json:"created_at"`
	// Version is the daemon's build version.
	Version string `json:"version,omitempty"`
	// Parts names the parts, in the order they follow.
	Parts []string `json:"parts"`
}

// Writer writes a backup to an io.Writer: the header on creation, then
// each part's data written between Part calls, then Close.
type Writer struct {
	ctx  context.Context
	w    io.Writer
	sum  hash.Hash
	buf  []byte
	part string
	err  error
}

// NewWriter writes the magic and the header to w. Writes fail with
// ctx's error once ctx is done.
func NewWriter(ctx context.Context, w io.Writer, h Header) (*Writer, error) {
	h.Format = Format
	hb, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("backup header: %w", err)
	}
	bw := &Writer{ctx: ctx, w: w, sum: sha256.New(), buf: make([]byte, 0, chunkSize)}
	bw.raw([]byte(Magic))
	bw.frame(frameHeader, hb)
	return bw, bw.err
}

// Part starts the part name; the data written after it is its data.
func (w *Writer) Part(name string) error {
	w.flush()
	w.part = name
	w.frame(framePart, []byte(name))
	return w.err
}

// Write adds p to the current part's data.
func (w *Writer) Write(p []byte) (int, error) {
	if w.part == "" && w.err == nil {
		w.err = errors.New("backup: data written before a part")
	}
	n := 0
	for len(p) > 0 && w.err == nil {
		k := min(len(p), chunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == chunkSize {
			w.flush()
		}
	}
	return n, w.err
}

// Close ends the backup with its checksum. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	w.flush()
	if w.err == nil {
		w.frame(frameEnd, w.sum.Sum(nil))
	}
	return w.err
}

func (w *Writer) flush() {
	if len(w.buf) > 0 {
		w.frame(frameData, w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *Writer) frame(typ byte, payload []byte) {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(len(payload)))
	if typ == frameEnd {
		// The checksum covers every byte before the end frame.
		if w.err == nil {
			_, w.err = w.w.Write(append(h[:], payload...))
		}
		return
	}
	w.raw(h[:])
	w.raw(payload)
}

func (w *Writer) raw(b []byte) {
	if w.err != nil {
		return
	}
	if w.err = w.ctx.Err(); w.err != nil {
		return
	}
	w.sum.Write(b)
	_, w.err = w.w.Write(b)
}

// Reader reads a backup: the header, then each part's data in turn.
type Reader struct {
	r      *bufio.Reader
	sum    hash.Hash
	header Header
	// pending is a frame read ahead: the one after the current part's
	// data.
	pendingType byte
	pending     []byte
	data        []byte
	inPart      bool
	done        bool
}

// NewReader reads the magic and the header of a backup from r.
func NewReader(r io.Reader) (*Reader, error) {
	br := &Reader{r: bufio.NewReaderSize(r, 64<<10), sum: sha256.New()}
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(br.r, magic); err != nil || string(magic) != Magic {
		return nil, fmt.Errorf("%w: it does not start as one", ErrCorrupt)
	}
	br.sum.Write(magic)
	typ, payload, err := br.frame()
	if err != nil {
		return nil, err
	}
	if typ != frameHeader {
		return nil, fmt.Errorf("%w: no header", ErrCorrupt)
	}
	if err := json.Unmarshal(payload, &br.header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if br.header.Format != Format {
		return nil, fmt.Errorf("backup format %d: this build reads format %d", br.header.Format, Format)
	}
	return br, nil
}

// Header is the backup's header.
func (r *Reader) Header() Header { return r.header }

// NextPart skips what is left of the current part and returns the name
// of the next one; io.EOF after the last, once the checksum has been
// checked. A backup cut short or altered is ErrCorrupt.
func (r *Reader) NextPart() (string, error) {
	for {
		typ, payload, err := r.next()
		if err != nil {
			return "", err
		}
		switch typ {
		case framePart:
			r.inPart, r.data = true, nil
			return string(payload), nil
		case frameData:
			if !r.inPart {
				return "", fmt.Errorf("%w: data before a part", ErrCorrupt)
			}
		case frameEnd:
			return "", io.EOF
		default:
			return "", fmt.Errorf("%w: unknown frame %q", ErrCorrupt, typ)
		}
	}
}

// Read reads the current part's data; io.EOF at its end.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.data) == 0 {
		if !r.inPart {
			return 0, io.EOF
		}
		typ, payload, err := r.next()
		if err != nil {
			return 0, err
		}
		if typ != frameData {
			r.pendingType, r.pending, r.inPart = typ, payload, false
			return 0, io.EOF
		}
		r.data = payload
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// next returns the frame read ahead, or reads one.
func (r *Reader) next() (byte, []byte, error) {
	if r.pendingType != 0 {
		typ, p := r.pendingType, r.pending
		r.pendingType, r.pending = 0, nil
		return typ, p, nil
	}
	if r.done {
		return frameEnd, nil, nil
	}
	return r.frame()
}

// frame reads one frame; the end frame's checksum is checked here.
func (r *Reader) frame() (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: it ends early (%v)", ErrCorrupt, err)
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w: a frame of %d bytes", ErrCorrupt, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r.r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: it ends early (%v)", ErrCorrupt, err)
	}
	if h[0] == frameEnd {
		if !bytes.Equal(payload, r.sum.Sum(nil)) {
			return 0, nil, fmt.Errorf("%w: the checksum does not match", ErrCorrupt)
		}
		if _, err := r.r.ReadByte(); err != io.EOF {
			return 0, nil, fmt.Errorf("%w: data after its end", ErrCorrupt)
		}
		r.done = true
		return frameEnd, nil, nil
	}
	r.sum.Write(h[:])
	r.sum.Write(payload)
	return h[0], payload, nil
}

// Verify reads a whole backup and checks that it is complete; it returns
// its header.
func Verify(r io.Reader) (Header, error) {
	br, err := NewReader(r)
	if err != nil {
		return Header{}, err
	}
	for {
		_, err := br.NextPart()
		if errors.Is(err, io.EOF) {
			return br.header, nil
		}
		if err != nil {
			return Header{}, err
		}
	}
}
