package azure

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// systemPrefix marks the node labels and taints AKS adds by itself (for
// example kubernetes.azure.com/scalesetpriority on Spot pools); dhub never
// sets or compares them.
const systemPrefix = "kubernetes.azure.com/"

// tags returns the tags of everything dhub creates for hub h; createdGroup
// adds TagCreatedGroup, for the resource group only.
func tags(h *config.Hub, createdGroup bool) map[string]*string {
	t := map[string]*string{TagHub: to.Ptr(h.Name), TagManaged: to.Ptr("true")}
	if createdGroup {
		t[TagCreatedGroup] = to.Ptr("true")
	}
	return t
}

// desiredGroup is the resource group dhub creates.
func desiredGroup(h *config.Hub) armresources.ResourceGroup {
	return armresources.ResourceGroup{Location: to.Ptr(h.Azure.Location), Tags: tags(h, true)}
}

// dnsPrefix is the cluster's DNS prefix: the hub's name, which config
// validates as a DNS label, cut to AKS's 54 characters.
func dnsPrefix(h *config.Hub) string {
	p := h.Name
	if len(p) > 54 {
		p = strings.TrimRight(p[:54], "-")
	}
	return p
}

// desiredNetwork maps azure.networkPolicy to the cluster's network profile:
// Azure CNI in overlay mode (no subnet to plan), with the policy engine
// asked for; cilium also needs the Cilium dataplane.
func desiredNetwork(policy string) *armcontainerservice.NetworkProfile {
	np := &armcontainerservice.NetworkProfile{
		NetworkPlugin:     to.Ptr(armcontainerservice.NetworkPluginAzure),
		NetworkPluginMode: to.Ptr(armcontainerservice.NetworkPluginModeOverlay),
		LoadBalancerSKU:   to.Ptr(armcontainerservice.LoadBalancerSKUStandard),
	}
	switch policy {
	case "azure":
		np.NetworkPolicy = to.Ptr(armcontainerservice.NetworkPolicyAzure)
	case "calico":
		np.NetworkPolicy = to.Ptr(armcontainerservice.NetworkPolicyCalico)
	case "cilium":
		np.NetworkPolicy = to.Ptr(armcontainerservice.NetworkPolicyCilium)
		np.NetworkDataplane = to.Ptr(armcontainerservice.NetworkDataplaneCilium)
	case "none", "":
		np.NetworkPolicy = to.Ptr(armcontainerservice.NetworkPolicyNone)
	}
	return np
}

// desiredCluster is the managed cluster dhub creates, with all its node
// pools, so that a new cluster costs one long-running operation.
func desiredCluster(h *config.Hub) armcontainerservice.ManagedCluster {
	a := h.Azure
	props := &armcontainerservice.ManagedClusterProperties{
		DNSPrefix:      to.Ptr(dnsPrefix(h)),
		EnableRBAC:     to.Ptr(true),
		NetworkProfile: desiredNetwork(a.NetworkPolicy),
	}
	if a.KubernetesVersion != "" {
		props.KubernetesVersion = to.Ptr(a.KubernetesVersion)
	}
	for _, p := range a.NodePools {
		pp := desiredPool(h, p)
		props.AgentPoolProfiles = append(props.AgentPoolProfiles, profileOf(p.Name, pp))
	}
	if a.Storage.Scratch.On() {
		setWorkloadIdentity(props)
	}
	return armcontainerservice.ManagedCluster{
		Location:   to.Ptr(a.Location),
		Tags:       tags(h, false),
		Identity:   &armcontainerservice.ManagedClusterIdentity{Type: to.Ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: props,
	}
}

// poolMode is System for the pools that run the hub and Kubernetes' own
// pods (roles core and all), User otherwise.
func poolMode(r config.PoolRole) armcontainerservice.AgentPoolMode {
	if r == config.RoleCore || r == config.RoleAll {
		return armcontainerservice.AgentPoolModeSystem
	}
	return armcontainerservice.AgentPoolModeUser
}

// poolLabels are the role's labels (config.RoleLabels) plus the user's.
func poolLabels(p config.NodePool) map[string]string {
	l := map[string]string{}
	maps.Copy(l, config.RoleLabels(p.Role))
	maps.Copy(l, p.Labels)
	return l
}

// desiredPool maps one config node pool to the agent pool properties AKS
// takes, both inside the managed cluster and through the agent pools API.
func desiredPool(h *config.Hub, p config.NodePool) *armcontainerservice.ManagedClusterAgentPoolProfileProperties {
	pp := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Type:   to.Ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
		OSType: to.Ptr(armcontainerservice.OSTypeLinux),
		Mode:   to.Ptr(poolMode(p.Role)),
		VMSize: to.Ptr(p.VMSize),
		Tags:   tags(h, false),
	}
	count := 1
	if p.Count != nil {
		count = *p.Count
	}
	pp.Count = to.Ptr(int32(count))
	if a := p.Autoscale; a != nil {
		pp.EnableAutoScaling = to.Ptr(true)
		pp.MinCount = to.Ptr(int32(a.Min))
		pp.MaxCount = to.Ptr(int32(a.Max))
	} else {
		pp.EnableAutoScaling = to.Ptr(false)
	}
	if l := poolLabels(p); len(l) > 0 {
		pp.NodeLabels = map[string]*string{}
		for k, v := range l {
			pp.NodeLabels[k] = to.Ptr(v)
		}
	}
	for _, t := range p.Taints {
		pp.NodeTaints = append(pp.NodeTaints, to.Ptr(t))
	}
	if s := p.Spot; s != nil {
		pp.ScaleSetPriority = to.Ptr(armcontainerservice.ScaleSetPrioritySpot)
		pp.ScaleSetEvictionPolicy = to.Ptr(armcontainerservice.ScaleSetEvictionPolicy(s.Eviction))
		price := -1.0
		if s.MaxPrice != nil {
			price = *s.MaxPrice
		}
		pp.SpotMaxPrice = to.Ptr(float32(price))
	}
	return pp
}

