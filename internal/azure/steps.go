package azure

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// waitGroupGone waits until the resource group an earlier 'down' is
// deleting is gone, so that it can be created again.
func (c *Client) waitGroupGone(ctx context.Context, a config.Azure, res *Result) error {
	group := KindGroup + " " + a.ResourceGroup
	return c.record(res, Operation{Resource: group, Action: "wait"}, a.Location, func() error {
		return c.waitUntil(ctx, group, func() (string, bool, error) {
			g, err := c.groups.Get(ctx, a.ResourceGroup, nil)
			if isNotFound(err) {
				return "", true, nil
			}
			if err != nil || g.Properties == nil {
				return "", false, err
			}
			return deref(g.Properties.ProvisioningState), false, nil
		}, func(state string) bool { return false })
	})
}

// createGroup creates the resource group; the request is synchronous.
func (c *Client) createGroup(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	group := KindGroup + " " + a.ResourceGroup
	return c.record(res, Operation{Resource: group, Action: "create"}, a.Location, func() error {
		return c.retryBusy(ctx, group, func() error {
			_, err := c.groups.CreateOrUpdate(ctx, a.ResourceGroup, desiredGroup(h), nil)
			return err
		})
	})
}

// waitClusterThenReplan waits for an operation dhub did not start to end
// on the cluster, then plans again and runs that plan, since the operation
// may have changed what is left to do. depth counts the waits so far:
// a cluster that keeps changing stops dhub after three.
func (c *Client) waitClusterThenReplan(ctx context.Context, p *Plan, res *Result, depth int) (*Plan, error) {
	a := p.hub.Azure
	cluster := KindCluster + " " + a.ClusterName
	if depth > 2 {
		return p, fmt.Errorf("%s: still changing after %d waits; run 'dhub up' again later", cluster, depth)
	}
	err := c.record(res, Operation{Resource: cluster, Action: "wait"}, a.Location, func() error {
		return c.waitCluster(ctx, a)
	})
	if err != nil {
		return p, err
	}
	np, err := c.Plan(ctx, p.hub)
	if err != nil {
		return p, err
	}
	fmt.Fprintf(c.o.Progress, "%s: the running operation finished; planning again\n", cluster)
	for _, ch := range np.View.Changes {
		if ch.Action != plan.NoOp {
			fmt.Fprintf(c.o.Progress, "  %s %s %s: %s\n", ch.Action, ch.Kind, ch.Name, ch.Reason)
		}
	}
	return c.run(ctx, np, res, depth+1)
}

// createCluster creates the managed cluster with all its pools, in one
// request.
func (c *Client) createCluster(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	cluster := KindCluster + " " + a.ClusterName
	return c.record(res, Operation{Resource: cluster, Action: "create", LongRunning: true}, a.Location, func() error {
		return c.putCluster(ctx, a, "create", desiredCluster(h))
	})
}

// updateCluster reads the cluster, changes the fields dhub manages and
// writes it back, so that everything else (its pools, at the versions they
// run, included) stays. A version upgrades the control plane to it; ""
// keeps the version Azure has.
func (c *Client) updateCluster(ctx context.Context, h *config.Hub, version string, res *Result) error {
	a := h.Azure
	cluster := KindCluster + " " + a.ClusterName
	action := "update"
	if version != "" {
		action = "upgrade"
	}
	return c.record(res, Operation{Resource: cluster, Action: action, LongRunning: true}, a.Location, func() error {
		cur, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
		if err != nil {
			return err
		}
		mc := cur.ManagedCluster
		if mc.Properties == nil {
			mc.Properties = &armcontainerservice.ManagedClusterProperties{}
		}
		if version != "" {
			mc.Properties.KubernetesVersion = to.Ptr(version)
		}
		if mc.Tags == nil {
			mc.Tags = map[string]*string{}
		}
		maps.Copy(mc.Tags, tags(h, false))
		if h.Azure.Storage.Scratch.On() {
			setWorkloadIdentity(mc.Properties)
		}
		mc.Properties.ProvisioningState = nil
		mc.Properties.PowerState = nil
		return c.putCluster(ctx, a, action, mc)
	})
}

// putCluster writes mc, trying again while the cluster is busy, and waits
// for the operation to end.
func (c *Client) putCluster(ctx context.Context, a config.Azure, verb string, mc armcontainerservice.ManagedCluster) error {
	resource := KindCluster + " " + a.ClusterName
	return startAndWait(ctx, c, resource, verb, func() (*runtime.Poller[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], error) {
		return c.clusters.BeginCreateOrUpdate(ctx, a.ResourceGroup, a.ClusterName, mc, nil)
	})
}

