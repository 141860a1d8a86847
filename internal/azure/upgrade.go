package azure

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// TagPool is put on a pool dhub creates to replace a Spot pool for a
// Kubernetes upgrade: it holds the name of the pool in dhub.yaml, since
// the replacement has another name in Azure.
const TagPool = "dhub-pool"

// kver is a Kubernetes version: 1.33 (no patch) or 1.33.2.
type kver struct {
	major, minor, patch int
	hasPatch            bool
}

// parseVersion reads 1.33 or 1.33.2; ok is false for anything else.
func parseVersion(s string) (v kver, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return kver{}, false
	}
	n := make([]int, len(parts))
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return kver{}, false
		}
		n[i] = x
	}
	v = kver{major: n[0], minor: n[1]}
	if len(n) == 3 {
		v.patch, v.hasPatch = n[2], true
	}
	return v, true
}

// String is the version as AKS writes it.
func (v kver) String() string {
	if !v.hasPatch {
		return fmt.Sprintf("%d.%d", v.major, v.minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

// minorString is the version's major.minor, e.g. 1.33.
func (v kver) minorString() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

// less orders versions; a version without a patch sorts as its .0.
func (v kver) less(w kver) bool {
	if v.major != w.major {
		return v.major < w.major
	}
	if v.minor != w.minor {
		return v.minor < w.minor
	}
	return v.patch < w.patch
}

// upgradeStep is one write of a Kubernetes upgrade: the control plane
// (pool empty) or a pool to version to; a Spot pool is replaced by a new
// pool named newName.
type upgradeStep struct {
	pool     string // the pool's name in Azure; "" for the control plane
	from, to kver
	spot     bool
	newName  string // for a Spot pool: the replacement's name
	cfg      string // for a Spot pool: its name in dhub.yaml
}

// upgradePool is an existing pool as the upgrade plan sees it.
type upgradePool struct {
	cfg, name string
	version   kver
	spot      bool
	count     int32
	size      string
}

// upgrade plans the writes that take the cluster from the version it runs
// to azure.kubernetesVersion: the control plane one minor version at a
// time (AKS refuses to skip one), each regular pool once the control plane
// is where the pool is going (a pool may go straight to the control
// plane's version), and each Spot pool by replacement (AKS does not
// upgrade Spot pools in place). The control plane may lead a pool by at
// most two minor versions, so a pool that would fall further behind is
// brought up to the control plane first. Patch versions are the region's
// newest for each minor stepped through. A downgrade, or a version the
// region does not offer, is a preflight problem. Nothing to do is nil.
func (p *Plan) upgrade(ctx context.Context, pf *preflight, mc *armcontainerservice.ManagedCluster, m poolMatch) ([]upgradeStep, error) {
	a := p.hub.Azure
	props := mc.Properties
	if a.KubernetesVersion == "" || !terminal(deref(props.ProvisioningState)) {
		return nil, nil // the plan made after the running operation upgrades
	}
	cpText := orDefault(deref(props.CurrentKubernetesVersion), deref(props.KubernetesVersion))
	cp, ok := parseVersion(cpText)
	want, okWant := parseVersion(a.KubernetesVersion)
	if !ok || !okWant {
		return nil, nil
	}
	cluster := KindCluster + " " + a.ClusterName
	// A version without a patch is the newest patch of its minor version.
	if want.major < cp.major || want.major == cp.major && (want.minor < cp.minor || want.minor == cp.minor && want.hasPatch && want.patch < cp.patch) {
		pf.fail(cluster, "OperationNotAllowed", fmt.Sprintf("it runs Kubernetes %s and azure.kubernetesVersion asks for %s, but AKS cannot downgrade a cluster (it refuses with OperationNotAllowed); set azure.kubernetesVersion to %s or later, or leave it out; for %s itself, 'dhub down' then 'dhub up' makes a new cluster",
			cp, a.KubernetesVersion, cp.minorString(), a.KubernetesVersion))
		return nil, nil
	}
	var pools []*upgradePool
	for _, np := range a.NodePools {
		got := m.byConfig[np.Name]
		if got == nil {
			continue // created after the upgrade, at the control plane's version
		}
		v, ok := parseVersion(orDefault(deref(got.props.CurrentOrchestratorVersion), orDefault(deref(got.props.OrchestratorVersion), cpText)))
		if !ok {
			continue
		}
		pools = append(pools, &upgradePool{cfg: np.Name, name: got.name, version: v, spot: isSpot(got.props),
			count: deref(got.props.Count), size: deref(got.props.VMSize)})
	}
	behind := false
	for _, pl := range pools {
		behind = behind || !versionMatches(a.KubernetesVersion, pl.version.String())
	}
	cpMatches := versionMatches(a.KubernetesVersion, cpText)
	if cpMatches && !behind {
		return nil, nil // converged: no read of the region's versions
	}

	// The version each minor version stepped through is upgraded to: the
	// target's, or the region's newest patch.
	target := cp
	if !cpMatches {
		if err := pf.version(ctx); err != nil {
			return nil, err
		}
		if len(pf.problems) > 0 {
			return nil, nil // not offered: reported by the version check
		}
		t, err := pf.resolve(ctx, want)
		if err != nil {
			return nil, err
		}
		target = t
	}
	var missing []string
	at := func(minor int) kver {
		if minor == target.minor {
			return target
		}
		v, err := pf.resolve(ctx, kver{major: cp.major, minor: minor})
		if err != nil || !v.hasPatch {
			missing = append(missing, fmt.Sprintf("%d.%d", cp.major, minor))
			return kver{major: cp.major, minor: minor}
		}
		return v
	}

	// Pool names in use in Azure, for naming the replacements of Spot pools.
	inUse := map[string]bool{}
	for _, name := range m.names {
		inUse[name] = true
	}
	for _, np := range a.NodePools {
		if m.byConfig[np.Name] == nil {
			inUse[np.Name] = true // created later under this name
		}
	}
	var steps []upgradeStep
	lift := func(pl *upgradePool, to kver) {
		st := upgradeStep{pool: pl.name, from: pl.version, to: to, spot: pl.spot, cfg: pl.cfg}
		if pl.spot {
			st.newName = replacementName(pl.cfg, inUse)
			delete(inUse, pl.name)
			inUse[st.newName] = true
			// Replacements run one after another, each old pool deleted
			// before the next starts: the largest is the quota they need.
			if len(p.replacing) == 0 || p.replacing[0].now < int(pl.count) {
				p.replacing = []poolGrowth{{created: true, growth: growth{pool: st.newName, size: pl.size, spot: true, now: int(pl.count)}}}
			}
			pl.name = st.newName
		}
		pl.version = to
		steps = append(steps, st)
	}
	cur := cp
	for cur.less(target) {
		next := target
		if cur.minor < target.minor {
			next = at(cur.minor + 1)
		}
		for _, pl := range pools {
			if pl.version.minor < next.minor-2 {
				lift(pl, cur)
			}
		}
		steps = append(steps, upgradeStep{from: cur, to: next})
		cur = next
	}
	for _, pl := range pools {
		if !versionMatches(a.KubernetesVersion, pl.version.String()) && pl.version.less(target) {
			lift(pl, target)
		}
	}
	if len(missing) > 0 {
		pf.fail(cluster, "K8sVersionNotSupported", fmt.Sprintf("going from %s to %s steps through minor version(s) %s, which AKS does not offer in %s (a control plane is upgraded one minor version at a time); set azure.kubernetesVersion to the next minor version the region offers",
			cp, target, strings.Join(dedupe(missing), ", "), a.Location))
		return nil, nil
	}
	return steps, nil
}

// replacementName is a free pool name for the replacement of pool cfg:
// the name in dhub.yaml if it is free (so names alternate, workers and
// workers2), else the name with 2, 3, ... (AKS allows 12 characters).
func replacementName(cfg string, inUse map[string]bool) string {
	if !inUse[cfg] {
		return cfg
	}
	for i := 2; ; i++ {
		suffix := strconv.Itoa(i)
		base := cfg
		if len(base)+len(suffix) > 12 {
			base = base[:12-len(suffix)]
		}
		if name := base + suffix; !inUse[name] {
			return name
		}
	}
}

// addUpgrade puts the upgrade's steps in the plan, one change each.
func (p *Plan) addUpgrade(steps []upgradeStep) {
	a := p.hub.Azure
	n := len(steps)
	for i, st := range steps {
		label := fmt.Sprintf("Kubernetes upgrade, step %d of %d", i+1, n)
		from, to := st.from.String(), st.to.String()
		switch {
		case st.pool == "":
			why := "the control plane, one minor version (AKS upgrades it one minor version at a time)"
			if st.from.minor == st.to.minor {
				why = "the control plane, to a newer patch version"
			}
			p.add(plan.Change{Kind: KindCluster, Name: a.ClusterName, Action: plan.Update, Reason: label + ": " + why,
				Fields: []plan.FieldChange{{Field: "kubernetesVersion", From: from, To: to}}},
				step{kind: stepUpgradeCluster, version: to, label: fmt.Sprintf("%s: managed cluster %s %s -> %s", label, a.ClusterName, from, to)})
		case st.spot:
			p.add(plan.Change{Kind: KindPool, Name: st.pool, Action: plan.Replace,
				Reason: fmt.Sprintf("%s: AKS cannot upgrade Spot pools in place: up creates node pool %s at %s with the same settings, then deletes %s once %s is ready, so Dask workers always have a pool to run on",
					label, st.newName, to, st.pool, st.newName),
				Fields: []plan.FieldChange{{Field: "name", From: st.pool, To: st.newName}, {Field: "orchestratorVersion", From: from, To: to}}},
				step{kind: stepReplacePool, pool: st.newName, from: st.pool, cfg: st.cfg, version: to,
					label: fmt.Sprintf("%s: Spot node pool %s replaced by %s at %s", label, st.pool, st.newName, to)},
				step{kind: stepDeletePool, pool: st.pool, after: st.newName})
		default:
			p.add(plan.Change{Kind: KindPool, Name: st.pool, Action: plan.Update,
				Reason: label + ": its nodes, once the control plane is there (a pool may run at most two minor versions behind it)",
				Fields: []plan.FieldChange{{Field: "orchestratorVersion", From: from, To: to}}},
				step{kind: stepUpgradePool, pool: st.pool, version: to, label: fmt.Sprintf("%s: node pool %s %s -> %s", label, st.pool, from, to)})
		}
	}
}

// poolMatch pairs the pools of dhub.yaml with the agent pools of a cluster.
type poolMatch struct {
	// byConfig is the Azure pool that is each pool of dhub.yaml.
	byConfig map[string]*observedPool
	// leftovers are pools that replaced, or were replaced by, the pool of
	// dhub.yaml named in their value: an earlier run stopped between
	// creating a Spot pool's replacement and deleting the old pool.
	leftovers []leftover
	// others are pools that are no pool of dhub.yaml.
	others []*observedPool
	// names are every pool's name in Azure, in the cluster's order.
	names []string
}

// observedPool is one agent pool as the managed cluster lists it.
type observedPool struct {
	name  string
	props *armcontainerservice.ManagedClusterAgentPoolProfileProperties
}

type leftover struct {
	*observedPool
	cfg, kept string
}

// matchPools finds each pool of dhub.yaml in the cluster: the pool of the
// same name, or the one tagged TagPool with that name (a Spot pool's
// replacement) unless dhub.yaml has a pool of its own name. When two are
// found, the one at the newer version is the pool and the other a
// leftover.
func matchPools(h *config.Hub, mc *armcontainerservice.ManagedCluster) poolMatch {
	m := poolMatch{byConfig: map[string]*observedPool{}}
	if mc == nil || mc.Properties == nil {
		return m
	}
	cfg := map[string]bool{}
	for _, np := range h.Azure.NodePools {
		cfg[np.Name] = true
	}
	var matched []*observedPool
	var of []string
	for _, ap := range mc.Properties.AgentPoolProfiles {
		if ap == nil || ap.Name == nil {
			continue
		}
		o := &observedPool{name: *ap.Name, props: propertiesOf(ap)}
		m.names = append(m.names, o.name)
		name := o.name
		if t := deref(o.props.Tags[TagPool]); t != "" && cfg[t] && !cfg[name] {
			name = t
		}
		if !cfg[name] {
			m.others = append(m.others, o)
			continue
		}
		matched, of = append(matched, o), append(of, name)
	}
	for i, o := range matched {
		name := of[i]
		cur := m.byConfig[name]
		if cur == nil {
			m.byConfig[name] = o
			continue
		}
		if poolVersion(cur).less(poolVersion(o)) {
			m.byConfig[name], o = o, cur
		}
		m.leftovers = append(m.leftovers, leftover{observedPool: o, cfg: name})
	}
	for i := range m.leftovers {
		m.leftovers[i].kept = m.byConfig[m.leftovers[i].cfg].name
	}
	return m
}

// poolVersion is the version a pool runs (0.0 when unknown).
func poolVersion(o *observedPool) kver {
	v, _ := parseVersion(orDefault(deref(o.props.CurrentOrchestratorVersion), deref(o.props.OrchestratorVersion)))
	return v
}
