package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// dhub decodes dhub.yaml's node tree itself instead of with yaml's
// Node.Decode, for four reasons: every problem is reported at once with its
// field path in dhub's words (yaml names Go types and stops at an unknown
// key); numbers are checked, not converted (yaml truncates 1.5 into an int
// and accepts .inf); the keys a file sets are recorded, so an explicit 0 is
// never taken for a missing value; and yaml's duplicate-key check compares
// every key of a mapping with every other, which made a 10 MB file take two
// minutes. Everything here is linear in the number of nodes.

// maxAliasedValues bounds how many values a document's aliases (*name)
// may stand for. Reusing an anchor for a few node pools or chart settings
// takes hundreds; the bound stops aliases of aliases (the "billion
// laughs") from expanding a small file into millions of values.
const maxAliasedValues = 1 << 16

type decoder struct {
	errs []loadProblem
	// lines is the line of each field path (its key's, or its item's in a list).
	lines map[string]int
	// set holds the field paths the file gives a value (not null).
	set map[string]bool
	// aliasDepth is how many aliases the value being decoded is under;
	// budget is how many more values aliases may stand for.
	aliasDepth, budget int
}

type loadProblem struct {
	line int
	msg  string
}

func newDecoder() *decoder {
	return &decoder{lines: map[string]int{}, set: map[string]bool{}, budget: maxAliasedValues}
}

func (d *decoder) errf(line int, path, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, loadProblem{line, msg})
}

// spend counts a value under an alias against the budget, and reports
// once when it runs out.
func (d *decoder) spend(n *yaml.Node) bool {
	return d.aliasDepth == 0 || d.charge(n)
}

// charge counts one value against the budget.
func (d *decoder) charge(n *yaml.Node) bool {
	d.budget--
	if d.budget == -1 {
		d.errf(n.Line, "", "its aliases (*name) stand for more than %d values; write the values out", maxAliasedValues)
	}
	return d.budget >= 0
}

// follow returns the node an alias stands for, counting the alias until
// the returned function is called; other nodes are returned as they are.
func (d *decoder) follow(n *yaml.Node) (*yaml.Node, func()) {
	if n.Kind != yaml.AliasNode {
		return n, func() {}
	}
	d.aliasDepth++
	return n.Alias, func() { d.aliasDepth-- }
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	secretRefType = reflect.TypeFor[SecretRef]()
)

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// value decodes n into v, the field at path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n, done := d.follow(n)
	defer done()
	if !d.spend(n) {
		return
	}
	if isNull(n) {
		return // unset: the default applies
	}
	d.set[path] = true
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, v, path)
		return
	case t == secretRefType && n.Kind != yaml.MappingNode:
		// Never echo it: the value is most likely the secret itself.
		d.errf(n.Line, path, "%v", errLiteralSecret)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		d.value(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongKind(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			d.value(c, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.wrongKind(n, path, "a mapping")
			return
		}
		entries := d.entries(n, path)
		m := reflect.MakeMapWithSize(t, len(entries))
		for _, e := range entries {
			p := join(path, e.key.Value)
			d.lines[p] = e.key.Line
			ev := reflect.New(t.Elem()).Elem()
			d.decodeEntry(e, func() { d.value(e.val, ev, p) })
			m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(t.Key()), ev)
		}
		v.Set(m)
	case reflect.Interface:
		if x := d.anyValue(n, path); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.wrongKind(n, path, "text")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.wrongValue(n, path, "true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		switch {
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float":
			d.errf(n.Line, path, "%s is not a whole number", n.Value)
		case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int":
			d.wrongValue(n, path, "a whole number")
		case n.Decode(&i) != nil || v.OverflowInt(i):
			d.errf(n.Line, path, "%s is out of range", n.Value)
		default:
			v.SetInt(i)
		}
	case reflect.Float64:
		var f float64
		switch {
		case n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil:
			d.wrongValue(n, path, "a number")
		case math.IsInf(f, 0) || math.IsNaN(f):
			d.errf(n.Line, path, "%s is not a finite number", n.Value)
		default:
			v.SetFloat(f)
		}
	default:
		panic(fmt.Sprintf("config: no decoding for field %s of type %s", path, t))
	}
}

// duration decodes a Go duration string such as 90s or 1h30m. A bare
// number is refused: 3600 would be 3600 nanoseconds.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.wrongKind(n, path, "a duration such as 90s, 30m or 1h")
		return
	}
	td, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		d.errf(n.Line, path, "%q is not a duration: write a number with its unit, such as 90s, 30m or 1h", n.Value)
		return
	}
	v.SetInt(int64(td))
}

