// Command hindsight is the Hindsight daemon: it takes in Alertmanager
// webhooks, stores every event durably, correlates them into incidents and
// serves timelines and post-mortem drafts.
//
// main only parses flags, builds the logger and turns signals into a
// context and a reload channel; everything else is in run, which tests
// call in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"

	"github.com/hindsight-ops/hindsight/config"
)

// Options are the daemon's command-line settings (spec/api.md).
type Options struct {
	ConfigFile    string
	ListenAddress string
	StoragePath   string
	NATSURL       string
	NATSListen    string
	LogLevel      string
	LogFormat     string
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hindsight", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o Options
	fs.StringVar(&o.ConfigFile, "config.file", "", "YAML configuration file; empty runs with built-in defaults")
	fs.StringVar(&o.ListenAddress, "web.listen-address", ":9097", "HTTP listener for ingestion, API, UI and metrics")
	fs.StringVar(&o.StoragePath, "storage.path", "data/", "Badger directory")
	fs.StringVar(&o.NATSURL, "nats.url", "", "external NATS server; empty starts the embedded one")
	fs.StringVar(&o.NATSListen, "nats.listen-address", "127.0.0.1:4222", "where the embedded NATS server listens")
	fs.StringVar(&o.LogLevel, "log.level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.LogFormat, "log.format", "logfmt", "log format: logfmt or json")
	check := fs.String("config.check", "", "validate this configuration file and exit")
	showVersion := fs.Bool("version", false, "print build information and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: hindsight [flags]")
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
	if *showVersion {
		fmt.Fprintln(stdout, version.Print("hindsight"))
		return 0
	}
	if *check != "" {
		if _, err := config.LoadFile(*check); err != nil {
			fmt.Fprintf(stderr, "hindsight: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *check)
		return 0
	}
	lvl := promslog.NewLevel()
	if err := lvl.Set(o.LogLevel); err != nil {
		fmt.Fprintf(stderr, "hindsight: --log.level: %v\n", err)
		return 2
	}
	fmtFlag := promslog.NewFormat()
	if err := fmtFlag.Set(o.LogFormat); err != nil {
		fmt.Fprintf(stderr, "hindsight: --log.format: %v\n", err)
		return 2
	}
	logger := promslog.New(&promslog.Config{Level: lvl, Format: fmtFlag, Writer: stderr})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan chan error)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- nil:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if err := Run(ctx, o, logger, reload, nil); err != nil {
		fmt.Fprintf(stderr, "hindsight: %v\n", err)
		return 1
	}
	return 0
}
