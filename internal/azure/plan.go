package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// The kinds of resource in a plan.
const (
	KindGroup   = "resource group"
	KindCluster = "managed cluster"
	KindPool    = "node pool"
)

// Plan is what Apply will do: the typed view shown to the user and the
// steps behind it. It is computed with reads only.
type Plan struct {
	// View is the plan as the user sees it (text or JSON).
	View  *plan.Plan
	hub   *config.Hub
	steps []step
	// clusterState is the managed cluster's provisioningState when it
	// exists and is not being deleted, else "".
	clusterState string
	// PreflightGets counts the GETs the preflight checks sent.
	PreflightGets int
	stopped       bool
	// replacing are the pools the plan creates to replace Spot pools, for
	// the quota they take while both pools exist.
	replacing []poolGrowth
	// notApplied are the replaces the plan shows but never attempts.
	notApplied []plan.Change
	// identity is the scratch container's workload identity when it
	// exists already.
	identity *config.WorkloadIdentity
}

// Identity is the workload identity of the hub's scratch container when
// Azure has it already; nil when up creates it (or the hub has none).
func (p *Plan) Identity() *config.WorkloadIdentity { return p.identity }

// Stopped reports whether the plan found the cluster stopped (its
// control plane is not there to plan the hub on; up starts it first).
func (p *Plan) Stopped() bool { return p.stopped }

// stopped reports whether a cluster's powerState is Stopped.
func stopped(props *armcontainerservice.ManagedClusterProperties) bool {
	return props != nil && props.PowerState != nil && deref(props.PowerState.Code) == armcontainerservice.CodeStopped
}

// ClusterState is the managed cluster's provisioningState (Succeeded,
// Creating, Failed...) as Plan found it, or "" when there is none to use:
// it does not exist or is being deleted.
func (p *Plan) ClusterState() string { return p.clusterState }

type stepKind int

const (
	stepWaitGroupGone stepKind = iota // a group being deleted: wait until it is gone
	stepCreateGroup
	stepWaitCluster // an operation dhub did not start is running: wait, then plan again
	stepCreateCluster
	stepUpdateCluster // read, change the cluster-level fields, write back
	stepPutPool       // create or update one pool through the agent pools API
	stepDeletePool
	stepRegisterProvider // register a resource provider and wait until it is Registered
	stepStartCluster     // start a stopped cluster
	stepUpgradeCluster   // upgrade the control plane to version
	stepUpgradePool      // upgrade a pool's nodes to version
	stepReplacePool      // create pool with the settings of pool from, at version
	stepPutBudget        // create or update the hub's budget (a refusal is a warning)
	stepDeleteBudget     // delete the hub's budget (a refusal is a warning)
	stepCreateStorage    // create or update the scratch storage account
	stepCreateContainer  // create the scratch container
	stepPutLifecycle     // write the retention rule into the account's policy
	stepCreateIdentity   // create the workload identity
	stepPutCredential    // make the identity trust the users' service account
	stepAssignRole       // give the identity its role on the scratch container
)

type step struct {
	kind stepKind
	// pool is the pool's name in Azure for pool steps, the namespace for
	// a provider's registration.
	pool string
	// cfg is the pool's name in dhub.yaml (pool steps that write its
	// configuration).
	cfg string
	// create is true when stepPutPool creates the pool.
	create bool
	// version is the Kubernetes version of an upgrade step.
	version string
	// from is the Spot pool a new pool replaces.
	from string
	// after is the pool a delete waits for first: the replacement that
	// must be ready before the pool it replaces goes.
	after string
	// label, when set, is shown on Progress as the step starts.
	label string
}

// terminal reports whether a provisioningState is final: no operation runs.
func terminal(state string) bool {
	switch strings.ToLower(state) {
	case "succeeded", "failed", "canceled", "cancelled", "":
		return true
	}
	return false
}

