package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hindsightctl": func() { os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

var daemonBin struct {
	once sync.Once
	path string
	err  error
}

// buildDaemon builds the real daemon once for all scripts.
func buildDaemon(t *testing.T) string {
	daemonBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "hindsightctl-test-")
		if err != nil {
			daemonBin.err = err
			return
		}
		daemonBin.path = filepath.Join(dir, "hindsight")
		out, err := exec.Command("go", "build", "-o", daemonBin.path, "../hindsight").CombinedOutput()
		if err != nil {
			daemonBin.err = fmt.Errorf("build the daemon: %v\n%s", err, out)
		}
	})
	if daemonBin.err != nil {
		t.Fatal(daemonBin.err)
	}
	return daemonBin.path
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// TestScripts runs hindsightctl end to end against the real daemon, one
// daemon per script (testdata/script/*.txtar). A script's hindsight.yml,
// if it has one, configures its daemon. Besides testscript's own
// commands, scripts have:
//
//	post PATH FILE                  POST the JSON in FILE ($VARS expanded)
//	incident VAR [SERVICE]          set VAR to the newest incident (on SERVICE)
//	entry VAR INCIDENT TEXT         set VAR to the entry whose summary has TEXT
//	status N COMMAND ARGS...        run COMMAND, expect exit code N
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the daemon")
	}
	bin := buildDaemon(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			web, err := freePort()
			if err != nil {
				return err
			}
			nats, err := freePort()
			if err != nil {
				return err
			}
			args := []string{"--web.listen-address=" + web, "--storage.path=" + filepath.Join(env.WorkDir, "data"),
				"--nats.listen-address=" + nats, "--log.level=warn"}
			if _, err := os.Stat(filepath.Join(env.WorkDir, "hindsight.yml")); err == nil {
				args = append(args, "--config.file="+filepath.Join(env.WorkDir, "hindsight.yml"))
			}
			cmd := exec.Command(bin, args...)
			var logs bytes.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				return err
			}
			env.Defer(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("daemon log:\n%s", logs.String())
				}
			})
			base := "http://" + web
			deadline := time.Now().Add(60 * time.Second)
			for {
				resp, err := http.Get(base + "/-/ready")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("the daemon was not ready within 60s:\n%s", logs.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			env.Setenv("HINDSIGHT_URL", base)
			env.Setenv("HINDSIGHT_DAEMON", bin)
			env.Setenv("USER", "dana")
			env.Setenv("NOW", time.Now().UTC().Format(time.RFC3339))
			for _, d := range []int{5, 10, 20, 30} {
				env.Setenv(fmt.Sprintf("AGO%dM", d), time.Now().UTC().Add(-time.Duration(d)*time.Minute).Format(time.RFC3339))
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"post":     cmdPost,
			"incident": cmdIncident,
			"entry":    cmdEntry,
			"status":   cmdStatus,
		},
	})
}

func cmdPost(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: post PATH FILE")
	}
	body := os.Expand(ts.ReadFile(args[1]), ts.Getenv)
	resp, err := http.Post(ts.Getenv("HINDSIGHT_URL")+args[0], "application/json", strings.NewReader(body))
	ts.Check(err)
	resp.Body.Close()
	if ok := resp.StatusCode/100 == 2; ok == neg {
		ts.Fatalf("POST %s: %s", args[0], resp.Status)
	}
}

func getJSON(ts *testscript.TestScript, path string, v any) {
	req, err := http.NewRequest(http.MethodGet, ts.Getenv("HINDSIGHT_URL")+path, nil)
	ts.Check(err)
	if tok := ts.Getenv("HINDSIGHT_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("GET %s: %s", path, resp.Status)
	}
	ts.Check(json.NewDecoder(resp.Body).Decode(v))
}

func cmdIncident(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: incident VAR [SERVICE]")
	}
	var page struct {
		Incidents []struct {
			ID       string   `json:"id"`
			Services []string `json:"services"`
		} `json:"incidents"`
	}
	getJSON(ts, "/api/v1/incidents", &page)
	for _, inc := range page.Incidents {
		if len(args) == 1 || strings.Contains(strings.Join(inc.Services, ","), args[1]) {
			ts.Setenv(args[0], inc.ID)
			return
		}
	}
	ts.Fatalf("no incident %v", args[1:])
}

func cmdEntry(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: entry VAR INCIDENT TEXT")
	}
	var inc struct {
		Timeline []struct{ ID, Summary string }
	}
	getJSON(ts, "/api/v1/incidents/"+args[1], &inc)
	for _, e := range inc.Timeline {
		if strings.Contains(e.Summary, args[2]) {
			ts.Setenv(args[0], e.ID)
			return
		}
	}
	ts.Fatalf("no entry of %s says %q", args[1], args[2])
}

func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N COMMAND ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
