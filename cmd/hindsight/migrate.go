package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/correlate/store"
	"github.com/hindsight-ops/hindsight/correlate/streamlog"
)

// migrateMain is `hindsight migrate-log --storage.path DIR --nats.url
// URL [--config.file FILE]`: it publishes the event log kept in DIR (a
// stopped single instance's Badger log, or the copy of the stream in a
// replica's storage, restored from a backup) into the JetStream stream
// of the configuration's log section, at the same positions, so that the
// instance's incidents stay valid for replicas on the stream.
func migrateMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hindsight migrate-log", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("storage.path", "", "storage of the stopped instance (or of a restored replica) whose log to publish")
	natsURL := fs.String("nats.url", "", "the NATS cluster of the replicas")
	cfgFile := fs.String("config.file", "", "the replicas' configuration: log.stream, log.replicas, retention.events and the nats: credentials")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: hindsight migrate-log --storage.path DIR --nats.url URL [--config.file FILE]")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "hindsight migrate-log: %v (see hindsight migrate-log --help)\n", err)
		return 2
	}
	if *dir == "" || *natsURL == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "hindsight migrate-log: usage: hindsight migrate-log --storage.path DIR --nats.url URL [--config.file FILE]")
		return 2
	}
	cfg := config.Default()
	if *cfgFile != "" {
		c, err := config.LoadFile(*cfgFile)
		if err != nil {
			fmt.Fprintf(stderr, "hindsight migrate-log: %v\n", err)
			return 1
		}
		cfg = c
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, from, err := migrate(ctx, *dir, *natsURL, cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "hindsight migrate-log: %v\n", err)
		return 1
	}
	if res.From == res.Head {
		fmt.Fprintf(stdout, "Stream %s already holds the log of %s up to its end, position %d: nothing to publish.\n", cfg.Log.Stream, from, res.Head)
	} else {
		fmt.Fprintf(stdout, "Published %d events and %d gap markers of %s into stream %s: positions %d to %d.\n",
			res.Events, res.Gaps, from, cfg.Log.Stream, res.From+1, res.Head)
	}
	fmt.Fprintf(stdout, "Start the daemon on %s with log.type: jetstream (its incidents stay as they are), and more replicas on empty storage.\n", *dir)
	return 0
}

// migrate publishes the log in dir; from names which log it was.
func migrate(ctx context.Context, dir, natsURL string, cfg *config.Config, logger *slog.Logger) (streamlog.MigrateResult, string, error) {
	var res streamlog.MigrateResult
	if _, err := os.Stat(dir); err != nil {
		return res, "", fmt.Errorf("--storage.path: %w", err)
	}
	auth, err := deploy.ClientOptions(cfg.NATS)
	if err != nil {
		return res, "", err
	}
	nc, err := nats.Connect(natsURL, append([]nats.Option{nats.Name("hindsight-migrate-log"), nats.Timeout(10 * time.Second)}, auth...)...)
	if err != nil {
		return res, "", fmt.Errorf("connect to NATS at --nats.url: %w", err)
	}
	defer nc.Close()
	opts := streamlog.Options{Stream: cfg.Log.Stream, Replicas: cfg.Log.Replicas, Retention: time.Duration(cfg.Retention.Events)}

	// A replica's storage holds its copy of the stream; a single
	// instance's, the Badger log.
	if copyDir := filepath.Join(dir, "stream"); exists(copyDir) {
		src, err := streamlog.OpenCopy(copyDir, logger)
		if err != nil {
			return res, "", err
		}
		defer src.Close()
		res, err = streamlog.Migrate(ctx, nc, opts, src, logger)
		return res, "the copy of the stream in " + dir, err
	}
	db, err := store.Open(dir, store.Options{}, logger, nil)
	if err != nil {
		return res, "", fmt.Errorf("open the store (stop the daemon on it first): %w", err)
	}
	defer db.Close()
	res, err = streamlog.Migrate(ctx, nc, opts, db, logger)
	return res, "the event log in " + dir, err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
