package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadErr loads doc and returns its error text, failing when Load accepts it.
func loadErr(t *testing.T, doc string) string {
	t.Helper()
	f, err := Load("dhub.yaml", []byte(doc))
	if err == nil {
		t.Fatalf("Load accepted:\n%s\nhub: %+v", doc, f.Hub)
	}
	return err.Error()
}

func mustLoad(t *testing.T, doc string) *File {
	t.Helper()
	f, err := Load("dhub.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v\n%s", err, doc)
	}
	return f
}

func TestLoadUnknownKeySuggests(t *testing.T) {
	doc := `name: pangeo-hub
target: azure
azure:
  nodePool:
    - name: core
`
	got := loadErr(t, doc)
	want := `dhub.yaml:4: azure.nodePool: unknown field; did you mean "nodePools"?`
	if got != want {
		t.Errorf("error\n got: %s\nwant: %s", got, want)
	}
}

func TestLoadUnknownKeyNoSuggestionWhenFar(t *testing.T) {
	got := loadErr(t, "name: pangeo-hub\nfrobnicator: 1\n")
	if got != "dhub.yaml:2: frobnicator: unknown field" {
		t.Errorf("got %q", got)
	}
}

func TestLoadReportsEveryUnknownKey(t *testing.T) {
	doc := `name: pangeo-hub
target: azure
azure:
  locaton: westeurope
  nodePools:
    - name: core
      role: core
    - name: users
      autoscale: {min: 0, maks: 10}
hub:
  auth:
    azuread:
      tenantID: x
dask:
  workerCores: {default: 1, min: 1, max: 4}
  enviroment: {A: b}
`
	err := func() error { _, err := Load("dhub.yaml", []byte(doc)); return err }()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not a *LoadError", err, err)
	}
	want := []string{
		`dhub.yaml:4: azure.locaton: unknown field; did you mean "location"?`,
		`dhub.yaml:9: azure.nodePools[1].autoscale.maks: unknown field; did you mean "max"?`,
		`dhub.yaml:13: hub.auth.azuread.tenantID: unknown field; did you mean "tenantId"?`,
		`dhub.yaml:16: dask.enviroment: unknown field; did you mean "environment"?`,
	}
	if strings.Join(le.Messages, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages\n got: %q\nwant: %q", le.Messages, want)
	}
	if err.Error() != strings.Join(want, "\n") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// Keys inside inline structs (hub.auth.azuread's allow rule) are known keys.
func TestLoadInlineAccessKeys(t *testing.T) {
	f := mustLoad(t, `hub:
  auth:
    type: azuread
    azuread:
      allowedUsers: [a@example.org]
      admins: [b@example.org]
      allowAll: true
      allowedGroups: [g]
`)
	ad := f.Hub.JupyterHub.Auth.AzureAD
	if ad == nil || ad.AllowedUsers[0] != "a@example.org" || ad.Admins[0] != "b@example.org" || !ad.AllowAll || ad.AllowedGroups[0] != "g" {
		t.Errorf("azuread = %+v", ad)
	}
}

// An alias decodes as the mapping it names, so that mapping's keys must be
// checked against the field the alias stands in.
func TestLoadUnknownKeyThroughAlias(t *testing.T) {
	doc := `target: azure
azure: &a
  location: westeurope
local: *a
`
	got := loadErr(t, doc)
	if !strings.Contains(got, "local.location: unknown field") {
		t.Errorf("got %q, want local.location reported", got)
	}
}

