package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/deploy"
	"dhub/internal/kube"
	"dhub/internal/kube/kubetest"
)

// chartsHubFile writes the dhub.yaml of a kubernetes-target hub in
// namespace ns with the real charts from the chart repository at url,
// password login, hub holding more lines under "hub:" (indented two
// spaces) and jupyterhubValues, when not empty, as charts.jupyterhub.values.
func chartsHubFile(t *testing.T, ns, url, hub, jupyterhubValues string) string {
	t.Helper()
	dir := t.TempDir()
	password := writeFile(t, dir, "admin-password", []byte(strings.Repeat("p", 40)+"\n"))
	if jupyterhubValues != "" {
		jupyterhubValues = "values: " + jupyterhubValues + ", "
	}
	return writeFile(t, dir, "dhub.yaml", []byte(fmt.Sprintf(`name: %s
target: kubernetes
namespace: %s
hub:
  auth:
    type: password
    password:
      adminPassword: {fromFile: %s}
%s
dask:
  workerCores: {max: 8}
kubernetes:
  kubeconfig: %s
  nodeRoles: [core, user, worker]
charts:
  jupyterhub: {%srepository: %q}
  daskGateway: {repository: %q}
`, ns, ns, password, hub, cluster.Kubeconfig(), jupyterhubValues, url, url)))
}

// realHub writes the dhub.yaml of a hub with the real charts (see
// chartsHubFile) and stands in for what kwok lacks: a volume for its
// database claim, of a StorageClass without a provisioner as local volumes
// on bare metal are, and its load balancer's address ip.
func realHub(t *testing.T, ns, url, ip string) string {
	t.Helper()
	ctx := context.Background()
	file := chartsHubFile(t, ns, url, "  https: {enabled: false}\n  storage: {class: "+staticClass(t)+"}", "")
	if err := cluster.AddStaticVolume(ctx, ns+"-hub-db", "1Gi", kubetest.StaticClass); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cluster.Client().CoreV1().PersistentVolumes().Delete(ctx, ns+"-hub-db", metav1.DeleteOptions{})
	})
	cluster.AssignLoadBalancer(t, ns, "proxy-public", ip)
	return file
}

// statusUp runs dhub status -o json and reports whether the hub is up.
func statusUp(t *testing.T, o deploy.Options, file string) bool {
	t.Helper()
	code, stdout, stderr := run(t, o, "status", "-f", file, "-o", "json")
	var st struct{ Up bool }
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	return st.Up && code == 0
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnfinishedHookRolledBackAndRemoved: an upgrade whose pre-upgrade hook
// never finishes (the real chart's image awaiter Job, pinned to a node
// that does not exist, has no deadline) fails within dhub's bound, is
// rolled back, and leaves no hook Job, hook DaemonSet or pending pod; the
// hub stays up on its previous revision.
func TestUnfinishedHookRolledBackAndRemoved(t *testing.T) {
	t.Parallel()
	const ns = "stuck-hook"
	ctx := context.Background()
	file := realHub(t, ns, kubetest.ChartRepository(t), "192.0.2.53")
	o := options(t, ns, nil)
	t.Cleanup(func() { run(t, o, "down", "-f", file, "--yes", "--delete-data") })
	if code, stdout, stderr := run(t, o, "up", "-f", file, "--yes"); code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// A new user image makes the chart run its image-pulling hook again.
	doc := strings.Replace(string(mustRead(t, file)), "hub:\n", "hub:\n  image: pangeo/pangeo-notebook:2025.09.01\n", 1)
	doc = strings.Replace(doc, "  jupyterhub: {repository: ", "  jupyterhub: {values: {prePuller: {hook: {nodeSelector: {dhub-test/no-such: node}}}}, repository: ", 1)
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	stuck := o
	stuck.Kube = func(ko *kube.Options) {
		o.Kube(ko)
		ko.ReadyTimeout = 15 * time.Second
	}
	start := time.Now()
	code, stdout, stderr := run(t, stuck, "up", "-f", file, "--yes")
	t.Logf("an upgrade with a hook that never finishes failed and was rolled back in %s", time.Since(start).Round(100*time.Millisecond))
	if code == 0 || !strings.Contains(stderr, "rolled back to revision 1") {
		t.Fatalf("up with a stuck hook: exit %d, want a failure that says it rolled back\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "removed job hook-image-awaiter, left by its unfinished hook") {
		t.Errorf("up does not say it removed the hook's Job:\n%s", stderr)
	}
	batch, core, apps := cluster.Client().BatchV1(), cluster.Client().CoreV1(), cluster.Client().AppsV1()
	if _, err := batch.Jobs(ns).Get(ctx, "hook-image-awaiter", metav1.GetOptions{}); err == nil {
		t.Error("the hook's Job is still there")
	}
	if _, err := apps.DaemonSets(ns).Get(ctx, "hook-image-puller", metav1.GetOptions{}); err == nil {
		t.Error("the hook's DaemonSet is still there")
	}
	pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == "Pending" && p.DeletionTimestamp == nil {
			t.Errorf("pod %s is left pending", p.Name)
		}
	}
	if !statusUp(t, o, file) {
		t.Error("the hub is not up on its previous revision")
	}
}