// putPool creates pool name through the agent pools API, or updates the
// fields dhub manages on it, from pool cfg of dhub.yaml (the same name but
// for a Spot pool's replacement).
func (c *Client) putPool(ctx context.Context, h *config.Hub, name, cfg string, create bool, res *Result) error {
	a := h.Azure
	resource := KindPool + " " + name
	action := "update"
	if create {
		action = "create"
	}
	return c.record(res, Operation{Resource: resource, Action: action, LongRunning: true}, a.Location, func() error {
		body, err := c.poolBody(ctx, h, name, cfg, create)
		if err != nil {
			return err
		}
		return startAndWait(ctx, c, resource, action, func() (*runtime.Poller[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], error) {
			return c.pools.BeginCreateOrUpdate(ctx, a.ResourceGroup, a.ClusterName, name, body, nil)
		})
	})
}

// poolBody is the agent pool to write: the desired one for a new pool;
// for an existing one, what Azure has (read once no operation runs on it)
// with the fields dhub manages merged in, so that AKS's own settings stay.
func (c *Client) poolBody(ctx context.Context, h *config.Hub, name, cfg string, create bool) (armcontainerservice.AgentPool, error) {
	a := h.Azure
	var np config.NodePool
	for _, p := range a.NodePools {
		if p.Name == cfg {
			np = p
		}
	}
	want := desiredPool(h, np)
	if create {
		return armcontainerservice.AgentPool{Properties: want}, nil
	}
	body, err := c.readPool(ctx, a, name)
	if err != nil {
		return body, err
	}
	mergePool(body.Properties, want)
	return body, nil
}

// mergePool sets on got the fields of want that AKS changes in place,
// keeping what AKS added (its own labels and taints) and what dhub does not
// manage.
func mergePool(got, want *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
	got.Mode = want.Mode
	got.EnableAutoScaling = want.EnableAutoScaling
	if deref(want.EnableAutoScaling) {
		got.MinCount, got.MaxCount = want.MinCount, want.MaxCount
		// The autoscaler owns the count; keep it inside the new bounds.
		n := deref(got.Count)
		n = max(n, deref(want.MinCount))
		n = min(n, deref(want.MaxCount))
		got.Count = to.Ptr(n)
	} else {
		got.MinCount, got.MaxCount = nil, nil
		got.Count = want.Count
	}
	labels := map[string]*string{}
	for k, v := range got.NodeLabels {
		if strings.HasPrefix(k, systemPrefix) {
			labels[k] = v
		}
	}
	maps.Copy(labels, want.NodeLabels)
	got.NodeLabels = labels
	var taints []*string
	for _, t := range got.NodeTaints {
		if strings.HasPrefix(deref(t), systemPrefix) {
			taints = append(taints, t)
		}
	}
	got.NodeTaints = append(taints, want.NodeTaints...)
	if got.Tags == nil {
		got.Tags = map[string]*string{}
	}
	maps.Copy(got.Tags, want.Tags)
	readOnly(got)
}

// readOnly clears the fields of a pool read from Azure that Azure sets
// itself, before the pool is written back.
func readOnly(pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
	pp.ProvisioningState = nil
	pp.CurrentOrchestratorVersion = nil
	pp.NodeImageVersion = nil
	pp.ETag = nil
}

// upgradePool upgrades the nodes of pool name to a Kubernetes version:
// the pool as Azure has it, with only orchestratorVersion changed.
func (c *Client) upgradePool(ctx context.Context, a config.Azure, name, version string, res *Result) error {
	resource := KindPool + " " + name
	return c.record(res, Operation{Resource: resource, Action: "upgrade", LongRunning: true}, a.Location, func() error {
		body, err := c.readPool(ctx, a, name)
		if err != nil {
			return err
		}
		body.Properties.OrchestratorVersion = to.Ptr(version)
		return startAndWait(ctx, c, resource, "upgrade", func() (*runtime.Poller[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], error) {
			return c.pools.BeginCreateOrUpdate(ctx, a.ResourceGroup, a.ClusterName, name, body, nil)
		})
	})
}

