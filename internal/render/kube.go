// Package render turns a Hub into what dhub installs: Helm values for the
// JupyterHub and Dask Gateway charts, wired the way daskhub wires them, and
// the configuration files of the local target. It is pure: no I/O, no cloud.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"dhub/internal/charts"
	"dhub/internal/config"
)

// The scratch container on Azure: its name, and the service account
// users' servers and their Dask pods run as, which the workload identity's
// federated credential trusts.
const (
	ScratchContainer      = "scratch"
	StorageServiceAccount = "dhub-storage"
)

const (
	// AuthSecretName is the Secret dhub creates for authentication secrets,
	// so they never sit in Helm values.
	AuthSecretName = "dhub-auth"
	// GatewayPrefix is where the hub's proxy routes to the Dask Gateway,
	// the path users' Gateway() calls take.
	GatewayPrefix = "/services/dask-gateway"
)

// ReleaseNames are the Helm release names of one hub. The JupyterHub chart
// names its namespaced objects without the release name (hub,
// proxy-public) but its cluster-wide ones (ClusterRoles, PriorityClasses)
// after it; the gateway chart names all its objects after its release. So
// each hub on a cluster needs release names of its own.
type ReleaseNames struct {
	JupyterHub  string `json:"jupyterhub"`
	DaskGateway string `json:"daskGateway"`
}

// LegacyReleaseNames are the names every hub had before several hubs could
// share a cluster; a hub installed under them keeps them, so it is
// upgraded in place.
var LegacyReleaseNames = ReleaseNames{JupyterHub: "jupyterhub", DaskGateway: "dask-gateway"}

// ReleaseNamesFor are the release names of a new hub in namespace ns,
// unique on the cluster as the namespace is: <ns>-jupyterhub and
// <ns>-dask-gateway. A long namespace is shortened with a hash of it, so
// that the gateway's longest object name, controller-<release>, stays
// within Kubernetes' 63 characters.
func ReleaseNamesFor(ns string) ReleaseNames {
	const maxPrefix = 63 - len("controller-") - len("-dask-gateway")
	prefix := ns
	if len(prefix) > maxPrefix {
		sum := sha256.Sum256([]byte(ns))
		prefix = strings.TrimRight(ns[:maxPrefix-9], "-") + "-" + hex.EncodeToString(sum[:4])
	}
	return ReleaseNames{JupyterHub: prefix + "-jupyterhub", DaskGateway: prefix + "-dask-gateway"}
}

// DhubService is the hub service dhub itself uses (smoke, status), with
// the scopes it needs to create the smoke user and that user's token.
const DhubService = "dhub"

// DhubServiceScopes are the scopes of DhubService.
var DhubServiceScopes = []string{"admin:users", "tokens", "list:users", "read:servers"}

// DhubTokenKey is where the JupyterHub chart keeps DhubService's token in
// its "hub" Secret.
const DhubTokenKey = "hub.services." + DhubService + ".apiToken"

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Release is one Helm release: which chart, and its values.
type Release struct {
	Name string
	// Chart has the version and repository from the config; Path, when set,
	// is a local chart directory or .tgz that replaces the repository.
	Chart  charts.Chart
	Path   string
	Values map[string]any
}

// SecretSource is where one key of a Secret comes from: a reference in the
// config, or (with Generate) a random value dhub makes once and keeps.
type SecretSource struct {
	Ref      config.SecretRef
	Generate bool
	// Keep takes the value the cluster's Secret has (a secret dhub made
	// and holds nowhere else, such as its application's client secret).
	Keep bool
}

// Secret is a Kubernetes Secret dhub creates next to the releases. Values
// are sources, never secret text, so a Secret can be shown safely.
type Secret struct {
	Name      string
	Namespace string
	Data      map[string]SecretSource
}

// Kubernetes is everything dhub installs on a cluster for a Hub.
type Kubernetes struct {
	Names    ReleaseNames
	Releases []Release
	// Secret is nil when the hub needs none (auth type none).
	Secret *Secret
	// ServiceAccount is the one users' pods run as to reach the Azure
	// scratch container; nil without one.
	ServiceAccount *ServiceAccount
}

// ForKubernetes renders the releases and Secret of a validated Hub
// installed afresh: its releases are named ReleaseNamesFor its namespace.
func ForKubernetes(h *config.Hub) *Kubernetes {
	return ForReleases(h, ReleaseNamesFor(h.Namespace))
}

