package alertmanager_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
)

const (
	fpA = "d22af6f0ad867df4" // instance checkout-7d9f-abcde:8080
	fpB = "463275d6c2eb39fd" // instance checkout-7d9f-fghij:8080

	groupKey     = `{}/{severity="page"}:{alertname="HighErrorRate", service="checkout"}`
	generatorURL = "http://prometheus.example.internal:9090/graph?g0.expr=job%3Acheckout_http_5xx%3Aratio5m+%3E+0.05&g0.tab=1"
	externalURL  = "http://alertmanager.example.internal:9093"
)

var (
	startsAt = time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC)
	endsAt   = time.Date(2026, 11, 20, 14, 31, 40, 0, time.UTC)
)

func sampleLabels(instance string) map[string]string {
	return map[string]string{
		"alertname": "HighErrorRate",
		"env":       "prod",
		"instance":  instance,
		"job":       "checkout",
		"service":   "checkout",
		"severity":  "page",
	}
}

var sampleAnnotations = map[string]string{
	"description": "5xx ratio is 7.3% over the last 5m",
	"runbook_url": "https://runbooks.example.internal/checkout/high-error-rate",
	"summary":     "checkout 5xx ratio above 5%",
}

func decodeSample(t *testing.T, name string) (*alertmanager.Message, []collector.Event) {
	t.Helper()
	m, evs, err := alertmanager.Decode(readSample(t, name))
	require.NoError(t, err, name)
	require.NotNil(t, m)
	return m, evs
}

func TestDecodeSamples(t *testing.T) {
	type want struct {
		fp       string
		instance string
		status   string
	}
	cases := map[string][]want{
		sampleFiring: {
			{fpA, "checkout-7d9f-abcde:8080", "firing"},
			{fpB, "checkout-7d9f-fghij:8080", "firing"},
		},
		samplePartial: {
			{fpA, "checkout-7d9f-abcde:8080", "firing"},
			{fpB, "checkout-7d9f-fghij:8080", "resolved"},
		},
		sampleResolved: {
			{fpA, "checkout-7d9f-abcde:8080", "resolved"},
			{fpB, "checkout-7d9f-fghij:8080", "resolved"},
		},
	}
	// ID of each (fingerprint, status) seen across the samples.
	idOf := map[[2]string]string{}

	for _, name := range samples {
		t.Run(name, func(t *testing.T) {
			m, evs := decodeSample(t, name)
			require.Equal(t, "4", m.Version)
			require.Equal(t, "hindsight", m.Receiver)
			require.Equal(t, groupKey, m.GroupKey)
			require.Equal(t, externalURL, m.ExternalURL)
			require.Zero(t, m.TruncatedAlerts)
			require.Len(t, m.Alerts, 2)

			wants := cases[name]
			require.Len(t, evs, len(wants))
			for i, w := range wants {
				ev := evs[i]
				require.NoError(t, ev.Validate())
				require.True(t, strings.HasPrefix(ev.ID, "ev-"), ev.ID)
				require.Equal(t, collector.SourceAlertmanager, ev.Source)

				// Decode leaves these to the handler.
				require.True(t, ev.ReceivedAt.IsZero(), "ReceivedAt is set by the handler")
				require.Empty(t, ev.Service, "Service is set by the handler")

				require.Equal(t, sampleLabels(w.instance), ev.Labels)
				require.Equal(t, sampleAnnotations, ev.Annotations)

				require.Equal(t, w.fp, ev.Ref.Fingerprint)
				require.NotNil(t, ev.Ref.StartsAt)
				require.True(t, startsAt.Equal(*ev.Ref.StartsAt), "Ref.StartsAt %v", *ev.Ref.StartsAt)
				require.Empty(t, ev.Ref.PagerDutyIncidentID)
				require.Empty(t, ev.Ref.PagerDutyEventID)
				require.Empty(t, ev.Ref.DeployID)

				require.NotNil(t, ev.Alert)
				require.Equal(t, "HighErrorRate", ev.Alert.Name)
				require.Equal(t, w.status, ev.Alert.Status)
				require.Equal(t, "page", ev.Alert.Severity)
				require.Equal(t, groupKey, ev.Alert.GroupKey)
				require.Equal(t, generatorURL, ev.Alert.GeneratorURL)
				require.Equal(t, "hindsight", ev.Alert.Receiver)
				require.Equal(t, externalURL, ev.Alert.ExternalURL)
				require.True(t, startsAt.Equal(ev.Alert.StartsAt))

				require.Contains(t, ev.Summary, "HighErrorRate")
				require.Contains(t, ev.Summary, w.instance)

				switch w.status {
				case "firing":
					require.Equal(t, collector.KindAlertFiring, ev.Kind)
					require.True(t, startsAt.Equal(ev.At), "firing At %v, want startsAt %v", ev.At, startsAt)
					require.True(t, ev.Alert.EndsAt.IsZero(), `endsAt "0001-01-01T00:00:00Z" means not resolved`)
					require.Contains(t, ev.Summary, "firing")
				case "resolved":
					require.Equal(t, collector.KindAlertResolved, ev.Kind)
					require.True(t, endsAt.Equal(ev.At), "resolved At %v, want endsAt %v", ev.At, endsAt)
					require.True(t, endsAt.Equal(ev.Alert.EndsAt))
					require.Contains(t, ev.Summary, "resolved")
				}

				key := [2]string{w.fp, w.status}
				if prev, ok := idOf[key]; ok {
					require.Equal(t, prev, ev.ID, "same (fingerprint, startsAt, status) in two notifications must give one ID")
				} else {
					idOf[key] = ev.ID
				}
			}
		})
	}

	// Four distinct alert states: {A,B} x {firing,resolved}.
	require.Len(t, idOf, 4)
	distinct := map[string]bool{}
	for _, id := range idOf {
		distinct[id] = true
	}
	require.Len(t, distinct, 4, "IDs must differ per (fingerprint, startsAt, status): %v", idOf)
}

