// Package realnodes gives tests a Kubernetes cluster whose pods really run:
// a control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler v1.36.3) and real nodes, each a kubelet with containerd and
// runc, bridge CNI, kube-proxy and kube-router's NetworkPolicy firewall, in a
// network namespace and a mount namespace of its own; CoreDNS and
// local-path-provisioner (the default StorageClass) serve all nodes.
// Images are imported from archives (see scripts/node-images.sh): nothing is
// pulled, and no traffic leaves the machine.
//
// Everything the cluster makes is its own and is removed by Stop, or, when
// the test process died, by a watchdog process, or by the next Start:
// processes (each runs in the cluster's cgroup, so containers and shims are
// found too), namespaces and their mounts, the host's bridge and routes,
// cgroups, and the directories node daemons need at fixed host paths.
// There is one such cluster per machine at a time (its names and addresses
// are fixed); Start waits for a machine-wide lock.
//
// It needs root, cgroup v1, and the tools built by scripts/kube-tools.sh and
// scripts/node-tools.sh; anything missing is an error, never a skip.
package realnodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"dhub/internal/config"
)

// SandboxImage is the pod sandbox image containerd is pinned to; it must be
// among the imported images.
const SandboxImage = "registry.k8s.io/pause:3.10.1"

// Image is an image archive (docker-archive), the reference it is
// imported under, and the nodes it is imported on.
type Image struct {
	Archive string
	Ref     string
	// Nodes names the nodes that get the image; none means every node.
	// Importing costs seconds per hundred megabytes on each node, so an
	// image goes only where its pods may run.
	Nodes []string
}

// Options say where the cluster's tools are and what it runs.
type Options struct {
	// Root is the cluster's directory; everything of it lives there
	// (default: dhub-realnodes in the system's temporary directory).
	Root string
	// KubeTools holds etcd, kube-apiserver, kube-controller-manager and
	// kube-scheduler (scripts/kube-tools.sh).
	KubeTools string
	// NodeTools holds kubelet, kube-proxy, containerd,
	// containerd-shim-runc-v2, ctr, coredns, local-path-provisioner and
	// kube-router (scripts/node-tools.sh).
	NodeTools string
	// Runc is the runc binary (default Debian's /usr/sbin/runc).
	Runc string
	// CNIPlugins is the directory of the bridge, host-local and portmap
	// plugins (default Debian's /usr/lib/cni).
	CNIPlugins string
	// Images are imported on their nodes before the kubelets start.
	Images []Image
	// HelperImage is the image of local-path-provisioner's helper pods (a
	// shell with mkdir and rm); it must be among Images.
	HelperImage string
	// Nodes are the cluster's nodes (see RecommendedNodes).
	Nodes []NodeSpec
	// Progress, when not nil, receives a line per step with its time.
	Progress io.Writer
}

// Cluster is a running cluster with real nodes. Its methods may be called
// from several goroutines at once.
type Cluster struct {
	opts     Options
	root     string
	ca       *authority
	nodes    []*node
	client   kubernetes.Interface
	lock     *os.File
	watchdog *os.Process
	started  time.Time

	mu      sync.Mutex
	daemons []*daemon
	stopped bool
}

// RecommendedNodes are the nodes of dhub's recommended profile, as AKS
// makes them: core (the hub), user (users' servers and Dask schedulers)
// and worker (Dask workers), the last tainted as an AKS Spot node.
func RecommendedNodes() []NodeSpec {
	return []NodeSpec{
		{Name: "core", Labels: config.RoleLabels(config.RoleCore)},
		{Name: "user", Labels: config.RoleLabels(config.RoleUser)},
		{Name: "worker", Labels: config.RoleLabels(config.RoleWorker),
			Taints: []corev1.Taint{{Key: "kubernetes.azure.com/scalesetpriority", Value: "spot", Effect: corev1.TaintEffectNoSchedule}}},
	}
}

// DefaultRoot is the cluster's directory when Options.Root is empty.
func DefaultRoot() string { return filepath.Join(os.TempDir(), "dhub-realnodes") }

