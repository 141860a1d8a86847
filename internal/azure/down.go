package azure

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"dhub/internal/config"
)

// Deletion is what Down will delete, computed with reads only.
type Deletion struct {
	// Group is set when the whole resource group goes: dhub created it
	// for this hub and everything in it is dhub's.
	Group string `json:"resourceGroup,omitempty"`
	// Cluster is set when only the managed cluster goes.
	Cluster string `json:"cluster,omitempty"`
	// Budget is set when the hub's budget goes: dhub made it (budgets
	// live in the subscription, so the group's deletion leaves them).
	Budget string `json:"budget,omitempty"`
	// Contents lists what is in the group that goes with it.
	Contents []string `json:"contents,omitempty"`
	// Kept says what stays and why.
	Kept []string `json:"kept,omitempty"`
	hub  *config.Hub
}

// Empty reports whether there is nothing to delete.
func (d *Deletion) Empty() bool { return d.Group == "" && d.Cluster == "" && d.Budget == "" }

// Leftover is a resource still tagged with the hub's name after Down.
type Leftover struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// DownResult is what Down did and what is left.
type DownResult struct {
	Deleted   []string   `json:"deleted"`
	Remaining []Leftover `json:"remaining"`
	Seconds   float64    `json:"seconds"`
}

// PlanDown reads what exists and decides what Down deletes: the resource
// group when dhub created it for this hub and it holds nothing else;
// otherwise only the managed cluster, and only when dhub's tags say it is
// this hub's. A cluster without them is an error: dhub refuses to delete
// what it did not create.
func (c *Client) PlanDown(ctx context.Context, h *config.Hub) (*Deletion, error) {
	a := h.Azure
	d := &Deletion{hub: h}
	d.planBudget(ctx, c)
	groupName := KindGroup + " " + a.ResourceGroup
	clusterName := KindCluster + " " + a.ClusterName
	g, err := c.groups.Get(ctx, a.ResourceGroup, nil)
	if isNotFound(err) {
		d.Kept = append(d.Kept, groupName+" does not exist")
		return d, nil
	}
	if err != nil {
		return nil, explain(err, groupName, a.Location)
	}
	ourGroup := deref(g.Tags[TagCreatedGroup]) == "true" && deref(g.Tags[TagHub]) == h.Name

	var cluster string
	mc, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, explain(err, clusterName, a.Location)
	default:
		if err := owned(mc.Tags, h.Name); err != nil {
			return nil, fmt.Errorf("%s %v: dhub deletes only what it created, so it will not delete it (nor resource group %s)", clusterName, err, a.ResourceGroup)
		}
		cluster = a.ClusterName
	}

	if ourGroup {
		var foreign []string
		pager := c.resources.NewListByResourceGroupPager(a.ResourceGroup, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, explain(err, groupName, a.Location)
			}
			for _, r := range page.Value {
				desc := fmt.Sprintf("%s %s", deref(r.Type), deref(r.Name))
				if owned(r.Tags, h.Name) == nil {
					d.Contents = append(d.Contents, desc)
				} else {
					foreign = append(foreign, desc)
				}
			}
		}
		if len(foreign) == 0 {
			d.Group = a.ResourceGroup
			return d, nil
		}
		sort.Strings(foreign)
		d.Contents = nil
		d.Kept = append(d.Kept, fmt.Sprintf("%s: created by dhub, but it also holds what dhub did not create (%s); delete it yourself once it is empty",
			groupName, strings.Join(foreign, ", ")))
	} else {
		d.Kept = append(d.Kept, groupName+": not created by dhub for this hub")
	}
	if cluster != "" {
		d.Cluster = cluster
	} else {
		d.Kept = append(d.Kept, clusterName+" does not exist")
	}
	return d, nil
}

// planBudget adds the hub's budget to d when dhub made it, or says in
// Kept why it stays.
func (d *Deletion) planBudget(ctx context.Context, c *Client) {
	name := KindBudget + " " + BudgetName(d.hub)
	b, err := c.readBudget(ctx, d.hub)
	if err != nil {
		if d.hub.Azure.Budget != nil {
			d.Kept = append(d.Kept, fmt.Sprintf("%s: could not be read (%v); delete it yourself in the Azure portal if it exists", name, err))
		}
		return
	}
	if b == nil {
		return
	}
	if err := ownBudget(b, d.hub); err != nil {
		d.Kept = append(d.Kept, fmt.Sprintf("%s: %v, so dhub did not make it", name, err))
		return
	}
	d.Budget = BudgetName(d.hub)
}

// Down deletes what d says, waiting for each deletion, then lists the
// resource groups and resources still tagged with the hub's name (expected:
// none). The budget goes first; if Azure refuses, the rest still goes and
// the refusal is the error.
func (c *Client) Down(ctx context.Context, d *Deletion) (*DownResult, error) {
	start := c.o.Now()
	a := d.hub.Azure
	res := &DownResult{Deleted: []string{}}
	var budgetErr error
	if d.Budget != "" {
		_, err := c.budgets.Delete(ctx, c.budgetScope(), d.Budget, nil)
		switch {
		case err == nil || isNotFound(err):
			res.Deleted = append(res.Deleted, KindBudget+" "+d.Budget)
		case ctx.Err() != nil:
			return res, err
		default:
			budgetErr = c.budgetError(err, d.hub)
		}
	}
	var resource string
	var deleteAndWait func() error
	switch {
	case d.Group != "":
		resource = KindGroup + " " + d.Group
		deleteAndWait = func() error {
			poller, err := c.groups.BeginDelete(ctx, d.Group, nil)
			if err != nil {
				return err
			}
			_, err = waitLRO(ctx, c, poller, resource, "delete")
			return err
		}
	case d.Cluster != "":
		resource = KindCluster + " " + d.Cluster
		deleteAndWait = func() error {
			poller, err := c.clusters.BeginDelete(ctx, a.ResourceGroup, d.Cluster, nil)
			if err != nil {
				return err
			}
			_, err = waitLRO(ctx, c, poller, resource, "delete")
			return err
		}
	}
	if deleteAndWait != nil {
		if err := c.retryBusy(ctx, resource, deleteAndWait); err != nil && !isNotFound(err) {
			return res, explain(err, resource, a.Location)
		}
		res.Deleted = append(res.Deleted, resource)
	}
	left, err := c.Remaining(ctx, d.hub)
	res.Remaining = left
	res.Seconds = c.o.Now().Sub(start).Seconds()
	return res, errors.Join(budgetErr, err)
}

// Remaining lists the resource groups and resources of the subscription
// tagged with hub h's name.
func (c *Client) Remaining(ctx context.Context, h *config.Hub) ([]Leftover, error) {
	filter := fmt.Sprintf("tagName eq '%s' and tagValue eq '%s'", TagHub, h.Name)
	left := []Leftover{}
	gp := c.groups.NewListPager(&armresources.ResourceGroupsClientListOptions{Filter: to.Ptr(filter)})
	for gp.More() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return left, explain(err, "resource groups tagged "+TagHub+"="+h.Name, h.Azure.Location)
		}
		for _, g := range page.Value {
			left = append(left, Leftover{ID: deref(g.ID), Type: deref(g.Type)})
		}
	}
	rp := c.resources.NewListPager(&armresources.ClientListOptions{Filter: to.Ptr(filter)})
	for rp.More() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return left, explain(err, "resources tagged "+TagHub+"="+h.Name, h.Azure.Location)
		}
		for _, r := range page.Value {
			left = append(left, Leftover{ID: deref(r.ID), Type: deref(r.Type)})
		}
	}
	return left, nil
}
