package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	testTenantID = "11111111-2222-3333-4444-555555555555"
	testClientID = "66666666-7777-8888-9999-aaaaaaaaaaaa"
	testEmail    = "admin@example.org"
	testUser     = "someone@example.org"
	testSecret   = "DHUB_AZUREAD_CLIENT_SECRET"
)

// azureHub is the smallest valid azure hub of the recommended profile:
// what the defaults cannot know (contact email, app registration, who may
// log in), with defaults applied.
func azureHub() *Hub {
	h := &Hub{Name: "pangeo-hub", Target: TargetAzure, Profile: ProfileRecommended}
	h.JupyterHub.HTTPS.ContactEmail = testEmail
	h.JupyterHub.Auth.AzureAD = &AzureAD{
		TenantID:     testTenantID,
		ClientID:     testClientID,
		ClientSecret: SecretRef{FromEnv: testSecret},
		Access:       Access{AllowedUsers: []string{testUser}},
	}
	h.SetDefaults()
	return h
}

// localHub is a defaulted local hub: shared-password auth, admin only.
func localHub() *Hub {
	h := &Hub{Name: "lab-hub", Target: TargetLocal}
	h.SetDefaults()
	return h
}

func TestBaselinesAreValid(t *testing.T) {
	for name, h := range map[string]*Hub{"azure": azureHub(), "local": localHub()} {
		if ps := h.Validate(); len(ps) != 0 {
			t.Errorf("%s baseline has problems: %v", name, ps)
		}
	}
	// The azure baseline is also a valid kubernetes hub (it has a host).
	h := azureHub()
	h.Target = TargetKubernetes
	if ps := h.Validate(); len(ps) != 0 {
		t.Errorf("azure baseline as target kubernetes has problems: %v", ps)
	}
}

// kubeHub is the azure baseline as a kubernetes hub.
func kubeHub() *Hub {
	h := azureHub()
	h.Target = TargetKubernetes
	return h
}

type ruleCase struct {
	name    string
	base    func() *Hub
	mutate  func(h *Hub)
	path    string
	msg     string // a substring of the message (the whole message when exact)
	warning bool
	exact   bool
}

func pool(i int, f func(p *NodePool)) func(h *Hub) {
	return func(h *Hub) { f(&h.Azure.NodePools[i]) }
}

// scratch sets hub.storage.scratch.
func scratch(url, secret string) func(h *Hub) {
	return func(h *Hub) { h.JupyterHub.Storage.Scratch = &Scratch{URL: url, CredentialsSecret: secret} }
}

// budget changes a budget that validates as it is.
func budget(f func(b *Budget)) func(h *Hub) {
	return func(h *Hub) {
		h.Azure.Budget = &Budget{Amount: 500, Actual: []float64{80, 100}, Forecast: []float64{100}, ContactEmails: []string{"ops@example.org"}}
		f(h.Azure.Budget)
	}
}

func ad(f func(a *AzureAD)) func(h *Hub) {
	return func(h *Hub) { f(h.JupyterHub.Auth.AzureAD) }
}

func pw(f func(p *Password)) func(h *Hub) {
	return func(h *Hub) { f(h.JupyterHub.Auth.Password) }
}

func jhValues(v map[string]any) func(h *Hub) {
	return func(h *Hub) { h.Charts.JupyterHub.Values = v }
}

func dgValues(v map[string]any) func(h *Hub) {
	return func(h *Hub) { h.Charts.DaskGateway.Values = v }
}