// ForReleases renders the releases and Secret of a validated Hub under the
// given release names (those of a hub already installed).
func ForReleases(h *config.Hub, names ReleaseNames) *Kubernetes {
	k := &Kubernetes{Names: names, ServiceAccount: storageServiceAccount(h)}
	secret := &Secret{Name: AuthSecretName, Namespace: h.Namespace, Data: map[string]SecretSource{}}
	jh := jupyterHubValues(h, names, secret)
	dg := daskGatewayValues(h)
	k.Releases = []Release{
		{Name: names.JupyterHub, Chart: chart(charts.JupyterHub, h.Charts.JupyterHub), Path: h.Charts.JupyterHub.Path,
			Values: charts.Coalesce(jh, h.Charts.JupyterHub.Values)},
		{Name: names.DaskGateway, Chart: chart(charts.DaskGateway, h.Charts.DaskGateway), Path: h.Charts.DaskGateway.Path,
			Values: charts.Coalesce(dg, h.Charts.DaskGateway.Values)},
	}
	if len(secret.Data) > 0 {
		k.Secret = secret
	}
	return k
}

func chart(c charts.Chart, s config.ChartSource) charts.Chart {
	c.Version, c.Repository = s.Version, s.Repository
	return c
}

// GatewayAPIService is the gateway API's Service, as the gateway chart
// names it after its release (which always contains "dask-gateway").
func (n ReleaseNames) GatewayAPIService() string { return "api-" + n.DaskGateway }

// GatewayHealthPath is the gateway API server's health route
// (dask_gateway_server/routes.py), which the chart's probes ask too.
const GatewayHealthPath = "/api/health"

// traefikService is the gateway's proxy Service.
func (n ReleaseNames) traefikService() string { return "traefik-" + n.DaskGateway }

// gatewayMatchLabels select the gateway's pods of one component.
func (n ReleaseNames) gatewayMatchLabels(component string) map[string]any {
	return map[string]any{
		"app.kubernetes.io/name":      "dask-gateway",
		"app.kubernetes.io/instance":  n.DaskGateway,
		"app.kubernetes.io/component": component,
	}
}

// jupyterHubValues are the JupyterHub chart's values, one section each.
// Authentication secrets go into secret, never into the values.
func jupyterHubValues(h *config.Hub, names ReleaseNames, secret *Secret) map[string]any {
	v := map[string]any{
		"hub":        hubValues(h, names, secret),
		"singleuser": singleuserValues(h, names),
		"cull":       cullValues(h),
	}
	if proxy := proxyValues(h); len(proxy) > 0 {
		v["proxy"] = proxy
	}
	if scheduling := schedulingValues(h); len(scheduling) > 0 {
		v["scheduling"] = scheduling
	}
	if ingress := ingressValues(h); len(ingress) > 0 {
		v["ingress"] = ingress
	}
	return v
}

// singleuserValues configure the user servers: image, storage, the Dask
// Gateway client's environment, and egress to the gateway.
func singleuserValues(h *config.Hub, names ReleaseNames) map[string]any {
	j := h.JupyterHub
	name, tag := splitImage(j.Image)
	v := map[string]any{
		// With HTTPS, users reach the gateway through proxy-http, whose
		// NetworkPolicy admits only pods with this label (merged with the
		// chart's default extraLabels).
		"extraLabels": map[string]any{"hub.jupyter.org/network-access-proxy-http": "true"},
		"image":       map[string]any{"name": name, "tag": tag},
		"defaultUrl":  j.DefaultURL,
		"storage":     storageValues(j.Storage),
		"extraEnv":    singleuserEnv(h, names),
		// JupyterLab in users' servers asks nobody about news and calls out
		// for neither news nor updates, as on the local target, whatever the
		// image. Its prompt heeds only the fetchNews setting, whose override
		// file lives in the image's own prefix; a page config in a
		// labconfig directory on every image's config path (/etc/jupyter)
		// turns off the plugin that asks and fetches instead.
		"extraFiles": map[string]any{"dhub-lab-page-config": map[string]any{
			"mountPath":  "/etc/jupyter/labconfig/page_config.d/dhub.json",
			"stringData": labPageConfig,
		}},
		// The singleuser egress policy blocks private IPs: allow exactly the
		// gateway's traefik (web port) so Dask clients can reach their clusters.
		"networkPolicy": map[string]any{"egress": []any{map[string]any{
			"to":    []any{map[string]any{"podSelector": map[string]any{"matchLabels": names.gatewayMatchLabels("traefik")}}},
			"ports": []any{map[string]any{"port": 8000, "protocol": "TCP"}},
		}}},
	}
	if azureScratch(h) {
		v["serviceAccountName"] = StorageServiceAccount
		v["extraLabels"].(map[string]any)[WorkloadIdentityLabel] = "true"
		storage := v["storage"].(map[string]any)
		storage["extraVolumes"] = []any{tokenVolume()}
		storage["extraVolumeMounts"] = []any{tokenMount()}
	}
	return v
}

