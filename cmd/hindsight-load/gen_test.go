package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/hindsight-ops/hindsight/collector/alertmanager"
)

// TestPoolBodies checks what the benchmark relies on: every body is a
// valid notification with distinct, correct fingerprints; no alert state
// repeats, in the pool or past it; about one notification in three is a
// resolution; the same seed gives the same bodies.
func TestPoolBodies(t *testing.T) {
	p, err := newPool(genConfig{Alerts: 3, Services: 50, Seed: 1}, 4, 6000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	resolved, total := 0, 0
	var buf []byte
	for _, l := range p.lanes {
		// Two rounds: the pool, then its re-timed copies.
		for i := range 2 * len(l.bodies) {
			var b []byte
			b, buf = l.body(buf)
			m, evs, err := alertmanager.Decode(b)
			if err != nil {
				t.Fatalf("body %d: %v\n%s", i, err, b)
			}
			if len(evs) != 3 {
				t.Fatalf("body %d: %d alerts, want 3", i, len(evs))
			}
			if i < len(l.bodies) {
				total++
				if m.Status == "resolved" {
					resolved++
				}
			}
			fps := map[string]bool{}
			for _, ev := range evs {
				ls := model.LabelSet{}
				for k, v := range ev.Labels {
					ls[model.LabelName(k)] = model.LabelValue(v)
				}
				if got, want := ev.Ref.Fingerprint, ls.Fingerprint().String(); got != want {
					t.Fatalf("body %d: fingerprint %s, labels give %s", i, got, want)
				}
				if fps[ev.Ref.Fingerprint] {
					t.Fatalf("body %d: fingerprint %s twice", i, ev.Ref.Fingerprint)
				}
				fps[ev.Ref.Fingerprint] = true
				if seen[ev.ID] {
					t.Fatalf("body %d: alert state %s sent before", i, ev.ID)
				}
				seen[ev.ID] = true
			}
		}
	}
	if r := float64(resolved) / float64(total); r < 0.28 || r > 0.39 {
		t.Errorf("%.2f of notifications are resolutions, want about 1/3", r)
	}
	q, err := newPool(genConfig{Alerts: 3, Services: 50, Seed: 1}, 4, 40)
	if err != nil {
		t.Fatal(err)
	}
	for w := range q.lanes {
		for i := range 10 {
			if !bytes.Equal(q.lanes[w].bodies[i].data, p.lanes[w].bodies[i].data) {
				t.Fatalf("lane %d body %d differs between two pools of the same seed", w, i)
			}
		}
	}
}

func TestNoopHandler(t *testing.T) {
	p, err := newPool(genConfig{Alerts: 3, Services: 5, Seed: 2}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := p.lanes[0].bodies[0].data
	srv := httptest.NewServer(noopRoutes(slog.New(slog.DiscardHandler)))
	defer srv.Close()
	for _, tc := range []struct {
		ctype string
		body  []byte
		want  int
	}{
		{"application/json", first, http.StatusOK},
		{"text/plain", first, http.StatusUnsupportedMediaType},
		{"application/json", []byte(`{"version":"3"}`), http.StatusBadRequest},
	} {
		resp, err := http.Post(srv.URL+ingestPath, tc.ctype, bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %.20q: %d %s, want %d", tc.ctype, tc.body, resp.StatusCode, b, tc.want)
		}
	}
}