// profileOf turns agent pool properties into the managed cluster's
// agentPoolProfiles entry of the same pool (the same fields plus the name).
func profileOf(name string, pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties) *armcontainerservice.ManagedClusterAgentPoolProfile {
	return &armcontainerservice.ManagedClusterAgentPoolProfile{
		Name:                       to.Ptr(name),
		Type:                       pp.Type,
		OSType:                     pp.OSType,
		Mode:                       pp.Mode,
		VMSize:                     pp.VMSize,
		Count:                      pp.Count,
		EnableAutoScaling:          pp.EnableAutoScaling,
		MinCount:                   pp.MinCount,
		MaxCount:                   pp.MaxCount,
		NodeLabels:                 pp.NodeLabels,
		NodeTaints:                 pp.NodeTaints,
		ScaleSetPriority:           pp.ScaleSetPriority,
		ScaleSetEvictionPolicy:     pp.ScaleSetEvictionPolicy,
		SpotMaxPrice:               pp.SpotMaxPrice,
		Tags:                       pp.Tags,
		OrchestratorVersion:        pp.OrchestratorVersion,
		ProvisioningState:          pp.ProvisioningState,
		CurrentOrchestratorVersion: pp.CurrentOrchestratorVersion,
		PowerState:                 pp.PowerState,
	}
}

// propertiesOf is the reverse of profileOf, for the fields dhub reads.
func propertiesOf(ap *armcontainerservice.ManagedClusterAgentPoolProfile) *armcontainerservice.ManagedClusterAgentPoolProfileProperties {
	return &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Type:                       ap.Type,
		OSType:                     ap.OSType,
		Mode:                       ap.Mode,
		VMSize:                     ap.VMSize,
		Count:                      ap.Count,
		EnableAutoScaling:          ap.EnableAutoScaling,
		MinCount:                   ap.MinCount,
		MaxCount:                   ap.MaxCount,
		NodeLabels:                 ap.NodeLabels,
		NodeTaints:                 ap.NodeTaints,
		ScaleSetPriority:           ap.ScaleSetPriority,
		ScaleSetEvictionPolicy:     ap.ScaleSetEvictionPolicy,
		SpotMaxPrice:               ap.SpotMaxPrice,
		Tags:                       ap.Tags,
		OrchestratorVersion:        ap.OrchestratorVersion,
		ProvisioningState:          ap.ProvisioningState,
		CurrentOrchestratorVersion: ap.CurrentOrchestratorVersion,
		PowerState:                 ap.PowerState,
	}
}

// describePool is the one-line summary of a pool in plans and status.
func describePool(pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties) string {
	var parts []string
	parts = append(parts, string(deref(pp.Mode)), deref(pp.VMSize))
	if isSpot(pp) {
		price := "up to the on-demand price"
		if pp.SpotMaxPrice != nil && *pp.SpotMaxPrice != -1 {
			price = fmt.Sprintf("at most %g USD/hour", *pp.SpotMaxPrice)
		}
		parts = append(parts, fmt.Sprintf("Spot (eviction %s, %s)", deref(pp.ScaleSetEvictionPolicy), price))
	}
	if deref(pp.EnableAutoScaling) {
		parts = append(parts, fmt.Sprintf("autoscale %d..%d (%d at start)", deref(pp.MinCount), deref(pp.MaxCount), deref(pp.Count)))
	} else {
		parts = append(parts, plan.Count(int(deref(pp.Count)), "node"))
	}
	if l := userLabels(pp.NodeLabels); len(l) > 0 {
		parts = append(parts, "labels "+joinMap(l))
	}
	if t := userTaints(pp.NodeTaints); len(t) > 0 {
		parts = append(parts, "taints "+strings.Join(t, ","))
	}
	return strings.Join(parts, ", ")
}

// isSpot reports whether a pool runs on Spot VMs.
func isSpot(pp *armcontainerservice.ManagedClusterAgentPoolProfileProperties) bool {
	return deref(pp.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot
}

// userLabels are a pool's node labels without the ones AKS adds itself.
func userLabels(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !strings.HasPrefix(k, systemPrefix) {
			out[k] = deref(v)
		}
	}
	return out
}

// userTaints are a pool's taints without the ones AKS adds itself, sorted.
func userTaints(ts []*string) []string {
	var out []string
	for _, t := range ts {
		if s := deref(t); !strings.HasPrefix(s, systemPrefix) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// joinMap renders a map as k=v pairs sorted by key.
func joinMap(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