func validateRules() []ruleCase {
	az, lo, kube := azureHub, localHub, kubeHub
	return []ruleCase{
		// The hub itself.
		{"apiVersion", az, func(h *Hub) { h.APIVersion = "dhub/v1" }, "apiVersion", `"dhub/v1" is not supported; use dhub/v1alpha1`, false, true},
		{"kind", az, func(h *Hub) { h.Kind = "Cluster" }, "kind", `"Cluster" is not supported`, false, false},
		{"name required", az, func(h *Hub) { h.Name = "" }, "name", "required: the hub's name", false, false},
		{"name not a DNS label", az, func(h *Hub) { h.Name = "Pangeo_Hub" }, "name", `"Pangeo_Hub" is not a DNS label`, false, false},
		{"name too short", lo, func(h *Hub) { h.Name = "ab" }, "name", `"ab" is not a DNS label: use 3 to 63`, false, false},
		{"name too long", lo, func(h *Hub) { h.Name = "a" + strings.Repeat("b", 63) }, "name", "is not a DNS label", false, false},
		{"target", az, func(h *Hub) { h.Target = "gcp" }, "target", `"gcp" is not one of local, kubernetes, azure`, false, true},
		{"profile", az, func(h *Hub) { h.Profile = "huge" }, "profile", `"huge" is not one of simple, recommended`, false, true},
		{"namespace", az, func(h *Hub) { h.Namespace = "Science NS" }, "namespace", `"Science NS" is not a Kubernetes namespace name`, false, false},
		{"kubernetes node role", az, func(h *Hub) {
			h.Target = TargetKubernetes
			h.Kubernetes.NodeRoles = []PoolRole{RoleCore, RoleAll}
		}, "kubernetes.nodeRoles[1]", `"all" is not one of core, user, worker`, false, true},

		// Azure.
		{"subscription", az, func(h *Hub) { h.Azure.Subscription = "my-sub" }, "azure.subscription", `"my-sub" is not a subscription id (a GUID)`, false, false},
		{"resource group", az, func(h *Hub) { h.Azure.ResourceGroup = "pangeo." }, "azure.resourceGroup", `"pangeo." is not a resource group name`, false, false},
		{"resource group empty", az, func(h *Hub) { h.Azure.ResourceGroup = "" }, "azure.resourceGroup", "is not a resource group name", false, false},
		{"location", az, func(h *Hub) { h.Azure.Location = "West Europe" }, "azure.location", `"West Europe" is not an Azure region name`, false, false},
		{"cluster name", az, func(h *Hub) { h.Azure.ClusterName = "-pangeo" }, "azure.clusterName", `"-pangeo" is not an AKS cluster name`, false, false},
		{"kubernetes version", az, func(h *Hub) { h.Azure.KubernetesVersion = "v1.33" }, "azure.kubernetesVersion", `"v1.33" is not a Kubernetes version`, false, false},
		{"network policy", az, func(h *Hub) { h.Azure.NetworkPolicy = "weave" }, "azure.networkPolicy", `"weave" is not one of azure, calico, cilium, none`, false, true},
		{"network policy none", az, func(h *Hub) { h.Azure.NetworkPolicy = "none" }, "azure.networkPolicy", "does not enforce the charts' NetworkPolicies", true, false},
		{"currency", az, func(h *Hub) { h.Azure.Currency = "eur" }, "azure.currency", `"eur" is not one of USD, AUD, BRL, CAD, CHF, CNY, DKK, EUR, GBP, INR, JPY, KRW, NOK, NZD, RUB, SEK, TWD`, false, true},
		{"no node pools", az, func(h *Hub) { h.Azure.NodePools = nil }, "azure.nodePools", "at least one node pool is required", false, true},
		{"scratch on azure", az, scratch("s3://b", ""), "hub.storage.scratch", "is read on the kubernetes target only", false, true},
		{"scratch url", kube, scratch("https://bucket.example.org/x", ""), "hub.storage.scratch.url", `"https://bucket.example.org/x" is not a bucket URL such as s3://my-bucket/scratch (schemes: s3, gs, gcs, az, abfs, abfss)`, false, true},
		{"scratch url empty", kube, scratch("", ""), "hub.storage.scratch.url", "required: the bucket or container users write to", false, false},
		{"scratch url with a key", kube, scratch("s3://AKIA:secret@bucket/x", ""), "hub.storage.scratch.url", "holds credentials, a query or a fragment", false, false},
		{"scratch url with a SAS", kube, scratch("az://container/x?sig=abc", ""), "hub.storage.scratch.url", "holds credentials, a query or a fragment", false, false},
		{"scratch secret", kube, scratch("gs://bucket", "Bucket_Keys"), "hub.storage.scratch.credentialsSecret", `"Bucket_Keys" is not a Secret name`, false, false},
		{"budget amount", az, budget(func(b *Budget) { b.Amount = 0 }), "azure.budget.amount", "0: a budget's monthly amount must be more than 0", false, true},
		{"budget threshold", az, budget(func(b *Budget) { b.Forecast = []float64{1200} }), "azure.budget.forecast[0]", "1200: a threshold is a percentage of the amount, more than 0 and at most 1000", false, true},
		{"budget threshold twice", az, budget(func(b *Budget) { b.Actual = []float64{80, 80} }), "azure.budget.actual[1]", "80 is listed twice", false, true},
		{"budget notifications", az, budget(func(b *Budget) { b.Actual = []float64{50, 80, 100}; b.Forecast = []float64{100, 120, 150} }),
			"azure.budget", "6 thresholds (actual and forecast): Azure allows a budget 5 notifications", false, true},
		{"budget no contact", az, budget(func(b *Budget) { b.ContactEmails = nil }), "azure.budget.contactEmails", "required: at least one e-mail address", false, false},
		{"budget contact", az, budget(func(b *Budget) { b.ContactEmails = []string{"ops@example.org", "ops"} }), "azure.budget.contactEmails[1]", `"ops" is not an e-mail address`, false, false},

		{"no system pool", az, pool(0, func(p *NodePool) { p.Role = RoleUser }), "azure.nodePools", "AKS needs a system pool", false, false},
		{"duplicate pool name", az, pool(2, func(p *NodePool) { p.Name = "users" }), "azure.nodePools[2].name", `"users" is used by another pool`, false, true},

		// Node pools.
		{"pool name", az, pool(1, func(p *NodePool) { p.Name = "Users_1" }), "azure.nodePools[1].name", `"Users_1" is not an AKS pool name`, false, false},
		{"pool name too long", az, pool(1, func(p *NodePool) { p.Name = "userpoolnumber1" }), "azure.nodePools[1].name", "is not an AKS pool name", false, false},
		{"pool role required", az, pool(1, func(p *NodePool) { p.Role = "" }), "azure.nodePools[1].role", "required when there is more than one pool", false, false},
		{"pool role", az, pool(1, func(p *NodePool) { p.Role = "gpu" }), "azure.nodePools[1].role", `"gpu" is not one of core, user, worker, all`, false, true},
		{"vm size", az, pool(1, func(p *NodePool) { p.VMSize = "D2s_v3" }), "azure.nodePools[1].vmSize", `"D2s_v3" is not an Azure VM size`, false, false},
		{"count range", az, pool(0, func(p *NodePool) { p.Count = ptr(1001) }), "azure.nodePools[0].count", "1001 is out of range 0..1000", false, true},
		{"count negative", az, pool(1, func(p *NodePool) { p.Count = ptr(-1) }), "azure.nodePools[1].count", "-1 is out of range 0..1000", false, true},
		{"autoscale min negative", az, pool(1, func(p *NodePool) { p.Autoscale.Min = -1 }), "azure.nodePools[1].autoscale.min", "-1 is negative", false, true},
		{"autoscale max zero", az, pool(1, func(p *NodePool) { p.Autoscale.Max = 0 }), "azure.nodePools[1].autoscale.max", "0 is out of range 1..1000", false, true},
		{"autoscale max too big", az, pool(2, func(p *NodePool) { p.Autoscale.Max = 1001 }), "azure.nodePools[2].autoscale.max", "1001 is out of range 1..1000", false, true},
		{"autoscale min above max", az, pool(1, func(p *NodePool) { p.Autoscale = &Autoscale{Min: 5, Max: 3} }), "azure.nodePools[1].autoscale", "min 5 is above max 3", false, true},
		{"count outside autoscale", az, pool(1, func(p *NodePool) { p.Count = ptr(11) }), "azure.nodePools[1].count", "11 is outside autoscale 0..10", false, true},
		{"system pool autoscale min", az, pool(0, func(p *NodePool) { p.Autoscale = &Autoscale{Min: 0, Max: 3} }), "azure.nodePools[0].autoscale.min", "a core pool is a system pool and needs at least 1 node", false, true},
		{"system pool count", az, pool(0, func(p *NodePool) { p.Count = ptr(0) }), "azure.nodePools[0].count", "a core pool is a system pool and needs at least 1 node", false, true},
		{"spot on system pool", az, pool(0, func(p *NodePool) { p.Spot = &Spot{MaxPrice: ptr(-1.0), Eviction: "Delete"} }), "azure.nodePools[0].spot", "AKS does not allow on Spot VMs", false, false},
		{"spot price zero", az, pool(2, func(p *NodePool) { p.Spot.MaxPrice = ptr(0.0) }), "azure.nodePools[2].spot.maxPrice", "0 is not a price", false, false},
		{"spot price negative", az, pool(2, func(p *NodePool) { p.Spot.MaxPrice = ptr(-0.5) }), "azure.nodePools[2].spot.maxPrice", "-0.5 is not a price", false, false},
		{"spot eviction", az, pool(2, func(p *NodePool) { p.Spot.Eviction = "Stop" }), "azure.nodePools[2].spot.eviction", `"Stop" is not one of Delete, Deallocate`, false, true},
		{"spot price six decimals", az, pool(2, func(p *NodePool) { p.Spot.MaxPrice = ptr(0.123456) }), "azure.nodePools[2].spot.maxPrice", "0.123456 has more than five decimals, which AKS refuses", false, false},
		{"label reserved by AKS", az, pool(1, func(p *NodePool) { p.Labels = map[string]string{"kubernetes.azure.com/mode": "user"} }), "azure.nodePools[1].labels.kubernetes.azure.com/mode", "the prefix kubernetes.azure.com/ is reserved for AKS's own labels", false, false},
		{"dns label", az, func(h *Hub) { h.Azure.DNSLabel = "Pangeo_Hub" }, "azure.dnsLabel", `"Pangeo_Hub" is not an Azure DNS label`, false, false},
		{"storage account name", az, func(h *Hub) { h.Azure.Storage.Scratch.AccountName = "My-Data" }, "azure.storage.scratch.accountName", `"My-Data" is not a storage account name: 3 to 24 lowercase letters and digits`, false, false},
		{"scratch retention", az, func(h *Hub) { h.Azure.Storage.Scratch.RetentionDays = 0 }, "azure.storage.scratch.retentionDays", "0: blobs are kept 1 to 99999 days", false, false},
		{"label key", az, pool(1, func(p *NodePool) { p.Labels = map[string]string{"-team": "geo"} }), "azure.nodePools[1].labels.-team", `"-team" is not a Kubernetes label key`, false, true},
		{"label value", az, pool(1, func(p *NodePool) { p.Labels = map[string]string{"team": "geo sciences"} }), "azure.nodePools[1].labels.team", `"geo sciences" is not a Kubernetes label value`, false, true},
		{"label conflicts with role", az, pool(1, func(p *NodePool) { p.Labels = map[string]string{LabelNodePurpose: "core"} }), "azure.nodePools[1].labels." + LabelNodePurpose, "conflicts with role user, which sets hub.jupyter.org/node-purpose=user", false, true},
		{"taint", az, pool(1, func(p *NodePool) { p.Taints = []string{"a=b:NoSchedule", "gpu:NoSchedule"} }), "azure.nodePools[1].taints[1]", `"gpu:NoSchedule" is not a taint`, false, false},

		// Local.
		{"local port zero", lo, func(h *Hub) { h.Local.Port = 0 }, "local.port", "0 is not a TCP port (1..65535)", false, true},
		{"local port too big", lo, func(h *Hub) { h.Local.Port = 65536 }, "local.port", "65536 is not a TCP port", false, false},
		{"local host", lo, func(h *Hub) { h.Local.Host = "" }, "local.host", "required: the address to listen on", false, false},
		{"state dir relative", lo, func(h *Hub) { h.Local.StateDir = "state" }, "local.stateDir", `"state" is relative, so it would depend on the directory dhub runs in`, false, false},
		{"state dir dot", lo, func(h *Hub) { h.Local.StateDir = "./state" }, "local.stateDir", "is relative", false, false},
		{"state dir root", lo, func(h *Hub) { h.Local.StateDir = "/" }, "local.stateDir", "is the root directory", false, false},
		{"state dir root uncleaned", lo, func(h *Hub) { h.Local.StateDir = "/srv/.." }, "local.stateDir", "is the root directory", false, false},
		{"state dir home", lo, func(h *Hub) { h.Local.StateDir = ExpandHome("~") }, "local.stateDir", "is your home directory", false, false},
		{"state dir home slash", lo, func(h *Hub) { h.Local.StateDir = ExpandHome("~/") }, "local.stateDir", "is your home directory", false, false},
		{"state dir tilde", lo, func(h *Hub) { h.Local.StateDir = "~" }, "local.stateDir", "only ~ and ~/ (your home directory) are expanded", false, false},
		{"state dir other user", lo, func(h *Hub) { h.Local.StateDir = "~alice/hub" }, "local.stateDir", `"~alice/hub": only ~ and ~/`, false, false},

		// The hub.
		{"hub image without tag", az, func(h *Hub) { h.JupyterHub.Image = "pangeo/pangeo-notebook" }, "hub.image", `"pangeo/pangeo-notebook" has no tag`, false, false},
		{"hub image registry port but no tag", az, func(h *Hub) { h.JupyterHub.Image = "registry:5000/pangeo" }, "hub.image", "has no tag", false, false},
		{"hub image latest", az, func(h *Hub) { h.JupyterHub.Image = "pangeo/pangeo-notebook:latest" }, "hub.image", "latest changes under a running hub", true, false},
		{"default url", az, func(h *Hub) { h.JupyterHub.DefaultURL = "lab" }, "hub.defaultUrl", `"lab" must start with /`, false, false},
		{"host", az, func(h *Hub) { h.JupyterHub.Host = "https://hub.example.org" }, "hub.host", `"https://hub.example.org" is not a DNS host name`, false, true},
		{"https on local", lo, func(h *Hub) { h.JupyterHub.HTTPS.Enabled = ptr(true) }, "hub.https.enabled", "the local target serves plain HTTP on 127.0.0.1", false, false},
		{"https without host", az, func(h *Hub) { h.JupyterHub.Host = "" }, "hub.host", "required with HTTPS", false, false},
		{"https without email", az, func(h *Hub) { h.JupyterHub.HTTPS.ContactEmail = "" }, "hub.https.contactEmail", "Let's Encrypt needs a contact email address", false, false},
		{"https bad email", az, func(h *Hub) { h.JupyterHub.HTTPS.ContactEmail = "admin" }, "hub.https.contactEmail", "needs a contact email", false, false},
		{"storage class", az, func(h *Hub) { h.JupyterHub.Storage.Class = "Fast SSD" }, "hub.storage.class", `"Fast SSD" is not a StorageClass name`, false, false},
		{"expose type", kube, func(h *Hub) { h.JupyterHub.Expose.Type = "hostPort" }, "hub.expose.type", `"hostPort" is not one of loadBalancer, nodePort, ingress`, false, true},
		{"expose on azure", az, func(h *Hub) { h.JupyterHub.Expose.Type = ExposeNodePort }, "hub.expose.type", "nodePort: on azure the hub's name pangeo-hub-r2crrr.westeurope.cloudapp.azure.com is the DNS label of its load balancer; use loadBalancer", false, true},
		{"ingress class without ingress", kube, func(h *Hub) { h.JupyterHub.Expose.IngressClassName = "nginx" }, "hub.expose.ingressClassName", "is only read with type ingress (type is loadBalancer)", false, false},
		{"ingress class name", kube, func(h *Hub) {
			h.JupyterHub.Expose = Expose{Type: ExposeIngress, IngressClassName: "Nginx"}
			h.JupyterHub.HTTPS.CertManager = &CertManager{Issuer: "le", Kind: "ClusterIssuer"}
		}, "hub.expose.ingressClassName", `"Nginx" is not an IngressClass name`, false, false},
		{"node port without nodePort", kube, func(h *Hub) { h.JupyterHub.Expose.NodePort = 30080 }, "hub.expose.nodePort", "is only read with type nodePort", false, false},
		{"node port range", kube, func(h *Hub) {
			h.JupyterHub.HTTPS.Enabled = ptr(false)
			h.JupyterHub.Expose = Expose{Type: ExposeNodePort, NodePort: 8080}
		}, "hub.expose.nodePort", "8080 is outside Kubernetes' default NodePort range 30000-32767", true, false},
		{"node port not a port", kube, func(h *Hub) {
			h.JupyterHub.HTTPS.Enabled = ptr(false)
			h.JupyterHub.Expose = Expose{Type: ExposeNodePort, NodePort: 70000}
		}, "hub.expose.nodePort", "70000 is not a port", false, true},
		{"https with node port", kube, func(h *Hub) { h.JupyterHub.Expose.Type = ExposeNodePort }, "hub.https.enabled", "not with type nodePort", false, false},
		{"https behind ingress without issuer", kube, func(h *Hub) { h.JupyterHub.Expose.Type = ExposeIngress }, "hub.https.certManager", "required with https behind an Ingress", false, false},
		{"issuer without ingress", kube, func(h *Hub) { h.JupyterHub.HTTPS.CertManager = &CertManager{Issuer: "le", Kind: "ClusterIssuer"} }, "hub.https.certManager", "is only read with hub.expose.type ingress", false, false},
		{"issuer without https", kube, func(h *Hub) {
			h.JupyterHub.HTTPS.Enabled = ptr(false)
			h.JupyterHub.Expose.Type = ExposeIngress
			h.JupyterHub.HTTPS.CertManager = &CertManager{Issuer: "le", Kind: "ClusterIssuer"}
		}, "hub.https.certManager", "is only read with https enabled", false, false},
		{"issuer kind", kube, func(h *Hub) {
			h.JupyterHub.Expose.Type = ExposeIngress
			h.JupyterHub.HTTPS.CertManager = &CertManager{Issuer: "le", Kind: "Certificate"}
		}, "hub.https.certManager.kind", `"Certificate" is not one of ClusterIssuer, Issuer`, false, true},
		{"idle timeout", az, func(h *Hub) { h.JupyterHub.IdleCulling.Timeout = 30 * time.Second }, "hub.idleCulling.timeout", "30s is too short", false, false},
		{"storage size", az, func(h *Hub) { h.JupyterHub.Storage.Size = "10GB" }, "hub.storage.size", `"10GB" is not a size such as 10Gi`, false, true},

		// Authentication.
		{"auth type", az, func(h *Hub) { h.JupyterHub.Auth.Type = "ldap" }, "hub.auth.type", `"ldap" is not one of none, azuread, password`, false, true},
		{"local needs password auth", lo, func(h *Hub) { h.JupyterHub.Auth.Type, h.JupyterHub.Auth.Password = AuthAzureAD, nil }, "hub.auth.type", "azuread is not supported by the local target", false, false},
		{"auth none outside simple", az, func(h *Hub) {
			h.JupyterHub.Auth = Auth{Type: AuthNone}
		}, "hub.auth.type", "none is only for the simple profile", false, false},
		{"auth none warns", az, func(h *Hub) {
			h.Profile = ProfileSimple
			h.JupyterHub.Auth = Auth{Type: AuthNone}
		}, "hub.auth.type", "anyone who can reach the hub logs in", true, false},
		{"azuread block with another type", az, func(h *Hub) {
			h.JupyterHub.Auth.Type = AuthPassword
			h.JupyterHub.Auth.Password = &Password{AdminUser: "admin"}
		}, "hub.auth.azuread", "is only read with type azuread (type is password)", false, false},
		{"password block with another type", az, func(h *Hub) {
			h.JupyterHub.Auth.Password = &Password{AdminUser: "admin"}
		}, "hub.auth.password", "is only read with type password (type is azuread)", false, false},
		{"azuread missing", az, func(h *Hub) { h.JupyterHub.Auth.AzureAD = nil }, "hub.auth.azuread", "required with type azuread", false, false},
		{"azuread tenant", az, ad(func(a *AzureAD) { a.TenantID = "contoso.onmicrosoft.com" }), "hub.auth.azuread.tenantId", "Directory (tenant) ID, a GUID", false, false},
		{"azuread client", az, ad(func(a *AzureAD) { a.ClientID = "not-a-guid" }), "hub.auth.azuread.clientId", "Application (client) ID, a GUID", false, false},
		{"azuread secret without client", az, ad(func(a *AzureAD) { a.ClientID = "" }), "hub.auth.azuread.clientSecret", "only with clientId", false, false},
		{"azuread secret missing", az, ad(func(a *AzureAD) { a.ClientSecret = SecretRef{} }), "hub.auth.azuread.clientSecret", "required: {fromEnv: VARIABLE} or {fromFile: PATH}", false, false},
		{"azuread secret both", az, ad(func(a *AzureAD) { a.ClientSecret.FromFile = "/run/secret" }), "hub.auth.azuread.clientSecret", "set fromEnv or fromFile, not both", false, true},
		{"azuread secret env name", az, ad(func(a *AzureAD) { a.ClientSecret.FromEnv = "CLIENT-SECRET" }), "hub.auth.azuread.clientSecret.fromEnv", `not the name of an environment variable (it holds characters a name cannot; was a secret pasted here?)`, false, true},
		{"azuread no one allowed", az, ad(func(a *AzureAD) { a.AllowedUsers = nil }), "hub.auth.azuread", "no one is allowed to log in; set allowedUsers, allowedGroups, admins or allowAll", false, true},
		{"azuread without host", az, func(h *Hub) {
			h.JupyterHub.Host = ""
			h.JupyterHub.HTTPS.Enabled = ptr(false)
		}, "hub.host", "required with azuread: the app registration's redirect URI", false, false},
		{"azuread without https", az, func(h *Hub) { h.JupyterHub.HTTPS.Enabled = ptr(false) }, "hub.auth.azuread", "Azure AD only sends users back to https:// URLs", true, false},
		{"allowAll with allowedUsers", az, ad(func(a *AzureAD) { a.AllowAll = true }), "hub.auth.azuread.allowAll", "allowAll lets everyone in; allowedUsers adds nothing", true, true},
		{"allowed user with space", az, ad(func(a *AzureAD) { a.AllowedUsers = []string{"some one"} }), "hub.auth.azuread.allowedUsers[0]", `"some one" is empty or holds spaces`, false, true},
		{"empty admin", az, ad(func(a *AzureAD) { a.Admins = []string{""} }), "hub.auth.azuread.admins[0]", `"" is empty or holds spaces`, false, true},
		{"duplicate admin", az, ad(func(a *AzureAD) { a.Admins = []string{"x@example.org", "x@example.org"} }), "hub.auth.azuread.admins[1]", `"x@example.org" is listed twice`, false, true},
		{"duplicate group", az, ad(func(a *AzureAD) { a.AllowedGroups = []string{"g1", "g2", "g1"} }), "hub.auth.azuread.allowedGroups[2]", `"g1" is listed twice`, false, true},
		{"password admin user", lo, pw(func(p *Password) { p.AdminUser = "the admin" }), "hub.auth.password.adminUser", `"the admin" is not a user name`, false, true},
		{"password users need a password", lo, pw(func(p *Password) { p.AllowedUsers = []string{"alice"} }), "hub.auth.password.userPassword", "allowed users need a shared password", false, false},
		{"password allowAll needs a password", lo, pw(func(p *Password) { p.AllowAll = true }), "hub.auth.password.userPassword", "allowed users need a shared password", false, false},
		{"password both refs", lo, pw(func(p *Password) { p.AdminPassword = SecretRef{FromEnv: "ADMIN_PW", FromFile: "/run/pw"} }), "hub.auth.password.adminPassword", "set fromEnv or fromFile, not both", false, true},
		{"password env name", lo, pw(func(p *Password) {
			p.AllowedUsers = []string{"alice"}
			p.UserPassword = SecretRef{FromEnv: "1PASSWORD"}
		}), "hub.auth.password.userPassword.fromEnv", `not the name of an environment variable (it holds characters a name cannot; was a secret pasted here?)`, false, true},
		{"password duplicate user", lo, pw(func(p *Password) {
			p.AllowedUsers = []string{"alice", "alice"}
			p.UserPassword = SecretRef{FromEnv: "DHUB_USER_PASSWORD"}
		}), "hub.auth.password.allowedUsers[1]", `"alice" is listed twice`, false, true},
		{"password allowAll with users", lo, pw(func(p *Password) {
			p.AllowedUsers = []string{"alice"}
			p.AllowAll = true
			p.UserPassword = SecretRef{FromEnv: "DHUB_USER_PASSWORD"}
		}), "hub.auth.password.allowAll", "allowedUsers adds nothing", true, false},

		// Dask.
		{"dask image", az, func(h *Hub) { h.Dask.Image = "daskdev/dask" }, "dask.image", `"daskdev/dask" has no tag`, false, false},
		{"dask image latest", az, func(h *Hub) { h.Dask.Image = "daskdev/dask:latest" }, "dask.image", "latest changes under a running hub", true, false},
		{"worker cores min", az, func(h *Hub) { h.Dask.WorkerCores.Min = 0.05 }, "dask.workerCores.min", "0.05 is below 0.1", false, true},
		{"worker cores max", az, func(h *Hub) { h.Dask.WorkerCores = Bounds{Default: 2, Min: 2, Max: 1} }, "dask.workerCores.max", "1 is below min 2", false, true},
		{"worker memory min", az, func(h *Hub) { h.Dask.WorkerMemory.Min = 0.1 }, "dask.workerMemoryGiB.min", "0.1 is below 0.25", false, true},
		{"worker memory default", az, func(h *Hub) { h.Dask.WorkerMemory.Default = 64 }, "dask.workerMemoryGiB.default", "64 is outside 1..5", false, true},
		{"worker cores beyond the worker VM", az, func(h *Hub) { h.Dask.WorkerCores.Max = 4 }, "dask.workerCores.max", "4 cores: a node of azure.nodePools[2] (of the size dhub picks, at least 2 vCPUs) has 2; lower the bound or set a larger vmSize", false, true},
		{"worker cores beyond a named worker VM", az, func(h *Hub) { h.Azure.NodePools[2].VMSize = "Standard_D4s_v5"; h.Dask.WorkerCores.Max = 8 }, "dask.workerCores.max", "8 cores: a Standard_D4s_v5 node of azure.nodePools[2] has 4", false, false},
		{"worker memory beyond what AKS leaves", az, func(h *Hub) { h.Dask.WorkerMemory.Max = 8 }, "dask.workerMemoryGiB.max", "8 GiB: a node of azure.nodePools[2] (of the size dhub picks, at least 2 vCPUs) leaves about 5.2 GiB for pods", false, false},
		{"worker VM unknown", az, pool(2, func(p *NodePool) { p.VMSize = "Standard_NC6s_v3" }), "azure.nodePools[2].vmSize", "dhub does not know Standard_NC6s_v3's cores and memory", true, false},
		{"environment name", az, func(h *Hub) { h.Dask.Environment = map[string]string{"OK_NAME": "1", "NOT-OK": "2"} }, "dask.environment.NOT-OK", `"NOT-OK" is not an environment variable name`, false, true},
		{"max workers", az, func(h *Hub) { h.Dask.Limits.MaxWorkers = -1 }, "dask.limits.maxWorkers", "-1 is negative (0 means no limit)", false, true},
		{"max cores negative", az, func(h *Hub) { h.Dask.Limits.MaxCores = -4 }, "dask.limits.maxCores", "-4 leaves no room", false, false},
		{"max cores below a worker", az, func(h *Hub) { h.Dask.Limits.MaxCores = 0.5 }, "dask.limits.maxCores", "0.5 leaves no room for one worker of 1 cores", false, false},
		{"max memory below a worker", az, func(h *Hub) { h.Dask.Limits.MaxMemoryGiB = 1 }, "dask.limits.maxMemoryGiB", "1 leaves no room for one worker of 2 GiB", false, false},
		{"dask idle timeout", az, func(h *Hub) { h.Dask.IdleTimeout = ptr(-time.Minute) }, "dask.idleTimeout", "-1m0s is negative (0s means never)", false, true},
		{"access role with nobody", az, func(h *Hub) { h.Dask.RequireAccessRole = true }, "dask.requireAccessRole", "no one may create Dask clusters", false, false},
		{"access users ignored", az, func(h *Hub) { h.Dask.AccessUsers = []string{testUser} }, "dask.requireAccessRole", "accessUsers and accessGroups are ignored unless requireAccessRole is true", true, true},
		{"clusters outlive servers", az, func(h *Hub) { h.Dask.EndWithServer = ptr(false) }, "dask.endWithServer", "keep running, and cost, after the user's server stops, until dask.idleTimeout (1h without activity; a busy cluster never)", true, false},
		{"clusters outlive servers, never idle", az, func(h *Hub) { h.Dask.EndWithServer, h.Dask.IdleTimeout = ptr(false), ptr(time.Duration(0)) }, "dask.endWithServer", "until dask.idleTimeout, never (0s) or until they stop it", true, false},
		{"access user name", az, func(h *Hub) {
			h.Dask.RequireAccessRole = true
			h.Dask.AccessUsers = []string{"a b"}
		}, "dask.accessUsers[0]", `"a b" is empty or holds spaces`, false, true},
		{"access group twice", az, func(h *Hub) {
			h.Dask.RequireAccessRole = true
			h.Dask.AccessGroups = []string{"g", "g"}
		}, "dask.accessGroups[1]", `"g" is listed twice`, false, true},

		// Charts.
		{"proxy secret token", az, jhValues(map[string]any{"proxy": map[string]any{"secretToken": "abc"}}), "charts.jupyterhub.values.proxy.secretToken", "a secret is never written in dhub.yaml", false, false},
		{"gateway api token", az, jhValues(map[string]any{"hub": map[string]any{"services": map[string]any{"dask-gateway": map[string]any{"apiToken": "abc"}}}}), "charts.jupyterhub.values.hub.services.dask-gateway.apiToken", "the chart generates its tokens", false, false},
		{"service api_token", az, jhValues(map[string]any{"hub": map[string]any{"services": map[string]any{"other": map[string]any{"api_token": "abc"}}}}), "charts.jupyterhub.values.hub.services.other.api_token", "a secret is never written", false, false},
		{"cookie secret", az, jhValues(map[string]any{"hub": map[string]any{"cookieSecret": "abc"}}), "charts.jupyterhub.values.hub.cookieSecret", "a secret is never written", false, false},
		{"db password", az, jhValues(map[string]any{"hub": map[string]any{"db": map[string]any{"password": "abc"}}}), "charts.jupyterhub.values.hub.db.password", "a secret is never written", false, false},
		{"oauth client secret", az, jhValues(map[string]any{"hub": map[string]any{"config": map[string]any{"AzureAdOAuthenticator": map[string]any{"client_secret": "abc"}}}}), "charts.jupyterhub.values.hub.config.AzureAdOAuthenticator.client_secret", "credentials go in hub.auth", false, false},
		{"image pull password", az, jhValues(map[string]any{"imagePullSecret": map[string]any{"password": "abc"}}), "charts.jupyterhub.values.imagePullSecret.password", "a secret is never written", false, false},
		{"manual https key", az, jhValues(map[string]any{"proxy": map[string]any{"https": map[string]any{"manual": map[string]any{"key": "-----BEGIN"}}}}), "charts.jupyterhub.values.proxy.https.manual.key", "a secret is never written", false, false},
		{"gateway jupyterhub token", az, dgValues(map[string]any{"gateway": map[string]any{"auth": map[string]any{"jupyterhub": map[string]any{"apiToken": "abc"}}}}), "charts.daskGateway.values.gateway.auth.jupyterhub.apiToken", "a secret is never written", false, false},
		{"gateway simple password", az, dgValues(map[string]any{"gateway": map[string]any{"auth": map[string]any{"simple": map[string]any{"password": "abc"}}}}), "charts.daskGateway.values.gateway.auth.simple.password", "a secret is never written", false, false},
		{"gateway keytab", az, dgValues(map[string]any{"gateway": map[string]any{"auth": map[string]any{"kerberos": map[string]any{"keytab": "abc"}}}}), "charts.daskGateway.values.gateway.auth.kerberos.keytab", "a secret is never written", false, false},
		{"chart version", az, func(h *Hub) { h.Charts.JupyterHub.Version = "latest" }, "charts.jupyterhub.version", `"latest" is not a chart version such as 1.2.3`, false, true},
		{"chart version v prefix", az, func(h *Hub) { h.Charts.DaskGateway.Version = "v2026.3.0" }, "charts.daskGateway.version", "is not a chart version", false, false},
		{"chart repository", az, func(h *Hub) { h.Charts.DaskGateway.Repository = "helm.dask.org" }, "charts.daskGateway.repository", `"helm.dask.org" is not a chart repository URL`, false, false},
	}
}

