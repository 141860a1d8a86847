package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
)

// This file holds what a subscription and a region offer (resource
// providers, VM sizes, vCPU quota, DNS labels, Kubernetes versions) and the
// rules AKS applies to a managed cluster or agent pool it is sent. The
// answers and error bodies take their shapes from the ARM REST
// specification (Microsoft.Resources providers, Microsoft.Compute
// resourceSkus and usages, Microsoft.Network CheckDnsNameAvailability,
// Microsoft.ContainerService 2026-04-01) and from AKS's real error messages.

// SKU is one VM size as the resource SKUs API lists it for a region.
type SKU struct {
	Name   string
	Family string
	VCPUs  int
	// Spot is false for sizes not offered as Spot (LowPriorityCapable False).
	Spot bool
	// Restricted, when set, is the reasonCode of a Location restriction:
	// NotAvailableForSubscription or QuotaId.
	Restricted string
	// Zones are the availability zones the size is offered in.
	Zones []string
}

// DefaultSKUs are the VM sizes every region of a World offers, unless a
// test changes them with SetSKUs or RestrictSKU.
func DefaultSKUs() []SKU {
	z := []string{"1", "2", "3"}
	return []SKU{
		{Name: "Standard_D2s_v3", Family: "standardDSv3Family", VCPUs: 2, Spot: true, Zones: z},
		{Name: "Standard_D4s_v3", Family: "standardDSv3Family", VCPUs: 4, Spot: true, Zones: z},
		{Name: "Standard_D2s_v5", Family: "standardDSv5Family", VCPUs: 2, Spot: true, Zones: z},
		{Name: "Standard_D4s_v5", Family: "standardDSv5Family", VCPUs: 4, Spot: true, Zones: z},
		{Name: "Standard_D8s_v5", Family: "standardDSv5Family", VCPUs: 8, Spot: true, Zones: z},
		{Name: "Standard_D2as_v5", Family: "standardDASv5Family", VCPUs: 2, Spot: true, Zones: z},
		{Name: "Standard_D2ds_v5", Family: "standardDDSv5Family", VCPUs: 2, Spot: true, Zones: z},
		{Name: "Standard_E16s_v5", Family: "standardESv5Family", VCPUs: 16, Spot: true, Zones: z},
		{Name: "Standard_DS2_v2", Family: "standardDSv2Family", VCPUs: 2, Spot: true, Zones: z},
	}
}

// DefaultKubernetesVersions are the AKS versions every region offers:
// minor version -> patch versions, oldest first; DefaultKubernetesVersion
// is the default.
var DefaultKubernetesVersions = map[string][]string{
	"1.32": {"1.32.6"},
	"1.33": {"1.33.2"},
	"1.34": {"1.34.0", "1.34.1"},
	"1.35": {"1.35.0"},
}

// DefaultKubernetesVersion is the minor version AKS picks when none is asked for.
const DefaultKubernetesVersion = "1.33"

// quota is one line of the usages API: vCPUs in use and the limit.
type quota struct{ used, limit int }

// Providers that a fresh subscription of a World has registered.
var defaultProviders = []string{"Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Compute", "Microsoft.Resources",
	"Microsoft.Storage", "Microsoft.ManagedIdentity", "Microsoft.Authorization"}

// rules is the state behind the subscription's offer; a World embeds it.
type rules struct {
	providers map[string]string // namespace (lower case) -> registrationState
	regGets   map[string]int    // GETs a provider stays Registering
	// RegisterGets is how many GETs a provider stays Registering after a
	// register request (default 1).
	RegisterGets int
	skus         []SKU
	quotas       map[string]*quota // usage name (family, cores, lowPriorityCores) -> quota
	dnsTaken     map[string]bool   // location/label taken by someone else
	publicIPs    []*armnetwork.PublicIPAddress
	messages     map[string]string // error code -> the message of its next answer
}

