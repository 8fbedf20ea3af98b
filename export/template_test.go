package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/config"
)

func TestTemplateFile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "hindsight.yml")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		return p
	}
	load := func(tmpl string) (*RendererSet, error) {
		write("postmortem.tmpl", tmpl)
		write("hindsight.yml", "# a team's template\nexport:\n  template_file: postmortem.tmpl\n")
		cfg, err := config.LoadFile(cfgFile)
		require.NoError(t, err)
		return NewRendererSet(cfg, cfgFile)
	}

	_, err := load("# {{.Header.Title}}\n\n{{range .Timeline}}\n- {{.Nope}}\n{{end}}\n")
	require.ErrorContains(t, err, "hindsight.yml:3: export.template_file: ")
	require.ErrorContains(t, err, "postmortem.tmpl:4:", "the template's line")
	require.ErrorContains(t, err, "can't evaluate field Nope")

	_, err = load("# {{.Header.Title}\n")
	require.ErrorContains(t, err, "postmortem.tmpl:1:", "a parse error names its line")

	r, err := load("# {{md .Header.Title}} ({{.Header.IncidentID}})\n")
	require.NoError(t, err)
	md, err := r.For("markdown")
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, md.Render(&b, sampleDraft()))
	require.Equal(t, "# checkout: HighErrorRate (inc-sample)\n", b.String())

	example, err := os.ReadFile("../examples/postmortem.md.tmpl")
	require.NoError(t, err, "the repository ships an example template")
	_, err = load(string(example))
	require.NoError(t, err, "the example template works")
}
