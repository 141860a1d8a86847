package azure

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// Providers are the resource providers a managed cluster needs registered
// in the subscription; a fresh subscription often has some unregistered,
// and AKS then refuses the cluster after the resource group exists.
var Providers = []string{"Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Compute"}

// scratchProviders are the resource providers of the scratch container's
// account and identity.
var scratchProviders = []string{"Microsoft.Storage", "Microsoft.ManagedIdentity"}

// providersFor are the providers hub h needs registered.
func providersFor(h *config.Hub) []string {
	if h.Azure.Storage.Scratch.On() {
		return append(slices.Clip(Providers), scratchProviders...)
	}
	return Providers
}

// KindProvider is the kind of a resource provider registration in a plan.
const KindProvider = "resource provider"

// PreflightError is every problem preflight found, before any write. Each
// is an *Error: one sentence with the resource, Azure's code and the fix.
type PreflightError struct{ Problems []error }

// Error lists the problems, one per line.
func (e *PreflightError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	if len(lines) == 1 {
		return lines[0] + " (found before any change was made)"
	}
	return fmt.Sprintf("%d problems found before any change was made:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Unwrap returns the problems, for errors.As.
func (e *PreflightError) Unwrap() []error { return e.Problems }

// preflight reads (GETs only) what a plan's writes need from the
// subscription and the region, and records what it found in the view.
type preflight struct {
	c        *Client
	h        *config.Hub
	view     *plan.Plan
	problems []error
	skus     map[string]*armcompute.ResourceSKU // by lower-case name, for this region
	// versions are the region's Kubernetes versions, once read.
	versions       []*armcontainerservice.KubernetesVersion
	versionChecked bool
	gets           int
}

func (f *preflight) fail(resource, code, sentence string) {
	f.problems = append(f.problems, &Error{Resource: resource, Code: code, Sentence: resource + ": " + sentence})
}

func (f *preflight) check(name, result string) {
	f.view.Checks = append(f.view.Checks, plan.Check{Name: name, Result: result})
}

// loadSKUs lists the VM sizes of the region once.
func (f *preflight) loadSKUs(ctx context.Context) error {
	if f.skus != nil {
		return nil
	}
	loc := f.h.Azure.Location
	f.skus = map[string]*armcompute.ResourceSKU{}
	pager := f.c.skus.NewListPager(&armcompute.ResourceSKUsClientListOptions{Filter: to.Ptr(fmt.Sprintf("location eq '%s'", loc))})
	for pager.More() {
		f.gets++
		page, err := pager.NextPage(ctx)
		if err != nil {
			return explain(err, "VM sizes of "+loc, loc)
		}
		for _, s := range page.Value {
			if s != nil && strings.EqualFold(deref(s.ResourceType), "virtualMachines") {
				f.skus[strings.ToLower(deref(s.Name))] = s
			}
		}
	}
	return nil
}

// usable says why the subscription may not use a VM size in the region
// ("" when it may): unknown there, or a Location restriction (its
// reasonCode, e.g. NotAvailableForSubscription), or no Spot for a Spot pool.
func (f *preflight) usable(size string, spot bool) string {
	s := f.skus[strings.ToLower(size)]
	if s == nil {
		return "NotOfferedInRegion"
	}
	for _, r := range s.Restrictions {
		if r != nil && deref(r.Type) == armcompute.ResourceSKURestrictionsTypeLocation {
			return orDefault(string(deref(r.ReasonCode)), "Restricted")
		}
	}
	if spot && !strings.EqualFold(capability(s, "LowPriorityCapable"), "True") {
		return "NotSpotCapable"
	}
	return ""
}

// capability is one capability of a SKU, e.g. vCPUs.
func capability(s *armcompute.ResourceSKU, name string) string {
	for _, c := range s.Capabilities {
		if c != nil && deref(c.Name) == name {
			return deref(c.Value)
		}
	}
	return ""
}

// pickSizes fills in the VM size of the pools dhub.yaml leaves without
// one: the size an existing pool has, else the first size of
// config.VMSizePreference the subscription may use here.
func (f *preflight) pickSizes(ctx context.Context, observed map[string]string) error {
	pools := f.h.Azure.NodePools
	for i := range pools {
		p := &pools[i]
		if p.VMSize != "" {
			continue
		}
		if got := observed[p.Name]; got != "" {
			p.VMSize = got
			continue
		}
		if err := f.loadSKUs(ctx); err != nil {
			return err
		}
		for _, size := range config.VMSizePreference {
			if f.usable(size, p.Spot != nil) == "" {
				p.VMSize = size
				break
			}
		}
		if p.VMSize == "" {
			f.fail(KindPool+" "+p.Name, "NoPreferredSizeOffered",
				fmt.Sprintf("none of dhub's preferred VM sizes (%s) is offered to this subscription in %s; set vmSize in azure.nodePools to a size 'az vm list-skus -l %s --resource-type virtualMachines -o table' lists without restrictions, or use another azure.location",
					strings.Join(config.VMSizePreference, ", "), f.h.Azure.Location, f.h.Azure.Location))
			continue
		}
		f.check("VM size of node pool "+p.Name, fmt.Sprintf("%s, picked from dhub's preference list as the first one this subscription may use in %s", p.VMSize, f.h.Azure.Location))
	}
	return nil
}

// providers checks that every provider a cluster needs is registered, and
// plans the registration of the others (as 'az aks create' registers them).
func (f *preflight) providers(ctx context.Context) ([]plan.Change, []step, error) {
	var changes []plan.Change
	var steps []step
	var ok []string
	for _, ns := range providersFor(f.h) {
		f.gets++
		r, err := f.c.providers.Get(ctx, ns, nil)
		if err != nil {
			return nil, nil, explain(err, KindProvider+" "+ns, f.h.Azure.Location)
		}
		state := deref(r.RegistrationState)
		if state == "Registered" {
			ok = append(ok, ns)
			continue
		}
		changes = append(changes, plan.Change{Kind: KindProvider, Name: ns, Action: plan.Update,
			Reason: fmt.Sprintf("%s in this subscription: up registers it first and waits (as 'az aks create' does; by hand: 'az provider register --namespace %s --wait')", state, ns),
			Fields: []plan.FieldChange{{Field: "registrationState", From: state, To: "Registered"}}})
		steps = append(steps, step{kind: stepRegisterProvider, pool: ns})
	}
	if len(ok) > 0 {
		f.check("resource providers", strings.Join(ok, ", ")+" registered")
	}
	return changes, steps, nil
}

// growth is what the plan's writes add to one pool: nodes now and at most.
type growth struct {
	pool       string
	size       string
	spot       bool
	now, atMax int
}

// sizes checks that every pool the plan creates has a VM size this
// subscription may use here.
func (f *preflight) sizes(ctx context.Context, created []growth) error {
	if len(created) == 0 {
		return nil
	}
	if err := f.loadSKUs(ctx); err != nil {
		return err
	}
	var ok []string
	for _, g := range created {
		why := f.usable(g.size, g.spot)
		if why == "" {
			ok = append(ok, fmt.Sprintf("%s (%s)", g.size, g.pool))
			continue
		}
		what := "is not offered to this subscription in " + f.h.Azure.Location
		if why == "NotSpotCapable" {
			what = "is not offered as Spot in " + f.h.Azure.Location
		}
		f.fail(KindPool+" "+g.pool, why, fmt.Sprintf("VM size %s %s (resource SKUs: %s); pick another vmSize in azure.nodePools%s, or another azure.location",
			g.size, what, why, f.suggest(g.spot)))
	}
	if len(ok) > 0 {
		f.check("VM sizes offered in "+f.h.Azure.Location, strings.Join(dedupe(ok), ", "))
	}
	return nil
}

// suggest names a preferred size that is usable here, as a fix.
func (f *preflight) suggest(spot bool) string {
	for _, size := range config.VMSizePreference {
		if f.usable(size, spot) == "" {
			return " (" + size + " is offered here)"
		}
	}
	return ""
}

// quota checks the vCPU quota for the nodes the plan creates now (per VM
// family and the regional total, or Spot's low-priority quota) and warns
// when the pools at their autoscale maximum would exceed it.
func (f *preflight) quota(ctx context.Context, grow []growth) error {
	if len(grow) == 0 {
		return nil
	}
	if err := f.loadSKUs(ctx); err != nil {
		return err
	}
	loc := f.h.Azure.Location
	type line struct{ used, limit int64 }
	usage := map[string]line{}
	names := map[string]string{}
	pager := f.c.usages.NewListPager(loc, nil)
	for pager.More() {
		f.gets++
		page, err := pager.NextPage(ctx)
		if err != nil {
			return explain(err, "vCPU quota of "+loc, loc)
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil {
				continue
			}
			usage[deref(u.Name.Value)] = line{int64(deref(u.CurrentValue)), deref(u.Limit)}
			names[deref(u.Name.Value)] = deref(u.Name.LocalizedValue)
		}
	}
	now, atMax := map[string]int64{}, map[string]int64{}
	for _, g := range grow {
		s := f.skus[strings.ToLower(g.size)]
		if s == nil {
			continue // reported by sizes
		}
		vcpus, _ := strconv.ParseInt(capability(s, "vCPUs"), 10, 64)
		keys := []string{deref(s.Family), "cores"}
		if g.spot {
			keys = []string{"lowPriorityCores"}
		}
		for _, k := range keys {
			now[k] += int64(g.now) * vcpus
			atMax[k] += int64(g.atMax) * vcpus
		}
	}
	keys := make([]string, 0, len(atMax))
	for k := range atMax {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var ok []string
	for _, k := range keys {
		u, known := usage[k]
		if !known {
			continue // Azure lists no such quota: nothing to check
		}
		left := u.limit - u.used
		label := orDefault(names[k], k)
		if now[k] > left {
			f.fail("vCPU quota "+k, "QuotaExceeded", fmt.Sprintf("the nodes created now need %d %s in %s and %d of the limit of %d are left (%d used); request an increase (Azure portal: Quotas, or 'az quota update') or use smaller or fewer VMs in azure.nodePools",
				now[k], label, loc, left, u.limit, u.used))
			continue
		}
		ok = append(ok, fmt.Sprintf("%s %d of %d left", k, now[k], left))
		if atMax[k] > left {
			f.view.Warnings = append(f.view.Warnings, fmt.Sprintf("at their autoscale maximum the pools need %d more %s in %s than are left (%d of %d): the autoscaler will stop short of it; request an increase to scale fully",
				atMax[k]-left, label, loc, left, u.limit))
		}
	}
	if len(ok) > 0 {
		f.check("vCPU quota for the nodes created now", strings.Join(ok, ", "))
	}
	return nil
}

// loadVersions lists the region's Kubernetes versions once.
func (f *preflight) loadVersions(ctx context.Context) error {
	if f.versions != nil {
		return nil
	}
	loc := f.h.Azure.Location
	f.gets++
	r, err := f.c.clusters.ListKubernetesVersions(ctx, loc, nil)
	if err != nil {
		return explain(err, "Kubernetes versions of "+loc, loc)
	}
	f.versions = []*armcontainerservice.KubernetesVersion{}
	for _, v := range r.Values {
		if v != nil {
			f.versions = append(f.versions, v)
		}
	}
	return nil
}

// version checks, once, that the region offers the Kubernetes version
// dhub.yaml asks for: its minor version, and its patch when it names one.
func (f *preflight) version(ctx context.Context) error {
	if f.versionChecked {
		return nil
	}
	f.versionChecked = true
	want, loc := f.h.Azure.KubernetesVersion, f.h.Azure.Location
	if err := f.loadVersions(ctx); err != nil {
		return err
	}
	w, _ := parseVersion(want)
	var offered []string
	for _, v := range f.versions {
		minor := deref(v.Version)
		offered = append(offered, minor)
		if minor != w.minorString() {
			continue
		}
		if _, ok := v.PatchVersions[want]; !w.hasPatch || ok {
			f.check("Kubernetes version "+want, "offered in "+loc)
			return nil
		}
	}
	sort.Strings(offered)
	f.fail("Kubernetes version "+want, "K8sVersionNotSupported", fmt.Sprintf("AKS does not offer it in %s (it offers %s); set azure.kubernetesVersion to one of those, or leave it out for AKS's default", loc, strings.Join(offered, ", ")))
	return nil
}

// resolve is the version AKS runs for v in the region: v when it names a
// patch, else the newest patch the region offers of its minor version
// (v itself when it offers none).
func (f *preflight) resolve(ctx context.Context, v kver) (kver, error) {
	if v.hasPatch {
		return v, nil
	}
	if err := f.loadVersions(ctx); err != nil {
		return v, err
	}
	best, found := v, false
	for _, kv := range f.versions {
		if deref(kv.Version) != v.minorString() {
			continue
		}
		for patch := range kv.PatchVersions {
			if pv, ok := parseVersion(patch); ok && pv.hasPatch && (!found || best.less(pv)) {
				best, found = pv, true
			}
		}
	}
	return best, nil
}

// dnsLabel checks that the hub's DNS label is free in the region, or
// already this hub's: a public IP with the label in the cluster's node
// resource group (where AKS puts the load balancer's addresses).
func (f *preflight) dnsLabel(ctx context.Context, cluster *armcontainerservice.ManagedCluster) error {
	a := f.h.Azure
	label, loc := a.DNSLabel, a.Location
	if label == "" {
		return nil
	}
	host := label + "." + loc + ".cloudapp.azure.com"
	f.gets++
	r, err := f.c.dns.CheckDNSNameAvailability(ctx, loc, label, nil)
	if err != nil {
		return explain(err, "DNS label "+label, loc)
	}
	if deref(r.Available) {
		f.check("DNS label "+label, host+" is free")
		return nil
	}
	if cluster != nil && cluster.Properties != nil {
		if group := deref(cluster.Properties.NodeResourceGroup); group != "" {
			pager := f.c.publicIPs.NewListPager(group, nil)
			for pager.More() {
				f.gets++
				page, err := pager.NextPage(ctx)
				if err != nil {
					return explain(err, "public IPs of "+group, loc)
				}
				for _, ip := range page.Value {
					if ip != nil && ip.Properties != nil && ip.Properties.DNSSettings != nil &&
						strings.EqualFold(deref(ip.Properties.DNSSettings.DomainNameLabel), label) {
						f.check("DNS label "+label, fmt.Sprintf("%s is this hub's (public IP %s in %s)", host, deref(ip.Name), group))
						return nil
					}
				}
			}
		}
	}
	f.fail("DNS label "+label, "DnsRecordInUse", fmt.Sprintf("%s belongs to another Azure resource (CheckDnsNameAvailability: not available), so the hub's load balancer would get no address there; set azure.dnsLabel to another label, such as %s-2", host, label))
	return nil
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// errPreflight returns the problems found as one error, or nil.
func (f *preflight) err() error {
	if len(f.problems) == 0 {
		return nil
	}
	return &PreflightError{Problems: f.problems}
}