func TestValidateRules(t *testing.T) {
	for _, tc := range validateRules() {
		t.Run(tc.name, func(t *testing.T) {
			if errs := tc.base().Validate().Errors(); len(errs) != 0 {
				t.Fatalf("baseline has errors: %v", errs)
			}
			h := tc.base()
			tc.mutate(h)
			ps := h.Validate()
			for _, p := range ps {
				if p.Path != tc.path || p.Warning != tc.warning {
					continue
				}
				if tc.exact && p.Message == tc.msg || !tc.exact && strings.Contains(p.Message, tc.msg) {
					return
				}
			}
			kind := "error"
			if tc.warning {
				kind = "warning"
			}
			t.Errorf("want %s at %s: %q; got:\n%s", kind, tc.path, tc.msg, problemList(ps))
		})
	}
}

func problemList(ps Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

// Variations on the baselines that break no rule.
func TestValidateAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		base   func() *Hub
		mutate func(h *Hub)
	}{
		{"subscription guid", azureHub, func(h *Hub) { h.Azure.Subscription = testTenantID }},
		{"kubernetes version", azureHub, func(h *Hub) { h.Azure.KubernetesVersion = "1.33.2" }},
		{"calico", azureHub, func(h *Hub) { h.Azure.NetworkPolicy = "calico" }},
		{"one pool of role all", azureHub, func(h *Hub) {
			h.Azure.NodePools = ProfilePools(ProfileSimple)
			h.Azure.NodePools[0].VMSize = "Standard_E4s_v5"
		}},
		{"spot price", azureHub, pool(2, func(p *NodePool) { p.Spot = &Spot{MaxPrice: ptr(0.25), Eviction: "Deallocate"} })},
		{"matching role label and taint", azureHub, pool(2, func(p *NodePool) {
			p.Labels = map[string]string{LabelDaskWorker: "worker", "team": "geo"}
			p.Taints = []string{"kubernetes.azure.com/scalesetpriority=spot:NoSchedule"}
		})},
		{"allow by group only", azureHub, ad(func(a *AzureAD) { a.AllowedUsers, a.AllowedGroups = nil, []string{"g"} })},
		{"allow by admin only", azureHub, ad(func(a *AzureAD) { a.AllowedUsers, a.Admins = nil, []string{"x@example.org"} })},
		{"allow all", azureHub, ad(func(a *AzureAD) { a.AllowedUsers, a.AllowAll = nil, true })},
		{"secret from file", azureHub, ad(func(a *AzureAD) { a.ClientSecret = SecretRef{FromFile: "/run/secret"} })},
		{"culling off with short timeout", azureHub, func(h *Hub) {
			h.JupyterHub.IdleCulling = IdleCulling{Enabled: ptr(false), Timeout: time.Second}
		}},
		{"registry with port", azureHub, func(h *Hub) { h.JupyterHub.Image = "registry.example.org:5000/team/notebook:2025.1" }},
		{"image digest", azureHub, func(h *Hub) { h.Dask.Image = "daskdev/dask@sha256:" + strings.Repeat("a", 64) }},
		{"dask limits", azureHub, func(h *Hub) {
			h.Dask.Limits = ClusterLimits{MaxWorkers: 10, MaxCores: 1, MaxMemoryGiB: 2}
			h.Dask.IdleTimeout = ptr(time.Duration(0))
		}},
		{"access role with users", azureHub, func(h *Hub) {
			h.Dask.RequireAccessRole = true
			h.Dask.AccessUsers = []string{testUser}
		}},
		{"empty secret-looking values", azureHub, jhValues(map[string]any{
			"proxy": map[string]any{"secretToken": ""},
			"hub":   map[string]any{"cookieSecret": nil, "services": map[string]any{"x": map[string]any{"url": "http://x"}}},
		})},
		{"chart from a path", azureHub, func(h *Hub) {
			h.Charts.JupyterHub.Path, h.Charts.JupyterHub.Repository = "./charts/jupyterhub-4.4.0.tgz", ""
		}},
		{"oci chart", azureHub, func(h *Hub) { h.Charts.DaskGateway.Repository = "oci://ghcr.io/dask/charts" }},
		{"password users with password", localHub, pw(func(p *Password) {
			p.AllowedUsers = []string{"alice", "bob"}
			p.UserPassword = SecretRef{FromFile: "/run/pw"}
		})},
		{"local other port", localHub, func(h *Hub) { h.Local.Port = 65535 }},
		// Admins log in with the admin password: naming them as allowed
		// needs no user password.
		{"password admins allowed by name", localHub, pw(func(p *Password) {
			p.Admins = []string{"ops"}
			p.AllowedUsers = []string{p.AdminUser, "ops"}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.base()
			tc.mutate(h)
			if ps := h.Validate(); len(ps) != 0 {
				t.Errorf("problems:\n%s", problemList(ps))
			}
		})
	}
}

