package realnodes

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// apiPort is the API server's port on hostIP. The address is the cluster's
// own, so the port cannot clash with anything of the host's.
const apiPort = 6443

// apiServer is the URL every component and test reaches the API server at.
func apiServer() string { return "https://" + net.JoinHostPort(hostIP, strconv.Itoa(apiPort)) }

// credentials writes the cluster's authority, the API server's certificates
// and one kubeconfig per component (the admin's among them).
func (c *Cluster) credentials() error {
	ca, err := newAuthority()
	if err != nil {
		return fmt.Errorf("realnodes: certificate authority: %w", err)
	}
	c.ca = ca
	if err := os.WriteFile(c.pki("ca.crt"), ca.certPEM, 0o644); err != nil {
		return err
	}
	serving, err := ca.issue("kube-apiserver", nil,
		[]net.IP{net.ParseIP(hostIP), net.ParseIP(apiServiceIP), net.ParseIP("127.0.0.1")},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDomain, "localhost"})
	if err != nil {
		return err
	}
	if _, _, err := serving.write(c.pki(""), "apiserver"); err != nil {
		return err
	}
	// The API server's identity towards kubelets (logs, exec, port-forward).
	kubeletClient, err := ca.issue("kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil)
	if err != nil {
		return err
	}
	if _, _, err := kubeletClient.write(c.pki(""), "apiserver-kubelet-client"); err != nil {
		return err
	}
	if _, _, err := serviceAccountKey(c.pki("")); err != nil {
		return err
	}
	// Each component in its own identity, so the API server's audit of who
	// did what stays readable; the add-ons that run on the host are
	// cluster administrators, as test infrastructure.
	for name, id := range map[string][2]string{
		"admin":                   {"dhub-realnodes-admin", "system:masters"},
		"kube-controller-manager": {"system:kube-controller-manager", ""},
		"kube-scheduler":          {"system:kube-scheduler", ""},
		"coredns":                 {"dhub-realnodes-coredns", "system:masters"},
		"local-path-provisioner":  {"dhub-realnodes-local-path-provisioner", "system:masters"},
	} {
		if err := c.writeKubeconfig(name, id[0], id[1]); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfig writes kubeconfigs/name for the user cn in group org (none
// when empty).
func (c *Cluster) writeKubeconfig(name, cn, org string) error {
	var orgs []string
	if org != "" {
		orgs = []string{org}
	}
	p, err := c.ca.issue(cn, orgs, nil, nil)
	if err != nil {
		return err
	}
	return os.WriteFile(c.kubeconfigPath(name), c.ca.kubeconfig(apiServer(), p), 0o600)
}

func (c *Cluster) pki(name string) string { return filepath.Join(c.root, "pki", name) }

func (c *Cluster) kubeconfigPath(name string) string {
	return filepath.Join(c.root, "kubeconfigs", name)
}

// startControlPlane starts etcd (on loopback: it has no authentication), the
// API server on hostIP, the controller manager and the scheduler, and waits
// until the API server is ready and the default namespace can take pods.
func (c *Cluster) startControlPlane(ctx context.Context) error {
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	bin := func(name string) string { return filepath.Join(c.opts.KubeTools, name) }
	if _, err := c.startDaemon("etcd", "control", nil, bin("etcd"),
		"--data-dir", filepath.Join(c.root, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--listen-metrics-urls", "", "--log-level", "warn",
		"--unsafe-no-fsync", // test data: the cluster dies with its directory
	); err != nil {
		return err
	}
	apiserver, err := c.startDaemon("kube-apiserver", "control", nil, bin("kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", hostIP, "--advertise-address", hostIP, "--secure-port", strconv.Itoa(apiPort),
		"--service-cluster-ip-range", serviceNet,
		"--tls-cert-file", c.pki("apiserver.crt"), "--tls-private-key-file", c.pki("apiserver.key"),
		"--client-ca-file", c.pki("ca.crt"),
		"--kubelet-client-certificate", c.pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", c.pki("apiserver-kubelet-client.key"),
		// By address: a node's name would be looked up in the host's
		// resolver, which is traffic off the machine.
		"--kubelet-preferred-address-types", "InternalIP,Hostname",
		"--service-account-key-file", c.pki("sa.pub"),
		"--service-account-signing-key-file", c.pki("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc."+clusterDomain,
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged",
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	if err := c.waitReadyz(ctx, apiserver); err != nil {
		return err
	}
	if _, err := c.startDaemon("kube-controller-manager", "control", nil, bin("kube-controller-manager"),
		"--kubeconfig", c.kubeconfigPath("kube-controller-manager"),
		"--authentication-kubeconfig", c.kubeconfigPath("kube-controller-manager"),
		"--authorization-kubeconfig", c.kubeconfigPath("kube-controller-manager"),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--service-account-private-key-file", c.pki("sa.key"),
		"--root-ca-file", c.pki("ca.crt"),
		"--use-service-account-credentials",
		"--service-cluster-ip-range", serviceNet,
		"--profiling=false",
	); err != nil {
		return err
	}
	if _, err := c.startDaemon("kube-scheduler", "control", nil, bin("kube-scheduler"),
		"--kubeconfig", c.kubeconfigPath("kube-scheduler"),
		"--authentication-kubeconfig", c.kubeconfigPath("kube-scheduler"),
		"--authorization-kubeconfig", c.kubeconfigPath("kube-scheduler"),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[3]),
		"--profiling=false",
	); err != nil {
		return err
	}
	return c.waitFor(ctx, "the default namespace's service account", 2*time.Minute, func() error {
		_, err := c.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// connect makes the admin's client of the cluster.
func (c *Cluster) connect() error {
	kc, err := os.ReadFile(c.kubeconfigPath("admin"))
	if err != nil {
		return err
	}
	config, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		return fmt.Errorf("realnodes: admin kubeconfig: %w", err)
	}
	config.QPS, config.Burst = 100, 200
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("realnodes: %w", err)
	}
	c.client = client
	return nil
}

// waitReadyz waits until the API server says it is ready, failing early
// with its log when it exits.
func (c *Cluster) waitReadyz(ctx context.Context, apiserver *daemon) error {
	return c.waitFor(ctx, "the API server's /readyz", 2*time.Minute, func() error {
		if apiserver.exited() {
			return permanent(fmt.Errorf("kube-apiserver exited:\n%s", logTail(apiserver.log, 20)))
		}
		body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Raw()
		if err != nil {
			return fmt.Errorf("%w: %s", err, body)
		}
		return nil
	})
}

// freePorts returns n distinct free TCP ports on loopback.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("realnodes: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