// Plan reads the resource group and the managed cluster (its node pools come
// with it) and compares them with h. Two GETs, then a preflight of GETs
// only: the DNS label always; when the plan changes Azure, the resource
// providers, the VM sizes of the pools it creates, the vCPU quota of the
// nodes it adds and the Kubernetes version asked for. A preflight problem
// is a *PreflightError, before anything is written. Pools without a VM
// size get one here (the plan shows which). A new azure.kubernetesVersion
// is planned as an upgrade, one step per write (see upgrade).
func (c *Client) Plan(ctx context.Context, h *config.Hub) (*Plan, error) {
	// The plan's own copy: a VM size it picks must not leak into h.
	hub := *h
	hub.Azure.NodePools = slices.Clone(h.Azure.NodePools)
	h = &hub
	a := h.Azure
	p := &Plan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target)}, hub: h}
	groupName := KindGroup + " " + a.ResourceGroup
	clusterName := KindCluster + " " + a.ClusterName

	var group *armresources.ResourceGroup
	gr, err := c.groups.Get(ctx, a.ResourceGroup, nil)
	switch {
	case isNotFound(err):
	case err != nil:
		return nil, explain(err, groupName, a.Location)
	default:
		group = &gr.ResourceGroup
	}
	var cluster *armcontainerservice.ManagedCluster
	if group != nil && (group.Properties == nil || deref(group.Properties.ProvisioningState) != "Deleting") {
		cr, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return nil, explain(err, clusterName, a.Location)
		default:
			cluster = &cr.ManagedCluster
		}
	}
	if cluster != nil {
		if err := owned(cluster.Tags, h.Name); err != nil {
			return nil, fmt.Errorf("%s in resource group %s exists but %v: dhub will not change it; choose another azure.clusterName, or tag it %s=true and %s=%s to let dhub manage it",
				clusterName, a.ResourceGroup, err, TagManaged, TagHub, h.Name)
		}
		if cluster.Properties == nil {
			cluster.Properties = &armcontainerservice.ManagedClusterProperties{}
		}
	}
	match := matchPools(h, cluster)
	pf := &preflight{c: c, h: h, view: p.View}
	if err := pf.pickSizes(ctx, observedSizes(match)); err != nil {
		return nil, err
	}
	if err := pf.err(); err != nil {
		return nil, err
	}
	// The prices are read while the plan reads Azure; cancelled if the
	// plan fails.
	var costs func() []*plan.Cost
	if c.o.Prices != nil {
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		hubs := []*config.Hub{h}
		if cluster != nil && deref(cluster.Properties.ProvisioningState) != "Deleting" {
			// What the hub costs now, to warn when the plan raises its most.
			hubs = append(hubs, runningHub(h, cluster, match))
		}
		costs = c.estimate(ectx, clusterTier(cluster), hubs...)
	}

	p.planGroup(group)
	switch {
	case cluster != nil && deref(cluster.Properties.ProvisioningState) == "Deleting":
		// An earlier 'down' is deleting it: wait until it is gone, then
		// plan again (which creates it anew).
		p.steps = append(p.steps, step{kind: stepWaitCluster})
		p.planNewCluster("being deleted (an earlier 'dhub down'): up waits until it is gone, then creates it")
		cluster = nil
	case cluster == nil:
		p.planNewCluster("does not exist")
	default:
		p.clusterState = deref(cluster.Properties.ProvisioningState)
		up, err := p.upgrade(ctx, pf, cluster, match)
		if err != nil {
			return nil, err
		}
		p.planCluster(cluster, slices.ContainsFunc(up, func(s upgradeStep) bool { return s.pool == "" }))
		p.addUpgrade(up)
		p.planPools(match, up)
	}
	p.planBudget(ctx, c, cluster)
	groupExists := group != nil && (group.Properties == nil || deref(group.Properties.ProvisioningState) != "Deleting")
	if err := p.planScratch(ctx, c, groupExists, cluster); err != nil {
		return nil, err
	}
	if err := p.preflight(ctx, pf, cluster); err != nil {
		return nil, err
	}
	p.PreflightGets = pf.gets
	if costs != nil {
		got := costs()
		p.View.Cost = got[0]
		if len(got) > 1 {
			if w := costRise(got[1], p.View.Cost); w != "" {
				p.View.Warnings = append(p.View.Warnings, w)
			}
		}
	}
	switch bound, warn := daskBound(h); {
	case warn:
		p.View.Warnings = append(p.View.Warnings, bound)
	case bound != "" && p.View.Cost != nil && p.View.Cost.Unknown == "":
		p.View.Cost.Bounds = append(p.View.Cost.Bounds, bound)
	}
	return p, nil
}

