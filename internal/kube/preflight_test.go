package kube

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"dhub/internal/config"
	"dhub/internal/kube/kubetest"
	"dhub/internal/render"
)

// refused plans h and returns the preflight's problems and how long the
// plan took; it fails the test unless the preflight refused and nothing was
// created.
func refused(t *testing.T, c *Client, h *config.Hub) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	_, err := c.Plan(context.Background(), h)
	took := time.Since(start)
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("plan = %v, want a preflight refusal", err)
	}
	if _, err := c.clientset.CoreV1().Namespaces().Get(context.Background(), h.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s after a refused plan: %v, want none", h.Namespace, err)
	}
	for _, p := range pe.Preflight.Problems {
		if strings.Contains(strings.TrimSuffix(p, "."), ". ") {
			t.Errorf("a problem is more than one sentence: %q", p)
		}
	}
	return err.Error(), took
}

// The test cluster, like kwok's and many bare-metal ones, has no default
// StorageClass: a hub that needs one is refused before anything changes,
// naming the volumes and the fix (the time it took is printed).
func TestPreflightRefusesWithoutDefaultStorageClass(t *testing.T) {
	t.Parallel()
	h := testHub(t, "no-default-class")
	h.JupyterHub.Storage.Class = ""
	c, _ := newClient(t, h.Namespace, nil)
	msg, took := refused(t, c, h)
	t.Logf("preflight refused in %s:\n%s", took.Round(time.Millisecond), msg)
	// The hub's database is in memory (charts values): only homes need one.
	// Other tests of the package may add classes of their own meanwhile.
	want := "the cluster has no default StorageClass, so users' homes would wait forever for a volume: set hub.storage.class to one of "
	if !strings.Contains(msg, want) || !strings.Contains(msg, kubetest.StaticClass) {
		t.Errorf("refusal lacks %q:\n%s", want, msg)
	}

	// With the database on a volume (the chart's default), both are named.
	h.Charts.JupyterHub.Values = nil
	if msg, _ := refused(t, c, h); !strings.Contains(msg, "so the hub's database and users' homes would wait forever") {
		t.Errorf("refusal does not name the database too:\n%s", msg)
	}

	h.JupyterHub.Storage.Class = "fast"
	if msg, _ := refused(t, c, h); !strings.Contains(msg, "hub.storage.class names StorageClass fast, which does not exist, so the hub's database and users' homes would wait forever for a volume: use one of ") {
		t.Errorf("refusal of a class that does not exist:\n%s", msg)
	}
}

// A plan that passes says how long its checks took and what it learned.
func TestPreflightPassesAndReports(t *testing.T) {
	t.Parallel()
	h := testHub(t, "preflight-ok")
	c, progress := newClient(t, h.Namespace, nil)
	start := time.Now()
	p, err := c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan with preflight: %s; %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(progress.String()))
	if !strings.Contains(progress.String(), "preflight: ") {
		t.Errorf("no preflight line in progress:\n%s", progress)
	}
	if !slices.ContainsFunc(p.View.Notes, func(n string) bool { return strings.HasPrefix(n, "NetworkPolicies are probably not enforced") }) {
		t.Errorf("notes %q lack the NetworkPolicy engine's absence (kwok runs none)", p.View.Notes)
	}
	if !slices.ContainsFunc(p.View.Warnings, func(w string) bool { return strings.Contains(w, "no node names a cloud provider") }) {
		t.Errorf("warnings %q lack the guess that no load-balancer controller runs", p.View.Warnings)
	}
}

