package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hindsight-ops/hindsight/config"
)

// CheckJSONText refuses what encoding/json lets through but no sender
// means and the store should not keep: bytes that are not UTF-8 (the
// decoder would silently turn them into U+FFFD), NUL characters (raw or
// \u0000) in any key or string, and a key given twice in one object (the
// decoder would keep the last, so two readers of the body could disagree
// on what it says). body must be valid JSON, so call it after a decode
// that succeeded. The 400 it returns names the field by its JSON path
// (alerts[1].labels.severity); the keys it quotes are cut short.
func CheckJSONText(body []byte) *RequestError {
	s := textScanner{body: body}
	if err := s.scan(); err != nil {
		return &RequestError{Status: http.StatusBadRequest, Reason: ReasonBadRequest, Err: err}
	}
	return nil
}

// frame is one open object or array of the scan.
type frame struct {
	obj bool
	// keys seen in this object: a slice while short (the usual label
	// set), a map past that.
	keys    []string
	keySet  map[string]struct{}
	key     string // the current key
	haveKey bool   // the next string is a value of key, not a key
	index   int
}

type textScanner struct {
	body  []byte
	stack []frame
}

func (s *textScanner) scan() error {
	b := s.body
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			s.stack = append(s.stack, frame{obj: true})
		case '[':
			s.stack = append(s.stack, frame{})
		case '}', ']':
			if len(s.stack) > 0 {
				s.stack = s.stack[:len(s.stack)-1]
			}
		case ',':
			if n := len(s.stack); n > 0 {
				if top := &s.stack[n-1]; top.obj {
					top.haveKey = false
				} else {
					top.index++
				}
			}
		case '"':
			end, str, err := s.readString(i)
			if err != nil {
				return err
			}
			i = end
			if n := len(s.stack); n > 0 && s.stack[n-1].obj && !s.stack[n-1].haveKey {
				if err := s.addKey(&s.stack[n-1], str); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readString reads the string starting at the quote at b[start] and
// returns the index of its closing quote and its value. It checks the
// value for NUL and invalid UTF-8 on the way.
func (s *textScanner) readString(start int) (int, string, error) {
	b := s.body
	escaped := false
	for i := start + 1; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			raw := b[start : i+1]
			var v string
			if escaped {
				if json.Unmarshal(raw, &v) != nil {
					return i, "", nil // cannot happen on valid JSON
				}
			} else {
				v = string(raw[1 : len(raw)-1])
			}
			return i, v, nil
		case c == '\\':
			escaped = true
			if i+5 < len(b) && b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
				return i, "", fmt.Errorf("%s: contains a NUL character (\\u0000)", s.where())
			}
			i++ // skip the escaped character; \uXXXX's digits are plain
		case c == 0:
			return i, "", fmt.Errorf("%s: contains a NUL byte", s.where())
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, "", fmt.Errorf("%s: is not valid UTF-8 (byte %d of the body)", s.where(), i)
			}
			i += size - 1
		}
	}
	return len(b), "", nil
}

// where is the JSON path of the string being read: the key itself when
// the scan expects a key, else the value's place.
func (s *textScanner) where() string {
	n := len(s.stack)
	if n > 0 && s.stack[n-1].obj && !s.stack[n-1].haveKey {
		if p := s.path(n); p != "" {
			return p + " (a key)"
		}
		return "a key"
	}
	if p := s.path(n); p != "" {
		return p
	}
	return "(body)"
}

