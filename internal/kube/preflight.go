package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"dhub/internal/config"
	"dhub/internal/render"
)

// Preflight is what dhub found on the cluster before changing anything,
// with reads and access reviews only: problems that would make the hub
// fail (each one sentence with its fix), warnings, and notes.
type Preflight struct {
	Problems []string
	Warnings []string
	Notes    []string
	// Checks counts the questions asked; Elapsed is how long they took.
	Checks  int
	Elapsed time.Duration
}

// PreflightError is a preflight that found problems: up would fail or
// leave a hub that cannot work.
type PreflightError struct{ Preflight *Preflight }

// Error lists each problem on a line of its own.
func (e *PreflightError) Error() string {
	return fmt.Sprintf("the cluster cannot run this hub yet (%s):\n  - %s",
		countOf(len(e.Preflight.Problems), "problem"), strings.Join(e.Preflight.Problems, "\n  - "))
}

func countOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// preflight checks the cluster of target kubernetes for h: the API server
// answers and satisfies both charts' kubeVersion; the kubeconfig's user may
// create what the charts create, and reach the gateway API through the API
// server's service proxy; a StorageClass exists for the hub's
// database and users' homes; the way in (an IngressClass, a cert-manager
// issuer; a load-balancer controller is guessed at); a node carries each
// role's label and holds the largest worker; whether NetworkPolicies are
// enforced; the scratch bucket's credentials Secret exists. The checks run at once: the API server answers each in a few
// milliseconds, so the whole takes about as long as the slowest.
func (c *Client) preflight(ctx context.Context, h *config.Hub, k *render.Kubernetes) *Preflight {
	start := time.Now()
	pf := &Preflight{}
	version, err := c.clientset.Discovery().ServerVersion()
	if err != nil {
		host := c.getter.config.Host
		pf.Problems = append(pf.Problems, fmt.Sprintf("the API server at %s does not answer (%v): check kubernetes.kubeconfig and kubernetes.context, and that the cluster runs", host, shortErr(err)))
		pf.Checks, pf.Elapsed = 1, time.Since(start)
		return pf
	}
	checks := []func(context.Context, *finding){
		func(_ context.Context, f *finding) { c.checkKubeVersion(version.GitVersion, k, f) },
		func(ctx context.Context, f *finding) { c.checkStorage(ctx, h, k, f) },
		func(ctx context.Context, f *finding) { c.checkExposure(ctx, h, f) },
		func(ctx context.Context, f *finding) { c.checkNodeRoles(ctx, h, f) },
		func(ctx context.Context, f *finding) { f.warn(c.workerFit(ctx, h)...) },
		func(ctx context.Context, f *finding) { c.checkNetworkPolicies(ctx, f) },
		func(ctx context.Context, f *finding) { c.checkServiceProxy(ctx, f) },
		func(ctx context.Context, f *finding) { c.checkScratchSecret(ctx, h, f) },
	}
	for _, a := range c.accessNeeded(ctx, h) {
		checks = append(checks, func(ctx context.Context, f *finding) { c.checkAccess(ctx, a, f) })
	}
	found := make([]finding, len(checks))
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Go(func() { check(ctx, &found[i]) })
	}
	wg.Wait()
	// Findings keep the order of the checks, whichever answered first.
	for _, f := range found {
		pf.Problems = append(pf.Problems, f.problems...)
		pf.Warnings = append(pf.Warnings, f.warnings...)
		pf.Notes = append(pf.Notes, f.notes...)
	}
	pf.Checks, pf.Elapsed = len(checks)+1, time.Since(start)
	return pf
}

// finding is what one check found.
type finding struct{ problems, warnings, notes []string }

func (f *finding) fail(format string, a ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, a...))
}
func (f *finding) warn(ws ...string) { f.warnings = append(f.warnings, ws...) }
func (f *finding) note(format string, a ...any) {
	f.notes = append(f.notes, fmt.Sprintf(format, a...))
}

