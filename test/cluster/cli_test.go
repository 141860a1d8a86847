package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"dhub/internal/azure"
	"dhub/internal/azure/graphfake"
	"dhub/internal/config"
	"dhub/internal/deploy"
	"dhub/internal/kube"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestAzureUpStatusKubeconfigDownEndToEnd(t *testing.T) {
	t.Parallel()
	const ns = "cli-azure"
	w, o := fakeAzure(t, ns, "192.0.2.70")
	file := azureHub(t, ns)
	withBudget(t, file)
	dir := t.TempDir()
	t.Cleanup(func() { cleanNamespace(t, ns) })

	// Not interactive and no --yes: refused before any write.
	code, stdout, stderr := run(t, o, "up", "-f", file)
	if code != 1 || !strings.Contains(stderr, "standard input is not a terminal; run 'dhub up --yes -f "+file+"'") || len(w.Writes()) != 0 {
		t.Fatalf("up without --yes: exit %d, writes %d, stderr %s", code, len(w.Writes()), stderr)
	}
	for _, want := range []string{"+ create   managed cluster pangeoCluster", "+ create   budget dhub-pangeo-hub"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("up did not show the plan first (%q):\n%s", want, stdout)
		}
	}

	code, stdout, stderr = run(t, o, "up", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("up --yes: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, want := range []string{"17 to create.", "Azure matches dhub.yaml: resource group pangeo, managed cluster pangeoCluster with 3 node pools (9 write(s), 2 long-running operation(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("up stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "DaskHub is up at https://pangeo-hub-r2crrr.westeurope.cloudapp.azure.com/") {
		t.Errorf("up did not install the hub on the cluster:\n%s", stdout)
	}
	// The users' service account names the identity up made after the
	// hub's first plan.
	id := w.Identity("pangeo", "dhub-pangeo-hub-storage")
	sa, err := cluster.Client().CoreV1().ServiceAccounts(ns).Get(context.Background(), "dhub-storage", metav1.GetOptions{})
	if err != nil || id == nil || sa.Annotations["azure.workload.identity/client-id"] != *id.Properties.ClientID {
		t.Errorf("service account dhub-storage: %v %v, identity %v", err, sa.Annotations, id)
	}
	for _, want := range []string{"managed cluster pangeoCluster: create accepted by Azure", "create done in", "release " + ns + "-jupyterhub: installing", "components ready"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("up stderr lacks %q:\n%s", want, stderr)
		}
	}

	w.ResetLog()
	code, stdout, _ = run(t, o, "up", "-f", file)
	if code != 0 || !strings.Contains(stdout, "No changes") || !strings.Contains(stdout, "Azure already matches dhub.yaml") || len(w.Writes()) != 0 {
		t.Errorf("second up: exit %d, writes %d:\n%s", code, len(w.Writes()), stdout)
	}

	if !strings.Contains(stdout, "no-op    helm release "+ns+"-jupyterhub: revision 1 has this chart and these values") {
		t.Errorf("second up's plan lacks the Helm side:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, "S3CR3T-SENTINEL") {
		t.Error("the Azure AD client secret was printed")
	}

	code, stdout, _ = run(t, o, "status", "-f", file, "-o", "json")
	var st deploy.Status
	dec := json.NewDecoder(strings.NewReader(stdout))
	if code != 0 || dec.Decode(&st) != nil || dec.More() {
		t.Fatalf("status -o json: exit %d, want one JSON document:\n%s", code, stdout)
	}
	if !st.Up || st.Azure == nil || !st.Azure.Ready() || len(st.Azure.Pools) != 3 || st.Kubernetes == nil || !st.Kubernetes.Up ||
		st.URL != "https://pangeo-hub-r2crrr.westeurope.cloudapp.azure.com/" || st.Target != "azure" {
		t.Errorf("status: %s", stdout)
	}
	w.SetBudgetSpend("dhub-pangeo-hub", 312.5, 841, "USD")
	code, stdout, _ = run(t, o, "status", "-f", file)
	if code != 0 || !strings.Contains(stdout, "workers  User    Standard_D2s_v3  1      0    50   Spot") || !strings.Contains(stdout, "hub URL:       https://pangeo-hub-r2crrr.westeurope.cloudapp.azure.com/ answers") ||
		!strings.Contains(stdout, "scratch az://scratch/<user> (storage account dhubpangeohubk5t5bb): blobs kept 7 days after their last change; reached as managed identity "+*id.Properties.ClientID) ||
		!strings.Contains(stdout, "budget dhub-pangeo-hub: 900 USD a month; this month 312.50 USD spent (35%), 841.00 USD forecast for the month; mails at actual 80%, 100%; forecast 100%; to ops@example.org") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = run(t, o, "kubeconfig", "-f", file)
	if code != 0 || stdout != string(cluster.KubeconfigBytes()) {
		t.Errorf("kubeconfig: exit %d\n%s", code, stdout)
	}
	kc := filepath.Join(dir, "kube", "config")
	code, stdout, stderr = run(t, o, "kubeconfig", "-f", file, "--merge", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, `added context entry "dhub-pangeo-hub"`) || !strings.Contains(stdout, "current-context (none) -> dhub-pangeo-hub") {
		t.Errorf("kubeconfig --merge: exit %d\n%s%s", code, stdout, stderr)
	}
	if st, err := os.Stat(kc); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("merged kubeconfig: %v %v", st, err)
	}
	code, stdout, _ = run(t, o, "kubeconfig", "-f", file, "--merge", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, "already has context dhub-pangeo-hub") {
		t.Errorf("second merge: exit %d\n%s", code, stdout)
	}

	w.ResetLog()
	code, _, stderr = run(t, o, "down", "-f", file)
	if code != 1 || !strings.Contains(stderr, "run 'dhub down --yes -f "+file+"'") || len(w.Writes()) != 0 {
		t.Fatalf("down without --yes: exit %d, writes %d: %s", code, len(w.Writes()), stderr)
	}
	code, stdout, stderr = run(t, o, "down", "-f", file, "--yes")
	if code != 0 || !strings.Contains(stdout, "deleted resource group pangeo") || !strings.Contains(stdout, "deleted budget dhub-pangeo-hub") ||
		!strings.Contains(stdout, "nothing tagged dhub-hub=pangeo-hub is left") || w.Budget("dhub-pangeo-hub") != nil {
		t.Errorf("down --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = run(t, o, "status", "-f", file)
	if code != 1 || !strings.Contains(stdout, "does not exist") {
		t.Errorf("status after down: exit %d\n%s", code, stdout)
	}
}

func TestKubernetesVerbsEndToEnd(t *testing.T) {
	t.Parallel()
	const ns = "cli-kube"
	file, _ := kubeHub(t, ns)
	o := options(t, ns, nil)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.41")
	t.Cleanup(func() { cleanNamespace(t, ns) })

	code, stdout, stderr := run(t, o, "plan", "-f", file, "--detailed-exitcode")
	if code != 2 || !strings.Contains(stdout, "4 to create.") {
		t.Fatalf("plan before up: exit %d, want 2\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, o, "up", "-f", file)
	if code != 0 || !strings.Contains(stdout, "DaskHub is up at http://192.0.2.41/") || !strings.Contains(stderr, "gateway API answering") {
		t.Fatalf("up: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ = run(t, o, "plan", "-f", file, "--detailed-exitcode"); code != 0 || !strings.Contains(stdout, "No changes") {
		t.Errorf("plan after up: exit %d, want 0\n%s", code, stdout)
	}
	code, stdout, _ = run(t, o, "status", "-f", file, "-o", "json")
	var st deploy.Status
	if dec := json.NewDecoder(strings.NewReader(stdout)); code != 0 || dec.Decode(&st) != nil || dec.More() || !st.Up || st.Kubernetes == nil || st.Local != nil || st.Azure != nil {
		t.Errorf("status -o json: exit %d\n%s", code, stdout)
	}

	// Without the gateway API answering the hub is not up, whatever the
	// components say.
	silent := o
	silent.Kube = func(ko *kube.Options) {
		o.Kube(ko)
		ko.ServiceGet = func(context.Context, string, string, string) ([]byte, error) {
			return nil, errors.New("connection refused")
		}
	}
	code, stdout, _ = run(t, silent, "status", "-f", file)
	if code != 1 || !strings.Contains(stdout, "gateway API:   not answering") {
		t.Errorf("status with the gateway API silent: exit %d, want 1\n%s", code, stdout)
	}

	code, stdout, stderr = run(t, o, "down", "-f", file)
	if code != 1 || !strings.Contains(stderr, "run 'dhub down --yes -f "+file+"'") || !strings.Contains(stdout, "- delete   helm release "+ns+"-jupyterhub") {
		t.Errorf("down without --yes: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, _, err := releaseRevisions(ns); err != nil {
		t.Errorf("down without --yes removed the hub: %v", err)
	}
	code, stdout, stderr = run(t, o, "down", "-f", file, "--yes")
	if code != 0 || !strings.Contains(stdout, "uninstalled: "+ns+"-dask-gateway, "+ns+"-jupyterhub") || !strings.Contains(stdout, "namespace "+ns) {
		t.Errorf("down --yes: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestAzureManagedApplicationEndToEnd: with no clientId in dhub.yaml, up
// registers the hub's application in (a fake) Microsoft Graph and puts its
// client secret straight into the cluster's dhub-auth Secret, never into
// the output; a converged up reads Graph only; down deletes the
// application dhub made.
func TestAzureManagedApplicationEndToEnd(t *testing.T) {
	t.Parallel()
	const ns = "cli-azure-app"
	w, o := fakeAzure(t, ns, "192.0.2.71")
	g := graphfake.New(t)
	o.Azure = func(*config.Hub) (azure.Options, error) {
		ao := w.Options(nil)
		ao.Credential = &graphfake.Credential{}
		ao.GraphEndpoint, ao.GraphTransport = g.URL, g.Client
		return ao, nil
	}
	file := azureHub(t, ns)
	doc := string(mustRead(t, file))
	for _, line := range []string{"      tenantId: 00000000-0000-0000-0000-00000000a11d\n", "      clientId: 00000000-0000-0000-0000-0000000c11e7\n"} {
		if !strings.Contains(doc, line) {
			t.Fatalf("the example lacks %q", line)
		}
		doc = strings.Replace(doc, line, "", 1)
	}
	doc = regexp.MustCompile(`(?m)^      clientSecret: .*\n`).ReplaceAllString(doc, "")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanNamespace(t, ns) })

	code, stdout, stderr := run(t, o, "up", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if g.Apps() != 1 {
		t.Fatalf("applications in Graph after up: %d, want 1", g.Apps())
	}
	s, err := cluster.Client().CoreV1().Secrets(ns).Get(context.Background(), "dhub-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inCluster := string(s.Data["azuread-client-secret"])
	if inCluster == "" || !slices.Contains(g.Secrets(), inCluster) {
		t.Errorf("the cluster's client secret (%d characters) is not one Graph issued", len(inCluster))
	}
	for _, secret := range g.Secrets() {
		if strings.Contains(stdout+stderr, secret) {
			t.Error("up's output shows the application's client secret")
		}
	}

	before := len(g.Requests())
	if code, stdout, stderr := run(t, o, "up", "-f", file, "--yes"); code != 0 {
		t.Fatalf("second up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, r := range g.Requests()[before:] {
		if r.Method != "GET" {
			t.Errorf("a converged up sent Graph %s %s", r.Method, r.Path)
		}
	}
	t.Logf("Graph requests of a converged up: %d", len(g.Requests())-before)

	if code, stdout, stderr := run(t, o, "down", "-f", file, "--yes"); code != 0 {
		t.Fatalf("down: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if g.Apps() != 0 {
		t.Errorf("applications in Graph after down: %d, want 0 (dhub made it)", g.Apps())
	}
}