// labPageConfig is the JupyterLab page config of users' servers: without
// the plugin that prompts for, fetches and shows news and update checks.
const labPageConfig = `{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}
`

// singleuserEnv points the Dask Gateway client and the Dask labextension
// of user servers at the gateway.
func singleuserEnv(h *config.Hub, names ReleaseNames) map[string]any {
	// User pods reach the gateway through the hub's proxy; with the chart's
	// autohttps, proxy-public redirects to https, so they use the internal
	// proxy-http. Behind an Ingress, proxy-public itself serves plain HTTP.
	gatewayAddress := "http://proxy-public" + GatewayPrefix
	if h.AutoHTTPS() {
		gatewayAddress = "http://proxy-http:8000" + GatewayPrefix
	}
	env := map[string]any{
		"DASK_GATEWAY__ADDRESS":                 gatewayAddress,
		"DASK_GATEWAY__PROXY_ADDRESS":           fmt.Sprintf("gateway://%s.%s:80", names.traefikService(), h.Namespace),
		"DASK_GATEWAY__PUBLIC_ADDRESS":          GatewayPrefix + "/",
		"DASK_GATEWAY__AUTH__TYPE":              "jupyterhub",
		"DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE": "{JUPYTER_IMAGE_SPEC}",
		"DASK_DISTRIBUTED__DASHBOARD__LINK":     "/user/{JUPYTERHUB_USER}/proxy/{port}/status",
		"DASK_LABEXTENSION__FACTORY__MODULE":    "dask_gateway",
		"DASK_LABEXTENSION__FACTORY__CLASS":     "GatewayCluster",
	}
	for k, v := range env {
		// KubeSpawner runs str.format over env values: literal braces double.
		env[k] = escapeBraces(v.(string))
	}
	if sc := h.JupyterHub.Storage.Scratch; sc != nil {
		// Each user's own place: KubeSpawner fills in the user's name as
		// the hub knows it, which the gateway gives schedulers and workers.
		env["SCRATCH_URL"] = escapeBraces(strings.TrimRight(sc.URL, "/")) + "/{unescaped_username}"
	}
	if azureScratch(h) {
		for k, v := range scratchEnv(h) {
			env[k] = escapeBraces(v)
		}
		env["SCRATCH_URL"] = "az://" + ScratchContainer + "/{unescaped_username}"
	}
	return env
}

// scratchCredentials is the container config that makes every key of the
// scratch bucket's credentials Secret an environment variable, or nil.
func scratchCredentials(h *config.Hub) map[string]any {
	sc := h.JupyterHub.Storage.Scratch
	if sc == nil || sc.CredentialsSecret == "" {
		return nil
	}
	return map[string]any{"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": sc.CredentialsSecret}}}}
}

// hubValues configure the hub: its services, who may reach its API, the
// authenticator and the roles it loads.
func hubValues(h *config.Hub, names ReleaseNames, secret *Secret) map[string]any {
	hub := map[string]any{
		"services": map[string]any{
			"dask-gateway": map[string]any{
				"display": false,
				"url":     fmt.Sprintf("http://%s.%s", names.traefikService(), h.Namespace),
			},
			// dhub's own API-only service, for status and smoke; the chart
			// generates its token into the hub Secret.
			DhubService: map[string]any{"display": false},
		},
		// The gateway API checks user tokens against the hub API directly.
		"networkPolicy": map[string]any{"ingress": []any{map[string]any{
			"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": names.gatewayMatchLabels("gateway")}}},
			"ports": []any{map[string]any{"port": "http"}},
		}}},
		"loadRoles": hubRoles(h.Dask),
	}
	if c := h.JupyterHub.Storage.Class; c != "" {
		hub["db"] = map[string]any{"pvc": map[string]any{"storageClassName": c}}
	}
	addHubAuth(hub, h, secret)
	if h.Dask.RequireAccessRole {
		// The token of a user's server carries only the scopes requested
		// here that its user holds: ask for the gateway's too, so granted
		// users reach it from their notebooks.
		hub["config"].(map[string]any)["Spawner"] = map[string]any{"server_token_scopes": toAny(ServerTokenScopes)}
	}
	if creds := scratchCredentials(h); creds != nil {
		// The chart has no singleuser setting for envFrom.
		hub["config"].(map[string]any)["KubeSpawner"] = map[string]any{"extra_container_config": creds}
	}
	return hub
}

