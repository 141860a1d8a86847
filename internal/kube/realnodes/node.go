package realnodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeSpec describes a node: its name and the labels and taints it
// registers with.
type NodeSpec struct {
	Name   string
	Labels map[string]string
	Taints []corev1.Taint
}

// node is a running node: a network namespace with one link to the host's
// bridge, a mount namespace of its own, and containerd, the kubelet,
// kube-proxy and kube-router's firewall inside both.
type node struct {
	spec  NodeSpec
	index int
	dir   string // everything of the node: configurations, its view of the host paths, volumes
	netns string // file the network namespace is kept alive by
	mntns string // file the mount namespace is kept alive by
}

// hostPaths are the paths node daemons use whatever their flags say (the
// kubelet's device plugins and container log links, containerd's state and
// FIFOs, libcni's cache) or by default. Each node sees, at each of them, a
// directory of its own (node.hostPath), bound in its mount namespace, so
// several nodes share one machine and nothing lands in the host's.
var hostPaths = []string{
	"/var/lib/kubelet",
	"/var/lib/containerd",
	"/run/containerd",
	"/var/lib/cni",
	"/var/log/pods",
	"/var/log/containers",
	"/etc/cni/net.d",
	"/var/lib/kube-router",
}

// hostPath is where, outside the node, the node's own copy of p lives.
func (n *node) hostPath(p string) string { return filepath.Join(n.dir, "host", p) }

// makeNamespaces creates the node's network and mount namespaces, kept
// alive by files in nsDir: a fresh /sys for the network namespace (with the
// host's cgroup hierarchies moved back under it), the node's own host
// paths, and an eth0 on the host's bridge.
func (c *Cluster) makeNamespaces(ctx context.Context, n *node) error {
	for _, p := range hostPaths {
		if err := os.MkdirAll(n.hostPath(p), 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{n.netns, n.mntns} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}
	var script strings.Builder
	// /sys must be the new network namespace's (the kubelet and
	// kube-proxy read links there), with the cgroup tree still in it.
	fmt.Fprintf(&script, `set -e
keep=%[1]s/cgroup-keep
mkdir -p "$keep"
mount --move /sys/fs/cgroup "$keep"
mount -t sysfs sysfs /sys
mount --move "$keep" /sys/fs/cgroup
rmdir "$keep"
`, shellQuote(n.dir))
	for _, p := range hostPaths {
		fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(n.hostPath(p)), shellQuote(p))
	}
	fmt.Fprintf(&script, `ip link set lo up
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
ip link add eth0 type veth peer name %[1]s netns %[2]d
ip addr add %[3]s/24 dev eth0
ip link set eth0 up
ip route add default via %[4]s
`, hostLink(n.index), os.Getpid(), nodeIP(n.index), hostIP)
	for i := range c.nodes {
		if i != n.index {
			fmt.Fprintf(&script, "ip route add %s via %s\n", podCIDR(i), nodeIP(i))
		}
	}
	if err := run(ctx, "", []string{"unshare", "--net=" + n.netns, "--mount=" + n.mntns, "--propagation", "private", "sh", "-c", script.String()}); err != nil {
		return fmt.Errorf("node %s namespaces: %w", n.spec.Name, err)
	}
	return run(ctx, "",
		[]string{"ip", "link", "set", hostLink(n.index), "master", bridgeName, "up"},
		[]string{"ip", "route", "add", podCIDR(n.index), "via", nodeIP(n.index), "dev", bridgeName},
	)
}

// writeNodeConfigs writes the node's CNI network, containerd's, the
// kubelet's and kube-proxy's configurations and credentials.
func (c *Cluster) writeNodeConfigs(n *node) error {
	name := n.spec.Name
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "dhub-realnodes",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR(n.index))
	containerd := fmt.Sprintf(`version = 4
imports = []
# NRI's socket is at a fixed host path, shared by every containerd of the
# machine; the nodes have no NRI plugin.
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '/run/containerd/containerd.sock'

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %q

[plugins.'io.containerd.cri.v1.runtime']
  # No process here may lower its OOM score (the machine withholds
  # CAP_SYS_RESOURCE); runc would fail every sandbox.
  restrict_oom_score_adj = true
  # Pods' network namespaces under /run/containerd, which is the node's own.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%q]
    conf_dir = '/etc/cni/net.d'

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = '127.0.0.1'
`, SandboxImage, c.opts.Runc, c.opts.CNIPlugins)
	var taints strings.Builder
	for _, t := range n.spec.Taints {
		fmt.Fprintf(&taints, "\n  - {key: %q, value: %q, effect: %q}", t.Key, t.Value, t.Effect)
	}
	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]q}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# cgroup v1 with the cgroupfs driver, every pod under the cluster's cgroup.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[3]s/%[4]s
