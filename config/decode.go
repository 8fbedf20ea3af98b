package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The decoder lays a YAML document over a value that already holds the
// defaults. It walks the yaml.Node tree against the Go type by reflection
// instead of calling yaml.Decoder, so that every error knows the key path and
// line it belongs to (see doc.go for why yaml.v3 alone cannot do that).

const (
	// maxNodes bounds the nodes visited, aliases included, so that a
	// "billion laughs" document fails quickly instead of exhausting memory.
	maxNodes = 1 << 17
	// maxErrors bounds the problems reported for one document; past it the
	// file is likely not a Hindsight configuration at all.
	maxErrors = 20
	// maxLocateTries bounds the prefixes re-parsed to find the line of a
	// syntax error (see locateSyntaxError).
	maxLocateTries = 200
)

var (
	durationType = reflect.TypeFor[model.Duration]()
	bytesType    = reflect.TypeFor[Bytes]()
	stringType   = reflect.TypeFor[string]()

	nodeUnmarshalerType  = reflect.TypeFor[yaml.Unmarshaler]()
	funcUnmarshalerType  = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	textUnmarshalerType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	defaulterType        = reflect.TypeFor[interface{ setDefaults() }]()
	yamlLinePrefix       = regexp.MustCompile(`^line (\d+): `)
	yamlUnmarshalErrHead = "yaml: unmarshal errors:\n"
)

type decoder struct {
	lines  map[string]int // key path -> line it is set on
	errs   []*Error
	budget int // nodes left to visit
	// foreign counts the enclosing values decoded by their own UnmarshalYAML
	// (prometheus/common types). The walk over them only checks, so it uses
	// yaml.v3's rules rather than this package's conveniences.
	foreign int
	// expanding holds the aliases and merge sources being followed, to
	// refuse an anchor that contains itself.
	expanding map[*yaml.Node]bool
}

func newDecoder() *decoder {
	return &decoder{
		lines:     map[string]int{},
		budget:    maxNodes,
		expanding: map[*yaml.Node]bool{},
	}
}

// full reports whether enough problems were found to stop looking.
func (d *decoder) full() bool {
	return len(d.errs) >= maxErrors || d.budget <= 0
}

func (d *decoder) fail(line int, format string, args ...any) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, &Error{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// result returns the problems found as an error, each marked with file.
func (d *decoder) result(file string) error {
	errs := slices.Clone(d.errs)
	// Decode problems come in document order already; validation problems
	// come in schema order, so sort by line and put those without one last.
	slices.SortStableFunc(errs, func(a, b *Error) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		default:
			return a.Line - b.Line
		}
	})
	for _, e := range errs {
		e.File = file
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return Errors(errs)
}

// lineOf returns the line of a key path, or of its closest ancestor that has
// one, or 0.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// decodeDocument parses data and decodes its single document into c.
func (d *decoder) decodeDocument(data []byte, c *Config) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(data, err)
		}
		return
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(data, err)
		return
	case !isNull(documentRoot(&extra)):
		d.fail(extra.Line, "a configuration file holds one YAML document; a second one starts here")
		return
	}
	root := documentRoot(&doc)
	if root == nil || isNull(root) {
		return
	}
	if d.resolve(root).Kind != yaml.MappingNode {
		d.fail(root.Line, "the configuration must be a mapping of keys, got %s", describe(d.resolve(root)))
		return
	}
	d.decode(root, reflect.ValueOf(c).Elem(), "")
	if d.budget <= 0 {
		d.errs = append(d.errs, &Error{Msg: "the document is too large or uses too many aliases"})
	}
}

func documentRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

// syntaxError records a YAML syntax error. yaml.v3 reports errors on the
// first line without a line number, and parser errors at the 0-based line of
// the enclosing construct, so the line is found again by re-parsing.
func (d *decoder) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLinePrefix.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	if l := locateSyntaxError(data, line); l > 0 {
		line = l
	}
	if line > 0 {
		lines := strings.Split(string(data), "\n")
		if line <= len(lines) && strings.Contains(leadingSpace(lines[line-1]), "\t") && !strings.Contains(msg, "tab") {
			msg += " (YAML is indented with spaces, not tabs)"
		}
	}
	d.fail(line, "invalid YAML: %s", msg)
}

