package auth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
)

func TestCredential(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	require.Empty(t, Credential(r))
	r.Header.Set("Authorization", "bearer  tok-1 ")
	require.Equal(t, "tok-1", Credential(r), "the scheme is case-insensitive")
	r.SetBasicAuth("anyone", "tok-2")
	require.Equal(t, "tok-2", Credential(r), "basic auth: the password is the token")
}

// TestMatchRotatesAndHidesTokenFiles: a token file is read when used, so
// a rotated token works at once; a file that cannot be read is reported
// by token name, and the other tokens still match.
func TestMatchRotatesAndHidesTokenFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ops-token")
	require.NoError(t, os.WriteFile(file, []byte("first\n"), 0o600))
	cfg := config.Default()
	cfg.API.Tokens = []config.Token{
		{Name: "ops", Role: config.RoleReadWrite, TokenFile: file},
		{Name: "gone", Role: config.RoleReadOnly, TokenFile: filepath.Join(dir, "missing")},
	}
	cfg.API.IngestTokens = []config.Token{{Name: "am", Token: "ingest-1"}}

	id, ok, err := Match(cfg, "first")
	require.True(t, ok)
	require.Equal(t, Identity{Name: "ops", Role: config.RoleReadWrite}, id)
	require.ErrorContains(t, err, `token "gone"`)

	require.NoError(t, os.WriteFile(file, []byte("second\n"), 0o600))
	_, ok, _ = Match(cfg, "first")
	require.False(t, ok, "the old token stops working once the file changes")
	id, ok, _ = Match(cfg, "second")
	require.True(t, ok)
	require.Equal(t, "ops", id.Name)

	id, ok, _ = Match(cfg, "ingest-1")
	require.True(t, ok)
	require.Equal(t, Identity{Name: "am", Role: RoleIngest}, id)
	_, ok, _ = Match(cfg, "")
	require.False(t, ok, "no credential matches nothing, not an empty token")
}
