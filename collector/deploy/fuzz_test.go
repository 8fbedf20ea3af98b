package deploy_test

import (
	"net/http"
	"testing"

	"github.com/hindsight-ops/hindsight/collector/deploy"
)

func FuzzDecode(f *testing.F) {
	for _, s := range jsonSamples {
		b := readSample(f, s)
		f.Add(b, "")
		f.Add(b, "github")
		f.Add(append(append([]byte("["), b...), ']'), "")
	}
	f.Add([]byte(`{"id":"a","service":"s","at":"2026-11-20T13:58:40Z","status":"started"}`), "argocd")
	f.Add([]byte(`{"specversion":"1.0","type":"dev.cdevents.service.rolledback.0.2.0","data":{}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, format string) {
		for _, h := range []http.Header{nil, {"X-Github-Event": {"deployment_status"}}, {"Gotk-Component": {"x"}}} {
			evs, err := deploy.Decode(body, format, h)
			if err != nil {
				if evs != nil {
					t.Fatalf("events with an error: %v", err)
				}
				continue
			}
			for _, ev := range evs {
				if err := ev.Validate(); err != nil {
					t.Fatalf("decoded event does not validate: %v (%+v)", err, ev)
				}
				if ev.Service == "" || ev.Ref.DeployID == "" {
					t.Fatalf("decoded event without service or deploy id: %+v", ev)
				}
			}
		}
	})
}
