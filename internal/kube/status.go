package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"dhub/internal/config"
	"dhub/internal/render"
)

// ReleaseStatus is one Helm release as the cluster holds it.
type ReleaseStatus struct {
	Name     string `json:"name"`
	Chart    string `json:"chart"`
	Version  string `json:"version"`
	Revision int    `json:"revision"`
	Status   string `json:"status"`
}

// Status is the hub on its cluster.
type Status struct {
	Namespace  string            `json:"namespace"`
	Releases   []ReleaseStatus   `json:"releases"`
	Components []ComponentStatus `json:"components"`
	URL        string            `json:"url,omitempty"`
	// URLState says whether the URL resolves and answers, and the TLS state.
	URLState string `json:"urlState,omitempty"`
	// GatewayAPI says whether the gateway's API answers its health check.
	GatewayAPI   string   `json:"gatewayApi"`
	DaskClusters []string `json:"daskClusters"`
	Up           bool     `json:"up"`
}

var daskClusterGVR = schema.GroupVersionResource{Group: "gateway.dask.org", Version: "v1alpha1", Resource: "daskclusters"}

// GetStatus reports releases, each component's readiness (or why not), the
// URL, the gateway API and the running Dask clusters. It changes nothing.
func (c *Client) GetStatus(ctx context.Context, h *config.Hub) (*Status, error) {
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	k := render.ForKubernetes(h)
	st := &Status{Namespace: c.namespace, Releases: []ReleaseStatus{}, Components: []ComponentStatus{}, DaskClusters: []string{}}
	installed := 0
	for _, r := range k.Releases {
		rel, err := deployed(cfg, r.Name)
		if err != nil {
			return nil, c.apiError("read release "+r.Name, err)
		}
		rs := ReleaseStatus{Name: r.Name, Chart: r.Chart.Name, Status: "not installed"}
		if rel != nil {
			installed++
			rs.Version, rs.Revision = rel.Chart.Metadata.Version, rel.Version
			if rel.Info != nil {
				rs.Status = string(rel.Info.Status)
			}
		}
		st.Releases = append(st.Releases, rs)
	}
	if installed < len(k.Releases) {
		st.GatewayAPI = "not installed"
		return st, nil
	}
	ws, err := workloads(cfg, k)
	if err != nil {
		return nil, err
	}
	st.Components = c.components(ctx, ws)
	st.Up = true
	for _, s := range st.Components {
		st.Up = st.Up && s.Ready
	}
	st.GatewayAPI = c.gatewayHealth(ctx)
	list, err := c.dynamic.Resource(daskClusterGVR).Namespace(c.namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, item := range list.Items {
			st.DaskClusters = append(st.DaskClusters, item.GetName())
		}
		sort.Strings(st.DaskClusters)
	}
	st.URL, st.URLState = c.urlState(ctx, h)
	return st, nil
}

// gatewayHealth asks the gateway API's health endpoint through the API
// server's service proxy, so no port-forward is needed.
func (c *Client) gatewayHealth(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	svc := "api-" + render.DaskGatewayRelease + ":8000"
	raw, err := c.clientset.CoreV1().Services(c.namespace).ProxyGet("http", "api-"+render.DaskGatewayRelease, "8000", "/api/health", nil).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("not answering (%s /api/health): %v", svc, shortErr(err))
	}
	if !strings.Contains(string(raw), "pass") {
		return fmt.Sprintf("unhealthy: %s", strings.TrimSpace(string(raw)))
	}
	return "answering"
}

// urlState is the URL and whether it answers, without waiting.
func (c *Client) urlState(ctx context.Context, h *config.Hub) (string, string) {
	host := h.JupyterHub.Host
	scheme := "https"
	if !h.HTTPSEnabled() {
		scheme = "http"
		svc, err := c.clientset.CoreV1().Services(c.namespace).Get(ctx, "proxy-public", metav1.GetOptions{})
		if err != nil {
			return "", "proxy-public: " + shortErr(err)
		}
		host = ""
		for _, in := range svc.Status.LoadBalancer.Ingress {
			host = in.IP + in.Hostname
		}
		if host == "" {
			return "", "proxy-public has no external address yet"
		}
	}
	url := scheme + "://" + host + "/"
	if err := c.opts.Prober.Resolve(ctx, host); err != nil {
		return url, "does not resolve: " + shortErr(err)
	}
	err := c.opts.Prober.Get(ctx, url+"hub/api")
	var ce *CertError
	switch {
	case errors.As(err, &ce):
		return url, "answers, but " + ce.Error()
	case err != nil:
		return url, "does not answer: " + shortErr(err)
	case scheme == "https":
		return url, "answers; certificate valid"
	}
	return url, "answers"
}

