package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// Operation is one write dhub made to Azure, or one wait for an operation
// it found running.
type Operation struct {
	// Resource is e.g. "managed cluster pangeoCluster".
	Resource string `json:"resource"`
	// Action is create, update, upgrade (a Kubernetes version), delete,
	// register, start or wait.
	Action string `json:"action"`
	// LongRunning is true for Azure long-running operations (polled until done).
	LongRunning bool    `json:"longRunning"`
	Seconds     float64 `json:"seconds"`
}

// Result is what Apply did. Operations run one after another, so every
// long-running one is on the critical path.
type Result struct {
	Operations []Operation `json:"operations"`
	// NotApplied are the replaces the plan showed: AKS cannot make them in
	// place and dhub never attempts them.
	NotApplied []plan.Change `json:"notApplied,omitempty"`
	Seconds    float64       `json:"seconds"`
}

// LongRunning counts the long-running operations dhub started.
func (r *Result) LongRunning() int {
	n := 0
	for _, o := range r.Operations {
		if o.LongRunning && o.Action != "wait" {
			n++
		}
	}
	return n
}

// Writes counts the requests that changed something.
func (r *Result) Writes() int {
	n := 0
	for _, o := range r.Operations {
		if o.Action != "wait" {
			n++
		}
	}
	return n
}

// ErrInterrupted wraps the error of an Apply stopped half way (a cancelled
// context): Azure carries on with a started operation, and running up
// again picks it up.
var ErrInterrupted = errors.New("interrupted: Azure carries on with any operation already accepted; run 'dhub up' again to pick it up")

// Apply executes p: it creates and updates what the plan says, one step
// after another, waiting for each long-running operation with progress.
// Replaces are never attempted: they are returned in Result.NotApplied.
// Apply is safe to run again after an interruption: it waits for an
// operation found running instead of starting a second one.
func (c *Client) Apply(ctx context.Context, p *Plan) (*Result, error) {
	start := c.o.Now()
	res := &Result{}
	final, err := c.run(ctx, p, res, 0)
	res.NotApplied = final.notApplied
	res.Seconds = c.o.Now().Sub(start).Seconds()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ErrInterrupted, err)
	}
	return res, err
}

// run executes the steps of p, one after another, and returns the plan it
// finished with (a wait for another operation ends with a fresh plan). The
// first step that fails stops it, and its error says what was done and
// what is left.
func (c *Client) run(ctx context.Context, p *Plan, res *Result, depth int) (*Plan, error) {
	h := p.hub
	for i, s := range p.steps {
		if s.label != "" {
			fmt.Fprintln(c.o.Progress, s.label)
		}
		var err error
		switch s.kind {
		case stepWaitGroupGone:
			err = c.waitGroupGone(ctx, h.Azure, res)
		case stepCreateGroup:
			err = c.createGroup(ctx, h, res)
		case stepWaitCluster:
			return c.waitClusterThenReplan(ctx, p, res, depth)
		case stepCreateCluster:
			err = c.createCluster(ctx, h, res)
		case stepUpdateCluster:
			err = c.updateCluster(ctx, h, "", res)
		case stepUpgradeCluster:
			err = c.updateCluster(ctx, h, s.version, res)
		case stepPutPool:
			err = c.putPool(ctx, h, s.pool, s.cfg, s.create, res)
		case stepUpgradePool:
			err = c.upgradePool(ctx, h.Azure, s.pool, s.version, res)
		case stepReplacePool:
			err = c.replacePool(ctx, h.Azure, s, res)
		case stepDeletePool:
			err = c.deletePool(ctx, h.Azure, s.pool, s.after, res)
		case stepRegisterProvider:
			err = c.registerProvider(ctx, h.Azure, s.pool, res)
		case stepStartCluster:
			err = c.startCluster(ctx, h.Azure, res)
		}
		if err != nil {
			return p, p.failedAt(i, err)
		}
	}
	return p, nil
}

