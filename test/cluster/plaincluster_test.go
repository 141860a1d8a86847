package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"dhub/internal/deploy"
	"dhub/internal/kube"
	"dhub/internal/kube/kubetest"
)

// The clusters people have: no default StorageClass, no load-balancer
// controller. These tests install the real charts from a chart repository
// as users do (test/realcluster installs them on real nodes).

// plainHub writes a kubernetes-target hub of the real charts from the
// repository at url into namespace ns, with hub holding the lines under
// "hub:" (indented two spaces) and its database in memory, and returns its
// dhub.yaml.
func plainHub(t *testing.T, ns, url, hub string) string {
	t.Helper()
	return chartsHubFile(t, ns, url, hub, "{hub: {db: {type: sqlite-memory}}}")
}

// recordingProber answers like a hub and records the URLs it was asked.
type recordingProber struct {
	mu   sync.Mutex
	urls []string
}

func (p *recordingProber) Get(_ context.Context, url string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.urls = append(p.urls, url)
	return nil
}

// withProber is o with p checking the hub's URL.
func withProber(o deploy.Options, p kube.Prober) deploy.Options {
	base := o.Kube
	o.Kube = func(ko *kube.Options) {
		base(ko)
		ko.Prober = p
	}
	return o
}

// On a cluster without a default StorageClass (kwok's, like many bare
// metal ones) plan and up refuse before anything is created, saying what
// to set; the time they take is printed.
func TestRealChartsRefusedWithoutStorageClass(t *testing.T) {
	t.Parallel()
	const ns = "real-no-class"
	url := kubetest.ChartRepository(t)
	file := plainHub(t, ns, url, "  https: {enabled: false}")
	o := options(t, ns, nil)
	// The first plan downloads the charts (to read their kubeVersion);
	// later ones read them from dhub's cache.
	run(t, o, "plan", "-f", file)
	for _, verb := range [][]string{{"plan"}, {"up", "--yes"}} {
		start := time.Now()
		code, stdout, stderr := run(t, o, append(verb, "-f", file)...)
		took := time.Since(start)
		t.Logf("%s refused in %s (%s)", verb[0], took.Round(time.Millisecond), strings.TrimSpace(strings.SplitN(stderr, "\n", 2)[0]))
		if code != 1 || !strings.Contains(stderr, "the cluster has no default StorageClass, so users' homes would wait forever for a volume: set hub.storage.class to one of ") {
			t.Errorf("%s: exit %d\n%s%s", verb[0], code, stdout, stderr)
		}
	}
	if _, err := cluster.Client().CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after the refusals: %v, want none", ns, err)
	}
}

// cert-manager's ClusterIssuer resource, as its CRD defines it (enough of
// it for the API server to hold one).
var clusterIssuerCRD = &unstructured.Unstructured{Object: map[string]any{
	"apiVersion": "apiextensions.k8s.io/v1",
	"kind":       "CustomResourceDefinition",
	"metadata":   map[string]any{"name": "clusterissuers.cert-manager.io"},
	"spec": map[string]any{
		"group": "cert-manager.io",
		"names": map[string]any{"kind": "ClusterIssuer", "listKind": "ClusterIssuerList", "plural": "clusterissuers", "singular": "clusterissuer"},
		"scope": "Cluster",
		"versions": []any{map[string]any{
			"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
		}},
	},
}}

