package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/correlate/store/backup"
)

const backupConfig = `correlation:
  resolve_after: 1s
  max_lateness: 1000h
`

// backupLoad is a fixed sequence of intake requests: alerts of a few
// services firing and resolving, with deploys in between.
type backupRequest struct {
	path string
	body []byte
}

func backupLoad(t0 time.Time, n int) []backupRequest {
	var out []backupRequest
	for i := range n {
		service := fmt.Sprintf("svc-%d", i%4)
		start := t0.Add(time.Duration(i) * time.Minute)
		if i%5 == 0 {
			d, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("dep-%d", i), "service": service, "status": "succeeded",
				"at": start.Add(-30 * time.Second), "version": fmt.Sprintf("v1.%d", i)})
			out = append(out, backupRequest{"/api/v1/ingest/deploys", d})
		}
		inst := fmt.Sprintf("i-%d", i)
		out = append(out,
			backupRequest{"/api/v1/ingest/alertmanager", oneAlert("firing", service, inst, start)},
			backupRequest{"/api/v1/ingest/alertmanager", oneAlert("resolved", service, inst, start)})
	}
	return out
}

func sendAll(t *testing.T, base string, reqs []backupRequest) {
	t.Helper()
	for _, r := range reqs {
		code, b := postJSON(t, base+r.path, r.body)
		require.Equal(t, http.StatusOK, code, "POST %s: %s", r.path, b)
	}
}

