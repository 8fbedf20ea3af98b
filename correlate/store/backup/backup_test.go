package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

func write(t *testing.T, parts map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := backup.NewWriter(context.Background(), &buf, backup.Header{Log: "badger", CreatedAt: time.Unix(0, 0).UTC(), Parts: order})
	require.NoError(t, err)
	for _, name := range order {
		require.NoError(t, w.Part(name))
		// In odd-sized writes, across chunk boundaries.
		data := parts[name]
		for len(data) > 0 {
			n := min(len(data), 777777)
			_, err := w.Write(data[:n])
			require.NoError(t, err)
			data = data[n:]
		}
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// A backup reads back part by part as written, and anything but the
// whole file (cut anywhere, a byte changed, data appended) is refused.
func TestRoundTripAndDamage(t *testing.T) {
	parts := map[string][]byte{
		"store":  bytes.Repeat([]byte("0123456789abcdef"), 200000), // 3.2 MB: several chunks
		"stream": []byte("copy"),
	}
	file := write(t, parts, "store", "stream")

	r, err := backup.NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, []string{"store", "stream"}, r.Header().Parts)
	for _, want := range []string{"store", "stream"} {
		name, err := r.NextPart()
		require.NoError(t, err)
		require.Equal(t, want, name)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, parts[want], got)
	}
	_, err = r.NextPart()
	require.ErrorIs(t, err, io.EOF)

	for _, cut := range []int{0, 5, len(backup.Magic) + 3, len(file) / 2, len(file) - 33, len(file) - 1} {
		_, err := backup.Verify(bytes.NewReader(file[:cut]))
		require.ErrorIs(t, err, backup.ErrCorrupt, "cut at %d", cut)
	}
	for _, at := range []int{len(backup.Magic) + 10, len(file) / 3, len(file) - 40} {
		bad := bytes.Clone(file)
		bad[at] ^= 0x01
		_, err := backup.Verify(bytes.NewReader(bad))
		require.Error(t, err, "byte %d changed", at)
	}
	_, err = backup.Verify(io.MultiReader(bytes.NewReader(file), strings.NewReader("x")))
	require.ErrorIs(t, err, backup.ErrCorrupt)

	// Reading a part to its end checks the checksum too, so a loader fed
	// a cut part fails rather than taking it for whole.
	r, err = backup.NewReader(bytes.NewReader(file[:len(file)-10]))
	require.NoError(t, err)
	_, err = r.NextPart()
	require.NoError(t, err)
	_, _ = io.ReadAll(r)
	_, err = r.NextPart()
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.True(t, errors.Is(err, backup.ErrCorrupt), "%v", err)
}

// A writer whose context ends stops writing.
func TestWriterStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := backup.NewWriter(ctx, io.Discard, backup.Header{})
	require.NoError(t, err)
	require.NoError(t, w.Part("store"))
	cancel()
	_, err = w.Write(make([]byte, 2<<20))
	require.ErrorIs(t, err, context.Canceled)
}
