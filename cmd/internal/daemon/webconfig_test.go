package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/hindsight-ops/hindsight/cmd/internal/daemon"
	"github.com/hindsight-ops/hindsight/cmd/internal/daemon/daemontest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hindsight test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestWebConfigTLSAndBasicAuth serves through a Prometheus web
// configuration file (--web.config.file): TLS with a certificate, and
// basic auth users with bcrypt hashes. Plain HTTP is refused, a request
// without the user or with a wrong password gets 401, the right one
// passes. With api.tokens too, the token is the basic-auth password and
// its role still counts.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(roToken), bcrypt.MinCost)
	require.NoError(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, []byte(`tls_server_config:
  cert_file: `+certFile+`
  key_file: `+keyFile+`
basic_auth_users:
  dashboard: `+string(hash)+`
`), 0o600))
	d := daemontest.Start(t, dir, accessConfig(t, dir), func(o *daemon.Options) { o.WebConfigFile = webConfig })
	base := "https://" + d.Addr()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(method, path, user, pass string) int {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	resp, err := http.Get("http://" + d.Addr() + "/-/healthy")
	if err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP to the TLS listener is refused")
	}
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/-/healthy", "", ""), "basic auth guards every route of the listener")
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/api/v1/incidents", "dashboard", "wrong"))
	require.Equal(t, http.StatusUnauthorized, call(http.MethodGet, "/api/v1/incidents", "ops", roToken), "not a user of the web configuration")
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/-/healthy", "dashboard", roToken))
	require.Equal(t, http.StatusOK, call(http.MethodGet, "/api/v1/incidents", "dashboard", roToken), "the user's password is the read-only token")
	require.Equal(t, http.StatusForbidden, call(http.MethodPost, "/-/reload", "dashboard", roToken), "and its role still counts")
	requireNoSecret(t, d.Log())
}

// TestWebConfigRefusedWithoutEchoingSecrets: a web configuration file
// that cannot be used stops the daemon at start, naming the file, without
// quoting the password it holds.
func TestWebConfigRefusedWithoutEchoingSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"plain password": "basic_auth_users:\n  alice: " + rwToken + "\n",
		"wrong type":     "basic_auth_users: " + rwToken + "\n",
		"unknown key":    "basic_auth_user:\n  alice: " + rwToken + "\n",
	} {
		webConfig := filepath.Join(dir, "web.yml")
		require.NoError(t, os.WriteFile(webConfig, []byte(body), 0o600))
		_, err := daemontest.TryStart(t, t.TempDir(), "", func(o *daemon.Options) { o.WebConfigFile = webConfig })
		require.Error(t, err, name)
		t.Logf("%s: %v", name, err)
		require.Contains(t, err.Error(), "--web.config.file "+webConfig, name)
		require.NotContains(t, err.Error(), rwToken[3:], name)
		require.NotContains(t, err.Error(), rwToken[:1]+"'", name)
	}
}
