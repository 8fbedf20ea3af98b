package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

// verifyingReader passes a backup through while checking it: at the end
// of the download it returns the check's error instead of io.EOF, so a
// backup cut short (the daemon failed or the connection broke) is never
// kept under the name asked for.
type verifyingReader struct {
	r      io.Reader
	pw     *io.PipeWriter
	result chan error
	header backup.Header
}

func newVerifyingReader(r io.Reader) *verifyingReader {
	pr, pw := io.Pipe()
	v := &verifyingReader{r: r, pw: pw, result: make(chan error, 1)}
	go func() {
		h, err := backup.Verify(pr)
		v.header = h
		_, _ = io.Copy(io.Discard, pr)
		v.result <- err
	}()
	return v
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if n > 0 {
		if _, werr := v.pw.Write(p[:n]); werr != nil {
			return n, werr
		}
	}
	if errors.Is(err, io.EOF) {
		_ = v.pw.Close()
		if verr := <-v.result; verr != nil {
			return n, fmt.Errorf("the backup is incomplete: %w", verr)
		}
		return n, io.EOF
	}
	if err != nil {
		_ = v.pw.CloseWithError(err)
		return n, fmt.Errorf("download the backup: %w", err)
	}
	return n, nil
}