// checkScratchSecret checks that the Secret hub.storage.scratch names
// exists in the hub's namespace: without it no user's server, scheduler or
// worker starts. dhub reads only that it is there, never its keys.
func (c *Client) checkScratchSecret(ctx context.Context, h *config.Hub, f *finding) {
	sc := h.JupyterHub.Storage.Scratch
	if sc == nil || sc.CredentialsSecret == "" {
		return
	}
	_, err := c.clientset.CoreV1().Secrets(c.namespace).Get(ctx, sc.CredentialsSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		f.fail("hub.storage.scratch.credentialsSecret: Secret %s does not exist in namespace %s, and no user's server or Dask pod starts without it: create it first ('kubectl create namespace %s', then 'kubectl -n %s create secret generic %s --from-env-file=<a file of KEY=value lines>', with the keys your bucket's client reads, such as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
			sc.CredentialsSecret, c.namespace, c.namespace, c.namespace, sc.CredentialsSecret)
	case err != nil:
		f.warn(fmt.Sprintf("hub.storage.scratch.credentialsSecret: could not check that Secret %s exists in namespace %s (%v); users' servers and Dask pods do not start without it", sc.CredentialsSecret, c.namespace, shortErr(err)))
	default:
		f.note("Secret %s of the scratch bucket's credentials exists in namespace %s", sc.CredentialsSecret, c.namespace)
	}
}

// checkKubeVersion compares the server's version with the kubeVersion of
// each chart dhub installs, read from the chart itself.
func (c *Client) checkKubeVersion(server string, k *render.Kubernetes, f *finding) {
	for _, r := range k.Releases {
		chart, err := c.loadChart(r)
		if err != nil {
			f.fail("%v", err)
			continue
		}
		want := chart.Metadata.KubeVersion
		if want != "" && !chartutil.IsCompatibleRange(want, server) {
			f.fail("the %s chart %s needs Kubernetes %s and the cluster runs %s: upgrade the cluster, or pin an older chart in charts.%s.version",
				r.Chart.Name, r.Chart.Version, want, server, chartKey(r.Chart.Name))
		}
	}
}

// chartKey is the key of charts: in dhub.yaml for a chart.
func chartKey(chart string) string {
	if chart == "dask-gateway" {
		return "daskGateway"
	}
	return "jupyterhub"
}

// access is one thing the charts (or dhub) create, and who needs it.
type access struct {
	group, resource string
	// namespaced resources are reviewed in the hub's namespace.
	namespaced bool
	why        string
}

// chartAccess is what the two charts create with dhub's values, by API
// group and resource; a test renders the real charts and checks each kind
// they make is here.
var chartAccess = []access{
	{"rbac.authorization.k8s.io", "clusterroles", false, "the user-scheduler and the gateway's controller and traefik"},
	{"rbac.authorization.k8s.io", "clusterrolebindings", false, "the user-scheduler and the gateway's controller and traefik"},
	{"apiextensions.k8s.io", "customresourcedefinitions", false, "the gateway's DaskCluster and traefik resources"},
	{"scheduling.k8s.io", "priorityclasses", false, "the user placeholders and image pullers"},
	{"rbac.authorization.k8s.io", "roles", true, "the hub and the gateway"},
	{"rbac.authorization.k8s.io", "rolebindings", true, "the hub and the gateway"},
	{"", "serviceaccounts", true, "every component"},
	{"", "configmaps", true, "the hub and the gateway"},
	{"", "secrets", true, "the hub's tokens and dhub-auth"},
	{"", "services", true, "proxy-public, the hub and the gateway"},
	{"", "persistentvolumeclaims", true, "the hub's database"},
	{"apps", "deployments", true, "the hub, proxy and gateway"},
	{"apps", "statefulsets", true, "the user placeholders"},
	{"apps", "daemonsets", true, "the image puller"},
	{"batch", "jobs", true, "the image puller's upgrade hook"},
	{"networking.k8s.io", "networkpolicies", true, "the hub's, proxy's and users' network policies"},
	{"policy", "poddisruptionbudgets", true, "the hub's and proxy's disruption budgets"},
	{"traefik.io", "ingressroutes", true, "the gateway's routes"},
	{"traefik.io", "middlewares", true, "the gateway's routes"},
}

