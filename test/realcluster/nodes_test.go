package realcluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"dhub/internal/kube/kubetest"
	"dhub/internal/kube/realnodes"
)

// TestNodesAreTheRecommendedPools: the cluster's nodes are the
// recommended profile's pools, each a real kubelet v1.36.3 on containerd
// 2.4.2, Ready, with the pool's labels and, on the worker node, AKS's
// Spot taint.
func TestNodesAreTheRecommendedPools(t *testing.T) {
	ctx := t.Context()
	for _, want := range realnodes.RecommendedNodes() {
		n, err := cluster.Client().CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("node %s: %v", want.Name, err)
			continue
		}
		for k, v := range want.Labels {
			if n.Labels[k] != v {
				t.Errorf("node %s: label %s=%q, want %q", n.Name, k, n.Labels[k], v)
			}
		}
		for _, taint := range want.Taints {
			found := false
			for _, got := range n.Spec.Taints {
				found = found || got.MatchTaint(&taint) && got.Value == taint.Value
			}
			if !found {
				t.Errorf("node %s: taints %v lack %v", n.Name, n.Spec.Taints, taint)
			}
		}
		info := n.Status.NodeInfo
		if info.KubeletVersion != kubetest.Version || !strings.HasPrefix(info.ContainerRuntimeVersion, "containerd://2.4.2") {
			t.Errorf("node %s: kubelet %s, runtime %s; want %s on containerd 2.4.2", n.Name, info.KubeletVersion, info.ContainerRuntimeVersion, kubetest.Version)
		}
	}
}

// TestNetworkAcrossNodes: a pod on the worker node reaches a web server
// pod on the core node through its Service's DNS name: CNI routes between
// nodes, kube-proxy translates the Service, CoreDNS answers. With a
// NetworkPolicy that admits no one, the same request fails: kube-router
// enforces policies. Both are real connections between real processes.
func TestNetworkAcrossNodes(t *testing.T) {
	ctx := t.Context()
	ns := namespace(t, "net-across-nodes")
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName: "core",
			Containers: []corev1.Container{{
				Name: "web", Image: helperImage,
				Command: []string{"sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"},
				Ports:   []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)},
				}, PeriodSeconds: 1},
			}},
		},
	}
	if _, err := cluster.Client().CoreV1().Pods(ns).Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cluster.Client().CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ns, "web", func(p *corev1.Pod) bool { return podReady(p) })

	host := fmt.Sprintf("web.%s.svc.cluster.local", ns)
	phase, logs := runPod(t, ns, "client", "worker", httpGet(host, 80))
	if _, body, _ := strings.Cut(strings.ReplaceAll(logs, "\r", ""), "\n\n"); phase != corev1.PodSucceeded || strings.TrimSpace(body) != "web" {
		t.Fatalf("from the worker node, GET http://%s/: pod %s, output %q; want the web pod's host name", host, phase, logs)
	}

	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-all"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if _, err := cluster.Client().NetworkingV1().NetworkPolicies(ns).Create(ctx, deny, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// kube-router applies a new policy within moments, not at once: ask
	// again until refused, with a bound.
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		phase, logs = runPod(t, ns, fmt.Sprintf("client-denied-%d", i), "worker", httpGet(host, 80))
		if phase == corev1.PodFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a NetworkPolicy that admits no one still lets GET http://%s/ through after a minute: %q", host, logs)
		}
	}
}

// httpGet is a shell command that GETs / from host:port and prints the
// response, failing when it cannot connect. (The helper image's static
// busybox wget crashes; its nc does not.)
func httpGet(host string, port int) string {
	return fmt.Sprintf(`printf 'GET / HTTP/1.0\r\nHost: %[1]s\r\n\r\n' | nc -w 5 %[1]s %[2]d`, host, port)
}

// namespace creates a namespace for a test and deletes it afterwards.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cluster.Client().CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client().CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return name
}

// runPod runs cmd in the helper image on node until it ends and returns
// how it ended and what it printed.
func runPod(t *testing.T, ns, name, node, cmd string) (corev1.PodPhase, string) {
	t.Helper()
	ctx := t.Context()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:      node,
			RestartPolicy: corev1.RestartPolicyNever,
			Tolerations:   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers:    []corev1.Container{{Name: "run", Image: helperImage, Command: []string{"sh", "-c", cmd}}},
		},
	}
	if _, err := cluster.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, ns, name, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	logs, err := cluster.Client().CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of pod %s/%s: %v", ns, name, err)
	}
	return p.Status.Phase, string(logs)
}

// waitPod waits, up to two minutes, until the pod satisfies done.
func waitPod(t *testing.T, ns, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var last *corev1.Pod
	for {
		p, err := cluster.Client().CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = p
			if done(p) {
				return p
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s/%s: not there within two minutes: %v", ns, name, describePod(last))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describePod says where a pod stands, for failure messages.
func describePod(p *corev1.Pod) string {
	if p == nil {
		return "never seen"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s on %q", p.Status.Phase, p.Spec.NodeName)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			fmt.Fprintf(&b, "; %s: %s %s", c.Type, c.Reason, c.Message)
		}
	}
	for _, s := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil {
			fmt.Fprintf(&b, "; %s waiting: %s %s", s.Name, w.Reason, w.Message)
		}
		if x := s.State.Terminated; x != nil {
			fmt.Fprintf(&b, "; %s terminated: %s (exit %d) %s", s.Name, x.Reason, x.ExitCode, x.Message)
		}
	}
	return b.String()
}
