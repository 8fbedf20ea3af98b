package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// The generated part of EVALUATION.md lies between these lines.
const (
	beginMarker = "<!-- BEGIN GENERATED: go run ./cmd/hindsight-eval -report EVALUATION.md -->"
	endMarker   = "<!-- END GENERATED -->"
)

func main() {
	corpus := flag.String("corpus", "cmd/hindsight-eval/testdata/corpus", "directory of the corpus (one JSONL file per family)")
	report := flag.String("report", "", "write the figures into the generated section of this file (EVALUATION.md)")
	generate := flag.Bool("generate", false, "regenerate the corpus from the generator first (review the diff like code)")
	replay := flag.String("write-replay", "", "write the guard replay scenarios (../shared/eval format) into this directory and exit")
	dense := flag.String("write-dense", "", "write one generated dense scenario to this file and exit (see -dense-*)")
	denseSeed := flag.Uint64("dense-seed", 1, "dense scenario: seed")
	denseSvcs := flag.Int("dense-services", 200, "dense scenario: services")
	denseDays := flag.Int("dense-days", 3, "dense scenario: days")
	densePerDay := flag.Int("dense-failures-per-day", 55, "dense scenario: failures a day")
	denseInst := flag.Int("dense-instances", 3, "dense scenario: most instances (alerts) per failing service")
	heldback := flag.String("write-heldback", "", "write the held-back-like set (dense days on the four public topologies, -hb-seed, -hb-days, -hb-failures-per-day) into this directory and exit")
	hbOne := flag.String("write-heldback-one", "", "write one held-back-like scenario on -hb-topology to this file and exit")
	hbTopo := flag.String("hb-topology", "gen200", "held-back-like scenario: boutique, sockshop, socialnet, trainticket or genN (N generated services)")
	hbSeed := flag.Uint64("hb-seed", 1, "held-back-like scenarios: seed (the set uses seed, seed+1, ...)")
	hbDays := flag.Int("hb-days", 1, "held-back-like scenarios: days")
	hbPerDay := flag.Int("hb-failures-per-day", 40, "held-back-like scenarios: failures drawn a day (busy services skip some)")
	checkGrade := flag.String("check-grade", "", "compare the grader's -json results in this file with -thresholds (for -set) and exit 1 on a drop")
	thresholds := flag.String("thresholds", ".ci/eval-thresholds", "recorded figures -check-grade compares against")
	set := flag.String("set", "dev", "which lines of -thresholds apply")
	flag.Parse()
	if *checkGrade != "" {
		rep, err := CheckGrade(*checkGrade, *thresholds, *set)
		fmt.Print(rep)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hindsight-eval:", err)
			os.Exit(1)
		}
		return
	}
	if *heldback != "" || *hbOne != "" {
		var err error
		if *heldback != "" {
			err = WriteHeldBack(*heldback, *hbSeed, *hbDays, *hbPerDay)
		}
		if err == nil && *hbOne != "" {
			var s *replayScenario
			if s, err = HeldBackDays(*hbTopo, *hbSeed, *hbDays, *hbPerDay); err == nil {
				err = writeScenario(*hbOne, s)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hindsight-eval:", err)
			os.Exit(1)
		}
		return
	}
	if *replay != "" || *dense != "" {
		var err error
		if *replay != "" {
			err = WriteReplay(*replay)
		}
		if err == nil && *dense != "" {
			err = writeScenario(*dense, DenseDays(*denseSeed, *denseSvcs, *denseDays, *densePerDay, *denseInst))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hindsight-eval:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*corpus, *report, *generate); err != nil {
		fmt.Fprintln(os.Stderr, "hindsight-eval:", err)
		os.Exit(1)
	}
}

func run(corpus, report string, generate bool) error {
	if generate {
		if err := WriteCorpus(corpus, Generate(GeneratorSeed)); err != nil {
			return fmt.Errorf("generate corpus: %w", err)
		}
	}
	scs, err := ReadCorpus(corpus)
	if err != nil {
		return err
	}
	r, err := Evaluate(scs)
	if err != nil {
		return err
	}
	md := r.Markdown()
	fmt.Print(md)
	for _, tg := range r.Targets() {
		status := "NOT MET"
		if tg.Met {
			status = "met"
		}
		fmt.Printf("target %s: %s (%s)\n", tg.Name, status, tg.Detail)
	}
	if report != "" {
		if err := WriteReport(report, Corpus(scs)+md); err != nil {
			return err
		}
	}
	if r.Overall.Unplaced > 0 {
		return fmt.Errorf("%d alert events made no timeline entry", r.Overall.Unplaced)
	}
	name, better := r.BetterBaseline()
	if engine := r.Overall.BCubed[MethodEngine]; engine.F1 < better.F1 {
		return fmt.Errorf("regression: the engine's B-cubed F1 %.3f is below the %s baseline's %.3f", engine.F1, name, better.F1)
	}
	return nil
}

// WriteReport replaces what lies between the markers in path with body.
func WriteReport(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: markers %q and %q not found", path, beginMarker, endMarker)
	}
	s = s[:i+len(beginMarker)] + "\n\n" + body + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