// accessNeeded is chartAccess, the namespace when dhub creates it, and the
// Ingress when the hub is reached through one.
func (c *Client) accessNeeded(ctx context.Context, h *config.Hub) []access {
	need := slices.Clone(chartAccess)
	if _, err := c.clientset.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		need = append(need, access{"", "namespaces", false, "the hub's namespace " + c.namespace})
	}
	if h.JupyterHub.Expose.Type == config.ExposeIngress {
		need = append(need, access{"networking.k8s.io", "ingresses", true, "the hub's Ingress (hub.expose.type ingress)"})
	}
	return need
}

// checkAccess asks the API server whether the kubeconfig's user may create
// a in the hub's namespace (or the cluster).
func (c *Client) checkAccess(ctx context.Context, a access, f *finding) {
	attrs := &authorizationv1.ResourceAttributes{Verb: "create", Group: a.group, Resource: a.resource}
	where := "in the cluster"
	if a.namespaced {
		attrs.Namespace, where = c.namespace, "in namespace "+c.namespace
	}
	allowed, err := c.mayI(ctx, attrs)
	name := a.resource
	if a.group != "" {
		name += "." + a.group
	}
	switch {
	case err != nil:
		f.fail("could not ask whether the kubeconfig's user may create %s %s (%s): %s", name, where, shortErr(err), askRight)
	case !allowed:
		f.fail("the kubeconfig's user may not create %s %s, which the charts need for %s: ask a cluster admin for that right, or use a context with it (kubernetes.context)", name, where, a.why)
	}
}

// checkServiceProxy asks the API server whether the kubeconfig's user may
// get services/proxy in the hub's namespace: up waits for the gateway
// API's health, and status reports it, through the API server's service
// proxy (serviceProxyGet).
func (c *Client) checkServiceProxy(ctx context.Context, f *finding) {
	attrs := &authorizationv1.ResourceAttributes{Namespace: c.namespace, Verb: "get", Resource: "services", Subresource: "proxy"}
	allowed, err := c.mayI(ctx, attrs)
	switch {
	case err != nil:
		f.fail("could not ask whether the kubeconfig's user may get services/proxy in namespace %s (%s): %s", c.namespace, shortErr(err), askRight)
	case !allowed:
		f.fail("the kubeconfig's user may not get services/proxy in namespace %s, which dhub needs to ask the gateway API's health through the API server (up waits for it, status reports it): ask a cluster admin for that right, or use a context with it (kubernetes.context)", c.namespace)
	}
}

// askRight is why a failed access review is a problem, and its fix.
const askRight = "dhub needs the right to ask (SelfSubjectAccessReview), which every authenticated user has by default"

// mayI asks the API server whether the kubeconfig's user may do what
// attrs say (a SelfSubjectAccessReview).
func (c *Client) mayI(ctx context.Context, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs}}
	got, err := c.clientset.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}

// storageNeed is who needs a volume and of which StorageClass ("" for the
// cluster's default).
type storageNeed struct{ who, class, field string }

// storageNeeds reads the JupyterHub release's values (dhub's with
// charts.jupyterhub.values merged) for the volumes the hub will claim: the
// database unless it is not on a volume (hub.db.type), users' homes unless
// their storage is off (singleuser.storage.type).
func storageNeeds(k *render.Kubernetes) []storageNeed {
	var values map[string]any
	for _, r := range k.Releases {
		if r.Chart.Name == "jupyterhub" {
			values = r.Values
		}
	}
	var need []storageNeed
	if t := lookupString(values, "hub", "db", "type"); t == "" || t == "sqlite-pvc" {
		need = append(need, storageNeed{"the hub's database", lookupString(values, "hub", "db", "pvc", "storageClassName"), "hub.storage.class"})
	}
	if t := lookupString(values, "singleuser", "storage", "type"); t == "" || t == "dynamic" {
		need = append(need, storageNeed{"users' homes", lookupString(values, "singleuser", "storage", "dynamic", "storageClass"), "hub.storage.class"})
	}
	return need
}

