package impact

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
)

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		want string
	}{
		{"error_ratio", 0.031, "3.1%"},
		{"error_ratio", 0.03049, "3.0%"},
		{"error_ratio", 0, "0.0%"},
		{"error_ratio", 1, "100.0%"},
		{"error_ratio", 1.5, "150.0%"}, // _ratio is a ratio whatever its value
		{"error_ratio", 0.0001, "<0.1%"},
		{"error_ratio", -0.0001, "0.0%"},
		{"ratio", 0.25, "25.0%"},
		{"ratio_5xx", 0.5, "50.0%"},
		{"ratio_5xx", 2, "2"}, // contains "ratio" but outside [0,1]: a plain number
		{"requests_failed", 336, "336"},
		{"requests_failed", 335.99999999, "336"},
		{"requests_failed", 1234567, "1,234,567"},
		{"requests_failed", 1234.4, "1,234"},
		{"requests_failed", -1234, "-1,234"},
		{"requests_failed", 0, "0"},
		{"requests_failed", 999, "999"},
		{"requests_failed", 1000, "1,000"},
		{"error_budget_burned", 0.4237, "0.424"},
		{"error_budget_burned", 12.345, "12.3"},
		{"users", 1e20, "1e+20"},
		{"latency_p99_seconds", 0.35012, "350ms"},
		{"latency_p99_seconds", 1.2345, "1.23s"},
		{"latency_p99_seconds", 0.000123456, "123µs"},
		{"latency_p99_seconds", 2850, "47m30s"},
		{"latency_p99_seconds", 59.999, "1m"},
		{"latency_p99_seconds", 0, "0s"},
		{"value", math.NaN(), "NaN"},
		{"value", math.Inf(1), "+Inf"},
		{"error_ratio", math.Inf(-1), "-Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, FormatValue(tc.name, tc.v))
		})
	}
}

func TestSummary(t *testing.T) {
	ratio := correlate.ImpactMetric{Name: "error_ratio", Service: "checkout", Value: 0.031}
	failed := correlate.ImpactMetric{Name: "requests_failed", Service: "checkout", Value: 12345.6}
	payments := correlate.ImpactMetric{Name: "error_ratio", Service: "payments", Value: 0.004}
	for _, tc := range []struct {
		name    string
		base    string
		metrics []correlate.ImpactMetric
		want    string
	}{
		{"no metrics", "checkout degraded for 14m", nil, "checkout degraded for 14m"},
		{"one", "checkout degraded for 14m", []correlate.ImpactMetric{ratio}, "checkout degraded for 14m; error_ratio 3.1%"},
		{"two, any order", "checkout degraded for 14m", []correlate.ImpactMetric{failed, ratio}, "checkout degraded for 14m; error_ratio 3.1%, requests_failed 12,346"},
		{"several services", "checkout, payments degraded for 1h", []correlate.ImpactMetric{payments, failed, ratio},
			"checkout, payments degraded for 1h; checkout error_ratio 3.1%, checkout requests_failed 12,346, payments error_ratio 0.4%"},
		{"no base", "", []correlate.ImpactMetric{ratio}, "error_ratio 3.1%"},
		{"nothing", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]correlate.ImpactMetric(nil), tc.metrics...)
			require.Equal(t, tc.want, Summary(tc.base, tc.metrics))
			require.Equal(t, in, tc.metrics, "the input is left alone")
		})
	}
}
