// Package charts embeds the default values and values schemas of the Helm
// charts dhub installs, and merges and validates user values against them
// the way Helm does, without network access.
package charts

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed data/*
var dataFS embed.FS

// Chart identifies one of the two charts dhub installs.
type Chart struct {
	Name       string // "jupyterhub" or "dask-gateway"
	Version    string
	Repository string
}

// JupyterHub is the Zero to JupyterHub chart at the version dhub installs
// unless dhub.yaml pins another. It is the one place that version is
// written: config's defaults, dhub version and the embedded files read it.
var JupyterHub = Chart{Name: "jupyterhub", Version: "4.4.0", Repository: "https://hub.jupyter.org/helm-chart/"}

// DaskGateway is the Dask Gateway chart at the version dhub installs
// unless dhub.yaml pins another (see JupyterHub).
var DaskGateway = Chart{Name: "dask-gateway", Version: "2026.3.0", Repository: "https://helm.dask.org/"}

// Violation is one schema violation found by Validate.
type Violation struct {
	Path    string // dotted instance path, e.g. "proxy.https.enabled"; empty for the root
	Message string
}

// String formats the violation as "path: message".
func (v Violation) String() string { return v.Path + ": " + v.Message }

// embedded holds the lazily parsed files of one supported chart.
type embedded struct {
	prefix   string // file name prefix under data/
	once     sync.Once
	defaults map[string]any
	schema   *jsonschema.Schema
	err      error
}

// known are the charts whose files data/ holds, named after the versions
// above: a version changed without its files fails load, and the tests.
var known = map[string]*embedded{
	key(JupyterHub):  {prefix: "z2jh-" + JupyterHub.Version},
	key(DaskGateway): {prefix: "dg-" + DaskGateway.Version},
}

func key(c Chart) string { return c.Name + "@" + c.Version }

var printer = message.NewPrinter(language.English)

// load returns the parsed defaults and compiled schema of c.
func load(c Chart) (*embedded, error) {
	e, ok := known[key(c)]
	if !ok {
		return nil, fmt.Errorf("unsupported chart %s version %q", c.Name, c.Version)
	}
	e.once.Do(func() {
		raw, err := dataFS.ReadFile("data/" + e.prefix + "-values.yaml")
		if err != nil {
			e.err = fmt.Errorf("read %s defaults: %w", c.Name, err)
			return
		}
		if err := yaml.Unmarshal(raw, &e.defaults); err != nil {
			e.err = fmt.Errorf("parse %s defaults: %w", c.Name, err)
			return
		}
		raw, err = dataFS.ReadFile("data/" + e.prefix + "-values.schema.json")
		if err != nil {
			e.err = fmt.Errorf("read %s schema: %w", c.Name, err)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			e.err = fmt.Errorf("parse %s schema: %w", c.Name, err)
			return
		}
		url := e.prefix + "-values.schema.json"
		comp := jsonschema.NewCompiler()
		comp.DefaultDraft(jsonschema.Draft7)
		if err := comp.AddResource(url, doc); err != nil {
			e.err = fmt.Errorf("add %s schema: %w", c.Name, err)
			return
		}
		if e.schema, err = comp.Compile(url); err != nil {
			e.err = fmt.Errorf("compile %s schema: %w", c.Name, err)
		}
	})
	return e, e.err
}

// Defaults returns a deep copy of the chart's embedded default values.
func Defaults(c Chart) (map[string]any, error) {
	e, err := load(c)
	if err != nil {
		return nil, err
	}
	return Coalesce(e.defaults, nil), nil
}

// Coalesce merges overrides onto defaults like Helm: overrides win, maps
// merge recursively, a nil override deletes the key, and slices and scalars
// replace. The result shares no maps or slices with the inputs, which are
// not mutated.
func Coalesce(defaults, overrides map[string]any) map[string]any {
	out := make(map[string]any, len(defaults)+len(overrides))
	for k, v := range defaults {
		out[k] = deepCopy(v)
	}
	for k, v := range overrides {
		if v == nil {
			delete(out, k)
			continue
		}
		if om, ok := v.(map[string]any); ok {
			dm, _ := out[k].(map[string]any)
			out[k] = Coalesce(dm, om)
			continue
		}
		out[k] = deepCopy(v)
	}
	return out
}

// deepCopy copies the maps and slices of a decoded YAML or JSON value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return Coalesce(nil, t)
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// Validate coalesces values over the chart defaults and validates the result
// against the chart's schema. It returns every violation, sorted by path;
// an unsupported chart is reported as a single root violation.
func Validate(c Chart, values map[string]any) []Violation {
	e, err := load(c)
	if err != nil {
		return []Violation{{Message: err.Error()}}
	}
	err = e.schema.Validate(Coalesce(e.defaults, values))
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Violation{{Message: err.Error()}}
	}
	var out []Violation
	seen := map[Violation]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		if len(ve.Causes) == 0 {
			v := Violation{Path: strings.Join(ve.InstanceLocation, "."), Message: ve.ErrorKind.LocalizedString(printer)}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		for _, c := range ve.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return out
}
