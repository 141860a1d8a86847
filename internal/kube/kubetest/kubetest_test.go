package kubetest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/kube/kubetest"
)

var cluster *kubetest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv("KUBETEST_ORPHAN") != "" {
		orphan()
		return
	}
	kubetest.Main(m, "kubetest", &cluster)
}

// orphan starts a cluster, prints its directory and exits without stopping
// it, as a test binary killed by a timeout would (see TestWatchdog).
func orphan() {
	c, err := kubetest.Start("kubetest-orphan")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(c.Dir())
	os.Exit(0)
}

const (
	corePurpose   = "hub.jupyter.org/node-purpose"
	workerLabel   = "k8s.dask.org/dedicated"
	coreNodeName  = "core-0"
	workerNodeNam = "worker-0"
)

var nodesOnce sync.Once

// nodes adds, once per package, a core node and a tainted Dask worker node
// shaped like the guide's AKS pools.
func nodes(t *testing.T) {
	t.Helper()
	var err error
	nodesOnce.Do(func() {
		ctx := context.Background()
		if err = cluster.AddNode(ctx, coreNodeName, map[string]string{corePurpose: "core"}, nil); err != nil {
			return
		}
		err = cluster.AddNode(ctx, workerNodeNam, map[string]string{workerLabel: "worker"},
			[]corev1.Taint{{Key: workerLabel, Value: "worker", Effect: corev1.TaintEffectNoSchedule}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHelmHomes checks that Main keeps Helm out of $HOME for the whole
// process and that IsolateHelm gives one test homes of its own.
func TestHelmHomes(t *testing.T) {
	process := map[string]string{}
	for _, k := range []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"} {
		v := os.Getenv(k)
		if !strings.HasPrefix(v, os.TempDir()) {
			t.Errorf("under Main, %s = %q, want a temporary directory", k, v)
		}
		process[k] = v
	}
	t.Run("IsolateHelm", func(t *testing.T) {
		kubetest.IsolateHelm(t)
		for k, v := range process {
			if got := os.Getenv(k); got == v || !strings.HasPrefix(got, os.TempDir()) {
				t.Errorf("after IsolateHelm, %s = %q, want a temporary directory other than %q", k, got, v)
			}
		}
	})
	for k, v := range process {
		if got := os.Getenv(k); got != v {
			t.Errorf("after the test that isolated Helm, %s = %q, want %q back", k, got, v)
		}
	}
}

func TestServerVersion(t *testing.T) {
	v, err := cluster.Client().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != kubetest.Version || v.Major != "1" || v.Minor != "36" {
		t.Fatalf("server version = %s (major %q minor %q), want %s: kube-* built without the version ldflags?", v.GitVersion, v.Major, v.Minor, kubetest.Version)
	}
}

func TestAddNode(t *testing.T) {
	nodes(t)
	ctx := t.Context()
	n, err := cluster.Client().CoreV1().Nodes().Get(ctx, coreNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[corePurpose] != "core" || n.Labels["kubernetes.io/hostname"] != coreNodeName {
		t.Errorf("labels = %v", n.Labels)
	}
	if n.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("annotations = %v", n.Annotations)
	}
	if got := n.Status.Allocatable.Cpu().String(); got != "8" {
		t.Errorf("allocatable cpu = %s, want 8", got)
	}
	if got := n.Status.Allocatable.Memory().String(); got != "32Gi" {
		t.Errorf("allocatable memory = %s, want 32Gi", got)
	}
	if got := n.Status.Allocatable.Pods().String(); got != "110" {
		t.Errorf("allocatable pods = %s, want 110", got)
	}
	w, err := cluster.Client().CoreV1().Nodes().Get(ctx, workerNodeNam, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Spec.Taints) != 1 || w.Spec.Taints[0].Key != workerLabel {
		t.Errorf("worker taints = %v", w.Spec.Taints)
	}
	if err := cluster.AddNode(ctx, coreNodeName, nil, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("adding %s twice: err = %v, want already exists", coreNodeName, err)
	}
}

func deployment(name string, nodeSelector map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: nodeSelector,
					Containers:   []corev1.Container{{Name: "main", Image: "quay.io/jupyterhub/k8s-hub:4.4.0"}},
				},
			},
		},
	}
}

