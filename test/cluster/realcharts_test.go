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

// TestRealChartsFromARepository: dhub up installs the real JupyterHub and
// Dask Gateway charts, downloaded from a chart repository as users' are,
// and waits for every workload they make, the image puller DaemonSet and
// the user placeholder StatefulSet included; status then says up, a second
// up changes nothing, and down removes the hub. What kwok cannot run is
// stood in for: a volume for the hub's database claim (no provisioner), the
// load balancer's address, and the gateway API's answer (no containers).
func TestRealChartsFromARepository(t *testing.T) {
	t.Parallel()
	const ns = "real-charts"
	ctx := context.Background()
	file := realHub(t, ns, kubetest.ChartRepository(t), "192.0.2.50")
	o := options(t, ns, nil)

	code, stdout, stderr := run(t, o, "up", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"installing chart jupyterhub 4.4.0", "installing chart dask-gateway 2026.3.0"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("up's progress lacks %q:\n%s", want, stderr)
		}
	}
	apps := cluster.Client().AppsV1()
	for _, name := range []string{"hub", "proxy", "user-scheduler", "api-" + ns + "-dask-gateway", "controller-" + ns + "-dask-gateway", "traefik-" + ns + "-dask-gateway"} {
		d, err := apps.Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("deployment %s: %v", name, err)
		} else if d.Status.ReadyReplicas != *d.Spec.Replicas {
			t.Errorf("deployment %s: %d of %d ready after up", name, d.Status.ReadyReplicas, *d.Spec.Replicas)
		}
	}
	ds, err := apps.DaemonSets(ns).Get(ctx, "continuous-image-puller", metav1.GetOptions{})
	if err != nil {
		t.Errorf("daemonset continuous-image-puller: %v", err)
	} else if ds.Status.DesiredNumberScheduled == 0 || ds.Status.NumberReady != ds.Status.DesiredNumberScheduled {
		t.Errorf("daemonset continuous-image-puller: %d of %d ready after up", ds.Status.NumberReady, ds.Status.DesiredNumberScheduled)
	}
	if _, err := apps.StatefulSets(ns).Get(ctx, "user-placeholder", metav1.GetOptions{}); err != nil {
		t.Errorf("statefulset user-placeholder: %v", err)
	}

	code, stdout, stderr = run(t, o, "status", "-f", file, "-o", "json")
	var st struct {
		Up         bool
		Kubernetes struct {
			Components []struct {
				Kind, Name string
				Ready      bool
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &st); code != 0 || err != nil || !st.Up {
		t.Errorf("status: exit %d, %v, up %v\n%s%s", code, err, st.Up, stdout, stderr)
	}
	kinds := map[string]bool{}
	for _, c := range st.Kubernetes.Components {
		kinds[c.Kind+" "+c.Name] = c.Ready
	}
	for _, want := range []string{"DaemonSet continuous-image-puller", "StatefulSet user-placeholder", "Deployment hub"} {
		if ready, ok := kinds[want]; !ok || !ready {
			t.Errorf("status lists %s: %v, ready %v", want, ok, ready)
		}
	}

	if code, stdout, stderr := run(t, o, "plan", "-f", file, "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after up: exit %d, want 0 (no change)\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := run(t, o, "down", "-f", file, "--yes", "--delete-data"); code != 0 {
		t.Fatalf("down: %s", stderr)
	}
	if _, err := cluster.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Error("the namespace is still there after down --delete-data")
	}
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

// TestTwoHubsOnOneCluster: two hubs with the real charts in two namespaces
// of one cluster install, upgrade and go down independently; the one left
// stays ready, and down keeps the cluster-wide CRDs it still uses.
func TestTwoHubsOnOneCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := kubetest.ChartRepository(t)
	a, b := realHub(t, "hub-a", url, "192.0.2.51"), realHub(t, "hub-b", url, "192.0.2.52")
	oa, ob := options(t, "hub-a", nil), options(t, "hub-b", nil)
	t.Cleanup(func() { run(t, oa, "down", "-f", a, "--yes", "--delete-data") })
	t.Cleanup(func() { run(t, ob, "down", "-f", b, "--yes", "--delete-data") })

	for _, h := range []struct {
		ns, file string
		o        deploy.Options
	}{{"hub-a", a, oa}, {"hub-b", b, ob}} {
		start := time.Now()
		if code, stdout, stderr := run(t, h.o, "up", "-f", h.file, "--yes"); code != 0 {
			t.Fatalf("up %s: exit %d\n%s\n%s", h.file, code, stdout, stderr)
		}
		t.Logf("install to ready of %s: %s", h.ns, time.Since(start).Round(100*time.Millisecond))
	}
	if !statusUp(t, oa, a) || !statusUp(t, ob, b) {
		t.Fatal("not both hubs up after their ups")
	}
	for _, name := range []string{"hub-a-jupyterhub-user-scheduler", "hub-b-jupyterhub-user-scheduler", "api-hub-a-dask-gateway", "api-hub-b-dask-gateway"} {
		if _, err := cluster.Client().RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("cluster role %s: %v", name, err)
		}
	}

	// Upgrade one: the other's releases stay at their revision.
	withImage := strings.Replace(string(mustRead(t, a)), "hub:\n", "hub:\n  image: pangeo/pangeo-notebook:2025.09.01\n", 1)
	if err := os.WriteFile(a, []byte(withImage), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run(t, oa, "up", "-f", a, "--yes"); code != 0 || !strings.Contains(stderr, "release hub-a-jupyterhub: upgrading revision 1") {
		t.Fatalf("upgrade hub-a: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if jh, dg, err := releaseRevisions("hub-b"); err != nil || jh != "1" || dg != "1" {
		t.Errorf("hub-b's releases after hub-a's upgrade: %s %s %v, want both at revision 1", jh, dg, err)
	}

	start := time.Now()
	code, stdout, stderr := run(t, oa, "down", "-f", a, "--yes", "--delete-data")
	if code != 0 {
		t.Fatalf("down hub-a: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("down of one hub: %s", time.Since(start).Round(100*time.Millisecond))
	if !strings.Contains(stdout, "custom resource definitions of Dask Gateway and Traefik") {
		t.Errorf("down does not say it kept the shared CRDs:\n%s", stdout)
	}
	if !statusUp(t, ob, b) {
		t.Error("hub-b is not up after hub-a's down")
	}
	for _, name := range []string{"hub-b-jupyterhub-user-scheduler", "api-hub-b-dask-gateway"} {
		if _, err := cluster.Client().RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("hub-b's cluster role %s after hub-a's down: %v", name, err)
		}
	}
	if _, err := cluster.Client().RbacV1().ClusterRoles().Get(ctx, "hub-a-jupyterhub-user-scheduler", metav1.GetOptions{}); err == nil {
		t.Error("hub-a's cluster role is still there after its down")
	}
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
