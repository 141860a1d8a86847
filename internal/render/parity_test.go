package render_test

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"dhub/internal/config"
	"dhub/internal/render"
)

// parityDoc is the table of the guide's decisions next to dhub's defaults.
const parityDoc = "../../docs/guide-parity.md"

// parityRow is one row of the parity table.
type parityRow struct {
	line                      int
	id, deployment            string
	anchored                  bool
	guide, dhub, why, restore string
}

// sameMark is the why cell of a row where dhub does what the guide does.
const sameMark = "same"

var (
	idRE     = regexp.MustCompile("`([a-z-]+)`")
	anchorRE = regexp.MustCompile(`<a id="([a-z-]+)"></a>`)
	// pointerRE is how dhub.yaml's comments point at a row.
	pointerRE = regexp.MustCompile(`guide-parity\.md#([a-z-]+)`)
)

// readParity parses the rows of the parity table: the lines of the one
// table whose header starts with "| Decision |".
func readParity(t *testing.T) []parityRow {
	t.Helper()
	b, err := os.ReadFile(parityDoc)
	if err != nil {
		t.Fatal(err)
	}
	var rows []parityRow
	in := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| Decision |"):
			in = true
			continue
		case !strings.HasPrefix(line, "|"):
			in = false
			continue
		case !in || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 5 {
			t.Fatalf("%s:%d: %d cells, want 5 (a '|' inside a cell?)", parityDoc, i+1, len(cells))
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		m := idRE.FindStringSubmatch(cells[0])
		if m == nil {
			t.Fatalf("%s:%d: the decision cell names no `id`", parityDoc, i+1)
		}
		r := parityRow{line: i + 1, id: m[1], deployment: cells[1], guide: cells[2], dhub: cells[3], why: cells[4]}
		if a := anchorRE.FindStringSubmatch(cells[0]); a != nil {
			if a[1] != r.id {
				t.Errorf("%s:%d: anchor %q on row %q", parityDoc, r.line, a[1], r.id)
			}
			r.anchored = true
		}
		if _, after, ok := strings.Cut(r.why, "Restore:"); ok {
			r.restore = strings.TrimSpace(after)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no table with a '| Decision |' header", parityDoc)
	}
	return rows
}

// cell is a table cell as compared: without code marks, spaces collapsed.
func cell(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "`", "")), " ")
}

// guideHub is the hub of the guide's deployment for profile p: the
// guide's hub name on Azure, everything else left to dhub's defaults, and
// for Azure AD the block 'dhub init' writes (its ids, a secret reference,
// nobody allowed yet).
func guideHub(p config.Profile) *config.Hub {
	h := &config.Hub{Name: "pangeo-hub", Target: config.TargetAzure, Profile: p}
	h.SetDefaults()
	if h.JupyterHub.Auth.Type == config.AuthAzureAD {
		h.JupyterHub.Auth.AzureAD = &config.AzureAD{TenantID: "00000000-0000-0000-0000-00000000a11d",
			ClientID: "00000000-0000-0000-0000-0000000c11e7", ClientSecret: config.SecretRef{FromEnv: "DHUB_AZUREAD_CLIENT_SECRET"}}
	}
	return h
}

// parityHub is what one row's dhub cell is computed from: the defaulted
// hub and what dhub installs for it.
type parityHub struct {
	h      *config.Hub
	k      *render.Kubernetes
	jh, dg map[string]any
}