// Start starts a cluster and returns once every node is Ready, DNS answers
// and volumes can be provisioned. What a previous run left behind is
// removed first. On failure, everything started is stopped again and the
// error carries the failing component's log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("realnodes: real nodes need root (namespaces, mounts, cgroups, links); run the tier as root")
	}
	if opts.Root == "" {
		opts.Root = DefaultRoot()
	}
	if opts.Runc == "" {
		opts.Runc = "/usr/sbin/runc"
	}
	if opts.CNIPlugins == "" {
		opts.CNIPlugins = "/usr/lib/cni"
	}
	if len(opts.Nodes) == 0 {
		return nil, errors.New("realnodes: no nodes asked for")
	}
	if err := checkTools(opts); err != nil {
		return nil, err
	}
	lock, err := lockMachine(opts.Root)
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, root: opts.Root, lock: lock, started: time.Now()}
	if err := Teardown(ctx, opts.Root); err != nil {
		c.unlock()
		return nil, fmt.Errorf("realnodes: removing what an earlier run left: %w", err)
	}
	if err := c.start(ctx); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context) error {
	if err := checkRangesFree(ctx); err != nil {
		return err
	}
	for _, d := range []string{"pki", "kubeconfigs", "logs", "home", "ns", "nodes"} {
		if err := os.MkdirAll(filepath.Join(c.root, d), 0o755); err != nil {
			return err
		}
	}
	if err := recordHostPaths(c.root); err != nil {
		return err
	}
	if err := c.startWatchdog(); err != nil {
		return err
	}
	// The namespaces' files must sit on a private mount: a mount
	// namespace cannot be kept by a file its own mounts propagate to.
	nsDir := filepath.Join(c.root, "ns")
	if err := run(ctx, "", []string{"mount", "--bind", nsDir, nsDir}, []string{"mount", "--make-private", nsDir}); err != nil {
		return err
	}
	for i, spec := range c.opts.Nodes {
		c.nodes = append(c.nodes, &node{
			spec:  spec,
			index: i,
			dir:   filepath.Join(c.root, "nodes", spec.Name),
			netns: filepath.Join(nsDir, spec.Name+".net"),
			mntns: filepath.Join(nsDir, spec.Name+".mnt"),
		})
	}
	if err := c.credentials(); err != nil {
		return err
	}
	if err := makeBridge(ctx); err != nil {
		return err
	}
	c.progress("the host's bridge %s (%s)", bridgeName, hostIP)
	if err := c.startControlPlane(ctx); err != nil {
		return err
	}
	c.progress("control plane ready at %s", apiServer())
	for _, n := range c.nodes {
		if err := os.MkdirAll(n.dir, 0o755); err != nil {
			return err
		}
		if err := c.makeNamespaces(ctx, n); err != nil {
			return err
		}
		if err := c.writeNodeConfigs(n); err != nil {
			return err
		}
		if _, err := makeCgroup(n.podsCgroup()); err != nil {
			return err
		}
	}
	if err := routeServices(ctx); err != nil {
		return err
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			if errs[i] = c.startNode(ctx, n); errs[i] == nil {
				errs[i] = c.waitNodeReady(ctx, n)
			}
			if errs[i] == nil {
				errs[i] = c.startFirewall(n)
			}
			if errs[i] == nil {
				c.progress("node %s Ready", n.spec.Name)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := c.startAddons(ctx); err != nil {
		return err
	}
	c.progress("CoreDNS and local-path-provisioner running")
	return c.Healthy()
}

// Healthy returns an error naming each of the cluster's daemons that has
// exited, with the end of its log.
func (c *Cluster) Healthy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, d := range c.daemons {
		if d.exited() {
			errs = append(errs, fmt.Errorf("realnodes: %s exited:\n%s", d.name, logTail(d.log, 15)))
		}
	}
	return errors.Join(errs...)
}

// progress reports a step with the time since Start.
func (c *Cluster) progress(format string, args ...any) {
	if c.opts.Progress != nil {
		fmt.Fprintf(c.opts.Progress, "realnodes: %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(c.started).Seconds())
	}
}

// Stop stops every process of the cluster and removes all it made. Calling
// it again does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()
	if c.watchdog != nil {
		_ = c.watchdog.Kill()
		_, _ = c.watchdog.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := Teardown(ctx, c.root)
	c.unlock()
	return err
}

func (c *Cluster) unlock() {
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}

// KubeconfigPath returns the path of the admin's kubeconfig file.
func (c *Cluster) KubeconfigPath() string { return c.kubeconfigPath("admin") }

// Client returns a client with admin rights.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Root returns the cluster's directory (logs in Root()/logs).
func (c *Cluster) Root() string { return c.root }

// checkTools fails, naming each, when a binary the cluster runs is missing.
func checkTools(o Options) error {
	var missing []string
	need := func(path string) {
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, path)
		}
	}
	for _, t := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		need(filepath.Join(o.KubeTools, t))
	}
	for _, t := range []string{"kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr", "coredns", "local-path-provisioner", "kube-router"} {
		need(filepath.Join(o.NodeTools, t))
	}
	need(o.Runc)
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		need(filepath.Join(o.CNIPlugins, p))
	}
	for _, t := range []string{"ip", "unshare", "nsenter", "mount", "iptables", "ipset"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t+" (on PATH)")
		}
	}
	for _, im := range o.Images {
		if _, err := os.Stat(im.Archive); err != nil {
			missing = append(missing, im.Archive+" (image "+im.Ref+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("realnodes: missing: %v (scripts/kube-tools.sh, scripts/node-tools.sh and scripts/node-images.sh make them)", missing)
	}
	return nil
}

// lockMachine takes the machine-wide lock of clusters at root, waiting for
// another run to finish.
func lockMachine(root string) (*os.File, error) {
	f, err := os.OpenFile(root+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("realnodes: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("realnodes: lock %s: %w", f.Name(), err)
	}
	return f, nil
}
