package config

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// InitOptions are the choices behind a new dhub.yaml.
type InitOptions struct {
	Name    string
	Target  Target
	Profile Profile
	// Email is the Let's Encrypt contact (recommended profile).
	Email string
	// TenantID and ClientID are the Azure AD app registration (recommended profile).
	TenantID string
	ClientID string
	// Who may log in, with Azure AD or password login: user names, Azure
	// AD group object ids (Azure AD only), admins, or everyone.
	AllowedUsers  []string
	AllowedGroups []string
	Admins        []string
	AllowAll      bool
}

// Init returns a commented dhub.yaml for a target and profile: every
// decision of the Azure guide, with its values, written out to be edited.
func Init(o InitOptions) ([]byte, error) {
	def(&o.Target, TargetLocal)
	def(&o.Profile, ProfileRecommended)
	def(&o.Name, "pangeo-hub")
	if !dnsLabelRE.MatchString(o.Name) || len(o.Name) < 3 {
		return nil, fmt.Errorf("name %q is not a DNS label: use 3 to 63 lowercase letters, digits and '-', starting with a letter", o.Name)
	}
	if !slices.Contains(Targets, o.Target) {
		return nil, fmt.Errorf("target %q is not one of local, kubernetes, azure", o.Target)
	}
	if o.Profile != ProfileSimple && o.Profile != ProfileRecommended {
		return nil, fmt.Errorf("profile %q is not one of simple, recommended", o.Profile)
	}
	h := Hub{Name: o.Name, Target: o.Target, Profile: o.Profile}
	if o.Target == TargetAzure {
		// A random suffix, written into the file: stable for this hub,
		// and unlike the guide's pangeo-hub not shared with anyone.
		label, err := randomLabel(o.Name)
		if err != nil {
			return nil, err
		}
		h.Azure.DNSLabel = label
		// The scratch storage account's name is unique across Azure too;
		// the label's suffix keeps it so.
		h.Azure.Storage.Scratch.AccountName = storageAccountFor(o.Name, label[len(label)-6:])
	}
	h.SetDefaults()
	if err := o.check(h.JupyterHub.Auth.Type); err != nil {
		return nil, err
	}
	// Besides the admins, anyone allowed in by password logs in with the
	// shared user password, which the file must then name.
	userPassword := o.AllowAll
	for _, u := range o.AllowedUsers {
		userPassword = userPassword || !slices.Contains(append([]string{DefaultAdminUser}, o.Admins...), u)
	}
	var buf bytes.Buffer
	err := initTemplate.Execute(&buf, struct {
		InitOptions
		Hub          *Hub
		UserPassword bool
	}{o, &h, userPassword})
	return buf.Bytes(), err
}

// randomLabel is name, a dash and six random lowercase letters and
// digits, within the 63 characters of a DNS label.
// storageAccountFor is a storage account name for hub name: "dhub", the
// name's letters and digits, and suffix, at most 24 characters.
func storageAccountFor(name, suffix string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if len(n) > 24-4-len(suffix) {
		n = n[:24-4-len(suffix)]
	}
	return "dhub" + n + suffix
}

func randomLabel(name string) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("a random DNS label: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	if len(name) > 63-7 {
		name = strings.TrimRight(name[:63-7], "-")
	}
	return name + "-" + string(b), nil
}

// check refuses what would make a file that does not load or does not
// mean what was asked: ids that are not GUIDs, an address that is not
// one, names with spaces, a rule of who may log in that the hub's login
// cannot apply.
func (o InitOptions) check(auth AuthType) error {
	if o.Email != "" && !emailRE.MatchString(o.Email) {
		return fmt.Errorf("email %q is not an address such as admin@example.org", o.Email)
	}
	for _, id := range []struct{ what, v string }{{"tenant id", o.TenantID}, {"client id", o.ClientID}} {
		if id.v != "" && !guidRE.MatchString(id.v) {
			return fmt.Errorf("%s %q is not a GUID such as 00000000-0000-0000-0000-000000000000 (the app registration's overview shows it)", id.what, id.v)
		}
	}
	for _, l := range []struct {
		what  string
		names []string
	}{{"allowed user", o.AllowedUsers}, {"admin", o.Admins}} {
		seen := map[string]bool{}
		for _, n := range l.names {
			if !userNameRE.MatchString(n) {
				return fmt.Errorf("%s %q is empty or holds spaces", l.what, n)
			}
			if seen[n] {
				return fmt.Errorf("%s %q is listed twice", l.what, n)
			}
			seen[n] = true
		}
	}
	for _, g := range o.AllowedGroups {
		if !guidRE.MatchString(g) {
			return fmt.Errorf("allowed group %q is not an Azure AD group object id (a GUID)", g)
		}
	}
	access := len(o.AllowedUsers) > 0 || len(o.AllowedGroups) > 0 || len(o.Admins) > 0 || o.AllowAll
	switch {
	case auth == AuthNone && access:
		return errors.New("this profile lets anyone in (hub.auth.type none): who may log in applies to azuread and password login")
	case auth == AuthPassword && len(o.AllowedGroups) > 0:
		return errors.New("allowed groups are Azure AD groups: password login (this target and profile) has none; name users instead")
	}
	return nil
}