// observedSizes maps each pool of dhub.yaml found in the cluster to its
// VM size.
func observedSizes(m poolMatch) map[string]string {
	out := map[string]string{}
	for name, o := range m.byConfig {
		out[name] = deref(o.props.VMSize)
	}
	return out
}

// preflight runs the checks of the plan's writes and puts the provider
// registrations it needs first.
func (p *Plan) preflight(ctx context.Context, pf *preflight, cluster *armcontainerservice.ManagedCluster) error {
	if err := pf.dnsLabel(ctx, cluster); err != nil {
		return err
	}
	if p.View.HasChanges() && !p.waitsFirst() {
		changes, steps, err := pf.providers(ctx)
		if err != nil {
			return err
		}
		p.View.Changes = append(changes, p.View.Changes...)
		p.steps = append(steps, p.steps...)
		grow := append(p.growth(matchPools(p.hub, cluster)), p.replacing...)
		var created []growth
		for _, g := range grow {
			if g.created {
				created = append(created, g.growth)
			}
		}
		if err := pf.sizes(ctx, created); err != nil {
			return err
		}
		var all []growth
		for _, g := range grow {
			all = append(all, g.growth)
		}
		if err := pf.quota(ctx, all); err != nil {
			return err
		}
		if p.hub.Azure.KubernetesVersion != "" && (cluster == nil || p.changesVersion()) {
			if err := pf.version(ctx); err != nil {
				return err
			}
		}
	}
	return pf.err()
}

// waitsFirst reports whether the plan starts by waiting for an operation
// dhub did not start: the plan made after the wait runs the preflight.
func (p *Plan) waitsFirst() bool {
	return len(p.steps) > 0 && p.steps[0].kind == stepWaitCluster
}

// changesVersion reports whether the plan changes the Kubernetes version.
func (p *Plan) changesVersion() bool {
	for _, ch := range p.View.Changes {
		for _, f := range ch.Fields {
			if f.Field == "kubernetesVersion" || f.Field == "orchestratorVersion" {
				return true
			}
		}
	}
	return false
}

// poolGrowth is what the plan adds to one pool, and whether it creates it.
type poolGrowth struct {
	growth
	created bool
}

// growth lists, for each pool the plan creates or grows, the nodes it adds
// now and at the autoscale maximum.
func (p *Plan) growth(m poolMatch) []poolGrowth {
	var out []poolGrowth
	for _, np := range p.hub.Azure.NodePools {
		want := desiredPool(p.hub, np)
		now, top := int(deref(want.Count)), int(deref(want.Count))
		if deref(want.EnableAutoScaling) {
			top = int(deref(want.MaxCount))
		}
		g := poolGrowth{growth: growth{pool: np.Name, size: np.VMSize, spot: np.Spot != nil, now: now, atMax: top}}
		if o := m.byConfig[np.Name]; o != nil {
			got := o.props
			if !strings.EqualFold(deref(got.VMSize), np.VMSize) || isSpot(got) != (np.Spot != nil) {
				continue // a replace, which up never does
			}
			running := int(deref(got.Count))
			g.now, g.atMax = max(0, g.now-running), max(0, g.atMax-running)
			if deref(want.EnableAutoScaling) {
				g.now = max(0, int(deref(want.MinCount))-running)
			}
			if g.now == 0 && g.atMax == 0 {
				continue
			}
		} else {
			g.created = true
		}
		out = append(out, g)
	}
	return out
}

