package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/cli"
	"dhub/internal/config"
	"dhub/internal/deploy"
	"dhub/internal/kube"
	"dhub/internal/kube/kubetest"
	"dhub/internal/plan"
)

// cluster is the package's control plane.
var cluster *kubetest.Cluster

func TestMain(m *testing.M) { kubetest.Main(m, "dhub-cluster-test", &cluster, kubetest.PoolNodes) }

// answeringProber stands in for the hub answering at its URL, which a
// kwok cluster does not have.
type answeringProber struct{}

func (answeringProber) Get(context.Context, string) error { return nil }

// options are the targets' options for a hub in namespace ns of the test
// cluster: short waits, a prober that answers, a DNS that knows no name
// (see withDNS), a gateway API that answers on its health path once its
// Service has a ready endpoint, and a chart cache of the test's.
func options(t *testing.T, ns string, progress *bytes.Buffer) deploy.Options {
	t.Helper()
	cache := t.TempDir()
	resolver := kubetest.StartDNS(t).Resolver()
	o := deploy.Options{Kube: func(o *kube.Options) {
		o.Prober, o.PollInterval, o.ReadyTimeout, o.URLTimeout = answeringProber{}, 200*time.Millisecond, time.Minute, 30*time.Second
		o.Resolver = resolver
		o.ServiceGet = cluster.ServiceAnswers(ns, kubetest.GatewayAPI(`{"status": "pass"}`))
		o.CacheDir = cache
	}}
	if progress != nil {
		o.Progress = progress
	}
	return o
}

