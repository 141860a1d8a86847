package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	repo "helm.sh/helm/v4/pkg/repo/v1"

	"dhub/internal/kube/kubetest"
)

// chartRepository serves the real charts of ../shared/charts as a Helm
// chart repository (index.yaml and the .tgz files), as a user's dhub
// downloads them, and returns its URL.
func chartRepository(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"jupyterhub", "dask-gateway"} {
		src, err := kubetest.RealChart(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, filepath.Base(src), b)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	index, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

// TestRealChartsFromARepository: dhub up installs the real JupyterHub and
// Dask Gateway charts, downloaded from a chart repository as users' are,
// and waits for every workload they make, the image puller DaemonSet and
// the user placeholder StatefulSet included; status then says up, a second
// up changes nothing, and down removes the hub. What kwok cannot run is
// stood in for: a volume for the hub's database claim (no provisioner), the
// load balancer's address, and the gateway API's answer (no containers);
// the volume is of a StorageClass without a provisioner, as local volumes
// on bare metal are.
func TestRealChartsFromARepository(t *testing.T) {
	t.Parallel()
	const ns = "real-charts"
	ctx := context.Background()
	url := chartRepository(t)
	dir := t.TempDir()
	password := writeFile(t, dir, "admin-password", []byte(strings.Repeat("r", 40)+"\n"))
	file := writeFile(t, dir, "dhub.yaml", []byte(fmt.Sprintf(`name: %s
target: kubernetes
namespace: %s
hub:
  https: {enabled: false}
  auth:
    type: password
    password:
      adminPassword: {fromFile: %s}
  storage: {class: %s}
dask:
  workerCores: {max: 8}
kubernetes:
  kubeconfig: %s
  nodeRoles: [core, user, worker]
charts:
  jupyterhub: {repository: %q}
  daskGateway: {repository: %q}
`, ns, ns, password, staticClass(t), cluster.Kubeconfig(), url, url)))
	if err := cluster.AddStaticVolume(ctx, ns+"-hub-db", "1Gi", kubetest.StaticClass); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cluster.Client().CoreV1().PersistentVolumes().Delete(ctx, ns+"-hub-db", metav1.DeleteOptions{})
	})
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.50")
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
	for _, name := range []string{"hub", "proxy", "user-scheduler", "api-dask-gateway", "controller-dask-gateway", "traefik-dask-gateway"} {
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
