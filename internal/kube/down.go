package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// DownPlan is what Down will remove and keep, decided with reads only.
type DownPlan struct {
	// View is the plan as the user sees it.
	View     *plan.Plan
	releases []string
	// volumes are the users' volumes Down deletes (with deleteData).
	volumes []string
	// deleteNamespace is set when dhub created the namespace and nothing
	// in it is kept.
	deleteNamespace bool
	// names are the hub's release names, as the cluster holds them.
	names render.ReleaseNames
}

// PlanDown reads the releases, users' servers and Dask clusters, the
// Secret, users' volumes and the namespace, and decides: everything of the
// hub goes, but users' volumes only with deleteData, and the namespace
// only when dhub created it and keeps nothing in it.
func (c *Client) PlanDown(ctx context.Context, h *config.Hub, deleteData bool) (*DownPlan, error) {
	p := &DownPlan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target), Removal: true}}
	core := c.clientset.CoreV1()
	ns, err := core.Namespaces().Get(ctx, c.namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		p.View.Add(plan.Change{Kind: "namespace", Name: c.namespace, Action: plan.NoOp, Reason: "does not exist: nothing to remove"})
		return p, nil
	}
	if err != nil {
		return nil, c.apiError("read namespace "+c.namespace, err)
	}
	cfg, names, err := c.releases()
	if err != nil {
		return nil, err
	}
	p.names = names
	for _, name := range []string{names.DaskGateway, names.JupyterHub} {
		rel, err := deployed(cfg, name)
		if err != nil {
			return nil, c.apiError("read release "+name, err)
		}
		if rel != nil {
			p.releases = append(p.releases, name)
			p.View.Add(plan.Change{Kind: "helm release", Name: name, Action: plan.Delete, Reason: fmt.Sprintf("uninstall revision %d", rel.Version)})
		}
	}
	servers, err := core.Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: usersServers(names)})
	if err != nil {
		return nil, c.apiError("list users' servers", err)
	}
	clusters, err := c.daskClusters(ctx, names)
	if err != nil {
		return nil, err
	}
	if n := len(servers.Items) + len(clusters); n > 0 {
		p.View.Add(plan.Change{Kind: "running", Name: "users' servers and Dask clusters", Action: plan.Delete,
			Reason: fmt.Sprintf("stop %d server(s) and %d cluster(s)", len(servers.Items), len(clusters))})
	}
	if _, err := core.Secrets(c.namespace).Get(ctx, render.AuthSecretName, metav1.GetOptions{}); err == nil {
		p.View.Add(plan.Change{Kind: "secret", Name: render.AuthSecretName, Action: plan.Delete, Reason: "dhub's authentication secrets"})
	} else if !apierrors.IsNotFound(err) {
		return nil, c.apiError("read secret "+render.AuthSecretName, err)
	}
	pvcs, err := core.PersistentVolumeClaims(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, c.apiError("list volumes", err)
	}
	kept := 0
	for _, v := range pvcs.Items {
		if deleteData {
			p.volumes = append(p.volumes, v.Name)
			p.View.Add(plan.Change{Kind: "volume", Name: v.Name, Action: plan.Delete, Reason: "--delete-data: its data is lost"})
		} else {
			kept++
			p.View.Add(plan.Change{Kind: "volume", Name: v.Name, Action: plan.NoOp, Reason: "kept (--delete-data deletes it)"})
		}
	}
	// Helm installs the gateway chart's CRDs once per cluster and never
	// removes them; other hubs' Dask clusters are objects of theirs.
	if _, err := c.dynamic.Resource(crdGVR).Get(ctx, daskClusterGVR.GroupResource().String(), metav1.GetOptions{}); err == nil {
		p.View.Add(plan.Change{Kind: "custom resource definitions", Name: "of Dask Gateway and Traefik", Action: plan.NoOp,
			Reason: "kept: cluster-wide, shared by every hub on the cluster"})
	}
	nsChange := plan.Change{Kind: "namespace", Name: c.namespace, Action: plan.NoOp}
	switch {
	case ns.Labels[labelManagedBy] != managedBy:
		nsChange.Reason = "kept: dhub did not create it"
	case kept > 0:
		nsChange.Reason = "kept: it holds the kept volumes"
	default:
		p.deleteNamespace = true
		nsChange.Action, nsChange.Reason = plan.Delete, "dhub created it and nothing in it is kept"
	}
	p.View.Add(nsChange)
	return p, nil
}

// usersServers selects the hub's users' servers, which are not part of a
// release: KubeSpawner labels each with the component and, as the
// JupyterHub chart configures it, the release. Another hub's servers in
// the same namespace are not this hub's to stop.
func usersServers(names render.ReleaseNames) string {
	return singleuserServers + ",release=" + names.JupyterHub
}

// singleuserServers selects every user's server in a namespace, whichever
// hub started it.
const singleuserServers = "component=singleuser-server"

// gatewayInstance selects what the hub's gateway labels as its own: its
// DaskCluster objects and the pods its controller makes for them carry the
// gateway's instance, which is the gateway release's full name.
func gatewayInstance(names render.ReleaseNames) string {
	return "gateway.dask.org/instance=" + names.DaskGateway
}

