package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runMain runs Main in-process and returns its exit code, stdout and
// stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// requireOneLine requires s to be exactly one non-empty line.
func requireOneLine(t *testing.T, s string) string {
	t.Helper()
	line := strings.TrimSuffix(s, "\n")
	require.NotEmpty(t, strings.TrimSpace(line), "expected one line on stderr, got nothing")
	require.NotContains(t, line, "\n", "expected exactly one line on stderr, got:\n%s", s)
	t.Logf("stderr: %s", line)
	return line
}

// TestFlagsAndConfigErrors checks the start-up contract of spec/api.md:
// bad flags, configuration and storage stop the daemon with one clear line
// on stderr and a non-zero exit. It runs in-process and in -short runs.
func TestFlagsAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	require.NoError(t, os.WriteFile(good, []byte(`correlation:
  window: 10m
  resolve_after: 1s
  group_by: [cluster]
`), 0o644))
	unknownKey := filepath.Join(dir, "unknown.yml")
	require.NoError(t, os.WriteFile(unknownKey, []byte(`correlation:
  windwo: 10m
`), 0o644))
	badValue := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(badValue, []byte(`correlation:
  window: 10m
  resolve_after: soon
`), 0o644))
	// These runs must fail before listening; should one get that far, it
	// takes a random port rather than the default one.
	listen := "--web.listen-address=127.0.0.1:0"
	lineTwo := regexp.MustCompile(`(?i)(line\s*2\b|:2\b)`)
	lineThree := regexp.MustCompile(`(?i)(line\s*3\b|:3\b)`)

	t.Run("unknown flag", func(t *testing.T) {
		code, stdout, stderr := runMain(t, "--no.such-flag=1")
		require.NotEqual(t, 0, code)
		require.Empty(t, stdout)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "no.such-flag", "the line should name the flag")
	})

	t.Run("unexpected argument", func(t *testing.T) {
		code, _, stderr := runMain(t, "serve")
		require.NotEqual(t, 0, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "serve")
	})

	t.Run("config file with an unknown key", func(t *testing.T) {
		code, _, stderr := runMain(t, "--config.file="+unknownKey, listen, "--storage.path="+filepath.Join(dir, "data-unknown"))
		require.NotEqual(t, 0, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "windwo", "the line should name the key")
		require.Regexp(t, lineTwo, line, "the line should name the line of the key (2)")
		require.NoDirExists(t, filepath.Join(dir, "data-unknown"), "nothing should be created for a refused configuration")
	})

	t.Run("config file missing", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.yml")
		code, _, stderr := runMain(t, "--config.file="+missing, listen, "--storage.path="+filepath.Join(dir, "data-missing"))
		require.NotEqual(t, 0, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "missing.yml")
	})

	t.Run("config.check good", func(t *testing.T) {
		code, stdout, stderr := runMain(t, "--config.check", good)
		require.Equal(t, 0, code, "stderr: %s", stderr)
		require.Empty(t, stderr)
		require.Contains(t, stdout, "good.yml")
	})

	t.Run("config.check bad value", func(t *testing.T) {
		code, _, stderr := runMain(t, "--config.check", badValue)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "resolve_after", "the line should name the key at fault")
		require.Contains(t, line, "soon", "the line should quote the bad value")
		require.Regexp(t, lineThree, line, "the line should name the line (3)")
	})

	t.Run("config.check unknown key", func(t *testing.T) {
		code, _, stderr := runMain(t, "--config.check", unknownKey)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "windwo")
		require.Regexp(t, lineTwo, line)
	})

	t.Run("config.check broken template", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "team.tmpl"), []byte("# {{md .Header.Title}}\n\n{{range .Timeline}}\n- {{.Whatever}}\n{{end}}\n"), 0o644))
		cfg := filepath.Join(dir, "template.yml")
		require.NoError(t, os.WriteFile(cfg, []byte("export:\n  template_file: team.tmpl\n"), 0o644))
		code, _, stderr := runMain(t, "--config.check", cfg)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "template.yml:2: export.template_file:", "the key and its line in the configuration")
		require.Contains(t, line, "team.tmpl:4:", "the line of the template")
		require.Contains(t, line, "Whatever")
	})

	t.Run("config.check sink that cannot work", func(t *testing.T) {
		file := filepath.Join(dir, "plain-file")
		require.NoError(t, os.WriteFile(file, nil, 0o644))
		cfg := filepath.Join(dir, "sink.yml")
		require.NoError(t, os.WriteFile(cfg, []byte("export:\n  sinks:\n    - type: directory\n      path: plain-file/postmortems\n"), 0o644))
		code, _, stderr := runMain(t, "--config.check", cfg)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "sink.yml:4: export.sinks[0].path:")
		require.Contains(t, line, "is not a directory")
	})

	t.Run("config.check hides secrets", func(t *testing.T) {
		const secret = "Sup3r-Secret-Token-99"
		leaky := filepath.Join(dir, "leaky.yml")
		require.NoError(t, os.WriteFile(leaky, []byte("api:\n  tokens: ["+secret+"]\n"), 0o644))
		code, stdout, stderr := runMain(t, "--config.check", leaky)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "api.tokens[0]", "the line names the key")
		require.NotContains(t, stdout+stderr, secret[:8], "and never the secret")
	})

	t.Run("web config file", func(t *testing.T) {
		const secret = "Sup3r-Secret-Password-77"
		web := filepath.Join(dir, "web.yml")
		require.NoError(t, os.WriteFile(web, []byte("basic_auth_users:\n  alice: "+secret+"\n"), 0o644))
		code, _, stderr := runMain(t, "--config.check", good, "--web.config.file", web)
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "web.yml")
		require.Contains(t, line, "bcrypt")
		require.NotContains(t, stderr, secret[1:])

		code, _, stderr = runMain(t, "--web.config.file", web, listen, "--storage.path="+filepath.Join(dir, "data-web"))
		require.Equal(t, 1, code)
		requireOneLine(t, stderr)
		require.NotContains(t, stderr, secret[1:])
		require.NoDirExists(t, filepath.Join(dir, "data-web"), "nothing is created for a refused web configuration")
	})

	t.Run("version", func(t *testing.T) {
		code, stdout, stderr := runMain(t, "--version")
		require.Equal(t, 0, code)
		require.Empty(t, stderr)
		require.Contains(t, stdout, "hindsight")
	})

	t.Run("bad log level", func(t *testing.T) {
		code, _, stderr := runMain(t, "--log.level=loud", listen, "--storage.path="+filepath.Join(dir, "data-level"))
		require.NotEqual(t, 0, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "log.level")
	})

	t.Run("storage.min-free-space not a size", func(t *testing.T) {
		code, _, stderr := runMain(t, "--storage.min-free-space=lots", listen, "--storage.path="+filepath.Join(dir, "data-size"))
		require.Equal(t, 2, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "storage.min-free-space")
		require.Contains(t, line, `"lots"`)
		require.NoDirExists(t, filepath.Join(dir, "data-size"))
	})

	t.Run("storage.min-free-space past the disk", func(t *testing.T) {
		code, _, stderr := runMain(t, "--storage.min-free-space=1000PiB", listen, "--storage.path="+filepath.Join(dir, "data-huge"))
		require.Equal(t, 1, code)
		line := requireOneLine(t, stderr)
		require.Contains(t, line, "--storage.min-free-space")
		require.Contains(t, line, "not less than the size of the filesystem")
	})

	t.Run("unusable storage path", func(t *testing.T) {
		file := filepath.Join(dir, "a-regular-file")
		require.NoError(t, os.WriteFile(file, []byte("not a directory\n"), 0o644))
		storage := filepath.Join(file, "data")
		code, _, stderr := runMain(t, "--storage.path="+storage, listen)
		require.NotEqual(t, 0, code)
		line := requireOneLine(t, stderr)
		// The path named may be the configured one or the regular file
		// in the way; both contain the file's path.
		require.Contains(t, line, file, "the line should name the path")
		require.Contains(t, strings.ToLower(line), "storage", "the line should say it is about the storage path")
	})
}
