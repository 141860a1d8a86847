package azure

import (
	"context"
	"fmt"

	"dhub/internal/config"
)

// Kubeconfig returns the cluster's user kubeconfig, from the cluster user
// credentials API (like 'az aks get-credentials'). It is kept in memory:
// the caller decides whether it is ever written.
func (c *Client) Kubeconfig(ctx context.Context, h *config.Hub) ([]byte, error) {
	a := h.Azure
	resource := KindCluster + " " + a.ClusterName
	r, err := c.clusters.ListClusterUserCredentials(ctx, a.ResourceGroup, a.ClusterName, nil)
	if isNotFound(err) {
		return nil, fmt.Errorf("%s does not exist in resource group %s: run 'dhub up' first", resource, a.ResourceGroup)
	}
	if err != nil {
		return nil, explain(err, resource, a.Location)
	}
	for _, k := range r.Kubeconfigs {
		if k != nil && len(k.Value) > 0 {
			return k.Value, nil
		}
	}
	return nil, fmt.Errorf("%s: Azure returned no kubeconfig", resource)
}