// testCharts appends the test charts to a dhub.yaml, with the hub's
// database in memory (kwok provisions no volumes).
func testCharts(t *testing.T, doc []byte) []byte {
	t.Helper()
	jh, err1 := kubetest.Chart("jupyterhub")
	dg, err2 := kubetest.Chart("dask-gateway")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return append(doc, fmt.Sprintf(`charts:
  jupyterhub:
    path: %s
    values: {hub: {db: {type: sqlite-memory}}}
  daskGateway: {path: %s}
`, jh, dg)...)
}

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadHub loads and validates a dhub.yaml as the CLI does.
func loadHub(t *testing.T, path string) *config.Hub {
	t.Helper()
	f, err := config.LoadFileAs(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if ps := f.Hub.Validate().Errors(); len(ps) > 0 {
		t.Fatalf("%s: %v", path, ps)
	}
	return f.Hub
}

// kubeHub writes a kubernetes-target hub with password login into its own
// namespace and returns the path of its dhub.yaml; the admin password is
// read from a file next to it, whose path is returned too.
func kubeHub(t *testing.T, ns string) (file, password string) {
	t.Helper()
	dir := t.TempDir()
	password = writeFile(t, dir, "admin-password", []byte(strings.Repeat("a", 40)+"\n"))
	doc := fmt.Sprintf(`name: %s
target: kubernetes
namespace: %s
hub:
  https: {enabled: false}
  auth:
    type: password
    password:
      adminPassword: {fromFile: %s}
  storage: {class: %s}
kubernetes:
  kubeconfig: %s
  nodeRoles: [core, user, worker]
`, ns, ns, password, staticClass(t), cluster.Kubeconfig())
	return writeFile(t, dir, "dhub.yaml", testCharts(t, []byte(doc))), password
}

// staticClass makes sure the test cluster has the StorageClass of
// pre-made volumes (kwok has no default class and provisions nothing) and
// returns its name: the preflight wants a class for users' homes.
func staticClass(t *testing.T) string {
	t.Helper()
	if err := cluster.EnsureStaticClass(context.Background(), kubetest.StaticClass); err != nil {
		t.Fatal(err)
	}
	return kubetest.StaticClass
}

// changes lists a plan's changes other than no-op, as "kind name".
func changes(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Action != plan.NoOp {
			out = append(out, c.Kind+" "+c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// kubeState is what a plan on the kubernetes side may change, each with a
// version that moves when it is written: the namespace, the dhub-auth
// Secret and each Helm release.
func kubeState(t *testing.T, ns string) map[string]string {
	t.Helper()
	ctx := context.Background()
	core := cluster.Client().CoreV1()
	st := map[string]string{}
	if n, err := core.Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		st["namespace "+ns] = string(n.UID)
	}
	if s, err := core.Secrets(ns).Get(ctx, "dhub-auth", metav1.GetOptions{}); err == nil {
		st["secret dhub-auth"] = s.ResourceVersion
	}
	if sa, err := core.ServiceAccounts(ns).Get(ctx, "dhub-storage", metav1.GetOptions{}); err == nil {
		st["service account dhub-storage"] = sa.ResourceVersion
	}
	// Helm keeps one Secret per release revision.
	revs, err := core.Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range revs.Items {
		key := "helm release " + s.Labels["name"]
		if v := s.Labels["version"]; len(v) > len(st[key]) || (len(v) == len(st[key]) && v > st[key]) {
			st[key] = v
		}
	}
	return st
}

// moved lists the keys whose versions differ between two states.
func moved(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// run executes dhub with the targets' options o.
func run(t *testing.T, o deploy.Options, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.RunWith(args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, o)
	return code, out.String(), errb.String()
}

// withDNS is o with the hub's name resolved by dns alone.
func withDNS(o deploy.Options, dns *kubetest.DNS) deploy.Options {
	base, resolver := o.Kube, dns.Resolver()
	o.Kube = func(ko *kube.Options) {
		base(ko)
		ko.Resolver = resolver
	}
	return o
}

// azureHost is the hub's name in the azure example (see azureHub): its
// DNS label in its region.
const azureHost = "pangeo-hub-r2crrr.westeurope.cloudapp.azure.com"

// fakeAzure returns a fresh in-memory Azure that hands out the test
// cluster's kubeconfig, and the targets' options that reach it and the
// cluster. As Azure would, it gives proxy-public of namespace ns the
// public address ip, which the hub's DNS label (azureHost) resolves to.
func fakeAzure(t *testing.T, ns, ip string) (*azurefake.World, deploy.Options) {
	t.Helper()
	w := azurefake.New()
	w.Kubeconfig = cluster.KubeconfigBytes()
	cluster.AssignLoadBalancer(t, ns, "proxy-public", ip)
	dns := kubetest.StartDNS(t)
	dns.Set(azureHost, ip)
	o := withDNS(options(t, ns, nil), dns)
	o.Azure = func(*config.Hub) (azure.Options, error) { return w.Options(nil), nil }
	return w, o
}

// azureHub writes the recommended example as dhub.yaml with the test
// charts, namespace ns and its client secret read from a file.
func azureHub(t *testing.T, ns string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "azure-recommended.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := writeFile(t, dir, "client-secret", []byte("S3CR3T-SENTINEL\n"))
	b = bytes.Replace(b, []byte("{fromEnv: DHUB_AZUREAD_CLIENT_SECRET}"), []byte("{fromFile: "+secret+"}"), 1)
	b = bytes.Replace(b, []byte("namespace: dhub\n"), []byte("namespace: "+ns+"\n"), 1)
	return writeFile(t, dir, "dhub.yaml", testCharts(t, b))
}

// withBudget gives the hub in file an Azure budget with the default
// thresholds.
func withBudget(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("\nazure:\n"), []byte("\nazure:\n  budget: {amount: 900, contactEmails: [ops@example.org]}\n"), 1)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// releaseRevisions reads the latest revision of both releases in ns; an
// error when either is missing.
func releaseRevisions(ns string) (jupyterhub, daskGateway string, err error) {
	st := map[string]string{}
	revs, err := cluster.Client().CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		return "", "", err
	}
	for _, s := range revs.Items {
		st[s.Labels["name"]] = s.Labels["version"]
	}
	jh, dg := st[ns+"-jupyterhub"], st[ns+"-dask-gateway"]
	if jh == "" || dg == "" {
		return "", "", fmt.Errorf("releases in %s: %v", ns, st)
	}
	return jh, dg, nil
}

// cleanNamespace removes a hub from namespace ns of the test cluster, as
// 'dhub down --delete-data' on the kubernetes target does: the azure
// target's down deletes the AKS cluster, which here is the shared test
// cluster that stays.
func cleanNamespace(t *testing.T, ns string) {
	t.Helper()
	file, _ := kubeHub(t, ns)
	if code, _, stderr := run(t, options(t, ns, nil), "down", "-f", file, "--yes", "--delete-data"); code != 0 {
		t.Errorf("clean namespace %s: %s", ns, stderr)
	}
}