// The scratch bucket's credentials Secret must be in the namespace before
// up: no user's server or Dask pod would start without it.
func TestPreflightNeedsTheScratchSecret(t *testing.T) {
	t.Parallel()
	h := testHub(t, "preflight-scratch")
	h.JupyterHub.Storage.Scratch = &config.Scratch{URL: "s3://lab-scratch/hub", CredentialsSecret: "bucket-keys"}
	c, _ := newClient(t, h.Namespace, nil)
	msg, _ := refused(t, c, h)
	want := "hub.storage.scratch.credentialsSecret: Secret bucket-keys does not exist in namespace preflight-scratch, and no user's server or Dask pod starts without it: create it first ('kubectl create namespace preflight-scratch', then 'kubectl -n preflight-scratch create secret generic bucket-keys --from-env-file=<a file of KEY=value lines>'"
	if !strings.Contains(msg, want) {
		t.Errorf("refusal lacks %q:\n%s", want, msg)
	}

	ctx := context.Background()
	if _, err := c.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.Namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.clientset.CoreV1().Namespaces().Delete(context.Background(), h.Namespace, metav1.DeleteOptions{})
	})
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bucket-keys"}, StringData: map[string]string{"AWS_ACCESS_KEY_ID": "id"}}
	if _, err := c.clientset.CoreV1().Secrets(h.Namespace).Create(ctx, keys, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(ctx, h)
	if err != nil {
		t.Fatalf("plan with the Secret there: %v", err)
	}
	if !slices.Contains(p.View.Notes, "Secret bucket-keys of the scratch bucket's credentials exists in namespace preflight-scratch") {
		t.Errorf("notes %q lack the Secret's", p.View.Notes)
	}
}

// An Ingress needs an IngressClass and the cert-manager issuer it names.
func TestPreflightIngressNeedsClassAndIssuer(t *testing.T) {
	t.Parallel()
	h := testHub(t, "preflight-ingress")
	h.JupyterHub.Host = "hub.example.org"
	h.JupyterHub.Expose = config.Expose{Type: config.ExposeIngress, IngressClassName: "nginx"}
	h.JupyterHub.HTTPS = config.HTTPS{Enabled: ptr(true), CertManager: &config.CertManager{Issuer: "letsencrypt-prod", Kind: "ClusterIssuer"}}
	c, _ := newClient(t, h.Namespace, nil)
	msg, _ := refused(t, c, h)
	for _, want := range []string{
		"the cluster has no IngressClass, so nothing would route to the hub's Ingress: install an ingress controller",
		"hub.https.certManager names ClusterIssuer letsencrypt-prod, which the cluster does not have (is cert-manager installed?)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q:\n%s", want, msg)
		}
	}
}

