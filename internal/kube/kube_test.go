package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/charts"
	"dhub/internal/config"
	"dhub/internal/golden"
	"dhub/internal/kube/kubetest"
	"dhub/internal/plan"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// cluster is one real control plane (kwok nodes) for the whole package.
var cluster *kubetest.Cluster

func TestMain(m *testing.M) { kubetest.Main(m, "dhub-kube-test", &cluster, kubetest.PoolNodes) }

// testHub is a recommended-profile hub for target kubernetes in namespace
// ns, with the test charts of testdata and shared-password login.
func testHub(t *testing.T, ns string) *config.Hub {
	t.Helper()
	wd, _ := os.Getwd()
	doc := fmt.Sprintf(`name: kube-test
target: kubernetes
namespace: %s
hub:
  https: {enabled: false}
  auth:
    type: password
dask:
  workerCores: {max: 8}
kubernetes:
  nodeRoles: [core, user, worker]
charts:
  jupyterhub: {path: %s}
  daskGateway: {path: %s}
`, ns, filepath.Join(wd, "testdata/charts/jupyterhub"), filepath.Join(wd, "testdata/charts/dask-gateway"))
	f, err := config.Load("dhub.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if ps := f.Hub.Validate().Errors(); len(ps) > 0 {
		t.Fatalf("test hub invalid: %v", ps)
	}
	// kwok provisions no volumes: the hub keeps its database in memory,
	// and users' homes would be pre-made volumes of a static class.
	f.Hub.Charts.JupyterHub.Values = map[string]any{"hub": map[string]any{"db": map[string]any{"type": "sqlite-memory"}}}
	if err := cluster.EnsureStaticClass(context.Background(), kubetest.StaticClass); err != nil {
		t.Fatal(err)
	}
	f.Hub.JupyterHub.Storage.Class = kubetest.StaticClass
	return f.Hub
}

// fakeProber stands in for the hub answering over HTTP, which kwok's pods
// don't serve.
type fakeProber struct {
	mu  sync.Mutex
	get func(url string) error
	got []string
}

func (p *fakeProber) Get(_ context.Context, url string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, url)
	if p.get != nil {
		return p.get(url)
	}
	return nil
}

// newClient connects to the test cluster with short waits; progress goes
// to the returned buffer. A nil prober answers every URL; no name
// resolves.
func newClient(t *testing.T, ns string, prober Prober) (*Client, *syncBuffer) {
	t.Helper()
	return clientWith(t, ns, Options{Prober: prober})
}

