// Package natstest starts real nats-server processes (the Debian package
// nats-server) with JetStream, alone or as a cluster, for tests that must
// see what an operator's deployment does: Raft replication, a node killed
// with SIGKILL, a restart on the same store.
package natstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Binary returns the nats-server executable. It skips the test under
// -short or when the package is missing outside CI, and fails it in CI.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts nats-server processes")
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nats-server is not installed (make test-deps)")
	}
	t.Skip("nats-server is not installed (make test-deps)")
	return ""
}

// Server is one nats-server process. Its ports and store directory stay
// the same across Kill and Start, as a pod's would.
type Server struct {
	Name        string
	Port        int
	ClusterPort int
	Dir         string

	bin  string
	conf string
	cmd  *exec.Cmd
	exit chan struct{}
}

// URL is the client URL of the server.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }

// Running reports whether the process is up.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exit:
		return false
	default:
		return true
	}
}

// Cluster is a set of nats-server processes routed to each other (a
// single server runs without a cluster block).
type Cluster struct {
	Servers []*Server
}

// Start runs n servers with JetStream and waits until JetStream answers on
// every one of them (a meta leader is elected). Every process is killed
// when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Binary(t)
	c := &Cluster{}
	root := t.TempDir()
	for i := range n {
		s := &Server{
			Name:        fmt.Sprintf("n%d", i+1),
			Port:        FreePort(t),
			ClusterPort: FreePort(t),
			Dir:         filepath.Join(root, fmt.Sprintf("n%d", i+1)),
			bin:         bin,
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		s.conf = filepath.Join(root, s.Name+".conf")
		if err := os.WriteFile(s.conf, []byte(c.config(s)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.KillAll)
	for _, s := range c.Servers {
		s.Start(t)
	}
	c.WaitJetStream(t)
	return c
}

func (c *Cluster) config(s *Server) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: 127.0.0.1:%d\n", s.Name, s.Port)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", s.Dir)
	if len(c.Servers) > 1 {
		var routes []string
		for _, o := range c.Servers {
			if o != s {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", o.ClusterPort))
			}
		}
		fmt.Fprintf(&b, "cluster {\n  name: hindsight-test\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", s.ClusterPort, strings.Join(routes, ", "))
	}
	return b.String()
}

// URLs is every server's client URL, comma-separated, as nats.Connect
// takes them.
func (c *Cluster) URLs() string {
	var u []string
	for _, s := range c.Servers {
		u = append(u, s.URL())
	}
	return strings.Join(u, ",")
}

// Start starts the process (again, after Kill) and waits until it accepts
// connections.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.Running() {
		t.Fatalf("%s is already running", s.Name)
	}
	s.cmd = exec.Command(s.bin, "-c", s.conf)
	if os.Getenv("NATSTEST_LOG") != "" {
		s.cmd.Stdout = os.Stderr
		s.cmd.Stderr = os.Stderr
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.Name, err)
	}
	s.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) {
		_ = cmd.Wait()
		close(exit)
	}(s.cmd, s.exit)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return
		}
		if !s.Running() || time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %d (set NATSTEST_LOG=1 for its log)", s.Name, s.Port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the process with SIGKILL: no shutdown, no flush, as a node
// that dies.
func (s *Server) Kill() {
	if !s.Running() {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
}

// KillAll kills every server.
func (c *Cluster) KillAll() {
	for _, s := range c.Servers {
		s.Kill()
	}
}

// WaitJetStream waits until every running server answers JetStream API
// requests, which in a cluster means a meta leader exists.
func (c *Cluster) WaitJetStream(t testing.TB) {
	t.Helper()
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		nc := Connect(t, s.URL())
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := js.AccountInfo(ctx)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("JetStream on %s does not answer: %v", s.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		nc.Close()
	}
}

// Connect connects to url (one or several, comma-separated), reconnecting
// for ever, and closes the connection when the test ends.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url,
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.Name(t.Name()),
	)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// FreePort returns a TCP port that was free a moment ago on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Embedded runs one in-process nats-server (the version this module
// builds in) with JetStream on a fresh store; with syncAlways, JetStream
// fsyncs every write before it acknowledges it (sync_interval: always),
// as the Badger log does. It is shut down when the test ends.
func Embedded(t testing.TB, syncAlways bool) *server.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a nats-server")
	}
	s, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		SyncAlways: syncAlways,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded nats-server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
