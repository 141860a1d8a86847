package config

import (
	"crypto/sha256"
	"encoding/base32"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dhub/internal/charts"
)

// Defaults that the Azure guide and today's charts settle; docs/guide-parity.md
// sets each next to the guide's choice.
const (
	DefaultNamespace     = "dhub"
	DefaultResourceGroup = "pangeo"
	DefaultLocation      = "westeurope"
	DefaultClusterName   = "pangeoCluster"
	DefaultNetworkPolicy = "azure"
	// DefaultCurrency is the currency Azure sets its prices in; the
	// others are the API's conversions, for reference.
	DefaultCurrency = "USD"
	// DefaultImage is pinned: "latest" would change under a running hub.
	DefaultImage       = "pangeo/pangeo-notebook:2025.08.14"
	DefaultDefaultURL  = "/lab"
	DefaultStorageSize = "10Gi"
	DefaultIdleTimeout = time.Hour
	// DefaultDaskIdleTimeout shuts down forgotten clusters; the gateway's own
	// default (never) leaves Spot workers running all night.
	DefaultDaskIdleTimeout = time.Hour
	DefaultLocalHost       = "127.0.0.1"
	DefaultLocalPort       = 8000
	DefaultLocalPython     = "python3"
	DefaultAdminUser       = "admin"

	// LabelNodePurpose and LabelDaskWorker are the node labels the charts
	// schedule by.
	LabelNodePurpose = "hub.jupyter.org/node-purpose"
	LabelDaskWorker  = "k8s.dask.org/dedicated"
)

// VMSizePreference is the order in which dhub picks a pool's VM size when
// dhub.yaml names none: general-purpose sizes of 2 vCPUs and 8 GiB (the
// guide's Standard_D2s_v3 and its successors, which AKS accepts for system
// pools and offers as Spot), newest first. The first one the subscription
// may use in the region wins; sizes are restricted per subscription and
// region, so a fixed default fails on many new subscriptions.
var VMSizePreference = []string{
	"Standard_D2s_v5", "Standard_D2as_v5", "Standard_D2ds_v5", "Standard_D2s_v4",
	"Standard_D2as_v4", "Standard_D2s_v3", "Standard_DS2_v2",
}

// DefaultDNSLabel is the DNS label of an Azure hub that sets none: its name,
// a dash and six characters of a hash of the subscription (when dhub.yaml
// names it), resource group, cluster and region. It is stable for one
// deployment and differs between deployments that keep the guide's names.
func DefaultDNSLabel(h *Hub) string {
	a := h.Azure
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join([]string{a.Subscription, a.ResourceGroup, a.ClusterName, a.Location, h.Name}, "/"))))
	suffix := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:6]
	name := h.Name
	if len(name) > 63-7 {
		name = strings.TrimRight(name[:63-7], "-")
	}
	return name + "-" + suffix
}

// DefaultStorageAccount is the storage account name of an Azure hub's
// scratch container: "dhub", the hub's letters and digits, and a suffix
// derived as DefaultDNSLabel's is, at most 24 characters, since storage
// account names are unique across all of Azure.
func DefaultStorageAccount(h *Hub) string {
	a := h.Azure
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join([]string{"storage", a.Subscription, a.ResourceGroup, a.Location, h.Name}, "/"))))
	return storageAccountFor(h.Name, strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:6])
}

// DefaultRetentionDays is how long scratch blobs live by default, as at
// 2i2c's hubs.
const DefaultRetentionDays = 7

// ProfilePools returns the node pools a profile creates, as in the guide.
func ProfilePools(p Profile) []NodePool {
	if p == ProfileSimple {
		return []NodePool{{Name: "nodepool1", Role: RoleAll, Count: ptr(1), Autoscale: &Autoscale{Min: 1, Max: 5}}}
	}
	return []NodePool{
		{Name: "core", Role: RoleCore, Count: ptr(1)},
		{Name: "users", Role: RoleUser, Count: ptr(1), Autoscale: &Autoscale{Min: 0, Max: 10}},
		{Name: "workers", Role: RoleWorker, Count: ptr(1), Autoscale: &Autoscale{Min: 0, Max: 50}, Spot: &Spot{}},
	}
}

// RoleLabels returns the node labels a pool of role r carries.
func RoleLabels(r PoolRole) map[string]string {
	switch r {
	case RoleCore:
		return map[string]string{LabelNodePurpose: "core"}
	case RoleUser:
		return map[string]string{LabelNodePurpose: "user"}
	case RoleWorker:
		return map[string]string{LabelDaskWorker: "worker"}
	}
	return nil
}

