package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"dhub/internal/azure"
	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/plan"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// azureTarget makes the AKS cluster and its node pools, then installs the
// hub on it as the kubernetes target does, with the kubeconfig it fetched
// (kept in memory).
type azureTarget struct {
	h      *config.Hub
	o      Options
	client *azure.Client
}

func newAzure(h *config.Hub, o Options) (*azureTarget, error) {
	opts := defaultAzureOptions
	if o.Azure != nil {
		opts = o.Azure
	}
	ao, err := opts(h)
	if err != nil {
		return nil, err
	}
	if ao.Progress == nil {
		ao.Progress = o.Progress
	}
	c, err := azure.New(ao)
	if err != nil {
		return nil, err
	}
	return &azureTarget{h: h, o: o, client: c}, nil
}

// defaultAzureOptions are DefaultAzureCredential and the subscription from
// dhub.yaml, AZURE_SUBSCRIPTION_ID or the az CLI default.
func defaultAzureOptions(h *config.Hub) (azure.Options, error) {
	sub, _, err := azure.ResolveSubscription(h.Azure.Subscription, os.Getenv)
	if err != nil {
		return azure.Options{}, err
	}
	return azure.DefaultOptions(sub)
}

// explain adds Azure's full answer to its one-sentence error with Debug,
// or says how to see it.
func (t *azureTarget) explain(err error) error {
	var ae *azure.Error
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	if t.o.Debug {
		return fmt.Errorf("%w\n\nfull Azure error:\n%s", err, ae.Detail())
	}
	return fmt.Errorf("%w (run with --debug for Azure's full answer)", err)
}

// cluster is the kubernetes target on the AKS cluster.
func (t *azureTarget) cluster(ctx context.Context) (*kubeTarget, error) {
	kc, err := t.client.Kubeconfig(ctx, t.h)
	if err != nil {
		return nil, t.explain(err)
	}
	onCluster := &kubeTarget{h: t.h, o: t.o, src: kube.Source{Kubeconfig: kc}}
	if _, err := onCluster.client(); err != nil {
		return nil, err
	}
	return onCluster, nil
}

// Plan is the Azure plan followed by the hub's: planned on the cluster when
// it runs, all to install when the cluster is new, and planned once the
// cluster is ready when an operation on it is still running.
func (t *azureTarget) Plan(ctx context.Context) (*Plan[*UpResult], error) {
	ap, err := t.client.Plan(ctx, t.h)
	if err != nil {
		return nil, t.explain(err)
	}
	// Without a clientId, dhub manages the hub's application: the hub is
	// planned with its ids (none yet when up creates it). So with the
	// scratch container's identity.
	hubCfg := withIdentity(t.h, ap.Identity())
	var app *azure.AppPlan
	if azure.Managed(t.h) {
		if app, err = t.client.PlanApp(ctx, t.h); err != nil {
			return nil, err
		}
		hubCfg = withApp(hubCfg, app.TenantID, app.ClientID, nil)
	}
	view := *ap.View
	view.Changes = append([]plan.Change(nil), ap.View.Changes...)
	var hub *kube.Plan
	var onCluster *kubeTarget
	switch state := ap.ClusterState(); {
	case ap.Stopped():
		view.Add(plan.Change{Kind: "helm releases", Name: "of hub " + t.h.Name, Action: plan.Update,
			Reason: fmt.Sprintf("planned once managed cluster %s runs (it is stopped: up starts it first)", t.h.Azure.ClusterName)})
	case state == "":
		if hub, err = kube.PlanNew(hubCfg); err != nil {
			return nil, err
		}
	case state == "Succeeded":
		if onCluster, err = t.cluster(ctx); err != nil {
			return nil, err
		}
		if hub, err = onCluster.c.Plan(ctx, hubCfg); err != nil {
			return nil, err
		}
	default:
		view.Add(plan.Change{Kind: "helm releases", Name: "of hub " + t.h.Name, Action: plan.Update,
			Reason: fmt.Sprintf("planned once managed cluster %s is ready (it is %s)", t.h.Azure.ClusterName, state)})
	}
	if app != nil {
		if hub != nil && slices.Contains(hub.MissingSecretKeys(), render.AzureADSecretKey) {
			app.NeedsSecret("the cluster's Secret " + render.AuthSecretName + " has no client secret of it")
		}
		// Before the hub's changes, which use it.
		at := len(ap.View.Changes)
		view.Changes = slices.Insert(view.Changes, at, app.Change)
	}
	if hub != nil {
		view.Changes = append(view.Changes, hub.View.Changes...)
		view.Warnings = append(view.Warnings, hub.View.Warnings...)
	}
	p := &Plan[*UpResult]{View: &view, apply: func(ctx context.Context) (*UpResult, error) {
		return t.apply(ctx, ap, app, &view, hub, onCluster)
	}}
	// Only changes to Azure resources are confirmed; Helm upgrades are not.
	if ap.View.HasChanges() || (app != nil && app.Change.Action != plan.NoOp) {
		p.Confirm = "Apply these changes to Azure?"
	}
	return p, nil
}

