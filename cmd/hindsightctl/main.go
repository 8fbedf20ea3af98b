// Command hindsightctl is the operator's client of the Hindsight HTTP API:
// it lists and shows incidents, prints their timelines and post-mortem
// drafts, and makes the corrections people make (notes, overrides,
// curation, merges, splits, reviews, action items). The daemon's address
// comes from --url or HINDSIGHT_URL, its token from HINDSIGHT_TOKEN or
// --token-file. Run `hindsightctl --help` or `hindsightctl help COMMAND`.
//
// Exit codes, for scripts:
//
//	0  done
//	1  the daemon refused or failed (a 4xx or 5xx not listed below), an
//	   answer that could not be read, or `config check` found problems
//	2  the command line is wrong (nothing was sent)
//	3  not found (404): no such incident, entry or action item
//	4  access denied (401, 403): no token, a wrong one, or one whose role
//	   is not enough
//	5  conflict (409): a merged incident, a post-mortem not yet approved
//	6  the daemon cannot be reached or is unavailable (connection refused,
//	   timeout, 503): try again later
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// Exit codes (see the package doc).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitDenied      = 4
	exitConflict    = 5
	exitUnavailable = 6
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// terminated carries kingpin's exit (after --help, --version or a
// completion) out of Parse without ending the process, so that Main can
// be called from tests.
type terminated struct{ code int }

// Main runs hindsightctl with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	app := kingpin.New("hindsightctl", "The operator's client of the Hindsight incident-timeline daemon.\n\n"+
		"Exit codes: 0 done, 1 refused or failed, 2 wrong command line, 3 not found, "+
		"4 access denied, 5 conflict, 6 daemon unreachable or unavailable.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Terminate(func(c int) { panic(terminated{c}) })
	app.Version(version.Print("hindsightctl"))
	app.HelpFlag.Short('h')
	app.UsageTemplate(kingpin.CompactUsageTemplate)

	c := &cli{stdout: stdout, stderr: stderr}
	app.Flag("url", "Hindsight's address.").Envar("HINDSIGHT_URL").Default("http://localhost:9097").StringVar(&c.url)
	app.Flag("token-file", "File holding the API token (else HINDSIGHT_TOKEN).").PlaceHolder("FILE").StringVar(&c.tokenFile)
	app.Flag("timeout", "How long to wait for an answer.").Default("5m").DurationVar(&c.timeout)
	app.Flag("output", "Output format: table, json or yaml.").Short('o').Default("table").EnumVar(&c.output, "table", "json", "yaml")
	app.Flag("author", "Who makes a change (notes, overrides, merges...); the daemon uses the token's name when tokens are set.").
		Envar("HINDSIGHT_AUTHOR").Default(os.Getenv("USER")).StringVar(&c.author)
	c.register(app)

	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = t.code
		}
	}()
	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "hindsightctl: %v\n", err)
		if cmdName := commandOf(args, app); cmdName != "" {
			fmt.Fprintf(stderr, "run 'hindsightctl help %s' for its usage\n", cmdName)
		} else {
			fmt.Fprintln(stderr, "run 'hindsightctl --help' for the commands")
		}
		return exitUsage
	}
	if err := c.setup(); err != nil {
		fmt.Fprintf(stderr, "hindsightctl: %v\n", err)
		return exitUsage
	}
	run := c.actions[cmd]
	if run == nil {
		fmt.Fprintf(stderr, "hindsightctl: %s: give a subcommand (hindsightctl help %s)\n", cmd, cmd)
		return exitUsage
	}
	if err := run(ctx); err != nil {
		fmt.Fprintf(stderr, "hindsightctl: %v\n", err)
		return exitCode(err)
	}
	return exitOK
}

// commandOf names the command the args meant, for the usage hint.
func commandOf(args []string, app *kingpin.Application) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if app.GetCommand(a) != nil {
			return a
		}
		return ""
	}
	return ""
}

// apiError is an answer of the daemon that was not a 2xx.
type apiError struct {
	method, path string
	status       int
	msg          string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %s (%d %s)", e.method, e.path, e.msg, e.status, http.StatusText(e.status))
}

// usageError is a command line that parsed but makes no sense.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// unavailableError: the daemon could not be reached.
type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }
func (e unavailableError) Unwrap() error { return e.err }

// failedError: something that is neither the daemon's nor the user's
// doing, such as a file that cannot be written.
func exitCode(err error) int {
	var ae *apiError
	var ue usageError
	var un unavailableError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &un):
		return exitUnavailable
	case errors.As(err, &ae):
		switch ae.status {
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitDenied
		case http.StatusConflict:
			return exitConflict
		case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
			return exitUnavailable
		}
	case errors.Is(err, context.DeadlineExceeded):
		return exitUnavailable
	}
	return exitFailed
}

// cli holds the global flags and the action of each command.
type cli struct {
	url, tokenFile, output, author string
	timeout                        time.Duration
	stdout, stderr                 io.Writer

	client  *client
	actions map[string]func(context.Context) error
}

func (c *cli) setup() error {
	token := os.Getenv("HINDSIGHT_TOKEN")
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	base := strings.TrimRight(c.url, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return fmt.Errorf("--url %q: give an http:// or https:// address", c.url)
	}
	c.client = &client{base: base, token: token, http: &http.Client{Timeout: c.timeout}}
	return nil
}

// action registers what a command does.
func (c *cli) action(cmd *kingpin.CmdClause, fn func(context.Context) error) {
	if c.actions == nil {
		c.actions = map[string]func(context.Context) error{}
	}
	c.actions[cmd.FullCommand()] = fn
}