// ServerTokenScopes are the scopes the token of a user's server asks for
// when the gateway requires its access role: the server role's (JupyterHub
// 5's default) and the gateway's. A user who lacks the gateway's does not
// get it.
var ServerTokenScopes = []string{"users:activity!user", "access:servers!server", "access:services!service=dask-gateway"}

// addHubAuth sets the hub's authenticator (config, and extraConfig where
// the chart has no setting). The secrets it needs go into secret and reach
// the hub as extraEnv.
func addHubAuth(hub map[string]any, h *config.Hub, secret *Secret) {
	hubConfig := map[string]any{}
	hubEnv := map[string]any{}
	secretEnv := func(envName, key string, src SecretSource) {
		secret.Data[key] = src
		hubEnv[envName] = map[string]any{"valueFrom": map[string]any{
			"secretKeyRef": map[string]any{"name": secret.Name, "key": key}}}
	}
	switch a := h.JupyterHub.Auth; a.Type {
	case config.AuthNone:
		hubConfig["JupyterHub"] = map[string]any{"authenticator_class": "dummy"}
		hubConfig["DummyAuthenticator"] = map[string]any{"allow_all": true}
	case config.AuthAzureAD:
		ad := a.AzureAD
		hubConfig["JupyterHub"] = map[string]any{"authenticator_class": "azuread"}
		c := map[string]any{
			"tenant_id":          ad.TenantID,
			"client_id":          ad.ClientID,
			"oauth_callback_url": OAuthCallbackURL(h),
			"allow_all":          ad.AllowAll,
		}
		accessConfig(c, ad.Access)
		if len(ad.AllowedGroups) > 0 {
			// Read from the id_token's groups claim (OAuthenticator's
			// default auth_state_groups_key, "user.groups"): the app
			// registration must emit it (groupMembershipClaims).
			c["allowed_groups"] = ad.AllowedGroups
			c["manage_groups"] = true
		}
		hubConfig["AzureAdOAuthenticator"] = c
		// Users are named by their user principal name, as allowedUsers and
		// admins are written (OAuthenticator's default claim is the display
		// name, which matches neither); guest accounts have no upn claim
		// and are named by their email address.
		hub["extraConfig"] = map[string]any{"dhub-azuread-username": azureADUsername}
		// OAuthenticator reads its client secret from this variable.
		// With no reference, the secret is the one of the application dhub
		// registers, which only the cluster's Secret keeps.
		secretEnv("OAUTH_CLIENT_SECRET", AzureADSecretKey, SecretSource{Ref: ad.ClientSecret, Keep: ad.ClientSecret.IsZero()})
	case config.AuthPassword:
		p := a.Password
		hubConfig["JupyterHub"] = map[string]any{"authenticator_class": "shared-password"}
		c := map[string]any{"allow_all": p.AllowAll}
		accessConfig(c, config.Access{AllowedUsers: p.AllowedNames(), Admins: p.AdminNames()})
		hubConfig["SharedPasswordAuthenticator"] = c
		secretEnv("DHUB_ADMIN_PASSWORD", AdminPasswordKey, SecretSource{Ref: p.AdminPassword, Generate: p.AdminPassword.IsZero()})
		code := "import os\nc.SharedPasswordAuthenticator.admin_password = os.environ[\"DHUB_ADMIN_PASSWORD\"]\n"
		if !p.UserPassword.IsZero() {
			secretEnv("DHUB_USER_PASSWORD", "user-password", SecretSource{Ref: p.UserPassword})
			code += "c.SharedPasswordAuthenticator.user_password = os.environ[\"DHUB_USER_PASSWORD\"]\n"
		}
		hub["extraConfig"] = map[string]any{"dhub-shared-password": code}
	}
	hub["config"] = hubConfig
	if len(hubEnv) > 0 {
		hub["extraEnv"] = hubEnv
	}
}