func TestDecodeRefStartsAtNotShared(t *testing.T) {
	_, evs := decodeSample(t, sampleFiring)
	require.NotSame(t, evs[0].Ref.StartsAt, evs[1].Ref.StartsAt)
	*evs[0].Ref.StartsAt = time.Time{}
	require.True(t, startsAt.Equal(evs[0].Alert.StartsAt))
	require.True(t, startsAt.Equal(*evs[1].Ref.StartsAt))
}

func TestIdempotentIDs(t *testing.T) {
	t.Run("redelivery", func(t *testing.T) {
		for _, name := range samples {
			_, first := decodeSample(t, name)
			for range 5 {
				_, again := decodeSample(t, name)
				require.Equal(t, ids(first), ids(again), name)
			}
		}
	})

	t.Run("re-encoded notification", func(t *testing.T) {
		// Key order, whitespace and unknown fields are not identity.
		_, want := decodeSample(t, sampleFiring)
		doc := sampleDoc(t, sampleFiring)
		doc["some_future_field"] = map[string]any{"x": 1}
		alertOf(doc, 0)["another_future_field"] = true
		_, got, err := alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.Equal(t, ids(want), ids(got))
	})

	t.Run("notification metadata is not identity", func(t *testing.T) {
		// The same alert state reaches us through another receiver, group or
		// HA peer: still one event.
		_, want := decodeSample(t, sampleFiring)
		doc := sampleDoc(t, sampleFiring)
		doc["receiver"] = "other"
		doc["groupKey"] = "{}:{}"
		doc["notification_reason"] = "repeat interval elapsed"
		doc["externalURL"] = "http://am-2:9093"
		alertOf(doc, 0)["annotations"] = map[string]any{"summary": "changed"}
		alertOf(doc, 0)["generatorURL"] = "http://elsewhere"
		_, got, err := alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.Equal(t, ids(want), ids(got))
	})

	t.Run("same instant in another notation", func(t *testing.T) {
		_, want := decodeSample(t, sampleFiring)
		for _, s := range []string{"2026-11-20T14:02:11.000Z", "2026-11-20T15:02:11+01:00", "2026-11-20T14:02:11.000000000+00:00"} {
			doc := sampleDoc(t, sampleFiring)
			alertOf(doc, 0)["startsAt"] = s
			_, got, err := alertmanager.Decode(marshal(t, doc))
			require.NoError(t, err, s)
			require.Equal(t, want[0].ID, got[0].ID, s)
			require.True(t, startsAt.Equal(got[0].At))
			require.Equal(t, time.UTC, got[0].At.Location(), "times are kept in UTC")
		}
	})

	t.Run("fingerprint case", func(t *testing.T) {
		_, want := decodeSample(t, sampleFiring)
		doc := sampleDoc(t, sampleFiring)
		alertOf(doc, 0)["fingerprint"] = strings.ToUpper(fpA)
		_, got, err := alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.Equal(t, fpA, got[0].Ref.Fingerprint)
		require.Equal(t, want[0].ID, got[0].ID)
	})

	t.Run("re-fire gets a new ID", func(t *testing.T) {
		_, first := decodeSample(t, sampleFiring)
		doc := sampleDoc(t, sampleFiring)
		refire := startsAt.Add(2 * time.Hour)
		alertOf(doc, 0)["startsAt"] = refire.Format(time.RFC3339)
		_, got, err := alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.NotEqual(t, first[0].ID, got[0].ID, "a new firing of the same alert is a new event")
		require.Equal(t, first[1].ID, got[1].ID, "the other alert did not change")
		require.Equal(t, fpA, got[0].Ref.Fingerprint)
		require.True(t, refire.Equal(*got[0].Ref.StartsAt))
		require.True(t, refire.Equal(got[0].At))

		// Sub-second precision is part of startsAt.
		alertOf(doc, 0)["startsAt"] = "2026-11-20T14:02:11.5Z"
		_, got, err = alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.NotEqual(t, first[0].ID, got[0].ID)
	})

	t.Run("missing fingerprint is computed from labels", func(t *testing.T) {
		_, want := decodeSample(t, sampleFiring)
		doc := sampleDoc(t, sampleFiring)
		delete(alertOf(doc, 0), "fingerprint")
		alertOf(doc, 1)["fingerprint"] = ""
		_, got, err := alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		require.Equal(t, fpA, got[0].Ref.Fingerprint)
		require.Equal(t, fpB, got[1].Ref.Fingerprint)
		require.Equal(t, ids(want), ids(got), "computed and given fingerprints give the same IDs")

		// Any label set: the computed fingerprint is Alertmanager's.
		labels := map[string]any{"alertname": "DiskFull", "device": "/dev/sda1", "instance": "db-1:9100", "ünïcödé": "✓"}
		alertOf(doc, 0)["labels"] = labels
		_, got, err = alertmanager.Decode(marshal(t, doc))
		require.NoError(t, err)
		ls := model.LabelSet{}
		for k, v := range labels {
			ls[model.LabelName(k)] = model.LabelValue(v.(string))
		}
		require.Equal(t, ls.Fingerprint().String(), got[0].Ref.Fingerprint)
		require.Len(t, got[0].Ref.Fingerprint, 16)
	})

	t.Run("sample fingerprints are Alertmanager's", func(t *testing.T) {
		for _, name := range samples {
			doc := sampleDoc(t, name)
			for i := range doc["alerts"].([]any) {
				a := alertOf(doc, i)
				ls := model.LabelSet{}
				for k, v := range a["labels"].(map[string]any) {
					ls[model.LabelName(k)] = model.LabelValue(v.(string))
				}
				require.Equal(t, a["fingerprint"], ls.Fingerprint().String(), "%s alerts[%d]", name, i)
			}
		}
		fa := model.LabelSet{}
		for k, v := range sampleLabels("checkout-7d9f-abcde:8080") {
			fa[model.LabelName(k)] = model.LabelValue(v)
		}
		fb := model.LabelSet{}
		for k, v := range sampleLabels("checkout-7d9f-fghij:8080") {
			fb[model.LabelName(k)] = model.LabelValue(v)
		}
		require.Equal(t, fpA, fa.Fingerprint().String())
		require.Equal(t, fpB, fb.Fingerprint().String())
	})
}

func TestDecodeSummary(t *testing.T) {
	doc := sampleDoc(t, sampleFiring)
	a := alertOf(doc, 0)
	delete(a["labels"].(map[string]any), "severity")
	delete(a["labels"].(map[string]any), "instance")
	a["annotations"] = map[string]any{}
	_, evs, err := alertmanager.Decode(marshal(t, doc))
	require.NoError(t, err)
	require.Contains(t, evs[0].Summary, "HighErrorRate")
	require.Empty(t, evs[0].Alert.Severity)
	require.NotContains(t, evs[0].Summary, "()", "no empty severity in the summary")

	// An alert without alertname still gets a readable summary and name.
	delete(a["labels"].(map[string]any), "alertname")
	_, evs, err = alertmanager.Decode(marshal(t, doc))
	require.NoError(t, err)
	require.NotEmpty(t, evs[0].Alert.Name)
	require.NotEmpty(t, evs[0].Summary)
}
