package charts

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func parse(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCoalesce(t *testing.T) {
	tests := []struct {
		name                      string
		defaults, overrides, want string
	}{
		{"nested merge", "a: {b: 1, c: {d: 2, e: 3}}", "a: {c: {d: 9}, f: x}", "a: {b: 1, c: {d: 9, e: 3}, f: x}"},
		{"null deletes", "a: {b: 1, c: 2}", "a: {b: null}\nz: null", "a: {c: 2}"},
		{"slice replaces", "a: [1, 2, 3]", "a: [4]", "a: [4]"},
		{"map replaces scalar", "a: 1", "a: {b: 2}", "a: {b: 2}"},
		{"scalar replaces map", "a: {b: 2}", "a: 1", "a: 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, o := parse(t, tt.defaults), parse(t, tt.overrides)
			d0, o0 := parse(t, tt.defaults), parse(t, tt.overrides)
			got := Coalesce(d, o)
			if want := parse(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
			if !reflect.DeepEqual(d, d0) || !reflect.DeepEqual(o, o0) {
				t.Errorf("inputs mutated: %v, %v", d, o)
			}
		})
	}
}

func TestCoalesceNoAliasing(t *testing.T) {
	d, o := parse(t, "a: {b: [1]}"), parse(t, "c: {d: [2]}")
	got := Coalesce(d, o)
	got["a"].(map[string]any)["b"].([]any)[0] = 9
	got["c"].(map[string]any)["d"].([]any)[0] = 9
	if !reflect.DeepEqual(d, parse(t, "a: {b: [1]}")) || !reflect.DeepEqual(o, parse(t, "c: {d: [2]}")) {
		t.Errorf("result aliases inputs: %v, %v", d, o)
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []Chart{JupyterHub, DaskGateway} {
		d, err := Defaults(c)
		if err != nil || len(d) == 0 {
			t.Fatalf("%s: %v, %d keys", c.Name, err, len(d))
		}
		d["mutated"] = true
		if d2, _ := Defaults(c); d2["mutated"] != nil {
			t.Errorf("%s: defaults not copied", c.Name)
		}
	}
	for _, c := range []Chart{{Name: "jupyterhub", Version: "9.9.9"}, {Name: "nope", Version: "4.4.0"}} {
		_, err := Defaults(c)
		if err == nil || !strings.Contains(err.Error(), c.Name) || !strings.Contains(err.Error(), c.Version) {
			t.Errorf("%v: got %v, want error naming chart and version", c, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		chart  Chart
		values string
		want   []Violation // Message is matched as a substring
	}{
		{"z2jh defaults", JupyterHub, "", nil},
		{"dg defaults", DaskGateway, "", nil},
		{"unknown key", JupyterHub, "hub: {nope: 1}", []Violation{{"hub", "'nope'"}}},
		{"wrong type", JupyterHub, "proxy: {https: {enabled: 'yes'}}", []Violation{{"proxy.https.enabled", "got string, want null or boolean"}}},
		{"two violations", JupyterHub, "hub: {nope: 1}\nproxy: {https: {enabled: 'yes'}}",
			[]Violation{{"hub", "'nope'"}, {"proxy.https.enabled", "got string"}}},
		{"null removes required", JupyterHub, "hub: null", []Violation{{"", "'hub'"}}},
		{"valid override", JupyterHub, "proxy: {https: {enabled: true}}\nsingleuser: {extraEnv: {A: b}}", nil},
		{"dg bad enum", DaskGateway, "gateway: {auth: {type: bogus}}", []Violation{{"gateway.auth.type", "must be one of"}}},
		{"unsupported chart", Chart{Name: "x", Version: "1"}, "", []Violation{{"", "unsupported chart x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.chart, parse(t, tt.values))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %d violations", got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Path != w.Path || !strings.Contains(got[i].Message, w.Message) {
					t.Errorf("violation %d = %q, want path %q and message containing %q", i, got[i], w.Path, w.Message)
				}
			}
		})
	}
}

func TestViolationString(t *testing.T) {
	if got := (Violation{Path: "a.b", Message: "bad"}).String(); got != "a.b: bad" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkValidateJupyterHub(b *testing.B) {
	for b.Loop() {
		if v := Validate(JupyterHub, nil); len(v) != 0 {
			b.Fatal(v)
		}
	}
}
