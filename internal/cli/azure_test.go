package cli

import (
	"bytes"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/azure/graphfake"
	"dhub/internal/azure/prices"
	"dhub/internal/azure/prices/pricesfake"
	"dhub/internal/config"
	"dhub/internal/deploy"
	"dhub/internal/golden"
)

// fakeAzure returns a fresh in-memory Azure, the targets' options that
// reach it, and the path of the recommended example as dhub.yaml with its
// client secret read from a file. Nothing here reaches a cluster: these
// tests stop before Azure hands out one.
func fakeAzure(t *testing.T) (*azurefake.World, deploy.Options, string) {
	t.Helper()
	w := azurefake.New()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "azure-recommended.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secret, []byte("S3CR3T-SENTINEL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("{fromEnv: DHUB_AZUREAD_CLIENT_SECRET}"), []byte("{fromFile: "+secret+"}"), 1)
	path := filepath.Join(dir, "dhub.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A local Retail Prices API with the test's prices: the plan carries
	// its cost estimate.
	srv := pricesfake.New(t)
	pc := &prices.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Now: func() time.Time { return time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC) }}
	o := deploy.Options{Azure: func(*config.Hub) (azure.Options, error) {
		ao := w.Options(nil)
		ao.Prices = pc
		return ao, nil
	}}
	return w, o, path
}

func TestAzurePlanJSONGolden(t *testing.T) {
	t.Parallel()
	w, o, file := fakeAzure(t)
	path := filepath.Join("testdata", "azure-plan-fresh.json")
	code, stdout, stderr := runWith(t, o, "plan", "-f", file, "-o", "json", "--detailed-exitcode")
	if code != ExitChanges {
		t.Fatalf("exit %d, want 2 (changes); stderr %s", code, stderr)
	}
	golden.Check(t, path, []byte(stdout))
	if len(w.Writes()) != 0 {
		t.Errorf("plan wrote: %v", w.Writes())
	}
	for _, r := range w.Requests() {
		// The storage account name's check across Azure is a POST that
		// reads.
		if r.Method != http.MethodGet && !strings.Contains(r.Path, "/providers/Microsoft.Storage/checkNameAvailability") {
			t.Errorf("plan sent %s %s", r.Method, r.Path)
		}
	}
}

func TestAzureErrorIsOneSentenceAndFullWithDebug(t *testing.T) {
	t.Parallel()
	w, o, file := fakeAzure(t)
	quota := &azurefake.Fault{Method: "PUT", Path: "/managedClusters/pangeoCluster", Times: 2, Status: http.StatusConflict, Code: "QuotaExceeded",
		Message: "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 4, Current Usage: 2, Additional Required: 4, (Minimum) New Limit Required: 6."}
	w.AddFault(quota)
	code, _, stderr := runWith(t, o, "up", "-f", file, "--yes")
	if code != 1 || !strings.Contains(stderr, "error: managed cluster pangeoCluster: Azure refused with QuotaExceeded: the standardDSv3Family vCPU quota in westeurope is too small") ||
		strings.Contains(stderr, "Current Usage") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runWith(t, o, "up", "-f", file, "--yes", "--debug")
	if code != 1 || !strings.Contains(stderr, "full Azure error:") || !strings.Contains(stderr, "Current Usage: 2") {
		t.Errorf("--debug: exit %d, stderr %s", code, stderr)
	}
	// --debug does not stick to the next run.
	w.AddFault(&azurefake.Fault{Method: "PUT", Path: "/managedClusters/pangeoCluster", Status: http.StatusConflict, Code: "QuotaExceeded", Message: quota.Message})
	if _, _, stderr = runWith(t, o, "up", "-f", file, "--yes"); strings.Contains(stderr, "full Azure error") {
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
	t.Setenv("DHUB_AZUREAD_CLIENT_SECRET", "not-used")
	code, _, stderr := run(t, "plan", "-f", filepath.Join(dir, "dhub.yaml"))
	if code != 1 || !strings.Contains(stderr, "azure.subscription in dhub.yaml, or AZURE_SUBSCRIPTION_ID, or pick a default with 'az login'") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

// TestAzureManagedAppPlan: without a clientId the plan shows the Azure AD
// application dhub registers, after Graph GETs only.
func TestAzureManagedAppPlan(t *testing.T) {
	t.Parallel()
	w, _, file := fakeAzure(t)
	b, _ := os.ReadFile(file)
	var kept []string
	for _, l := range strings.Split(string(b), "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "tenantId:") || strings.HasPrefix(s, "clientId:") || strings.HasPrefix(s, "clientSecret:") {
			continue
		}
		kept = append(kept, l)
	}
	if err := os.WriteFile(file, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	g := graphfake.New(t)
	o := deploy.Options{Azure: func(*config.Hub) (azure.Options, error) {
		ao := w.Options(nil)
		ao.Credential = &graphfake.Credential{}
		ao.GraphEndpoint, ao.GraphTransport = g.URL, g.Client
		return ao, nil
	}}
	code, stdout, stderr := runWith(t, o, "plan", "-f", file)
	if code != 0 || !strings.Contains(stdout, "+ create   Azure AD application dhub pangeo-hub: dhub.yaml names no clientId: up registers the hub's application in tenant "+graphfake.Tenant) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, r := range g.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("plan sent %s %s to Graph", r.Method, r.Path)
		}
	}
}