// locateSyntaxError finds the line where data stops being YAML: the line
// after the longest prefix of whole lines that still parses. yaml.v3's own
// line (hint) is close, and the search starts there: forward to the first
// prefix that fails, then back over earlier prefixes that fail too (an
// unclosed bracket, say). The search is bounded; it returns 0 when it gives
// up.
func locateSyntaxError(data []byte, hint int) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	prefixFails := func(k int) bool { return !parses(bytes.Join(lines[:k], nil)) }
	tries := 0
	k := max(hint-1, 1)
	for ; k <= len(lines) && !prefixFails(k); k++ {
		if tries++; tries > maxLocateTries {
			return 0
		}
	}
	for ; k > 1 && k <= len(lines) && prefixFails(k-1); k-- {
		if tries++; tries > maxLocateTries {
			return 0
		}
	}
	if k > len(lines) {
		return 0
	}
	return k
}

func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

func leadingSpace(s string) string {
	return s[:len(s)-len(strings.TrimLeft(s, " \t"))]
}

// resolve follows aliases and charges the visit to the budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	d.budget--
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// section names a mapping in messages.
func section(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// decode lays node n over v, whose key path is path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.full() {
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.expanding[n] {
			d.fail(n.Line, "%s: alias *%s refers to a value that contains it", path, n.Value)
			return
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
	}
	n = d.resolve(n)
	if isNull(n) {
		return // an empty value keeps the default
	}
	t := v.Type()
	if hasUnmarshaler(t) {
		d.custom(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Interface:
		d.leaf(n, v, path)
	default:
		if n.Kind != yaml.ScalarNode {
			d.mismatch(n, t, path)
			return
		}
		d.leaf(n, v, path)
	}
}

// leaf decodes a node with yaml.v3 itself, for scalars and untyped values.
// Integers must be written as integers: yaml.v3 would truncate 1.5 to 1.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.ShortTag() != "!!int" {
			d.mismatch(n, v.Type(), path)
			return
		}
	case reflect.Float32, reflect.Float64:
		if tag := n.ShortTag(); tag != "!!int" && tag != "!!float" {
			d.mismatch(n, v.Type(), path)
			return
		}
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		if v.Kind() == reflect.Interface { // any value fits: the problem is elsewhere
			msg := cleanYAMLError(err)
			if secretPath(path) {
				msg = quotedValue.ReplaceAllString(msg, "(value not shown)")
			}
			d.fail(n.Line, "%s: %s", path, msg)
			return
		}
		d.mismatch(n, v.Type(), path)
	}
}

func (d *decoder) mismatch(n *yaml.Node, t reflect.Type, path string) {
	got := describe(n)
	if n.Kind == yaml.ScalarNode && secretPath(path) {
		got = "a value (not shown: it may be a secret)"
	}
	d.fail(n.Line, "%s: expected %s, got %s", path, expected(t), got)
}

// secretSections hold secrets in everything under them; secretWords mark
// a key whose own value may be one (tokens, passwords, TLS keys).
var (
	secretSections = []string{"tokens", "ingest_tokens", "webhook_secrets", "basic_auth", "authorization", "tls_config"}
	secretWords    = []string{"token", "secret", "password", "credential", "key"}
)

// secretPath reports whether the value at path may be a secret, so that
// an error about it must not quote it: errors reach logs, the answer of
// POST /-/reload and --config.check.
func secretPath(path string) bool {
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		seg, _, _ = strings.Cut(seg, "[")
		if slices.Contains(secretSections, seg) {
			return true
		}
		if i == len(segs)-1 && slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(seg, w) }) {
			return true
		}
	}
	return false
}

// keyLike matches what a mistyped key looks like, as opposed to a value
// written where a key was expected.
var keyLike = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

