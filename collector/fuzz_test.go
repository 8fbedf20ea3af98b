package collector_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hindsight-ops/hindsight/collector"
)

// FuzzCheckJSONText holds the scanner to a slow reference built on
// encoding/json's tokenizer: a valid body passes exactly when it is
// UTF-8, holds no NUL in any key or string, and repeats no key in any
// object.
func FuzzCheckJSONText(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `"x"`, `{"a":1,"b":{"a":2}}`, `{"a":1,"a":2}`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`,
		`[{"k":"v"},{"k":"v"}]`, `{"\u0061":1,"a":2}`, "{\"a\":\"\xff\"}", `{"a":[1,{"b":"}"}],"c":"]"}`,
		`{"labels":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9","j":"10","k":"11","l":"12","m":"13","n":"14","o":"15","p":"16","q":"17","a":"18"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // CheckJSONText's contract: called after a decode that succeeded
		}
		got := collector.CheckJSONText(body)
		want := reference(body)
		if (got == nil) != (want == "") {
			t.Fatalf("CheckJSONText(%q) = %v, the reference says %q", body, got, want)
		}
	})
}

// reference checks body the slow way.
func reference(body []byte) string {
	if !utf8.Valid(body) {
		return "not UTF-8"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type obj struct {
		keys   map[string]bool
		object bool
		key    bool // the next string is a key
	}
	var stack []*obj
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return "invalid: " + err.Error()
		}
		var top *obj
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isValue := true
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &obj{keys: map[string]bool{}, object: true, key: true})
			case '[':
				stack = append(stack, &obj{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
				continue
			}
			if top != nil && top.object {
				top.key = false // set again when the nested value closes
			}
			continue
		case string:
			if strings.ContainsRune(v, 0) {
				return "NUL"
			}
			if top != nil && top.object && top.key {
				if top.keys[v] {
					return "duplicate"
				}
				top.keys[v] = true
				top.key = false
				isValue = false
			}
		}
		if isValue && top != nil && top.object {
			top.key = true
		}
	}
}
