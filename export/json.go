package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// JSON renders a draft as one JSON object for tools: snake_case field
// names that are stable within a DraftVersion, times in RFC 3339 UTC,
// durations in whole seconds, unknown times and durations as null, and
// lists as [] rather than null. The zero value is ready to use.
type JSON struct{}

var _ Renderer = JSON{}

// ContentType is application/json, so HTTP clients and browsers treat
// the draft as data.
func (JSON) ContentType() string { return "application/json" }

// Render writes d as indented JSON followed by a newline.
func (JSON) Render(w io.Writer, d *Draft) error {
	if d == nil {
		return errNilDraft
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("render json: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