// structure decodes a mapping into a struct, field by yaml key.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	fs := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, path, "a mapping of "+strings.Join(fs.names[:min(3, len(fs.names))], ", ")+", ...")
		return
	}
	for _, e := range d.entries(n, path) {
		p := join(path, e.key.Value)
		idx, ok := fs.index[e.key.Value]
		if !ok {
			msg := "unknown field"
			if s := closest(e.key.Value, fs.names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errf(e.key.Line, p, "%s", msg)
			continue
		}
		d.lines[p] = e.key.Line
		d.decodeEntry(e, func() { d.value(e.val, v.FieldByIndex(idx), p) })
	}
}

// anyValue decodes a free-form value (a chart's values): mappings with text
// keys, lists and scalars as YAML types them, numbers finite.
func (d *decoder) anyValue(n *yaml.Node, path string) any {
	n, done := d.follow(n)
	defer done()
	if !d.spend(n) {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		entries := d.entries(n, path)
		m := make(map[string]any, len(entries))
		for _, e := range entries {
			p := join(path, e.key.Value)
			d.lines[p] = e.key.Line
			d.decodeEntry(e, func() { m[e.key.Value] = d.anyValue(e.val, p) })
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			s[i] = d.anyValue(c, p)
		}
		return s
	}
	var x any
	if err := n.Decode(&x); err != nil {
		d.errf(n.Line, path, "%q is not a value YAML can read", n.Value)
		return nil
	}
	if f, ok := x.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
		d.errf(n.Line, path, "%s is not a finite number (Helm values are JSON, which has no infinity or NaN)", n.Value)
		return nil
	}
	return x
}

// entry is a key and its value in a mapping; aliased when an alias merged
// it in, so that what its value holds is counted against the budget.
type entry struct {
	key, val *yaml.Node
	aliased  bool
}

// decodeEntry runs decode for e's value, counted as aliased if e is.
func (d *decoder) decodeEntry(e entry, decode func()) {
	if e.aliased {
		d.aliasDepth++
		defer func() { d.aliasDepth-- }()
	}
	decode()
}

// entries returns the key-value pairs of mapping n: its own, then those of
// the mappings it merges (<<: *anchor, or a list of them), each key once.
// As YAML's merge key says, a key of n wins over a merged one, and an
// earlier merged mapping over a later one. A key written twice, a key that
// is not text and a merge of something other than a mapping are reported.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	if d.budget < 0 {
		return nil // the aliases were refused: no more work for them
	}
	out := make([]entry, 0, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merges = append(merges, v)
			continue
		case k.Kind != yaml.ScalarNode:
			d.errf(k.Line, path, "a key must be text, not a %s", kindWord(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errf(k.Line, join(path, k.Value), "given twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{key: k, val: v})
	}
	for _, m := range merges {
		aliased := m.Kind == yaml.AliasNode
		if aliased {
			m = m.Alias
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			srcAliased := aliased || src.Kind == yaml.AliasNode
			if src.Kind == yaml.AliasNode {
				src = src.Alias
			}
			if src.Kind != yaml.MappingNode {
				d.errf(src.Line, path, "<< merges mappings (<<: *anchor, or a list of them), not a %s", kindWord(src))
				continue
			}
			for _, e := range d.entries(src, path) {
				// What an alias merges in is counted like any aliased value.
				if srcAliased && !d.charge(e.key) {
					return out
				}
				if _, ok := seen[e.key.Value]; !ok {
					seen[e.key.Value] = e.key.Line
					e.aliased = e.aliased || srcAliased
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// wrongKind reports a value of the wrong shape (a list where a mapping
// belongs, say).
func (d *decoder) wrongKind(n *yaml.Node, path, want string) {
	if n.Kind == yaml.ScalarNode {
		d.wrongValue(n, path, want)
		return
	}
	d.errf(n.Line, path, "want %s, found a %s", want, kindWord(n))
}

// wrongValue reports a value that is not what the field holds. Scalars are
// quoted back: none of these fields holds a secret.
func (d *decoder) wrongValue(n *yaml.Node, path, want string) {
	if n.Kind != yaml.ScalarNode {
		d.wrongKind(n, path, want)
		return
	}
	d.errf(n.Line, path, "%q is not %s", n.Value, want)
}

// kindWord names a node's kind as a person would.
func kindWord(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// fields is how a struct type decodes: the index of the field for each
// yaml key (inline structs flattened) and the keys in declaration order.
type fields struct {
	index map[string][]int
	names []string
}

var fieldCache sync.Map // reflect.Type -> *fields

func fieldsOf(t reflect.Type) *fields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fields)
	}
	fs := &fields{index: map[string][]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(slices.Clone(prefix), i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if strings.Contains(opts, "inline") {
				walk(f.Type, idx)
				continue
			}
			if name != "" && name != "-" {
				fs.index[name] = idx
				fs.names = append(fs.names, name)
			}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, fs)
	return fs
}
