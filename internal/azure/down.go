package azure

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Identity and Account are set when the scratch container's identity
	// and storage account go one by one: the group stays (it is not
	// dhub's, or --keep-data keeps the account in it).
	Identity string `json:"identity,omitempty"`
	Account  string `json:"storageAccount,omitempty"`
	// Contents lists what is in the group that goes with it.
	Contents []string `json:"contents,omitempty"`
	// Kept says what stays and why.
	Kept []string `json:"kept,omitempty"`
	hub  *config.Hub
	// keptIDs are the resources --keep-data keeps: not left over.
	keptIDs []string
}

// Empty reports whether there is nothing to delete.
func (d *Deletion) Empty() bool {
	return d.Group == "" && d.Cluster == "" && d.Budget == "" && d.Identity == "" && d.Account == ""
}

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
// otherwise the managed cluster, the scratch container's identity and
// storage account, each only when dhub's tags say it is this hub's. A
// cluster without them is an error: dhub refuses to delete what it did not
// create. keepData keeps the scratch storage account (users' results), and
// so its group.
func (c *Client) PlanDown(ctx context.Context, h *config.Hub, keepData bool) (*Deletion, error) {
	if h.Azure.Storage.Scratch.AccountName == "" {
		// The scratch container is off in dhub.yaml: the account it had
		// when on is looked for by its default name.
		hc := *h
		hc.Azure.Storage.Scratch.AccountName = config.DefaultStorageAccount(h)
		h = &hc
	}
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

	account, identity, err := c.scratchParts(ctx, h)
	if err != nil {
		return nil, err
	}
	if keepData && account != "" {
		d.Kept = append(d.Kept, fmt.Sprintf("%s %s: holds users' results in its scratch container; kept with --keep-data, and so is %s (run 'dhub down' without --keep-data to delete them)",
			KindStorage, account, groupName))
		d.keptIDs = append(d.keptIDs, storageID(c.o.Subscription, a.ResourceGroup, account), "/subscriptions/"+c.o.Subscription+"/resourceGroups/"+a.ResourceGroup)
		d.Identity = identity
		if cluster != "" {
			d.Cluster = cluster
		}
		return d, nil
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
	d.Identity, d.Account = identity, account
	return d, nil
}

// storageID is a storage account's resource ID.
func storageID(subscription, group, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s", subscription, group, name)
}

// scratchParts returns the names of the scratch container's storage
// account and identity that exist and are this hub's ("" for one that
// is not there). Those of a dhub.yaml with the scratch container off are
// looked for too (PlanDown names the account): turning it off leaves them
// for down.
func (c *Client) scratchParts(ctx context.Context, h *config.Hub) (account, identity string, err error) {
	a := h.Azure
	name := a.Storage.Scratch.AccountName
	acct, err := c.accounts.GetProperties(ctx, a.ResourceGroup, name, nil)
	switch {
	case isNotFound(err):
	case err != nil:
		return "", "", explain(err, KindStorage+" "+name, a.Location)
	case owned(acct.Tags, h.Name) == nil:
		account = name
	}
	id, err := c.identities.Get(ctx, a.ResourceGroup, IdentityName(h), nil)
	switch {
	case isNotFound(err):
	case err != nil:
		return "", "", explain(err, KindIdentity+" "+IdentityName(h), a.Location)
	case owned(id.Tags, h.Name) == nil:
		identity = IdentityName(h)
	}
	return account, identity, nil
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
	if err := c.deleteScratchParts(ctx, d, res); err != nil {
		return res, err
	}
	left, err := c.Remaining(ctx, d.hub)
	left = slices.DeleteFunc(left, func(l Leftover) bool {
		return slices.ContainsFunc(d.keptIDs, func(id string) bool { return strings.EqualFold(id, l.ID) })
	})
	res.Remaining = left
	res.Seconds = c.o.Now().Sub(start).Seconds()
	return res, errors.Join(budgetErr, err)
}

// deleteScratchParts deletes the scratch container's identity (its role
// on a kept container first, which Azure would otherwise keep for a
// principal that is gone) and storage account, when d says so; neither is
// a long-running operation.
func (c *Client) deleteScratchParts(ctx context.Context, d *Deletion, res *DownResult) error {
	h := d.hub
	a := h.Azure
	if d.Identity != "" {
		if d.Account == "" && len(d.keptIDs) > 0 {
			name := c.assignmentName(h)
			if _, err := c.assignments.Delete(ctx, c.containerScope(h), name, nil); err != nil && !isNotFound(err) {
				return explain(err, KindRole+" "+name, a.Location)
			}
			res.Deleted = append(res.Deleted, KindRole+" "+name)
		}
		if _, err := c.identities.Delete(ctx, a.ResourceGroup, d.Identity, nil); err != nil && !isNotFound(err) {
			return explain(err, KindIdentity+" "+d.Identity, a.Location)
		}
		res.Deleted = append(res.Deleted, KindIdentity+" "+d.Identity)
	}
	if d.Account != "" {
		if _, err := c.accounts.Delete(ctx, a.ResourceGroup, d.Account, nil); err != nil && !isNotFound(err) {
			return explain(err, KindStorage+" "+d.Account, a.Location)
		}
		res.Deleted = append(res.Deleted, KindStorage+" "+d.Account)
	}
	return nil
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