// failedAt adds to the error of step i of an upgrade what the plan had
// done before it and what it leaves undone: an upgrade is many writes, and
// a later run plans again from what Azure has, so it goes on from there.
// Other plans keep Azure's error as one sentence.
func (p *Plan) failedAt(i int, err error) error {
	upgrade := false
	for _, s := range p.steps {
		upgrade = upgrade || s.kind == stepUpgradeCluster || s.kind == stepUpgradePool || s.kind == stepReplacePool
	}
	if !upgrade {
		return err
	}
	var done, left []string
	for j, s := range p.steps {
		d := p.describe(s)
		switch {
		case d == "" || j == i:
		case j < i:
			done = append(done, d)
		default:
			left = append(left, d)
		}
	}
	if len(done) == 0 && len(left) == 0 {
		return err
	}
	list := func(s []string) string {
		if len(s) == 0 {
			return "nothing"
		}
		return strings.Join(s, "; ")
	}
	return fmt.Errorf("%w\n  stopped at: %s\n  done before it: %s\n  not done: %s\n  'dhub up' again plans from what Azure has then and goes on from there",
		err, p.describe(p.steps[i]), list(done), list(left))
}

// describe says what a step writes, in a few words ("" for a wait).
func (p *Plan) describe(s step) string {
	a := p.hub.Azure
	switch s.kind {
	case stepCreateGroup:
		return "create resource group " + a.ResourceGroup
	case stepCreateCluster:
		return "create managed cluster " + a.ClusterName
	case stepUpdateCluster:
		return "update managed cluster " + a.ClusterName
	case stepUpgradeCluster:
		return fmt.Sprintf("upgrade managed cluster %s to %s", a.ClusterName, s.version)
	case stepPutPool:
		if s.create {
			return "create node pool " + s.pool
		}
		return "update node pool " + s.pool
	case stepUpgradePool:
		return fmt.Sprintf("upgrade node pool %s to %s", s.pool, s.version)
	case stepReplacePool:
		return fmt.Sprintf("create node pool %s at %s to replace Spot pool %s", s.pool, s.version, s.from)
	case stepDeletePool:
		return "delete node pool " + s.pool
	case stepRegisterProvider:
		return "register resource provider " + s.pool
	case stepStartCluster:
		return "start managed cluster " + a.ClusterName
	}
	return ""
}

// record runs the operation of one step, timing it and adding op to res
// when it succeeds. A failure comes back explained here, so that no step
// explains its own (explain leaves an error already explained as it is).
func (c *Client) record(res *Result, op Operation, location string, f func() error) error {
	start := c.o.Now()
	if err := f(); err != nil {
		return explain(err, op.Resource, location)
	}
	op.Seconds = c.o.Now().Sub(start).Seconds()
	res.Operations = append(res.Operations, op)
	return nil
}

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

// waitCluster waits until no operation runs on the cluster (or it is gone).
func (c *Client) waitCluster(ctx context.Context, a config.Azure) error {
	resource := KindCluster + " " + a.ClusterName
	return c.waitUntil(ctx, resource, func() (string, bool, error) {
		mc, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
		if isNotFound(err) {
			return "", true, nil
		}
		if err != nil || mc.Properties == nil {
			return "", false, err
		}
		return deref(mc.Properties.ProvisioningState), false, nil
	}, terminal)
}

// waitPool waits until no operation runs on the pool (or it is gone).
func (c *Client) waitPool(ctx context.Context, a config.Azure, name string) error {
	resource := KindPool + " " + name
	return c.waitUntil(ctx, resource, func() (string, bool, error) {
		ap, err := c.pools.Get(ctx, a.ResourceGroup, a.ClusterName, name, nil)
		if isNotFound(err) {
			return "", true, nil
		}
		if err != nil || ap.Properties == nil {
			return "", false, err
		}
		return deref(ap.Properties.ProvisioningState), false, nil
	}, terminal)
}