// replacePool creates pool s.pool with the settings Spot pool s.from has
// in Azure (its node count included, so the workers keep their room), at
// Kubernetes version s.version, tagged with its name in dhub.yaml. AKS
// adds its own Spot label and taint to a new pool itself.
func (c *Client) replacePool(ctx context.Context, a config.Azure, s step, res *Result) error {
	resource := KindPool + " " + s.pool
	return c.record(res, Operation{Resource: resource, Action: "create", LongRunning: true}, a.Location, func() error {
		old, err := c.readPool(ctx, a, s.from)
		if err != nil {
			return err
		}
		pp := old.Properties
		pp.OrchestratorVersion = to.Ptr(s.version)
		pp.PowerState = nil
		labels := map[string]*string{}
		for k, v := range pp.NodeLabels {
			if !strings.HasPrefix(k, systemPrefix) {
				labels[k] = v
			}
		}
		pp.NodeLabels = labels
		var taints []*string
		for _, t := range pp.NodeTaints {
			if !strings.HasPrefix(deref(t), systemPrefix) {
				taints = append(taints, t)
			}
		}
		pp.NodeTaints = taints
		if pp.Tags == nil {
			pp.Tags = map[string]*string{}
		}
		pp.Tags[TagPool] = to.Ptr(s.cfg)
		body := armcontainerservice.AgentPool{Properties: pp}
		return startAndWait(ctx, c, resource, "create", func() (*runtime.Poller[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], error) {
			return c.pools.BeginCreateOrUpdate(ctx, a.ResourceGroup, a.ClusterName, s.pool, body, nil)
		})
	})
}

// readPool reads pool name once no operation runs on it, without the
// fields Azure sets itself, to be written back.
func (c *Client) readPool(ctx context.Context, a config.Azure, name string) (armcontainerservice.AgentPool, error) {
	if err := c.waitPool(ctx, a, name); err != nil {
		return armcontainerservice.AgentPool{}, err
	}
	cur, err := c.pools.Get(ctx, a.ResourceGroup, a.ClusterName, name, nil)
	if err != nil {
		return armcontainerservice.AgentPool{}, err
	}
	body := cur.AgentPool
	if body.Properties == nil {
		body.Properties = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	readOnly(body.Properties)
	return body, nil
}

// deletePool deletes pool name once no operation runs on it, nor on pool
// after (a replacement that must be ready first) when set; a pool already
// gone counts as deleted.
func (c *Client) deletePool(ctx context.Context, a config.Azure, name, after string, res *Result) error {
	resource := KindPool + " " + name
	return c.record(res, Operation{Resource: resource, Action: "delete", LongRunning: true}, a.Location, func() error {
		if after != "" {
			if err := c.waitPool(ctx, a, after); err != nil {
				return err
			}
		}
		if err := c.waitPool(ctx, a, name); err != nil {
			return err
		}
		err := startAndWait(ctx, c, resource, "delete", func() (*runtime.Poller[armcontainerservice.AgentPoolsClientDeleteResponse], error) {
			return c.pools.BeginDelete(ctx, a.ResourceGroup, a.ClusterName, name, nil)
		})
		if isNotFound(err) {
			return nil
		}
		return err
	})
}

// registerProvider registers a resource provider in the subscription and
// waits until Azure says Registered (usually a minute or two), as
// 'az provider register --wait' does.
func (c *Client) registerProvider(ctx context.Context, a config.Azure, ns string, res *Result) error {
	resource := KindProvider + " " + ns
	return c.record(res, Operation{Resource: resource, Action: "register", LongRunning: true}, a.Location, func() error {
		fmt.Fprintf(c.o.Progress, "%s: registering it in the subscription (as 'az provider register --namespace %s' does)\n", resource, ns)
		if _, err := c.providers.Register(ctx, ns, nil); err != nil {
			return err
		}
		return c.waitUntil(ctx, resource, func() (string, bool, error) {
			r, err := c.providers.Get(ctx, ns, nil)
			if err != nil {
				return "", false, err
			}
			return deref(r.RegistrationState), false, nil
		}, func(state string) bool { return state == "Registered" })
	})
}

// startCluster starts a stopped cluster and waits until it runs.
func (c *Client) startCluster(ctx context.Context, a config.Azure, res *Result) error {
	resource := KindCluster + " " + a.ClusterName
	return c.record(res, Operation{Resource: resource, Action: "start", LongRunning: true}, a.Location, func() error {
		return startAndWait(ctx, c, resource, "start", func() (*runtime.Poller[armcontainerservice.ManagedClustersClientStartResponse], error) {
			return c.clusters.BeginStart(ctx, a.ResourceGroup, a.ClusterName, nil)
		})
	})
}