// AzureADSecretKey is the key of the Azure AD client secret in the hub's
// Secret.
const AzureADSecretKey = "azuread-client-secret"

// AdminPasswordKey is the key of the admin's password in the hub's Secret
// with password authentication.
const AdminPasswordKey = "admin-password"

// azureADUsername names Azure AD users: their upn, else (guests) their
// email, else preferred_username.
const azureADUsername = `def _dhub_username(claims):
    for key in ("upn", "email", "preferred_username"):
        if claims.get(key):
            return claims[key]
    return None


c.AzureAdOAuthenticator.username_claim = _dhub_username
`

// hubRoles are the roles the hub loads: dhub's service role, the
// gateway's sight of users' servers (dask.endWithServer) and, when the
// gateway requires it, the role that grants access to it.
func hubRoles(d config.Dask) map[string]any {
	roles := map[string]any{DhubService: map[string]any{"scopes": toAny(DhubServiceScopes), "services": []any{DhubService}}}
	if *d.EndWithServer {
		roles[gatewayServersRole] = map[string]any{"scopes": toAny(GatewayHubScopes), "services": []any{"dask-gateway"}}
	}
	if d.RequireAccessRole {
		role := map[string]any{"scopes": []any{"access:services!service=dask-gateway"}}
		if len(d.AccessUsers) > 0 {
			role["users"] = d.AccessUsers
		}
		if len(d.AccessGroups) > 0 {
			role["groups"] = d.AccessGroups
		}
		roles["dask-gateway-users"] = role
	}
	return roles
}

// proxyValues configure proxy-public: its type (see exposeValues), its
// Azure DNS label and the chart's own HTTPS. Empty when none applies.
func proxyValues(h *config.Hub) map[string]any {
	proxy := map[string]any{}
	if svc := serviceValues(h); len(svc) > 0 {
		proxy["service"] = svc
	}
	if h.Target == config.TargetAzure {
		proxy["service"] = map[string]any{"annotations": map[string]any{
			"service.beta.kubernetes.io/azure-dns-label-name": h.Azure.DNSLabel,
		}}
	}
	if h.AutoHTTPS() {
		proxy["https"] = map[string]any{
			"enabled":     true,
			"type":        "letsencrypt",
			"hosts":       []any{h.JupyterHub.Host},
			"letsencrypt": map[string]any{"contactEmail": h.JupyterHub.HTTPS.ContactEmail},
		}
	}
	return proxy
}

// schedulingValues keep core and user pods on their own node pools, when
// the hub has them. Empty otherwise.
func schedulingValues(h *config.Hub) map[string]any {
	roles := h.PoolRoles()
	scheduling := map[string]any{}
	if roles[config.RoleCore] {
		scheduling["corePods"] = map[string]any{"nodeAffinity": map[string]any{"matchNodePurpose": "require"}}
	}
	if roles[config.RoleUser] {
		scheduling["userPods"] = map[string]any{"nodeAffinity": map[string]any{"matchNodePurpose": "require"}}
	}
	return scheduling
}

// cullValues configure the culling of idle user servers.
func cullValues(h *config.Hub) map[string]any {
	return map[string]any{
		"enabled": h.IdleCullingEnabled(),
		"timeout": int(h.JupyterHub.IdleCulling.Timeout.Seconds()),
	}
}

// accessConfig writes the allow rule in OAuthenticator's terms.
func accessConfig(c map[string]any, a config.Access) {
	if len(a.AllowedUsers) > 0 {
		c["allowed_users"] = a.AllowedUsers
	}
	if len(a.Admins) > 0 {
		c["admin_users"] = a.Admins
	}
}