// yamlString writes s as a double-quoted YAML scalar: JSON's string
// syntax is YAML's, so quotes, backslashes, '#', ': ' and control
// characters in a value cannot end it or start a comment.
func yamlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// yamlList writes a list of strings as a YAML flow sequence of yamlString.
func yamlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = yamlString(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

var initTemplate = template.Must(template.New("dhub.yaml").Funcs(template.FuncMap{"q": yamlString, "qlist": yamlList}).Parse(`# dhub.yaml: one DaskHub (JupyterHub + Dask Gateway). 'dhub validate' checks it,
# 'dhub plan' shows what 'dhub up' would change. Omitted fields take the defaults
# of the profile; the values written here are those defaults, to edit.
{{- if eq .Hub.Target "azure"}}
#
# Where a default differs from the Azure guide's {{.Hub.Profile}} deployment, a comment
# points at the row of docs/guide-parity.md that says why, and which field
# restores the guide's choice. The differences with nothing to set here:
#   no SSH key on the nodes                 docs/guide-parity.md#ssh
#   no tokens to make with openssl          docs/guide-parity.md#tokens
#   the hub's NetworkPolicy stays on        docs/guide-parity.md#hub-network-policy
#   the user servers' Dask environment      docs/guide-parity.md#singleuser-env
{{- if eq .Hub.Profile "recommended"}}
#   hub and user pods kept on their pools   docs/guide-parity.md#hub-placement
#   Dask schedulers on the users pool       docs/guide-parity.md#scheduler-placement
#   'dhub up' recreates autohttps itself    docs/guide-parity.md#autohttps
{{- end}}
#   the kubeconfig is not merged unasked    docs/guide-parity.md#credentials
#   'dhub status' and 'dhub smoke' check    docs/guide-parity.md#checks
#   'dhub down' deletes only what it made   docs/guide-parity.md#cleanup
{{- end}}
apiVersion: {{.Hub.APIVersion}}
kind: {{.Hub.Kind}}
# The hub's name{{if eq .Hub.Target "azure"}}; it is reached at {{if .Hub.HTTPSEnabled}}https{{else}}http{{end}}://{{.Hub.JupyterHub.Host}}{{end}}.
name: {{.Hub.Name}}
# Where the hub runs: local (this machine), kubernetes (an existing cluster) or azure (AKS).
target: {{.Hub.Target}}
# simple or recommended, as in the Azure guide: picks the defaults of what is left out.
profile: {{.Hub.Profile}}
{{- if ne .Hub.Target "local"}}
# Kubernetes namespace of both charts; created by 'dhub up'. The releases are
# <namespace>-jupyterhub and <namespace>-dask-gateway: docs/guide-parity.md#releases
namespace: {{.Hub.Namespace}}
{{- end}}
{{- if eq .Hub.Target "azure"}}

azure:
  # subscription: 00000000-0000-0000-0000-000000000000   # default: AZURE_SUBSCRIPTION_ID, else the az CLI default
  resourceGroup: {{.Hub.Azure.ResourceGroup}}
  location: {{.Hub.Azure.Location}}       # put the hub next to its data (Planetary Computer: westeurope)
  clusterName: {{.Hub.Azure.ClusterName}}
  # kubernetesVersion: "1.33"         # default: the AKS default version
  # azure, calico, cilium or none; the charts' NetworkPolicies need one: docs/guide-parity.md#network
  networkPolicy: {{.Hub.Azure.NetworkPolicy}}
  # The public address is {{if .Hub.HTTPSEnabled}}https{{else}}http{{end}}://<dnsLabel>.<location>.cloudapp.azure.com; a label is
  # unique per region across all of Azure, so this one carries a random suffix
  # (docs/guide-parity.md#address).
  dnsLabel: {{.Hub.Azure.DNSLabel}}
  # currency: USD                     # of the plan's monthly cost estimate (Azure retail prices): USD, EUR, GBP, ...
  # Roles: core (hub, proxy, gateway, system pods), user (notebooks, Dask schedulers),
  # worker (Dask workers), all (everything). Labels follow from the role. A pool
  # without vmSize gets a size this subscription may use: docs/guide-parity.md#vm-size
  nodePools:
{{- range .Hub.Azure.NodePools}}
    - name: {{.Name}}
      role: {{.Role}}
{{- if .VMSize}}
      vmSize: {{.VMSize}}
{{- else}}
      # vmSize: Standard_D4s_v5           # default: the first size this subscription may use here, of Standard_D2s_v5, Standard_D2as_v5, ... (see 'dhub plan')
{{- end}}
      count: {{.Count}}                      # nodes at creation
{{- with .Autoscale}}
      autoscale: {min: {{.Min}}, max: {{.Max}}}
{{- end}}
{{- with .Spot}}
      spot: {maxPrice: {{.MaxPrice}}, eviction: {{.Eviction}}}   # -1: pay up to the on-demand price
{{- end}}
{{- end}}
  # A monthly budget on the hub's resource groups (its own and the cluster's
  # nodes'): Azure mails contactEmails when the month's cost passes each actual
  # percentage of amount, or is forecast to pass each forecast one. Set amount
  # to the "at most" of 'dhub plan''s cost estimate, or to what you plan to
  # spend (README.md#budget).
  # budget:
  #   amount: 1000                     # a month, in azure.currency
  #   actual: [80, 100]
  #   forecast: [100]
  #   contactEmails: [{{if .Email}}{{.Email}}{{else}}you@example.org{{end}}]
  # A scratch container in Azure Blob Storage: users' servers and their Dask
  # workers reach az://scratch/<user> (SCRATCH_URL) with no key, through a
  # workload identity; blobs go retentionDays after their last change
  # (README.md#scratch). 'dhub down --keep-data' keeps it.
  storage:
    scratch:
      enabled: {{.Hub.Azure.Storage.Scratch.On}}
{{- if .Hub.Azure.Storage.Scratch.On}}
      retentionDays: {{.Hub.Azure.Storage.Scratch.RetentionDays}}
      accountName: {{.Hub.Azure.Storage.Scratch.AccountName}}   # unique across all of Azure: a random suffix, as the DNS label's
{{- end}}
{{- end}}
{{- if eq .Hub.Target "kubernetes"}}

kubernetes:
  # kubeconfig: ~/.kube/config   # default: KUBECONFIG, else ~/.kube/config
  # context: my-cluster          # default: the current context
  # Roles that have labelled nodes: core and user (hub.jupyter.org/node-purpose),
  # worker (k8s.dask.org/dedicated=worker). Pods of a listed role are pinned there.
  nodeRoles: []
{{- end}}
{{- if eq .Hub.Target "local"}}

local:
  host: {{.Hub.Local.Host}}
  port: {{.Hub.Local.Port}}
  # stateDir: ~/.local/state/dhub/{{.Hub.Name}}   # Python environment, secrets, logs (root: /var/lib/dhub/{{.Hub.Name}})
  python: {{.Hub.Local.Python}}                 # 3.11 or newer
{{- end}}

hub:
  # Single-user image; never :latest (docs/guide-parity.md#image).
  image: {{.Hub.JupyterHub.Image}}
  defaultUrl: {{.Hub.JupyterHub.DefaultURL}}
{{- if eq .Hub.Target "kubernetes"}}
  # host: hub.example.org              # the public name; required with https
  # How people reach the hub: loadBalancer (needs the cloud's or MetalLB's controller),
  # nodePort (a port on every node) or ingress (the cluster's ingress controller).
  expose:
    type: {{.Hub.JupyterHub.Expose.Type}}
    # ingressClassName: nginx          # type ingress; default: the cluster's default IngressClass
    # nodePort: 30080                  # type nodePort, 30000-32767; default: Kubernetes picks one
{{- end}}
{{- if ne .Hub.Target "local"}}
  https:
    enabled: {{.Hub.HTTPSEnabled}}                    # Let's Encrypt certificate for the host
{{- if .Hub.HTTPSEnabled}}
    contactEmail: {{q .Email}}   # required with https
{{- else}}
    # contactEmail: you@example.org
{{- end}}
{{- if eq .Hub.Target "kubernetes"}}
    # certManager: {issuer: letsencrypt-prod, kind: ClusterIssuer}   # with expose type ingress, instead of contactEmail
{{- end}}
{{- end}}
  auth:
    type: {{.Hub.JupyterHub.Auth.Type}}   # none (simple profile only), azuread or password
{{- if eq .Hub.Profile "simple"}}
    # The guide's simple hub lets anyone in: docs/guide-parity.md#auth
{{- end}}
{{- if eq .Hub.JupyterHub.Auth.Type "azuread"}}
    azuread:
      # The app registration of the guide; its redirect URI is
      # https://{{if .Hub.JupyterHub.Host}}{{.Hub.JupyterHub.Host}}{{else}}<host>{{end}}/hub/oauth_callback
      # (docs/guide-parity.md#app-registration)
      tenantId: {{q .TenantID}}
      clientId: {{q .ClientID}}
      # Or {fromFile: path}; never the secret itself: docs/guide-parity.md#client-secret
      clientSecret: {fromEnv: DHUB_AZUREAD_CLIENT_SECRET}
      # Who may log in: nobody unless listed here, or allowAll (docs/guide-parity.md#allow).
      allowedUsers: {{qlist .AllowedUsers}}       # user principal names, e.g. someone@example.org
      allowedGroups: {{qlist .AllowedGroups}}      # Azure AD group object ids
      admins: {{qlist .Admins}}
      allowAll: {{.AllowAll}}        # true: everyone in the tenant
{{- end}}
{{- if eq .Hub.JupyterHub.Auth.Type "password"}}
    password:
      adminUser: {{.Hub.JupyterHub.Auth.Password.AdminUser}}        # its password is generated by 'dhub up' and shown once
      # adminPassword: {fromEnv: DHUB_ADMIN_PASSWORD}
{{- if .UserPassword}}
      userPassword: {fromEnv: DHUB_USER_PASSWORD}   # shared by allowedUsers; set it before 'dhub up'
{{- else}}
      # userPassword: {fromEnv: DHUB_USER_PASSWORD}   # shared by allowedUsers
{{- end}}
      allowedUsers: {{qlist .AllowedUsers}}
{{- if .Admins}}
      admins: {{qlist .Admins}}     # log in with the admin password, as adminUser
{{- end}}
{{- if .AllowAll}}
      allowAll: true         # anyone with the user password, under any name
{{- end}}
{{- end}}
  idleCulling:
    enabled: true
    timeout: 1h            # stop servers idle this long
{{- if ne .Hub.Target "local"}}
  storage:
    size: {{.Hub.JupyterHub.Storage.Size}}           # each user's home volume
    # class: standard      # StorageClass of homes and the hub's database; default: the cluster's default
{{- end}}

dask:
  # image: {{.Hub.Dask.Image}}   # default: hub.image
  # What users may pick in gateway.new_cluster(...) and the default{{if eq .Hub.Target "azure"}}; the
  # maxima fit the worker pool's VMs{{end}} (docs/guide-parity.md#cluster-options).
  workerCores: {default: {{.Hub.Dask.WorkerCores.Default}}, min: {{.Hub.Dask.WorkerCores.Min}}, max: {{.Hub.Dask.WorkerCores.Max}}}
  workerMemoryGiB: {default: {{.Hub.Dask.WorkerMemory.Default}}, min: {{.Hub.Dask.WorkerMemory.Min}}, max: {{.Hub.Dask.WorkerMemory.Max}}}
  environment: {}          # passed to schedulers and workers
  limits: {maxWorkers: 0, maxCores: 0, maxMemoryGiB: 0}   # per cluster; 0: no limit
  # Shut down clusters idle this long; 0s: never (docs/guide-parity.md#dask-idle).
  idleTimeout: 1h
  # A user's clusters stop within 30s of their last server stopping (culled,
  # stopped, evicted); false: they run until idleTimeout (docs/guide-parity.md#dask-end).
  endWithServer: true
  requireAccessRole: false # true: only accessUsers/accessGroups may create clusters
{{- if ne .Hub.Target "local"}}

# Chart versions are pinned; path: a local chart directory or .tgz (air-gapped sites);
# values: extra Helm values merged last (checked against the chart's schema).
# Not the guide's daskhub chart: docs/guide-parity.md#chart
charts:
  jupyterhub: {version: {{.Hub.Charts.JupyterHub.Version}}}
  daskGateway: {version: {{.Hub.Charts.DaskGateway.Version}}}
{{- end}}
`))