// owned returns nil when tags mark a resource dhub manages for hub, or
// what is wrong with them.
func owned(tags map[string]*string, hub string) error {
	if deref(tags[TagManaged]) != "true" {
		return fmt.Errorf("has no %s tag (dhub did not create it)", TagManaged)
	}
	if got := deref(tags[TagHub]); got != hub {
		return fmt.Errorf("belongs to hub %q, not %q (tag %s)", got, hub, TagHub)
	}
	return nil
}

func (p *Plan) add(c plan.Change, steps ...step) {
	if c.Action == plan.Replace && len(steps) == 0 {
		p.notApplied = append(p.notApplied, c)
	}
	plan.SortFields(c.Fields)
	p.View.Add(c)
	p.steps = append(p.steps, steps...)
}

func (p *Plan) planGroup(g *armresources.ResourceGroup) {
	a := p.hub.Azure
	want := desiredGroup(p.hub)
	ch := plan.Change{Kind: KindGroup, Name: a.ResourceGroup}
	switch {
	case g == nil:
		ch.Action, ch.Reason = plan.Create, "does not exist"
		ch.Detail = fmt.Sprintf("location %s, tags %s", a.Location, joinMap(userLabels(want.Tags)))
		p.add(ch, step{kind: stepCreateGroup})
		return
	case g.Properties != nil && deref(g.Properties.ProvisioningState) == "Deleting":
		ch.Action, ch.Reason = plan.Create, "being deleted (an earlier 'dhub down'): up waits until it is gone, then creates it"
		p.add(ch, step{kind: stepWaitGroupGone}, step{kind: stepCreateGroup})
		return
	}
	ch.Action = plan.NoOp
	switch {
	case deref(g.Tags[TagCreatedGroup]) == "true" && deref(g.Tags[TagHub]) == p.hub.Name:
		ch.Reason = "exists, created by dhub for this hub"
	case deref(g.Tags[TagCreatedGroup]) == "true":
		ch.Reason = fmt.Sprintf("exists, created by dhub for hub %q: 'dhub down' keeps it", deref(g.Tags[TagHub]))
	default:
		ch.Reason = "exists, not created by dhub: used as it is, and 'dhub down' keeps it"
	}
	if loc := deref(g.Location); !strings.EqualFold(loc, a.Location) {
		p.View.Warnings = append(p.View.Warnings, fmt.Sprintf("resource group %s is in %s; the cluster goes to azure.location %s", a.ResourceGroup, loc, a.Location))
	}
	p.add(ch)
}

// planNewCluster plans a cluster created with all its pools; why says why
// it is created.
func (p *Plan) planNewCluster(why string) {
	a := p.hub.Azure
	want := desiredCluster(p.hub)
	version := a.KubernetesVersion
	if version == "" {
		version = "(AKS default)"
	}
	steps := []step{{kind: stepCreateCluster}}
	if len(p.steps) > 0 && p.steps[len(p.steps)-1].kind == stepWaitCluster {
		steps = nil // the plan made after the wait creates it
	}
	p.add(plan.Change{Kind: KindCluster, Name: a.ClusterName, Action: plan.Create,
		Reason: fmt.Sprintf("%s; created with its %s in one request", why, plan.Count(len(a.NodePools), "node pool")),
		Detail: fmt.Sprintf("location %s, Kubernetes version %s, network %s, identity SystemAssigned, DNS prefix %s%s",
			a.Location, version, describeNetwork(want.Properties.NetworkProfile), deref(want.Properties.DNSPrefix), workloadIdentityText(a)),
	}, steps...)
	for _, np := range a.NodePools {
		p.add(plan.Change{Kind: KindPool, Name: np.Name, Action: plan.Create,
			Reason: "created with the managed cluster, in the same request",
			Detail: describePool(desiredPool(p.hub, np))})
	}
}