// daskClusters lists the names of the hub's Dask clusters: none when the
// gateway's CustomResourceDefinition is not installed.
func (c *Client) daskClusters(ctx context.Context, names render.ReleaseNames) ([]string, error) {
	list, err := c.dynamic.Resource(daskClusterGVR).Namespace(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: gatewayInstance(names)})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.apiError("list Dask clusters", err)
	}
	var out []string
	for _, item := range list.Items {
		out = append(out, item.GetName())
	}
	slices.Sort(out)
	return out, nil
}

// DownResult says what Down removed and what it kept.
type DownResult struct {
	Uninstalled []string `json:"uninstalled"`
	Deleted     []string `json:"deleted"`
	// Kept lists what stays on purpose (users' volumes without --delete-data).
	Kept []string `json:"kept"`
	// Left lists dhub objects still present after Down; empty on success.
	Left []string `json:"left"`
}

// Down does what p says: uninstalls the releases, stops users' servers and
// Dask clusters, deletes dhub's Secret and the planned volumes, then the
// namespace when planned and no volume appeared in it since. It waits for
// the deletions (a Dask cluster's pods included) and then checks that
// nothing of the hub is left. What the hub did not make stays.
func (c *Client) Down(ctx context.Context, p *DownPlan) (*DownResult, error) {
	res := &DownResult{Uninstalled: []string{}, Deleted: []string{}, Kept: []string{}, Left: []string{}}
	for _, ch := range p.View.Changes {
		if ch.Action == plan.NoOp && ch.Kind != "namespace" {
			res.Kept = append(res.Kept, ch.Kind+" "+ch.Name)
		}
	}
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	for _, name := range p.releases {
		fmt.Fprintf(c.opts.Progress, "release %s: uninstalling\n", name)
		objs, err := c.releaseObjects(cfg, name)
		if err != nil {
			return res, err
		}
		un := action.NewUninstall(cfg)
		un.IgnoreNotFound = true
		// Foreground: an object goes only once what it owns is gone, so
		// the wait below covers the pods the release's controllers made.
		un.DeletionPropagation = "foreground"
		un.WaitStrategy, un.Timeout = helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
		if _, err := un.Run(name); err != nil {
			return res, fmt.Errorf("uninstall release %s: %w", name, err)
		}
		if err := c.waitObjectsGone(ctx, name, objs); err != nil {
			return res, err
		}
		res.Uninstalled = append(res.Uninstalled, name)
	}
	core := c.clientset.CoreV1()
	// Users' servers and Dask clusters are not part of the releases; any
	// started since the plan go too. The releases are gone first, so no
	// new one starts meanwhile.
	clusters, err := c.daskClusters(ctx, p.names)
	if err != nil {
		return res, err
	}
	for _, name := range clusters {
		// The garbage collector then removes the pods and the Secret
		// the gateway's controller made for it, which it owns.
		err := c.dynamic.Resource(daskClusterGVR).Namespace(c.namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return res, c.apiError("delete Dask cluster "+name, err)
		}
		res.Deleted = append(res.Deleted, "dask cluster "+name)
	}
	servers, err := core.Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: usersServers(p.names)})
	if err != nil {
		return res, c.apiError("list users' servers", err)
	}
	if err := core.Pods(c.namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: usersServers(p.names)}); err != nil && !apierrors.IsNotFound(err) {
		return res, c.apiError("delete users' servers", err)
	}
	for _, s := range servers.Items {
		res.Deleted = append(res.Deleted, "user server "+s.Name)
	}
	if err := c.waitUsersGone(ctx, p.names); err != nil {
		return res, err
	}
	if err := core.Secrets(c.namespace).Delete(ctx, render.AuthSecretName, metav1.DeleteOptions{}); err == nil {
		res.Deleted = append(res.Deleted, "secret "+render.AuthSecretName)
	} else if !apierrors.IsNotFound(err) {
		return res, c.apiError("delete secret "+render.AuthSecretName, err)
	}
	for _, name := range p.volumes {
		if err := core.PersistentVolumeClaims(c.namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, c.apiError("delete volume "+name, err)
		}
		res.Deleted = append(res.Deleted, "volume "+name)
	}
	if p.deleteNamespace {
		if err := c.deleteNamespace(ctx, p, res); err != nil {
			return res, err
		}
	}
	res.Left = c.leftovers(ctx, cfg, p.names)
	if len(res.Left) > 0 {
		return res, fmt.Errorf("still in the cluster after down: %s", strings.Join(res.Left, ", "))
	}
	return res, nil
}

// releaseObjects are the objects of release name's latest revision; none
// when it is not installed.
func (c *Client) releaseObjects(cfg *action.Configuration, name string) (helmkube.ResourceList, error) {
	rel, err := deployed(cfg, name)
	if err != nil || rel == nil {
		return nil, err
	}
	objs, err := cfg.KubeClient.Build(strings.NewReader(rel.Manifest), false)
	if err != nil {
		return nil, fmt.Errorf("release %s: read its objects: %w", name, err)
	}
	return objs, nil
}