// pod waits until the single pod of app satisfies ok, and returns it.
func pod(t *testing.T, ns, app string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var last *corev1.Pod
	for {
		pods, err := cluster.Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err == nil && len(pods.Items) == 1 {
			last = &pods.Items[0]
			if ok(last) {
				return last
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod of %s: condition not reached; last seen: %+v", app, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cluster.Client().CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods can only be created once the namespace's default ServiceAccount exists.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		if _, err := cluster.Client().CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("namespace %s got no default ServiceAccount", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestPodRunsOnMatchingNode(t *testing.T) {
	nodes(t)
	ns := namespace(t, "scheduling-ok")
	d := deployment("on-core", map[string]string{corePurpose: "core"})
	if _, err := cluster.Client().AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pod(t, ns, "on-core", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isReady(p)
	})
	if p.Spec.NodeName != coreNodeName {
		t.Errorf("pod runs on %q, want %s", p.Spec.NodeName, coreNodeName)
	}
	if p.Status.PodIP == "" {
		t.Errorf("running pod has no IP: %+v", p.Status)
	}
	// The Deployment controller sees it too: kube-controller-manager runs.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		got, err := cluster.Client().AppsV1().Deployments(ns).Get(ctx, "on-core", metav1.GetOptions{})
		if err == nil && got.Status.AvailableReplicas == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment never available: %+v", got.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestPodPendingWhenNoNodeMatches(t *testing.T) {
	nodes(t)
	ns := namespace(t, "scheduling-none")
	d := deployment("on-user", map[string]string{corePurpose: "user"})
	if _, err := cluster.Client().AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cond corev1.PodCondition
	p := pod(t, ns, "on-user", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				cond = c
				return true
			}
		}
		return false
	})
	if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" {
		t.Errorf("pod phase %s on node %q, want Pending on none", p.Status.Phase, p.Spec.NodeName)
	}
	if cond.Reason != corev1.PodReasonUnschedulable {
		t.Errorf("PodScheduled reason = %q, want %s", cond.Reason, corev1.PodReasonUnschedulable)
	}
	// The scheduler's own words: both nodes considered, why each was refused.
	for _, want := range []string{"0/2 nodes are available", "node(s) didn't match Pod's node affinity/selector", "untolerated taint"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("PodScheduled message %q lacks %q", cond.Message, want)
		}
	}
}

func TestSetLoadBalancerIP(t *testing.T) {
	ns := namespace(t, "lb")
	ctx := t.Context()
	svcs := cluster.Client().CoreV1().Services(ns)
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "proxy-public"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"component": "proxy"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "hub"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"component": "hub"}, Ports: []corev1.ServicePort{{Port: 8081}}}},
	} {
		if _, err := svcs.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// kwok leaves a LoadBalancer without an address.
	got, err := svcs.Get(ctx, "proxy-public", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("ingress before SetLoadBalancerIP = %v", got.Status.LoadBalancer.Ingress)
	}
	if err := cluster.SetLoadBalancerIP(ctx, ns, "proxy-public", "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	got, err = svcs.Get(ctx, "proxy-public", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in := got.Status.LoadBalancer.Ingress; len(in) != 1 || in[0].IP != "203.0.113.7" {
		t.Errorf("ingress = %+v, want 203.0.113.7", in)
	}
	if err := cluster.SetLoadBalancerIP(ctx, ns, "hub", "203.0.113.8"); err == nil || !strings.Contains(err.Error(), "not LoadBalancer") {
		t.Errorf("ClusterIP service: err = %v, want not LoadBalancer", err)
	}
	if err := cluster.SetLoadBalancerIP(ctx, ns, "nope", "203.0.113.8"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing service: err = %v, want not found", err)
	}
	if err := cluster.SetLoadBalancerIP(ctx, ns, "proxy-public", "not-an-ip"); err == nil {
		t.Error("bad IP accepted")
	}
}