// waitUntil reads a resource every PollFrequency until done(state) or it is
// gone, for at most WaitTimeout, reporting progress. It is how dhub waits
// for an operation it did not start (an earlier, interrupted run's).
func (c *Client) waitUntil(ctx context.Context, resource string, read func() (state string, gone bool, err error), done func(string) bool) error {
	start := c.o.Now()
	last, lastPrint := "", start
	for {
		state, gone, err := read()
		if err != nil {
			return err
		}
		if gone || done(state) {
			if last != "" {
				fmt.Fprintf(c.o.Progress, "%s: %s after %s\n", resource, orDefault(state, "gone"), c.since(start))
			}
			return nil
		}
		now := c.o.Now()
		if state != last || now.Sub(lastPrint) >= c.o.ProgressEvery {
			fmt.Fprintf(c.o.Progress, "%s: %s (an operation already running), waiting, %s\n", resource, state, c.since(start))
			last, lastPrint = state, now
		}
		if now.Sub(start) > c.o.WaitTimeout {
			return fmt.Errorf("%s: still %s after %s; run 'dhub up' again later", resource, state, c.since(start))
		}
		if err := sleep(ctx, c.o.PollFrequency); err != nil {
			return err
		}
	}
}

// retryBusy calls f again while Azure answers that another operation is in
// progress on the resource (409 OperationNotAllowed), waiting ConflictWait
// and then twice as long each time, up to WaitTimeout. Throttling (429)
// and server errors (5xx) are retried below, by the pipeline's retry policy.
func (c *Client) retryBusy(ctx context.Context, resource string, f func() error) error {
	start := c.o.Now()
	d := c.o.ConflictWait
	for {
		err := f()
		if err == nil || !isBusy(err) {
			return err
		}
		if c.o.Now().Sub(start) > c.o.WaitTimeout {
			return err
		}
		_, code, _, _ := responseError(err)
		fmt.Fprintf(c.o.Progress, "%s: another operation is in progress (%s); trying again in %s\n", resource, code, d.Round(time.Millisecond))
		if err := sleep(ctx, d); err != nil {
			return err
		}
		d = min(2*d, 8*c.o.ConflictWait)
	}
}

// startAndWait starts a long-running operation on resource, trying again
// while Azure answers that another one runs on it, and waits for it to end.
func startAndWait[T any](ctx context.Context, c *Client, resource, verb string, start func() (*runtime.Poller[T], error)) error {
	var poller *runtime.Poller[T]
	err := c.retryBusy(ctx, resource, func() error {
		var err error
		poller, err = start()
		return err
	})
	if err != nil {
		return err
	}
	_, err = waitLRO(ctx, c, poller, resource, verb)
	return err
}

// waitLRO polls a long-running operation until it ends, reporting its state
// and the elapsed time on Progress, then returns its result.
func waitLRO[T any](ctx context.Context, c *Client, p *runtime.Poller[T], resource, verb string) (T, error) {
	start := c.o.Now()
	fmt.Fprintf(c.o.Progress, "%s: %s accepted by Azure\n", resource, verb)
	last, lastPrint := "", start
	for !p.Done() {
		d := c.o.PollFrequency
		resp, err := p.Poll(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		state := lroState(resp)
		if ra := retryAfter(resp); ra > d {
			d = ra
		}
		now := c.o.Now()
		if state != last || now.Sub(lastPrint) >= c.o.ProgressEvery {
			fmt.Fprintf(c.o.Progress, "%s: %s %s, %s\n", resource, verb, state, c.since(start))
			last, lastPrint = state, now
		}
		if p.Done() {
			break
		}
		if err := sleep(ctx, d); err != nil {
			var zero T
			return zero, err
		}
	}
	res, err := p.Result(ctx)
	if err == nil {
		fmt.Fprintf(c.o.Progress, "%s: %s done in %s\n", resource, verb, c.since(start))
	}
	return res, err
}

// lroState is the status an operation's poll answer carries ("InProgress",
// "Succeeded", ...), or "in progress" when it carries none.
func lroState(resp *http.Response) string {
	if resp == nil {
		return "in progress"
	}
	if body, err := runtime.Payload(resp); err == nil && len(body) > 0 {
		var s struct {
			Status     string `json:"status"`
			Properties struct {
				ProvisioningState string `json:"provisioningState"`
			} `json:"properties"`
		}
		if json.Unmarshal(body, &s) == nil {
			if s.Status != "" {
				return s.Status
			}
			if s.Properties.ProvisioningState != "" {
				return s.Properties.ProvisioningState
			}
		}
	}
	return "in progress"
}

// retryAfter is the Retry-After (in seconds) of a poll answer, capped at a minute.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	n, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || n <= 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, time.Minute)
}

func (c *Client) since(t time.Time) string {
	d := c.o.Now().Sub(t)
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