func TestLoadWrongType(t *testing.T) {
	doc := `name: pangeo-hub
target: local
local:
  port: abc
`
	got := loadErr(t, doc)
	if want := `dhub.yaml:4: local.port: "abc" is not a whole number`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadSeveralWrongTypes(t *testing.T) {
	doc := `local:
  port: abc
hub:
  idleCulling:
    timeout: soon
`
	got := strings.Split(loadErr(t, doc), "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "dhub.yaml:2: ") || !strings.HasPrefix(got[1], "dhub.yaml:5: ") {
		t.Errorf("got %q, want one message for line 2 and one for line 5", got)
	}
}

func TestLoadInlineSecretNotEchoed(t *testing.T) {
	doc := `name: pangeo-hub
target: azure
hub:
  auth:
    type: azuread
    azuread:
      clientSecret: hunter2
`
	got := loadErr(t, doc)
	if strings.Contains(got, "hunter2") {
		t.Fatalf("the error repeats the secret: %q", got)
	}
	if !strings.HasPrefix(got, "dhub.yaml:7: ") || !strings.Contains(got, "fromEnv") {
		t.Errorf("got %q, want dhub.yaml:7: and a hint at fromEnv", got)
	}
}

// The inline secret is reported with the file's other decoding problems.
func TestLoadInlineSecretWithOtherErrors(t *testing.T) {
	doc := `local:
  port: abc
hub:
  auth:
    password:
      userPassword: hunter2
`
	got := loadErr(t, doc)
	if strings.Contains(got, "hunter2") {
		t.Fatalf("the error repeats the secret: %q", got)
	}
	lines := strings.Split(got, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "dhub.yaml:2: ") || !strings.HasPrefix(lines[1], "dhub.yaml:6: ") {
		t.Errorf("got %q, want problems at lines 2 and 6", lines)
	}
}

func TestLoadBadDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "", "dhub.yaml: the file is empty"},
		{"only comments", "# nothing here\n", "dhub.yaml: the file is empty"},
		{"two documents", "name: a-hub\n---\nname: b-hub\n", "dhub.yaml: holds more than one YAML document"},
		{"list", "- name: a-hub\n", "dhub.yaml:1: the document must be a mapping"},
		{"scalar", "\n\nhello\n", "dhub.yaml:3: the document must be a mapping"},
		{"null", "null\n", "dhub.yaml:1: the document must be a mapping"},
		{"syntax", "name: a-hub\nhub: [\n", "dhub.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadErr(t, tc.doc); !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func TestLoadSyntaxErrorHasLine(t *testing.T) {
	got := loadErr(t, "name: a-hub\nhub: {image: x\n")
	if !strings.HasPrefix(got, "dhub.yaml:") || strings.Contains(got, "yaml: ") || strings.HasPrefix(got, "dhub.yaml: line") {
		t.Errorf("got %q, want dhub.yaml:N: message", got)
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	f := mustLoad(t, "name: pangeo-hub\n")
	want := Hub{Name: "pangeo-hub"}
	want.SetDefaults()
	if f.Hub.Target != TargetLocal || f.Hub.Local.Port != DefaultLocalPort || f.Path != "dhub.yaml" {
		t.Errorf("loaded %+v", f.Hub)
	}
	if !equalHubs(*f.Hub, want) {
		t.Errorf("loaded hub differs from SetDefaults of the same fields:\n got %+v\nwant %+v", *f.Hub, want)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dhub.yaml")
	if err := os.WriteFile(p, []byte("name: file-hub\nnope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: nope: unknown field") {
		t.Errorf("LoadFile error %v, want it to name %s:2", err, p)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v, want os.ErrNotExist", err)
	}
}

const lineDoc = `name: pangeo-hub
target: azure
azure:
  location: westeurope
  nodePools:
    - name: core
      role: core
    - name: users
      role: user
      autoscale:
        min: 0
        max: 10
hub:
  auth:
    type: azuread
`

func TestFileLine(t *testing.T) {
	f := mustLoad(t, lineDoc)
	for _, tc := range []struct {
		path string
		want int
	}{
		{"name", 1},
		{"azure", 3}, // a block mapping starts at its key
		{"azure.location", 4},
		{"azure.nodePools", 5},
		{"azure.nodePools[0]", 6},
		{"azure.nodePools[0].role", 7},
		{"azure.nodePools[1].name", 8},
		{"azure.nodePools[1].autoscale", 10},
		{"azure.nodePools[1].autoscale.max", 12},
		{"hub.auth.type", 15},
		// Defaults are not in the file: the nearest ancestor that is.
		{"azure.nodePools[1].vmSize", 8},
		{"azure.nodePools[2].spot.eviction", 5},
		{"azure.clusterName", 3},
		{"hub.auth.azuread.tenantId", 14},
		{"hub.host", 13},
		{"dask.workerCores.min", 0},
		{"", 0},
		{"azure.nodePools[x].name", 5},
		{"name.more", 1},
	} {
		if got := f.Line(tc.path); got != tc.want {
			t.Errorf("Line(%q) = %d, want %d", tc.path, got, tc.want)
		}
	}
}

func TestFileLineWithoutDocument(t *testing.T) {
	var nilFile *File
	if got := nilFile.Line("name"); got != 0 {
		t.Errorf("nil File: Line = %d", got)
	}
	if got := (&File{Hub: &Hub{}}).Line("name"); got != 0 {
		t.Errorf("File without a document: Line = %d", got)
	}
}

func TestSecretRefResolveEnv(t *testing.T) {
	t.Setenv("DHUB_TEST_SECRET", "s3cr3t")
	got, err := SecretRef{FromEnv: "DHUB_TEST_SECRET"}.Resolve()
	if err != nil || got != "s3cr3t" {
		t.Errorf("Resolve = %q, %v", got, err)
	}
}

func TestSecretRefResolveEnvUnset(t *testing.T) {
	t.Setenv("DHUB_TEST_EMPTY", "")
	// The error does not name the variable: a reference that names no
	// variable may be a pasted secret.
	for name, want := range map[string]string{
		"DHUB_TEST_EMPTY":               "fromEnv: the environment variable it names is empty",
		"DHUB_TEST_SURELY_NOT_SET_1234": "fromEnv: the environment variable it names is not set",
	} {
		_, err := SecretRef{FromEnv: name}.Resolve()
		if err == nil || err.Error() != want {
			t.Errorf("Resolve of %s: %v, want %q", name, err, want)
		}
	}
}

func TestSecretRefResolveFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("pa ss\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := SecretRef{FromFile: p}.Resolve()
	if err != nil || got != "pa ss" {
		t.Errorf("Resolve = %q, %v; want trailing newlines dropped", got, err)
	}
}

func TestSecretRefResolveFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (SecretRef{FromFile: empty}).Resolve(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v, want an 'empty' error", err)
	}
	if _, err := (SecretRef{FromFile: filepath.Join(dir, "missing")}).Resolve(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
	if _, err := (SecretRef{}).Resolve(); err == nil {
		t.Error("an unset reference resolved")
	}
}

func TestSecretRefString(t *testing.T) {
	for _, tc := range []struct {
		ref  SecretRef
		want string
	}{
		{SecretRef{FromEnv: "A"}, "env:A"},
		{SecretRef{FromFile: "/x"}, "file:/x"},
		{SecretRef{}, "unset"},
	} {
		if got := tc.ref.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.ref, got, tc.want)
		}
		if got := tc.ref.IsZero(); got != (tc.want == "unset") {
			t.Errorf("%#v.IsZero() = %v", tc.ref, got)
		}
	}
}

func TestSecretRefLoadsMapping(t *testing.T) {
	f := mustLoad(t, `hub:
  auth:
    type: azuread
    azuread:
      clientSecret: {fromFile: /run/secret}
`)
	if got := f.Hub.JupyterHub.Auth.AzureAD.ClientSecret; got != (SecretRef{FromFile: "/run/secret"}) {
		t.Errorf("clientSecret = %#v", got)
	}
	// A misspelt reference is an unknown key, not a silently unset secret.
	got := loadErr(t, "hub:\n  auth: {azuread: {clientSecret: {fromFiel: /run/secret}}}\n")
	want := `dhub.yaml:2: hub.auth.azuread.clientSecret.fromFiel: unknown field; did you mean "fromFile"?`
	if got != want {
		t.Errorf("misspelt secret reference\n got: %s\nwant: %s", got, want)
	}
}

// Every path of dhub.yaml expands ~ the same way, once, at load.
func TestLoadExpandsHomeInEveryPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	f := mustLoad(t, `name: pangeo-hub
target: local
local:
  stateDir: ~/hubs/one
  python: ~/py/bin/python3
kubernetes: {kubeconfig: ~/.kube/other}
hub:
  auth:
    password:
      adminPassword: {fromFile: ~/secrets/admin}
      userPassword: {fromFile: "~"}
charts:
  jupyterhub: {path: ~/charts/jh.tgz}
  daskGateway: {path: /abs/dg.tgz}
`)
	h := f.Hub
	for got, want := range map[string]string{
		h.Local.StateDir:        filepath.Join(home, "hubs", "one"),
		h.Local.Python:          filepath.Join(home, "py", "bin", "python3"),
		h.Kubernetes.Kubeconfig: filepath.Join(home, ".kube", "other"),
		h.JupyterHub.Auth.Password.AdminPassword.FromFile: filepath.Join(home, "secrets", "admin"),
		h.JupyterHub.Auth.Password.UserPassword.FromFile:  home,
		h.Charts.JupyterHub.Path:                          filepath.Join(home, "charts", "jh.tgz"),
		h.Charts.DaskGateway.Path:                         "/abs/dg.tgz",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	// A bare command name is looked up on PATH, not expanded.
	if h := mustLoad(t, "name: pangeo-hub\nlocal: {python: python3.12}\n").Hub; h.Local.Python != "python3.12" {
		t.Errorf("python = %s", h.Local.Python)
	}
	// stateDir: "~" is the home directory, which Validate refuses.
	h = mustLoad(t, "name: pangeo-hub\nlocal: {stateDir: \"~\"}\n").Hub
	if ps := h.Validate(); !slices.ContainsFunc(ps, func(p Problem) bool {
		return p.Path == "local.stateDir" && strings.Contains(p.Message, "home directory")
	}) {
		t.Errorf("stateDir ~: problems %v", ps)
	}
}

// YAML merge keys fill a mapping from an anchor; its own keys win.
func TestLoadMergeKeys(t *testing.T) {
	f := mustLoad(t, `name: lab
target: azure
azure:
  nodePools:
    - &pool {name: core, role: core, vmSize: Standard_D4s_v3, labels: {a: b}}
    - <<: *pool
      name: users
      role: user
`)
	p := f.Hub.Azure.NodePools[1]
	if p.Name != "users" || p.Role != RoleUser || p.VMSize != "Standard_D4s_v3" || p.Labels["a"] != "b" {
		t.Errorf("merged pool = %+v", p)
	}
	if got := f.Line("azure.nodePools[1].vmSize"); got != 5 {
		t.Errorf("a merged field's line = %d, want the anchor's 5", got)
	}
}

// An explicit 0 is kept (and validated), a missing key defaulted.
func TestLoadKeepsExplicitZeros(t *testing.T) {
	h := mustLoad(t, "name: lab\nlocal: {port: 0}\ndask:\n  workerCores: {min: 0}\nhub: {idleCulling: {timeout: 0s}}\n").Hub
	if h.Local.Port != 0 || h.Dask.WorkerCores != (Bounds{Default: 1, Min: 0, Max: 16}) || h.JupyterHub.IdleCulling.Timeout != 0 {
		t.Errorf("port %d, cores %+v, culling %v", h.Local.Port, h.Dask.WorkerCores, h.JupyterHub.IdleCulling.Timeout)
	}
	h = mustLoad(t, "name: lab\nlocal: {port: ~}\n").Hub
	if h.Local.Port != DefaultLocalPort {
		t.Errorf("port: ~ gave %d, want the default", h.Local.Port)
	}
}