// clientWith is newClient with o's Prober, Resolver and URLTimeout where
// set; a nil Resolver is a DNS server of the test's that knows no name.
func clientWith(t *testing.T, ns string, o Options) (*Client, *syncBuffer) {
	t.Helper()
	var out syncBuffer
	if o.Prober == nil {
		o.Prober = &fakeProber{}
	}
	if o.Resolver == nil {
		o.Resolver = kubetest.StartDNS(t).Resolver()
	}
	if o.URLTimeout == 0 {
		o.URLTimeout = 30 * time.Second
	}
	c, err := New(Source{Kubeconfig: cluster.KubeconfigBytes()}, ns, Options{
		Progress:     &out,
		ReadyTimeout: 60 * time.Second,
		PollInterval: 200 * time.Millisecond,
		URLTimeout:   o.URLTimeout,
		CertTimeout:  5 * time.Second,
		Prober:       o.Prober,
		Resolver:     o.Resolver,
		CacheDir:     t.TempDir(),
		ServiceGet:   cluster.ServiceAnswers(ns, kubetest.GatewayAPI(`{"status": "pass"}`)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("progress:\n%s", out.String())
		}
	})
	return c, &out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// installedHub installs the test hub in namespace ns, with proxy-public at
// ip, and removes it when the test ends.
func installedHub(t *testing.T, ns, ip string) (*config.Hub, *Client, *syncBuffer) {
	t.Helper()
	h := testHub(t, ns)
	c, progress := newClient(t, ns, nil)
	down(t, c, h)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", ip)
	if _, _, err := up(context.Background(), c, h); err != nil {
		t.Fatal(err)
	}
	return h, c, progress
}

// up plans and applies that plan, as 'dhub up' does.
func up(ctx context.Context, c *Client, h *config.Hub) (*Plan, *UpResult, error) {
	p, err := c.Plan(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Apply(ctx, p)
	return p, res, err
}

// tearDown plans the removal of the hub and does it, as 'dhub down' does.
func tearDown(ctx context.Context, c *Client, h *config.Hub, deleteData bool) (*DownResult, error) {
	p, err := c.PlanDown(ctx, h, deleteData)
	if err != nil {
		return nil, err
	}
	return c.Down(ctx, p)
}

func down(t *testing.T, c *Client, h *config.Hub) {
	t.Cleanup(func() {
		if _, err := tearDown(context.Background(), c, h, true); err != nil {
			t.Errorf("down: %v", err)
		}
	})
}

func revisions(t *testing.T, c *Client) map[string]int {
	t.Helper()
	cfg, names, err := c.releases()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for chart, name := range map[string]string{"jupyterhub": names.JupyterHub, "dask-gateway": names.DaskGateway} {
		rel, err := deployed(cfg, name)
		if err != nil {
			t.Fatal(err)
		}
		if rel != nil {
			out[chart] = rel.Version
		}
	}
	return out
}

func TestInstallReadyURLThenNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "install")
	c, progress := newClient(t, h.Namespace, nil)
	down(t, c, h)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.10")

	p, res, err := up(ctx, c, h)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.View.Counts(); n[plan.Create] != 4 {
		t.Fatalf("plan before install = %+v, want the namespace, the secret and both releases created", p.View.Changes)
	}
	t.Logf("install of both releases, waited until ready: %s", res.Elapsed.Round(time.Millisecond))
	if res.URL != "http://192.0.2.10/" || !res.Changed {
		t.Errorf("up = %+v, want the load balancer's URL", res)
	}
	if got := revisions(t, c); got["jupyterhub"] != 1 || got["dask-gateway"] != 1 {
		t.Errorf("revisions = %v", got)
	}
	if !strings.Contains(progress.String(), "components ready") {
		t.Errorf("no readiness progress:\n%s", progress)
	}
	secret, err := c.clientset.CoreV1().Secrets(h.Namespace).Get(ctx, "dhub-auth", metav1.GetOptions{})
	if err != nil || len(secret.Data["admin-password"]) != 64 {
		t.Fatalf("dhub-auth secret: %v, %d bytes of admin password", err, len(secret.Data["admin-password"]))
	}
	password := string(secret.Data["admin-password"])

	noop := time.Now()
	p, res, err = up(ctx, c, h)
	if err != nil {
		t.Fatal(err)
	}
	if p.View.HasChanges() {
		var b bytes.Buffer
		p.View.WriteText(&b)
		t.Fatalf("plan after up has changes:\n%s", b.String())
	}
	t.Logf("no-op up: %s", time.Since(noop).Round(time.Millisecond))
	if res.Changed {
		t.Error("second up changed something")
	}
	if got := revisions(t, c); got["jupyterhub"] != 1 || got["dask-gateway"] != 1 {
		t.Errorf("second up touched the releases: revisions %v", got)
	}
	secret, _ = c.clientset.CoreV1().Secrets(h.Namespace).Get(ctx, "dhub-auth", metav1.GetOptions{})
	if string(secret.Data["admin-password"]) != password {
		t.Error("second up regenerated the admin password")
	}
}

func TestUpgradeChangedValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, _ := installedHub(t, "upgrade", "192.0.2.11")
	// The tokens the chart generated in its hub Secret: all of it but
	// values.yaml, the chart's copy of its values.
	hubTokens := func() map[string][]byte {
		t.Helper()
		s, err := c.clientset.CoreV1().Secrets(h.Namespace).Get(ctx, "hub", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		delete(s.Data, "values.yaml")
		return s.Data
	}
	// The proxy's pod template: a change restarts the proxy, and every
	// user's open connection drops with it.
	proxyTemplate := func() map[string]string {
		t.Helper()
		d, err := c.clientset.AppsV1().Deployments(h.Namespace).Get(ctx, "proxy", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations
	}
	proxyBefore := proxyTemplate()
	tokens := hubTokens()
	if len(tokens["hub.services.dask-gateway.apiToken"]) == 0 {
		t.Fatalf("the hub Secret has no token for the gateway: keys %v", slices.Sorted(maps.Keys(tokens)))
	}
	h.JupyterHub.Image = "pangeo/pangeo-notebook:2025.09.01"
	p, err := c.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	var jh plan.Change
	for _, ch := range p.View.Changes {
		if ch.Name == h.Namespace+"-jupyterhub" {
			jh = ch
		}
	}
	if jh.Action != plan.Update || !strings.Contains(jh.Detail, "+ ") || !strings.Contains(jh.Detail, "2025.09.01") {
		t.Fatalf("jupyterhub change = %+v, want an update whose diff shows the new tag", jh)
	}
	if _, err := c.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	// dask.image was defaulted from the old hub.image when the config was
	// loaded, so only the jupyterhub release changes; the other is untouched.
	if got := revisions(t, c); got["jupyterhub"] != 2 || got["dask-gateway"] != 1 {
		t.Errorf("revisions after upgrade = %v, want jupyterhub 2, dask-gateway 1", got)
	}
	// The chart generated the services' tokens on install; an upgrade
	// keeps them, or users' servers and the gateway lose the hub.
	if !maps.EqualFunc(hubTokens(), tokens, bytes.Equal) {
		t.Error("the upgrade changed the tokens in the hub Secret")
	}
	if after := proxyTemplate(); !maps.Equal(after, proxyBefore) {
		t.Errorf("the first upgrade changed the proxy's pod template annotations %v to %v: the proxy restarts and every user's connections drop", proxyBefore, after)
	}
}

// TestFailedInstallRemovesWhatItCreated: an install the API server refuses
// part way (the test chart's invalid ConfigMap) leaves no release and none
// of the chart's objects, and up says so.
func TestFailedInstallRemovesWhatItCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "failed-install")
	h.Charts.JupyterHub.Values = charts.Coalesce(h.Charts.JupyterHub.Values, kubetest.FailApplyValues())
	c, _ := newClient(t, h.Namespace, nil)
	down(t, c, h)
	_, _, err := up(ctx, c, h)
	if err == nil || !strings.Contains(err.Error(), "install release failed-install-jupyterhub: ") ||
		!strings.Contains(err.Error(), "dhub-test_FAIL-APPLY") || !strings.HasSuffix(err.Error(), "(what it created was removed)") {
		t.Fatalf("up with a chart the API server refuses: %v, want the install's error and that what it created was removed", err)
	}
	if got := revisions(t, c); len(got) != 0 {
		t.Errorf("releases after a failed install: %v", got)
	}
	core := c.clientset.CoreV1()
	if _, err := core.Secrets(h.Namespace).Get(ctx, "hub", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the chart's Secret hub after a failed install: %v, want it removed", err)
	}
	if _, err := core.ServiceAccounts(h.Namespace).Get(ctx, "hub", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the chart's ServiceAccount hub after a failed install: %v, want it removed", err)
	}
}

func TestUnschedulableNamesPodAndReason(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "unschedulable")
	h.Charts.JupyterHub.Values["hub"].(map[string]any)["nodeSelector"] = map[string]any{"disktype": "ssd"}
	c, _ := newClient(t, h.Namespace, nil)
	down(t, c, h)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.12")
	start := time.Now()
	_, _, err := up(ctx, c, h)
	if err == nil {
		t.Fatal("up succeeded with a hub no node can take")
	}
	// No autoscaler reports a scale-up within its grace: up stops then,
	// not at the readiness bound.
	t.Logf("up failed after %s (readiness bound %s, grace for an autoscaler %s)", time.Since(start).Round(100*time.Millisecond), c.opts.ReadyTimeout, autoscalerGrace)
	msg := err.Error()
	for _, want := range []string{"can never become ready", "deployment hub (0/1 ready): pod hub-", "cannot be scheduled", "node affinity/selector.;", "no node matches its node selector"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestFailedUpgradeRolledBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, progress := installedHub(t, "rollback", "192.0.2.13")
	previous := *h
	h.Charts.JupyterHub.Values = charts.Coalesce(h.Charts.JupyterHub.Values, kubetest.FailUpgradeValues())
	_, _, err := up(ctx, c, h)
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("up with a failing upgrade: %v, want an error saying it was rolled back\n%s", err, progress)
	}
	cfg, _ := c.actionConfig()
	rel, err := deployed(cfg, h.Namespace+"-jupyterhub")
	if err != nil {
		t.Fatal(err)
	}
	if rel.Info.Status != "deployed" || rel.Version < 3 {
		t.Errorf("after rollback: revision %d %s, want a deployed rollback revision (3)", rel.Version, rel.Info.Status)
	}
	if !sameValues(rel.Config, renderedValues(&previous, "jupyterhub")) {
		t.Error("the rolled-back release does not carry the previous values")
	}
}