func daskGatewayValues(h *config.Hub) map[string]any {
	roles := h.PoolRoles()
	name, tag := splitImage(h.Dask.Image)
	jhAuth := map[string]any{}
	if h.Dask.RequireAccessRole {
		jhAuth["jupyterhubServiceName"] = "dask-gateway"
	}
	backend := map[string]any{"image": map[string]any{"name": name, "tag": tag}}
	if roles[config.RoleWorker] {
		backend["worker"] = map[string]any{"extraPodConfig": map[string]any{
			"affinity": nodeAffinity(config.LabelDaskWorker, "worker"),
			"tolerations": []any{
				toleration("k8s.dask.org/dedicated", "worker"),
				toleration("k8s.dask.org_dedicated", "worker"),
				// AKS taints every Spot pool with this.
				toleration("kubernetes.azure.com/scalesetpriority", "spot"),
			},
		}}
	}
	if roles[config.RoleUser] {
		// Schedulers share the user pool, as in the guide.
		backend["scheduler"] = map[string]any{"extraPodConfig": map[string]any{
			"affinity":    nodeAffinity(config.LabelNodePurpose, "user"),
			"tolerations": []any{toleration("hub.jupyter.org/dedicated", "user"), toleration("hub.jupyter.org_dedicated", "user")},
		}}
	}
	if creds := scratchCredentials(h); creds != nil {
		for _, role := range []string{"scheduler", "worker"} {
			child(backend, role)["extraContainerConfig"] = creds
		}
	}
	scratchPrefix := ""
	if sc := h.JupyterHub.Storage.Scratch; sc != nil {
		scratchPrefix = pyString(strings.TrimRight(sc.URL, "/") + "/")
	}
	if azureScratch(h) {
		scratchPrefix = pyString("az://" + ScratchContainer + "/")
		for _, role := range []string{"scheduler", "worker"} {
			r := child(backend, role)
			pod := child(r, "extraPodConfig")
			pod["serviceAccountName"] = StorageServiceAccount
			pod["volumes"] = []any{tokenVolume()}
			r["extraContainerConfig"] = map[string]any{"env": envList(scratchEnv(h)), "volumeMounts": []any{tokenMount()}}
		}
	}
	gateway := map[string]any{
		"prefix":      GatewayPrefix,
		"auth":        map[string]any{"type": "jupyterhub", "jupyterhub": jhAuth},
		"backend":     backend,
		"extraConfig": map[string]any{"dhub-cluster-options": clusterOptionsPython(h.Dask, true, scratchPrefix)},
	}
	if azureScratch(h) {
		gateway["extraConfig"].(map[string]any)["dhub-workload-identity"] = identityPython
	}
	if *h.Dask.EndWithServer {
		gateway["extraConfig"].(map[string]any)["dhub-end-with-server"] = "from dask_gateway_server.backends.kubernetes import KubeBackend\n\n" + endWithServerConfig("KubeBackend")
	}
	v := map[string]any{
		"gateway": gateway,
		// Users reach the gateway through the hub, never from outside.
		"traefik": map[string]any{"service": map[string]any{"type": "ClusterIP"}},
	}
	if roles[config.RoleCore] {
		core := map[string]any{config.LabelNodePurpose: "core"}
		gateway["nodeSelector"] = core
		v["controller"] = map[string]any{"nodeSelector": core}
		v["traefik"].(map[string]any)["nodeSelector"] = core
	}
	return v
}

// child is m[key] as a map, made empty first when m has none.
func child(m map[string]any, key string) map[string]any {
	c, _ := m[key].(map[string]any)
	if c == nil {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

func nodeAffinity(key, value string) map[string]any {
	return map[string]any{"nodeAffinity": map[string]any{
		"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
			"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
				map[string]any{"key": key, "operator": "In", "values": []any{value}},
			}}},
		},
	}}
}

func toleration(key, value string) map[string]any {
	return map[string]any{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}
}

// hubURL is the public URL of the hub, without a trailing slash.
// OAuthCallbackURL is where Azure AD sends users back to the hub: the
// redirect URI its application registration must list.
func OAuthCallbackURL(h *config.Hub) string { return hubURL(h) + "/hub/oauth_callback" }

func hubURL(h *config.Hub) string {
	scheme := "http"
	if h.HTTPSEnabled() {
		scheme = "https"
	}
	return scheme + "://" + h.JupyterHub.Host
}

// escapeBraces doubles literal braces, which KubeSpawner would otherwise
// take for str.format fields and fail every spawn.
func escapeBraces(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

// splitImage splits an image into the name and tag the charts join as
// name:tag, so that the join is the image again: name:tag at the tag (not
// a registry port), name:tag@digest with the digest kept in the tag as the
// JupyterHub chart documents, and name@sha256:hex at the digest's colon.
func splitImage(image string) (name, tag string) {
	base, digest, hasDigest := strings.Cut(image, "@")
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		name, tag = base[:i], base[i+1:]
		if hasDigest {
			tag += "@" + digest
		}
		return name, tag
	}
	if hasDigest {
		algo, hex, _ := strings.Cut(digest, ":")
		return base + "@" + algo, hex
	}
	return image, ""
}

// SortedKeys returns the keys of a Secret's data in order.
func (s *Secret) SortedKeys() []string {
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