func lookupString(v map[string]any, path ...string) string {
	for i, k := range path {
		x, ok := v[k]
		if !ok {
			return ""
		}
		if i == len(path)-1 {
			s, _ := x.(string)
			return s
		}
		if v, ok = x.(map[string]any); !ok {
			return ""
		}
	}
	return ""
}

// checkStorage finds the StorageClass each volume of the hub needs: the
// named one, or the cluster's default. A claim with neither never binds.
func (c *Client) checkStorage(ctx context.Context, h *config.Hub, k *render.Kubernetes, f *finding) {
	needs := storageNeeds(k)
	if len(needs) == 0 {
		return
	}
	list, err := c.clientset.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		f.warn(fmt.Sprintf("the StorageClasses were not checked (%s): the hub's database and users' homes need one", shortErr(err)))
		return
	}
	var names, defaults []string
	for _, sc := range list.Items {
		names = append(names, sc.Name)
		if isDefaultClass(sc.Annotations) {
			defaults = append(defaults, sc.Name)
		}
	}
	// Volumes that lack the same class are named in one sentence.
	missing := map[string][]string{}
	var order []string
	for _, n := range needs {
		if (n.class == "" && len(defaults) > 0) || (n.class != "" && slices.Contains(names, n.class)) {
			continue
		}
		if _, seen := missing[n.class]; !seen {
			order = append(order, n.class)
		}
		missing[n.class] = append(missing[n.class], n.who)
	}
	for _, class := range order {
		who := strings.Join(missing[class], " and ")
		switch {
		case len(names) == 0:
			f.fail("the cluster has no StorageClass, so %s would wait forever for a volume: install a volume provisioner (local-path-provisioner, a CSI driver) and set hub.storage.class to its class", who)
		case class == "":
			f.fail("the cluster has no default StorageClass, so %s would wait forever for a volume: set hub.storage.class to one of %s (or mark one default)", who, strings.Join(names, ", "))
		default:
			field := "hub.storage.class"
			if class != h.JupyterHub.Storage.Class {
				field = "the StorageClass in charts.jupyterhub.values"
			}
			f.fail("%s names StorageClass %s, which does not exist, so %s would wait forever for a volume: use one of %s", field, class, who, strings.Join(names, ", "))
		}
	}
}

func isDefaultClass(annotations map[string]string) bool {
	return annotations["storageclass.kubernetes.io/is-default-class"] == "true" ||
		annotations["storageclass.beta.kubernetes.io/is-default-class"] == "true"
}

var (
	clusterIssuerGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
	issuerGVR        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
)

// checkExposure checks what the way in relies on: the IngressClass and the
// cert-manager issuer with an Ingress; with a LoadBalancer, whether the
// nodes look like a cloud's, whose controller assigns addresses.
func (c *Client) checkExposure(ctx context.Context, h *config.Hub, f *finding) {
	e := h.JupyterHub.Expose
	switch e.Type {
	case config.ExposeIngress:
		c.checkIngressClass(ctx, e.IngressClassName, f)
		if cm := h.JupyterHub.HTTPS.CertManager; h.HTTPSEnabled() && cm != nil {
			var err error
			if cm.Kind == "Issuer" {
				_, err = c.dynamic.Resource(issuerGVR).Namespace(c.namespace).Get(ctx, cm.Issuer, metav1.GetOptions{})
			} else {
				_, err = c.dynamic.Resource(clusterIssuerGVR).Get(ctx, cm.Issuer, metav1.GetOptions{})
			}
			switch {
			case apierrors.IsNotFound(err):
				f.fail("hub.https.certManager names %s %s, which the cluster does not have (is cert-manager installed?): create it, or name one that kubectl get %ss lists", cm.Kind, cm.Issuer, strings.ToLower(cm.Kind))
			case err != nil:
				f.warn(fmt.Sprintf("cert-manager's %s %s was not checked (%s)", cm.Kind, cm.Issuer, shortErr(err)))
			}
		}
	case config.ExposeLoadBalancer:
		nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) == 0 {
			return
		}
		for _, n := range nodes.Items {
			if scheme, _, ok := strings.Cut(n.Spec.ProviderID, "://"); ok && scheme != "kind" {
				return // a cloud's (or k3s's) node: its controller serves LoadBalancers
			}
		}
		f.warn("proxy-public is a LoadBalancer Service, but no node names a cloud provider: unless the cluster runs a load-balancer controller (MetalLB, kube-vip) it never gets an address; set hub.expose.type to nodePort or ingress")
	}
}