func TestValidateReportsEveryProblemSorted(t *testing.T) {
	h := localHub()
	h.Name = ""
	h.Local.Port = 0
	h.JupyterHub.DefaultURL = "lab"
	errs := h.Validate().Errors()
	var paths []string
	for _, p := range errs {
		paths = append(paths, p.Path)
	}
	if want := []string{"hub.defaultUrl", "local.port", "name"}; strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("paths %v, want %v (all three, sorted)", paths, want)
	}
}

func TestProblems(t *testing.T) {
	h := azureHub()
	h.Name = ""
	h.Azure.NetworkPolicy = "none"
	ps := h.Validate()
	if len(ps) != 2 {
		t.Fatalf("problems: %v", ps)
	}
	errs, warns := ps.Errors(), ps.Warnings()
	if len(errs) != 1 || errs[0].Path != "name" || len(warns) != 1 || warns[0].Path != "azure.networkPolicy" {
		t.Errorf("errors %v, warnings %v", errs, warns)
	}
	if got := errs[0].String(); !strings.HasPrefix(got, "name: required") {
		t.Errorf("error String() = %q", got)
	}
	if got := warns[0].String(); !strings.HasPrefix(got, "azure.networkPolicy: warning: without a network policy") {
		t.Errorf("warning String() = %q", got)
	}
}

