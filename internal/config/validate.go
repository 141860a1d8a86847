package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Problem is one thing wrong (or, as a warning, risky) in a Hub.
type Problem struct {
	// Path is the field path, such as "azure.nodePools[2].autoscale.max".
	Path    string
	Message string
	Warning bool
}

// String is "path: message", with "warning:" before a warning's message.
func (p Problem) String() string {
	if p.Warning {
		return fmt.Sprintf("%s: warning: %s", p.Path, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Message)
}

// Problems is every problem Validate found, errors and warnings.
type Problems []Problem

// Errors returns only the problems that are not warnings.
func (ps Problems) Errors() Problems { return ps.filter(false) }

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(true) }

func (ps Problems) filter(warning bool) Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning == warning {
			out = append(out, p)
		}
	}
	return out
}

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	hostnameRE     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	rgRE           = regexp.MustCompile(`^[-\w.()]{0,89}[-\w()]$`)
	locationRE     = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	clusterRE      = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$`)
	k8sVerRE       = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)
	guidRE         = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	poolNameRE     = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	vmSizeRE       = regexp.MustCompile(`^Standard_[A-Za-z0-9_]+$`)
	labelKeyRE     = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValRE     = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	taintRE        = regexp.MustCompile(`^([^=:]+)=([^=:]*):(NoSchedule|PreferNoSchedule|NoExecute)$`)
	emailRE        = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	quantityRE     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
	envNameRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	chartVerRE     = regexp.MustCompile(`^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$`)
	userNameRE     = regexp.MustCompile(`^\S+$`)
	imageTagRE     = regexp.MustCompile(`^[^:@\s]+(:\d+)?(/[^:@\s]+)*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64}|:[\w][\w.-]{0,127}@sha256:[0-9a-f]{64})$`)
	networkPols    = []string{"azure", "calico", "cilium", "none"}
)

// Validate checks a defaulted Hub and returns every problem, sorted by path.
func (h *Hub) Validate() Problems {
	v := &validator{}
	v.hub(h)
	sort.SliceStable(v.ps, func(i, j int) bool { return v.ps[i].Path < v.ps[j].Path })
	return v.ps
}

type validator struct{ ps Problems }

func (v *validator) errf(path, format string, a ...any) {
	v.ps = append(v.ps, Problem{Path: path, Message: fmt.Sprintf(format, a...)})
}

func (v *validator) warnf(path, format string, a ...any) {
	v.ps = append(v.ps, Problem{Path: path, Message: fmt.Sprintf(format, a...), Warning: true})
}

// oneOf reports when s is not among choices.
func oneOf[T ~string](v *validator, path string, s T, choices ...T) {
	for _, c := range choices {
		if s == c {
			return
		}
	}
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	v.errf(path, "%q is not one of %s", s, strings.Join(names, ", "))
}

func (v *validator) hub(h *Hub) {
	if h.APIVersion != APIVersion {
		v.errf("apiVersion", "%q is not supported; use %s", h.APIVersion, APIVersion)
	}
	if h.Kind != Kind {
		v.errf("kind", "%q is not supported; use %s", h.Kind, Kind)
	}
	switch {
	case h.Name == "":
		v.errf("name", "required: the hub's name, also its DNS label on Azure (for example pangeo-hub)")
	case !dnsLabelRE.MatchString(h.Name) || len(h.Name) < 3:
		v.errf("name", "%q is not a DNS label: use 3 to 63 lowercase letters, digits and '-', starting with a letter", h.Name)
	}
	if !slices.Contains(Targets, h.Target) {
		// The other rules and the defaults depend on the target: checked
		// against none, they would only add problems the file does not have.
		oneOf(v, "target", h.Target, Targets...)
		return
	}
	oneOf(v, "profile", h.Profile, ProfileSimple, ProfileRecommended)
	if !dnsLabelRE.MatchString(h.Namespace) {
		v.errf("namespace", "%q is not a Kubernetes namespace name: use lowercase letters, digits and '-'", h.Namespace)
	}
	switch h.Target {
	case TargetAzure:
		v.azure(&h.Azure)
	case TargetKubernetes:
		for i, r := range h.Kubernetes.NodeRoles {
			oneOf(v, fmt.Sprintf("kubernetes.nodeRoles[%d]", i), r, RoleCore, RoleUser, RoleWorker)
		}
	case TargetLocal:
		v.local(&h.Local)
	}
	v.jupyterHub(h)
	v.dask(&h.Dask)
	v.workersFitNodes(h)
	if h.Target == TargetLocal {
		for path, c := range map[string]*ChartSource{"charts.jupyterhub": &h.Charts.JupyterHub, "charts.daskGateway": &h.Charts.DaskGateway} {
			if len(c.Values) > 0 {
				v.warnf(path+".values", "ignored by the local target, which installs no charts: what they set is not applied")
			}
		}
	}
	v.chart("charts.jupyterhub", &h.Charts.JupyterHub, "proxy.secretToken", "hub.cookieSecret", "hub.db.password",
		"imagePullSecret.password", "hub.services.*.apiToken", "hub.services.*.api_token", "hub.config.*.client_secret",
		"proxy.https.manual.key")
	v.chart("charts.daskGateway", &h.Charts.DaskGateway, "gateway.auth.jupyterhub.apiToken",
		"gateway.auth.simple.password", "gateway.auth.kerberos.keytab")
}

func (v *validator) azure(a *Azure) {
	if a.Subscription != "" && !guidRE.MatchString(a.Subscription) {
		v.errf("azure.subscription", "%q is not a subscription id (a GUID); leave it empty to use AZURE_SUBSCRIPTION_ID or the az CLI default", a.Subscription)
	}
	if !rgRE.MatchString(a.ResourceGroup) {
		v.errf("azure.resourceGroup", "%q is not a resource group name: 1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'", a.ResourceGroup)
	}
	if !locationRE.MatchString(a.Location) {
		v.errf("azure.location", "%q is not an Azure region name such as westeurope (lowercase, no spaces)", a.Location)
	}
	if !clusterRE.MatchString(a.ClusterName) {
		v.errf("azure.clusterName", "%q is not an AKS cluster name: 1 to 63 letters, digits, '-' and '_', starting and ending with a letter or digit", a.ClusterName)
	}
	if a.KubernetesVersion != "" && !k8sVerRE.MatchString(a.KubernetesVersion) {
		v.errf("azure.kubernetesVersion", "%q is not a Kubernetes version such as 1.33 or 1.33.2; leave it empty for the AKS default", a.KubernetesVersion)
	}
	if a.DNSLabel != "" && (!dnsLabelRE.MatchString(a.DNSLabel) || len(a.DNSLabel) < 3) {
		v.errf("azure.dnsLabel", "%q is not an Azure DNS label: 3 to 63 lowercase letters, digits and '-', starting with a letter", a.DNSLabel)
	}
	oneOf(v, "azure.networkPolicy", a.NetworkPolicy, networkPols...)
	oneOf(v, "azure.currency", a.Currency, Currencies...)
	if a.NetworkPolicy == "none" {
		v.warnf("azure.networkPolicy", "without a network policy engine AKS does not enforce the charts' NetworkPolicies: user pods can reach everything in the cluster")
	}
	if len(a.NodePools) == 0 {
		v.errf("azure.nodePools", "at least one node pool is required")
		return
	}
	seen := map[string]bool{}
	system := false
	for i, p := range a.NodePools {
		path := fmt.Sprintf("azure.nodePools[%d]", i)
		v.nodePool(path, p)
		if seen[p.Name] {
			v.errf(path+".name", "%q is used by another pool", p.Name)
		}
		seen[p.Name] = true
		if p.Role == RoleCore || p.Role == RoleAll {
			system = true
		}
	}
	if !system {
		v.errf("azure.nodePools", "AKS needs a system pool: give one pool role core (or all)")
	}
	if a.Budget != nil {
		v.budget("azure.budget", a.Budget)
	}
	if sc := a.Storage.Scratch; sc.On() {
		const path = "azure.storage.scratch"
		if sc.AccountName != "" && !storageAccountRE.MatchString(sc.AccountName) {
			v.errf(path+".accountName", "%q is not a storage account name: 3 to 24 lowercase letters and digits", sc.AccountName)
		}
		if sc.RetentionDays < 1 || sc.RetentionDays > maxRetentionDays {
			v.errf(path+".retentionDays", "%d: blobs are kept 1 to %d days after their last change (Azure's lifecycle rules)", sc.RetentionDays, maxRetentionDays)
		}
	}
}

// storageAccountRE is Azure's rule for storage account names.
var storageAccountRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// maxRetentionDays is the most daysAfterModificationGreaterThan Azure
// takes in a lifecycle rule.
const maxRetentionDays = 99999

// budgetNotifications is how many notifications Azure allows a budget.
const budgetNotifications = 5

// budget checks what the Consumption Budgets API would refuse.
func (v *validator) budget(path string, b *Budget) {
	if v.finite(path+".amount", b.Amount) && b.Amount <= 0 {
		v.errf(path+".amount", "%g: a budget's monthly amount must be more than 0", b.Amount)
	}
	for _, l := range []struct {
		field string
		ps    []float64
	}{{"actual", b.Actual}, {"forecast", b.Forecast}} {
		seen := map[float64]bool{}
		for i, p := range l.ps {
			at := fmt.Sprintf("%s.%s[%d]", path, l.field, i)
			switch {
			case !v.finite(at, p):
			case p <= 0 || p > 1000:
				v.errf(at, "%g: a threshold is a percentage of the amount, more than 0 and at most 1000", p)
			case seen[p]:
				v.errf(at, "%g is listed twice", p)
			}
			seen[p] = true
		}
	}
	if n := len(b.Actual) + len(b.Forecast); n > budgetNotifications {
		v.errf(path, "%d thresholds (actual and forecast): Azure allows a budget %d notifications", n, budgetNotifications)
	}
	if len(b.ContactEmails) == 0 {
		v.errf(path+".contactEmails", "required: at least one e-mail address for Azure to tell when a threshold is passed")
	}
	for i, e := range b.ContactEmails {
		if !emailRE.MatchString(e) {
			v.errf(fmt.Sprintf("%s.contactEmails[%d]", path, i), "%q is not an e-mail address such as admin@example.org", e)
		}
	}
}

func (v *validator) nodePool(path string, p NodePool) {
	if !poolNameRE.MatchString(p.Name) {
		v.errf(path+".name", "%q is not an AKS pool name: 1 to 12 lowercase letters and digits, starting with a letter", p.Name)
	}
	if p.Role == "" {
		v.errf(path+".role", "required when there is more than one pool: one of core, user, worker, all")
	} else {
		oneOf(v, path+".role", p.Role, RoleCore, RoleUser, RoleWorker, RoleAll)
	}
	if p.VMSize != "" && !vmSizeRE.MatchString(p.VMSize) {
		v.errf(path+".vmSize", "%q is not an Azure VM size such as Standard_D2s_v3", p.VMSize)
	}
	system := p.Role == RoleCore || p.Role == RoleAll
	count := 0
	if p.Count != nil {
		count = *p.Count
	}
	if count < 0 || count > 1000 {
		v.errf(path+".count", "%d is out of range 0..1000", count)
	}
	if a := p.Autoscale; a != nil {
		switch {
		case a.Min < 0:
			v.errf(path+".autoscale.min", "%d is negative", a.Min)
		case a.Max < 1 || a.Max > 1000:
			v.errf(path+".autoscale.max", "%d is out of range 1..1000", a.Max)
		case a.Min > a.Max:
			v.errf(path+".autoscale", "min %d is above max %d", a.Min, a.Max)
		case count < a.Min || count > a.Max:
			v.errf(path+".count", "%d is outside autoscale %d..%d", count, a.Min, a.Max)
		}
		if system && a.Min < 1 {
			v.errf(path+".autoscale.min", "a %s pool is a system pool and needs at least 1 node", p.Role)
		}
	} else if system && count < 1 {
		v.errf(path+".count", "a %s pool is a system pool and needs at least 1 node", p.Role)
	}
	if s := p.Spot; s != nil {
		if system {
			v.errf(path+".spot", "a %s pool is a system pool, which AKS does not allow on Spot VMs; use Spot for user or worker pools", p.Role)
		}
		if s.MaxPrice != nil && (*s.MaxPrice != -1 && !(*s.MaxPrice > 0) || math.IsInf(*s.MaxPrice, 0)) {
			v.errf(path+".spot.maxPrice", "%g is not a price: use -1 (up to the on-demand price) or a positive US dollar amount", *s.MaxPrice)
		} else if s.MaxPrice != nil && math.Abs(*s.MaxPrice*1e5-math.Round(*s.MaxPrice*1e5)) > 1e-6 {
			v.errf(path+".spot.maxPrice", "%g has more than five decimals, which AKS refuses: round it to five", *s.MaxPrice)
		}
		oneOf(v, path+".spot.eviction", s.Eviction, "Delete", "Deallocate")
	}
	roleLabels := RoleLabels(p.Role)
	for k, val := range p.Labels {
		lp := path + ".labels." + k
		if !labelKeyRE.MatchString(k) {
			v.errf(lp, "%q is not a Kubernetes label key", k)
		}
		if strings.HasPrefix(k, "kubernetes.azure.com/") {
			v.errf(lp, "the prefix kubernetes.azure.com/ is reserved for AKS's own labels, which AKS refuses in a pool's labels: use another prefix, such as example.org/")
		}
		if !labelValRE.MatchString(val) {
			v.errf(lp, "%q is not a Kubernetes label value", val)
		}
		if want, ok := roleLabels[k]; ok && want != val {
			v.errf(lp, "conflicts with role %s, which sets %s=%s", p.Role, k, want)
		}
	}
	for i, t := range p.Taints {
		if !taintRE.MatchString(t) {
			v.errf(fmt.Sprintf("%s.taints[%d]", path, i), "%q is not a taint: write key=value:NoSchedule (or PreferNoSchedule, NoExecute)", t)
		}
	}
}

func (v *validator) local(l *Local) {
	if l.Port < 1 || l.Port > 65535 {
		v.errf("local.port", "%d is not a TCP port (1..65535)", l.Port)
	}
	if l.Host == "" {
		v.errf("local.host", "required: the address to listen on, such as 127.0.0.1")
	}
	v.stateDir(l.StateDir)
}

// stateDir checks the parts of local.stateDir that need no file system.
func (v *validator) stateDir(d string) {
	if err := CheckStateDir(d); err != nil {
		v.errf("local.stateDir", "%s", err)
	}
}

// CheckStateDir refuses a local.stateDir (after ~ expansion) that is not a
// directory of its own: dhub writes in its state directory and 'dhub down'
// stops what it started from there. That the directory is new, empty or
// dhub's is checked when it is used. An empty d (the default) passes.
func CheckStateDir(d string) error {
	home, _ := os.UserHomeDir()
	switch {
	case d == "":
	case strings.HasPrefix(d, "~"):
		return fmt.Errorf("%q: only ~ and ~/ (your home directory) are expanded; write the full path", d)
	case !filepath.IsAbs(d):
		return fmt.Errorf("%q is relative, so it would depend on the directory dhub runs in: write an absolute path, or one starting with ~/", d)
	case filepath.Clean(d) == "/":
		return errors.New("is the root directory: use a directory of its own, such as ~/.local/state/dhub/<name>")
	case home != "" && filepath.Clean(d) == filepath.Clean(home):
		return errors.New("is your home directory: use a directory of its own, such as ~/.local/state/dhub/<name>")
	}
	return nil
}

func (v *validator) jupyterHub(h *Hub) {
	j := &h.JupyterHub
	v.image("hub.image", j.Image)
	if !strings.HasPrefix(j.DefaultURL, "/") {
		v.errf("hub.defaultUrl", "%q must start with / (for example /lab)", j.DefaultURL)
	}
	if j.Host != "" && !hostnameRE.MatchString(j.Host) {
		v.errf("hub.host", "%q is not a DNS host name", j.Host)
	}
	if h.HTTPSEnabled() {
		switch {
		case h.Target == TargetLocal:
			v.errf("hub.https.enabled", "the local target serves plain HTTP on %s; set enabled: false", h.Local.Host)
		case j.Host == "":
			v.errf("hub.host", "required with HTTPS: the name the certificate is issued for")
		}
		if h.AutoHTTPS() && h.Target != TargetLocal && !emailRE.MatchString(j.HTTPS.ContactEmail) {
			v.errf("hub.https.contactEmail", "Let's Encrypt needs a contact email address for the certificate")
		}
	}
	if h.Target != TargetLocal {
		v.expose(h)
	}
	if c := j.Storage.Class; c != "" && !dnsSubdomainRE.MatchString(c) {
		v.errf("hub.storage.class", "%q is not a StorageClass name (lowercase letters, digits, '-' and '.')", c)
	}
	if h.IdleCullingEnabled() {
		switch t := j.IdleCulling.Timeout; {
		case t == 0:
			v.errf("hub.idleCulling.timeout", "0s would stop every server at once; to keep idle servers running, set hub.idleCulling.enabled: false")
		case t < time.Minute:
			v.errf("hub.idleCulling.timeout", "%s is too short: use at least 1m (for example 1h)", t)
		case t%time.Second != 0:
			v.errf("hub.idleCulling.timeout", "%s is not a whole number of seconds, which the culler counts in", t)
		}
	}
	if !quantityRE.MatchString(j.Storage.Size) {
		v.errf("hub.storage.size", "%q is not a size such as 10Gi", j.Storage.Size)
	}
	if sc := j.Storage.Scratch; sc != nil {
		v.scratch(h.Target, sc)
	}
	v.auth(h)
}

// scratch checks hub.storage.scratch: an fsspec URL of a bucket, with no
// credentials in it, on the kubernetes target.
func (v *validator) scratch(target Target, sc *Scratch) {
	const path = "hub.storage.scratch"
	if target != TargetKubernetes {
		v.errf(path, "is read on the kubernetes target only")
		return
	}
	u, err := url.Parse(sc.URL)
	switch {
	case sc.URL == "":
		v.errf(path+".url", "required: the bucket or container users write to, such as s3://my-bucket/scratch")
	case err != nil || !slices.Contains(ScratchSchemes, u.Scheme) || u.Host == "":
		v.errf(path+".url", "%q is not a bucket URL such as s3://my-bucket/scratch (schemes: %s)", sc.URL, strings.Join(ScratchSchemes, ", "))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		v.errf(path+".url", "holds credentials, a query or a fragment: put credentials in a Secret named by credentialsSecret")
	}
	if s := sc.CredentialsSecret; s != "" && !dnsSubdomainRE.MatchString(s) {
		v.errf(path+".credentialsSecret", "%q is not a Secret name (lowercase letters, digits, '-' and '.')", s)
	}
}

// expose checks the way in: the Service type and what goes with it, and
// which certificate each way can get.
func (v *validator) expose(h *Hub) {
	j := &h.JupyterHub
	e := j.Expose
	oneOf(v, "hub.expose.type", e.Type, ExposeLoadBalancer, ExposeNodePort, ExposeIngress)
	if h.Target == TargetAzure && e.Type != ExposeLoadBalancer {
		v.errf("hub.expose.type", "%s: on azure the hub's name %s is the DNS label of its load balancer; use loadBalancer", e.Type, j.Host)
	}
	if e.IngressClassName != "" {
		if e.Type != ExposeIngress {
			v.errf("hub.expose.ingressClassName", "is only read with type ingress (type is %s): remove it or change the type", e.Type)
		} else if !dnsSubdomainRE.MatchString(e.IngressClassName) {
			v.errf("hub.expose.ingressClassName", "%q is not an IngressClass name (lowercase letters, digits, '-' and '.')", e.IngressClassName)
		}
	}
	if e.NodePort != 0 {
		switch {
		case e.Type != ExposeNodePort:
			v.errf("hub.expose.nodePort", "is only read with type nodePort (type is %s): remove it or change the type", e.Type)
		case e.NodePort < 1 || e.NodePort > 65535:
			v.errf("hub.expose.nodePort", "%d is not a port", e.NodePort)
		case e.NodePort < 30000 || e.NodePort > 32767:
			v.warnf("hub.expose.nodePort", "%d is outside Kubernetes' default NodePort range 30000-32767: the API server refuses it unless the cluster's range was changed", e.NodePort)
		}
	}
	cm := j.HTTPS.CertManager
	switch {
	case !h.HTTPSEnabled():
		if cm != nil {
			v.errf("hub.https.certManager", "is only read with https enabled: remove it or set enabled: true")
		}
	case e.Type == ExposeIngress && cm == nil:
		v.errf("hub.https.certManager", "required with https behind an Ingress: name the cert-manager issuer ({issuer: letsencrypt-prod}); the chart's own Let's Encrypt pod cannot answer behind an ingress controller that ends TLS")
	case e.Type == ExposeNodePort:
		v.errf("hub.https.enabled", "not with type nodePort: Let's Encrypt and browsers come to ports 80 and 443, a NodePort is 30000-32767; use ingress with a cert-manager issuer, or loadBalancer")
	case e.Type != ExposeIngress && cm != nil:
		v.errf("hub.https.certManager", "is only read with hub.expose.type ingress; with %s the chart's own Let's Encrypt pod gets the certificate (contactEmail)", e.Type)
	}
	if cm != nil {
		if !dnsSubdomainRE.MatchString(cm.Issuer) {
			v.errf("hub.https.certManager.issuer", "%q is not an issuer name: the name of cert-manager's ClusterIssuer or Issuer", cm.Issuer)
		}
		oneOf(v, "hub.https.certManager.kind", cm.Kind, "ClusterIssuer", "Issuer")
	}
}

func (v *validator) auth(h *Hub) {
	a := &h.JupyterHub.Auth
	oneOf(v, "hub.auth.type", a.Type, AuthNone, AuthAzureAD, AuthPassword)
	if a.AzureAD != nil && a.Type != AuthAzureAD {
		v.errf("hub.auth.azuread", "is only read with type azuread (type is %s): remove it or change the type", a.Type)
	}
	if a.Password != nil && a.Type != AuthPassword {
		v.errf("hub.auth.password", "is only read with type password (type is %s): remove it or change the type", a.Type)
	}
	if h.Target == TargetLocal && a.Type != AuthPassword {
		v.errf("hub.auth.type", "%s is not supported by the local target, which logs users in with a shared password: use password", a.Type)
		return
	}
	switch a.Type {
	case AuthNone:
		if h.Profile != ProfileSimple {
			v.errf("hub.auth.type", "none is only for the simple profile: use azuread or password")
		} else {
			v.warnf("hub.auth.type", "none: anyone who can reach the hub logs in with any name and runs code on it")
		}
	case AuthAzureAD:
		v.azureAD(h, a.AzureAD)
	case AuthPassword:
		p := a.Password
		if h.Target == TargetAzure && !h.HTTPSEnabled() {
			v.warnf("hub.https.enabled", "false: passwords cross the internet unencrypted to http://%s; enable https with a contactEmail", h.JupyterHub.Host)
		}
		if !userNameRE.MatchString(p.AdminUser) {
			v.errf("hub.auth.password.adminUser", "%q is not a user name", p.AdminUser)
		}
		// Admins log in with the admin password; anyone else allowed needs
		// the shared user password.
		others := p.AllowAll
		for _, u := range p.AllowedUsers {
			others = others || !slices.Contains(p.AdminNames(), u)
		}
		if others && p.UserPassword.IsZero() {
			v.errf("hub.auth.password.userPassword", "allowed users need a shared password: set userPassword (fromEnv or fromFile)")
		}
		v.secretRef("hub.auth.password.adminPassword", p.AdminPassword, false)
		v.secretRef("hub.auth.password.userPassword", p.UserPassword, false)
		v.access("hub.auth.password", p.Access)
	}
}

func (v *validator) azureAD(h *Hub, ad *AzureAD) {
	const path = "hub.auth.azuread"
	if ad == nil {
		v.errf(path, "required with type azuread: tenantId, clientId, clientSecret and who may log in")
		return
	}
	switch {
	case ad.ClientID == "" && h.Target == TargetAzure:
		// dhub registers the application and keeps its secret in the
		// cluster; the tenant is the credential's unless given.
		if ad.TenantID != "" && !guidRE.MatchString(ad.TenantID) {
			v.errf(path+".tenantId", "%q is not a Directory (tenant) ID, a GUID; leave it empty for your Azure credential's tenant", ad.TenantID)
		}
		if !ad.ClientSecret.IsZero() {
			v.errf(path+".clientSecret", "only with clientId: without one, dhub registers the application and makes its secret")
		}
	default:
		if !guidRE.MatchString(ad.TenantID) {
			v.errf(path+".tenantId", "required: the app registration's Directory (tenant) ID, a GUID")
		}
		if !guidRE.MatchString(ad.ClientID) {
			msg := "required: the app registration's Application (client) ID, a GUID"
			if h.Target == TargetAzure {
				msg += "; leave it empty (with tenantId and clientSecret) and dhub registers the application itself"
			}
			v.errf(path+".clientId", "%s", msg)
		}
		v.secretRef(path+".clientSecret", ad.ClientSecret, true)
	}
	if len(ad.AllowedUsers) == 0 && len(ad.AllowedGroups) == 0 && len(ad.Admins) == 0 && !ad.AllowAll {
		v.errf(path, "no one is allowed to log in; set allowedUsers, allowedGroups, admins or allowAll")
	}
	v.access(path, ad.Access)
	v.names(path+".allowedGroups", ad.AllowedGroups)
	if h.JupyterHub.Host == "" {
		v.errf("hub.host", "required with azuread: the app registration's redirect URI is https://<host>/hub/oauth_callback")
	}
	if !h.HTTPSEnabled() {
		v.warnf(path, "Azure AD only sends users back to https:// URLs (besides localhost): enable hub.https")
	}
}

func (v *validator) access(path string, a Access) {
	v.names(path+".allowedUsers", a.AllowedUsers)
	v.names(path+".admins", a.Admins)
	if a.AllowAll && len(a.AllowedUsers) > 0 {
		v.warnf(path+".allowAll", "allowAll lets everyone in; allowedUsers adds nothing")
	}
}

func (v *validator) names(path string, names []string) {
	seen := map[string]bool{}
	for i, n := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !userNameRE.MatchString(n) {
			v.errf(p, "%q is empty or holds spaces", n)
		}
		if seen[n] {
			v.errf(p, "%q is listed twice", n)
		}
		seen[n] = true
	}
}

// secretRef checks a reference's shape; CheckReferences checks that what it
// names exists. Neither repeats the reference: it may be a pasted secret.
func (v *validator) secretRef(path string, s SecretRef, required bool) {
	if field, err := s.shapeErr(); err != nil {
		if field != "" {
			path += "." + field
		}
		v.errf(path, "%v", err)
	} else if s.IsZero() && required {
		v.errf(path, "required: {fromEnv: VARIABLE} or {fromFile: PATH} holding the secret")
	}
}

func (v *validator) image(path, image string) {
	switch {
	case !imageTagRE.MatchString(image):
		v.errf(path, "%q has no tag: write name:tag (for example %s)", image, DefaultImage)
	case strings.HasSuffix(image, ":latest"):
		v.warnf(path, "%q: latest changes under a running hub; pin a dated tag such as %s", image, DefaultImage)
	}
}

func (v *validator) dask(d *Dask) {
	v.image("dask.image", d.Image)
	v.bounds("dask.workerCores", d.WorkerCores, 0.1, maxWorkerCores)
	v.bounds("dask.workerMemoryGiB", d.WorkerMemory, 0.25, maxWorkerMemoryGiB)
	for k := range d.Environment {
		if !envNameRE.MatchString(k) {
			v.errf("dask.environment."+k, "%q is not an environment variable name", k)
		}
	}
	l := d.Limits
	v.finite("dask.limits.maxCores", l.MaxCores)
	v.finite("dask.limits.maxMemoryGiB", l.MaxMemoryGiB)
	if l.MaxWorkers < 0 {
		v.errf("dask.limits.maxWorkers", "%d is negative (0 means no limit)", l.MaxWorkers)
	}
	if l.MaxCores < 0 || (l.MaxCores > 0 && l.MaxCores < d.WorkerCores.Default) {
		v.errf("dask.limits.maxCores", "%g leaves no room for one worker of %g cores (0 means no limit)", l.MaxCores, d.WorkerCores.Default)
	}
	if l.MaxMemoryGiB < 0 || (l.MaxMemoryGiB > 0 && l.MaxMemoryGiB < d.WorkerMemory.Default) {
		v.errf("dask.limits.maxMemoryGiB", "%g leaves no room for one worker of %g GiB (0 means no limit)", l.MaxMemoryGiB, d.WorkerMemory.Default)
	}
	if t := d.IdleTimeout; t != nil {
		switch {
		case *t < 0:
			v.errf("dask.idleTimeout", "%s is negative (0s means never)", *t)
		case *t > 0 && *t < time.Second:
			v.errf("dask.idleTimeout", "%s is under 1s, which the gateway would read as 0 (never): use at least 1s, or 0s for never", *t)
		case *t%time.Second != 0:
			v.errf("dask.idleTimeout", "%s is not a whole number of seconds, which the gateway counts in", *t)
		}
	}
	if d.EndWithServer != nil && !*d.EndWithServer {
		until := "dask.idleTimeout, never (0s)"
		if t := d.IdleTimeout; t != nil && *t > 0 {
			// "1h", not "1h0m0s".
			d := strings.TrimSuffix(strings.TrimSuffix(t.String(), "0s"), "0m")
			until = "dask.idleTimeout (" + d + " without activity; a busy cluster never)"
		}
		v.warnf("dask.endWithServer", "false: a user's Dask clusters and their workers' nodes keep running, and cost, after the user's server stops, until %s or until they stop it", until)
	}
	if d.RequireAccessRole && len(d.AccessUsers) == 0 && len(d.AccessGroups) == 0 {
		v.errf("dask.requireAccessRole", "no one may create Dask clusters; set accessUsers or accessGroups, or requireAccessRole: false")
	}
	if !d.RequireAccessRole && len(d.AccessUsers)+len(d.AccessGroups) > 0 {
		v.warnf("dask.requireAccessRole", "accessUsers and accessGroups are ignored unless requireAccessRole is true")
	}
	v.names("dask.accessUsers", d.AccessUsers)
	v.names("dask.accessGroups", d.AccessGroups)
}

// workersFitNodes checks on Azure that a worker of the largest size the
// options offer fits a node of the worker pool: cores up to the VM's, and
// memory up to what AKS leaves for pods. Else such a worker stays Pending.
func (v *validator) workersFitNodes(h *Hub) {
	pool, path := h.WorkerNodes()
	if h.Target != TargetAzure || pool == nil {
		return
	}
	size, ok := PoolVMSize(pool)
	if !ok {
		v.warnf(path+".vmSize", "dhub does not know %s's cores and memory: 'dhub plan' checks the worker bounds on the cluster's nodes once they exist", pool.VMSize)
		return
	}
	_, mem := AKSAllocatable(size)
	node := "a " + pool.VMSize + " node of " + path
	if pool.VMSize == "" {
		node = "a node of " + path + " (of the size dhub picks, at least " + fmt.Sprint(size.VCPUs) + " vCPUs)"
	}
	d := h.Dask
	if d.WorkerCores.Max > float64(size.VCPUs) {
		v.errf("dask.workerCores.max", "%g cores: %s has %d; lower the bound or set a larger vmSize", d.WorkerCores.Max, node, size.VCPUs)
	}
	if d.WorkerMemory.Max > mem {
		v.errf("dask.workerMemoryGiB.max", "%g GiB: %s leaves about %.1f GiB for pods; lower the bound or set a larger vmSize", d.WorkerMemory.Max, node, mem)
	}
}

// The largest worker a user may ask for: more than any one machine offers
// (Azure's largest VMs have 416 cores and 11.4 TiB) is a typo.
const (
	maxWorkerCores     = 1024
	maxWorkerMemoryGiB = 16384
)

// finite reports a number that is infinite or NaN: every comparison with
// NaN is false, so no range check would catch it.
func (v *validator) finite(path string, f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		v.errf(path, "%g is not a finite number", f)
		return false
	}
	return true
}

func (v *validator) bounds(path string, b Bounds, least, most float64) {
	if !v.finite(path+".default", b.Default) || !v.finite(path+".min", b.Min) || !v.finite(path+".max", b.Max) {
		return
	}
	switch {
	case b.Max > most:
		v.errf(path+".max", "%g is above %g, more than any machine offers", b.Max, float64(most))
	case b.Min < least:
		v.errf(path+".min", "%g is below %g", b.Min, least)
	case b.Max < b.Min:
		v.errf(path+".max", "%g is below min %g", b.Max, b.Min)
	case b.Default < b.Min || b.Default > b.Max:
		v.errf(path+".default", "%g is outside %g..%g", b.Default, b.Min, b.Max)
	}
}

// chart checks one chart source; secretPaths are values that hold secrets
// ("*" matches any key), which must not be written in dhub.yaml.
func (v *validator) chart(path string, c *ChartSource, secretPaths ...string) {
	for _, sp := range secretPaths {
		for _, found := range findPaths(c.Values, strings.Split(sp, "."), path+".values") {
			v.errf(found, "a secret is never written in dhub.yaml: the chart generates its tokens, and credentials go in hub.auth as {fromEnv} or {fromFile}")
		}
	}
	if !chartVerRE.MatchString(c.Version) {
		v.errf(path+".version", "%q is not a chart version such as 1.2.3", c.Version)
	}
	if c.Path == "" && !strings.HasPrefix(c.Repository, "https://") && !strings.HasPrefix(c.Repository, "http://") && !strings.HasPrefix(c.Repository, "oci://") {
		v.errf(path+".repository", "%q is not a chart repository URL (https://, http:// or oci://)", c.Repository)
	}
}

// findPaths returns the dotted paths under prefix where m holds a non-empty
// value at the key path segs ("*" matches any key).
func findPaths(m map[string]any, segs []string, prefix string) []string {
	if len(segs) == 0 || m == nil {
		return nil
	}
	var out []string
	for k, val := range m {
		if segs[0] != "*" && segs[0] != k {
			continue
		}
		p := prefix + "." + k
		if len(segs) == 1 {
			if val != nil && val != "" {
				out = append(out, p)
			}
			continue
		}
		if sub, ok := val.(map[string]any); ok {
			out = append(out, findPaths(sub, segs[1:], p)...)
		}
	}
	sort.Strings(out)
	return out
}
