// Command hindsight-load measures how fast Hindsight ingests Alertmanager
// webhooks, beside a baseline measured in the same run.
//
// Subcommands:
//
//	hindsight-load noop --listen 127.0.0.1:9197
//	    A server that does the HTTP work of the real receiver up to the
//	    store (content type, body limit, alertmanager.Decode, the same
//	    instrumentation, a 200 JSON answer) and stores nothing: the
//	    baseline.
//	hindsight-load ingest --url URL [--concurrency 64] [--duration 20s | --requests N] [--rate R]
//	    Workers, each playing one cluster's Alertmanager, POST realistic,
//	    unique Alertmanager v4 notifications (pre-generated before the
//	    clock starts) and report requests/s, alerts/s, latency percentiles
//	    and errors by status. Closed loop by default; --rate offers a
//	    fixed load instead. Exits 1 if any request failed.
//	hindsight-load compare --hindsight ./hindsight [--fill 1000000]
//	    The whole reproducible run: the no-op baseline and the durable
//	    daemon on a fresh store, measured with the same bodies and
//	    parameters, then (with --fill) the store filled to N events, its
//	    resident memory and size on disk, and the time from restart to
//	    ready.
//
//	hindsight-load soak --hindsight ./hindsight [--duration 2h] [--every 5m] [--rate 200]
//	    The daemon on a fresh store under a steady load, paused every
//	    --every for an idle sample of its goroutines and live heap (after
//	    a forced GC), resident memory and size on disk; exits 1 if the
//	    last sample holds more than the first beyond the tolerances. Not
//	    run in CI (TestSoakNoGrowth is its one-minute version).
//
// `make bench-ingest` builds both binaries and runs compare. Results and
// how to read them are in BENCHMARKS.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: hindsight-load <command> [flags]

Commands:
  noop      serve a baseline receiver that decodes and stores nothing
  ingest    send Alertmanager webhooks to a URL and report throughput and latency
  compare   run the baseline and the daemon side by side, then the 1M-event checks
  soak      load the daemon for hours, sampling its goroutines and live heap at idle

Run "hindsight-load <command> --help" for the flags of a command.
`

// Main runs the command with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var run func([]string, io.Writer, io.Writer) error
	switch args[0] {
	case "noop":
		run = runNoop
	case "ingest":
		run = runIngest
	case "compare":
		run = runCompare
	case "soak":
		run = runSoak
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hindsight-load: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "hindsight-load %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "hindsight-load %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a bad command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// parseFlags parses a subcommand's flags; --help prints them to stdout.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "Usage: hindsight-load %s [flags]\n", fs.Name())
			fs.PrintDefaults()
			return err
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