// parityDefaults compute the dhub cell of each row from config and render.
// A nil function marks a row whose dhub column is behaviour outside them
// (Azure requests, Helm, the verbs): its tests are named in the comment.
var parityDefaults = map[string]func(p parityHub) string{
	"resource-group": func(p parityHub) string {
		return fmt.Sprintf("%s in %s", p.h.Azure.ResourceGroup, p.h.Azure.Location)
	},
	"cluster": func(p parityHub) string {
		v := p.h.Azure.KubernetesVersion
		if v == "" {
			v = "AKS's default"
		}
		return fmt.Sprintf("%s, Kubernetes %s", p.h.Azure.ClusterName, v)
	},
	// The managed cluster dhub sends has no linuxProfile:
	// internal/azure's fresh-*-writes.json goldens.
	"ssh": nil,
	"network": func(p parityHub) string {
		return "Azure CNI overlay, network policy engine " + p.h.Azure.NetworkPolicy
	},
	"pools": func(p parityHub) string {
		return eachPool(p.h, func(np config.NodePool) string {
			s := fmt.Sprintf("%s: %d node", np.Name, *np.Count)
			if a := np.Autoscale; a != nil {
				return s + fmt.Sprintf(", autoscale %d..%d", a.Min, a.Max)
			}
			return s + ", fixed"
		})
	},
	"vm-size": func(p parityHub) string {
		if !slices.ContainsFunc(p.h.Azure.NodePools, func(np config.NodePool) bool { return np.VMSize != "" }) {
			return "every pool: the first of " + strings.Join(config.VMSizePreference, ", ") + " the subscription may use in the region"
		}
		return eachPool(p.h, func(np config.NodePool) string { return np.Name + ": " + np.VMSize })
	},
	"spot": func(p parityHub) string {
		return eachPool(p.h, func(np config.NodePool) string {
			if np.Spot == nil {
				return ""
			}
			return fmt.Sprintf("%s: Spot, eviction %s, max price %g", np.Name, np.Spot.Eviction, *np.Spot.MaxPrice)
		})
	},
	"labels": func(p parityHub) string {
		return eachPool(p.h, func(np config.NodePool) string {
			l := config.RoleLabels(np.Role)
			maps.Copy(l, np.Labels)
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(l)) {
				kv = append(kv, k+"="+l[k])
			}
			kv = append(kv, np.Taints...)
			if len(kv) == 0 {
				return ""
			}
			return np.Name + ": " + strings.Join(kv, ", ")
		})
	},
	"chart": func(p parityHub) string {
		var parts []string
		for _, r := range p.k.Releases {
			parts = append(parts, fmt.Sprintf("%s %s from %s", r.Chart.Name, r.Chart.Version, r.Chart.Repository))
		}
		return strings.Join(parts, " and ")
	},
	"namespace": func(p parityHub) string { return p.h.Namespace },
	"releases": func(p parityHub) string {
		return p.k.Names.JupyterHub + " and " + p.k.Names.DaskGateway
	},
	"tokens": func(p parityHub) string {
		for _, keys := range [][]string{{"proxy", "secretToken"}, {"hub", "services", "dask-gateway", "apiToken"}} {
			if _, ok := lookup(p.jh, keys...); ok {
				return "jupyterhub." + strings.Join(keys, ".") + " written"
			}
		}
		if _, ok := lookup(p.dg, "gateway", "auth", "jupyterhub", "apiToken"); ok {
			return "dask-gateway apiToken written"
		}
		return "none: the JupyterHub chart generates them"
	},
	"address": func(p parityHub) string {
		label, ok := get(p.jh, "proxy", "service", "annotations", "service.beta.kubernetes.io/azure-dns-label-name").(string)
		if !ok {
			return "proxy-public's IP address"
		}
		scheme := "http"
		if p.h.HTTPSEnabled() {
			scheme = "https"
		}
		return fmt.Sprintf("%s://%s.%s.cloudapp.azure.com", scheme, label, p.h.Azure.Location)
	},
	"https": func(p parityHub) string {
		if get(p.jh, "proxy", "https", "enabled") != true {
			return "off"
		}
		h := *p.h
		h.JupyterHub.HTTPS.ContactEmail = ""
		email := "optional"
		if slices.ContainsFunc(h.Validate().Errors(), func(q config.Problem) bool { return q.Path == "hub.https.contactEmail" }) {
			email = "required"
		}
		return fmt.Sprintf("%v for the hub's host, a contact email %s", get(p.jh, "proxy", "https", "type"), email)
	},
	// dhub up checks the certificate and recreates the autohttps pod once:
	// internal/kube's autohttps tests.
	"autohttps": nil,
	"auth": func(p parityHub) string {
		switch c := get(p.jh, "hub", "config", "JupyterHub", "authenticator_class"); c {
		case "shared-password":
			how := "the password hub.auth.password.adminPassword names"
			if p.k.Secret != nil && p.k.Secret.Data[render.AdminPasswordKey].Generate {
				how = "a password dhub generates at the first up and shows once"
			}
			return fmt.Sprintf("shared password: only %s, with %s", p.h.JupyterHub.Auth.Password.AdminUser, how)
		case "azuread":
			if get(p.jh, "hub", "config", "AzureAdOAuthenticator", "tenant_id") != p.h.JupyterHub.Auth.AzureAD.TenantID {
				return "Azure AD, through another tenant"
			}
			return "Azure AD, signing in through the app registration's tenant"
		default:
			return fmt.Sprint(c)
		}
	},
	"app-registration": func(p parityHub) string {
		return fmt.Sprintf("yours, made by hand (dhub makes none); redirect URI %v",
			get(p.jh, "hub", "config", "AzureAdOAuthenticator", "oauth_callback_url"))
	},
	"allow": func(p parityHub) string {
		if !slices.ContainsFunc(p.h.Validate().Errors(), func(q config.Problem) bool { return q.Path == "hub.auth.azuread" }) {
			return fmt.Sprintf("allow_all: %v", get(p.jh, "hub", "config", "AzureAdOAuthenticator", "allow_all"))
		}
		return "no one until hub.auth.azuread.allowedUsers, allowedGroups, admins or allowAll names them: validate refuses the file without one"
	},
	"client-secret": func(p parityHub) string {
		if _, ok := lookup(p.jh, "hub", "config", "AzureAdOAuthenticator", "client_secret"); ok {
			return "in the Helm values"
		}
		ref := get(p.jh, "hub", "extraEnv", "OAUTH_CLIENT_SECRET", "valueFrom", "secretKeyRef")
		return fmt.Sprintf("Secret %v, key %v, read by the hub as OAUTH_CLIENT_SECRET; dhub.yaml holds a reference",
			get(ref, "name"), get(ref, "key"))
	},
	"hub-network-policy": func(p parityHub) string {
		if get(p.jh, "hub", "networkPolicy", "enabled") == false {
			return "hub NetworkPolicy off"
		}
		in := get(p.jh, "hub", "networkPolicy", "ingress").([]any)[0]
		out := get(p.jh, "singleuser", "networkPolicy", "egress").([]any)[0]
		return fmt.Sprintf("hub NetworkPolicy on, admitting the gateway's %v pods; user servers may reach the gateway's %v pods on port %v",
			get(get(in, "from").([]any)[0], "podSelector", "matchLabels", "app.kubernetes.io/component"),
			get(get(out, "to").([]any)[0], "podSelector", "matchLabels", "app.kubernetes.io/component"),
			get(get(out, "ports").([]any)[0], "port"))
	},
	"gateway-wiring": func(p parityHub) string {
		service := "no dask-gateway hub service"
		if _, ok := lookup(p.jh, "hub", "services", "dask-gateway"); ok {
			service = "the dask-gateway hub service"
		}
		return fmt.Sprintf("%s; prefix %v; auth %v; traefik %v", service,
			get(p.dg, "gateway", "prefix"), get(p.dg, "gateway", "auth", "type"), get(p.dg, "traefik", "service", "type"))
	},
	"worker-placement": func(p parityHub) string {
		return placement(get(p.dg, "gateway", "backend", "worker", "extraPodConfig"))
	},
	"scheduler-placement": func(p parityHub) string {
		return placement(get(p.dg, "gateway", "backend", "scheduler", "extraPodConfig"))
	},
	"hub-placement": func(p parityHub) string {
		purpose := func(pods string) any {
			if v, ok := lookup(p.jh, "scheduling", pods, "nodeAffinity", "matchNodePurpose"); ok {
				return v
			}
			return "prefer (the chart's default)"
		}
		return fmt.Sprintf("core pods: %v; user pods: %v", purpose("corePods"), purpose("userPods"))
	},
	"cluster-options": func(p parityHub) string {
		code, _ := get(p.dg, "gateway", "extraConfig", "dhub-cluster-options").(string)
		opt := func(name string) string {
			m := regexp.MustCompile(`Float\("` + name + `", default=([^,]+), min=([^,]+), max=([^,]+),`).FindStringSubmatch(code)
			if m == nil {
				return "none"
			}
			return fmt.Sprintf("%s (%s..%s)", trimZero(m[1]), trimZero(m[2]), trimZero(m[3]))
		}
		image := regexp.MustCompile(`String\("image", default="([^"]+)"`).FindStringSubmatch(code)
		if image == nil {
			return "none"
		}
		s := fmt.Sprintf("worker cores %s; worker memory %s GiB; image %s", opt("worker_cores"), opt("worker_memory"), image[1])
		if strings.Contains(code, `Mapping("environment"`) {
			s += "; environment"
		}
		return s
	},
	"image": func(p parityHub) string {
		return fmt.Sprintf("%v:%v", get(p.jh, "singleuser", "image", "name"), get(p.jh, "singleuser", "image", "tag"))
	},
	"singleuser-env": func(p parityHub) string {
		env, _ := get(p.jh, "singleuser", "extraEnv").(map[string]any)
		return fmt.Sprintf("%s; the image option: %v", strings.Join(slices.Sorted(maps.Keys(env)), ", "),
			env["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"])
	},
	"dask-idle": func(p parityHub) string {
		if t := p.h.Dask.IdleTimeout; t != nil && *t > 0 {
			return "shut down after " + strings.TrimSuffix(strings.TrimSuffix(t.String(), "0s"), "0m") + " idle"
		}
		return "never shut down"
	},
	"dask-end": func(p parityHub) string {
		code, _ := get(p.dg, "gateway", "extraConfig", "dhub-end-with-server").(string)
		roles, _ := get(p.jh, "hub", "loadRoles", "dask-gateway-servers", "services").([]any)
		if strings.Contains(code, "dhub_end_with_server(KubeBackend, 10)") && slices.Contains(roles, any("dask-gateway")) {
			return "stopped within 30s of the user's last server stopping"
		}
		return "run on after the server stops"
	},
	// dhub kubeconfig and up's in-memory kubeconfig: internal/cli and
	// internal/deploy tests.
	"credentials": nil,
	// dhub status and dhub smoke: internal/cli, internal/kube and the
	// end-to-end tier.
	"checks": nil,
	// dhub down: internal/azure's down tests.
	"cleanup": nil,
}

