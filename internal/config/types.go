// Package config defines dhub's Hub configuration (dhub.yaml): its types, strict
// loading with file:line errors, profile defaults, and validation that reports
// every problem at once with its field path.
package config

import (
	"errors"
	"time"
)

// APIVersion and Kind identify a dhub.yaml document.
const (
	APIVersion = "dhub/v1alpha1"
	Kind       = "Hub"
)

// Target says where a hub runs.
type Target string

// The targets dhub supports.
const (
	TargetAzure      Target = "azure"
	TargetKubernetes Target = "kubernetes"
	TargetLocal      Target = "local"
)

// Targets lists every valid target, in the order help text shows them.
var Targets = []Target{TargetLocal, TargetKubernetes, TargetAzure}

// Profile names a set of defaults taken from the Azure guide.
type Profile string

// The profiles of the guide.
const (
	ProfileSimple      Profile = "simple"
	ProfileRecommended Profile = "recommended"
)

// Hub is the whole of dhub.yaml: one DaskHub and where it runs.
type Hub struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Name names the hub; on Azure it starts the default DNS label
	// (azure.dnsLabel) of <label>.<location>.cloudapp.azure.com.
	Name string `yaml:"name"`
	// Target is where the hub runs: azure, kubernetes or local.
	Target Target `yaml:"target"`
	// Profile picks the defaults for what the file leaves out.
	Profile Profile `yaml:"profile"`
	// Namespace is the Kubernetes namespace of both charts.
	Namespace string `yaml:"namespace"`

	Azure      Azure      `yaml:"azure"`
	Kubernetes Kubernetes `yaml:"kubernetes"`
	Local      Local      `yaml:"local"`
	JupyterHub JupyterHub `yaml:"hub"`
	Dask       Dask       `yaml:"dask"`
	Charts     Charts     `yaml:"charts"`
}

// Azure is the Azure part: resource group, AKS cluster and its node pools.
type Azure struct {
	// Subscription is optional: AZURE_SUBSCRIPTION_ID or the az CLI default
	// are used when it is empty.
	Subscription      string `yaml:"subscription"`
	ResourceGroup     string `yaml:"resourceGroup"`
	Location          string `yaml:"location"`
	ClusterName       string `yaml:"clusterName"`
	KubernetesVersion string `yaml:"kubernetesVersion"`
	NetworkPolicy     string `yaml:"networkPolicy"`
	// DNSLabel is the label of the hub's public address,
	// <label>.<location>.cloudapp.azure.com, unique in its region across
	// all of Azure. Default: the hub's name and a suffix derived from the
	// subscription, resource group, cluster and region (DefaultDNSLabel),
	// so that two hubs that keep the guide's names do not collide.
	DNSLabel string `yaml:"dnsLabel"`
	// Currency is the ISO 4217 code the plan's cost estimate is shown in
	// (one of Currencies); default USD, the currency Azure prices in.
	Currency  string     `yaml:"currency"`
	NodePools []NodePool `yaml:"nodePools"`
	// Budget, when set, is a monthly cost budget on the hub's resource
	// groups: Azure e-mails its contacts when the month's cost, or the
	// month's forecast, passes a threshold.
	Budget *Budget `yaml:"budget"`
	// Storage is what dhub makes in Azure Storage for the hub's users.
	Storage AzureStorage `yaml:"storage"`
}

// AzureStorage is the hub's own Azure Storage.
type AzureStorage struct {
	Scratch AzureScratch `yaml:"scratch"`
}

// AzureScratch is a storage account with a "scratch" container that users'
// servers and their Dask schedulers and workers reach through a workload
// identity, with no key anywhere: SCRATCH_URL is az://scratch/<user>.
type AzureScratch struct {
	// Enabled defaults to true in the recommended profile.
	Enabled *bool `yaml:"enabled"`
	// RetentionDays: blobs not modified for longer are deleted by a
	// lifecycle rule. Default 7.
	RetentionDays int `yaml:"retentionDays"`
	// AccountName is the storage account's name, unique across all of
	// Azure: 3 to 24 lowercase letters and digits. Default: derived from
	// the hub like the DNS label (DefaultStorageAccount).
	AccountName string `yaml:"accountName"`
	// Identity is the workload identity Azure made for the hub; up sets
	// it once the identity exists, never dhub.yaml.
	Identity *WorkloadIdentity `yaml:"-"`
}

// On reports whether the hub has an Azure scratch container.
func (s AzureScratch) On() bool { return s.Enabled != nil && *s.Enabled }

// WorkloadIdentity is the user-assigned managed identity pods present a
// Kubernetes service account token for.
type WorkloadIdentity struct {
	// ClientID is the identity's application (client) id.
	ClientID string
	// TenantID is the directory the identity belongs to.
	TenantID string
}