func TestPasswordAllowedNamesHoldTheAdmins(t *testing.T) {
	p := &Password{AdminUser: "admin", Access: Access{Admins: []string{"ops"}, AllowedUsers: []string{"alice", "ops"}}}
	if got := p.AdminNames(); !slices.Equal(got, []string{"admin", "ops"}) {
		t.Errorf("AdminNames = %q", got)
	}
	if got := p.AllowedNames(); !slices.Equal(got, []string{"admin", "ops", "alice"}) {
		t.Errorf("AllowedNames = %q, want the admins first, each name once", got)
	}
}

// The ways in that work are valid: an Ingress with a cert-manager issuer,
// a plain Ingress, a NodePort without HTTPS, each with a StorageClass.
func TestExposuresThatWorkAreValid(t *testing.T) {
	for name, f := range map[string]func(h *Hub){
		"ingress with cert-manager": func(h *Hub) {
			h.JupyterHub.Expose = Expose{Type: ExposeIngress, IngressClassName: "nginx"}
			h.JupyterHub.HTTPS = HTTPS{Enabled: ptr(true), CertManager: &CertManager{Issuer: "letsencrypt-prod", Kind: "ClusterIssuer"}}
		},
		"plain ingress": func(h *Hub) {
			h.JupyterHub.Expose = Expose{Type: ExposeIngress}
			h.JupyterHub.HTTPS = HTTPS{Enabled: ptr(false)}
		},
		"node port": func(h *Hub) {
			h.JupyterHub.Expose = Expose{Type: ExposeNodePort, NodePort: 30080}
			h.JupyterHub.HTTPS = HTTPS{Enabled: ptr(false)}
		},
	} {
		h := kubeHub()
		f(h)
		h.JupyterHub.Storage.Class = "local-path"
		if ps := h.Validate().Errors(); len(ps) != 0 {
			t.Errorf("%s: %v", name, ps)
		}
	}
}
