//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockStorage takes the locks a daemon holds on its storage while it runs
// (Badger's flock on each database directory: the store's and the
// stream copy's), so that restore neither replaces a running daemon's
// files nor lets one start on them meanwhile. release gives them back.
func lockStorage(dir string) (release func(), err error) {
	var held []*os.File
	release = func() {
		for _, f := range held {
			_ = f.Close()
		}
	}
	for _, d := range []string{dir, filepath.Join(dir, "stream")} {
		f, err := os.Open(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			release()
			return nil, fmt.Errorf("check that no daemon uses %s: %w", dir, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			release()
			return nil, fmt.Errorf("%s is in use (a daemon runs on it?): stop it before restoring over its storage", dir)
		}
		held = append(held, f)
	}
	return release, nil
}