// Budget is an Azure cost budget (Consumption Budgets API) for the hub.
type Budget struct {
	// Amount is what the hub may cost a month, in Currency (Azure counts
	// it in the billing account's currency).
	Amount float64 `yaml:"amount"`
	// Actual are percentages of Amount: a mail when the month's cost so
	// far passes one. Default 80 and 100 when Forecast is empty too.
	Actual []float64 `yaml:"actual"`
	// Forecast are percentages of Amount: a mail when Azure forecasts
	// the month's cost past one. Default 100 when Actual is empty too.
	Forecast []float64 `yaml:"forecast"`
	// ContactEmails are told, at least one.
	ContactEmails []string `yaml:"contactEmails"`
}

// Currencies are the currencies the Azure Retail Prices API answers in.
var Currencies = []string{"USD", "AUD", "BRL", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "INR", "JPY", "KRW", "NOK", "NZD", "RUB", "SEK", "TWD"}

// PoolRole says which pods a node pool is for; it decides the pool's labels,
// its AKS mode and where the charts schedule their pods.
type PoolRole string

// The node pool roles.
const (
	// RoleAll is a pool that runs everything (the simple profile's one pool).
	RoleAll PoolRole = "all"
	// RoleCore runs the hub, proxy, gateway and Kubernetes system pods.
	RoleCore PoolRole = "core"
	// RoleUser runs user notebook servers and Dask schedulers.
	RoleUser PoolRole = "user"
	// RoleWorker runs Dask workers.
	RoleWorker PoolRole = "worker"
)

// NodePool is one AKS agent pool.
type NodePool struct {
	Name string   `yaml:"name"`
	Role PoolRole `yaml:"role"`
	// VMSize is the Azure VM size. Empty: dhub picks the first size of
	// VMSizePreference that the subscription may use in the region, and
	// its plan shows the choice.
	VMSize string `yaml:"vmSize"`
	// Count is the node count at creation (and the fixed count without
	// autoscale), a whole number 0..1000.
	Count     *int              `yaml:"count"`
	Autoscale *Autoscale        `yaml:"autoscale"`
	Spot      *Spot             `yaml:"spot"`
	Labels    map[string]string `yaml:"labels"`
	// Taints are "key=value:Effect" strings.
	Taints []string `yaml:"taints"`
}

// Autoscale bounds the cluster autoscaler for one pool.
type Autoscale struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// Spot makes a pool use Azure Spot VMs.
type Spot struct {
	// MaxPrice is the highest hourly price in US dollars, positive and
	// finite; -1 caps it at the on-demand price.
	MaxPrice *float64 `yaml:"maxPrice"`
	// Eviction is Delete or Deallocate.
	Eviction string `yaml:"eviction"`
}

// Kubernetes is the part for an existing cluster (target kubernetes).
type Kubernetes struct {
	// Kubeconfig is a path; empty means KUBECONFIG or ~/.kube/config.
	Kubeconfig string `yaml:"kubeconfig"`
	// Context is a kubeconfig context; empty means the current one.
	Context string `yaml:"context"`
	// NodeRoles lists the roles for which the cluster has labelled nodes
	// (hub.jupyter.org/node-purpose=core|user, k8s.dask.org/dedicated=worker).
	NodeRoles []PoolRole `yaml:"nodeRoles"`
}

// Local is the part for the single-machine target.
type Local struct {
	// Host is the address the hub listens on.
	Host string `yaml:"host"`
	// Port is the hub's public port, 1..65535; left out, 8000 (an explicit
	// 0 is refused, not defaulted).
	Port int `yaml:"port"`
	// StateDir holds the Python environment, secrets, logs and pid files;
	// empty means $XDG_STATE_HOME/dhub/<name>, else /var/lib/dhub/<name>
	// for root and ~/.local/state/dhub/<name> for anyone else.
	StateDir string `yaml:"stateDir"`
	// Python is the interpreter used to create the environment.
	Python string `yaml:"python"`
}

// JupyterHub is the hub part (the "hub" key).
type JupyterHub struct {
	// Image is the single-user image, with a tag, a digest
	// (name@sha256:...) or both (name:tag@sha256:...).
	Image string `yaml:"image"`
	// DefaultURL is where a started server opens.
	DefaultURL string `yaml:"defaultUrl"`
	// Host is the public host name; on Azure it defaults to
	// <name>.<location>.cloudapp.azure.com.
	Host        string      `yaml:"host"`
	HTTPS       HTTPS       `yaml:"https"`
	Auth        Auth        `yaml:"auth"`
	IdleCulling IdleCulling `yaml:"idleCulling"`
	Storage     Storage     `yaml:"storage"`
	// Expose is how people reach the hub on a cluster.
	Expose Expose `yaml:"expose"`
}

