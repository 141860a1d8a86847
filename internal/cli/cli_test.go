package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/deploy"
)

// run executes dhub and returns its exit code, stdout and stderr. Paths
// must be absolute: tests that use it run in parallel.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runWith(t, deploy.Options{}, args...)
}

// runWith is run with the targets' options given. No stream is a
// terminal: nobody is there to answer a question.
func runWith(t *testing.T, o deploy.Options, args ...string) (int, string, string) {
	t.Helper()
	return runStreams(t, o, Streams{In: strings.NewReader("")}, args...)
}

// runStreams is runWith with s's input and terminals; it sets s.Out and
// s.Err to buffers it returns as strings.
func runStreams(t *testing.T, o deploy.Options, s Streams, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	s.Out, s.Err = &out, &errb
	code := RunWith(args, s, o)
	return code, out.String(), errb.String()
}

// answering is a person at a terminal who types answer to any question.
func answering(answer string) Streams {
	return Streams{In: strings.NewReader(answer), InTerminal: true}
}

// runIn executes dhub in dir, for what depends on the working directory
// (the default dhub.yaml); such tests cannot run in parallel.
func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	return run(t, args...)
}

// reachableTempDir is t.TempDir() with its parent (made 0700 by the
// testing package) crossable by other accounts, as a local hub's state
// directory's parents must be when dhub runs as root.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeHub writes a dhub.yaml into a new directory and returns its path.
func writeHub(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dhub.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInitThenValidate(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runIn(t, dir, "init")
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "wrote dhub.yaml") {
		t.Errorf("init stderr = %q, want it to say what it wrote", stderr)
	}
	code, stdout, stderr := runIn(t, dir, "validate")
	if code != 0 || !strings.Contains(stdout, "is valid: hub pangeo-hub, target local") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A second init must not overwrite the user's edits.
	code, _, stderr = runIn(t, dir, "init")
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("second init: exit %d, stderr %q; want refusal naming --force", code, stderr)
	}
	if code, _, stderr := runIn(t, dir, "init", "--force", "--target", "azure", "--profile", "simple"); code != 0 {
		t.Fatalf("init --force: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dhub.yaml"))
	if !strings.Contains(string(b), "target: azure") {
		t.Errorf("--force did not rewrite the file:\n%s", b)
	}
}

func TestInitToStdoutAndBadFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, stdout, _ := run(t, "init", "-f", "-", "--target", "kubernetes")
	if code != 0 || !strings.Contains(stdout, "target: kubernetes") {
		t.Fatalf("init -f -: exit %d, stdout %q", code, stdout)
	}
	code, _, stderr := run(t, "init", "-f", filepath.Join(dir, "dhub.yaml"), "--target", "gcp")
	if code != 1 || !strings.Contains(stderr, `target "gcp" is not one of`) {
		t.Errorf("bad target: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "dhub.yaml")); err == nil {
		t.Error("init with a bad target wrote dhub.yaml")
	}
}

