package kube

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"dhub/internal/config"
	"dhub/internal/render"
)

// PoolStatus is the nodes of one role the hub places pods by (the hub's,
// users' servers, Dask workers): a role without a Ready node leaves its
// pods Pending, as after a Spot node's eviction or in a pool scaled to
// zero that waits for the autoscaler.
type PoolStatus struct {
	Role     config.PoolRole `json:"role"`
	Selector string          `json:"selector"`
	Ready    []string        `json:"ready"`
	NotReady []string        `json:"notReady"`
}

// pools reads, for each role of the hub's placement, the nodes labelled
// for it and whether each is Ready. A hub placed on no roles has none.
func (c *Client) pools(ctx context.Context, h *config.Hub) ([]PoolStatus, error) {
	roles := h.PoolRoles()
	var out []PoolStatus
	for _, role := range []config.PoolRole{config.RoleCore, config.RoleUser, config.RoleWorker} {
		if !roles[role] {
			continue
		}
		sel := labels.Set(config.RoleLabels(role)).String()
		nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, c.apiError("list the nodes labelled "+sel, err)
		}
		p := PoolStatus{Role: role, Selector: sel, Ready: []string{}, NotReady: []string{}}
		for _, n := range nodes.Items {
			if nodeReady(&n) {
				p.Ready = append(p.Ready, n.Name)
			} else {
				p.NotReady = append(p.NotReady, n.Name)
			}
		}
		slices.Sort(p.Ready)
		slices.Sort(p.NotReady)
		out = append(out, p)
	}
	return out, nil
}

// daskPodProblems names each scheduler or worker pod of the hub's Dask
// clusters that is not running, with its cluster and why (the scheduler's
// reason for a Pending pod, a container's waiting reason).
func (c *Client) daskPodProblems(ctx context.Context, names render.ReleaseNames) ([]string, error) {
	pods, err := c.clientset.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: gatewayInstance(names)})
	if err != nil {
		return nil, c.apiError("list the Dask clusters' pods", err)
	}
	var out []string
	for i := range pods.Items {
		p := &pods.Items[i]
		why := c.podProblem(ctx, p)
		if p.DeletionTimestamp != nil || why == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s pod %s of cluster %s %s", p.Labels["app.kubernetes.io/component"], p.Name, p.Labels["gateway.dask.org/cluster"], why))
	}
	slices.Sort(out)
	return out, nil
}