// HTTPS turns on certificates for Host: Let's Encrypt through the
// JupyterHub chart's own autohttps pod, or, behind an Ingress, a
// cert-manager issuer.
type HTTPS struct {
	Enabled      *bool  `yaml:"enabled"`
	ContactEmail string `yaml:"contactEmail"`
	// CertManager names the cert-manager issuer of the Ingress's
	// certificate (hub.expose.type ingress).
	CertManager *CertManager `yaml:"certManager"`
}

// CertManager is a cert-manager issuer that signs the hub's certificate.
type CertManager struct {
	// Issuer is the issuer's name.
	Issuer string `yaml:"issuer"`
	// Kind is ClusterIssuer (the default) or Issuer (one in the hub's
	// namespace).
	Kind string `yaml:"kind"`
}

// ExposeType is how the hub's proxy-public Service is reached.
type ExposeType string

// The ways in.
const (
	// ExposeLoadBalancer asks the cloud for a load balancer (the charts'
	// default); a cluster without a load-balancer controller never gets
	// an address.
	ExposeLoadBalancer ExposeType = "loadBalancer"
	// ExposeNodePort opens a port on every node.
	ExposeNodePort ExposeType = "nodePort"
	// ExposeIngress routes through the cluster's ingress controller.
	ExposeIngress ExposeType = "ingress"
)

// Expose is how people reach the hub on a cluster (targets kubernetes and
// azure; on azure only loadBalancer, which gives the hub its DNS name).
type Expose struct {
	// Type is loadBalancer, nodePort or ingress.
	Type ExposeType `yaml:"type"`
	// IngressClassName is the IngressClass of the hub's Ingress (type
	// ingress); empty means the cluster's default class.
	IngressClassName string `yaml:"ingressClassName"`
	// NodePort is the port every node opens for the hub (type nodePort),
	// 30000-32767; 0 lets Kubernetes pick one.
	NodePort int `yaml:"nodePort"`
}

// AuthType names how users log in.
type AuthType string

// The authentication types.
const (
	// AuthNone lets anyone in with any name: the simple profile only.
	AuthNone AuthType = "none"
	// AuthAzureAD logs users in with an Azure AD (Entra ID) app registration.
	AuthAzureAD AuthType = "azuread"
	// AuthPassword logs users in with a shared password; the admin has its own.
	AuthPassword AuthType = "password"
)

// Auth is how users log in and who may.
type Auth struct {
	Type     AuthType  `yaml:"type"`
	AzureAD  *AzureAD  `yaml:"azuread"`
	Password *Password `yaml:"password"`
}

// AzureAD is an Azure AD app registration and the rule of who may log in.
type AzureAD struct {
	TenantID     string    `yaml:"tenantId"`
	ClientID     string    `yaml:"clientId"`
	ClientSecret SecretRef `yaml:"clientSecret"`
	Access       `yaml:",inline"`
	// AllowedGroups are Azure AD group ids whose members may log in.
	AllowedGroups []string `yaml:"allowedGroups"`
}

// Password is shared-password authentication: the admin user logs in with
// AdminPassword, every allowed user with UserPassword.
type Password struct {
	AdminUser string `yaml:"adminUser"`
	// AdminPassword is optional: dhub generates one and shows it once.
	AdminPassword SecretRef `yaml:"adminPassword"`
	// UserPassword is the password of every other allowed user.
	UserPassword SecretRef `yaml:"userPassword"`
	Access       `yaml:",inline"`
}

// AdminNames are the admin user and the other admins.
func (p *Password) AdminNames() []string {
	return append([]string{p.AdminUser}, p.Admins...)
}

// AllowedNames are everyone who may log in by name: the admins and the
// allowed users, each once. JupyterHub 5's Authenticator lets in only the
// allowed users (admins are not added when that list is empty), so the
// admins must be on it.
func (p *Password) AllowedNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range append(p.AdminNames(), p.AllowedUsers...) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// CheckSharedPasswords applies JupyterHub's SharedPasswordAuthenticator's
// rules to the passwords a hub gets (the hub refuses to start otherwise):
// the admin password at least 32 characters, a user password (when there
// is one) at least 8, and the two different. The errors name the fields,
// never the values.
func CheckSharedPasswords(admin, user string, hasUser bool) error {
	if len(admin) < 32 {
		return errors.New("hub.auth.password.adminPassword: JupyterHub needs at least 32 characters")
	}
	if !hasUser {
		return nil // only the admins log in
	}
	if len(user) < 8 {
		return errors.New("hub.auth.password.userPassword: JupyterHub needs at least 8 characters")
	}
	if user == admin {
		return errors.New("hub.auth.password: userPassword and adminPassword must differ")
	}
	return nil
}

