package deploy_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/deploy"
	"github.com/hindsight-ops/hindsight/config"
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
			if len(evs) > config.DefaultMaxAlertsPerNotification {
				t.Fatalf("%d events decoded, past the limit", len(evs))
			}
			for _, ev := range evs {
				if err := ev.Validate(); err != nil {
					t.Fatalf("decoded event does not validate: %v (%+v)", err, ev)
				}
				if re := collector.CheckEvent(config.DefaultLimits(), "", &ev); re != nil {
					t.Fatalf("decoded event past the limits: %v", re)
				}
				for _, s := range []string{ev.Service, ev.Summary, ev.Ref.DeployID} {
					if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
						t.Fatalf("decoded event with a NUL or invalid UTF-8: %q", s)
					}
				}
				if ev.Service == "" || ev.Ref.DeployID == "" {
					t.Fatalf("decoded event without service or deploy id: %+v", ev)
				}
			}
		}
	})
}
