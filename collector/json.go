package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeObject decodes body, which must be exactly one JSON object, into
// v. what names the expected payload in the error ("an Alertmanager
// webhook notification"). Errors say where the JSON went wrong in words
// the sender can act on; a 4xx carrying them ends the sender's retries.
// A body that decodes is also held to CheckJSONText (UTF-8, no NUL, no
// key twice).
func DecodeObject(body []byte, what string, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] != '{' {
		return fmt.Errorf("invalid JSON: the body must be an object (%s), got %s", what, JSONKind(trimmed))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return JSONError(body, err)
	}
	// Token, not More: More is false before a stray '}' or ']'.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the top-level object")
	}
	if re := CheckJSONText(body); re != nil {
		return re
	}
	return nil
}

// JSONError turns an encoding/json error into a message that names the
// line or the field at fault.
func JSONError(body []byte, err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		line := 1 + bytes.Count(body[:min(int(se.Offset), len(body))], []byte("\n"))
		return fmt.Errorf("invalid JSON at line %d (byte %d): %s", line, se.Offset, se.Error())
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		f := te.Field
		if f == "" {
			f = "(body)"
		}
		return fmt.Errorf("%s: expected %s, got JSON %s", f, JSONType(te.Type.String()), te.Value)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: the body is empty")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: the body ends before the value does (truncated?)")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// JSONKind names the kind of JSON value b starts with.
func JSONKind(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	if b[0] == '-' || (b[0] >= '0' && b[0] <= '9') {
		return "a number"
	}
	return "something else"
}

// JSONType names a Go type the way a sender of JSON thinks of it: a map or
// one of our structs is "an object".
func JSONType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	}
	return goType
}
