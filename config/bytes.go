package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Bytes is a size in bytes that reads and writes as operators write sizes:
// 512KiB, 1MiB, 10MB or a plain number of bytes. Binary (KiB, MiB, GiB, TiB)
// and decimal (KB, MB, GB, TB) units are both accepted, in any letter case.
type Bytes int64

var (
	bytesPattern = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)
	bytesUnits   = map[string]int64{
		"": 1, "b": 1,
		"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000, "tb": 1000 * 1000 * 1000 * 1000,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}
	// bytesFormat is tried in this order by String; the unit giving the
	// smallest number wins.
	bytesFormat = []struct {
		unit string
		size int64
	}{
		{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
		{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3},
	}
)

// ParseBytes parses a size such as 512KiB, 1MiB, 10MB or 1048576.
func ParseBytes(s string) (Bytes, error) {
	m := bytesPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 512KiB, 1MiB or 10MB", s)
	}
	unit, ok := bytesUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q; use B, KB, MB, GB, KiB, MiB or GiB", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Bytes(n * unit), nil
}

// String writes the size with the largest unit that divides it exactly, so
// that it parses back to the same value: 1048576 is 1MiB, 10000000 is 10MB
// and 1023 stays 1023.
func (b Bytes) String() string {
	if b > 0 {
		best, unit := int64(b), ""
		for _, f := range bytesFormat {
			if int64(b)%f.size == 0 && int64(b)/f.size < best {
				best, unit = int64(b)/f.size, f.unit
			}
		}
		if unit != "" {
			return strconv.FormatInt(best, 10) + unit
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalYAML writes the size as String does, so a printed configuration
// reads as it was written.
func (b Bytes) MarshalYAML() (any, error) {
	return b.String(), nil
}

// UnmarshalYAML reads a size written as a plain integer or as a number with
// a unit. It takes the yaml.v2-style signature so that it works with both
// YAML libraries that prometheus/common supports.
func (b *Bytes) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case int:
		*b = Bytes(v)
		return nil
	case int64:
		*b = Bytes(v)
		return nil
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Errorf("%d is too large", v)
		}
		*b = Bytes(v)
		return nil
	case string:
		p, err := ParseBytes(v)
		if err != nil {
			return err
		}
		*b = p
		return nil
	default:
		return fmt.Errorf("%v is not a size like 512KiB, 1MiB or 10MB", v)
	}
}
