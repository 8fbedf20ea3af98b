package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/store/backup"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
)

// subcommands are the commands hindsight runs instead of the daemon when
// its first argument names one.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"restore":     restoreMain,
	"migrate-log": migrateMain,
}

// restoreMain is `hindsight restore --storage.path DIR FILE`: it restores
// a backup (hindsightctl backup) into DIR, for a daemon started on DIR
// to answer as the original did at the backup's log position.
func restoreMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hindsight restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("storage.path", "", "directory to restore into (the daemon's --storage.path); it must be empty or absent")
	force := fs.Bool("force", false, "replace what the directory holds (stop the daemon on it first)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: hindsight restore --storage.path DIR [--force] FILE   (FILE - reads standard input)")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "hindsight restore: %v (see hindsight restore --help)\n", err)
		return 2
	}
	if *dir == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "hindsight restore: usage: hindsight restore --storage.path DIR [--force] FILE")
		return 2
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "hindsight restore: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := restore(*dir, in, *force, logger)
	if err != nil {
		fmt.Fprintf(stderr, "hindsight restore: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Restored the backup of %s (log.type %s) into %s: ", res.header.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), res.header.Log, *dir)
	if res.header.Log == "jetstream" {
		fmt.Fprintf(stdout, "the copy of stream %s up to position %d, incidents as of position %d.\n", res.header.Stream, res.logHead, res.applied)
		fmt.Fprintf(stdout, "Start the replica on it with log.type: jetstream and log.stream: %s; it copies and applies the rest of the stream.\n", res.header.Stream)
	} else {
		fmt.Fprintf(stdout, "the event log up to position %d, incidents as of position %d.\n", res.logHead, res.applied)
		fmt.Fprintln(stdout, "Start the daemon on it with --storage.path; it applies the rest of the log before it reports ready.")
	}
	return 0
}

type restored struct {
	header           backup.Header
	logHead, applied uint64
}

// restore loads the backup r into dir. It writes into a directory of
// its own under dir and moves the result into place only once the whole
// backup has been read and its checksum matches, so a backup cut short
// leaves dir as it was.
func restore(dir string, r io.Reader, force bool, logger *slog.Logger) (restored, error) {
	var res restored
	existing, err := entries(dir)
	if err != nil {
		return res, err
	}
	unlock := func() {}
	if len(existing) > 0 {
		if !force {
			return res, fmt.Errorf("%s is not empty (it holds %s): restore into an empty or new directory, or give --force to replace what it holds", dir, existing[0])
		}
		release, err := lockStorage(dir)
		if err != nil {
			return res, err
		}
		// Held until the restored files are in place; released before
		// they are opened below, or on a failure before that.
		released := false
		unlock = func() {
			if !released {
				released = true
				release()
			}
		}
		defer unlock()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return res, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(dir, ".restore-")
	if err != nil {
		return res, fmt.Errorf("create a directory to restore into: %w", err)
	}
	defer os.RemoveAll(tmp)

	br, err := backup.NewReader(r)
	if err != nil {
		return res, err
	}
	res.header = br.Header()
	for {
		part, err := br.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		var target string
		switch part {
		case backup.PartStore:
			target = tmp
		case backup.PartStream:
			target = filepath.Join(tmp, "stream")
		default:
			return res, fmt.Errorf("the backup has a part %q this build does not know (from a newer Hindsight?)", part)
		}
		if err := store.LoadBadger(target, br, logger); err != nil {
			return res, fmt.Errorf("restore %s: %w", part, err)
		}
	}

	// The backup is whole: replace what dir held, then move it in.
	for _, name := range existing {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return res, fmt.Errorf("remove %s: %w", filepath.Join(dir, name), err)
		}
	}
	restoredNames, err := entries(tmp)
	if err != nil {
		return res, err
	}
	for _, name := range restoredNames {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return res, fmt.Errorf("move the restored %s into %s: %w", name, dir, err)
		}
	}

	unlock()

	// Open it as the daemon will: a projection commit staged at the time
	// of the backup is finished here.
	db, err := store.Open(dir, store.Options{}, logger, nil)
	if err != nil {
		return res, fmt.Errorf("open the restored store: %w", err)
	}
	defer db.Close()
	cp, err := db.Checkpoint()
	if err != nil {
		return res, fmt.Errorf("read the restored projection: %w", err)
	}
	res.applied = cp.Seq
	if res.header.Log == "jetstream" {
		res.logHead, err = streamlog.CopiedPosition(filepath.Join(dir, "stream"), logger)
	} else {
		res.logHead, err = db.Head()
	}
	if err != nil {
		return res, err
	}
	return res, db.Close()
}

// entries lists what dir holds, but lost+found (a fresh filesystem's);
// none if dir does not exist.
func entries(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != "lost+found" {
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}
