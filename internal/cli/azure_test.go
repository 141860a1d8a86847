package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/kube/kubetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// fakeAzure points the azure verbs at a fresh in-memory Azure for the test
// and returns it, with dir holding the recommended example as dhub.yaml.
// The fake's credentials API hands out the kubeconfig of the package's real
// control plane, so 'up' goes on to install the (test) charts there; the
// outside world a kwok cluster lacks (DNS, the hub answering over HTTPS) is
// stood in for by a prober that always answers.
func fakeAzure(t *testing.T) (*azurefake.World, string) {
	t.Helper()
	poolNodes(t)
	w := azurefake.New()
	w.Kubeconfig = cluster.KubeconfigBytes()
	old, oldHook := azureOptions, kubeOptionsHook
	azureOptions = func(*config.Hub) (azure.Options, error) { return w.Options(nil), nil }
	kubeOptionsHook = func(o *kube.Options) {
		o.Prober, o.PollInterval, o.ReadyTimeout, o.URLTimeout = answeringProber{}, 200*time.Millisecond, time.Minute, 30*time.Second
		o.CacheDir = t.TempDir()
	}
	t.Cleanup(func() { azureOptions, kubeOptionsHook = old, oldHook })
	t.Setenv("DHUB_AZUREAD_CLIENT_SECRET", "S3CR3T-SENTINEL")
	for _, v := range []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"} {
		t.Setenv(v, t.TempDir())
	}
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "azure-recommended.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jh, err1 := kubetest.Chart("jupyterhub")
	dg, err2 := kubetest.Chart("dask-gateway")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// The example's charts come from their repositories; the test's from
	// testdata, with the hub's database in memory (kwok has no volumes).
	b = append(b, fmt.Sprintf(`charts:
  jupyterhub:
    path: %s
    values: {hub: {db: {type: sqlite-memory}}}
  daskGateway: {path: %s}
`, jh, dg)...)
	if err := os.WriteFile(filepath.Join(dir, "dhub.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return w, dir
}

type answeringProber struct{}

func (answeringProber) Resolve(context.Context, string) error { return nil }
func (answeringProber) Get(context.Context, string) error     { return nil }

func TestAzurePlanJSONGolden(t *testing.T) {
	w, dir := fakeAzure(t)
	path, _ := filepath.Abs(filepath.Join("testdata", "azure-plan-fresh.json"))
	code, stdout, stderr := run(t, dir, "plan", "-o", "json", "--detailed-exitcode")
	if code != ExitChanges {
		t.Fatalf("exit %d, want 2 (changes); stderr %s", code, stderr)
	}
	if *updateGolden {
		os.WriteFile(path, []byte(stdout), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -run AzurePlan -update)", err)
	}
	if stdout != string(want) {
		t.Errorf("plan -o json differs from %s:\n%s", path, stdout)
	}
	if len(w.Writes()) != 0 {
		t.Errorf("plan wrote: %v", w.Writes())
	}
	for _, r := range w.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("plan sent %s %s", r.Method, r.Path)
		}
	}
}

