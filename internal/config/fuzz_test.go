package config

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

func FuzzLoad(f *testing.F) {
	for _, target := range Targets {
		for _, p := range profiles {
			for _, o := range []InitOptions{
				{Target: target, Profile: p},
				{Name: "geo-lab", Target: target, Profile: p, Email: testEmail, TenantID: testTenantID, ClientID: testClientID},
			} {
				b, err := Init(o)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"",
		"---\n",
		"name: a-hub\n---\nname: b-hub\n",
		"- name: a-hub\n",
		"name: [\n",
		"target: azure\nazure:\n  nodePool: []\n",
		"local: {port: abc}\nhub: {idleCulling: {timeout: 5}}\n",
		"target: azure\nazure: &a {location: westeurope}\nlocal: *a\n",
		"hub:\n  auth:\n    azuread:\n      clientSecret: hunter2\n",
		"hub: {auth: {type: azuread, azuread: {clientSecret: 'not-so-s3cret', tenantId: x}}}\n",
		"hub: {auth: {password: {userPassword: \"pa55word\"}}}\nlocal: {port: x}\n",
		"target: azure\nazure:\n  nodePools:\n    - {name: a, labels: {a.b/c: \"d e\"}, taints: [x]}\n    - {name: a, spot: {}}\n",
		"charts: {jupyterhub: {values: {proxy: {secretToken: x}, hub: {services: {dask-gateway: {apiToken: y}}}}}}\n",
		"dask: {environment: {\"a.b\": c}, workerCores: {min: .nan}, limits: {maxCores: -.inf}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Load("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Fatalf("Load returned a file and an error: %v", err)
			}
			if leaked, ok := echoedSecret(data, err.Error()); ok {
				t.Fatalf("the error repeats the secret %q:\n%v\n(input %q)", leaked, err, data)
			}
			return
		}
		// yaml also breaks lines at \r, NEL, LS and PS.
		lines := 1
		for _, r := range string(data) {
			if strings.ContainsRune("\n\r\u0085\u2028\u2029", r) {
				lines++
			}
		}
		for _, p := range file.Hub.Validate() {
			if l := file.Line(p.Path); l < 0 || l > lines+1 {
				t.Errorf("Line(%q) = %d, outside the file's %d lines", p.Path, l, lines)
			}
		}
		// Load applied the defaults; applying them again, with the same
		// fields set (an explicit 0 stays), changes nothing.
		before, err1 := yaml.Marshal(file.Hub)
		file.Hub.setDefaults(file.isSet)
		after, err2 := yaml.Marshal(file.Hub)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(before, after) {
			t.Errorf("SetDefaults after Load changed the hub:\n%s\n---\n%s", before, after)
		}
	})
}

// echoedSecret returns a value written under a clientSecret key that msg,
// Load's error for data, repeats. A value can also appear in msg for an
// innocent reason (it is also another field's value, or a word of the
// message), so the check is differential: the same file with each such
// secret overwritten in place by a same-length filler must give an error
// holding the value no fewer times.
func echoedSecret(data []byte, msg string) (string, bool) {
	spans := secretSpans(data)
	if len(spans) == 0 {
		return "", false
	}
	masked := bytes.Clone(data)
	for _, s := range spans {
		copy(masked[s.start:s.end], strings.Repeat("Q", s.end-s.start))
	}
	// The filler must have replaced exactly the secrets, or the comparison
	// says nothing.
	after := secretSpans(masked)
	if len(after) != len(spans) {
		return "", false
	}
	for i, s := range after {
		if s.value != strings.Repeat("Q", len(spans[i].value)) {
			return "", false
		}
	}
	maskedMsg := ""
	if _, err := Load("fuzz.yaml", masked); err != nil {
		maskedMsg = err.Error()
	}
	for _, s := range spans {
		if strings.Count(msg, s.value) > strings.Count(maskedMsg, s.value) {
			return s.value, true
		}
	}
	return "", false
}

// The fuzz property can fail: a message that repeats the secret is caught,
// and one that holds the same text for another reason is not.
func TestEchoedSecret(t *testing.T) {
	data := []byte("local: {port: hunter2}\nhub:\n  auth:\n    azuread:\n      clientSecret: \"hunter2\"\n")
	_, err := Load("fuzz.yaml", data)
	if err == nil {
		t.Fatal("Load accepted an inline secret")
	}
	if !strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("want the port's value in the error: %v", err)
	}
	if leaked, ok := echoedSecret(data, err.Error()); ok {
		t.Errorf("flagged %q, which the error repeats for the port, not the secret", leaked)
	}
	if leaked, ok := echoedSecret(data, err.Error()+"\nfuzz.yaml:5: hunter2"); !ok || leaked != "hunter2" {
		t.Errorf("a message that repeats the secret was not flagged (%q, %v)", leaked, ok)
	}
	if spans := secretSpans([]byte("clientSecret: 'a\\b'\nx: {clientSecret: s3cr3t}\n")); len(spans) != 1 || spans[0].value != "s3cr3t" {
		t.Errorf("secretSpans = %+v", spans)
	}
}

type span struct {
	start, end int // bytes of the value in the file
	value      string
}

// secretSpans finds the scalars written under a clientSecret key of the
// first document, plain or quoted without escapes, on one line.
func secretSpans(data []byte) []span {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil
	}
	starts := []int{0}
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	var out []span
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "clientSecret" && v.Kind == yaml.ScalarNode && v.Value != "" {
					if s, ok := locate(data, starts, v); ok {
						out = append(out, s)
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return out
}

// locate finds scalar v's bytes in data from its line and column, and
// reports false when they are not written there as-is.
func locate(data []byte, starts []int, v *yaml.Node) (span, bool) {
	if v.Line < 1 || v.Line > len(starts) || v.Column < 1 {
		return span{}, false
	}
	off := starts[v.Line-1]
	for range v.Column - 1 {
		if off >= len(data) {
			return span{}, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	quote := ""
	switch v.Style {
	case 0:
	case yaml.SingleQuotedStyle:
		quote = "'"
	case yaml.DoubleQuotedStyle:
		quote = `"`
	default:
		return span{}, false
	}
	written := quote + v.Value + quote
	if strings.ContainsAny(v.Value, "\n\r\\'\"") || !bytes.HasPrefix(data[off:], []byte(written)) {
		return span{}, false
	}
	start := off + len(quote)
	return span{start, start + len(v.Value), v.Value}, true
}
