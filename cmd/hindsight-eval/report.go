package main

import (
	"fmt"
	"strings"
)

// maxFindings bounds the findings listed per family.
const maxFindings = 6

// Markdown renders the report: the clustering table (engine beside both
// baselines), the engine's other figures, the targets and the diagnosis.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	bc := func(p PRF) string { return fmt.Sprintf("%.3f / %.3f / %.3f", p.P, p.R, p.F1) }

	w("#### Clustering of alert events (B-cubed P / R / F1, pairwise F1)\n\n")
	w("| Family | Scen. | Alert events | True / engine incidents | Engine B³ | Engine pair F1 | groupKey B³ | groupKey pair F1 | 10m window B³ | 10m window pair F1 |\n")
	w("|---|--:|--:|--:|---|--:|---|--:|---|--:|\n")
	row := func(s *Score, name string) {
		w("| %s | %d | %d | %d / %d | %s | %.3f | %s | %.3f | %s | %.3f |\n", name, s.Scenarios, s.Items, s.GoldIncidents, s.PredIncidents,
			bc(s.BCubed[MethodEngine]), s.Pairwise[MethodEngine].F1,
			bc(s.BCubed[MethodGroupKey]), s.Pairwise[MethodGroupKey].F1,
			bc(s.BCubed[MethodWindow]), s.Pairwise[MethodWindow].F1)
	}
	for _, s := range r.Families {
		row(s, s.Name)
	}
	row(r.Overall, "**all (pooled events)**")
	row(r.ButStorm, "all but storm (diagnostic)")
	o := r.Overall
	w("| all (mean of per-scenario B³ F1) | %d | | | %.3f | | %.3f | | %.3f | |\n\n",
		o.Scenarios, o.MacroF1[MethodEngine], o.MacroF1[MethodGroupKey], o.MacroF1[MethodWindow])

	w("#### Engine: deploy suspects, severity, pages, mistakes\n\n")
	w("| Family | Hit@1 | Hit@3 | False-suspect rate | Severity accuracy | … where grouped exactly | Page linked right | Fragmented true incidents | Over-merged engine incidents |\n")
	w("|---|---|---|---|---|---|---|---|---|\n")
	row2 := func(s *Score, name string) {
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, s.Hit1, s.Hit3, s.FalseSuspect, s.Severity, s.SeverityExact, s.PageLink, s.Fragmented, s.OverMerged)
	}
	for _, s := range r.Families {
		row2(s, s.Name)
	}
	row2(r.Overall, "**all**")
	w("\nEvents applied: %d (each id once); redeliveries dropped as the event log drops them: %d; alert events the engine gave no entry: %d. ",
		o.Applied, o.Redelivered, o.Unplaced)
	w("Alerts the engine still holds as firing at the end although the resolution of that same firing (fingerprint and startsAt) was applied: %d", o.Stuck)
	if len(o.StuckIn) > 0 {
		w(" (%s)", strings.Join(o.StuckIn, ", "))
	}
	w(".\n\n")

	w("#### Targets (engine, overall pooled B-cubed F1)\n\n")
	for _, t := range r.Targets() {
		met := "**not met**"
		if t.Met {
			met = "met"
		}
		w("- %s: %s (%s)\n", t.Name, met, t.Detail)
	}

	w("\n#### Diagnosis: where the engine fragments or over-merges\n\n")
	w("Each line is one kind of mistake in a family: the engine's own first reason for the misplaced events' entries (names, times and durations replaced by <name>, <time>, <d>), how the events relate to the incident they belonged with (fragment) or wrongly joined (over-merge), and one example. Counts are alert events (pages, for page lines).\n\n")
	last := ""
	n := 0
	for _, f := range r.Findings {
		if f.Family != last {
			if last != "" {
				w("\n")
			}
			w("**%s**\n\n", f.Family)
			last, n = f.Family, 0
		}
		n++
		if n > maxFindings {
			continue
		}
		scen := strings.Join(f.Scenarios, ", ")
		if len(f.Scenarios) > 4 {
			scen = strings.Join(f.Scenarios[:4], ", ") + fmt.Sprintf(" and %d more", len(f.Scenarios)-4)
		}
		w("- %s, %d events in %d scenario(s) (%s): `%s` [%s]\n", f.Kind, f.Items, len(f.Scenarios), scen, f.Reason, f.Relation)
		w("  - e.g. %s: %q: `%s`; %s\n", f.ExampleScenario, f.ExampleEvent, f.ExampleReason, f.ExampleRelation)
	}
	if len(r.Findings) == 0 {
		w("None: every alert event is with its true incident.\n")
	}
	return b.String()
}

// Corpus renders what the corpus holds, per family.
func Corpus(scs []*Scenario) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("#### Corpus (seed %d)\n\n", GeneratorSeed)
	w("| Family | §8.3 items | Scenarios | Deliveries | Alert events | Pages | Deploys | True incidents (background) | What the scenarios hold |\n")
	w("|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	var tot [7]int
	for _, f := range Families() {
		var n [7]int
		for _, sc := range byFamily(scs, f.Name) {
			n[0]++
			n[1] += len(sc.Events)
			seen := map[string]bool{}
			for _, le := range sc.Events {
				ev := &le.Event
				if seen[ev.ID] {
					continue
				}
				seen[ev.ID] = true
				switch {
				case isAlert(ev):
					n[2]++
				case isPageTrigger(ev):
					n[3]++
				case ev.Source == "deploy" && !seen["deploy:"+ev.Ref.DeployID]:
					seen["deploy:"+ev.Ref.DeployID] = true
					n[4]++
				}
			}
			for _, ti := range sc.Incidents {
				n[5]++
				if strings.HasPrefix(ti.Notes, "background") {
					n[6]++
				}
			}
		}
		for i := range n {
			tot[i] += n[i]
		}
		w("| %s | %s | %d | %d | %d | %d | %d | %d (%d) | %s |\n", f.Name, f.Catalogue, n[0], n[1], n[2], n[3], n[4], n[5], n[6], f.About)
	}
	w("| **all** | | %d | %d | %d | %d | %d | %d (%d) | |\n\n", tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], tot[6])
	return b.String()
}