// quotedValue is how yaml.v3 quotes a value in its errors.
var quotedValue = regexp.MustCompile("`[^`]*`")

// custom decodes a value whose type has its own UnmarshalYAML.
func (d *decoder) custom(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if isScalarKind(t.Kind()) && n.Kind != yaml.ScalarNode {
		d.mismatch(n, t, path)
		return
	}
	if t == durationType || t == bytesType {
		// Their own errors lack the key; ours name it and show the form.
		scratch := reflect.New(t)
		if err := n.Decode(scratch.Interface()); err != nil {
			d.mismatch(n, t, path)
			return
		}
		v.Set(scratch.Elem())
		return
	}
	if n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct {
		// yaml.v3 would decode this without KnownFields (see doc.go), so
		// first walk it ourselves into a throwaway value, for unknown keys
		// and bad values with their lines.
		before := len(d.errs)
		d.foreign++
		d.structure(n, reflect.New(t).Elem(), path)
		d.foreign--
		if len(d.errs) > before || d.full() {
			return
		}
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		line, msg := n.Line, cleanYAMLError(err)
		if m := yamlLinePrefix.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		if secretPath(path) {
			msg = quotedValue.ReplaceAllString(msg, "(value not shown)")
		}
		d.fail(line, "%s: %s", path, msg)
	}
}

func cleanYAMLError(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, yamlUnmarshalErrHead); ok {
		msg = strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
	}
	return strings.TrimPrefix(msg, "yaml: ")
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func hasUnmarshaler(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(nodeUnmarshalerType) || p.Implements(funcUnmarshalerType) || p.Implements(textUnmarshalerType)
}

type pair struct{ key, val *yaml.Node }

// pairs returns the key/value pairs of mapping n with merge keys (<<)
// expanded. Explicit keys come last so that they override merged ones.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergeSources(val, path)...)
			continue
		}
		explicit = append(explicit, pair{k, val})
	}
	if len(merged) == 0 {
		return explicit
	}
	seen := map[string]bool{}
	for _, p := range explicit {
		seen[p.key.Value] = true
	}
	var out []pair
	for _, p := range merged { // the first source that has a key wins
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	return append(out, explicit...)
}

func (d *decoder) mergeSources(n *yaml.Node, path string) []pair {
	if d.full() {
		return nil
	}
	n = d.resolve(n)
	if d.expanding[n] {
		d.fail(n.Line, "%s: << merges a mapping into itself", path)
		return nil
	}
	d.expanding[n] = true
	defer delete(d.expanding, n)
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path)
	case yaml.SequenceNode:
		var out []pair
		for _, item := range n.Content {
			if item = d.resolve(item); item.Kind != yaml.MappingNode {
				d.fail(item.Line, "%s: << must merge a mapping or a list of mappings", path)
				return nil
			}
			out = append(out, d.pairs(item, path)...)
		}
		return out
	default:
		d.fail(n.Line, "%s: << must merge a mapping or a list of mappings", path)
		return nil
	}
}

// keys checks the keys of a mapping: strings, each given once.
func (d *decoder) keys(ps []pair, path string) []pair {
	out := ps[:0:0]
	first := map[string]int{}
	for _, p := range ps {
		if p.key.Kind != yaml.ScalarNode {
			d.fail(p.key.Line, "keys %s must be strings, got %s", section(path), describe(p.key))
			continue
		}
		if l, dup := first[p.key.Value]; dup {
			d.fail(p.key.Line, "key %q %s is set twice (first at line %d)", p.key.Value, section(path), l)
			continue
		}
		first[p.key.Value] = p.key.Line
		out = append(out, p)
	}
	return out
}

