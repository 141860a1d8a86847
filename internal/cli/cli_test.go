package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes dhub in dir and returns its exit code, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	code := Run(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestInitThenValidate(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, dir, "init")
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "wrote dhub.yaml") {
		t.Errorf("init stderr = %q, want it to say what it wrote", stderr)
	}
	code, stdout, stderr := run(t, dir, "validate")
	if code != 0 || !strings.Contains(stdout, "is valid: hub pangeo-hub, target local") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// A second init must not overwrite the user's edits.
	code, _, stderr = run(t, dir, "init")
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("second init: exit %d, stderr %q; want refusal naming --force", code, stderr)
	}
	if code, _, stderr := run(t, dir, "init", "--force", "--target", "azure", "--profile", "simple"); code != 0 {
		t.Fatalf("init --force: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dhub.yaml"))
	if !strings.Contains(string(b), "target: azure") {
		t.Errorf("--force did not rewrite the file:\n%s", b)
	}
}

func TestInitToStdoutAndBadFlags(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := run(t, dir, "init", "-f", "-", "--target", "kubernetes")
	if code != 0 || !strings.Contains(stdout, "target: kubernetes") {
		t.Fatalf("init -f -: exit %d, stdout %q", code, stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "dhub.yaml")); err == nil {
		t.Error("init -f - wrote dhub.yaml")
	}
	code, _, stderr := run(t, dir, "init", "--target", "gcp")
	if code != 1 || !strings.Contains(stderr, `target "gcp" is not one of`) {
		t.Errorf("bad target: exit %d, stderr %q", code, stderr)
	}
}

func TestValidateReportsEveryProblemWithLine(t *testing.T) {
	dir := t.TempDir()
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
  workerCores: {default: 40, min: 1, max: 16}
`
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), []byte(cfg), 0o644)
	code, _, stderr := run(t, dir, "validate")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	for _, want := range []string{
		"has 2 problem(s)",
		"dhub.yaml:11: hub.auth.azuread: no one is allowed to log in; set allowedUsers, allowedGroups, admins or allowAll",
		"dhub.yaml:16: dask.workerCores.default: 40 is outside 1..16",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateUnknownKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), []byte("name: x\nazure:\n  nodePool: []\n"), 0o644)
	code, _, stderr := run(t, dir, "validate")
	if code != 1 || !strings.Contains(stderr, `dhub.yaml:3: azure.nodePool: unknown field; did you mean "nodePools"?`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestValidateMissingFile(t *testing.T) {
	code, _, stderr := run(t, t.TempDir(), "validate")
	if code != 1 || !strings.Contains(stderr, "dhub.yaml not found: 'dhub init' writes one") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestRenderRedactsAndWritesOwnerOnlyFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DHUB_AZUREAD_CLIENT_SECRET", "S3CR3T-SENTINEL")
	if code, _, stderr := run(t, dir, "init", "--target", "azure", "--email", "a@example.org",
		"--tenant-id", "11111111-1111-1111-1111-111111111111", "--client-id", "22222222-2222-2222-2222-222222222222"); code != 0 {
		t.Fatal(stderr)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "dhub.yaml"))
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), bytes.Replace(b, []byte("allowAll: false"), []byte("allowAll: true"), 1), 0o644)

	code, stdout, stderr := run(t, dir, "render")
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

	code, _, stderr = run(t, dir, "render", "-o", "out", "--show-secrets")
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
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	code, _, stderr := run(t, dir, "up", "--target", "local")
	if code != 1 || !strings.Contains(stderr, "using the defaults of target local") ||
		!strings.Contains(stderr, "local.python: python3 not found") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	run(t, dir, "init", "--target", "azure", "--profile", "simple")
	code, _, stderr = run(t, dir, "up", "--target", "local")
	if code != 1 || !strings.Contains(stderr, "dhub.yaml is for target azure, not local") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestVersionJSON(t *testing.T) {
	code, stdout, _ := run(t, t.TempDir(), "version", "-o", "json")
	var v VersionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	if v.JupyterHubChart != "4.4.0" || v.DaskGatewayChart != "2026.3.0" || v.Version == "" {
		t.Errorf("version = %+v", v)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := run(t, t.TempDir(), "frobnicate")
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
	code, _, stderr := run(t, dir, "up", "--target", "kubernetes")
	if code != 1 || !strings.Contains(stderr, "no kubeconfig: set kubernetes.kubeconfig") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
