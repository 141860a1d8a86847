// Package kubetest gives tests a real Kubernetes control plane without a cloud
// or a container runtime: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler (v1.36.3) started by kwokctl's "binary" runtime, with kwok
// playing the kubelets of fake nodes, so pods are scheduled for real and then
// reported Running (and Job pods Succeeded) by kwok.
//
// The binaries come from the directory named by the environment variable
// DHUB_KUBE_TOOLS, or, when it is unset, from running scripts/kube-tools.sh
// (which builds them once from the Go module proxy and caches them). A cluster
// that cannot start is an error carrying the tools' output: tests fail loudly,
// they never skip.
//
// Start a cluster once per test package and stop it when the package's tests
// are done; Main does both:
//
//	var cluster *kubetest.Cluster
//
//	func TestMain(m *testing.M) { kubetest.Main(m, "kube", &cluster) }
//
//	func TestSomething(t *testing.T) {
//		ctx := t.Context()
//		if err := cluster.AddNode(ctx, "core-0", map[string]string{"hub.jupyter.org/node-purpose": "core"}, nil); err != nil {
//			t.Fatal(err)
//		}
//		// ... cluster.Client(), cluster.Kubeconfig() ...
//	}
//
// Each cluster lives in its own temporary directory (kwok work directory,
// kubeconfig, etcd data, logs) and listens on free ports it picks itself, so
// the clusters of packages that go test runs in parallel do not meet. Nothing
// is written to the home directory: kwokctl and the components it starts run
// with HOME pointing into that temporary directory. If the test process dies
// without calling Stop (a timeout, a kill), a small watchdog process started
// with the cluster deletes it within a second or two.
//
// Nodes are kwok's fake nodes (AddNode). kwok neither assigns LoadBalancer
// addresses nor provisions volumes: SetLoadBalancerIP plays the cloud's load
// balancer controller and AddPersistentVolume pre-creates a volume for a claim.
// It runs no container either: a test sets a pod's status as the kubelet
// would, SetPreviousLogs gives a container the logs of an earlier run, and
// ServiceAnswers plays a component's pods behind the API server's service
// proxy, refusing what the real API server and component would refuse.
// Main points Helm's cache, config and data homes at a temporary directory
// for the whole test process, and IsolateHelm gives one test homes of its
// own; tests should also give client-go discovery a CacheDir, so nothing
// lands in the home directory either.
package kubetest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"dhub/internal/config"
)

// Version is the Kubernetes version of the control plane kubetest starts, as
// its API server reports it.
const Version = "v1.36.3"

// toolNames are the binaries a cluster needs, all in one directory.
var toolNames = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwokctl"}

const (
	startTimeout = 3 * time.Minute
	stopTimeout  = time.Minute
	// dirPrefix starts the name of every cluster's temporary directory.
	dirPrefix = "dhub-kubetest-"
)

