package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"dhub/internal/config"
	"dhub/internal/render"
)

// secretBase is a valid hub whose admin password comes from ADMIN_PW; the
// cases replace that reference.
const secretBase = `name: lab
target: kubernetes
profile: simple
hub:
  auth:
    type: password
    password:
      adminPassword: REF
`

func withRef(ref string) string { return strings.Replace(secretBase, "REF", ref, 1) }

// TestHostileInputs feeds dhub.yaml files that are wrong, hostile or
// mistaken through what 'dhub validate' and 'dhub render' do: Load, then
// Validate and CheckReferences, then (when nothing is wrong) rendering,
// with and without the secrets. Each case names the field path and the
// message it must produce, at load (with its line) or as a problem; and a
// secret pasted into the file must appear in no output at all.
func TestHostileInputs(t *testing.T) {
	const pasted = "Tr0ub4dor&3~pasted"
	const pastedName = "CorrectHorseBatteryStaple9" // shaped like a variable name
	for _, c := range []struct {
		name string
		doc  string
		// setup prepares the machine; dir replaces DIR in doc.
		setup func(t *testing.T, dir string)
		// want is "path: message" (a problem) or "dhub.yaml:N: path: message"
		// (a load error); empty for a file that must be accepted.
		want    string
		warning bool
		secret  string // text that must appear in no output
	}{
		// Numbers: finite, in range, whole where whole, an explicit 0 kept.
		{name: "cores inf", doc: "name: lab\ndask:\n  workerCores: {default: .inf}\n",
			want: "dhub.yaml:3: dask.workerCores.default: .inf is not a finite number"},
		{name: "memory nan", doc: "name: lab\ndask:\n  workerMemoryGiB:\n    min: .NaN\n",
			want: "dhub.yaml:4: dask.workerMemoryGiB.min: .NaN is not a finite number"},
		{name: "limit -inf", doc: "name: lab\ndask: {limits: {maxCores: -.inf}}\n",
			want: "dhub.yaml:2: dask.limits.maxCores: -.inf is not a finite number"},
		{name: "spot price nan", doc: "name: lab\ntarget: azure\nazure:\n  nodePools:\n    - {name: core, role: core}\n    - {name: w, role: worker, spot: {maxPrice: .nan}}\n",
			want: "dhub.yaml:6: azure.nodePools[1].spot.maxPrice: .nan is not a finite number"},
		{name: "chart value inf", doc: "name: lab\ntarget: kubernetes\ncharts:\n  jupyterhub:\n    values:\n      hub: {x: .inf}\n",
			want: "dhub.yaml:6: charts.jupyterhub.values.hub.x: .inf is not a finite number (Helm values are JSON, which has no infinity or NaN)"},
		{name: "count fraction", doc: "name: lab\ntarget: azure\nazure:\n  nodePools:\n    - {name: core, role: core, count: 1.5}\n",
			want: "dhub.yaml:5: azure.nodePools[0].count: 1.5 is not a whole number"},
		{name: "port fraction", doc: "name: lab\nlocal: {port: 8000.9}\n",
			want: "dhub.yaml:2: local.port: 8000.9 is not a whole number"},
		{name: "port zero kept", doc: "name: lab\nlocal: {port: 0}\n",
			want: "local.port: 0 is not a TCP port (1..65535)"},
		{name: "cores zeros kept", doc: "name: lab\ndask:\n  workerCores: {default: 0, min: 0, max: 0}\n",
			want: "dask.workerCores.min: 0 is below 0.1"},
		{name: "cores too many", doc: "name: lab\ndask:\n  workerCores: {max: 100000}\n",
			want: "dask.workerCores.max: 100000 is above 1024, more than any machine offers"},
		{name: "culling 0s", doc: "name: lab\nhub: {idleCulling: {timeout: 0s}}\n",
			want: "hub.idleCulling.timeout: 0s would stop every server at once; to keep idle servers running, set hub.idleCulling.enabled: false"},
		{name: "culling 0s while off", doc: "name: lab\nhub: {idleCulling: {enabled: false, timeout: 0s}}\n"},
		{name: "dask idle under 1s", doc: "name: lab\ndask: {idleTimeout: 500ms}\n",
			want: "dask.idleTimeout: 500ms is under 1s, which the gateway would read as 0 (never): use at least 1s, or 0s for never"},
		{name: "dask idle fraction", doc: "name: lab\ndask: {idleTimeout: 1.5s}\n",
			want: "dask.idleTimeout: 1.5s is not a whole number of seconds, which the gateway counts in"},
		{name: "dask idle never", doc: "name: lab\ndask: {idleTimeout: 0s}\n"},
		{name: "duration without unit", doc: "name: lab\ndask: {idleTimeout: 3600}\n",
			want: `dhub.yaml:2: dask.idleTimeout: "3600" is not a duration: write a number with its unit, such as 90s, 30m or 1h`},

		// Types in dhub's words, with the field path.
		{name: "scalar for a section", doc: "name: lab\nhub: 3\n",
			want: `dhub.yaml:2: hub: "3" is not a mapping of image, defaultUrl, host, ...`},
		{name: "list for a map", doc: "name: lab\ndask: {environment: [A]}\n",
			want: "dhub.yaml:2: dask.environment: want a mapping, found a list"},
		{name: "mapping for a list", doc: "name: lab\ntarget: azure\nazure:\n  nodePools: {core: 1}\n",
			want: "dhub.yaml:4: azure.nodePools: want a list, found a mapping"},
		{name: "not a bool", doc: "name: lab\nhub: {https: {enabled: maybe}}\n",
			want: `dhub.yaml:2: hub.https.enabled: "maybe" is not true or false`},
		{name: "list for text", doc: "name: [lab]\n",
			want: "dhub.yaml:1: name: want text, found a list"},

		// YAML itself.
		{name: "tab", doc: "name: lab\nhub:\n\timage: x\n",
			want: "dhub.yaml:3: indented with a tab: YAML indents with spaces only"},
		{name: "key twice", doc: "name: lab\nnamespace: a\nname: lab2\n",
			want: "dhub.yaml:3: name: given twice (first at line 1)"},
		{name: "merge keys", doc: "name: lab\ntarget: azure\nprofile: simple\nazure:\n  nodePools:\n    - &pool {name: core, role: core, vmSize: Standard_D4s_v3}\n    - <<: *pool\n      name: users\n      role: user\n"},
		{name: "merge of a scalar", doc: "name: lab\nhub:\n  <<: 3\n",
			want: "dhub.yaml:3: hub: << merges mappings (<<: *anchor, or a list of them), not a value"},
		{name: "alias bomb", doc: "name: lab\ncharts:\n  jupyterhub:\n    values:\n      a: &a [x, x, x, x, x, x, x, x, x, x]\n      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n      g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
			want: "its aliases (*name) stand for more than 65536 values; write the values out"},
		{name: "merge bomb", doc: mergeBomb(), want: "its aliases (*name) stand for more than 65536 values; write the values out"},

		// Images, targets, files dhub.yaml names, chart values.
		{name: "tag and digest", doc: "name: lab\nhub: {image: \"pangeo/pangeo-notebook:2025.08.14@sha256:" + strings.Repeat("a", 64) + "\"}\n"},
		{name: "unknown target", doc: "name: lab\ntarget: gcp\n",
			want: `target: "gcp" is not one of local, kubernetes, azure`},
		{name: "missing kubeconfig", doc: "name: lab\ntarget: kubernetes\nprofile: simple\nkubernetes: {kubeconfig: DIR/nope}\n",
			want: "kubernetes.kubeconfig: cannot read DIR/nope: no such file or directory"},
		{name: "chart values on local", doc: "name: lab\ncharts: {jupyterhub: {values: {hub: {x: 1}}}}\n", warning: true,
			want: "charts.jupyterhub.values: ignored by the local target, which installs no charts: what they set is not applied"},

		// Secret references: checked, bounded, never repeated.
		{name: "inline secret", doc: strings.Replace(secretBase, "REF", `"`+pasted+`"`, 1), secret: pasted,
			want: "dhub.yaml:8: hub.auth.password.adminPassword: a secret is never written in dhub.yaml: use {fromEnv: VARIABLE} or {fromFile: PATH}"},
		{name: "secret pasted into fromEnv", doc: withRef(`{fromEnv: "` + pasted + `"}`), secret: pasted,
			want: "hub.auth.password.adminPassword.fromEnv: not the name of an environment variable (it holds characters a name cannot; was a secret pasted here?)"},
		{name: "name-shaped secret pasted into fromEnv", doc: withRef("{fromEnv: " + pastedName + "}"), secret: pastedName,
			want: "hub.auth.password.adminPassword.fromEnv: the environment variable it names is not set"},
		{name: "secret pasted into fromFile", doc: withRef(`{fromFile: "` + pasted + `"}`), secret: pasted,
			want: "hub.auth.password.adminPassword.fromFile: not an absolute path: a relative one would depend on the directory dhub runs in; write /... or ~/... (or was a secret pasted here?)"},
		{name: "path-shaped secret pasted into fromFile", doc: withRef(`{fromFile: "/` + pasted + `"}`), secret: pasted,
			want: "hub.auth.password.adminPassword.fromFile: cannot open the file: no such file or directory"},
		{name: "empty variable", doc: withRef("{fromEnv: DHUB_HOSTILE_EMPTY}"),
			setup: func(t *testing.T, _ string) { t.Setenv("DHUB_HOSTILE_EMPTY", "") },
			want:  "hub.auth.password.adminPassword.fromEnv: the environment variable it names is empty"},
		{name: "dev zero", doc: withRef("{fromFile: /dev/zero}"),
			want: "hub.auth.password.adminPassword.fromFile: the file is a device, pipe or socket, not a regular file"},
		{name: "fifo", doc: withRef("{fromFile: DIR/fifo}"),
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "hub.auth.password.adminPassword.fromFile: the file is a device, pipe or socket, not a regular file"},
		{name: "directory", doc: withRef("{fromFile: DIR}"),
			want: "hub.auth.password.adminPassword.fromFile: the file is a directory"},
		{name: "huge file", doc: withRef("{fromFile: DIR/big}"),
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "big"), strings.Repeat("x", 64<<10+1), 0o600)
			},
			want: "hub.auth.password.adminPassword.fromFile: the file holds 65537 bytes; a secret file holds at most 64 KiB"},
		{name: "empty file", doc: withRef("{fromFile: DIR/empty}"),
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "empty"), "\n", 0o600) },
			want:  "hub.auth.password.adminPassword.fromFile: the file is empty"},
		{name: "world-readable file", doc: withRef("{fromFile: DIR/pw}"), warning: true,
			setup: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "pw"), strings.Repeat("p", 40), 0o644) },
			want:  "hub.auth.password.adminPassword.fromFile: every account on this machine can read the file (mode 0644): chmod o-r it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.setup != nil {
				c.setup(t, dir)
			}
			doc := strings.ReplaceAll(c.doc, "DIR", dir)
			want := strings.ReplaceAll(c.want, "DIR", dir)
			var out []string // everything a user could see
			f, err := config.Load("dhub.yaml", []byte(doc))
			var ps config.Problems
			if err != nil {
				out = append(out, err.Error())
			} else {
				ps = append(f.Hub.Validate(), f.Hub.CheckReferences()...)
				for _, p := range ps {
					out = append(out, p.String())
				}
				for _, ref := range secretRefs(f.Hub) {
					if _, err := ref.Resolve(); err != nil {
						out = append(out, err.Error())
					}
				}
				if len(ps.Errors()) == 0 {
					// As 'dhub render' and 'dhub render --show-secrets' do.
					for _, show := range []bool{false, true} {
						files, err := render.Files(f.Hub, show)
						if err != nil {
							out = append(out, err.Error())
						}
						for _, rf := range files {
							out = append(out, string(rf.Content))
						}
					}
				}
			}
			all := strings.Join(out, "\n")
			if c.secret != "" && strings.Contains(all, c.secret) {
				t.Errorf("the pasted secret reaches the output:\n%s", all)
			}
			switch {
			case c.want == "":
				if err != nil || len(ps.Errors()) > 0 {
					t.Errorf("refused a good file: %v %v", err, ps)
				}
			case strings.HasPrefix(c.want, "dhub.yaml:") || err != nil:
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("load error %v, want %q", err, want)
				}
			default:
				found := false
				for _, p := range ps {
					found = found || (p.Path+": "+p.Message == want && p.Warning == c.warning)
				}
				if !found {
					t.Errorf("problems %v, want %q (warning %v)", ps, want, c.warning)
				}
				if c.name == "unknown target" && len(ps) != 1 {
					t.Errorf("an unknown target gives %d problems, want 1: %v", len(ps), ps)
				}
			}
		})
	}
}

// secretRefs returns every secret reference of h.
func secretRefs(h *config.Hub) []config.SecretRef {
	var refs []config.SecretRef
	a := &h.JupyterHub.Auth
	if a.AzureAD != nil {
		refs = append(refs, a.AzureAD.ClientSecret)
	}
	if a.Password != nil {
		refs = append(refs, a.Password.AdminPassword, a.Password.UserPassword)
	}
	return refs
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// mergeBomb merges one large anchor into many mappings: each merge is a
// line, but stands for every key of the anchor.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("name: lab\ncharts:\n  jupyterhub:\n    values:\n      a: &a {")
	for i := range 2000 {
		fmt.Fprintf(&b, "k%d: 1, ", i)
	}
	b.WriteString("}\n      b:\n")
	for range 2000 {
		b.WriteString("        - <<: *a\n")
	}
	return b.String()
}
