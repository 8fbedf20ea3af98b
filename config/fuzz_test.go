package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad checks that Load never panics, and that a configuration that loads
// prints (String) as YAML that loads back to the same configuration. Files
// with secrets are left out of the second check, since they print as <secret>.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	require.NoError(f, err)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(Default().String()))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data)
		if err != nil {
			require.Nil(t, c)
			return
		}
		out := c.String()
		if strings.Contains(out, "<secret>") || strings.Contains(out, "xxxxx") {
			return // secrets (and URL passwords) do not survive printing
		}
		again, err := Load([]byte(out))
		require.NoError(t, err, "String output of a valid configuration must load:\n%s", out)
		again.hash = c.hash
		require.Equal(t, c, again, "String output must load to the same configuration:\n%s", out)
	})
}