func shortErr(err error) string {
	if s := apierrors.ReasonForError(err); s != metav1.StatusReasonUnknown {
		return string(s)
	}
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160] + "..."
	}
	return msg
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

// Down uninstalls both releases, deletes dhub's Secret and, with
// deleteData, users' volumes, then the namespace when dhub created it and
// nothing is kept in it. It waits for the deletions and then checks.
func (c *Client) Down(ctx context.Context, deleteData bool) (*DownResult, error) {
	res := &DownResult{Uninstalled: []string{}, Deleted: []string{}, Kept: []string{}, Left: []string{}}
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{render.DaskGatewayRelease, render.JupyterHubRelease} {
		rel, err := deployed(cfg, name)
		if err != nil {
			return nil, err
		}
		if rel == nil {
			continue
		}
		fmt.Fprintf(c.opts.Progress, "release %s: uninstalling\n", name)
		un := action.NewUninstall(cfg)
		un.WaitStrategy, un.Timeout = helmkube.StatusWatcherStrategy, c.opts.ReadyTimeout
		if _, err := un.Run(name); err != nil {
			return res, fmt.Errorf("uninstall release %s: %w", name, err)
		}
		res.Uninstalled = append(res.Uninstalled, name)
	}
	core := c.clientset.CoreV1()
	// Users' servers and Dask clusters are not part of the releases.
	if list, err := c.dynamic.Resource(daskClusterGVR).Namespace(c.namespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, item := range list.Items {
			if err := c.dynamic.Resource(daskClusterGVR).Namespace(c.namespace).Delete(ctx, item.GetName(), metav1.DeleteOptions{}); err == nil {
				res.Deleted = append(res.Deleted, "dask cluster "+item.GetName())
			}
		}
	}
	if err := core.Pods(c.namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "component=singleuser-server"}); err != nil && !apierrors.IsNotFound(err) {
		return res, c.apiError("delete users' servers", err)
	}
	if err := core.Secrets(c.namespace).Delete(ctx, render.AuthSecretName, metav1.DeleteOptions{}); err == nil {
		res.Deleted = append(res.Deleted, "secret "+render.AuthSecretName)
	} else if !apierrors.IsNotFound(err) {
		return res, c.apiError("delete secret "+render.AuthSecretName, err)
	}
	pvcs, err := core.PersistentVolumeClaims(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return res, c.apiError("list volumes", err)
	}
	if pvcs != nil {
		for _, p := range pvcs.Items {
			if deleteData {
				if err := core.PersistentVolumeClaims(c.namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return res, c.apiError("delete volume "+p.Name, err)
				}
				res.Deleted = append(res.Deleted, "pvc "+p.Name)
			} else {
				res.Kept = append(res.Kept, "pvc "+p.Name)
			}
		}
	}
	ns, err := core.Namespaces().Get(ctx, c.namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return res, c.apiError("read namespace", err)
	case ns.Labels[labelManagedBy] != managedBy:
		res.Kept = append(res.Kept, "namespace "+c.namespace+" (dhub did not create it)")
	case len(res.Kept) > 0:
		res.Kept = append(res.Kept, "namespace "+c.namespace+" (it holds the kept volumes)")
	default:
		fmt.Fprintf(c.opts.Progress, "namespace %s: deleting\n", c.namespace)
		if err := core.Namespaces().Delete(ctx, c.namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, c.apiError("delete namespace", err)
		}
		if err := c.waitNamespaceGone(ctx); err != nil {
			return res, err
		}
		res.Deleted = append(res.Deleted, "namespace "+c.namespace)
	}
	res.Left = c.leftovers(ctx, cfg)
	if len(res.Left) > 0 {
		return res, fmt.Errorf("still in the cluster after down: %s", strings.Join(res.Left, ", "))
	}
	return res, nil
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

// leftovers lists dhub's releases and objects that should be gone.
func (c *Client) leftovers(ctx context.Context, cfg *action.Configuration) []string {
	var left []string
	for _, name := range []string{render.JupyterHubRelease, render.DaskGatewayRelease} {
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
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil {
				left = append(left, "pod "+p.Name)
			}
		}
	}
	return left
}