// A hub behind an Ingress with a cert-manager issuer: the real chart
// renders the Ingress of the class, host, issuer annotation and TLS
// Secret, proxy-public is a ClusterIP Service with no autohttps pod, and
// up checks https://<host>/.
func TestRealChartsIngress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ns, class, host = "real-ingress", "kwok-ingress", "hub.example.org"
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Spec: networkingv1.IngressClassSpec{Controller: "example.org/ingress"}}
	if _, err := cluster.Client().NetworkingV1().IngressClasses().Create(ctx, ic, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Create(ctx, clusterIssuerCRD, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	issuers := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	issuer := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": map[string]any{"name": "letsencrypt-test"}, "spec": map[string]any{}}}
	// The CRD takes a moment to be served.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err := dyn.Resource(issuers).Create(ctx, issuer, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create ClusterIssuer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	url := kubetest.ChartRepository(t)
	file := plainHub(t, ns, url, fmt.Sprintf(`  host: %s
  expose: {type: ingress, ingressClassName: %s}
  https:
    enabled: true
    certManager: {issuer: letsencrypt-test}
  storage: {class: %s}`, host, class, staticClass(t)))
	// The ingress controller gives the Ingress an address, which the
	// hub's name resolves to.
	const ip = "192.0.2.61"
	cluster.AssignIngressAddress(t, ns, "jupyterhub", ip)
	dns := kubetest.StartDNS(t)
	dns.Set(host, ip)
	prober := &recordingProber{}
	o := withProber(withDNS(options(t, ns, nil), dns), prober)
	t.Cleanup(func() { run(t, o, "down", "-f", file, "--yes", "--delete-data") })

	code, stdout, stderr := run(t, o, "up", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	ing, err := cluster.Client().NetworkingV1().Ingresses(ns).Get(ctx, "jupyterhub", metav1.GetOptions{})
	if err != nil {
		list, _ := cluster.Client().NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
		t.Fatalf("ingress: %v (the namespace holds %d)", err, len(list.Items))
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != class ||
		len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != host ||
		ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt-test" ||
		len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "dhub-hub-tls" || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{host}) {
		t.Errorf("ingress = %+v", ing)
	}
	if b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b == nil || b.Name != "proxy-public" {
		t.Errorf("the ingress routes to %+v, want proxy-public", b)
	}
	svc, err := cluster.Client().CoreV1().Services(ns).Get(ctx, "proxy-public", metav1.GetOptions{})
	if err != nil || svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("proxy-public: %v, type %v, want ClusterIP", err, svc.Spec.Type)
	}
	if _, err := cluster.Client().AppsV1().Deployments(ns).Get(ctx, "autohttps", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployment autohttps behind an Ingress: %v, want none", err)
	}
	const want = "https://" + host + "/"
	if !strings.Contains(stdout, "DaskHub is up at "+want) || !slices.Contains(prober.urls, want+"hub/api") {
		t.Errorf("up's URL: %s; checked %q, want %s", stdout, prober.urls, want)
	}
}

// A LoadBalancer that gets no address (no controller: kwok's case, and
// bare metal's) fails after the short bound, saying why and what else to
// use, instead of waiting for the URL's bound.
func TestRealChartsLoadBalancerWithoutController(t *testing.T) {
	t.Parallel()
	const ns = "real-no-lb"
	url := kubetest.ChartRepository(t)
	file := plainHub(t, ns, url, fmt.Sprintf("  https: {enabled: false}\n  storage: {class: %s}", staticClass(t)))
	o := options(t, ns, nil)
	base := o.Kube
	o.Kube = func(ko *kube.Options) { base(ko); ko.LoadBalancerTimeout = 3 * time.Second }
	t.Cleanup(func() { run(t, o, "down", "-f", file, "--yes", "--delete-data") })
	code, stdout, stderr := run(t, o, "up", "-f", file, "--yes")
	if code != 1 || !strings.Contains(stderr, "service proxy-public has no external address after 3s: the cluster seems to have no load-balancer controller") ||
		!strings.Contains(stderr, "set hub.expose.type to nodePort (a port on every node) or ingress") {
		t.Errorf("up: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout+stderr, "no node names a cloud provider") {
		t.Errorf("the plan did not warn that no load-balancer controller seems to run:\n%s%s", stdout, stderr)
	}
}

// The hub's database claim names a StorageClass that provisions nothing
// and no volume is left: up says so as soon as the scheduler and the
// volume controller have spoken, not at the readiness bound.
func TestRealChartsClaimThatCannotBindFailsEarly(t *testing.T) {
	t.Parallel()
	const ns, class = "real-no-volume", "kwok-no-volumes"
	if err := cluster.EnsureStaticClass(context.Background(), class); err != nil {
		t.Fatal(err)
	}
	url := kubetest.ChartRepository(t)
	file := plainHub(t, ns, url, fmt.Sprintf("  https: {enabled: false}\n  storage: {class: %s}", class))
	// The database on its volume, the chart's default.
	file = rewrite(t, file, "values: {hub: {db: {type: sqlite-memory}}}", "values: {}")
	o := options(t, ns, nil)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.60")
	t.Cleanup(func() { run(t, o, "down", "-f", file, "--yes", "--delete-data") })
	start := time.Now()
	code, stdout, stderr := run(t, o, "up", "-f", file, "--yes")
	took := time.Since(start)
	t.Logf("up failed after %s in all (install included); the readiness bound is %s here, %s by default", took.Round(100*time.Millisecond), time.Minute, 10*time.Minute)
	for _, want := range []string{
		"can never become ready as things are",
		"deployment hub (0/1 ready): pod hub-",
		"persistentvolumeclaim hub-db-dir asks for StorageClass " + class + ", which provisions nothing (kubernetes.io/no-provisioner) and no free volume fits it",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("up: exit %d, lacks %q\n%s%s", code, want, stdout, stderr)
		}
	}
	if strings.Contains(stderr, "not found\n") || strings.HasSuffix(strings.TrimSpace(stderr), "not found") {
		t.Errorf("a stray 'not found' ends a line:\n%s", stderr)
	}
}

// rewrite replaces old with new in file, which must hold it.
func rewrite(t *testing.T, file, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q: %v", file, old, err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