func TestStatusJSONGolden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, _ := installedHub(t, "status", "192.0.2.14")
	st, err := c.GetStatus(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Up || st.GatewayAPI != "answering" {
		t.Errorf("status = %+v, want up with the gateway API answering", st)
	}
	got, _ := json.MarshalIndent(st, "", "  ")
	golden.Check(t, "testdata/status.golden.json", append(got, '\n'))
}

func TestDownLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "down")
	c, _ := newClient(t, h.Namespace, nil)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.15")
	if _, _, err := up(ctx, c, h); err != nil {
		t.Fatal(err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "claim-alice"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}},
		},
	}
	if _, err := c.clientset.CoreV1().PersistentVolumeClaims(h.Namespace).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	res, err := tearDown(ctx, c, h, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uninstalled) != 2 || !contains(res.Kept, "volume claim-alice") {
		t.Errorf("down without --delete-data = %+v, want both releases uninstalled and the volume kept", res)
	}
	if _, err := c.clientset.CoreV1().PersistentVolumeClaims(h.Namespace).Get(ctx, "claim-alice", metav1.GetOptions{}); err != nil {
		t.Errorf("the user's volume is gone: %v", err)
	}

	res, err = tearDown(ctx, c, h, true)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(res.Deleted, "namespace "+h.Namespace) || len(res.Left) != 0 {
		t.Errorf("down --delete-data = %+v, want the namespace deleted and nothing left", res)
	}
	if _, err := c.clientset.CoreV1().Namespaces().Get(ctx, h.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace still there: %v", err)
	}
	if got := revisions(t, c); len(got) != 0 {
		t.Errorf("releases left: %v", got)
	}
}

func TestAutoHTTPSRecreatedOnceWithoutCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "autohttps")
	h.JupyterHub.HTTPS = config.HTTPS{Enabled: ptr(true), ContactEmail: "admin@example.org"}
	h.JupyterHub.Host = "hub.example.org"
	prober := &fakeProber{}
	dns := kubetest.StartDNS(t)
	dns.Set(h.JupyterHub.Host, "192.0.2.22")
	c, progress := clientWith(t, h.Namespace, Options{Prober: prober, Resolver: dns.Resolver()})
	down(t, c, h)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.22")
	var first string
	prober.get = func(string) error {
		// A certificate comes only from an autohttps pod started after the
		// first one: the guide's "recreate the autohttps pod".
		pods, err := c.clientset.CoreV1().Pods(h.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "component=autohttps"})
		if err != nil || len(pods.Items) == 0 {
			return fmt.Errorf("no autohttps pod")
		}
		if first == "" {
			first = pods.Items[0].Name
		}
		for _, p := range pods.Items {
			if p.Name != first && p.DeletionTimestamp == nil {
				return nil
			}
		}
		return &CertError{Err: fmt.Errorf("x509: certificate signed by unknown authority")}
	}
	_, res, err := up(ctx, c, h)
	if err != nil {
		t.Fatal(err)
	}
	if res.URL != "https://hub.example.org/" {
		t.Errorf("URL = %s", res.URL)
	}
	if !strings.Contains(progress.String(), "recreating the autohttps pod once") || !strings.Contains(progress.String(), "deleted "+first) {
		t.Errorf("progress does not show the autohttps recreate:\n%s", progress)
	}
}

func TestAutoHTTPSRecreateThatDoesNotHelpIsReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "nocert")
	h.JupyterHub.HTTPS = config.HTTPS{Enabled: ptr(true), ContactEmail: "admin@example.org"}
	h.JupyterHub.Host = "hub.example.org"
	prober := &fakeProber{get: func(string) error {
		return &CertError{Err: fmt.Errorf("x509: certificate is valid for TRAEFIK DEFAULT CERT")}
	}}
	dns := kubetest.StartDNS(t)
	dns.Set(h.JupyterHub.Host, "192.0.2.23")
	c, _ := clientWith(t, h.Namespace, Options{Prober: prober, Resolver: dns.Resolver()})
	down(t, c, h)
	_, _, err := up(ctx, c, h)
	if err == nil || !strings.Contains(err.Error(), "still has no valid certificate after the autohttps pod was recreated") {
		t.Fatalf("err = %v", err)
	}
}

