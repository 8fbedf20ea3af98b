//go:build !linux

package store

import (
	"errors"
	"os"
)

// errNoStatfs disables the free-space guard where this build cannot ask
// the filesystem (the daemon ships for Linux).
var errNoStatfs = errors.New("free space is not measured on this platform")

func fsSpace(string) (avail, total int64, err error) { return 0, 0, errNoStatfs }

func allocated(fi os.FileInfo) int64 { return fi.Size() }

func preallocate(*os.File, int64) error { return errNoStatfs }
