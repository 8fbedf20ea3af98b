package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hindsight-ops/hindsight/collector"
)

// cloudEvent is a CloudEvents 1.0 structured-mode JSON envelope.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject"`
	Time        string          `json:"time"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
}

func decodeCloudEvent(raw json.RawMessage) (collector.Event, bool, error) {
	var ce cloudEvent
	if err := unmarshalObject(raw, &ce); err != nil {
		return collector.Event{}, false, err
	}
	switch {
	case ce.SpecVersion == "":
		return collector.Event{}, false, errors.New("specversion: missing (a CloudEvents envelope)")
	case ce.SpecVersion != "1.0":
		return collector.Event{}, false, fmt.Errorf("specversion: %q is not supported, expected \"1.0\"", ce.SpecVersion)
	case ce.Type == "":
		return collector.Event{}, false, errors.New("type: missing (a CloudEvents envelope)")
	case ce.Data == nil || string(bytes.TrimSpace(ce.Data)) == "null":
		if ce.DataBase64 != "" {
			return collector.Event{}, false, errors.New("data_base64: binary data is not supported; send the deploy event as JSON data")
		}
		return collector.Event{}, false, errors.New("data: missing")
	}
	if strings.HasPrefix(ce.Type, "dev.cdevents.") {
		ev, ok, err := decodeCDEvent(ce.Data, ce.Type)
		if err != nil {
			return ev, ok, prefix("data", err)
		}
		return ev, ok, nil
	}
	var d Deploy
	if err := unmarshalObject(ce.Data, &d); err != nil {
		return collector.Event{}, false, prefix("data", err)
	}
	// The envelope supplies what the data leaves out.
	if d.At == "" {
		d.At = ce.Time
	}
	if d.Service == "" {
		d.Service = ce.Subject
	}
	ev, err := d.Event()
	if err != nil {
		return collector.Event{}, false, prefix("data", err)
	}
	return ev, true, nil
}
