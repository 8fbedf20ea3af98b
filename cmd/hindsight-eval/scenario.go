package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/config"
)

// Scenario is one labelled scenario: a service topology, the events in the
// order Hindsight received them, and the truth about them.
type Scenario struct {
	ID     string `json:"id"`
	Family string `json:"family"`
	Seed   uint64 `json:"seed"`
	Notes  string `json:"notes"`
	// Services is the topology and what is known of each service; it
	// becomes the configuration's services.
	Services map[string]ServiceSpec `json:"services"`
	// PriorityFloor is pagerduty.priority_floor for this scenario.
	PriorityFloor map[string]string `json:"priority_floor,omitempty"`
	// Incidents are the true incidents, by id.
	Incidents []TrueIncident `json:"incidents"`
	// Events in arrival (log) order; a redelivered event appears again
	// with the same id.
	Events []LabelledEvent `json:"-"`
}

// ServiceSpec is what the scenario's configuration says about a service.
type ServiceSpec struct {
	Namespace           string   `json:"namespace,omitempty"`
	CustomerFacing      bool     `json:"customer_facing,omitempty"`
	Tier                int      `json:"tier"`
	DependsOn           []string `json:"depends_on,omitempty"`
	PagerDutyServiceIDs []string `json:"pagerduty_service_ids,omitempty"`
}

// TrueIncident is the truth about one incident: what caused it, if a
// deploy did, and the severity the documented rule gives it.
type TrueIncident struct {
	ID string `json:"id"`
	// Cause is the deploy id that caused the incident, or "" when no
	// deploy did.
	Cause    string `json:"cause,omitempty"`
	Severity string `json:"severity"`
	// SeverityWhy is the rule that set Severity.
	SeverityWhy string `json:"severity_why"`
	Notes       string `json:"notes"`
}

// LabelledEvent is an event with its label: the true incident of an alert
// or page event, or the incident a deploy caused.
type LabelledEvent struct {
	Incident string
	CauseOf  string
	Event    collector.Event
}

// Config returns the configuration the scenario runs under: the defaults
// with the scenario's services and PagerDuty priority floor.
func (s *Scenario) Config() *config.Config {
	cfg := config.Default()
	cfg.Services = make(map[string]config.Service, len(s.Services))
	for name, sp := range s.Services {
		cfg.Services[name] = config.Service{
			CustomerFacing:      sp.CustomerFacing,
			Tier:                sp.Tier,
			DependsOn:           slices.Clone(sp.DependsOn),
			PagerDutyServiceIDs: slices.Clone(sp.PagerDutyServiceIDs),
		}
	}
	if len(s.PriorityFloor) > 0 {
		cfg.PagerDuty.PriorityFloor = maps.Clone(s.PriorityFloor)
	}
	return cfg
}

// End is the latest event time of the scenario.
func (s *Scenario) End() time.Time {
	var end time.Time
	for _, le := range s.Events {
		if le.Event.At.After(end) {
			end = le.Event.At
		}
	}
	return end
}

// line is one line of a corpus file: a scenario header or an event.
type line struct {
	Type string `json:"type"`
	// Header fields (type "scenario").
	*Scenario
	// Event fields (type "event").
	ScenarioID string           `json:"scenario,omitempty"`
	Incident   string           `json:"incident,omitempty"`
	CauseOf    string           `json:"cause_of,omitempty"`
	Event      *collector.Event `json:"event,omitempty"`
}

// WriteJSONL writes scenarios as JSON lines: each scenario's header, then
// its events in arrival order, each with its label.
func WriteJSONL(w io.Writer, scs []*Scenario) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, sc := range scs {
		if err := enc.Encode(line{Type: "scenario", Scenario: sc}); err != nil {
			return fmt.Errorf("encode scenario %s: %w", sc.ID, err)
		}
		for i := range sc.Events {
			le := &sc.Events[i]
			if err := enc.Encode(line{Type: "event", ScenarioID: sc.ID, Incident: le.Incident, CauseOf: le.CauseOf, Event: &le.Event}); err != nil {
				return fmt.Errorf("encode event %d of %s: %w", i, sc.ID, err)
			}
		}
	}
	return bw.Flush()
}

// ReadJSONL reads scenarios written by WriteJSONL.
func ReadJSONL(r io.Reader) ([]*Scenario, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	var out []*Scenario
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch l.Type {
		case "scenario":
			if l.Scenario == nil || l.Scenario.ID == "" {
				return nil, fmt.Errorf("line %d: scenario without id", n)
			}
			out = append(out, l.Scenario)
		case "event":
			if len(out) == 0 || out[len(out)-1].ID != l.ScenarioID {
				return nil, fmt.Errorf("line %d: event of scenario %q outside its scenario", n, l.ScenarioID)
			}
			if l.Event == nil {
				return nil, fmt.Errorf("line %d: event line without event", n)
			}
			cur := out[len(out)-1]
			cur.Events = append(cur.Events, LabelledEvent{Incident: l.Incident, CauseOf: l.CauseOf, Event: *l.Event})
		default:
			return nil, fmt.Errorf("line %d: unknown type %q", n, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", n+1, err)
	}
	return out, nil
}

// CorpusFile is the file name of a family's scenarios.
func CorpusFile(family string) string { return family + ".jsonl" }

// WriteCorpus writes one file per family into dir, replacing what is
// there.
func WriteCorpus(dir string, scs []*Scenario) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create corpus directory: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return fmt.Errorf("list corpus: %w", err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove old corpus file: %w", err)
		}
	}
	for _, fam := range familiesOf(scs) {
		var buf bytes.Buffer
		if err := WriteJSONL(&buf, byFamily(scs, fam)); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, CorpusFile(fam)), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write corpus file: %w", err)
		}
	}
	return nil
}

// ReadCorpus reads every family file in dir, families in file-name order.
func ReadCorpus(dir string) ([]*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("list corpus: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("no corpus files in " + dir + " (run the tests with -update to generate them)")
	}
	slices.Sort(files)
	var out []*Scenario
	for _, f := range files {
		scs, err := readFile(f)
		if err != nil {
			return nil, err
		}
		fam := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for _, sc := range scs {
			if sc.Family != fam {
				return nil, fmt.Errorf("%s: scenario %s is of family %q", filepath.Base(f), sc.ID, sc.Family)
			}
		}
		out = append(out, scs...)
	}
	return out, nil
}

func readFile(path string) ([]*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus file: %w", err)
	}
	defer f.Close()
	scs, err := ReadJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return scs, nil
}

// familiesOf returns the families of scs in first-appearance order.
func familiesOf(scs []*Scenario) []string {
	var fams []string
	for _, sc := range scs {
		if !slices.Contains(fams, sc.Family) {
			fams = append(fams, sc.Family)
		}
	}
	return fams
}

func byFamily(scs []*Scenario, fam string) []*Scenario {
	var out []*Scenario
	for _, sc := range scs {
		if sc.Family == fam {
			out = append(out, sc)
		}
	}
	return out
}