// SetDefaults fills every field left at its zero value, from the profile and
// the target. It is idempotent. Load defaults only the fields the file leaves
// out: an explicit 0 there is kept (and Validate refuses it where it makes
// no sense), never replaced.
func (h *Hub) SetDefaults() { h.setDefaults(func(string) bool { return false }) }

// setDefaults is SetDefaults where set reports the field paths the file
// gave a value; the numbers for which 0 is a value are defaulted only when
// not set.
func (h *Hub) setDefaults(set func(path string) bool) {
	def(&h.APIVersion, APIVersion)
	def(&h.Kind, Kind)
	def(&h.Target, TargetLocal)
	def(&h.Profile, ProfileRecommended)
	def(&h.Namespace, DefaultNamespace)

	if h.Target == TargetAzure {
		a := &h.Azure
		def(&a.ResourceGroup, DefaultResourceGroup)
		def(&a.Location, DefaultLocation)
		def(&a.ClusterName, DefaultClusterName)
		def(&a.NetworkPolicy, DefaultNetworkPolicy)
		def(&a.Currency, DefaultCurrency)
		if b := a.Budget; b != nil && len(b.Actual) == 0 && len(b.Forecast) == 0 {
			b.Actual, b.Forecast = []float64{80, 100}, []float64{100}
		}
		if sc := &a.Storage.Scratch; sc.Enabled == nil {
			sc.Enabled = ptr(h.Profile == ProfileRecommended)
		}
		if a.Storage.Scratch.On() {
			defUnset(set("azure.storage.scratch.retentionDays"), &a.Storage.Scratch.RetentionDays, DefaultRetentionDays)
		}
		if a.NodePools == nil {
			a.NodePools = ProfilePools(h.Profile)
		}
		for i := range a.NodePools {
			p := &a.NodePools[i]
			if p.Role == "" && len(a.NodePools) == 1 {
				p.Role = RoleAll
			}
			if p.Count == nil {
				n := 1
				if p.Autoscale != nil && p.Autoscale.Min > 1 {
					n = p.Autoscale.Min
				}
				p.Count = &n
			}
			if p.Spot != nil {
				if p.Spot.MaxPrice == nil {
					p.Spot.MaxPrice = ptr(-1.0)
				}
				def(&p.Spot.Eviction, "Delete")
			}
		}
	}

	if h.Target == TargetLocal {
		l := &h.Local
		def(&l.Host, DefaultLocalHost)
		defUnset(set("local.port"), &l.Port, DefaultLocalPort)
		def(&l.Python, DefaultLocalPython)
	}

	j := &h.JupyterHub
	def(&j.Image, DefaultImage)
	def(&j.DefaultURL, DefaultDefaultURL)
	if h.Target == TargetAzure && h.Name != "" {
		def(&h.Azure.DNSLabel, DefaultDNSLabel(h))
		def(&j.Host, h.Azure.DNSLabel+"."+h.Azure.Location+".cloudapp.azure.com")
		if h.Azure.Storage.Scratch.On() {
			def(&h.Azure.Storage.Scratch.AccountName, DefaultStorageAccount(h))
		}
	}
	if j.HTTPS.Enabled == nil {
		j.HTTPS.Enabled = ptr(h.Profile == ProfileRecommended && h.Target != TargetLocal)
	}
	if j.Auth.Type == "" {
		switch {
		case h.Target == TargetLocal:
			j.Auth.Type = AuthPassword
		case h.Profile == ProfileSimple:
			// The guide's simple hub lets anyone in under any name; dhub's
			// logs in the admin with a generated password, and 'none' is
			// an explicit choice.
			j.Auth.Type = AuthPassword
		default:
			j.Auth.Type = AuthAzureAD
		}
	}
	if j.Auth.Type == AuthPassword {
		if j.Auth.Password == nil {
			j.Auth.Password = &Password{}
		}
		def(&j.Auth.Password.AdminUser, DefaultAdminUser)
	}
	if j.IdleCulling.Enabled == nil {
		j.IdleCulling.Enabled = ptr(true)
	}
	defUnset(set("hub.idleCulling.timeout"), &j.IdleCulling.Timeout, DefaultIdleTimeout)
	def(&j.Storage.Size, DefaultStorageSize)
	if h.Target != TargetLocal {
		def(&j.Expose.Type, ExposeLoadBalancer)
	}
	if c := j.HTTPS.CertManager; c != nil {
		def(&c.Kind, "ClusterIssuer")
	}

	d := &h.Dask
	def(&d.Image, j.Image)
	// Bounds default field by field: {max: 8} keeps the default and min. On
	// Azure they fit the worker pool's VMs, so a worker of the largest
	// size can be scheduled.
	cores, memory := Bounds{Default: 1, Min: 1, Max: 16}, Bounds{Default: 2, Min: 1, Max: 32}
	if pool, _ := h.WorkerNodes(); h.Target == TargetAzure && pool != nil {
		if size, ok := PoolVMSize(pool); ok {
			cores, memory = workerBoundsFor(size)
		}
	}
	for _, b := range []struct {
		path string
		b    *Bounds
		def  Bounds
	}{
		{"dask.workerCores", &d.WorkerCores, cores},
		{"dask.workerMemoryGiB", &d.WorkerMemory, memory},
	} {
		defUnset(set(b.path+".default"), &b.b.Default, b.def.Default)
		defUnset(set(b.path+".min"), &b.b.Min, b.def.Min)
		defUnset(set(b.path+".max"), &b.b.Max, b.def.Max)
	}
	if d.IdleTimeout == nil {
		d.IdleTimeout = ptr(DefaultDaskIdleTimeout)
	}
	if d.EndWithServer == nil {
		d.EndWithServer = ptr(true)
	}

	c := &h.Charts
	// The charts package holds the versions dhub installs, with the
	// defaults and schemas of exactly those versions.
	def(&c.JupyterHub.Version, charts.JupyterHub.Version)
	def(&c.JupyterHub.Repository, charts.JupyterHub.Repository)
	def(&c.DaskGateway.Version, charts.DaskGateway.Version)
	def(&c.DaskGateway.Repository, charts.DaskGateway.Repository)
}

