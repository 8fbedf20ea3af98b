package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
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