func newRules() rules {
	r := rules{
		providers: map[string]string{}, regGets: map[string]int{}, RegisterGets: 1,
		skus: DefaultSKUs(), quotas: map[string]*quota{}, dnsTaken: map[string]bool{}, messages: map[string]string{},
	}
	for _, ns := range defaultProviders {
		r.providers[strings.ToLower(ns)] = "Registered"
	}
	return r
}

// SetProvider sets a resource provider's registrationState (NotRegistered
// for a fresh subscription's Microsoft.ContainerService).
func (w *World) SetProvider(namespace, state string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.providers[strings.ToLower(namespace)] = state
}

// Provider returns a resource provider's registrationState.
func (w *World) Provider(namespace string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.providerState(namespace)
}

func (w *World) providerState(namespace string) string {
	if s, ok := w.providers[strings.ToLower(namespace)]; ok {
		return s
	}
	return "NotRegistered"
}

// SetSKUs replaces the VM sizes every region offers.
func (w *World) SetSKUs(skus []SKU) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.skus = skus
}

// RestrictSKU makes a VM size unusable for the subscription in every
// region, with reasonCode reason (NotAvailableForSubscription, QuotaId).
func (w *World) RestrictSKU(name, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.skus {
		if strings.EqualFold(w.skus[i].Name, name) {
			w.skus[i].Restricted = reason
		}
	}
}

// SetQuota sets one usage line: a VM family (standardDSv3Family), the
// regional total (cores) or Spot (lowPriorityCores). Unset lines have
// limit 100 and nothing used.
func (w *World) SetQuota(name string, used, limit int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.quotas[name] = &quota{used: used, limit: limit}
}

// TakeDNSLabel makes a DNS label in a region belong to someone else's
// public IP.
func (w *World) TakeDNSLabel(location, label string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dnsTaken[strings.ToLower(location+"/"+label)] = true
}

// AddPublicIP puts a public IP with a DNS label in a resource group, as
// the cluster's load balancer gets for the hub's proxy-public Service.
func (w *World) AddPublicIP(group, name, location, address, label string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ip := &armnetwork.PublicIPAddress{
		ID: to.Ptr(groupID(group) + "/providers/Microsoft.Network/publicIPAddresses/" + name), Name: to.Ptr(name),
		Type: to.Ptr("Microsoft.Network/publicIPAddresses"), Location: to.Ptr(location),
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{IPAddress: to.Ptr(address)},
	}
	if label != "" {
		ip.Properties.DNSSettings = &armnetwork.PublicIPAddressDNSSettings{
			DomainNameLabel: to.Ptr(label), Fqdn: to.Ptr(label + "." + location + ".cloudapp.azure.com"),
		}
	}
	w.publicIPs = append(w.publicIPs, ip)
}

// StopCluster stops a managed cluster, as 'az aks stop' does.
func (w *World) StopCluster(group, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if mc := w.clusters[key(group, name)]; mc != nil {
		mc.Properties.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeStopped)}
		for _, p := range w.pools[key(group, name)] {
			p.Properties.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeStopped)}
		}
	}
}

// refuse answers a request with an Azure error: status, code and a body
// whose message is msg, as Azure sends it.
func (w *World) refuse(e *azfake.ErrorResponder, status int, code, msg string) {
	w.messages[code] = msg
	e.SetResponseError(status, code)
}

// message returns and forgets the message recorded for code.
func (w *World) message(code string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.messages[code]
	delete(w.messages, code)
	return m
}

// --- resource providers -----------------------------------------------------

func (w *World) providerView(ns string) armresources.Provider {
	return armresources.Provider{
		ID:                to.Ptr("/subscriptions/" + Subscription + "/providers/" + ns),
		Namespace:         to.Ptr(ns),
		RegistrationState: to.Ptr(w.providerState(ns)),
	}
}