// workloadIdentityText says that a new cluster has its OIDC issuer and
// workload identity on, for the scratch container.
func workloadIdentityText(a config.Azure) string {
	if a.Storage.Scratch.On() {
		return ", OIDC issuer and workload identity on"
	}
	return ""
}

func describeNetwork(np *armcontainerservice.NetworkProfile) string {
	if np == nil {
		return "AKS default"
	}
	s := string(deref(np.NetworkPlugin))
	if m := deref(np.NetworkPluginMode); m != "" {
		s += " " + string(m)
	}
	if d := deref(np.NetworkDataplane); d != "" {
		s += ", dataplane " + string(d)
	}
	pol := string(deref(np.NetworkPolicy))
	if pol == "" {
		pol = "none"
	}
	return s + ", policy " + pol
}

// versionMatches reports whether an AKS version satisfies the config's
// (which may leave out the patch: 1.33 matches 1.33.2).
func versionMatches(want, got string) bool {
	return got == want || strings.HasPrefix(got, want+".")
}

// planCluster plans the cluster's own change: a wait for an operation in
// progress, a start, a repair, or nothing; upgrading says that the plan
// upgrades its control plane (see upgrade), so that "matches" is not
// shown for it.
func (p *Plan) planCluster(mc *armcontainerservice.ManagedCluster, upgrading bool) {
	a := p.hub.Azure
	props := mc.Properties
	if props == nil {
		props = &armcontainerservice.ManagedClusterProperties{}
	}
	ch := plan.Change{Kind: KindCluster, Name: a.ClusterName}
	state := deref(props.ProvisioningState)
	if !terminal(state) {
		ch.Action = plan.Update
		ch.Reason = fmt.Sprintf("an operation is in progress (%s): up waits for it to finish, then converges", state)
		p.add(ch, step{kind: stepWaitCluster})
		return
	}
	var replace []string
	if loc := deref(mc.Location); !strings.EqualFold(loc, a.Location) {
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: "location", From: loc, To: a.Location})
		replace = append(replace, "a cluster cannot move to another region")
	}
	want := desiredNetwork(a.NetworkPolicy)
	got := props.NetworkProfile
	if got == nil {
		got = &armcontainerservice.NetworkProfile{}
	}
	gotPol := string(deref(got.NetworkPolicy))
	if gotPol == "" {
		gotPol = "none"
	}
	if gotPol != string(deref(want.NetworkPolicy)) {
		ch.Fields = append(ch.Fields, plan.FieldChange{Field: "networkProfile.networkPolicy", From: gotPol, To: string(deref(want.NetworkPolicy))})
		replace = append(replace, fmt.Sprintf("AKS does not switch a cluster's network policy in place; set azure.networkPolicy back to %s, or 'dhub down' and 'dhub up' to recreate the cluster", gotPol))
	}
	if len(replace) > 0 {
		ch.Action, ch.Reason = plan.Replace, strings.Join(replace, "; ")+" (not attempted by up)"
		p.add(ch)
		return
	}
	if stopped(props) {
		// A stopped cluster has no control plane to install the hub on,
		// and AKS refuses changes to it: start it first.
		p.stopped = true
		p.add(plan.Change{Kind: KindCluster, Name: a.ClusterName, Action: plan.Update,
			Reason: "stopped (powerState Stopped, as after 'az aks stop'): up starts it first, then installs the hub",
			Fields: []plan.FieldChange{{Field: "powerState", From: "Stopped", To: "Running"}}}, step{kind: stepStartCluster})
	}
	if a.Storage.Scratch.On() {
		oidc, wi := workloadIdentityOn(props)
		if !oidc {
			ch.Fields = append(ch.Fields, plan.FieldChange{Field: "oidcIssuerProfile.enabled", From: "false", To: "true"})
		}
		if !wi {
			ch.Fields = append(ch.Fields, plan.FieldChange{Field: "securityProfile.workloadIdentity.enabled", From: "false", To: "true"})
		}
	}
	switch {
	case strings.EqualFold(state, "Failed"):
		ch.Action, ch.Reason = plan.Update, "provisioningState Failed: up sends the cluster's configuration again (at the version it has) to repair it"
		p.add(ch, step{kind: stepUpdateCluster})
	case len(ch.Fields) > 0:
		ch.Action, ch.Reason = plan.Update, "the scratch container's workload identity needs the cluster's OIDC issuer and workload identity: AKS turns them on in place (the issuer stays on for good)"
		p.add(ch, step{kind: stepUpdateCluster})
	case !upgrading:
		ch.Action, ch.Reason = plan.NoOp, "matches dhub.yaml"
		p.add(ch)
	}
}

