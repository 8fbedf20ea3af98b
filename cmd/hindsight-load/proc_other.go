//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"time"
)

// The compare subcommand reads memory and CPU from /proc; elsewhere it
// reports them as unavailable. noop and ingest work everywhere.

var errNoProc = errors.New("not available on this system (needs Linux /proc)")

func dieWithParent(*exec.Cmd) {}

func procMem(int) (memInfo, error) { return memInfo{}, errNoProc }

func procCPU(int) (time.Duration, error) { return 0, errNoProc }

func selfCPU() time.Duration { return 0 }

func diskUsage(string) (used, apparent int64, err error) { return 0, 0, errNoProc }

func loadAverage() string { return "?" }