func TestAzureUpStatusKubeconfigDownEndToEnd(t *testing.T) {
	w, dir := fakeAzure(t)

	// Not interactive and no --yes: refused before any write.
	code, stdout, stderr := run(t, dir, "up")
	if code != 1 || !strings.Contains(stderr, "standard input is not a terminal; run 'dhub up --yes'") || len(w.Writes()) != 0 {
		t.Fatalf("up without --yes: exit %d, writes %d, stderr %s", code, len(w.Writes()), stderr)
	}
	if !strings.Contains(stdout, "+ create   managed cluster pangeoCluster") {
		t.Errorf("up did not show the plan first:\n%s", stdout)
	}

	code, stdout, stderr = run(t, dir, "up", "--yes")
	if code != 0 {
		t.Fatalf("up --yes: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{"5 to create.", "Azure matches dhub.yaml: resource group pangeo, managed cluster pangeoCluster with 3 node pools (2 write(s), 1 long-running operation(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("up stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "DaskHub is up at https://pangeo-hub.westeurope.cloudapp.azure.com/") {
		t.Errorf("up did not install the hub on the cluster:\n%s", stdout)
	}
	for _, want := range []string{"managed cluster pangeoCluster: create accepted by Azure", "create done in", "release jupyterhub: installing", "components ready"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("up stderr lacks %q:\n%s", want, stderr)
		}
	}

	w.ResetLog()
	code, stdout, _ = run(t, dir, "up")
	if code != 0 || !strings.Contains(stdout, "No changes") || !strings.Contains(stdout, "Azure already matches dhub.yaml") || len(w.Writes()) != 0 {
		t.Errorf("second up: exit %d, writes %d:\n%s", code, len(w.Writes()), stdout)
	}

	if !strings.Contains(stdout, "no-op    helm release jupyterhub: revision 1 has this chart and these values") {
		t.Errorf("second up's plan lacks the Helm side:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "S3CR3T-SENTINEL") {
		t.Error("the Azure AD client secret was printed")
	}

	code, stdout, _ = run(t, dir, "status", "-o", "json")
	dec := json.NewDecoder(strings.NewReader(stdout))
	var st azure.Status
	var hub kube.Status
	if code != 0 || dec.Decode(&st) != nil || dec.Decode(&hub) != nil || !st.Ready() || len(st.Pools) != 3 || !hub.Up {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, dir, "status")
	if code != 0 || !strings.Contains(stdout, "workers  User    Standard_D2s_v3  1      0    50   Spot") || !strings.Contains(stdout, "hub URL:       https://pangeo-hub.westeurope.cloudapp.azure.com/ answers") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = run(t, dir, "kubeconfig")
	if code != 0 || stdout != string(cluster.KubeconfigBytes()) {
		t.Errorf("kubeconfig: exit %d\n%s", code, stdout)
	}
	kc := filepath.Join(dir, "kube", "config")
	code, stdout, stderr = run(t, dir, "kubeconfig", "--merge", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, `added context entry "dhub-pangeo-hub"`) || !strings.Contains(stdout, "current-context (none) -> dhub-pangeo-hub") {
		t.Errorf("kubeconfig --merge: exit %d\n%s%s", code, stdout, stderr)
	}
	if st, err := os.Stat(kc); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("merged kubeconfig: %v %v", st, err)
	}
	code, stdout, _ = run(t, dir, "kubeconfig", "--merge", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, "already has context dhub-pangeo-hub") {
		t.Errorf("second merge: exit %d\n%s", code, stdout)
	}

	w.ResetLog()
	code, _, stderr = run(t, dir, "down")
	if code != 1 || !strings.Contains(stderr, "run 'dhub down --yes'") || len(w.Writes()) != 0 {
		t.Fatalf("down without --yes: exit %d, writes %d: %s", code, len(w.Writes()), stderr)
	}
	code, stdout, stderr = run(t, dir, "down", "--yes")
	if code != 0 || !strings.Contains(stdout, "deleted resource group pangeo") || !strings.Contains(stdout, "nothing tagged dhub-hub=pangeo-hub is left") {
		t.Errorf("down --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, dir, "status")
	if code != 1 || !strings.Contains(stdout, "does not exist") {
		t.Errorf("status after down: exit %d\n%s", code, stdout)
	}
}

func TestAzureErrorIsOneSentenceAndFullWithDebug(t *testing.T) {
	w, dir := fakeAzure(t)
	quota := &azurefake.Fault{Method: "PUT", Path: "/managedClusters/pangeoCluster", Times: 2, Status: http.StatusConflict, Code: "QuotaExceeded",
		Message: "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 4, Current Usage: 2, Additional Required: 4, (Minimum) New Limit Required: 6."}
	w.AddFault(quota)
	code, _, stderr := run(t, dir, "up", "--yes")
	if code != 1 || !strings.Contains(stderr, "error: managed cluster pangeoCluster: Azure refused with QuotaExceeded: the standardDSv3Family vCPU quota in westeurope is too small") ||
		strings.Contains(stderr, "Current Usage") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = run(t, dir, "up", "--yes", "--debug")
	if code != 1 || !strings.Contains(stderr, "full Azure error:") || !strings.Contains(stderr, "Current Usage: 2") {
		t.Errorf("--debug: exit %d, stderr %s", code, stderr)
	}
	// --debug does not stick to the next run.
	w.AddFault(&azurefake.Fault{Method: "PUT", Path: "/managedClusters/pangeoCluster", Status: http.StatusConflict, Code: "QuotaExceeded", Message: quota.Message})
	if _, _, stderr = run(t, dir, "up", "--yes"); strings.Contains(stderr, "full Azure error") {
		t.Errorf("--debug leaked into the next run: %s", stderr)
	}
}

func TestAzureNoSubscriptionListsTheThreePlaces(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join("..", "..", "examples", "azure-recommended.yaml"))
	os.WriteFile(filepath.Join(dir, "dhub.yaml"), b, 0o644)
	t.Setenv("AZURE_SUBSCRIPTION_ID", "")
	t.Setenv("AZURE_CONFIG_DIR", "")
	t.Setenv("HOME", t.TempDir())
	code, _, stderr := run(t, dir, "plan")
	if code != 1 || !strings.Contains(stderr, "azure.subscription in dhub.yaml, or AZURE_SUBSCRIPTION_ID, or pick a default with 'az login'") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
