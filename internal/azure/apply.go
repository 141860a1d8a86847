package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
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
	LongRunning bool `json:"longRunning"`
	// Seconds is how long the operation took, waits included.
	Seconds float64 `json:"seconds"`
}

// Result is what Apply did. Operations run one after another, so every
// long-running one is on the critical path.
type Result struct {
	Operations []Operation `json:"operations"`
	// NotApplied are the replaces the plan showed: AKS cannot make them in
	// place and dhub never attempts them.
	NotApplied []plan.Change `json:"notApplied,omitempty"`
	// Warnings are what Azure refused that does not stop the hub: the
	// budget's create, update or delete.
	Warnings []string `json:"warnings,omitempty"`
	// Identity is the scratch container's workload identity: the one
	// Apply created, or the one its last plan found; nil without one.
	Identity *config.WorkloadIdentity `json:"-"`
	// Seconds is how long Apply took.
	Seconds float64 `json:"seconds"`
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
	if res.Identity == nil {
		res.Identity = final.identity
	}
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
		case stepPutBudget:
			err = c.putBudget(ctx, h, res)
		case stepDeleteBudget:
			err = c.deleteBudget(ctx, h, res)
		case stepCreateStorage:
			err = c.createStorage(ctx, h, res)
		case stepCreateContainer:
			err = c.createContainer(ctx, h, res)
		case stepPutLifecycle:
			err = c.putLifecycle(ctx, h, res)
		case stepCreateIdentity:
			err = c.createIdentity(ctx, h, res)
		case stepPutCredential:
			err = c.putCredential(ctx, h, res)
		case stepAssignRole:
			err = c.assignRole(ctx, h, res)
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
	case stepPutBudget:
		return "create or update budget " + BudgetName(p.hub)
	case stepDeleteBudget:
		return "delete budget " + BudgetName(p.hub)
	case stepCreateStorage:
		return "create storage account " + a.Storage.Scratch.AccountName
	case stepCreateContainer:
		return "create blob container " + render.ScratchContainer
	case stepPutLifecycle:
		return "write lifecycle rule " + lifecycleRule
	case stepCreateIdentity:
		return "create managed identity " + IdentityName(p.hub)
	case stepPutCredential:
		return "write federated credential " + credentialName
	case stepAssignRole:
		return "assign role Storage Blob Data Contributor on container " + render.ScratchContainer
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