// eachPool joins f over the hub's pools, "none" when f says nothing of any.
func eachPool(h *config.Hub, f func(config.NodePool) string) string {
	var parts []string
	for _, np := range h.Azure.NodePools {
		if s := f(np); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// placement describes a Dask pod's node affinity and tolerations.
func placement(podConfig any) string {
	if podConfig == nil {
		return "none"
	}
	var parts []string
	for _, term := range get(podConfig, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms").([]any) {
		for _, e := range get(term, "matchExpressions").([]any) {
			parts = append(parts, fmt.Sprintf("affinity %v=%v", get(e, "key"), strings.Join(toStrings(get(e, "values")), ",")))
		}
	}
	var tols []string
	for _, tol := range get(podConfig, "tolerations").([]any) {
		tols = append(tols, fmt.Sprintf("%v=%v:%v", get(tol, "key"), get(tol, "value"), get(tol, "effect")))
	}
	return strings.Join(append(parts, "tolerations "+strings.Join(tols, ", ")), "; ")
}

// trimZero writes a Python float the way the table does: 1.0 as 1.
func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

// TestGuideParity holds docs/guide-parity.md to the code: each row's dhub
// cell is what config and render produce for the guide's deployment (the
// azure target, the guide's hub name, the profile of the row), a row
// marked "same" has the guide's value as dhub's, and a row that differs
// says why and what restores the guide's behaviour.
func TestGuideParity(t *testing.T) {
	hubs := map[string]parityHub{}
	for _, p := range []config.Profile{config.ProfileSimple, config.ProfileRecommended} {
		h := guideHub(p)
		k := render.ForKubernetes(h)
		hubs[string(p)] = parityHub{h: h, k: k, jh: releaseValues(t, k, "jupyterhub"), dg: releaseValues(t, k, "dask-gateway")}
	}
	covered := map[string][]string{} // id -> deployments
	anchored := map[string]bool{}
	for _, r := range readParity(t) {
		at := fmt.Sprintf("%s:%d (%s, %s)", parityDoc, r.line, r.id, r.deployment)
		f, known := parityDefaults[r.id]
		if !known {
			t.Errorf("%s: no such decision in parityDefaults; add how dhub's default is computed", at)
			continue
		}
		deployments := []string{r.deployment}
		if r.deployment == "both" {
			deployments = []string{"simple", "recommended"}
		}
		for _, d := range deployments {
			p, ok := hubs[d]
			if !ok {
				t.Errorf("%s: deployment %q is not simple, recommended or both", at, r.deployment)
				continue
			}
			if slices.Contains(covered[r.id], d) {
				t.Errorf("%s: a second row for %s", at, d)
			}
			covered[r.id] = append(covered[r.id], d)
			if f == nil {
				continue
			}
			if got := f(p); cell(got) != cell(r.dhub) {
				t.Errorf("%s: the table says dhub's default for %s is\n\t%s\nbut dhub's is\n\t%s", at, d, r.dhub, got)
			}
		}
		same := cell(r.guide) == cell(r.dhub)
		switch {
		case r.why == sameMark && !same:
			t.Errorf("%s: marked %q, but the guide's %q is not dhub's %q", at, sameMark, r.guide, r.dhub)
		case r.why != sameMark && same:
			t.Errorf("%s: dhub does what the guide does: the why cell should be %q, not %q", at, sameMark, r.why)
		case r.why != sameMark && r.restore == "":
			t.Errorf("%s: differs from the guide but names no 'Restore:' (a dhub.yaml field, or why none can)", at)
		}
		if r.anchored {
			if anchored[r.id] {
				t.Errorf("%s: a second anchor for %s", at, r.id)
			}
			anchored[r.id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(parityDefaults)) {
		if len(covered[id]) == 0 {
			t.Errorf("%s has no row for the decision %q", parityDoc, id)
		}
		if len(covered[id]) > 0 && !anchored[id] {
			t.Errorf("%s: no <a id=%q></a> for dhub.yaml's comments to point at", parityDoc, id)
		}
	}
}

// differing returns, for each deployment, the ids of the rows that differ
// from the guide.
func differing(rows []parityRow) map[config.Profile][]string {
	out := map[config.Profile][]string{}
	for _, r := range rows {
		if r.why == sameMark {
			continue
		}
		for _, p := range []config.Profile{config.ProfileSimple, config.ProfileRecommended} {
			if (r.deployment == "both" || r.deployment == string(p)) && !slices.Contains(out[p], r.id) {
				out[p] = append(out[p], r.id)
			}
		}
	}
	for p := range out {
		slices.Sort(out[p])
	}
	return out
}

// TestInitPointsAtParity: the dhub.yaml that 'dhub init --target azure'
// writes points at the table's row for every decision where its profile
// differs from the guide, and at no other; the other targets' files point
// only at rows that exist.
func TestInitPointsAtParity(t *testing.T) {
	rows := readParity(t)
	diff := differing(rows)
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r.id] = true
	}
	for _, target := range config.Targets {
		for _, p := range []config.Profile{config.ProfileSimple, config.ProfileRecommended} {
			b, err := config.Init(config.InitOptions{Target: target, Profile: p})
			if err != nil {
				t.Fatal(err)
			}
			var pointed []string
			for _, m := range pointerRE.FindAllStringSubmatch(string(b), -1) {
				if !ids[m[1]] {
					t.Errorf("%s/%s: dhub.yaml points at %s#%s, which has no such row", target, p, parityDoc, m[1])
				}
				if !slices.Contains(pointed, m[1]) {
					pointed = append(pointed, m[1])
				}
			}
			if target != config.TargetAzure {
				continue
			}
			slices.Sort(pointed)
			for _, id := range diff[p] {
				if !slices.Contains(pointed, id) {
					t.Errorf("azure/%s: dhub.yaml does not point at %s#%s, where it differs from the guide", p, parityDoc, id)
				}
			}
			for _, id := range pointed {
				if !slices.Contains(diff[p], id) {
					t.Errorf("azure/%s: dhub.yaml points at %s#%s, where it does what the guide does", p, parityDoc, id)
				}
			}
		}
	}
}
