package export

import (
	"cmp"
	"regexp"
	"slices"
	"strings"

	"github.com/hindsight-ops/hindsight/correlate"
)

// Numbers the alerts gave, and what could not be measured.

// figureRE finds a figure worth quoting: a percentage, or a count of
// requests, errors or users.
var figureRE = regexp.MustCompile(`(?i)\b\d+(?:[.,]\d+)?\s?(?:%|percent\b|(?:requests?|errors?|users?|customers?|orders?|payments?)\b)`)

// thresholdRE is a figure that states the alert's threshold rather than
// what was seen ("above 5%", "> 1s").
var thresholdRE = regexp.MustCompile(`(?i)(?:above|below|over|under|exceeds?|more than|less than|greater than|threshold|>|<)\s*(?:the\s+)?$`)

var (
	clauseRE = regexp.MustCompile(`[.;]\s+|\n`)
	// objectiveRE is a clause about a target, not an observation.
	objectiveRE = regexp.MustCompile(`(?i)\b(SLO|SLA|objective|target|budget)\b`)
)

// alertFigure is the first clause of an alert's description, then of its
// summary, that gives a figure seen (not a threshold), as the alert said
// it.
func alertFigure(a *correlate.AlertState) string {
	for _, text := range []string{a.Description, a.Summary} {
		for _, clause := range clauseRE.Split(oneLine(text), -1) {
			if objectiveRE.MatchString(clause) {
				continue // an SLO's target is not what users saw
			}
			for _, loc := range figureRE.FindAllStringIndex(clause, -1) {
				if !thresholdRE.MatchString(clause[:loc[0]]) {
					return strings.TrimSuffix(strings.TrimSpace(clause), ".")
				}
			}
		}
	}
	return ""
}

// figures are the quoted figures of the alerts, one per alert name and
// service, in alert order: `"12.4% of checkout requests fail"
// (HighErrorRate on checkout)`.
func (b *builder) figures() []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range b.alerts {
		key := a.Name + "\x00" + a.Service
		if seen[key] {
			continue
		}
		if f := alertFigure(a); f != "" {
			seen[key] = true
			out = append(out, "“"+f+"” ("+describe([]*correlate.AlertState{{Name: a.Name, Service: a.Service}})+")")
		}
	}
	return out
}

// alertFigureItems are the figures as Impact lists them.
func (b *builder) alertFigureItems() []Item {
	items := []Item{}
	seen := map[string]bool{}
	for _, a := range b.alerts {
		key := a.Name + "\x00" + a.Service
		f := alertFigure(a)
		if f == "" || seen[key] {
			continue
		}
		seen[key] = true
		items = append(items, fact(describe([]*correlate.AlertState{{Name: a.Name, Service: a.Service}})+": “"+f+
			"” (what the alert's annotation said when it fired; not measured by Hindsight)", safeURL(a.GeneratorURL)))
	}
	return items
}

// impactErrorRE reads an impact error as correlate/impact writes it.
var impactErrorRE = regexp.MustCompile(`^service "([^"]*)" query "([^"]*)": (.*)$`)

// unmeasured says, one line per reason, which impact queries could not
// be answered and why, without the raw error: "Not measured: Prometheus
// unreachable (error_ratio and requests_failed on checkout)."
func unmeasured(errs []string) []Item {
	type group struct {
		reason  string
		queries []string
	}
	var groups []*group
	for _, e := range errs {
		reason, what := oneLine(e), ""
		if m := impactErrorRE.FindStringSubmatch(reason); m != nil {
			reason, what = plainReason(m[3]), m[2]+" on "+m[1]
		} else {
			reason = plainReason(reason)
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.reason == reason })
		if i < 0 {
			groups = append(groups, &group{reason: reason})
			i = len(groups) - 1
		}
		if what != "" {
			groups[i].queries = append(groups[i].queries, what)
		}
	}
	var out []Item
	for _, g := range groups {
		text := "Not measured: " + g.reason
		if len(g.queries) > 0 {
			text += " (" + joinAnd(g.queries) + ")"
		}
		out = append(out, fact(text+".", ""))
	}
	return out
}

// plainReason keeps the gist of why a query failed: a Go error chain
// ("prometheus unreachable: Post \"http://...\": dial tcp ...: connection
// refused") becomes "Prometheus unreachable".
func plainReason(s string) string {
	low := strings.ToLower(s)
	switch {
	case strings.HasPrefix(low, "prometheus unreachable"), strings.Contains(low, "connection refused"),
		strings.Contains(low, "no such host"), strings.Contains(low, "dial tcp"):
		return "Prometheus unreachable"
	case strings.Contains(low, "prometheus.url is not set"):
		return "prometheus.url is not set"
	case strings.HasPrefix(low, "timed out"):
		return "the query timed out (prometheus.query_timeout)"
	}
	// Otherwise the first clause, which the impact package words for
	// people ("bad query: ...", "query returned no series; ...").
	first, _, _ := strings.Cut(s, "; ")
	return cmp.Or(strings.TrimSuffix(first, "."), s)
}