// structure decodes a mapping into a struct, key by key, so that keys the
// document leaves out keep their defaults.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, v.Type(), path)
		return
	}
	info := structInfoOf(v.Type())
	for _, p := range d.keys(d.pairs(n, path), path) {
		if d.full() {
			return
		}
		name := p.key.Value
		child := joinPath(path, name)
		f, ok := info.fields[name]
		switch {
		case ok:
			d.lines[child] = p.key.Line
			d.decode(p.val, v.FieldByIndex(f), child)
		case info.inlineMap != nil:
			d.lines[child] = p.key.Line
			m := v.FieldByIndex(info.inlineMap)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			elem := d.newElem(m.Type().Elem())
			d.decode(p.val, elem, child)
			m.SetMapIndex(reflect.ValueOf(name).Convert(m.Type().Key()), elem)
		case path == "":
			d.fail(p.key.Line, "unknown top-level key %q", name)
		default:
			if secretPath(path) && !keyLike.MatchString(name) {
				// A token written without its key ("- {name: a, s3cr3t}")
				// is a key here; do not quote it.
				d.fail(p.key.Line, "unknown key in %s (not shown: it does not look like a key and may be a secret)", path)
				break
			}
			d.fail(p.key.Line, "unknown key %q in %s", name, path)
		}
	}
}

// mapping decodes a mapping into a map, replacing the default map.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.leaf(n, v, path)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, t, path)
		return
	}
	ps := d.keys(d.pairs(n, path), path)
	if len(ps) == 0 {
		v.Set(reflect.Zero(t))
		return
	}
	m := reflect.MakeMapWithSize(t, len(ps))
	for _, p := range ps {
		if d.full() {
			return
		}
		child := joinPath(path, p.key.Value)
		d.lines[child] = p.key.Line
		elem := d.newElem(t.Elem())
		d.decode(p.val, elem, child)
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), elem)
	}
	v.Set(m)
}

// sequence decodes a list into a slice, replacing the default list.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind == yaml.ScalarNode && t.Elem() == stringType && d.foreign == 0 {
		v.Set(reflect.ValueOf([]string{n.Value}).Convert(t))
		d.lines[path+"[0]"] = n.Line
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.mismatch(n, t, path)
		return
	}
	if len(n.Content) == 0 {
		v.Set(reflect.Zero(t))
		return
	}
	s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
	for i, item := range n.Content {
		if d.full() {
			return
		}
		child := fmt.Sprintf("%s[%d]", path, i)
		d.lines[child] = item.Line
		elem := d.newElem(t.Elem())
		d.decode(item, elem, child)
		s.Index(i).Set(elem)
	}
	v.Set(s)
}

// newElem returns a settable new element of a map or list, holding the
// type's defaults when it has any.
func (d *decoder) newElem(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if d.foreign == 0 && p.Type().Implements(defaulterType) {
		p.Interface().(interface{ setDefaults() }).setDefaults()
	}
	return p.Elem()
}

type structInfo struct {
	fields    map[string][]int // YAML key -> field index path
	inlineMap []int            // index path of a `,inline` map, if any
}

// structInfoOf reads the yaml tags of t the way yaml.v3 does: `-` skips a
// field, `,inline` lifts a struct's keys (or a map's entries) into the parent,
// and an untagged field is keyed by its lower-cased name.
func structInfoOf(t reflect.Type) structInfo {
	info := structInfo{fields: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(slices.Clone(prefix), i)
			if slices.Contains(strings.Split(opts, ","), "inline") {
				switch f.Type.Kind() {
				case reflect.Struct:
					walk(f.Type, index)
					continue
				case reflect.Map:
					info.inlineMap = index
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			info.fields[name] = index
		}
	}
	walk(t, nil)
	return info
}

// expected names what a value of type t looks like, for messages.
func expected(t reflect.Type) string {
	switch t {
	case durationType:
		return "a duration like 30s, 5m or 1h"
	case bytesType:
		return "a size like 512KiB, 1MiB or 10MB"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Pointer:
		return expected(t.Elem())
	default:
		return "a value"
	}
}

// describe names what the document holds, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if r := []rune(v); len(r) > 40 {
			v = string(r[:40]) + "..."
		}
		return strconv.Quote(v)
	default:
		return "an alias"
	}
}