// PoolRoles returns the roles for which the hub's cluster has dedicated
// nodes: from the node pools on Azure, from kubernetes.nodeRoles otherwise.
func (h *Hub) PoolRoles() map[PoolRole]bool {
	roles := map[PoolRole]bool{}
	switch h.Target {
	case TargetAzure:
		for _, p := range h.Azure.NodePools {
			roles[p.Role] = true
		}
	case TargetKubernetes:
		for _, r := range h.Kubernetes.NodeRoles {
			roles[r] = true
		}
	}
	return roles
}

// HTTPSEnabled reports whether the hub serves HTTPS.
func (h *Hub) HTTPSEnabled() bool {
	return h.JupyterHub.HTTPS.Enabled != nil && *h.JupyterHub.HTTPS.Enabled
}

// AutoHTTPS reports whether the JupyterHub chart's own autohttps pod gets
// the hub's certificate from Let's Encrypt: HTTPS without an Ingress, which
// would terminate TLS in front of it.
func (h *Hub) AutoHTTPS() bool {
	return h.HTTPSEnabled() && h.JupyterHub.Expose.Type != ExposeIngress
}

// IdleCullingEnabled reports whether idle user servers are stopped.
func (h *Hub) IdleCullingEnabled() bool {
	return h.JupyterHub.IdleCulling.Enabled == nil || *h.JupyterHub.IdleCulling.Enabled
}

// ExpandHome replaces a leading ~ or ~/ of a path in dhub.yaml with the
// home directory of the user running dhub. ~user is not expanded (Validate
// refuses it where a path must be absolute).
func ExpandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// expandPaths expands ~ in every path dhub.yaml holds, once at load, so
// that every path is read the same way wherever it is used.
func (h *Hub) expandPaths() {
	h.Local.StateDir = ExpandHome(h.Local.StateDir)
	if strings.Contains(h.Local.Python, "/") {
		h.Local.Python = ExpandHome(h.Local.Python)
	}
	h.Kubernetes.Kubeconfig = ExpandHome(h.Kubernetes.Kubeconfig)
	h.Charts.JupyterHub.Path = ExpandHome(h.Charts.JupyterHub.Path)
	h.Charts.DaskGateway.Path = ExpandHome(h.Charts.DaskGateway.Path)
	for _, ref := range h.secretRefs() {
		ref.ref.FromFile = ExpandHome(ref.ref.FromFile)
	}
}

// fieldRef is a secret reference and its field path.
type fieldRef struct {
	path string
	ref  *SecretRef
}

// secretRefs returns every secret reference of the hub with its field path.
func (h *Hub) secretRefs() []fieldRef {
	var out []fieldRef
	a := &h.JupyterHub.Auth
	if a.AzureAD != nil {
		out = append(out, fieldRef{"hub.auth.azuread.clientSecret", &a.AzureAD.ClientSecret})
	}
	if a.Password != nil {
		out = append(out, fieldRef{"hub.auth.password.adminPassword", &a.Password.AdminPassword},
			fieldRef{"hub.auth.password.userPassword", &a.Password.UserPassword})
	}
	return out
}

// defUnset is def for a field the file may set to 0 on purpose: only when
// it did not set it.
func defUnset[T comparable](set bool, p *T, v T) {
	if !set {
		def(p, v)
	}
}

// def sets *p to v when *p is the zero value.
func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func ptr[T any](v T) *T { return &v }