// notYes are answers that are not consent: Ctrl-D, Enter, the habitual
// "y", "no", another spelling, more than the word.
var notYes = []string{"", "\n", "y\n", "no\n", "YES\n", "yes please\n"}

// upToTheCluster runs 'dhub up -f file' with s on the fake Azure, which
// refuses the cluster's credentials: up stops once Azure has the resource
// group and the cluster, before it would install the hub on a cluster no
// test here runs.
func upToTheCluster(t *testing.T, w *azurefake.World, o deploy.Options, file string, s Streams, args ...string) (int, string, string) {
	t.Helper()
	w.AddFault(&azurefake.Fault{Method: http.MethodPost, Path: "/listClusterUserCredential", Status: http.StatusForbidden,
		Code: "AuthorizationFailed", Message: "no cluster runs in these tests"})
	return runStreams(t, o, s, append([]string{"up", "-f", file}, args...)...)
}

// up on Azure asks before it changes Azure: only "yes" goes on; any other
// answer, or no terminal to ask on, changes nothing.
func TestAzureUpAsksBeforeChangingAzure(t *testing.T) {
	t.Parallel()
	w, o, file := fakeAzure(t)
	const question = "Apply these changes to Azure? Only 'yes' goes on: "

	code, stdout, stderr := runWith(t, o, "up", "-f", file)
	if code != 1 || strings.Contains(stderr, question) || len(w.Writes()) != 0 ||
		!strings.Contains(stderr, "error: not asking: standard input is not a terminal; run 'dhub up --yes -f "+file+"' to go ahead without a question") {
		t.Errorf("not a terminal: exit %d, writes %v, stderr %q", code, w.Writes(), stderr)
	}
	if !strings.Contains(stdout, "+ create   managed cluster pangeoCluster") {
		t.Errorf("up did not show the plan before refusing:\n%s", stdout)
	}
	for _, answer := range notYes {
		code, stdout, stderr := runStreams(t, o, answering(answer), "up", "-f", file)
		if code != 1 || !strings.Contains(stderr, question) || len(w.Writes()) != 0 ||
			!strings.Contains(stderr, "error: cancelled (only 'yes' goes on): nothing was changed") {
			t.Errorf("answer %q: exit %d, writes %v, stderr %q", answer, code, w.Writes(), stderr)
		}
		if !strings.Contains(stdout, "+ create   managed cluster pangeoCluster") {
			t.Errorf("answer %q: up did not show the plan before asking:\n%s", answer, stdout)
		}
	}

	code, _, stderr = upToTheCluster(t, w, o, file, answering("yes\n"))
	if !strings.Contains(stderr, question) || strings.Contains(stderr, "cancelled") {
		t.Errorf("yes: exit %d, stderr %q", code, stderr)
	}
	if w.Group("pangeo") == nil || w.Cluster("pangeo", "pangeoCluster") == nil {
		t.Errorf("yes: up did not go on to create the resource group and the cluster; exit %d, stderr %q", code, stderr)
	}
}