func (w *World) getProvider(_ context.Context, ns string, _ *armresources.ProvidersClientGetOptions) (resp azfake.Responder[armresources.ProvidersClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := strings.ToLower(ns)
	if w.providers[k] == "Registering" {
		if w.regGets[k] <= 0 {
			w.providers[k] = "Registered"
		}
		w.regGets[k]--
	}
	resp.SetResponse(http.StatusOK, armresources.ProvidersClientGetResponse{Provider: w.providerView(ns)}, nil)
	return
}

func (w *World) registerProvider(_ context.Context, ns string, _ *armresources.ProvidersClientRegisterOptions) (resp azfake.Responder[armresources.ProvidersClientRegisterResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := strings.ToLower(ns)
	if w.providers[k] != "Registered" {
		w.providers[k] = "Registering"
		w.regGets[k] = w.RegisterGets
	}
	resp.SetResponse(http.StatusOK, armresources.ProvidersClientRegisterResponse{Provider: w.providerView(ns)}, nil)
	return
}

// unregistered returns the AKS error for the first provider a managed
// cluster needs that is not registered, or "".
func (w *World) unregistered() (code, msg string) {
	for _, ns := range []string{"Microsoft.ContainerService", "Microsoft.Network", "Microsoft.Compute"} {
		if w.providerState(ns) == "Registered" {
			continue
		}
		if ns == "Microsoft.ContainerService" {
			return "MissingSubscriptionRegistration", fmt.Sprintf("The subscription is not registered to use namespace '%s'. See https://aka.ms/rps-not-found for how to register subscriptions.", ns)
		}
		return "MissingRegistrationForResourceProvider", fmt.Sprintf("The subscription registration is in '%s' state. The subscription must be registered to use namespace '%s'. See https://aka.ms/rps-not-found for how to register subscriptions.", w.providerState(ns), ns)
	}
	return "", ""
}

// identityRule returns why AKS refuses a cluster's OIDC issuer and
// workload identity settings, or "": workload identity needs the issuer,
// and an issuer once on stays on (its URL is in federated credentials).
func identityRule(pr *armcontainerservice.ManagedClusterProperties, old *armcontainerservice.ManagedCluster) string {
	oidc := pr.OidcIssuerProfile != nil && deref(pr.OidcIssuerProfile.Enabled)
	if sp := pr.SecurityProfile; sp != nil && sp.WorkloadIdentity != nil && deref(sp.WorkloadIdentity.Enabled) && !oidc {
		return "Enabling workload identity requires enabling the OIDC issuer profile (oidcIssuerProfile.enabled)."
	}
	if old != nil && old.Properties != nil && old.Properties.OidcIssuerProfile != nil && deref(old.Properties.OidcIssuerProfile.Enabled) && !oidc {
		return "The OIDC issuer cannot be disabled once it has been enabled."
	}
	return ""
}

// refuseInGroup answers the creation of a resource of provider ns in
// group with Azure's refusal while the subscription has not registered ns
// or the group does not exist, and reports whether it did.
func (w *World) refuseInGroup(e *azfake.ErrorResponder, ns, group string) bool {
	switch {
	case w.providerState(ns) != "Registered":
		w.refuse(e, http.StatusConflict, "MissingSubscriptionRegistration", fmt.Sprintf("The subscription is not registered to use namespace '%s'. See https://aka.ms/rps-not-found for how to register subscriptions.", ns))
	case w.groups[key(group)] == nil:
		w.refuse(e, http.StatusNotFound, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", group))
	default:
		return false
	}
	return true
}

// --- VM sizes and quota -----------------------------------------------------

var skuFilterRE = regexp.MustCompile(`location eq '([^']+)'`)

func (w *World) listSKUs(o *armcompute.ResourceSKUsClientListOptions) (resp azfake.PagerResponder[armcompute.ResourceSKUsClientListResponse]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	location := "westeurope"
	if o != nil && o.Filter != nil {
		if m := skuFilterRE.FindStringSubmatch(*o.Filter); m != nil {
			location = m[1]
		}
	}
	var page armcompute.ResourceSKUsResult
	for _, s := range w.skus {
		page.Value = append(page.Value, skuView(s, location))
	}
	resp.AddPage(http.StatusOK, armcompute.ResourceSKUsClientListResponse{ResourceSKUsResult: page}, nil)
	return
}

func skuView(s SKU, location string) *armcompute.ResourceSKU {
	spot := "False"
	if s.Spot {
		spot = "True"
	}
	out := &armcompute.ResourceSKU{
		ResourceType: to.Ptr("virtualMachines"), Name: to.Ptr(s.Name), Tier: to.Ptr("Standard"),
		Size: to.Ptr(strings.TrimPrefix(s.Name, "Standard_")), Family: to.Ptr(s.Family),
		Locations:    []*string{to.Ptr(location)},
		LocationInfo: []*armcompute.ResourceSKULocationInfo{{Location: to.Ptr(location), Zones: to.SliceOfPtrs(s.Zones...)}},
		Capabilities: []*armcompute.ResourceSKUCapabilities{
			{Name: to.Ptr("vCPUs"), Value: to.Ptr(fmt.Sprint(s.VCPUs))},
			{Name: to.Ptr("MemoryGB"), Value: to.Ptr(fmt.Sprint(4 * s.VCPUs))},
			{Name: to.Ptr("LowPriorityCapable"), Value: to.Ptr(spot)},
		},
		Restrictions: []*armcompute.ResourceSKURestrictions{},
	}
	if s.Restricted != "" {
		out.Restrictions = append(out.Restrictions, &armcompute.ResourceSKURestrictions{
			Type: to.Ptr(armcompute.ResourceSKURestrictionsTypeLocation), Values: []*string{to.Ptr(location)},
			RestrictionInfo: &armcompute.ResourceSKURestrictionInfo{Locations: []*string{to.Ptr(location)}},
			ReasonCode:      to.Ptr(armcompute.ResourceSKURestrictionsReasonCode(s.Restricted)),
		})
	}
	return out
}

// quotaLine is a usage line, with its default.
func (w *World) quotaLine(name string) *quota {
	q := w.quotas[name]
	if q == nil {
		q = &quota{limit: 100}
		w.quotas[name] = q
	}
	return q
}

var usageNames = map[string]string{"cores": "Total Regional vCPUs", "lowPriorityCores": "Total Regional Low-priority vCPUs"}

func (w *World) listUsages(_ string, _ *armcompute.UsageClientListOptions) (resp azfake.PagerResponder[armcompute.UsageClientListResponse]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	names := []string{"cores", "lowPriorityCores"}
	seen := map[string]bool{}
	for _, s := range w.skus {
		if !seen[s.Family] {
			seen[s.Family] = true
			names = append(names, s.Family)
		}
	}
	var page armcompute.ListUsagesResult
	for _, n := range names {
		q := w.quotaLine(n)
		local := usageNames[n]
		if local == "" {
			local = n + " vCPUs"
		}
		page.Value = append(page.Value, &armcompute.Usage{
			Unit: to.Ptr("Count"), CurrentValue: to.Ptr(int32(q.used)), Limit: to.Ptr(int64(q.limit)),
			Name: &armcompute.UsageName{Value: to.Ptr(n), LocalizedValue: to.Ptr(local)},
		})
	}
	resp.AddPage(http.StatusOK, armcompute.UsageClientListResponse{ListUsagesResult: page}, nil)
	return
}

func (w *World) sku(name string) *SKU {
	for i := range w.skus {
		if strings.EqualFold(w.skus[i].Name, name) {
			return &w.skus[i]
		}
	}
	return nil
}

// --- DNS and public IPs -----------------------------------------------------

func (w *World) checkDNS(_ context.Context, location, label string, _ *armnetwork.ManagementClientCheckDNSNameAvailabilityOptions) (resp azfake.Responder[armnetwork.ManagementClientCheckDNSNameAvailabilityResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	taken := w.dnsTaken[strings.ToLower(location+"/"+label)]
	for _, ip := range w.publicIPs {
		if ip.Properties.DNSSettings != nil && strings.EqualFold(deref(ip.Properties.DNSSettings.DomainNameLabel), label) && strings.EqualFold(deref(ip.Location), location) {
			taken = true
		}
	}
	resp.SetResponse(http.StatusOK, armnetwork.ManagementClientCheckDNSNameAvailabilityResponse{
		DNSNameAvailabilityResult: armnetwork.DNSNameAvailabilityResult{Available: to.Ptr(!taken)}}, nil)
	return
}

func (w *World) listPublicIPs(group string, _ *armnetwork.PublicIPAddressesClientListOptions) (resp azfake.PagerResponder[armnetwork.PublicIPAddressesClientListResponse]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var page armnetwork.PublicIPAddressListResult
	for _, ip := range w.publicIPs {
		if strings.HasPrefix(strings.ToLower(deref(ip.ID)), strings.ToLower(groupID(group))+"/") {
			page.Value = append(page.Value, clone(ip))
		}
	}
	resp.AddPage(http.StatusOK, armnetwork.PublicIPAddressesClientListResponse{PublicIPAddressListResult: page}, nil)
	return
}

// --- Kubernetes versions ----------------------------------------------------

func (w *World) listVersions(_ context.Context, _ string, _ *armcontainerservice.ManagedClustersClientListKubernetesVersionsOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse], errResp azfake.ErrorResponder) {
	var out armcontainerservice.KubernetesVersionListResult
	minors := make([]string, 0, len(DefaultKubernetesVersions))
	for m := range DefaultKubernetesVersions {
		minors = append(minors, m)
	}
	sort.Strings(minors)
	for _, m := range minors {
		v := &armcontainerservice.KubernetesVersion{Version: to.Ptr(m), PatchVersions: map[string]*armcontainerservice.KubernetesPatchVersion{}}
		if m == DefaultKubernetesVersion {
			v.IsDefault = to.Ptr(true)
		}
		for _, p := range DefaultKubernetesVersions[m] {
			v.PatchVersions[p] = &armcontainerservice.KubernetesPatchVersion{}
		}
		out.Values = append(out.Values, v)
	}
	resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse{KubernetesVersionListResult: out}, nil)
	return
}

// patchOf resolves a requested version (1.33 or 1.33.2) to the patch AKS
// runs, or "" when the region does not offer it.
func patchOf(version string) string {
	if version == "" {
		version = DefaultKubernetesVersion
	}
	parts := strings.Split(version, ".")
	if len(parts) < 2 {
		return ""
	}
	patches := DefaultKubernetesVersions[parts[0]+"."+parts[1]]
	if len(patches) == 0 {
		return ""
	}
	if len(parts) == 2 {
		return patches[len(patches)-1]
	}
	for _, p := range patches {
		if p == version {
			return p
		}
	}
	return ""
}

// minor is the minor number of a version (1.33.2 -> 33), -1 if none.
func minor(version string) int {
	parts := strings.Split(version, ".")
	n := -1
	if len(parts) >= 2 {
		fmt.Sscan(parts[1], &n)
	}
	return n
}

// patch is the patch number of a version (1.33.2 -> 2), -1 if none.
func patch(version string) int {
	parts := strings.Split(version, ".")
	n := -1
	if len(parts) >= 3 {
		fmt.Sscan(parts[2], &n)
	}
	return n
}

// older reports whether version a is older than b (same major).
func older(a, b string) bool {
	if minor(a) != minor(b) {
		return minor(a) < minor(b)
	}
	return patch(a) < patch(b)
}

// upgradesFrom lists the versions AKS offers a control plane at version
// from, newest first, as its errors show them: the newer patches of its
// minor version and the patches of the next one.
func upgradesFrom(from string) string {
	var out []string
	for m, patches := range DefaultKubernetesVersions {
		if minor(m) != minor(from) && minor(m) != minor(from)+1 {
			continue
		}
		for _, p := range patches {
			if older(from, p) {
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return older(out[j], out[i]) })
	return "[" + strings.Join(out, " ") + "]"
}

// versionsIncompatible is AKS's 400 when a node pool's version and the
// control plane's break the rule that a pool runs at most two minor
// versions behind the control plane and never ahead of it.
func versionsIncompatible(pool, cp string) (int, string, string) {
	why := fmt.Sprintf("Minor version of node pool cannot be more than 2 versions less than control plane's version. Minor version of node pool is %d and control plane is %d", minor(pool), minor(cp))
	switch {
	case minor(pool) > minor(cp):
		why = fmt.Sprintf("Minor version of node pool version %d is bigger than control plane version %d", minor(pool), minor(cp))
	case minor(pool) == minor(cp):
		why = fmt.Sprintf("Patch version of node pool version %d is bigger than control plane version %d", patch(pool), patch(cp))
	}
	return http.StatusBadRequest, "NodePoolMcVersionIncompatible",
		fmt.Sprintf("Node pool version %s and control plane version %s are incompatible. %s. For more information, please check https://aka.ms/version-skew-policy", pool, cp, why)
}

// --- the rules AKS applies to what it is sent -----------------------------

var poolNameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// invalidParameter is AKS's 400 for one field, with the target it names.
func invalidParameter(field, details string) (int, string, string) {
	return http.StatusBadRequest, "InvalidParameter",
		fmt.Sprintf("The value of parameter %s is invalid. Error details: %s. Please see https://aka.ms/aks-naming-rules for more details.", field, details)
}

// checkPool applies AKS's rules to one agent pool; location is the
// cluster's region. It returns a zero status when AKS accepts the pool.
func (w *World) checkPool(name string, p *armcontainerservice.ManagedClusterAgentPoolProfileProperties, location string) (int, string, string) {
	if !poolNameRE.MatchString(name) {
		return invalidParameter("agentPoolProfile.name", fmt.Sprintf("The agent pool name %q is invalid: Linux pool names must start with a lowercase letter and have at most 12 lowercase letters and digits", name))
	}
	spot := deref(p.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot
	system := deref(p.Mode) == armcontainerservice.AgentPoolModeSystem
	if spot && system {
		return invalidParameter("agentPoolProfile.mode", fmt.Sprintf("Spot agent pool %s cannot be a System mode pool", name))
	}
	if deref(p.EnableAutoScaling) && system && deref(p.MinCount) < 1 {
		return invalidParameter("agentPoolProfile.minCount", fmt.Sprintf("System agent pool %s must have minCount of at least 1", name))
	}
	for k, v := range p.NodeLabels {
		if strings.HasPrefix(k, "kubernetes.azure.com/") && !(spot && k == "kubernetes.azure.com/scalesetpriority" && deref(v) == "spot") {
			return invalidParameter("agentPoolProfile.nodeLabels", fmt.Sprintf("Label key %s is reserved: the prefix kubernetes.azure.com/ is used by AKS", k))
		}
	}
	if spot && p.SpotMaxPrice != nil && *p.SpotMaxPrice != -1 {
		s := fmt.Sprint(*p.SpotMaxPrice)
		if i := strings.Index(s, "."); i >= 0 && len(s)-i-1 > 5 {
			return invalidParameter("agentPoolProfile.spotMaxPrice", "The spot max price must be -1 or a value with at most 5 digits after the decimal point")
		}
	}
	size := deref(p.VMSize)
	s := w.sku(size)
	if s == nil || s.Restricted != "" {
		return http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The VM size of %s is not allowed in your subscription in location '%s'. For more details, please visit https://aka.ms/aks/quotas-skus-regions", size, location)
	}
	if spot && !s.Spot {
		return http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("The VM size of %s is not allowed in your subscription in location '%s' for Spot. For more details, please visit https://aka.ms/aks/quotas-skus-regions", size, location)
	}
	return 0, "", ""
}

// checkQuota takes vCPUs for nodes that a write creates; it refuses, as
// Azure does, when a family, the regional total or Spot would exceed its
// limit. grow maps a pool's VM size and priority to the nodes it adds.
func (w *World) checkQuota(location string, grow []poolGrowth) (int, string, string) {
	need := map[string]int{}
	for _, g := range grow {
		s := w.sku(g.size)
		if s == nil || g.nodes <= 0 {
			continue
		}
		if g.spot {
			need["lowPriorityCores"] += g.nodes * s.VCPUs
			continue
		}
		need[s.Family] += g.nodes * s.VCPUs
		need["cores"] += g.nodes * s.VCPUs
	}
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		q := w.quotaLine(n)
		if q.used+need[n] > q.limit {
			what := fmt.Sprintf("approved %s Cores quota", n)
			if n == "cores" {
				what = "approved Total Regional Cores quota"
			} else if n == "lowPriorityCores" {
				what = "approved Low Priority Cores quota"
			}
			return http.StatusConflict, "QuotaExceeded", fmt.Sprintf("Operation could not be completed as it results in exceeding %s. Additional details - Deployment Model: Resource Manager, Location: %s, Current Limit: %d, Current Usage: %d, Additional Required: %d, (Minimum) New Limit Required: %d. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the 'Details' section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/per-vm-quota-requests",
				what, location, q.limit, q.used, need[n], q.used+need[n])
		}
	}
	for _, n := range names {
		w.quotaLine(n).used += need[n]
	}
	return 0, "", ""
}

// poolGrowth is the nodes a write adds to one pool.
type poolGrowth struct {
	size  string
	spot  bool
	nodes int
}

// versionRule checks a requested Kubernetes version against the region's
// table; a zero status means AKS accepts it.
func versionRule(version string) (int, string, string) {
	if patchOf(version) == "" {
		return http.StatusBadRequest, "K8sVersionNotSupported",
			fmt.Sprintf("Version %s is not supported in this region. Please use [az aks get-versions] command to get the supported version list in this region. For more information, please check https://aka.ms/supported-version-list", version)
	}
	return 0, "", ""
}

// clusterRules applies AKS's rules to a managed cluster PUT: the resource
// providers it needs, each pool's, at least one System pool, a version the
// region offers and at most one minor version up, and the vCPU quota of
// the nodes it adds. A zero status means AKS accepts it.
func (w *World) clusterRules(group, name string, mc *armcontainerservice.ManagedCluster, old *armcontainerservice.ManagedCluster) (int, string, string) {
	if code, msg := w.unregistered(); code != "" {
		return http.StatusConflict, code, msg
	}
	location := deref(mc.Location)
	pr := mc.Properties
	if pr == nil {
		pr = &armcontainerservice.ManagedClusterProperties{}
	}
	if v := deref(pr.KubernetesVersion); v != "" {
		if status, code, msg := versionRule(v); status != 0 {
			return status, code, msg
		}
	}
	if old != nil && old.Properties != nil {
		// AKS's own bodies (seen in public reports): 400
		// OperationNotAllowed for a downgrade and for a skipped minor
		// version, NodePoolMcVersionIncompatible for a pool left more
		// than two minor versions behind.
		from, to := deref(old.Properties.CurrentKubernetesVersion), patchOf(deref(pr.KubernetesVersion))
		if older(to, from) {
			return http.StatusBadRequest, "OperationNotAllowed", fmt.Sprintf("Downgrading Kubernetes version %s to %s is not allowed. Available upgrades: %s. Please see https://aka.ms/aks-supported-k8s-ver for version details.", from, to, upgradesFrom(from))
		}
		if minor(to) > minor(from)+1 {
			return http.StatusBadRequest, "OperationNotAllowed", fmt.Sprintf("Upgrading Kubernetes version %s to %s is not allowed. Available upgrades: %s. Please see https://aka.ms/aks-supported-k8s-ver for version details.", from, to, upgradesFrom(from))
		}
		for _, p := range w.pools[key(group, name)] {
			if pv := deref(p.Properties.CurrentOrchestratorVersion); minor(to) > minor(pv)+2 {
				return versionsIncompatible(pv, to)
			}
		}
	}
	if msg := identityRule(pr, old); msg != "" {
		return http.StatusBadRequest, "InvalidParameter", msg
	}
	if old != nil && len(pr.AgentPoolProfiles) == 0 {
		return 0, "", "" // the pools stay as they are
	}
	system := false
	var grow []poolGrowth
	for _, ap := range pr.AgentPoolProfiles {
		props := convert[armcontainerservice.ManagedClusterAgentPoolProfileProperties](ap)
		if status, code, msg := w.checkPool(deref(ap.Name), props, location); status != 0 {
			return status, code, msg
		}
		if v := deref(props.OrchestratorVersion); v != "" {
			if status, code, msg := versionRule(v); status != 0 {
				return status, code, msg
			}
		}
		system = system || deref(props.Mode) == armcontainerservice.AgentPoolModeSystem
		before := 0
		if old != nil {
			if prev := w.findPool(group, name, deref(ap.Name)); prev != nil {
				before = int(deref(prev.Properties.Count))
			}
		}
		grow = append(grow, poolGrowth{size: deref(props.VMSize), spot: deref(props.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot, nodes: int(deref(props.Count)) - before})
	}
	if !system {
		return http.StatusBadRequest, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool."
	}
	return w.checkQuota(location, grow)
}

// poolRules applies AKS's rules to an agent pool PUT on cluster mc: the
// pool's own, a version at most two minor versions behind the control
// plane and never ahead of it (a pool may skip minor versions within
// that; a Spot pool is never upgraded in place), a System pool left in
// the cluster, and the vCPU quota of the nodes it adds.
func (w *World) poolRules(mc *armcontainerservice.ManagedCluster, name string, p *armcontainerservice.ManagedClusterAgentPoolProfileProperties, old *armcontainerservice.AgentPool) (int, string, string) {
	if code, msg := w.unregistered(); code != "" {
		return http.StatusConflict, code, msg
	}
	if pw := mc.Properties.PowerState; pw != nil && deref(pw.Code) == armcontainerservice.CodeStopped {
		return http.StatusBadRequest, "OperationNotAllowed", "Operation is not allowed because the managed cluster is stopped. Please start the managed cluster and try again."
	}
	location := deref(mc.Location)
	if status, code, msg := w.checkPool(name, p, location); status != 0 {
		return status, code, msg
	}
	cp := deref(mc.Properties.CurrentKubernetesVersion)
	if v := deref(p.OrchestratorVersion); v != "" {
		if status, code, msg := versionRule(v); status != 0 {
			return status, code, msg
		}
		to := patchOf(v)
		if older(cp, to) || minor(to) < minor(cp)-2 {
			return versionsIncompatible(to, cp)
		}
		if old != nil {
			from := deref(old.Properties.CurrentOrchestratorVersion)
			if to != from && deref(p.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot {
				return http.StatusBadRequest, "OperationNotAllowed", fmt.Sprintf("Upgrading Spot agent pool %s is not supported: create a new Spot pool with version %s and delete this one", name, to)
			}
		}
	}
	if old != nil && deref(old.Properties.Mode) == armcontainerservice.AgentPoolModeSystem && deref(p.Mode) != armcontainerservice.AgentPoolModeSystem {
		system := false
		for _, q := range w.pools[key(groupOf(deref(mc.ID)), deref(mc.Name))] {
			if q != old && deref(q.Properties.Mode) == armcontainerservice.AgentPoolModeSystem {
				system = true
			}
		}
		if !system {
			return http.StatusBadRequest, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool."
		}
	}
	before := 0
	if old != nil {
		before = int(deref(old.Properties.Count))
	}
	return w.checkQuota(location, []poolGrowth{{size: deref(p.VMSize), spot: deref(p.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot, nodes: int(deref(p.Count)) - before}})
}

// groupOf is the resource group name in a resource id.
func groupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

func (w *World) startCluster(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientBeginStartOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientStartResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	mc := w.clusters[key(group, name)]
	if mc == nil {
		w.refuse(&errResp, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.ContainerService/managedClusters/%s' under resource group '%s' was not found.", name, group))
		return
	}
	mc.Properties.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	for _, p := range w.pools[key(group, name)] {
		p.Properties.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	}
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusAccepted)
	resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientStartResponse{}, nil)
	return
}
