package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is a loaded dhub.yaml: the Hub with defaults applied, and the parsed
// document so problems can be reported at their line.
type File struct {
	// Path is the file name used in messages.
	Path string
	Hub  *Hub
	root *yaml.Node
}

// LoadFile reads, strictly decodes and defaults a dhub.yaml. It does not
// validate; call Validate on the result.
func LoadFile(path string) (*File, error) {
	return LoadFileAs(path, "")
}

// LoadFileAs is LoadFile for a target given on the command line: it is the
// target where the file names none, and must agree where it does.
func LoadFileAs(path string, target Target) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return load(path, b, target)
}

// Load decodes data (named path in messages) strictly: unknown keys and
// wrong types are errors with file:line, all of them at once.
func Load(path string, data []byte) (*File, error) { return load(path, data, "") }

func load(path string, data []byte, target Target) (*File, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty; run 'dhub init' to write one", path)
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if lineRE.MatchString(msg) {
			return nil, fmt.Errorf("%s:%s", path, lineRE.ReplaceAllString(msg, "$1:"))
		}
		return nil, fmt.Errorf("%s: %s", path, msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: holds more than one YAML document; dhub.yaml has exactly one", path)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the document must be a mapping (apiVersion, kind, name, ...)", path, root.Line)
	}

	var msgs []string
	for _, u := range unknownFields(root, reflect.TypeOf(Hub{}), "") {
		msgs = append(msgs, fmt.Sprintf("%s:%d: %s", path, u.line, u.msg))
	}
	var h Hub
	if len(msgs) == 0 {
		if err := root.Decode(&h); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			for _, e := range te.Errors {
				msgs = append(msgs, path+":"+strings.TrimPrefix(lineRE.ReplaceAllString(e, "$1:"), "line "))
			}
		}
	}
	if len(msgs) > 0 {
		return nil, &LoadError{Messages: msgs}
	}
	switch {
	case target == "":
	case h.Target == "":
		h.Target = target
	case h.Target != target:
		return nil, fmt.Errorf("%s is for target %s, not %s: drop --target or pass another file with -f", path, h.Target, target)
	}
	h.expandPaths()
	h.SetDefaults()
	return &File{Path: path, Hub: &h, root: root}, nil
}

var lineRE = regexp.MustCompile(`^line (\d+):`)

// LoadError lists every decoding problem of a file, each as "file:line: message".
type LoadError struct{ Messages []string }

// Error lists the messages, one per line.
func (e *LoadError) Error() string { return strings.Join(e.Messages, "\n") }

type unknownField struct {
	line int
	msg  string
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// unknownFields walks n against type t and reports every key that t has no
// field for, with its path and a suggestion. yaml's own KnownFields stops at
// the first and names a Go type instead of a path.
func unknownFields(n *yaml.Node, t reflect.Type, path string) []unknownField {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that decodes itself has its own shape, except SecretRef, whose
	// mapping form is its fields.
	if reflect.PointerTo(t).Implements(unmarshalerType) && t != reflect.TypeOf(SecretRef{}) {
		return nil
	}
	// An alias decodes as the node it names: check that node's keys too.
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var out []unknownField
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("%s: unknown field", join(path, k.Value))
				if s := closest(k.Value, fields); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				out = append(out, unknownField{k.Line, msg})
				continue
			}
			out = append(out, unknownFields(v, f.Type, join(path, k.Value))...)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, unknownFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

// yamlFields maps yaml keys to struct fields, flattening inline structs.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name != "" && name != "-" {
			m[name] = f
		}
	}
	return m
}

// closest returns the known key nearest to k, if it is near enough to be a typo.
func closest(k string, fields map[string]reflect.StructField) string {
	best, bestD := "", len(k)/2+2
	keys := make([]string, 0, len(fields))
	for f := range fields {
		keys = append(keys, f)
	}
	sort.Strings(keys)
	for _, f := range keys {
		if d := distance(strings.ToLower(k), strings.ToLower(f)); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Line returns the line of the value at a field path such as
// "azure.nodePools[1].autoscale.max"; when the path is not in the file (a
// default), it returns the line of its nearest ancestor that is, and 0 when
// nothing of it is.
func (f *File) Line(path string) int {
	if f == nil || f.root == nil {
		return 0
	}
	n, line := f.root, 0
	for _, seg := range splitPath(path) {
		next, l := lookup(n, seg)
		if next == nil {
			return line
		}
		n, line = next, l
	}
	return line
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(p string) []string {
	var segs []string
	for _, part := range strings.Split(p, ".") {
		for part != "" {
			i := strings.IndexByte(part[1:], '[')
			if i < 0 {
				segs = append(segs, part)
				break
			}
			segs = append(segs, part[:i+1])
			part = part[i+1:]
		}
	}
	return segs
}

// lookup returns the child of n named by seg and the line that names it:
// the key's line for a mapping entry, the item's line for a list element.
func lookup(n *yaml.Node, seg string) (*yaml.Node, int) {
	if strings.HasPrefix(seg, "[") {
		i, err := strconv.Atoi(strings.Trim(seg, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil, 0
		}
		return n.Content[i], n.Content[i].Line
	}
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}