// down on Azure asks before it deletes: only "yes" deletes; any other
// answer, or no terminal to ask on, deletes nothing.
func TestAzureDownAsksBeforeDeleting(t *testing.T) {
	t.Parallel()
	w, o, file := fakeAzure(t)
	upToTheCluster(t, w, o, file, Streams{In: strings.NewReader("")}, "--yes")
	if w.Group("pangeo") == nil || w.Cluster("pangeo", "pangeoCluster") == nil {
		t.Fatal("up --yes did not create the resource group and the cluster")
	}
	w.ResetLog()
	const question = "Delete? Only 'yes' goes on: "

	code, stdout, stderr := runWith(t, o, "down", "-f", file)
	if code != 1 || strings.Contains(stderr, question) || len(w.Writes()) != 0 ||
		!strings.Contains(stderr, "error: not asking: standard input is not a terminal; run 'dhub down --yes -f "+file+"' to go ahead without a question") {
		t.Errorf("not a terminal: exit %d, writes %v, stderr %q", code, w.Writes(), stderr)
	}
	if !strings.Contains(stdout, "resource group pangeo") {
		t.Errorf("down did not show what it deletes before refusing:\n%s", stdout)
	}
	for _, answer := range notYes {
		code, _, stderr := runStreams(t, o, answering(answer), "down", "-f", file)
		if code != 1 || !strings.Contains(stderr, question) || len(w.Writes()) != 0 ||
			!strings.Contains(stderr, "error: cancelled (only 'yes' goes on): nothing was changed") {
			t.Errorf("answer %q: exit %d, writes %v, stderr %q", answer, code, w.Writes(), stderr)
		}
	}
	if w.Group("pangeo") == nil || w.Cluster("pangeo", "pangeoCluster") == nil {
		t.Fatal("a down that was not answered yes deleted the resource group or the cluster")
	}

	code, stdout, stderr = runStreams(t, o, answering("yes\n"), "down", "-f", file)
	if code != 0 || !strings.Contains(stderr, question) || !strings.Contains(stdout, "deleted resource group pangeo") {
		t.Errorf("yes: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if w.Group("pangeo") != nil {
		t.Error("yes: the resource group is still there")
	}
}

// kubeconfig prints the cluster's credentials, with a note on stderr when
// a person reads them; --merge writes only what changes: merging the same
// credentials again leaves the file and its backups as they are.
func TestAzureKubeconfigMergeWritesOnlyChanges(t *testing.T) {
	t.Parallel()
	w, o, file := fakeAzure(t)
	upToTheCluster(t, w, o, file, Streams{In: strings.NewReader("")}, "--yes")
	const note = "note: this kubeconfig holds a credential for the cluster"

	code, stdout, stderr := runWith(t, o, "kubeconfig", "-f", file)
	if code != 0 || stdout != azurefake.DefaultKubeconfig || strings.Contains(stderr, note) {
		t.Errorf("kubeconfig into a file: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	code, stdout, stderr = runStreams(t, o, Streams{OutTerminal: true}, "kubeconfig", "-f", file)
	if code != 0 || stdout != azurefake.DefaultKubeconfig || !strings.Contains(stderr, note) {
		t.Errorf("kubeconfig on a terminal: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	mine := "apiVersion: v1\nkind: Config\ncurrent-context: kind-lab\n"
	if err := os.WriteFile(kc, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runWith(t, o, "kubeconfig", "-f", file, "--merge", "--kubeconfig", kc)
	if code != 0 || !strings.Contains(stdout, `added context entry "dhub-pangeo-hub"`) ||
		!strings.Contains(stdout, "current-context kind-lab -> dhub-pangeo-hub") || !strings.Contains(stdout, "the previous file is in "+kc+".dhub-backup-") {
		t.Fatalf("first merge: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	before, beforeInfo := dirContents(t, dir), stat(t, kc)
	code, stdout, stderr = runWith(t, o, "kubeconfig", "-f", file, "--merge", "--kubeconfig", kc)
	if code != 0 || stdout != kc+" already has context dhub-pangeo-hub with these credentials: not written\n" {
		t.Errorf("second merge: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	// A write replaces the file by renaming another over it: the same
	// file is one that was not written.
	if after := dirContents(t, dir); !os.SameFile(beforeInfo, stat(t, kc)) || !maps.Equal(before, after) {
		t.Errorf("the second merge wrote: before %q, after %q", before, after)
	}
}

// dirContents maps each file name in dir to its content.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
