package realnodes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// StorageClass is the default StorageClass: local-path-provisioner makes
// each claim's volume a directory of the node its pod runs on.
const StorageClass = "local-path"

// startAddons starts the cluster's DNS and volume provisioner on the host,
// as a managed cluster runs them out of the users' sight: CoreDNS on
// hostIP behind the kube-dns Service, local-path-provisioner with the
// default StorageClass.
func (c *Cluster) startAddons(ctx context.Context) error {
	if err := c.startDNS(ctx); err != nil {
		return err
	}
	return c.startProvisioner(ctx)
}

// startDNS serves the cluster's names from CoreDNS, with no forward plugin:
// a pod's lookup of any other name fails here and never leaves the machine.
func (c *Cluster) startDNS(ctx context.Context) error {
	corefile := fmt.Sprintf(`.:53 {
    bind %s
    errors
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
`, hostIP, clusterDomain, c.kubeconfigPath("coredns"))
	path := filepath.Join(c.root, "Corefile")
	if err := os.WriteFile(path, []byte(corefile), 0o644); err != nil {
		return err
	}
	if _, err := c.startDaemon("coredns", "control", nil, filepath.Join(c.opts.NodeTools, "coredns"), "-conf", path); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: dnsServiceIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	if _, err := c.client.CoreV1().Services("kube-system").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("realnodes: kube-dns Service: %w", err)
	}
	port, udp, tcp := int32(53), corev1.ProtocolUDP, corev1.ProtocolTCP
	dns, dnsTCP, ready := "dns", "dns-tcp", true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kube-dns-host", Namespace: "kube-system",
			Labels: map[string]string{
				discoveryv1.LabelServiceName: "kube-dns",
				discoveryv1.LabelManagedBy:   "dhub-realnodes",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{hostIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: &dns, Port: &port, Protocol: &udp},
			{Name: &dnsTCP, Port: &port, Protocol: &tcp},
		},
	}
	if _, err := c.client.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("realnodes: kube-dns EndpointSlice: %w", err)
	}
	return nil
}

// startProvisioner starts local-path-provisioner with a volume directory per
// node and makes its StorageClass the default.
func (c *Cluster) startProvisioner(ctx context.Context) error {
	type nodePath struct {
		Node  string   `json:"node"`
		Paths []string `json:"paths"`
	}
	var paths []nodePath
	for _, n := range c.nodes {
		dir := filepath.Join(n.dir, "volumes")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		paths = append(paths, nodePath{Node: n.spec.Name, Paths: []string{dir}})
	}
	config, err := json.Marshal(map[string]any{"nodePathMap": paths})
	if err != nil {
		return err
	}
	const sa = "local-path-provisioner"
	helperPod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  tolerations:
  - operator: Exists
  containers:
  - name: helper-pod
    image: %s
    imagePullPolicy: IfNotPresent
`, c.opts.HelperImage)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "local-path-config", Namespace: "kube-system"},
		Data: map[string]string{
			"config.json":    string(config),
			"setup":          "#!/bin/sh\nset -eu\nmkdir -m 0777 -p \"$VOL_DIR\"\n",
			"teardown":       "#!/bin/sh\nset -eu\nrm -rf \"$VOL_DIR\"\n",
			"helperPod.yaml": helperPod,
		},
	}
	if _, err := c.client.CoreV1().ConfigMaps("kube-system").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("realnodes: local-path-provisioner's ConfigMap: %w", err)
	}
	if _, err := c.client.CoreV1().ServiceAccounts("kube-system").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: "kube-system"}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("realnodes: local-path-provisioner's ServiceAccount: %w", err)
	}
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	del := corev1.PersistentVolumeReclaimDelete
	class := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "rancher.io/local-path",
		VolumeBindingMode: &wait,
		ReclaimPolicy:     &del,
	}
	if _, err := c.client.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("realnodes: StorageClass %s: %w", StorageClass, err)
	}
	d, err := c.startDaemon("local-path-provisioner", "control", nil, filepath.Join(c.opts.NodeTools, "local-path-provisioner"),
		"--debug", "start",
		"--kubeconfig", c.kubeconfigPath("local-path-provisioner"),
		"--namespace", "kube-system",
		"--configmap-name", "local-path-config",
		"--service-account-name", sa,
		"--helper-image", c.opts.HelperImage,
		"--provisioner-name", "rancher.io/local-path",
	)
	if err != nil {
		return err
	}
	// It reads its ConfigMap at start, then says so (at debug level).
	return c.waitFor(ctx, "local-path-provisioner started", 30*time.Second, func() error {
		if d.exited() {
			return permanent(fmt.Errorf("local-path-provisioner exited:\n%s", logTail(d.log, 20)))
		}
		if data, _ := os.ReadFile(d.log); !strings.Contains(string(data), "Provisioner started") {
			return fmt.Errorf("it has not said \"Provisioner started\"")
		}
		return nil
	})
}