// checkIngressClass finds the named IngressClass, or the default one.
func (c *Client) checkIngressClass(ctx context.Context, name string, f *finding) {
	list, err := c.clientset.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		f.warn(fmt.Sprintf("the IngressClasses were not checked (%s)", shortErr(err)))
		return
	}
	var names []string
	def := ""
	for _, ic := range list.Items {
		names = append(names, ic.Name)
		if ic.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true" {
			def = ic.Name
		}
	}
	switch {
	case len(names) == 0:
		f.fail("the cluster has no IngressClass, so nothing would route to the hub's Ingress: install an ingress controller (ingress-nginx, traefik), or set hub.expose.type to nodePort")
	case name == "" && def == "":
		f.fail("the cluster has no default IngressClass: set hub.expose.ingressClassName to one of %s", strings.Join(names, ", "))
	case name != "" && !slices.Contains(names, name):
		f.fail("hub.expose.ingressClassName names IngressClass %s, which does not exist: use one of %s", name, strings.Join(names, ", "))
	case name == "":
		f.note("the hub's Ingress gets the default IngressClass %s", def)
	}
}

// checkNodeRoles warns for each role the hub pins pods to (but workers,
// which workerFit covers) that no node carries its label yet.
func (c *Client) checkNodeRoles(ctx context.Context, h *config.Hub, f *finding) {
	pods := map[config.PoolRole]string{config.RoleCore: "the hub, proxy and gateway", config.RoleUser: "users' servers and Dask schedulers"}
	for _, r := range []config.PoolRole{config.RoleCore, config.RoleUser} {
		if !h.PoolRoles()[r] {
			continue
		}
		sel := labels.Set(config.RoleLabels(r)).String()
		nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel, Limit: 1})
		if err != nil {
			f.warn(fmt.Sprintf("nodes labelled %s were not looked for (%s)", sel, shortErr(err)))
			continue
		}
		if len(nodes.Items) == 0 {
			f.warn(fmt.Sprintf("no node is labelled %s yet, so %s would stay Pending: label one (kubectl label node NAME %s) or remove %s from kubernetes.nodeRoles", sel, pods[r], sel, r))
		}
	}
}

// policyEngines are DaemonSets of network plugins that enforce
// NetworkPolicies.
var policyEngines = map[string]string{
	"calico-node": "Calico", "cilium": "Cilium", "antrea-agent": "Antrea", "weave-net": "Weave Net",
	"kube-router": "kube-router", "azure-npm": "Azure Network Policy Manager", "canal": "Canal",
	"anetd": "GKE Dataplane V2", "kube-network-policies": "kube-network-policies",
}

// checkNetworkPolicies says whether the charts' NetworkPolicies will have
// an effect: a known policy engine runs, or k3s (which has one built in).
func (c *Client) checkNetworkPolicies(ctx context.Context, f *finding) {
	list, err := c.clientset.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		f.note("whether the cluster enforces NetworkPolicies is not known (%s)", shortErr(err))
		return
	}
	for _, ds := range list.Items {
		if engine, ok := policyEngines[ds.Name]; ok {
			f.note("NetworkPolicies are enforced (%s: DaemonSet %s/%s): the charts' policies limit what users' servers reach", engine, ds.Namespace, ds.Name)
			return
		}
	}
	nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: 1})
	if err == nil && len(nodes.Items) > 0 && strings.Contains(nodes.Items[0].Status.NodeInfo.KubeletVersion, "+k3s") {
		f.note("NetworkPolicies are enforced (k3s's built-in policy controller): the charts' policies limit what users' servers reach")
		return
	}
	f.note("NetworkPolicies are probably not enforced (no known policy engine runs: Calico, Cilium, Antrea, ...): the charts' policies then have no effect and users' servers reach everything the cluster does")
}