func TestValidateReportsEveryProblemWithLine(t *testing.T) {
	t.Parallel()
	cfg := `apiVersion: dhub/v1alpha1
kind: Hub
name: pangeo-hub
target: azure
profile: recommended
hub:
  https:
    contactEmail: admin@example.org
  auth:
    type: azuread
    azuread:
      tenantId: 11111111-1111-1111-1111-111111111111
      clientId: 22222222-2222-2222-2222-222222222222
      clientSecret: {fromEnv: AAD_SECRET}
dask:
  workerCores: {default: 40, min: 1, max: 2}
`
	path := writeHub(t, cfg)
	code, _, stderr := run(t, "validate", "-f", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	for _, want := range []string{
		"has 3 problem(s)",
		"dhub.yaml:11: hub.auth.azuread: no one is allowed to log in; set allowedUsers, allowedGroups, admins or allowAll",
		"dhub.yaml:14: hub.auth.azuread.clientSecret.fromEnv: the environment variable it names is not set",
		"dhub.yaml:16: dask.workerCores.default: 40 is outside 1..2",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateUnknownKey(t *testing.T) {
	t.Parallel()
	path := writeHub(t, "name: x\nazure:\n  nodePool: []\n")
	code, _, stderr := run(t, "validate", "-f", path)
	if code != 1 || !strings.Contains(stderr, `dhub.yaml:3: azure.nodePool: unknown field; did you mean "nodePools"?`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// validate checks a file and kubeconfig is for the azure target: without
// a dhub.yaml both fail and name 'dhub init'.
func TestValidateAndKubeconfigWantAFile(t *testing.T) {
	dir := t.TempDir()
	for _, verb := range []string{"validate", "kubeconfig"} {
		code, stdout, stderr := runIn(t, dir, verb)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "error: dhub.yaml not found: 'dhub init' writes one") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", verb, code, stdout, stderr)
		}
	}
}

func TestRenderRedactsAndWritesOwnerOnlyFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DHUB_AZUREAD_CLIENT_SECRET", "S3CR3T-SENTINEL")
	if code, _, stderr := runIn(t, dir, "init", "--target", "azure", "--email", "a@example.org",
		"--tenant-id", "11111111-1111-1111-1111-111111111111", "--client-id", "22222222-2222-2222-2222-222222222222"); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dhub.yaml"))
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), bytes.Replace(b, []byte("allowAll: false"), []byte("allowAll: true"), 1), 0o644)

	code, stdout, stderr := runIn(t, dir, "render")
	if code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "S3CR3T-SENTINEL") {
		t.Fatal("render printed the secret without --show-secrets")
	}
	for _, want := range []string{"# Source: jupyterhub-values.yaml", "# Source: dask-gateway-values.yaml",
		"# Source: secret-dhub-auth.yaml", "<redacted: from env:DHUB_AZUREAD_CLIENT_SECRET>"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("render output lacks %q", want)
		}
	}

	code, _, stderr = runIn(t, dir, "render", "-o", "out", "--show-secrets")
	if code != 0 {
		t.Fatalf("render -o: exit %d: %s", code, stderr)
	}
	secret := filepath.Join(dir, "out", "secret-dhub-auth.yaml")
	st, err := os.Stat(secret)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", secret, st.Mode().Perm())
	}
	if b, _ := os.ReadFile(secret); !strings.Contains(string(b), "S3CR3T-SENTINEL") {
		t.Error("--show-secrets did not resolve the secret into the Secret manifest")
	}
	if strings.Contains(stderr, "S3CR3T-SENTINEL") {
		t.Error("render -o printed the secret")
	}
}

func TestUpUsesDefaultsWithoutConfigAndRefusesTargetMismatch(t *testing.T) {
	dir := t.TempDir()
	// No python3 on PATH: up must get past the config, then fail clearly
	// before starting anything.
	t.Setenv("XDG_STATE_HOME", reachableTempDir(t))
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := runIn(t, dir, "up", "--target", "local")
	if code != 1 || !strings.Contains(stderr, "using the defaults of target local") ||
		!strings.Contains(stderr, "local.python: python3 not found") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	runIn(t, dir, "init", "--target", "azure", "--profile", "simple")
	code, _, stderr = runIn(t, dir, "up", "--target", "local")
	if code != 1 || !strings.Contains(stderr, "dhub.yaml is for target azure, not local") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	code, stdout, _ := run(t, "version", "-o", "json")
	var v VersionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if v.JupyterHubChart != "4.4.0" || v.DaskGatewayChart != "2026.3.0" || v.Version == "" {
		t.Errorf("version = %+v", v)
	}
}

