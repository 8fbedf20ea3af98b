package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	update       = flag.Bool("update", false, "regenerate the corpus in testdata/corpus from the generator")
	updateReport = flag.Bool("update-report", false, "write the evaluation's figures into EVALUATION.md")
)

const (
	corpusDir  = "testdata/corpus"
	reportFile = "../../EVALUATION.md"
)

// TestMain regenerates the corpus first when asked, so that every test of
// the run reads the new files.
func TestMain(m *testing.M) {
	flag.Parse()
	if *update {
		if err := WriteCorpus(corpusDir, Generate(GeneratorSeed)); err != nil {
			fmt.Fprintln(os.Stderr, "update corpus:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// TestCorpusUpToDate: the files are what the generator makes, so the
// figures come from a reviewed, stable corpus and a change to the
// generator shows as a diff of the files (run with -update).
func TestCorpusUpToDate(t *testing.T) {
	scs := generated()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, len(Families()), "one file per family; run go test ./cmd/hindsight-eval/ -update")
	for _, f := range Families() {
		var want bytes.Buffer
		require.NoError(t, WriteJSONL(&want, byFamily(scs, f.Name)))
		got, err := os.ReadFile(filepath.Join(corpusDir, CorpusFile(f.Name)))
		require.NoError(t, err, "run go test ./cmd/hindsight-eval/ -update")
		require.True(t, bytes.Equal(want.Bytes(), got), "%s differs from the generator's output; run go test ./cmd/hindsight-eval/ -update", CorpusFile(f.Name))
	}
}

// TestEvaluate runs the engine and both baselines over the corpus, logs
// the report and, with -update-report, writes it into EVALUATION.md. It
// asserts only what must hold: every alert event is placed, and the engine
// groups at least as well as the better baseline. The targets are
// reported, not enforced: the engine is still being improved.
func TestEvaluate(t *testing.T) {
	scs, err := ReadCorpus(corpusDir)
	require.NoError(t, err)
	r, err := Evaluate(scs)
	require.NoError(t, err)
	md := r.Markdown()
	t.Log("\n" + md)
	for _, tg := range r.Targets() {
		status := "NOT MET"
		if tg.Met {
			status = "met"
		}
		t.Logf("target %s: %s (%s)", tg.Name, status, tg.Detail)
	}

	require.Zero(t, r.Overall.Unplaced, "every alert event makes a timeline entry")
	require.Equal(t, len(scs), r.Overall.Scenarios)
	name, better := r.BetterBaseline()
	engine := r.Overall.BCubed[MethodEngine]
	require.GreaterOrEqual(t, engine.F1, better.F1,
		"regression: the engine's B-cubed F1 %.3f is below the %s baseline's %.3f", engine.F1, name, better.F1)

	if *updateReport {
		require.NoError(t, WriteReport(reportFile, Corpus(scs)+md))
	}
}

// TestEvaluateIsDeterministic: the same corpus gives the same report.
func TestEvaluateIsDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the evaluation twice")
	}
	scs, err := ReadCorpus(corpusDir)
	require.NoError(t, err)
	a, err := Evaluate(scs)
	require.NoError(t, err)
	b, err := Evaluate(scs)
	require.NoError(t, err)
	require.Equal(t, a.Markdown(), b.Markdown())
}