// Access is the allow rule every authenticator needs: nobody gets in unless
// named here or AllowAll is set.
type Access struct {
	AllowedUsers []string `yaml:"allowedUsers"`
	Admins       []string `yaml:"admins"`
	AllowAll     bool     `yaml:"allowAll"`
}

// IdleCulling stops idle user servers.
type IdleCulling struct {
	// Enabled turns the culler on (the default) or off.
	Enabled *bool `yaml:"enabled"`
	// Timeout is how long a server may stay idle: at least 1m, in whole
	// seconds; left out, 1h. 0s is refused, not read as "never" (that is
	// enabled: false) nor replaced by the default.
	Timeout time.Duration `yaml:"timeout"`
}

// Storage is each user's home volume, and the hub's database volume.
type Storage struct {
	// Size is a Kubernetes quantity such as 10Gi.
	Size string `yaml:"size"`
	// Class is the StorageClass of users' homes and of the hub's
	// database; empty means the cluster's default StorageClass.
	Class string `yaml:"class"`
	// Scratch, on the kubernetes target, is an object store users and
	// their Dask schedulers and workers write results to.
	Scratch *Scratch `yaml:"scratch"`
}

// Scratch is a bucket or container named to users' servers and their Dask
// clusters as SCRATCH_URL: URL/<user name>, the same in a notebook and in
// a Dask task.
type Scratch struct {
	// URL is an fsspec URL of the bucket or container, with a path prefix
	// if wanted: s3://, gs://, gcs://, az://, abfs:// or abfss://. It holds
	// no credentials.
	URL string `yaml:"url"`
	// CredentialsSecret, when set, names a Secret in the hub's namespace
	// whose keys (AWS_ACCESS_KEY_ID, AZURE_STORAGE_ACCOUNT_KEY, ...) become
	// environment variables of users' servers, schedulers and workers.
	CredentialsSecret string `yaml:"credentialsSecret"`
}

// ScratchSchemes are the URL schemes hub.storage.scratch.url may have.
var ScratchSchemes = []string{"s3", "gs", "gcs", "az", "abfs", "abfss"}

// Dask is what users may ask of Dask Gateway.
type Dask struct {
	// Image is the default worker and scheduler image; it defaults to hub.image.
	Image        string            `yaml:"image"`
	WorkerCores  Bounds            `yaml:"workerCores"`
	WorkerMemory Bounds            `yaml:"workerMemoryGiB"`
	Environment  map[string]string `yaml:"environment"`
	Limits       ClusterLimits     `yaml:"limits"`
	// IdleTimeout shuts down clusters without activity: 0s never does,
	// anything else is at least 1s, in whole seconds (the gateway counts
	// seconds, so 500ms would be 0, never). Left out, 1h.
	IdleTimeout *time.Duration `yaml:"idleTimeout"`
	// EndWithServer stops a user's clusters once the user has no server
	// (render.EndWithServerBound); left out, true.
	EndWithServer *bool `yaml:"endWithServer"`
	// RequireAccessRole restricts creating clusters to the users and groups
	// granted access:services!service=dask-gateway.
	RequireAccessRole bool     `yaml:"requireAccessRole"`
	AccessUsers       []string `yaml:"accessUsers"`
	AccessGroups      []string `yaml:"accessGroups"`
}

// Bounds is one numeric cluster option: its default and the range a user
// may pick. Each is a finite number; a field left out takes the profile's
// default, an explicit 0 is kept (and refused below the option's least).
type Bounds struct {
	Default float64 `yaml:"default"`
	Min     float64 `yaml:"min"`
	Max     float64 `yaml:"max"`
}

// ClusterLimits caps each Dask cluster; zero means no cap. Numbers are
// finite and not negative; MaxWorkers is a whole number. MaxCores and
// MaxMemoryGiB count what the cluster's workers may use (their cores and
// memory as chosen in the cluster options), not the scheduler: a cluster
// gets as many workers of the chosen size as fit under every cap.
type ClusterLimits struct {
	MaxWorkers   int     `yaml:"maxWorkers"`
	MaxCores     float64 `yaml:"maxCores"`
	MaxMemoryGiB float64 `yaml:"maxMemoryGiB"`
}

// Charts says which chart versions to install and from where.
type Charts struct {
	JupyterHub  ChartSource `yaml:"jupyterhub"`
	DaskGateway ChartSource `yaml:"daskGateway"`
}

// ChartSource is where one chart comes from, and extra values merged last.
type ChartSource struct {
	Version    string `yaml:"version"`
	Repository string `yaml:"repository"`
	// Path is a local chart directory or .tgz; it replaces Repository.
	Path string `yaml:"path"`
	// Values are merged over everything dhub renders for this chart. The
	// local target installs no chart and ignores them (with a warning).
	Values map[string]any `yaml:"values"`
}
