package kube

import (
	"context"
	"errors"

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
	// DaskPods names each of the clusters' scheduler and worker pods that
	// is not running, and why.
	DaskPods []string `json:"daskPods"`
	// Pools are the nodes of each role the hub places pods by.
	Pools []PoolStatus `json:"pools"`
	// Up is true when every component is ready and the gateway API answers.
	Up bool `json:"up"`
}

var daskClusterGVR = schema.GroupVersionResource{Group: "gateway.dask.org", Version: "v1alpha1", Resource: "daskclusters"}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// GetStatus reports releases, each component's readiness (or why not), the
// URL, the gateway API, the Dask clusters and those of their pods that are
// not running, and the nodes of each role the hub places pods by. It
// changes nothing.
func (c *Client) GetStatus(ctx context.Context, h *config.Hub) (*Status, error) {
	cfg, names, err := c.releases()
	if err != nil {
		return nil, err
	}
	k := render.ForReleases(h, names)
	st := &Status{Namespace: c.namespace, Releases: []ReleaseStatus{}, Components: []ComponentStatus{}, DaskClusters: []string{}, DaskPods: []string{}, Pools: []PoolStatus{}}
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
	st.GatewayAPI = c.gatewayHealth(ctx, names)
	st.Up = st.GatewayAPI == gatewayAnswering
	for _, s := range st.Components {
		st.Up = st.Up && s.Ready
	}
	if clusters, err := c.daskClusters(ctx, names); err == nil && clusters != nil {
		st.DaskClusters = clusters
	}
	if problems, err := c.daskPodProblems(ctx, names); err == nil && problems != nil {
		st.DaskPods = problems
	}
	if pools, err := c.pools(ctx, h); err == nil && pools != nil {
		st.Pools = pools
	}
	st.URL, st.URLState = c.urlState(ctx, h)
	return st, nil
}

// publicURL is where people reach the hub, without waiting or probing
// (see currentAddress). It returns the URL (with a trailing slash) and the
// host, or "" and why there is none yet.
func (c *Client) publicURL(ctx context.Context, h *config.Hub) (url, host, why string) {
	a, err := c.currentAddress(ctx, h, true)
	if err != nil {
		return "", "", shortErr(err)
	}
	return a.url(h), a.host, ""
}

// urlState is the URL and whether it answers, without waiting.
func (c *Client) urlState(ctx context.Context, h *config.Hub) (string, string) {
	url, host, why := c.publicURL(ctx, h)
	if url == "" {
		return "", why
	}
	if _, err := c.lookupHost(ctx, host); err != nil {
		return url, "does not resolve: " + shortErr(err)
	}
	err := c.opts.Prober.Get(ctx, url+"hub/api")
	var ce *CertError
	switch {
	case errors.As(err, &ce):
		return url, "answers, but " + ce.Error()
	case err != nil:
		return url, "does not answer: " + shortErr(err)
	case h.HTTPSEnabled():
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