// waitObjectsGone waits, within ReadyTimeout, until the API server finds
// none of objs. dhub waits itself rather than through Helm's status
// watcher, which ends its wait early when the watch of one kind starts
// late (the object then counts as already gone) and then reports it as
// still there.
func (c *Client) waitObjectsGone(ctx context.Context, release string, objs helmkube.ResourceList) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for {
		// Each object is read again only while it is still there.
		var left helmkube.ResourceList
		for _, o := range objs {
			if err := o.Get(); err == nil {
				left = append(left, o)
			} else if !apierrors.IsNotFound(err) {
				return c.apiError("release "+release+": read "+o.Name, err)
			}
		}
		if objs = left; len(objs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var names []string
			for _, o := range objs {
				names = append(names, strings.ToLower(o.Mapping.GroupVersionKind.Kind)+" "+o.Name)
			}
			return fmt.Errorf("release %s: still being deleted after %s: %s", release, c.opts.ReadyTimeout, strings.Join(names, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// deleteNamespace deletes the namespace and waits until it is gone, unless
// a volume the plan did not list appeared in it: a user's data is never
// deleted without being shown first.
func (c *Client) deleteNamespace(ctx context.Context, p *DownPlan, res *DownResult) error {
	core := c.clientset.CoreV1()
	pvcs, err := core.PersistentVolumeClaims(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return c.apiError("list volumes", err)
	}
	for _, v := range pvcs.Items {
		if !slices.Contains(p.volumes, v.Name) {
			res.Kept = append(res.Kept, "volume "+v.Name, "namespace "+c.namespace+" (volume "+v.Name+" appeared after the plan)")
			return nil
		}
	}
	fmt.Fprintf(c.opts.Progress, "namespace %s: deleting\n", c.namespace)
	if err := core.Namespaces().Delete(ctx, c.namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return c.apiError("delete namespace", err)
	}
	if err := c.waitNamespaceGone(ctx); err != nil {
		return err
	}
	res.Deleted = append(res.Deleted, "namespace "+c.namespace)
	return nil
}

func (c *Client) waitNamespaceGone(ctx context.Context) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for {
		_, err := c.clientset.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s still terminating after %s", c.namespace, c.opts.ReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// waitUsersGone waits until the hub's users' servers, its Dask clusters
// and their pods are gone, or fails at the readiness bound naming what is
// left. A Dask cluster's pods go after the cluster, when the garbage
// collector gets to them.
func (c *Client) waitUsersGone(ctx context.Context, names render.ReleaseNames) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for {
		left, err := c.usersLeft(ctx, names)
		if err == nil && len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("users' servers and Dask clusters still stopping after %s: %s", c.opts.ReadyTimeout, strings.Join(left, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// usersLeft lists the hub's Dask clusters, their pods and its users'
// servers that still exist.
func (c *Client) usersLeft(ctx context.Context, names render.ReleaseNames) ([]string, error) {
	clusters, err := c.daskClusters(ctx, names)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, name := range clusters {
		left = append(left, "dask cluster "+name)
	}
	for _, sel := range []string{gatewayInstance(names), usersServers(names)} {
		pods, err := c.clientset.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, c.apiError("list pods", err)
		}
		for _, p := range pods.Items {
			left = append(left, "pod "+p.Name)
		}
	}
	return left, nil
}

// leftovers lists dhub's releases and objects that should be gone. Pods
// count when they are the hub's: its releases' and its users' (see
// hubPod); a namespace dhub did not create may hold others.
func (c *Client) leftovers(ctx context.Context, cfg *action.Configuration, names render.ReleaseNames) []string {
	var left []string
	for _, name := range []string{names.JupyterHub, names.DaskGateway} {
		if rel, _ := deployed(cfg, name); rel != nil {
			left = append(left, "release "+name)
		}
	}
	core := c.clientset.CoreV1()
	if _, err := core.Secrets(c.namespace).Get(ctx, render.AuthSecretName, metav1.GetOptions{}); err == nil {
		left = append(left, "secret "+render.AuthSecretName)
	}
	pods, err := core.Pods(c.namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range pods.Items {
			if hubPod(p.Labels, names) && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
				left = append(left, "pod "+p.Name)
			}
		}
	}
	return left
}

// hubPod reports whether a pod with these labels is the hub's: made by
// one of its releases (the JupyterHub chart labels its pods and KubeSpawner
// its users' servers with release, the gateway chart with
// app.kubernetes.io/instance) or by its gateway for a Dask cluster.
func hubPod(labels map[string]string, names render.ReleaseNames) bool {
	is := func(key, name string) bool { return name != "" && labels[key] == name }
	return is("release", names.JupyterHub) ||
		is("app.kubernetes.io/instance", names.JupyterHub) ||
		is("app.kubernetes.io/instance", names.DaskGateway) ||
		is("gateway.dask.org/instance", names.DaskGateway)
}
