// Command hindsight is the Hindsight daemon: it takes in Alertmanager
// webhooks, PagerDuty webhooks and deploy notifications, stores every
// event durably, correlates them into incidents and serves timelines and
// post-mortem drafts.
//
// main only parses flags, builds the logger and turns signals into
// cancellation and reloads: SIGINT or SIGTERM starts a clean shutdown and
// a second one exits at once; SIGHUP reloads the configuration. The
// daemon itself is cmd/internal/daemon, which tests start in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"syscall"

	"github.com/dustin/go-humanize"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/config"
	"github.com/hindsight-ops/hindsight/export/exporter"
	"github.com/hindsight-ops/hindsight/export/sink"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// forceExit ends the process on a second termination signal, when a
// clean shutdown takes too long for the operator.
var forceExit = os.Exit

// Main runs the command with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd(args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("hindsight", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o daemon.Options
	fs.StringVar(&o.ConfigFile, "config.file", "", "YAML configuration file; empty runs with built-in defaults")
	fs.StringVar(&o.ListenAddress, "web.listen-address", ":9097", "HTTP listener for ingestion, API, UI and metrics")
	fs.StringVar(&o.WebConfigFile, "web.config.file", "", "Prometheus web configuration file: TLS and basic auth on the listener")
	fs.BoolVar(&o.EnablePprof, "web.enable-pprof", false, "serve /debug/pprof/ (needs a read-write token when api.tokens is set)")
	fs.StringVar(&o.StoragePath, "storage.path", "data/", "Badger directory")
	minFree := byteSize(256 << 20)
	fs.Var(&minFree, "storage.min-free-space", "refuse new events (503) while the storage filesystem has less free than this (256MiB, 1GB); the store also keeps what its compactions need")
	fs.StringVar(&o.NATSURL, "nats.url", "", "external NATS server; empty starts the embedded one")
	fs.StringVar(&o.NATSListen, "nats.listen-address", "127.0.0.1:4222", "where the embedded NATS server listens")
	logLevel := fs.String("log.level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log.format", "logfmt", "log format: logfmt or json")
	check := fs.String("config.check", "", "validate this configuration file (and --web.config.file, if given) and exit")
	showVersion := fs.Bool("version", false, "print build information and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: hindsight [flags]")
			fmt.Fprintln(stdout, "       hindsight restore --storage.path DIR [--force] FILE   (see hindsight restore --help)")
			fmt.Fprintln(stdout, "       hindsight migrate-log --storage.path DIR --nats.url URL [--config.file FILE]")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "hindsight: %v (see hindsight --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hindsight: unexpected argument %q (see hindsight --help)\n", fs.Arg(0))
		return 2
	}
	o.MinFreeBytes = int64(minFree)
	if *showVersion {
		fmt.Fprintln(stdout, version.Print("hindsight"))
		return 0
	}
	if *check != "" {
		cfg, err := config.LoadFile(*check)
		if err == nil {
			// The template and the sinks too: a template that does not
			// parse, a directory that cannot be written.
			_, err = exporter.NewSetup(cfg, *check, sink.Options{})
		}
		if err != nil {
			fmt.Fprintf(stderr, "hindsight: %v\n", err)
			return 1
		}
		if o.WebConfigFile != "" {
			if err := daemon.ValidateWebConfig(o.WebConfigFile); err != nil {
				fmt.Fprintf(stderr, "hindsight: %v\n", err)
				return 1
			}
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *check)
		return 0
	}
	lvl := promslog.NewLevel()
	if err := lvl.Set(*logLevel); err != nil {
		fmt.Fprintf(stderr, "hindsight: --log.level: %v\n", err)
		return 2
	}
	format := promslog.NewFormat()
	if err := format.Set(*logFormat); err != nil {
		fmt.Fprintf(stderr, "hindsight: --log.format: %v\n", err)
		return 2
	}
	logger := promslog.New(&promslog.Config{Level: lvl, Format: format, Writer: stderr})
	o.Logger = logger

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	term := make(chan os.Signal, 2)
	signal.Notify(term, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(term)
	go func() {
		select {
		case sig := <-term:
			logger.Info("Received a signal; shutting down cleanly (send it again to exit at once)", "signal", sig.String())
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-term:
			logger.Error("Received a second signal; exiting without a clean shutdown", "signal", sig.String())
			fmt.Fprintf(stderr, "hindsight: second %s, exited without a clean shutdown\n", sig)
			code := 1
			if s, ok := sig.(syscall.Signal); ok {
				code = 128 + int(s)
			}
			forceExit(code)
		case <-done:
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default: // one is pending already
				}
			case <-done:
				return
			}
		}
	}()
	o.Reload = reload

	d, err := daemon.New(o)
	if err != nil {
		fmt.Fprintf(stderr, "hindsight: %v\n", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "hindsight: %v\n", err)
		return 1
	}
	logger.Info("Hindsight stopped")
	return 0
}

// byteSize is a flag holding a size in bytes, written with a unit as
// operators do (256MiB, 1GB, 512KiB) or as a plain number of bytes.
type byteSize int64

func (b *byteSize) String() string { return humanize.IBytes(uint64(*b)) }

func (b *byteSize) Set(s string) error {
	v, err := humanize.ParseBytes(s)
	if err != nil || v > math.MaxInt64 {
		return fmt.Errorf("%q is not a size such as 256MiB or 1GB", s)
	}
	*b = byteSize(v)
	return nil
}