// apply makes Azure match, then applies the hub's plan on the cluster (or
// plans it there first, when the cluster was not ready to plan on).
func (t *azureTarget) apply(ctx context.Context, ap *azure.Plan, app *azure.AppPlan, view *plan.Plan, hub *kube.Plan, onCluster *kubeTarget) (*UpResult, error) {
	res, err := t.client.Apply(ctx, ap)
	if err != nil {
		return nil, t.explain(err)
	}
	hubCfg := withIdentity(t.h, res.Identity)
	if ap.Identity() == nil && res.Identity != nil {
		// The hub was planned without the identity, which Azure has now.
		hub = nil
	}
	if app != nil {
		created := app.ClientID == ""
		ar, err := t.client.ApplyApp(ctx, app)
		if err != nil {
			return nil, err
		}
		hubCfg = withApp(hubCfg, ar.TenantID, ar.ClientID, ar.Secret)
		switch {
		case created:
			hub = nil // planned again below, with the new application's ids
		case ar.Secret != nil && hub != nil:
			hub.SetSecret(render.AzureADSecretKey, ar.Secret)
		}
	}
	if len(res.NotApplied) > 0 {
		var names []string
		for _, ch := range res.NotApplied {
			names = append(names, ch.Kind+" "+ch.Name)
		}
		return nil, fmt.Errorf("not applied: %s must be replaced, which AKS cannot do in place and dhub never does by itself (the plan above says how)", strings.Join(names, ", "))
	}
	if onCluster == nil {
		if onCluster, err = t.cluster(ctx); err != nil {
			return nil, err
		}
	}
	if hub == nil {
		if hub, err = onCluster.c.Plan(ctx, hubCfg); err != nil {
			return nil, err
		}
		fmt.Fprintln(t.o.Progress, "the hub's plan on the ready cluster:")
		if err := hub.View.WriteText(t.o.Progress); err != nil {
			return nil, err
		}
	}
	r, err := onCluster.apply(ctx, hub)
	if err != nil {
		return nil, err
	}
	if app != nil {
		// The hub runs with the new client secret: the old ones go.
		if err := t.client.RetireSecrets(ctx, app); err != nil {
			return nil, err
		}
	}
	r.Azure, r.Changed = res, r.Changed || res.Writes() > 0
	r.Plan = view
	for _, w := range res.Warnings {
		r.before = append(r.before, "warning: "+w)
	}
	a := t.h.Azure
	if res.Writes() == 0 && len(res.Operations) == 0 {
		r.before = append(r.before, "Azure already matches dhub.yaml: no change made.")
	} else {
		r.before = append(r.before, fmt.Sprintf("Azure matches dhub.yaml: resource group %s, managed cluster %s with %s (%d write(s), %d long-running operation(s), %.0fs).",
			a.ResourceGroup, a.ClusterName, plan.Count(len(a.NodePools), "node pool"), res.Writes(), res.LongRunning(), res.Seconds))
	}
	return r, nil
}

func (t *azureTarget) Status(ctx context.Context) (*Status, error) {
	st, err := t.client.Status(ctx, t.h)
	if err != nil {
		return nil, t.explain(err)
	}
	s := &Status{Hub: t.h.Name, Target: string(t.h.Target), Azure: st}
	if azure.Managed(t.h) {
		if s.Application, err = t.client.App(ctx, t.h); err != nil {
			return nil, err
		}
	}
	if !st.Ready() {
		return s, nil
	}
	onCluster, err := t.cluster(ctx)
	if err != nil {
		return nil, err
	}
	hub, err := onCluster.c.GetStatus(ctx, t.h)
	if err != nil {
		return nil, err
	}
	s.Kubernetes, s.Up, s.URL = hub, hub.Up, hub.URL
	return s, nil
}

// withApp is h with the ids of the application dhub manages and, when up
// just made one, its client secret (in memory only).
func withApp(h *config.Hub, tenant, client string, secret []byte) *config.Hub {
	c := *h
	c.JupyterHub.Auth.AzureAD = new(*h.JupyterHub.Auth.AzureAD)
	ad := c.JupyterHub.Auth.AzureAD
	ad.TenantID, ad.ClientID = tenant, client
	if secret != nil {
		ad.ClientSecret = config.InMemory(secret)
	}
	return &c
}