func TestAddPersistentVolumeBindsClaim(t *testing.T) {
	ns := namespace(t, "pv")
	ctx := t.Context()
	if err := cluster.AddPersistentVolume(ctx, "pv-hub-db", "1Gi"); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "hub-db-dir"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}},
		},
	}
	if _, err := cluster.Client().CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		got, err := cluster.Client().CoreV1().PersistentVolumeClaims(ns).Get(ctx, "hub-db-dir", metav1.GetOptions{})
		if err == nil && got.Status.Phase == corev1.ClaimBound {
			if got.Spec.VolumeName != "pv-hub-db" {
				t.Errorf("bound to %q", got.Spec.VolumeName)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("claim never bound: %+v", got)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pgrep lists the processes whose command line mentions s.
func pgrep(t *testing.T, s string) []string {
	t.Helper()
	out, err := exec.Command("pgrep", "-a", "-f", s).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			return nil // none
		}
		t.Fatalf("pgrep: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func homeKwok(t *testing.T) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(home, ".kwok"))
	if os.IsNotExist(err) {
		return "absent"
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

func TestStartStopLeavesNothing(t *testing.T) {
	before := homeKwok(t)
	start := time.Now()
	c, err := kubetest.Start("kubetest-stop")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start: %s", time.Since(start).Round(time.Millisecond))
	dir := c.Dir()
	running := pgrep(t, dir)
	for _, component := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"} {
		found := false
		for _, p := range running {
			if strings.Contains(p, "/"+component+" ") {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s process of the cluster among %q", component, running)
		}
	}
	for _, p := range running {
		if strings.Contains(p, "0.0.0.0") {
			t.Errorf("a component listens on all interfaces, not loopback only: %s", p)
		}
	}
	if len(c.Processes()) != len(running) {
		t.Errorf("Processes() = %v, pgrep found %q", c.Processes(), running)
	}
	if !strings.Contains(string(c.KubeconfigBytes()), "server: https://127.0.0.1:") {
		t.Errorf("kubeconfig:\n%s", c.KubeconfigBytes())
	}
	if _, err := c.Client().CoreV1().Namespaces().Get(t.Context(), "kube-system", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}

	start = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop: %s", time.Since(start).Round(time.Millisecond))
	if left := pgrep(t, dir); len(left) > 0 {
		t.Errorf("processes left after Stop: %q", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Stop (stat: %v)", dir, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if after := homeKwok(t); after != before {
		t.Errorf("~/.kwok changed: %s -> %s", before, after)
	}
}

func TestTwoClustersAtOnce(t *testing.T) {
	// go test runs packages in parallel: clusters must not share ports or files.
	var wg sync.WaitGroup
	cs := make([]*kubetest.Cluster, 2)
	errs := make([]error, 2)
	for i := range cs {
		wg.Go(func() { cs[i], errs[i] = kubetest.Start(fmt.Sprintf("kubetest-par%d", i)) })
	}
	wg.Wait()
	for i, c := range cs {
		if errs[i] != nil {
			t.Error(errs[i])
			continue
		}
		defer func() {
			if err := c.Stop(); err != nil {
				t.Error(err)
			}
		}()
	}
	if t.Failed() {
		return
	}
	if cs[0].RESTConfig().Host == cs[1].RESTConfig().Host {
		t.Fatalf("both clusters at %s", cs[0].RESTConfig().Host)
	}
	// Each sees only its own nodes.
	if err := cs[0].AddNode(t.Context(), "only-in-0", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[1].Client().CoreV1().Nodes().Get(t.Context(), "only-in-0", metav1.GetOptions{}); err == nil {
		t.Error("node of cluster 0 visible in cluster 1")
	}
}

func TestWatchdogDeletesOrphanedCluster(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KUBETEST_ORPHAN=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("orphan: %v\n%s", err, out)
	}
	dir := strings.TrimSpace(string(out))
	if !strings.Contains(dir, "dhub-kubetest-kubetest-orphan-") {
		t.Fatalf("orphan printed %q", dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := pgrep(t, dir)
		_, statErr := os.Stat(dir)
		if len(left) == 0 && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after its owner exited, the orphaned cluster is still there: processes %q, dir stat %v", left, statErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
