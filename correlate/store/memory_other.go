//go:build !linux

package store

import "errors"

// errNoProc: resident memory is not measured or trimmed on this platform
// (the daemon ships for Linux).
var errNoProc = errors.New("resident memory is not measured on this platform")

func fileResident() (int64, error) { return 0, errNoProc }

func pageOut(func(string) bool) (int, error) { return 0, errNoProc }

func residentOf(func(string) bool) (int64, error) { return 0, errNoProc }
