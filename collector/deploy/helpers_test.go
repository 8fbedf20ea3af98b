package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
)

// Samples from /work/shared/research/samples.
const (
	sampleCanonical   = "deploy_event_canonical.json"
	sampleCloudEvents = "deploy_event_cloudevents.json"
	sampleCDEvents    = "deploy_cdevents_service_deployed.json"
	sampleGitHub      = "deploy_github_deployment_status.json"
	sampleFlux        = "deploy_flux_event.json"
	sampleSpinnaker   = "deploy_spinnaker_echo_event.json"
)

var jsonSamples = []string{sampleCanonical, sampleCloudEvents, sampleCDEvents, sampleGitHub, sampleFlux, sampleSpinnaker}

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(tb, err)
	return b
}

// recorder is a fake collector.Sink that keeps every event it is handed.
// fail, when set, decides per call whether to fail instead.
type recorder struct {
	mu     sync.Mutex
	calls  int
	events []collector.Event
	fail   func(call int) error
	notify chan collector.Event
}

func newRecorder() *recorder { return &recorder{notify: make(chan collector.Event, 100)} }

func (r *recorder) Ingest(ctx context.Context, evs ...collector.Event) error {
	r.mu.Lock()
	r.calls++
	call := r.calls
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(call); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
	for _, ev := range evs {
		r.notify <- ev
	}
	return nil
}

func (r *recorder) stored() []collector.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]collector.Event(nil), r.events...)
}

func (r *recorder) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// next waits for the next stored event.
func (r *recorder) next(tb testing.TB, within time.Duration) collector.Event {
	tb.Helper()
	select {
	case ev := <-r.notify:
		return ev
	case <-time.After(within):
		tb.Fatalf("no event stored within %s", within)
		return collector.Event{}
	}
}

// none checks that nothing is stored for d.
func (r *recorder) none(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case ev := <-r.notify:
		tb.Fatalf("unexpected event stored: %+v", ev)
	case <-time.After(d):
	}
}
