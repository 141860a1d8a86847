package azure

import (
	"context"
	"sort"

	"dhub/internal/config"
)

// PoolStatus is one node pool as Azure reports it.
type PoolStatus struct {
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	VMSize   string `json:"vmSize"`
	Nodes    int32  `json:"nodes"`
	Min      *int32 `json:"min,omitempty"`
	Max      *int32 `json:"max,omitempty"`
	Priority string `json:"priority"`
	State    string `json:"state"`
}

// Status is the Azure part of a hub.
type Status struct {
	ResourceGroup string `json:"resourceGroup"`
	Cluster       string `json:"cluster"`
	// Exists is false when there is no cluster; the rest is then empty.
	Exists            bool         `json:"exists"`
	Location          string       `json:"location,omitempty"`
	State             string       `json:"provisioningState,omitempty"`
	Power             string       `json:"powerState,omitempty"`
	KubernetesVersion string       `json:"kubernetesVersion,omitempty"`
	FQDN              string       `json:"fqdn,omitempty"`
	Pools             []PoolStatus `json:"pools"`
	// Budget is the hub's budget, read when dhub.yaml has one.
	Budget *BudgetStatus `json:"budget,omitempty"`
	// Scratch is the hub's scratch container, when dhub.yaml has one.
	Scratch *ScratchStatus `json:"scratch,omitempty"`
}

// Ready reports whether the cluster exists, its last operation succeeded
// and it runs.
func (s *Status) Ready() bool {
	return s.Exists && s.State == "Succeeded" && (s.Power == "" || s.Power == "Running")
}

// Status reads the managed cluster: its state, Kubernetes version and each
// pool's node count, autoscale bounds and priority (one GET); and the
// budget, when dhub.yaml has one (one more).
func (c *Client) Status(ctx context.Context, h *config.Hub) (*Status, error) {
	a := h.Azure
	st := &Status{ResourceGroup: a.ResourceGroup, Cluster: a.ClusterName, Pools: []PoolStatus{}}
	if a.Budget != nil {
		st.Budget = c.budgetStatus(ctx, h)
	}
	if a.Storage.Scratch.On() {
		st.Scratch = c.scratchStatus(ctx, h)
	}
	mc, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
	if isNotFound(err) {
		return st, nil
	}
	if err != nil {
		return nil, explain(err, KindCluster+" "+a.ClusterName, a.Location)
	}
	st.Exists = true
	st.Location = deref(mc.Location)
	if p := mc.Properties; p != nil {
		st.State = deref(p.ProvisioningState)
		if p.PowerState != nil {
			st.Power = string(deref(p.PowerState.Code))
		}
		st.KubernetesVersion = deref(p.CurrentKubernetesVersion)
		if st.KubernetesVersion == "" {
			st.KubernetesVersion = deref(p.KubernetesVersion)
		}
		st.FQDN = deref(p.Fqdn)
		for _, ap := range p.AgentPoolProfiles {
			pp := propertiesOf(ap)
			ps := PoolStatus{Name: deref(ap.Name), Mode: string(deref(ap.Mode)), VMSize: deref(ap.VMSize),
				Nodes: deref(ap.Count), Priority: priority(pp), State: deref(ap.ProvisioningState)}
			if deref(ap.EnableAutoScaling) {
				ps.Min, ps.Max = ap.MinCount, ap.MaxCount
			}
			st.Pools = append(st.Pools, ps)
		}
		sort.Slice(st.Pools, func(i, j int) bool { return st.Pools[i].Name < st.Pools[j].Name })
	}
	return st, nil
}