// answers is everything a daemon answers about incidents and events, to
// compare byte for byte.
func answers(t *testing.T, base string) string {
	t.Helper()
	parts := []string{incidentAnswers(t, base)}
	for _, ev := range listEvents(t, base) {
		b, _ := json.Marshal(ev)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}

// eventsByPosition is the event list in log order, whatever order the
// API lists them in.
func eventsByPosition(t *testing.T, base string) []apiEvent {
	t.Helper()
	evs := listEvents(t, base)
	slices.SortFunc(evs, func(a, b apiEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return evs
}

// incidentAnswers is what a daemon answers about incidents: the list,
// each incident, its timeline and its draft.
func incidentAnswers(t *testing.T, base string) string {
	t.Helper()
	_, list := getBody(t, base+"/api/v1/incidents?limit=1000")
	var l struct{ Incidents []struct{ ID string } }
	require.NoError(t, json.Unmarshal(list, &l))
	parts := []string{string(list)}
	for _, inc := range l.Incidents {
		for _, p := range []string{"", "/timeline", "/postmortem.md"} {
			code, b := getBody(t, base+"/api/v1/incidents/"+inc.ID+p)
			require.Equal(t, http.StatusOK, code, "%s%s: %s", inc.ID, p, b)
			parts = append(parts, string(b))
		}
	}
	return strings.Join(parts, "\n")
}

// receivedAt is when a daemon received an event: what differs between
// two daemons that each received it.
var receivedAt = regexp.MustCompile(`"received_at":"[^"]*"`)

// requireSameAnswers waits (resolutions run on the wall clock) until b
// answers exactly what a does; with norm, once both are passed through it.
func requireSameAnswers(t *testing.T, a, b string, norm ...func(string) string) string {
	t.Helper()
	var wa, wb string
	deadline := time.Now().Add(20 * time.Second)
	for {
		wa, wb = answers(t, a), answers(t, b)
		for _, f := range norm {
			wa, wb = f(wa), f(wb)
		}
		if wa == wb || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if wa != wb {
		t.Fatalf("the restored daemon does not answer what the original did, byte for byte: %s", firstDifference(wa, wb))
	}
	return wa
}

// takeBackup downloads a backup as hindsightctl does and checks it is whole.
func takeBackup(t *testing.T, base, file string) backup.Header {
	t.Helper()
	resp, err := httpClient.Get(base + "/api/v1/admin/backup")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var buf bytes.Buffer
	_, err = io.Copy(&buf, resp.Body)
	require.NoError(t, err)
	h, err := backup.Verify(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))
	return h
}

func runRestore(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"restore"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// A backup of a running daemon, taken while it takes notifications, is
// consistent at one log position: restored into a fresh daemon, its event
// log is a prefix of the original's, and once the rest is sent again (as
// Alertmanager re-sends; ids make it idempotent) the two answer every
// incident, timeline, draft and event byte for byte the same. A backup of
// the quiet daemon restored answers the same at once. Restore refuses a
// directory that holds something unless told, and a backup cut short.
func TestBackupRestore(t *testing.T) {
	skipShort(t)
	a := startInProcess(t, t.TempDir(), backupConfig)
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	load := backupLoad(t0, 150)

	// A first part, and a note: people's corrections are in the backup.
	sendAll(t, a.URL, load[:60])
	var list struct{ Incidents []struct{ ID string } }
	getJSON(t, a.URL+"/api/v1/incidents", &list)
	require.NotEmpty(t, list.Incidents)
	code, b := postJSON(t, a.URL+"/api/v1/incidents/"+list.Incidents[0].ID+"/notes", []byte(`{"text":"rolled back by hand","author":"dana"}`))
	require.Equal(t, http.StatusCreated, code, "%s", b)

	// The rest, while a backup is taken.
	dir := t.TempDir()
	file := filepath.Join(dir, "under-load.backup")
	var wg sync.WaitGroup
	wg.Go(func() { sendAll(t, a.URL, load[60:]) })
	time.Sleep(50 * time.Millisecond)
	h := takeBackup(t, a.URL, file)
	wg.Wait()
	require.Equal(t, "badger", h.Log)

	// Restore refuses a directory that holds something.
	busy := filepath.Join(dir, "busy")
	require.NoError(t, os.MkdirAll(busy, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("mine"), 0o600))
	code, _, stderr := runRestore(t, "--storage.path", busy, file)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "is not empty (it holds notes.txt)")
	require.Contains(t, stderr, "--force")

	// A backup cut short is refused and leaves the directory as it was.
	whole, err := os.ReadFile(file)
	require.NoError(t, err)
	cut := filepath.Join(dir, "cut.backup")
	require.NoError(t, os.WriteFile(cut, whole[:len(whole)*2/3], 0o600))
	empty := filepath.Join(dir, "empty")
	code, _, stderr = runRestore(t, "--storage.path", empty, cut)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "not a complete Hindsight backup")
	left, _ := os.ReadDir(empty)
	require.Empty(t, left, "nothing left behind by a failed restore")

	// Restored into a fresh daemon: the log is a prefix of the original's.
	dirB := t.TempDir()
	restored := filepath.Join(dirB, "data")
	code, stdout, stderr := runRestore(t, "--storage.path", restored, file)
	require.Equal(t, 0, code, "%s", stderr)
	require.Contains(t, stdout, "the event log up to position")
	b1 := startInProcess(t, dirB, backupConfig)
	orig := listEvents(t, a.URL)
	got := listEvents(t, b1.URL)
	require.NotEmpty(t, got)
	require.Less(t, len(got), len(orig), "the backup was taken under load, before its end")
	// The list's order is the API's; compare by position.
	bySeq := map[uint64]apiEvent{}
	for _, ev := range orig {
		bySeq[ev.Seq] = ev
	}
	var upTo uint64
	for _, ev := range got {
		require.Equal(t, bySeq[ev.Seq], ev, "position %d", ev.Seq)
		upTo = max(upTo, ev.Seq)
	}
	prefix := 0
	for _, ev := range orig {
		if ev.Seq <= upTo {
			prefix++
		}
	}
	require.Equal(t, prefix, len(got), "the restored log is the original's up to one position, %d, without a gap", upTo)
	require.GreaterOrEqual(t, len(got), 61, "the first part (one event a request) and the note are in it")

	// Sent the whole load again, the restored daemon holds what the
	// original does and answers the same, but for when it received the
	// events sent again.
	sendAll(t, b1.URL, load)
	time.Sleep(1500 * time.Millisecond) // resolve_after
	same := requireSameAnswers(t, a.URL, b1.URL, func(s string) string { return receivedAt.ReplaceAllString(s, `"received_at":""`) })
	require.Contains(t, same, "rolled back by hand")

	// A backup of the quiet daemon, restored with --force over the first
	// restore (its daemon stopped), answers the same at once.
	b1.Stop()
	quiet := filepath.Join(dir, "quiet.backup")
	takeBackup(t, a.URL, quiet)
	code, _, stderr = runRestore(t, "--force", "--storage.path", restored, quiet)
	require.Equal(t, 0, code, "%s", stderr)
	b2 := startInProcess(t, dirB, backupConfig)
	require.Contains(t, requireSameAnswers(t, a.URL, b2.URL), "rolled back by hand")

	// --force does not restore under a running daemon.
	code, _, stderr = runRestore(t, "--force", "--storage.path", restored, quiet)
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "is in use")
	requireSameAnswers(t, a.URL, b2.URL) // the running daemon's storage is untouched
}

// firstDifference shows where two long answers part.
func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-300)
	return fmt.Sprintf("at byte %d:\n original: %s\n restored: %s", i, a[lo:min(len(a), i+300)], b[lo:min(len(b), i+300)])
}