// planPools plans each pool's own change after the upgrade steps up: a
// create, an in-place update, a repair, a replace up never attempts, or
// nothing; then the deletion of the pools dhub created that dhub.yaml no
// longer has, and of what a Spot pool's interrupted replacement left.
func (p *Plan) planPools(m poolMatch, up []upgradeStep) {
	upgraded := map[string]bool{}     // pools of dhub.yaml with an upgrade step
	replacedBy := map[string]string{} // a replaced pool's name in dhub.yaml -> its last replacement
	for _, st := range up {
		switch {
		case st.spot:
			replacedBy[st.cfg] = st.newName
		case st.pool != "":
			upgraded[st.pool] = true
		}
	}
	for _, np := range p.hub.Azure.NodePools {
		want := desiredPool(p.hub, np)
		o := m.byConfig[np.Name]
		ch := plan.Change{Kind: KindPool, Name: np.Name}
		if o == nil {
			ch.Action, ch.Reason, ch.Detail = plan.Create, "does not exist; added through the agent pools API", describePool(want)
			p.add(ch, step{kind: stepPutPool, pool: np.Name, cfg: np.Name, create: true})
			continue
		}
		got := o.props
		ch.Name = o.name
		fields, replace := diffPool(want, got)
		ch.Fields = fields
		state := deref(got.ProvisioningState)
		newName, replaced := replacedBy[np.Name]
		switch {
		case len(replace) > 0:
			ch.Action = plan.Replace
			ch.Reason = strings.Join(replace, "; ") + fmt.Sprintf(": AKS cannot change it in place; not attempted by up. To replace the pool, give it a new name in dhub.yaml (up then creates the new pool and deletes %s)", o.name)
			p.add(ch)
		case replaced && len(fields) > 0:
			// The replacement has the old pool's settings: dhub.yaml's
			// changes go to it once it exists.
			ch.Name = newName
			ch.Action, ch.Reason = plan.Update, fmt.Sprintf("differs from dhub.yaml; changed in place once it replaces %s", o.name)
			p.add(ch, step{kind: stepPutPool, pool: newName, cfg: np.Name})
		case replaced:
			// Nothing left to do once it is replaced.
		case strings.EqualFold(state, "Failed"):
			ch.Action, ch.Reason = plan.Update, "provisioningState Failed: up sends its configuration again to repair it"
			p.add(ch, step{kind: stepPutPool, pool: o.name, cfg: np.Name})
		case len(fields) > 0:
			ch.Action, ch.Reason = plan.Update, "differs from dhub.yaml; changed in place"
			p.add(ch, step{kind: stepPutPool, pool: o.name, cfg: np.Name})
		case upgraded[o.name]:
			// Its upgrade steps above are its change.
		default:
			ch.Action, ch.Reason = plan.NoOp, "matches dhub.yaml"
			if !terminal(state) {
				ch.Reason += fmt.Sprintf(" (an operation is in progress: %s)", state)
			}
			p.add(ch)
		}
	}
	for _, o := range m.others {
		ch := plan.Change{Kind: KindPool, Name: o.name, Detail: describePool(o.props)}
		if owned(o.props.Tags, p.hub.Name) != nil {
			ch.Action, ch.Reason = plan.NoOp, "not in dhub.yaml, but dhub did not create it (no dhub tags): kept"
			p.add(ch)
			continue
		}
		ch.Action, ch.Reason = plan.Delete, "no longer in dhub.yaml"
		p.add(ch, step{kind: stepDeletePool, pool: o.name})
	}
	for _, l := range m.leftovers {
		ch := plan.Change{Kind: KindPool, Name: l.name, Detail: describePool(l.props)}
		if owned(l.props.Tags, p.hub.Name) != nil {
			ch.Action, ch.Reason = plan.NoOp, fmt.Sprintf("tagged as pool %s of dhub.yaml, but without dhub's other tags: kept", l.cfg)
			p.add(ch)
			continue
		}
		ch.Action = plan.Delete
		ch.Reason = fmt.Sprintf("left by the replacement of Spot pool %s for a Kubernetes upgrade (an earlier run stopped before deleting it); node pool %s is pool %s of dhub.yaml now", l.cfg, l.kept, l.cfg)
		p.add(ch, step{kind: stepDeletePool, pool: l.name, after: l.kept})
	}
}

