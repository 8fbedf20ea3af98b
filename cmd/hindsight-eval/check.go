package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// gradeSummary is the part of the independent grader's -json output
// (../shared/eval, "summary") that the recorded thresholds are about.
type gradeSummary struct {
	Scenarios, Graded, Errors int
	BCubed                    float64
	CauseTop, SevExact        gradeCounts
	SevWithin1, CauseFalseTop gradeCounts
	Lost, Duplicated          int
}

type gradeCounts struct {
	Hit   int `json:"hit"`
	Total int `json:"total"`
}

func (c gradeCounts) rate() float64 {
	if c.Total == 0 {
		return 1
	}
	return float64(c.Hit) / float64(c.Total)
}

// gradeMetric reads one figure by the name the thresholds file uses.
func gradeMetric(s gradeSummary, name string) (float64, bool) {
	switch name {
	case "bcubed_f1":
		return s.BCubed, true
	case "causes_top1":
		return float64(s.CauseTop.Hit), true
	case "causes_top1_rate":
		return s.CauseTop.rate(), true
	case "false_top_causes":
		return float64(s.CauseFalseTop.Hit), true
	case "severity_exact":
		return s.SevExact.rate(), true
	case "severity_within_one":
		return s.SevWithin1.rate(), true
	case "lost":
		return float64(s.Lost), true
	case "duplicated":
		return float64(s.Duplicated), true
	case "errors":
		return float64(s.Errors), true
	case "ungraded":
		return float64(s.Scenarios - s.Graded), true
	}
	return 0, false
}

// CheckGrade compares the grader's JSON results (file) against the
// thresholds the project records (thresholds, lines "[set] metric op
// value", # comments): only lines of the given set count. It returns the
// figures, one per line, and an error naming every threshold missed.
func CheckGrade(file, thresholds, set string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	var out struct {
		Summary gradeSummary `json:"summary"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	f, err := os.Open(thresholds)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var report strings.Builder
	var missed []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 {
			return "", fmt.Errorf("%s:%d: want \"set metric op value\", got %q", thresholds, n, line)
		}
		if fields[0] != set {
			continue
		}
		got, ok := gradeMetric(out.Summary, fields[1])
		if !ok {
			return "", fmt.Errorf("%s:%d: unknown metric %q", thresholds, n, fields[1])
		}
		want, err := strconv.ParseFloat(fields[3], 64)
		if err != nil {
			return "", fmt.Errorf("%s:%d: %q is not a number", thresholds, n, fields[3])
		}
		var pass bool
		switch fields[2] {
		case ">=":
			pass = got >= want-1e-9
		case "<=":
			pass = got <= want+1e-9
		default:
			return "", fmt.Errorf("%s:%d: operator %q is neither >= nor <=", thresholds, n, fields[2])
		}
		status := "ok"
		if !pass {
			status = "BELOW THE RECORDED FIGURE"
			missed = append(missed, fmt.Sprintf("%s %s %.3f (recorded %s %s)", set, fields[1], got, fields[2], fields[3]))
		}
		fmt.Fprintf(&report, "%s %-20s %8.3f %s %-6s %s\n", set, fields[1], got, fields[2], fields[3], status)
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if len(missed) > 0 {
		return report.String(), fmt.Errorf("evaluation dropped: %s", strings.Join(missed, "; "))
	}
	return report.String(), nil
}
