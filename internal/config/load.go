package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest dhub.yaml dhub reads. A whole hub is a few
// kilobytes; a file a thousand times that is a mistake (or an attack),
// and refusing it keeps every later step's time and memory small.
const MaxFileSize = 1 << 20

// File is a loaded dhub.yaml: the Hub with defaults applied, and the line of
// every field path the file holds, so problems can be reported at their line.
type File struct {
	// Path is the file name used in messages.
	Path string
	Hub  *Hub
	// lines maps each field path the file holds to the line of its key
	// (of its item, in a list).
	lines map[string]int
	// set holds the field paths the file gives a value (not null), which
	// keep an explicit 0 when defaults are applied.
	set map[string]bool
}

// LoadFile reads, strictly decodes and defaults a dhub.yaml. It does not
// validate; call Validate on the result.
func LoadFile(path string) (*File, error) {
	return LoadFileAs(path, "")
}

// LoadFileAs is LoadFile for a target given on the command line: it is the
// target where the file names none, and must agree where it does.
func LoadFileAs(path string, target Target) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit: enough to tell a file that is too
	// large, never the whole of /dev/zero.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return load(path, b, target)
}

// Load decodes data (named path in messages) strictly: unknown keys and
// wrong types are errors with file:line, all of them at once.
func Load(path string, data []byte) (*File, error) { return load(path, data, "") }

func load(path string, data []byte, target Target) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d KiB: a dhub.yaml is a few kilobytes; dhub does not read one this large", path, MaxFileSize>>10)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty; run 'dhub init' to write one", path)
		}
		return nil, syntaxError(path, data, err)
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

	var h Hub
	d := newDecoder()
	d.value(root, reflectValue(&h), "")
	if len(d.errs) > 0 {
		return nil, d.loadError(path)
	}
	switch {
	case target == "":
	case h.Target == "":
		h.Target = target
	case h.Target != target:
		return nil, fmt.Errorf("%s is for target %s, not %s: drop --target or pass another file with -f", path, h.Target, target)
	}
	h.expandPaths()
	f := &File{Path: path, Hub: &h, lines: d.lines, set: d.set}
	h.setDefaults(f.isSet)
	return f, nil
}

// isSet reports whether the file gives the field at path a value.
func (f *File) isSet(path string) bool { return f.set[path] }

var lineRE = regexp.MustCompile(`^line (\d+):`)

// syntaxError turns a YAML parse error into "file:line: message". Tabs get
// their own message: YAML's ("found character that cannot start any
// token") names neither the tab nor, always, its line.
func syntaxError(path string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") {
		if line := tabIndentedLine(data); line > 0 {
			return fmt.Errorf("%s:%d: indented with a tab: YAML indents with spaces only", path, line)
		}
	}
	if lineRE.MatchString(msg) {
		return fmt.Errorf("%s:%s", path, lineRE.ReplaceAllString(msg, "$1:"))
	}
	return fmt.Errorf("%s: %s", path, msg)
}

// tabIndentedLine returns the first line whose indentation holds a tab, or 0.
func tabIndentedLine(data []byte) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
		if bytes.IndexByte(indent, '\t') >= 0 {
			return i + 1
		}
	}
	return 0
}

// LoadError lists every decoding problem of a file, each as "file:line: message".
type LoadError struct{ Messages []string }

// Error lists the messages, one per line.
func (e *LoadError) Error() string { return strings.Join(e.Messages, "\n") }

// maxLoadMessages caps a LoadError: past a screenful, more lines of the
// same mistake help nobody.
const maxLoadMessages = 100

func (d *decoder) loadError(path string) *LoadError {
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].line < d.errs[j].line })
	var msgs []string
	for i, e := range d.errs {
		if i == maxLoadMessages {
			msgs = append(msgs, fmt.Sprintf("%s: and %d more problems", path, len(d.errs)-i))
			break
		}
		msgs = append(msgs, fmt.Sprintf("%s:%d: %s", path, e.line, e.msg))
	}
	return &LoadError{Messages: msgs}
}

// Line returns the line of the value at a field path such as
// "azure.nodePools[1].autoscale.max"; when the path is not in the file (a
// default), it returns the line of its nearest ancestor that is, and 0 when
// nothing of it is.
func (f *File) Line(path string) int {
	if f == nil {
		return 0
	}
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := f.lines[p]; ok {
			return line
		}
	}
	return 0
}

// parentPath drops the last segment of a field path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// closest returns the known key nearest to k, if it is near enough to be a typo.
func closest(k string, known []string) string {
	best, bestD := "", len(k)/2+2
	for _, f := range slices.Sorted(slices.Values(known)) {
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