// path renders the first n frames as a JSON path.
func (s *textScanner) path(n int) string {
	var b strings.Builder
	for _, f := range s.stack[:n] {
		if f.obj {
			if f.haveKey {
				b.WriteString(PathKey(b.Len() == 0, f.key))
			}
		} else {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	return b.String()
}

// smallObject is how many keys are compared one by one before a map is
// worth its allocation.
const smallObject = 16

func (s *textScanner) addKey(f *frame, key string) error {
	dup := false
	if f.keySet != nil {
		_, dup = f.keySet[key]
		f.keySet[key] = struct{}{}
	} else {
		dup = slices.Contains(f.keys, key)
		f.keys = append(f.keys, key)
		if len(f.keys) > smallObject {
			f.keySet = make(map[string]struct{}, 2*len(f.keys))
			for _, k := range f.keys {
				f.keySet[k] = struct{}{}
			}
			f.keys = nil
		}
	}
	if dup {
		p := s.path(len(s.stack) - 1)
		if p == "" {
			p = "(body)"
		}
		return fmt.Errorf("%s: the key %s appears twice in one object", p, Quote(key))
	}
	f.key, f.haveKey = key, true
	return nil
}

// maxQuoted is how much of a sender's key or value an error quotes.
const maxQuoted = 40

// Quote quotes s for an error message, cut to a few dozen bytes, so that
// a hostile key cannot make the answer or the log line huge.
func Quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// PathKey renders one key of a JSON path: .name, or ["odd key"] when the
// key is not a plain name (first: no leading dot).
func PathKey(first bool, key string) string {
	plain := key != "" && len(key) <= maxQuoted
	for _, c := range key {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return "[" + Quote(key) + "]"
	case first:
		return key
	}
	return "." + key
}

// OverLimit is the 413 for input past one of the api.max_* limits: msg
// names the field and the amount, key the limit.
func OverLimit(path, key string, limit int64, format string, a ...any) *RequestError {
	if path == "" {
		path = "(body)"
	}
	return &RequestError{Status: http.StatusRequestEntityTooLarge, Reason: ReasonTooLarge,
		Err: fmt.Errorf("%s: %s, over the limit of %d (api.%s)", path, fmt.Sprintf(format, a...), limit, key)}
}

// CheckCount refuses a notification of n items (alerts, deploy events)
// past api.max_alerts_per_notification; what names them ("alerts").
func CheckCount(lim config.Limits, path string, n int, what string) *RequestError {
	if n > lim.MaxAlertsPerNotification {
		return OverLimit(path, "max_alerts_per_notification", int64(lim.MaxAlertsPerNotification), "%d %s", n, what)
	}
	return nil
}

// CheckLabels refuses a label set past api.max_labels_per_alert,
// api.max_label_name_bytes or api.max_label_value_bytes. path names the
// set ("alerts[3].labels"). When several labels are at fault the first
// in name order is named, so the answer is the same on every try.
func CheckLabels(lim config.Limits, path string, labels map[string]string) *RequestError {
	if len(labels) > lim.MaxLabelsPerAlert {
		return OverLimit(path, "max_labels_per_alert", int64(lim.MaxLabelsPerAlert), "%d labels", len(labels))
	}
	return checkMap(path, labels, int64(lim.MaxLabelNameBytes), int64(lim.MaxLabelValueBytes), "max_label_value_bytes")
}

// CheckAnnotations refuses an annotation whose value is past
// api.max_annotation_bytes or whose name is past api.max_label_name_bytes.
func CheckAnnotations(lim config.Limits, path string, annotations map[string]string) *RequestError {
	return checkMap(path, annotations, int64(lim.MaxLabelNameBytes), int64(lim.MaxAnnotationBytes), "max_annotation_bytes")
}

// checkMap checks the names and values of m; valueKey is the limit key
// of the values.
func checkMap(path string, m map[string]string, maxName, maxValue int64, valueKey string) *RequestError {
	badName, badValue := "", ""
	foundName, foundValue := false, false
	for k, v := range m {
		if int64(len(k)) > maxName && (!foundName || k < badName) {
			badName, foundName = k, true
		}
		if int64(len(v)) > maxValue && (!foundValue || k < badValue) {
			badValue, foundValue = k, true
		}
	}
	switch {
	case foundName:
		return OverLimit(path, "max_label_name_bytes", maxName, "the name %s is %d bytes", Quote(badName), len(badName))
	case foundValue:
		return OverLimit(path+PathKey(path == "", badValue), valueKey, maxValue, "the value is %d bytes", len(m[badValue]))
	}
	return nil
}

// JoinPath appends a field's name to a JSON path ("" is the top).
func JoinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// CheckText refuses one text field (a note, a URL, a description) past
// api.max_annotation_bytes.
func CheckText(lim config.Limits, path, s string) *RequestError {
	if int64(len(s)) > int64(lim.MaxAnnotationBytes) {
		return OverLimit(path, "max_annotation_bytes", int64(lim.MaxAnnotationBytes), "%d bytes", len(s))
	}
	return nil
}

// CheckName refuses one short identifying field (a service, a version,
// an author) past api.max_label_value_bytes: such fields are label
// values in all but name.
func CheckName(lim config.Limits, path, s string) *RequestError {
	if int64(len(s)) > int64(lim.MaxLabelValueBytes) {
		return OverLimit(path, "max_label_value_bytes", int64(lim.MaxLabelValueBytes), "%d bytes", len(s))
	}
	return nil
}

// CheckEvent applies the limits to what an event keeps: its labels and
// annotations, its service, and the texts of its PagerDuty or deploy part
// (named as the API shows them: pagerduty.note, deploy.description).
// path names the event in the error ("" for the only one of a request).
func CheckEvent(lim config.Limits, path string, ev *Event) *RequestError {
	join := func(name string) string { return JoinPath(path, name) }
	if re := CheckLabels(lim, join("labels"), ev.Labels); re != nil {
		return re
	}
	if re := CheckAnnotations(lim, join("annotations"), ev.Annotations); re != nil {
		return re
	}
	if re := CheckName(lim, join("service"), ev.Service); re != nil {
		return re
	}
	if p := ev.PagerDuty; p != nil {
		for _, l := range pagerDutyLabels {
			if re := CheckText(lim, join("pagerduty."+l.name), *l.f(p)); re != nil {
				return re
			}
		}
		if len(p.Assignees) > lim.MaxLabelsPerAlert {
			return OverLimit(join("pagerduty.assignees"), "max_labels_per_alert", int64(lim.MaxLabelsPerAlert), "%d assignees", len(p.Assignees))
		}
		for i, a := range p.Assignees {
			if re := CheckName(lim, fmt.Sprintf("%s[%d]", join("pagerduty.assignees"), i), a); re != nil {
				return re
			}
		}
	}
	if d := ev.Deploy; d != nil {
		for _, l := range deployLabels {
			v := *l.f(d)
			var re *RequestError
			if l.name == "url" || l.name == "description" {
				re = CheckText(lim, join("deploy."+l.name), v)
			} else {
				re = CheckName(lim, join("deploy."+l.name), v)
			}
			if re != nil {
				return re
			}
		}
	}
	return nil
}

// gate bounds the requests in flight; the bound is read per request so
// that a reload changes it at once.
type gate struct {
	mu   sync.Mutex
	n    int
	wake chan struct{} // closed and replaced when a slot frees
}

// acquire takes a slot when fewer than limit are taken, waiting until
// ctx is done; it reports whether it got one.
func (g *gate) acquire(ctx context.Context, limit int) bool {
	for {
		g.mu.Lock()
		if g.n < limit {
			g.n++
			g.mu.Unlock()
			return true
		}
		if g.wake == nil {
			g.wake = make(chan struct{})
		}
		w := g.wake
		g.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return false
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	g.n--
	if g.wake != nil {
		close(g.wake)
		g.wake = nil
	}
	g.mu.Unlock()
}
