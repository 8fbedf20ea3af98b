package impact

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/correlate"
)

// Summary appends the impact numbers to base as people read them, such as
// "checkout degraded for 14m; error_ratio 3.1%, requests_failed 1,234".
// Metrics are listed by service then name whatever their order in the
// slice, each prefixed with its service when they come from more than one,
// and formatted by [FormatValue]. Without metrics base is returned as it
// is; with an empty base only the numbers are.
func Summary(base string, metrics []correlate.ImpactMetric) string {
	if len(metrics) == 0 {
		return base
	}
	ms := slices.Clone(metrics)
	slices.SortStableFunc(ms, func(a, b correlate.ImpactMetric) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name))
	})
	several := ms[0].Service != ms[len(ms)-1].Service
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		label := m.Name
		if several {
			label = m.Service + " " + m.Name
		}
		parts = append(parts, label+" "+FormatValue(m.Name, m.Value))
	}
	numbers := strings.Join(parts, ", ")
	if base == "" {
		return numbers
	}
	return base + "; " + numbers
}

// FormatValue formats the value of the impact metric called name:
//   - a ratio (a name ending in "_ratio", or containing "ratio" with a value
//     between 0 and 1) as a percentage with one decimal, "3.1%", and
//     "<0.1%" for a small but non-zero share, so it does not read as none;
//   - seconds (a name ending in "_seconds") as a duration, "350ms", "1.25s",
//     "47m30s";
//   - anything else that is a whole number, or at least 100 (a count, where
//     decimals from extrapolation are noise), rounded with thousands
//     separators, "1,234";
//   - other numbers with three significant digits, "0.123", "12.3".
//
// The result depends only on its arguments.
func FormatValue(name string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch {
	case strings.HasSuffix(name, "_ratio") || name == "ratio" ||
		(strings.Contains(name, "ratio") && v >= 0 && v <= 1):
		return percent(v)
	case strings.HasSuffix(name, "_seconds") && v >= 0 && v < 1e9:
		return seconds(v)
	}
	if r := math.Round(v); (v == r || math.Abs(v) >= 100) && math.Abs(r) < 1e15 {
		return groupThousands(int64(r))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func percent(v float64) string {
	p := v * 100
	if p > 0 && p < 0.05 {
		return "<0.1%"
	}
	s := strconv.FormatFloat(p, 'f', 1, 64)
	if s == "-0.0" {
		s = "0.0"
	}
	return s + "%"
}

func seconds(v float64) string {
	d := time.Duration(v * float64(time.Second))
	switch {
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return strconv.FormatFloat(v, 'g', 3, 64) + "s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	if r := d.Round(10 * time.Millisecond); r < time.Minute {
		return r.String()
	}
	// model.Duration drops zero units: "14m", not "14m0s".
	return model.Duration(d.Round(time.Second)).String()
}

// groupThousands writes n with a comma between groups of three digits.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