# The machine withholds CAP_SYS_RESOURCE: no OOM score below the parent's.
oomScoreAdj: 0
clusterDNS: [%[5]s]
clusterDomain: %[6]s
# Pods resolve only through CoreDNS: no lookup leaves the machine.
resolvConf: ""
# The images are imported, never pulled: they must never be collected, and
# a shared disk's fill must not evict the pods of a test.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", nodefs.inodesFree: "1%%", imagefs.available: "1%%"}
serializeImagePulls: false
staticPodPath: ""
rotateCertificates: false
serverTLSBootstrap: false
hairpinMode: hairpin-veth
registerWithTaints:%[7]s
`, nodeIP(n.index), c.pki("ca.crt"), cgroupRoot, n.podsCgroup(), dnsServiceIP, clusterDomain, orEmptyList(taints.String()))
	proxy := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %[1]q}
mode: iptables
hostnameOverride: %[2]s
bindAddress: %[3]s
clusterCIDR: %[4]s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
oomScoreAdj: 0
# Zero leaves the host's global conntrack settings as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, c.kubeconfigPath("kube-proxy-"+name), name, nodeIP(n.index), podNet)
	files := map[string]string{
		n.hostPath("/etc/cni/net.d/10-dhub-realnodes.conflist"): cni,
		filepath.Join(n.dir, "containerd.toml"):                 containerd,
		filepath.Join(n.dir, "kubelet.yaml"):                    kubelet,
		filepath.Join(n.dir, "kube-proxy.yaml"):                 proxy,
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	for file, id := range map[string][2]string{
		"kubelet-" + name:     {"system:node:" + name, "system:nodes"},
		"kube-proxy-" + name:  {"system:kube-proxy", ""},
		"kube-router-" + name: {"dhub-realnodes-kube-router", "system:masters"},
	} {
		if err := c.writeKubeconfig(file, id[0], id[1]); err != nil {
			return err
		}
	}
	return nil
}

// startNode starts the node's containerd, imports the node's images, then
// starts its kubelet and kube-proxy.
func (c *Cluster) startNode(ctx context.Context, n *node) error {
	name := n.spec.Name
	containerd, err := c.startNodeDaemon(n, "containerd", "--config", filepath.Join(n.dir, "containerd.toml"))
	if err != nil {
		return err
	}
	socket := n.hostPath("/run/containerd/containerd.sock")
	if err := c.waitFor(ctx, name+"'s containerd socket", time.Minute, func() error {
		if containerd.exited() {
			return permanent(fmt.Errorf("containerd exited:\n%s", logTail(containerd.log, 20)))
		}
		return run(ctx, "", []string{filepath.Join(c.opts.NodeTools, "ctr"), "--address", socket, "version"})
	}); err != nil {
		return err
	}
	if err := c.importImages(ctx, n, socket); err != nil {
		return err
	}
	labels := make([]string, 0, len(n.spec.Labels))
	for k, v := range n.spec.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	args := []string{
		"--config", filepath.Join(n.dir, "kubelet.yaml"),
		"--kubeconfig", c.kubeconfigPath("kubelet-" + name),
		"--hostname-override", name,
		"--node-ip", nodeIP(n.index),
	}
	if len(labels) > 0 {
		args = append(args, "--node-labels", strings.Join(labels, ","))
	}
	if _, err := c.startNodeDaemon(n, "kubelet", args...); err != nil {
		return err
	}
	_, err = c.startNodeDaemon(n, "kube-proxy", "--config", filepath.Join(n.dir, "kube-proxy.yaml"))
	return err
}

// startNodeDaemon starts the node tool bin as the node's daemon: in the
// node's namespaces and its system cgroup, logging to <node>-<bin>.log.
func (c *Cluster) startNodeDaemon(n *node, bin string, args ...string) (*daemon, error) {
	return c.startDaemon(n.spec.Name+"-"+bin, n.spec.Name+"/system", n, filepath.Join(c.opts.NodeTools, bin), args...)
}

// podsCgroup is the cgroup, under cgroupRoot, of the node's pods: its
// kubelet's cgroupRoot.
func (n *node) podsCgroup() string { return n.spec.Name + "/pods" }

// startFirewall starts kube-router's NetworkPolicy firewall on the node.
// It finds its node by name at start, so the node must be registered.
func (c *Cluster) startFirewall(n *node) error {
	name := n.spec.Name
	_, err := c.startNodeDaemon(n, "kube-router",
		"--kubeconfig", c.kubeconfigPath("kube-router-"+name),
		"--hostname-override", name,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--enable-cni=false", "--enable-ipv6=false",
		"--health-port", "0", "--metrics-port", "0",
	)
	return err
}

// waitNodeReady waits until the node is registered, Ready and free of the
// taints a new node carries until its controllers have seen it.
func (c *Cluster) waitNodeReady(ctx context.Context, n *node) error {
	kubelet := c.logPath(n.spec.Name + "-kubelet")
	return c.waitFor(ctx, "node "+n.spec.Name+" Ready", 2*time.Minute, func() error {
		got, err := c.client.CoreV1().Nodes().Get(ctx, n.spec.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%w; kubelet log:\n%s", err, logTail(kubelet, 10))
		}
		for _, t := range got.Spec.Taints {
			if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
				return fmt.Errorf("tainted %s", t.Key)
			}
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("Ready=%s: %s; kubelet log:\n%s", cond.Status, cond.Message, logTail(kubelet, 10))
			}
		}
		return fmt.Errorf("no Ready condition yet")
	})
}

func orEmptyList(items string) string {
	if items == "" {
		return " []"
	}
	return items
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