// withIdentity is h with the scratch container's workload identity, which
// its pods present their token for; h itself when id is nil.
func withIdentity(h *config.Hub, id *config.WorkloadIdentity) *config.Hub {
	if id == nil {
		return h
	}
	c := *h
	c.Azure.Storage.Scratch.Identity = id
	return &c
}

func (t *azureTarget) Smoke(ctx context.Context, o smoke.Options) (*smoke.Result, error) {
	onCluster, err := t.cluster(ctx)
	if err != nil {
		return nil, err
	}
	return onCluster.Smoke(ctx, o)
}

// PlanDown deletes the resource group when dhub created it for this hub
// and it holds nothing else, else the managed cluster (the hub and users'
// volumes go with it) and the scratch container's identity and storage
// account; o.KeepData keeps the account and its group.
func (t *azureTarget) PlanDown(ctx context.Context, o DownOptions) (*Plan[*DownResult], error) {
	d, err := t.client.PlanDown(ctx, t.h, o.KeepData)
	if err != nil {
		return nil, t.explain(err)
	}
	view := &plan.Plan{Hub: t.h.Name, Target: string(t.h.Target), Removal: true}
	switch {
	case d.Group != "":
		view.Add(plan.Change{Kind: azure.KindGroup, Name: d.Group, Action: plan.Delete,
			Reason: fmt.Sprintf("created by dhub for hub %s; everything in it goes, users' home volumes and the cluster's node resource group too", t.h.Name),
			Detail: strings.Join(d.Contents, "\n")})
	case d.Cluster != "":
		view.Add(plan.Change{Kind: azure.KindCluster, Name: d.Cluster, Action: plan.Delete,
			Reason: fmt.Sprintf("in resource group %s; users' home volumes go with it", t.h.Azure.ResourceGroup)})
	}
	if d.Identity != "" {
		view.Add(plan.Change{Kind: azure.KindIdentity, Name: d.Identity, Action: plan.Delete,
			Reason: "made by dhub for this hub's scratch container; its federated credential goes with it"})
	}
	if d.Account != "" {
		view.Add(plan.Change{Kind: azure.KindStorage, Name: d.Account, Action: plan.Delete,
			Reason: "made by dhub for this hub's scratch container; users' results in it go with it ('dhub down --keep-data' keeps it)"})
	}
	if d.Budget != "" {
		view.Add(plan.Change{Kind: azure.KindBudget, Name: d.Budget, Action: plan.Delete,
			Reason: fmt.Sprintf("made by dhub for this hub (it counts resource group %s); budgets live in the subscription, so the group's deletion would leave it", t.h.Azure.ResourceGroup)})
	}
	var app *azure.AppStatus
	if azure.Managed(t.h) {
		if app, err = t.client.App(ctx, t.h); err != nil {
			return nil, err
		}
		if app.Exists {
			view.Add(plan.Change{Kind: azure.KindApp, Name: fmt.Sprintf("%s (%s)", app.Name, app.ClientID), Action: plan.Delete,
				Reason: "registered by dhub for this hub (its tags say so); its service principal and client secrets go with it"})
		}
	}
	for _, k := range d.Kept {
		view.Add(plan.Change{Kind: "kept", Name: k, Action: plan.NoOp})
	}
	p := &Plan[*DownResult]{View: view, apply: func(ctx context.Context) (*DownResult, error) {
		res, err := t.client.Down(ctx, d)
		if err != nil {
			return nil, t.explain(err)
		}
		r := &DownResult{Hub: t.h.Name, Target: string(t.h.Target), Azure: res}
		if app != nil && app.Exists {
			gone, err := t.client.DeleteApp(ctx, t.h)
			if err != nil {
				return r, err
			}
			if gone != "" {
				r.lines = append(r.lines, "deleted "+gone)
			}
		}
		for _, x := range res.Deleted {
			r.lines = append(r.lines, "deleted "+x)
		}
		if len(res.Remaining) > 0 {
			var ids []string
			for _, l := range res.Remaining {
				ids = append(ids, "\n  "+l.ID)
			}
			return r, fmt.Errorf("%d resource(s) tagged %s=%s remain:%s", len(res.Remaining), azure.TagHub, t.h.Name, strings.Join(ids, ""))
		}
		r.lines = append(r.lines, fmt.Sprintf("nothing tagged %s=%s is left in the subscription", azure.TagHub, t.h.Name))
		return r, nil
	}}
	if !d.Empty() || (app != nil && app.Exists) {
		p.Confirm = "Delete?"
	}
	return p, nil
}

func (t *azureTarget) Kubeconfig(ctx context.Context) ([]byte, error) {
	kc, err := t.client.Kubeconfig(ctx, t.h)
	return kc, t.explain(err)
}