// A chart whose kubeVersion the cluster does not satisfy is refused, with
// the constraint read from the chart itself.
func TestPreflightChecksTheChartsKubeVersion(t *testing.T) {
	t.Parallel()
	h := testHub(t, "preflight-version")
	dir := filepath.Join(t.TempDir(), "jupyterhub")
	if err := os.CopyFS(dir, os.DirFS(h.Charts.JupyterHub.Path)); err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, "Chart.yaml")
	b, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, []byte(strings.Replace(string(b), `kubeVersion: ">=1.28.0-0"`, `kubeVersion: ">=1.99.0-0"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Charts.JupyterHub.Path = dir
	c, _ := newClient(t, h.Namespace, nil)
	msg, _ := refused(t, c, h)
	if want := "the jupyterhub chart 4.4.0 needs Kubernetes >=1.99.0-0 and the cluster runs " + kubetest.Version; !strings.Contains(msg, want) {
		t.Errorf("refusal lacks %q:\n%s", want, msg)
	}
}

// clientAs connects to namespace ns (which it creates) as a service
// account of its own whose rights in ns are those of role (a ClusterRole
// or a Role of ns, which rules, when given, make first).
func clientAs(t *testing.T, ns string, role rbacv1.RoleRef, rules []rbacv1.PolicyRule) *Client {
	t.Helper()
	ctx := context.Background()
	admin := cluster.Client()
	userNamespace(t, ns)
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "deployer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if rules != nil {
		r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: role.Name}, Rules: rules}
		if _, err := admin.RbacV1().Roles(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deployer"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: ns}},
		RoleRef:    role,
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}
	tok, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "deployer", tr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The test cluster's kubeconfig, with the service account's token
	// instead of the admin's credentials.
	kc, err := clientcmd.Load(cluster.KubeconfigBytes())
	if err != nil {
		t.Fatal(err)
	}
	kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	raw, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Source{Kubeconfig: raw}, ns, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// planRefused plans h with c and returns the preflight's refusal.
func planRefused(t *testing.T, c *Client, h *config.Hub) string {
	t.Helper()
	_, err := c.Plan(context.Background(), h)
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("plan = %v, want a preflight refusal", err)
	}
	return err.Error()
}

// A kubeconfig whose user may only work in the hub's namespace is told,
// before anything is installed, which cluster-wide objects it may not
// create.
func TestPreflightNamesWhatTheUserMayNotCreate(t *testing.T) {
	t.Parallel()
	const ns = "preflight-rbac"
	// Everything in the namespace (the built-in admin role), nothing else.
	c := clientAs(t, ns, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "admin"}, nil)
	msg := planRefused(t, c, testHub(t, ns))
	for _, want := range []string{
		"the kubeconfig's user may not create clusterroles.rbac.authorization.k8s.io in the cluster, which the charts need for the user-scheduler",
		"may not create customresourcedefinitions.apiextensions.k8s.io in the cluster",
		"may not create priorityclasses.scheduling.k8s.io in the cluster",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "deployments.apps") || strings.Contains(msg, "StorageClass") || strings.Contains(msg, "services/proxy") {
		t.Errorf("refusal names what the user may do:\n%s", msg)
	}
}

// A user who may create everything in the hub's namespace but not reach
// its services through the API server is told so before anything is
// installed: up would install the hub and then never see the gateway API
// answer, and status could not say whether it does.
func TestPreflightNamesTheServiceProxyRight(t *testing.T) {
	t.Parallel()
	const ns = "preflight-proxy"
	// Create anything, read what dhub reads (a subresource such as
	// services/proxy is a resource of its own).
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"create"}},
		{APIGroups: []string{"*"}, Resources: []string{"secrets", "configmaps", "services", "pods", "serviceaccounts", "persistentvolumeclaims", "deployments", "statefulsets", "daemonsets", "jobs"}, Verbs: []string{"get", "list", "watch"}},
	}
	c := clientAs(t, ns, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "no-service-proxy"}, rules)
	msg := planRefused(t, c, testHub(t, ns))
	want := "the kubeconfig's user may not get services/proxy in namespace " + ns + ", which dhub needs to ask the gateway API's health through the API server (up waits for it, status reports it)"
	if !strings.Contains(msg, want) {
		t.Errorf("refusal lacks %q:\n%s", want, msg)
	}
	if strings.Contains(msg, "deployments.apps") {
		t.Errorf("refusal names what the user may do:\n%s", msg)
	}
}

// Every kind of object the real charts render with dhub's values (each
// way in) is one the preflight asks about.
func TestPreflightAsksAboutEveryKindTheRealChartsCreate(t *testing.T) {
	t.Parallel()
	h := testHub(t, "preflight-kinds")
	h.JupyterHub.Host = "hub.example.org"
	h.JupyterHub.Expose = config.Expose{Type: config.ExposeIngress}
	h.JupyterHub.HTTPS = config.HTTPS{Enabled: ptr(true), CertManager: &config.CertManager{Issuer: "le", Kind: "ClusterIssuer"}}
	asked := map[string]bool{"namespaces": true, "ingresses.networking.k8s.io": true}
	for _, a := range chartAccess {
		asked[strings.TrimSuffix(a.resource+"."+a.group, ".")] = true
	}
	kinds := 0
	for _, r := range render.ForKubernetes(h).Releases {
		path, err := kubetest.RealChart(r.Chart.Name)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := kubetest.Render(path, r.Name, h.Namespace, kubetest.Version, r.Values)
		if err != nil {
			t.Fatal(err)
		}
		for kind := range m {
			kinds++
			var obj struct {
				APIVersion string `json:"apiVersion"`
			}
			if _, err := m.Get(kind, m.Names(kind)[0], &obj); err != nil {
				t.Fatal(err)
			}
			group, _, ok := strings.Cut(obj.APIVersion, "/")
			if !ok {
				group = ""
			}
			if name := strings.TrimSuffix(plural(kind)+"."+group, "."); !asked[name] {
				t.Errorf("release %s renders %s (%s), which the preflight does not ask about", r.Name, kind, name)
			}
		}
	}
	if kinds < 15 {
		t.Errorf("the real charts rendered %d kinds of object; expected the whole of them", kinds)
	}
	t.Logf("%d kinds of object checked", kinds)
}

// plural is the resource name of the kinds the charts render.
func plural(kind string) string {
	k := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(k, "y"):
		return strings.TrimSuffix(k, "y") + "ies"
	case strings.HasSuffix(k, "s"):
		return k + "es"
	}
	return k + "s"
}
