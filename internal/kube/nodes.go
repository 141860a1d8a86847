package kube

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"dhub/internal/config"
)

// workerFit returns a warning when no node Dask workers may run on holds a
// worker of the largest size the cluster options offer (dask.workerCores.max
// cores, dask.workerMemoryGiB.max GiB of the node's allocatable memory):
// such a worker would stay Pending. Workers run on the nodes labelled for
// them when the hub has a worker role, else on any node.
func (c *Client) workerFit(ctx context.Context, h *config.Hub) []string {
	selector := labels.Everything().String()
	where := "node"
	if h.PoolRoles()[config.RoleWorker] {
		selector = labels.Set(config.RoleLabels(config.RoleWorker)).String()
		where = "node labelled " + selector
	}
	nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return []string{fmt.Sprintf("the worker bounds were not checked against the nodes: %v", err)}
	}
	if len(nodes.Items) == 0 {
		return []string{fmt.Sprintf("no %s yet: Dask workers wait for one", where)}
	}
	maxCores, maxMem := h.Dask.WorkerCores.Max, h.Dask.WorkerMemory.Max
	var seen []string
	for _, n := range nodes.Items {
		cores := n.Status.Capacity.Cpu().AsApproximateFloat64()
		mem := n.Status.Allocatable.Memory().AsApproximateFloat64() / (1 << 30)
		if n.Spec.Unschedulable {
			continue
		}
		if cores >= maxCores && mem >= maxMem {
			return nil
		}
		seen = append(seen, fmt.Sprintf("%s: %g cores, %.1f GiB", n.Name, cores, mem))
		if len(seen) == 3 {
			seen = append(seen, "…")
			break
		}
	}
	return []string{fmt.Sprintf("dask.workerCores.max %g and dask.workerMemoryGiB.max %g GiB: no %s holds a worker that size, which would stay Pending (%s); lower the bounds or add larger nodes",
		maxCores, maxMem, where, strings.Join(seen, "; "))}
}
