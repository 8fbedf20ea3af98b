package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckGrade(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "dev.json")
	require.NoError(t, os.WriteFile(res, []byte(`{"summary": {"Scenarios": 13, "Graded": 13, "BCubed": 0.97,
		"CauseTop": {"hit": 9, "total": 10}, "SevExact": {"hit": 24, "total": 30}, "SevWithin1": {"hit": 30, "total": 30},
		"CauseFalseTop": {"hit": 0, "total": 6}, "Lost": 0}, "scenarios": []}`), 0o644))
	th := filepath.Join(dir, "thresholds")
	write := func(s string) { require.NoError(t, os.WriteFile(th, []byte(s), 0o644)) }

	write("# recorded\ndev bcubed_f1 >= 0.95\ndev causes_top1 >= 9\ndev lost <= 0\nreplay bcubed_f1 >= 0.99\n")
	rep, err := CheckGrade(res, th, "dev")
	require.NoError(t, err, "the replay line is another set's")
	require.Contains(t, rep, "dev bcubed_f1")

	write("dev bcubed_f1 >= 0.98\ndev severity_exact >= 0.80 # 0.80 exactly passes\ndev false_top_causes <= 0\n")
	_, err = CheckGrade(res, th, "dev")
	require.ErrorContains(t, err, "dev bcubed_f1 0.970 (recorded >= 0.98)")
	require.NotContains(t, err.Error(), "severity_exact")

	write("dev bcubed >= 0.9\n")
	_, err = CheckGrade(res, th, "dev")
	require.ErrorContains(t, err, `unknown metric "bcubed"`)
}