// diffPool compares a pool's wanted and observed properties: fields AKS
// changes in place, and reasons the pool would have to be replaced.
func diffPool(want, got *armcontainerservice.ManagedClusterAgentPoolProfileProperties) (fields []plan.FieldChange, replace []string) {
	f := func(field, from, to string) {
		fields = append(fields, plan.FieldChange{Field: field, From: from, To: to})
	}
	if w, g := deref(want.VMSize), deref(got.VMSize); !strings.EqualFold(w, g) {
		f("vmSize", g, w)
		replace = append(replace, fmt.Sprintf("vmSize %s -> %s", g, w))
	}
	if w, g := isSpot(want), isSpot(got); w != g {
		f("scaleSetPriority", priority(got), priority(want))
		replace = append(replace, fmt.Sprintf("priority %s -> %s", priority(got), priority(want)))
	} else if w {
		if we, ge := deref(want.ScaleSetEvictionPolicy), deref(got.ScaleSetEvictionPolicy); we != ge {
			f("scaleSetEvictionPolicy", string(ge), string(we))
			replace = append(replace, "Spot eviction policy "+string(ge)+" -> "+string(we))
		}
		if wp, gp := deref(want.SpotMaxPrice), deref(got.SpotMaxPrice); wp != gp {
			f("spotMaxPrice", fmt.Sprint(gp), fmt.Sprint(wp))
			replace = append(replace, fmt.Sprintf("Spot max price %g -> %g", gp, wp))
		}
	}
	if w, g := deref(want.Mode), deref(got.Mode); w != g {
		f("mode", string(g), string(w))
	}
	wa, ga := deref(want.EnableAutoScaling), deref(got.EnableAutoScaling)
	if wa != ga {
		f("enableAutoScaling", fmt.Sprint(ga), fmt.Sprint(wa))
	}
	if wa {
		if w, g := deref(want.MinCount), deref(got.MinCount); w != g || !ga {
			f("minCount", countText(got.MinCount), fmt.Sprint(w))
		}
		if w, g := deref(want.MaxCount), deref(got.MaxCount); w != g || !ga {
			f("maxCount", countText(got.MaxCount), fmt.Sprint(w))
		}
	} else if w, g := deref(want.Count), deref(got.Count); w != g {
		// With the autoscaler on, it owns the count; without, dhub does.
		f("count", fmt.Sprint(g), fmt.Sprint(w))
	}
	if w, g := joinMap(userLabels(want.NodeLabels)), joinMap(userLabels(got.NodeLabels)); w != g {
		f("nodeLabels", orNone(g), orNone(w))
	}
	if w, g := strings.Join(userTaints(want.NodeTaints), ","), strings.Join(userTaints(got.NodeTaints), ","); w != g {
		f("nodeTaints", orNone(g), orNone(w))
	}
	return fields, replace
}

func priority(pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties) string {
	if isSpot(pp) {
		return "Spot"
	}
	return "Regular"
}

func countText(p *int32) string {
	if p == nil {
		return "(none)"
	}
	return fmt.Sprint(*p)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
