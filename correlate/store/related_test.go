package store

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate"
)

// commitIncidents writes incidents with their alerts as the projector
// would, in one projection commit.
func commitIncidents(t *testing.T, db *DB, seq uint64, incs ...*correlate.Incident) {
	t.Helper()
	ch := &correlate.Changes{
		Checkpoint: correlate.Checkpoint{Seq: seq},
		Incidents:  map[string]*correlate.Incident{},
		Alerts:     map[string]map[string]*correlate.AlertState{},
	}
	for _, inc := range incs {
		ch.Incidents[inc.ID] = inc
		ch.Alerts[inc.ID] = inc.Alerts
	}
	require.NoError(t, db.Commit(t.Context(), ch))
}

func storedIncident(id string, started time.Time, service, alert string, deploys ...string) *correlate.Incident {
	inc := &correlate.Incident{V: 1, ID: id, Title: service + ": " + alert, StartedAt: started, Services: []string{service},
		Alerts: map[string]*correlate.AlertState{id + "-fp": {Fingerprint: id + "-fp", Name: alert, Service: service, FirstStart: started}}}
	for _, d := range deploys {
		inc.Suspects = append(inc.Suspects, correlate.SuspectedCause{DeployID: d})
	}
	return inc
}

// TestSignatureIndex: the index is written in the projection commit and
// read back through Badger newest first, before a given start, bounded;
// it follows an incident whose start or suspects change, and a
// recorrelation drops it with the rest of the projection.
func TestSignatureIndex(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	highErrors := correlate.Signature{Service: "checkout", Alert: "HighErrorRate"}
	deploy := correlate.Signature{DeployID: "d-4711"}

	first := storedIncident("inc-1", t0, "checkout", "HighErrorRate", "d-4711")
	other := storedIncident("inc-2", t0.Add(time.Hour), "search", "IndexStale")
	second := storedIncident("inc-3", t0.Add(day), "checkout", "HighErrorRate")
	commitIncidents(t, db, 1, first, other)
	commitIncidents(t, db, 2, second)

	ids, err := db.IncidentsBySignature(ctx, highErrors, t0.Add(day), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-1"}, ids, "only incidents that started before")
	ids, err = db.IncidentsBySignature(ctx, highErrors, t0.Add(2*day), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-3", "inc-1"}, ids, "newest first")
	ids, err = db.IncidentsBySignature(ctx, highErrors, t0.Add(2*day), 1)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-3"}, ids, "bounded")
	ids, err = db.IncidentsBySignature(ctx, deploy, t0.Add(2*day), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-1"}, ids)

	// Through the Reader, as the API asks.
	related, err := correlate.FindRelated(ctx, db, second, correlate.RelatedLimit)
	require.NoError(t, err)
	require.Len(t, related, 1)
	require.Equal(t, "inc-1", related[0].ID)
	require.Equal(t, []string{"same alerts: HighErrorRate on checkout; 1 of the 1 alerts seen in either incident"}, related[0].Reasons)

	// The first incident turns out to have started earlier and its deploy
	// is no longer a suspect: no stale key stays behind. It survives a
	// restart.
	first.StartedAt = t0.Add(-time.Hour)
	first.Suspects = nil
	commitIncidents(t, db, 3, first)
	require.NoError(t, db.Close())
	db = open(t, dir)
	defer db.Close()
	ids, err = db.IncidentsBySignature(ctx, highErrors, t0.Add(2*day), 10)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-3", "inc-1"}, ids)
	ids, err = db.IncidentsBySignature(ctx, highErrors, t0, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"inc-1"}, ids, "indexed under its new start")
	ids, err = db.IncidentsBySignature(ctx, deploy, t0.Add(2*day), 10)
	require.NoError(t, err)
	require.Empty(t, ids)
	var keys int
	require.NoError(t, db.Badger().View(func(txn *badger.Txn) error {
		return scanPrefix(ctx, txn, []byte{pRelated, relSig}, false, func(_, _ []byte) error { keys++; return nil })
	}))
	require.Equal(t, 3, keys, "one key per incident and signature")

	require.NoError(t, db.ResetProjection(ctx))
	ids, err = db.IncidentsBySignature(ctx, highErrors, t0.Add(2*day), 10)
	require.NoError(t, err)
	require.Empty(t, ids, "recorrelation drops the index")
}