// Cluster is a running kwok cluster. Its methods may be called from several
// goroutines at once.
type Cluster struct {
	name       string
	tools      string // directory holding toolNames
	dir        string // temporary directory owning everything of the cluster
	workdir    string // KWOK_WORKDIR
	kubeconfig string
	kcBytes    []byte
	config     *rest.Config
	client     kubernetes.Interface
	watchdog   *exec.Cmd

	mu      sync.Mutex
	stopped bool
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// Start starts a cluster called name (lower-case letters, digits and dashes)
// and returns once its API server answers, its controllers run and the
// default namespace can take pods. It has no nodes: add them with AddNode.
// Any failure is returned with the output of the tool that failed; a cluster
// that was half started is deleted first.
func Start(name string) (*Cluster, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("kubetest: cluster name %q: use 1-32 lower-case letters, digits and dashes", name)
	}
	tools, err := ToolsDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", dirPrefix+name+"-")
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	c := &Cluster{
		name:       name,
		tools:      tools,
		dir:        dir,
		workdir:    filepath.Join(dir, "kwok"),
		kubeconfig: filepath.Join(dir, "kubeconfig"),
	}
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	if err := c.startWatchdog(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.create(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

// create runs kwokctl create cluster, retrying with other ports when one was
// taken between picking it and binding it, then waits until the cluster works.
func (c *Cluster) create(ctx context.Context) error {
	var outputs []string
	for attempt := 1; ; attempt++ {
		out, err := c.kwokctlCreate(ctx)
		if err == nil {
			break
		}
		outputs = append(outputs, out)
		if attempt == 3 || !strings.Contains(out, "address already in use") || ctx.Err() != nil {
			return fmt.Errorf("kubetest: kwokctl create cluster %s: %w\n%s", c.name, err, strings.Join(outputs, "\n--- next attempt ---\n"))
		}
		if out, err := c.kwokctl(ctx, "delete", "cluster"); err != nil {
			return fmt.Errorf("kubetest: kwokctl delete cluster %s after a port clash: %w\n%s", c.name, err, out)
		}
	}
	kc, err := os.ReadFile(c.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubetest: kwokctl wrote no kubeconfig: %w", err)
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		return fmt.Errorf("kubetest: kubeconfig %s: %w", c.kubeconfig, err)
	}
	config.QPS, config.Burst = 200, 400
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	c.kcBytes, c.config, c.client = kc, config, client
	return c.waitUsable(ctx)
}

// kwokctlCreate writes the cluster's kwokctl configuration with fresh free
// ports and runs kwokctl create cluster with it.
func (c *Cluster) kwokctlCreate(ctx context.Context) (string, error) {
	ports, err := freePorts(6)
	if err != nil {
		return "", err
	}
	conf := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  # Loopback only: etcd has no authentication.
  bindAddress: 127.0.0.1
  etcdPort: %d
  etcdPeerPort: %d
  kubeApiserverPort: %d
  kubeControllerManagerPort: %d
  kubeSchedulerPort: %d
  kwokControllerPort: %d
`, ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])
	confPath := filepath.Join(c.dir, "kwokctl.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	bin := func(name string) string { return filepath.Join(c.tools, name) }
	return c.kwokctl(ctx, "create", "cluster",
		"--config", confPath,
		"--runtime", "binary",
		"--etcd-binary", bin("etcd"),
		"--kube-apiserver-binary", bin("kube-apiserver"),
		"--kube-controller-manager-binary", bin("kube-controller-manager"),
		"--kube-scheduler-binary", bin("kube-scheduler"),
		"--kwok-controller-binary", bin("kwok"),
		"--kubeconfig", c.kubeconfig,
		// Logs objects say what kwok serves as containers' logs
		// (SetPreviousLogs).
		"--enable-crds", "Logs",
		"--quiet-pull",
		"--wait", "2m",
	)
}

// kwokctl runs kwokctl on this cluster with its own work and home directories.
func (c *Cluster) kwokctl(ctx context.Context, args ...string) (string, error) {
	args = append(args, "--name", c.name)
	cmd := exec.CommandContext(ctx, filepath.Join(c.tools, "kwokctl"), args...)
	cmd.Env = c.env()
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// env is the environment of kwokctl and of the components it starts.
func (c *Cluster) env() []string {
	env := []string{
		"KWOK_WORKDIR=" + c.workdir,
		"HOME=" + filepath.Join(c.dir, "home"),
		"XDG_CACHE_HOME=" + filepath.Join(c.dir, "home", ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(c.dir, "home", ".config"),
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "XDG_CACHE_HOME", k == "XDG_CONFIG_HOME", k == "KUBECONFIG",
			strings.HasPrefix(k, "KWOK_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitUsable waits until the API server is ready and the service account
// controller has made the default namespace's ServiceAccount, without which
// no pod can be created there.
func (c *Cluster) waitUsable(ctx context.Context) error {
	var last error
	for {
		last = c.usable(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubetest: cluster %s did not become usable: %w (last: %v)\n%s", c.name, ctx.Err(), last, c.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) usable(ctx context.Context) error {
	body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Raw()
	if err != nil {
		return fmt.Errorf("readyz: %w: %s", err, body)
	}
	if _, err := c.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return err
	}
	return nil
}

// logTail returns the last lines of each component's log, for error messages.
func (c *Cluster) logTail() string {
	logs, _ := filepath.Glob(filepath.Join(c.workdir, "clusters", c.name, "logs", "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
	return b.String()
}

// startWatchdog starts a process that deletes the cluster when this process
// is gone without having called Stop.
func (c *Cluster) startWatchdog() error {
	script := `owner=$1; kwokctl=$2; name=$3; dir=$4
while kill -0 "$owner" 2>/dev/null; do sleep 1; done
"$kwokctl" delete cluster --name "$name" >/dev/null 2>&1
rm -rf "$dir"`
	cmd := exec.Command("sh", "-c", script, "kubetest-watchdog",
		strconv.Itoa(os.Getpid()), filepath.Join(c.tools, "kwokctl"), c.name, c.dir)
	cmd.Env = c.env()
	// Its own session: a terminal's Ctrl-C or the test's process group
	// ending must not take the watchdog with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kubetest: start watchdog: %w", err)
	}
	c.watchdog = cmd
	return nil
}

// Stop deletes the cluster: it stops every process of it and removes its
// temporary directory. It returns an error if a process of the cluster
// survived kwokctl delete (it is then killed). Calling Stop again does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	var errs []error
	if w := c.watchdog; w != nil && w.Process != nil {
		_ = w.Process.Kill()
		_ = w.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if _, err := os.Stat(filepath.Join(c.workdir, "clusters", c.name)); err == nil {
		if out, err := c.kwokctl(ctx, "delete", "cluster"); err != nil {
			errs = append(errs, fmt.Errorf("kubetest: kwokctl delete cluster %s: %w\n%s", c.name, err, out))
		}
	}
	if pids := c.waitGone(2 * time.Second); len(pids) > 0 {
		errs = append(errs, fmt.Errorf("kubetest: processes of cluster %s outlived kwokctl delete, killed: %s", c.name, describe(pids)))
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("kubetest: %w", err))
	}
	return errors.Join(errs...)
}

// waitGone waits up to d for the cluster's processes to exit and returns
// those still there.
func (c *Cluster) waitGone(d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		pids := c.Processes()
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Processes returns the process ids of the cluster's components (etcd,
// kube-*, kwok) and of its watchdog: every process whose command line names
// the cluster's temporary directory. After Stop it is empty.
func (c *Cluster) Processes() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(c.dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func describe(pids []int) string {
	var parts []string
	for _, p := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		cmd := strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
		if len(cmd) > 120 {
			cmd = cmd[:120] + "..."
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", p, cmd))
	}
	return strings.Join(parts, ", ")
}

// Name returns the cluster's name.
func (c *Cluster) Name() string { return c.name }

// Dir returns the cluster's temporary directory (kwok work directory, logs,
// kubeconfig); Stop removes it.
func (c *Cluster) Dir() string { return c.dir }

// Kubeconfig returns the path of a kubeconfig file for the cluster, whose
// current context is the cluster's admin.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// KubeconfigBytes returns the content of the Kubeconfig file.
func (c *Cluster) KubeconfigBytes() []byte { return bytes.Clone(c.kcBytes) }

// RESTConfig returns a copy of the admin client configuration of the cluster.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns a client of the cluster with admin rights.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// AddNode creates a fake node that kwok runs pods on, with the given labels
// and taints on top of the usual kubernetes.io/hostname, os and arch labels,
// 8 CPUs, 32Gi of memory and room for 110 pods, and waits until it is Ready
// and the node lifecycle controller has lifted the not-ready taint it puts
// on a new node: until then no pod is scheduled there.
func (c *Cluster) AddNode(ctx context.Context, name string, labels map[string]string, taints []corev1.Taint) error {
	l := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     runtime.GOARCH,
		"type":                   "kwok",
	}
	for k, v := range labels {
		l[k] = v
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("32Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: l,
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":           "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    runtime.GOARCH,
				OperatingSystem: "linux",
				KubeletVersion:  Version,
			},
			Phase: corev1.NodeRunning,
		},
	}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubetest: create node %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var seen *corev1.Node
	for {
		n, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			seen = n
			if usable(n) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			var conds []corev1.NodeCondition
			var taints []corev1.Taint
			if seen != nil {
				conds, taints = seen.Status.Conditions, seen.Spec.Taints
			}
			return fmt.Errorf("kubetest: node %s did not become Ready and untainted (kwok manages it?): %w; conditions %v, taints %v", name, ctx.Err(), conds, taints)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// usable reports whether n is Ready and free of the not-ready taint.
func usable(n *corev1.Node) bool {
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady {
			return false
		}
	}
	return ready
}

// SetLoadBalancerIP does what a cloud's load balancer controller would: it
// records ip as the ingress address in the status of the LoadBalancer Service
// namespace/service. kwok assigns no such addresses by itself.
func (c *Cluster) SetLoadBalancerIP(ctx context.Context, namespace, service, ip string) error {
	if net.ParseIP(ip) == nil {
		return fmt.Errorf("kubetest: %q is not an IP address", ip)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := c.client.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			return fmt.Errorf("service is of type %s, not LoadBalancer", svc.Spec.Type)
		}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		_, err = c.client.CoreV1().Services(namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("kubetest: set load balancer IP of service %s/%s: %w", namespace, service, err)
	}
	return nil
}

// AddPersistentVolume creates a ReadWriteOnce hostPath PersistentVolume of the
// given capacity (e.g. "1Gi") and no storage class, which the claim of a chart
// with no storageClassName binds to (kwok clusters have no provisioner and no
// default StorageClass). The volume is never really mounted.
func (c *Cluster) AddPersistentVolume(ctx context.Context, name, capacity string) error {
	return c.AddStaticVolume(ctx, name, capacity, "")
}

// Main runs a test package's tests against one cluster: it starts a cluster
// called name, runs setup on it (to add nodes, say), stores it in *cluster,
// runs the tests, stops the cluster and exits with the tests' status. Helm's
// homes point at a temporary directory while the tests run (see
// IsolateHelm). A cluster that does not start, set up or stop cleanly fails
// the run with the reason on stderr. Call it from TestMain.
func Main(m *testing.M, name string, cluster **Cluster, setup ...func(*Cluster) error) {
	os.Exit(run(m, name, cluster, setup))
}

func run(m *testing.M, name string, cluster **Cluster, setup []func(*Cluster) error) (code int) {
	if !flag.Parsed() {
		flag.Parse() // for testing.Verbose; m.Run parses again harmlessly
	}
	helm, err := os.MkdirTemp("", "dhub-helm-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: kubetest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(helm)
	for _, k := range helmHomes {
		os.Setenv(k, filepath.Join(helm, strings.ToLower(k)))
	}
	start := time.Now()
	c, err := Start(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: kubetest: cluster %s did not start: %v\n", name, err)
		return 1
	}
	defer func() {
		start := time.Now()
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: kubetest: cluster %s: %v\n", name, err)
			code = 1
		} else if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "kubetest: cluster %s stopped in %s\n", name, time.Since(start).Round(time.Millisecond))
		}
	}()
	for _, f := range setup {
		if err := f(c); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: kubetest: cluster %s: setup: %v\n", name, err)
			return 1
		}
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "kubetest: cluster %s ready in %s\n", name, time.Since(start).Round(time.Millisecond))
	}
	*cluster = c
	return m.Run()
}

// helmHomes are the variables that place Helm's cache, config and data;
// unset, Helm uses directories under $HOME.
var helmHomes = []string{"HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"}

// IsolateHelm points Helm's cache, config and data homes at a temporary
// directory until t ends, so the test writes nothing under $HOME, reads no
// repositories or plugins of the user's, and shares no Helm state with other
// tests. Like t.Setenv, it cannot be used in parallel tests.
func IsolateHelm(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range helmHomes {
		t.Setenv(k, filepath.Join(dir, strings.ToLower(k)))
	}
}

// freePorts returns n distinct TCP ports that were free on the loopback
// interface a moment ago, as the kernel hands them out for port 0, so
// clusters started at the same time by different processes get different ones.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kubetest: pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// AssignLoadBalancer plays the cloud's load balancer controller for a
// test: it gives Service service of namespace the address ip as soon as
// the Service exists, trying until it does or the test ends.
func (c *Cluster) AssignLoadBalancer(t testing.TB, namespace, service, ip string) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			if err := c.SetLoadBalancerIP(ctx, namespace, service, ip); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}

// PoolNodes is a setup for Main: one node per node pool role of dhub (core,
// user, worker), named <role>-0 and labelled as dhub labels its pools, as
// AKS would give a recommended hub.
func PoolNodes(c *Cluster) error {
	for _, r := range []config.PoolRole{config.RoleCore, config.RoleUser, config.RoleWorker} {
		if err := c.AddNode(context.Background(), string(r)+"-0", config.RoleLabels(r), nil); err != nil {
			return err
		}
	}
	return nil
}