// TestUpWaitsForTheGatewayThroughTheHub: the hub adds its proxy's route
// to the gateway only once it reaches the gateway, up to 20 s after its
// pod is ready (seen on real nodes); until then users' Gateway() calls get
// the hub's 404 page. up waits for the route, and names it if it never
// comes.
func TestUpWaitsForTheGatewayThroughTheHub(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "gateway-route")
	routed := false
	prober := &fakeProber{}
	prober.get = func(url string) error {
		if strings.HasSuffix(url, render.GatewayPrefix+render.GatewayHealthPath) && !routed {
			routed = len(prober.got) > 3 // it comes after a few asks
			return fmt.Errorf("%s answered 404 Not Found", url)
		}
		return nil
	}
	c, progress := clientWith(t, h.Namespace, Options{Prober: prober})
	down(t, c, h)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.24")
	if _, _, err := up(ctx, c, h); err != nil {
		t.Fatal(err)
	}
	if !routed || !strings.Contains(progress.String(), "gateway answering through the hub at http://192.0.2.24/services/dask-gateway/") {
		t.Errorf("up did not wait for the gateway's route through the hub (routed %v):\n%s", routed, progress)
	}

	prober.get = func(url string) error {
		if strings.HasSuffix(url, render.GatewayHealthPath) {
			return fmt.Errorf("%s answered 404 Not Found", url)
		}
		return nil
	}
	c, _ = clientWith(t, h.Namespace, Options{Prober: prober, URLTimeout: time.Second})
	_, _, err := up(ctx, c, h)
	if err == nil || !strings.Contains(err.Error(), "the hub does not route /services/dask-gateway/ to the Dask Gateway after 1s") {
		t.Errorf("up with no route to the gateway: err = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// userNamespace creates namespace ns as someone other than dhub would,
// returns once pods can be created in it (its default ServiceAccount
// exists), and deletes it when the test ends, waiting until it is gone so
// that the test can run again on the same cluster (-count).
func userNamespace(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	namespaces := cluster.Client().CoreV1().Namespaces()
	if _, err := namespaces.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := namespaces.Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
			return
		}
		eventually(t, "namespace "+ns+" gone", func() (bool, string) {
			_, err := namespaces.Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	})
	eventually(t, "namespace "+ns+"'s default ServiceAccount", func() (bool, string) {
		_, err := cluster.Client().CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

// eventually polls cond until it holds, for what the cluster's controllers
// do in their own time; at the bound it fails the test with what cond saw
// last. The bound is generous: a loaded machine is slow, not wrong.
func eventually(t *testing.T, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s; last seen: %s", what, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// renderedValues is what dhub renders for one release of h.
func renderedValues(h *config.Hub, chart string) map[string]any {
	for _, r := range render.ForKubernetes(h).Releases {
		if r.Chart.Name == chart {
			return r.Values
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestSmokeGoesWhereUsersGo checks what the smoke check is given on a
// cluster: the hub's public URL, dhub's service token from the chart's
// Secret and the admin's login, and that against a hub that does not
// answer (kwok runs no process) it fails at its first phase, named.
func TestSmokeGoesWhereUsersGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, _ := installedHub(t, "smoke", "127.0.0.1")
	target, err := c.Smoke(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	hubSecret, _ := c.clientset.CoreV1().Secrets(h.Namespace).Get(ctx, "hub", metav1.GetOptions{})
	auth, _ := c.clientset.CoreV1().Secrets(h.Namespace).Get(ctx, "dhub-auth", metav1.GetOptions{})
	if target.HubURL != "http://127.0.0.1" || target.APIToken == "" || target.APIToken != string(hubSecret.Data[render.DhubTokenKey]) {
		t.Errorf("target URL %q, token from the hub Secret: %v", target.HubURL, target.APIToken == string(hubSecret.Data[render.DhubTokenKey]))
	}
	if target.Login == nil || target.Login.User != "admin" || target.Login.Password != string(auth.Data["admin-password"]) {
		t.Error("the target has not the admin's login from dhub-auth")
	}
	var progress bytes.Buffer
	res, err := smoke.Run(ctx, target, smoke.Options{Workers: 1, Timeout: 5 * time.Second}, &progress)
	if !errors.Is(err, smoke.ErrFailed) || res == nil || len(res.Phases) != 1 || !strings.HasPrefix(res.Error, "login: ") {
		t.Errorf("smoke against a hub kwok does not run: %+v, %v", res, err)
	}
	if strings.Contains(progress.String()+res.Error, target.APIToken) || strings.Contains(progress.String()+res.Error, target.Login.Password) {
		t.Error("the smoke check showed a secret")
	}
}

// A shared password JupyterHub refuses would crash the hub: the plan
// refuses it first, naming the field and not the value.
func TestPlanRefusesPasswordsTheHubWouldRefuse(t *testing.T) {
	t.Parallel()
	h := testHub(t, "short-password")
	file := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(file, []byte("too-short-a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{FromFile: file}
	_, err := PlanNew(h)
	if err == nil || !strings.Contains(err.Error(), "hub.auth.password.adminPassword: JupyterHub needs at least 32 characters") {
		t.Fatalf("PlanNew = %v", err)
	}
	if strings.Contains(err.Error(), "too-short-a-secret") {
		t.Error("the error shows the password")
	}
}

// TestPlanWarnsWhenNoNodeHoldsTheLargestWorker: the plan compares the
// cluster options' largest worker with the worker nodes (8 cores, 32 GiB).
func TestPlanWarnsWhenNoNodeHoldsTheLargestWorker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "worker-fit")
	c, _ := newClient(t, h.Namespace, nil)
	warnings := func() string {
		t.Helper()
		p, err := c.Plan(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(p.View.Warnings, "\n")
	}
	if w := warnings(); strings.Contains(w, "dask.workerCores.max") {
		t.Errorf("8 cores and 32 GiB fit worker-0, yet: %s", w)
	}
	h.Dask.WorkerMemory.Max = 48
	if w, want := warnings(), "dask.workerCores.max 8 and dask.workerMemoryGiB.max 48 GiB: no node labelled k8s.dask.org/dedicated=worker holds a worker that size, which would stay Pending (worker-0: 8 cores, 32.0 GiB)"; !strings.Contains(w, want) {
		t.Errorf("warnings %q lack %q", w, want)
	}
}

// TestHubUnderLegacyNamesUpgradedInPlace: a hub installed when every hub's
// releases were named jupyterhub and dask-gateway keeps those names: plan
// and up upgrade them in place (no second hub beside them, the users'
// volumes stay), status reads them, and down removes them.
func TestHubUnderLegacyNamesUpgradedInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "legacy-names")
	c, _ := newClient(t, h.Namespace, nil)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.16")
	old, err := planNew(h, render.LegacyReleaseNames)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, old); err != nil {
		t.Fatal(err)
	}
	down(t, c, h)

	h.JupyterHub.Image = "pangeo/pangeo-notebook:2025.09.01"
	p, err := c.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]plan.Action{}
	for _, ch := range p.View.Changes {
		if ch.Kind == "helm release" {
			actions[ch.Name] = ch.Action
		}
	}
	if want := map[string]plan.Action{"jupyterhub": plan.Update, "dask-gateway": plan.NoOp}; !maps.Equal(actions, want) {
		t.Fatalf("plan for a hub under the legacy names: releases %v, want %v", actions, want)
	}
	if _, err := c.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	cfg, _ := c.actionConfig()
	for _, name := range []string{h.Namespace + "-jupyterhub", h.Namespace + "-dask-gateway"} {
		if rel, _ := deployed(cfg, name); rel != nil {
			t.Errorf("release %s installed beside the legacy one", name)
		}
	}
	st, err := c.GetStatus(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Up || len(st.Releases) != 2 || st.Releases[0].Name != "jupyterhub" || st.Releases[0].Revision != 2 {
		t.Errorf("status of the upgraded legacy hub: up %v, releases %+v", st.Up, st.Releases)
	}
	res, err := tearDown(ctx, c, h, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Uninstalled, []string{"dask-gateway", "jupyterhub"}) {
		t.Errorf("down uninstalled %v", res.Uninstalled)
	}
}