// Every verb's --help shows examples of it.
func TestEveryVerbsHelpHasExamples(t *testing.T) {
	t.Parallel()
	for _, cmd := range newRoot(&env{}).Commands() {
		verb := cmd.Name()
		code, stdout, stderr := run(t, verb, "--help")
		if code != 0 || !strings.Contains(stdout, "\nExamples:\n  dhub "+verb) {
			t.Errorf("dhub %s --help: exit %d, no examples of it:\n%s%s", verb, code, stdout, stderr)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, "frobnicate")
	if code != 1 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestTargetFlagFillsAFileWithoutTarget(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), []byte("name: lab\nprofile: simple\n"), 0o644)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	// kubernetes with no kubeconfig anywhere: up fails looking for one,
	// which only the kubernetes target does.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	code, _, stderr := runIn(t, dir, "up", "--target", "kubernetes")
	if code != 1 || !strings.Contains(stderr, "no kubeconfig: set kubernetes.kubeconfig") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// render renders the hub up acts on: the file, as target kubernetes.
	code, stdout, stderr := runIn(t, dir, "render", "--target", "kubernetes")
	if code != 0 || !strings.Contains(stdout, "# Source: jupyterhub-values.yaml") {
		t.Errorf("render: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestEveryHubVerbRefusesAnUnknownTarget: one error, the same in every
// verb, before anything is done.
func TestEveryHubVerbRefusesAnUnknownTarget(t *testing.T) {
	t.Parallel()
	path := writeHub(t, "name: lab\ntarget: gcp\n")
	for _, verb := range []string{"validate", "render", "plan", "up", "status", "smoke", "down", "kubeconfig"} {
		code, stdout, stderr := run(t, verb, "-f", path)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "has 1 problem(s)") ||
			!strings.Contains(stderr, `dhub.yaml:2: target: "gcp" is not one of local, kubernetes, azure`) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", verb, code, stdout, stderr)
		}
	}
}

func TestKubeconfigIsForAzure(t *testing.T) {
	t.Parallel()
	for target, why := range map[string]string{
		"local":                       "target local runs no cluster",
		"kubernetes\nprofile: simple": "target kubernetes uses the kubeconfig you already have",
	} {
		path := writeHub(t, "name: lab\ntarget: "+target+"\n")
		code, stdout, stderr := run(t, "kubeconfig", "-f", path)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "'dhub kubeconfig' is for target azure") || !strings.Contains(stderr, why) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", target, code, stdout, stderr)
		}
	}
}

// Without a dhub.yaml every verb that acts on a hub acts on the local
// default hub, as 'dhub up --target local' does, and says so.
func TestHubVerbsWithoutAFileActOnTheLocalDefault(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dir := t.TempDir()
	for _, verb := range []string{"render", "status", "down"} {
		code, stdout, stderr := runIn(t, dir, verb)
		if !strings.Contains(stderr, "dhub.yaml not found: using the defaults of target local") {
			t.Errorf("%s: exit %d, stderr %q", verb, code, stderr)
		}
		if verb == "render" && (code != 0 || !strings.Contains(stdout, "# Source: jupyterhub_config.py")) {
			t.Errorf("render of the default hub: exit %d, stdout %q", code, stdout)
		}
		if verb == "status" && (code != 1 || !strings.Contains(stdout, "jupyterhub")) {
			t.Errorf("status of the stopped default hub: exit %d, stdout %q", code, stdout)
		}
	}
}

// A secret pasted into fromEnv or fromFile by mistake reaches neither
// stdout nor stderr of any verb that reads the config; each says which
// field is wrong, at its line.
func TestPastedSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "Tr0ub4dorAnd3pasted" // shaped like a variable name
	for field, want := range map[string]string{
		"fromEnv":  "dhub.yaml:8: hub.auth.password.adminPassword.fromEnv: the environment variable it names is not set",
		"fromFile": "dhub.yaml:8: hub.auth.password.adminPassword.fromFile: not an absolute path",
	} {
		path := writeHub(t, `name: lab
target: kubernetes
profile: simple
hub:
  auth:
    type: password
    password:
      adminPassword: {`+field+`: `+secret+`}
`)
		for _, args := range [][]string{{"validate"}, {"render"}, {"render", "--show-secrets"}, {"plan"}, {"up"}} {
			code, stdout, stderr := run(t, append(args, "-f", path)...)
			if code != 1 || strings.Contains(stdout+stderr, secret) || !strings.Contains(stderr, want) {
				t.Errorf("%s %v: exit %d, stdout %q, stderr %q; want %q and no secret", field, args, code, stdout, stderr, want)
			}
		}
	}
}

// A file that never ends (or is only too large) is refused after 1 MiB.
func TestValidateRefusesAnEndlessFile(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, "validate", "-f", "/dev/zero")
	if code != 1 || !strings.Contains(stderr, "/dev/zero: larger than 1024 KiB") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
