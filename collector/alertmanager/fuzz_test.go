package alertmanager_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hindsight-ops/hindsight/collector"
	"github.com/hindsight-ops/hindsight/collector/alertmanager"
	"github.com/hindsight-ops/hindsight/config"
)

func FuzzDecode(f *testing.F) {
	for _, name := range samples {
		b := readSample(f, name)
		f.Add(b)
		// Mutate compact forms: the fuzzer minimises every new input it
		// finds, and that takes the whole of a short run on large ones.
		var c bytes.Buffer
		require.NoError(f, json.Compact(&c, b))
		b = c.Bytes()
		f.Add(b)
		f.Add(b[:len(b)/2])                                      // truncated
		f.Add(append(bytes.Clone(b), '}'))                       // trailing garbage
		f.Add(bytes.Replace(b, []byte(`"4"`), []byte(`"3"`), 1)) // old version
		f.Add(bytes.ReplaceAll(b, []byte(`"fingerprint":"`), []byte(`"fingerprint":"x`)))
		f.Add(bytes.ReplaceAll(b, []byte(`"fingerprint"`), []byte(`"fingerprintX"`))) // computed fingerprints
		f.Add(bytes.ReplaceAll(b, []byte("2026-11-20T14:31:40Z"), []byte("2026-11-20T14:00:00Z")))
		f.Add(bytes.ReplaceAll(b, []byte("2026-11-20T14:02:11Z"), []byte("0001-01-01T00:00:00Z")))
		f.Add(bytes.ReplaceAll(b, []byte(`"firing"`), []byte(`"pending"`)))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"4"`, `{"version":"4"}`, `{"version":"4","alerts":[]}`,
		`{"version":"4","alerts":[null]}`, `{"version":"4","alerts":[42]}`, `{"version":"4","alerts":[{}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-20T14:02:11Z"}]}`,
		`{"version":"4","alerts":[{"status":"resolved","labels":{"a":"b"},"startsAt":"2026-11-20T14:02:11Z","endsAt":"2026-11-20T14:02:11Z"}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"0002-01-01T00:00:00+23:59"}]}`,
		`{"version":"4","alerts":[{"status":"firing","labels":{"":""},"startsAt":"9999-12-31T23:59:59.999999999Z","fingerprint":"0"}]}`,
		`{"version":"4","truncatedAlerts":-1,"alerts":[]}`,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		m, evs, err := alertmanager.Decode(body)
		if err != nil {
			require.Nil(t, m)
			require.Nil(t, evs)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, m)
		require.Equal(t, "4", m.Version)
		require.NotEmpty(t, evs)
		require.Len(t, evs, len(m.Alerts), "one event per alert")
		require.Nil(t, collector.CheckJSONText(body), "a body that decodes is clean JSON text")
		for i, ev := range evs {
			require.NoError(t, ev.Validate(), "event %d", i)
			require.Nil(t, collector.CheckEvent(config.DefaultLimits(), "", &ev), "a decoded event is within the limits")
			require.Equal(t, collector.SourceAlertmanager, ev.Source)
			require.False(t, ev.At.IsZero())
			require.True(t, strings.HasPrefix(ev.ID, "ev-"))
			require.Contains(t, []string{collector.KindAlertFiring, collector.KindAlertResolved}, ev.Kind)
			require.NotEmpty(t, ev.Labels)
			require.NotEmpty(t, ev.Ref.Fingerprint)
			require.NotNil(t, ev.Ref.StartsAt)
			require.False(t, ev.Ref.StartsAt.IsZero())
			require.NotNil(t, ev.Alert)
			if ev.Kind == collector.KindAlertResolved {
				require.False(t, ev.At.Before(*ev.Ref.StartsAt), "resolved before it started")
			} else {
				require.True(t, ev.At.Equal(*ev.Ref.StartsAt))
			}
		}

		_, again, err := alertmanager.Decode(body)
		require.NoError(t, err, "the same input decodes the same way")
		require.Equal(t, ids(evs), ids(again))
	})
}
