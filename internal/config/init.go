package config

import (
	"bytes"
	"crypto/rand"
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
	}
	h.SetDefaults()
	var buf bytes.Buffer
	err := initTemplate.Execute(&buf, struct {
		InitOptions
		Hub *Hub
	}{o, &h})
	return buf.Bytes(), err
}

// randomLabel is name, a dash and six random lowercase letters and
// digits, within the 63 characters of a DNS label.
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

var initTemplate = template.Must(template.New("dhub.yaml").Parse(`# dhub.yaml: one DaskHub (JupyterHub + Dask Gateway). 'dhub validate' checks it,
# 'dhub plan' shows what 'dhub up' would change. Omitted fields take the defaults
# of the profile; the values written here are those defaults, to edit.
apiVersion: {{.Hub.APIVersion}}
kind: {{.Hub.Kind}}
# The hub's name{{if eq .Hub.Target "azure"}}; it is reached at https://{{.Hub.JupyterHub.Host}}{{end}}.
name: {{.Hub.Name}}
# Where the hub runs: local (this machine), kubernetes (an existing cluster) or azure (AKS).
target: {{.Hub.Target}}
# simple or recommended, as in the Azure guide: picks the defaults of what is left out.
profile: {{.Hub.Profile}}
{{- if ne .Hub.Target "local"}}
# Kubernetes namespace of both charts; created by 'dhub up'.
namespace: {{.Hub.Namespace}}
{{- end}}
{{- if eq .Hub.Target "azure"}}

azure:
  # subscription: 00000000-0000-0000-0000-000000000000   # default: AZURE_SUBSCRIPTION_ID, else the az CLI default
  resourceGroup: {{.Hub.Azure.ResourceGroup}}
  location: {{.Hub.Azure.Location}}       # put the hub next to its data (Planetary Computer: westeurope)
  clusterName: {{.Hub.Azure.ClusterName}}
  # kubernetesVersion: "1.33"         # default: the AKS default version
  networkPolicy: {{.Hub.Azure.NetworkPolicy}}            # azure, calico, cilium or none; the charts' NetworkPolicies need one
  # The public address is https://<dnsLabel>.<location>.cloudapp.azure.com; a label is
  # unique per region across all of Azure, so this one carries a random suffix.
  dnsLabel: {{.Hub.Azure.DNSLabel}}
  # currency: USD                     # of the plan's monthly cost estimate (Azure retail prices): USD, EUR, GBP, ...
  # Roles: core (hub, proxy, gateway, system pods), user (notebooks, Dask schedulers),
  # worker (Dask workers), all (everything). Labels follow from the role.
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
  # stateDir: ~/.local/state/dhub/{{.Hub.Name}}   # Python environment, secrets, logs
  python: {{.Hub.Local.Python}}                 # 3.11 or newer
{{- end}}

hub:
  image: {{.Hub.JupyterHub.Image}}   # single-user image; never :latest
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
    contactEmail: "{{.Email}}"   # required with https
{{- else}}
    # contactEmail: you@example.org
{{- end}}
{{- if eq .Hub.Target "kubernetes"}}
    # certManager: {issuer: letsencrypt-prod, kind: ClusterIssuer}   # with expose type ingress, instead of contactEmail
{{- end}}
{{- end}}
  auth:
    type: {{.Hub.JupyterHub.Auth.Type}}   # none (simple profile only), azuread or password
{{- if eq .Hub.JupyterHub.Auth.Type "azuread"}}
    azuread:
      # The app registration of the guide; its redirect URI is
      # https://{{if .Hub.JupyterHub.Host}}{{.Hub.JupyterHub.Host}}{{else}}<host>{{end}}/hub/oauth_callback
      tenantId: "{{.TenantID}}"
      clientId: "{{.ClientID}}"
      clientSecret: {fromEnv: DHUB_AZUREAD_CLIENT_SECRET}   # or {fromFile: path}; never the secret itself
      # Who may log in: nobody unless listed here, or allowAll.
      allowedUsers: []       # user principal names, e.g. someone@example.org
      allowedGroups: []      # Azure AD group object ids
      admins: []
      allowAll: false        # true: everyone in the tenant
{{- end}}
{{- if eq .Hub.JupyterHub.Auth.Type "password"}}
    password:
      adminUser: {{.Hub.JupyterHub.Auth.Password.AdminUser}}        # its password is generated by 'dhub up' and shown once
      # adminPassword: {fromEnv: DHUB_ADMIN_PASSWORD}
      # userPassword: {fromEnv: DHUB_USER_PASSWORD}   # shared by allowedUsers
      allowedUsers: []
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
  # What users may pick in gateway.new_cluster(...) and the default.
  workerCores: {default: {{.Hub.Dask.WorkerCores.Default}}, min: {{.Hub.Dask.WorkerCores.Min}}, max: {{.Hub.Dask.WorkerCores.Max}}}
  workerMemoryGiB: {default: {{.Hub.Dask.WorkerMemory.Default}}, min: {{.Hub.Dask.WorkerMemory.Min}}, max: {{.Hub.Dask.WorkerMemory.Max}}}
  environment: {}          # passed to schedulers and workers
  limits: {maxWorkers: 0, maxCores: 0, maxMemoryGiB: 0}   # per cluster; 0: no limit
  idleTimeout: 1h          # shut down clusters idle this long; 0s: never
  requireAccessRole: false # true: only accessUsers/accessGroups may create clusters
{{- if ne .Hub.Target "local"}}

# Chart versions are pinned; path: a local chart directory or .tgz (air-gapped sites);
# values: extra Helm values merged last (checked against the chart's schema).
charts:
  jupyterhub: {version: {{.Hub.Charts.JupyterHub.Version}}}
  daskGateway: {version: {{.Hub.Charts.DaskGateway.Version}}}
{{- end}}
`))
