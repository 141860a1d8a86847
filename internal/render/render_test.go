package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"dhub/internal/charts"
	"dhub/internal/config"
	"dhub/internal/golden"
	"dhub/internal/render"
)

// sentinel is what every secret resolves to in these tests; it must never
// reach Helm values or a redacted file.
const sentinel = "S3CR3T-SENTINEL"

// TestGolden compares render.Files (secrets redacted) for every example with
// testdata/golden/<example>/<file>. Run with -update to rewrite them, then
// read the diff.
func TestGolden(t *testing.T) {
	for _, path := range examplePaths(t) {
		name := exampleName(path)
		t.Run(name, func(t *testing.T) {
			h := loadExample(t, path)
			files, err := render.Files(h, false)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", "golden", name)
			if golden.Update() {
				// Rewriting starts from nothing, so no stale golden survives.
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			stale := map[string]bool{}
			for _, e := range entries {
				stale[e.Name()] = true
			}
			for _, f := range files {
				delete(stale, f.Name)
				golden.Check(t, filepath.Join(dir, f.Name), f.Content)
			}
			for g := range stale {
				t.Errorf("golden file %s is no longer rendered (-update removes it)", filepath.Join(dir, g))
			}
		})
	}
}

// secretRefs returns pointers to every secret reference a hub sets.
func secretRefs(h *config.Hub) []*config.SecretRef {
	var refs []*config.SecretRef
	a := &h.JupyterHub.Auth
	if a.AzureAD != nil {
		refs = append(refs, &a.AzureAD.ClientSecret)
	}
	if a.Password != nil {
		refs = append(refs, &a.Password.AdminPassword, &a.Password.UserPassword)
	}
	return slices.DeleteFunc(refs, func(r *config.SecretRef) bool { return r.IsZero() })
}

// resolveToSentinels makes every secret reference of h resolve to a distinct
// value starting with sentinel: environment variables are set, files are
// written to a temporary directory and the reference is pointed there.
func resolveToSentinels(t *testing.T, h *config.Hub) []string {
	t.Helper()
	var values []string
	for i, ref := range secretRefs(h) {
		v := fmt.Sprintf("%s-%d", sentinel, i)
		values = append(values, v)
		switch {
		case ref.FromEnv != "":
			t.Setenv(ref.FromEnv, v)
		case ref.FromFile != "":
			p := filepath.Join(t.TempDir(), filepath.Base(ref.FromFile))
			if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ref.FromFile = p
		}
	}
	return values
}

// TestSecretsNeverInValues resolves every secret of every example to a
// sentinel and checks it reaches only the Secret manifest, and only with
// showSecrets.
func TestSecretsNeverInValues(t *testing.T) {
	withSecrets := 0
	for _, path := range examplePaths(t) {
		t.Run(exampleName(path), func(t *testing.T) {
			h := loadExample(t, path)
			values := resolveToSentinels(t, h)

			redacted, err := render.Files(h, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range redacted {
				if bytes.Contains(f.Content, []byte(sentinel)) {
					t.Errorf("%s (showSecrets=false) holds secret text:\n%s", f.Name, f.Content)
				}
			}

			shown, err := render.Files(h, true)
			if err != nil {
				t.Fatalf("Files(showSecrets=true): %v", err)
			}
			secretFile := "secret-" + render.AuthSecretName + ".yaml"
			var manifest []byte
			for _, f := range shown {
				if f.Name == secretFile {
					manifest = f.Content
					continue
				}
				if bytes.Contains(f.Content, []byte(sentinel)) {
					t.Errorf("%s (showSecrets=true) holds secret text; only %s may:\n%s", f.Name, secretFile, f.Content)
				}
			}
			if len(values) == 0 {
				return
			}
			if h.Target == config.TargetLocal {
				// The local files read secrets from the secrets directory at start.
				if manifest != nil {
					t.Errorf("the local target renders a Secret manifest %s", secretFile)
				}
				return
			}
			withSecrets++
			if manifest == nil {
				t.Fatalf("no %s rendered although the config references %d secret(s)", secretFile, len(values))
			}
			for _, v := range values {
				if !bytes.Contains(manifest, []byte(v)) {
					t.Errorf("%s (showSecrets=true) lacks the resolved secret %q:\n%s", secretFile, v, manifest)
				}
			}
		})
	}
	if withSecrets == 0 {
		t.Error("no example has a Kubernetes Secret with referenced secrets: the showSecrets path went untested")
	}
}

// TestSecretManifestRedacted checks the redacted Secret names each source
// and that every secret the hub reads from dhub's Secret is in it.
func TestSecretManifestRedacted(t *testing.T) {
	h := loadNamed(t, "password-auth")
	k := render.ForKubernetes(h)
	if k.Secret == nil {
		t.Fatal("password auth renders no Secret")
	}
	b, err := k.Secret.Manifest(false)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"admin-password": "<redacted: from env:DHUB_ADMIN_PASSWORD>",
		"user-password":  "<redacted: from file:/etc/dhub/user-password>",
	}
	if got := m["stringData"]; !reflect.DeepEqual(got, want) {
		t.Errorf("stringData = %v, want %v", got, want)
	}
	if got := m["metadata"]; !reflect.DeepEqual(got, map[string]any{"name": render.AuthSecretName, "namespace": h.Namespace}) {
		t.Errorf("metadata = %v", got)
	}

	// A generated admin password is never resolved, even when shown.
	h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{}
	h.JupyterHub.Auth.Password.UserPassword = config.SecretRef{}
	h.JupyterHub.Auth.Password.AllowedUsers = nil
	b, err = render.ForKubernetes(h).Secret.Manifest(true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("admin-password: <generated by dhub up>")) {
		t.Errorf("generated admin password not marked as generated:\n%s", b)
	}

	// Every secretKeyRef in hub.extraEnv names a key of dhub's Secret.
	for _, path := range examplePaths(t) {
		h := loadExample(t, path)
		if h.Target == config.TargetLocal {
			continue
		}
		k := render.ForKubernetes(h)
		jh := releaseValues(t, k, "jupyterhub")
		env, _ := get(jh, "hub", "extraEnv").(map[string]any)
		for name, v := range env {
			ref, ok := get(v, "valueFrom", "secretKeyRef").(map[string]any)
			if !ok {
				continue
			}
			if ref["name"] != render.AuthSecretName {
				t.Errorf("%s: hub.extraEnv.%s reads Secret %v, not %s", path, name, ref["name"], render.AuthSecretName)
				continue
			}
			key, _ := ref["key"].(string)
			if k.Secret == nil {
				t.Errorf("%s: hub.extraEnv.%s reads %s but no Secret is rendered", path, name, key)
			} else if _, ok := k.Secret.Data[key]; !ok {
				t.Errorf("%s: hub.extraEnv.%s reads key %q, which the Secret lacks", path, name, key)
			}
		}
	}
}

// TestNoHandMadeTokens: the JupyterHub chart generates the proxy token and
// the service tokens, and the gateway chart reads its token from the hub's
// Secret; dhub must never write them.
func TestNoHandMadeTokens(t *testing.T) {
	forbidden := map[string][][]string{
		"jupyterhub":   {{"proxy", "secretToken"}, {"hub", "services", "dask-gateway", "apiToken"}, {"hub", "services", "dask-gateway", "api_token"}},
		"dask-gateway": {{"gateway", "auth", "jupyterhub", "apiToken"}},
	}
	for _, path := range kubeExamples(t) {
		h := loadExample(t, path)
		for _, r := range render.ForKubernetes(h).Releases {
			for _, keys := range forbidden[r.Chart.Name] {
				if v, ok := lookup(r.Values, keys...); ok {
					t.Errorf("%s: %s values set %s = %v", path, r.Name, strings.Join(keys, "."), v)
				}
			}
		}
	}
}

// TestExtraEnvBracesDoubled: KubeSpawner runs str.format over env values, so
// every literal brace in singleuser.extraEnv must be doubled; only the
// fields dhub means it to fill in ({unescaped_username}) are single.
func TestExtraEnvBracesDoubled(t *testing.T) {
	for _, path := range kubeExamples(t) {
		h := loadExample(t, path)
		jh := releaseValues(t, render.ForKubernetes(h), "jupyterhub")
		env, ok := get(jh, "singleuser", "extraEnv").(map[string]any)
		if !ok || len(env) == 0 {
			t.Fatalf("%s: no singleuser.extraEnv", path)
		}
		for k, v := range env {
			s, ok := v.(string)
			if !ok {
				s, _ = get(v, "value").(string)
			}
			if !bracesDoubled(strings.ReplaceAll(s, "{unescaped_username}", "")) {
				t.Errorf("%s: singleuser.extraEnv.%s = %q has a single brace", path, k, s)
			}
		}
		for k, want := range map[string]string{
			"DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE": "{{JUPYTER_IMAGE_SPEC}}",
			"DASK_DISTRIBUTED__DASHBOARD__LINK":     "/user/{{JUPYTERHUB_USER}}/proxy/{{port}}/status",
		} {
			if env[k] != want {
				t.Errorf("%s: singleuser.extraEnv.%s = %v, want %q", path, k, env[k], want)
			}
		}
	}
}

// bracesDoubled reports whether every brace in s is part of a {{ or }} pair.
func bracesDoubled(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '{' || c == '}' {
			if i+1 >= len(s) || s[i+1] != c {
				return false
			}
			i++
		}
	}
	return true
}

func TestBracesDoubled(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "plain": true, "{{A}}": true, "/u/{{x}}/p/{{port}}": true,
		"{A}": false, "{{A}": false, "a}": false, "{": false, "{{{A}}}": false,
	} {
		if got := bracesDoubled(s); got != want {
			t.Errorf("bracesDoubled(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRecommended checks the guide's recommended deployment, rule by rule.
func TestRecommended(t *testing.T) {
	h := loadNamed(t, "azure-recommended")
	k := render.ForKubernetes(h)
	jh := releaseValues(t, k, "jupyterhub")
	dg := releaseValues(t, k, "dask-gateway")

	t.Run("worker affinity and tolerations", func(t *testing.T) {
		pod := get(dg, "gateway", "backend", "worker", "extraPodConfig")
		terms := get(pod, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		wantTerms := []any{map[string]any{"matchExpressions": []any{
			map[string]any{"key": "k8s.dask.org/dedicated", "operator": "In", "values": []any{"worker"}},
		}}}
		if !reflect.DeepEqual(terms, wantTerms) {
			t.Errorf("worker nodeSelectorTerms = %v, want %v", terms, wantTerms)
		}
		tol := func(key, value string) any {
			return map[string]any{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}
		}
		want := []any{
			tol("k8s.dask.org/dedicated", "worker"),
			tol("k8s.dask.org_dedicated", "worker"),
			tol("kubernetes.azure.com/scalesetpriority", "spot"),
		}
		got, _ := get(pod, "tolerations").([]any)
		if len(got) != len(want) {
			t.Fatalf("worker tolerations = %v, want exactly %v", got, want)
		}
		for _, w := range want {
			if !slices.ContainsFunc(got, func(g any) bool { return reflect.DeepEqual(g, w) }) {
				t.Errorf("worker tolerations %v lack %v", got, w)
			}
		}
	})

	t.Run("user and core pods require their pools", func(t *testing.T) {
		for _, pods := range []string{"userPods", "corePods"} {
			if got := get(jh, "scheduling", pods, "nodeAffinity", "matchNodePurpose"); got != "require" {
				t.Errorf("scheduling.%s.nodeAffinity.matchNodePurpose = %v, want require", pods, got)
			}
		}
	})

	t.Run("DNS label and HTTPS host", func(t *testing.T) {
		ann := get(jh, "proxy", "service", "annotations", "service.beta.kubernetes.io/azure-dns-label-name")
		// The label is the hub's own (its name and a per-deployment
		// suffix), not the guide's pangeo-hub that everyone shares.
		if ann != h.Azure.DNSLabel || ann == h.Name {
			t.Errorf("azure-dns-label-name = %v, want azure.dnsLabel %q", ann, h.Azure.DNSLabel)
		}
		host := h.Azure.DNSLabel + "." + h.Azure.Location + ".cloudapp.azure.com"
		if host != "pangeo-hub-r2crrr.westeurope.cloudapp.azure.com" {
			t.Fatalf("the example changed: host %s", host)
		}
		if got := get(jh, "proxy", "https", "hosts"); !reflect.DeepEqual(got, []any{host}) {
			t.Errorf("proxy.https.hosts = %v, want [%s]", got, host)
		}
		if got := get(jh, "proxy", "https", "enabled"); got != true {
			t.Errorf("proxy.https.enabled = %v", got)
		}
		if got := get(jh, "proxy", "https", "type"); got != "letsencrypt" {
			t.Errorf("proxy.https.type = %v", got)
		}
		if got := get(jh, "proxy", "https", "letsencrypt", "contactEmail"); got != h.JupyterHub.HTTPS.ContactEmail {
			t.Errorf("letsencrypt.contactEmail = %v", got)
		}
		want := "https://" + host + "/hub/oauth_callback"
		if got := get(jh, "hub", "config", "AzureAdOAuthenticator", "oauth_callback_url"); got != want {
			t.Errorf("oauth_callback_url = %v, want %s", got, want)
		}
	})

	t.Run("Azure AD allows exactly the configured group", func(t *testing.T) {
		ad, _ := get(jh, "hub", "config", "AzureAdOAuthenticator").(map[string]any)
		if got := get(jh, "hub", "config", "JupyterHub", "authenticator_class"); got != "azuread" {
			t.Errorf("authenticator_class = %v", got)
		}
		if ad["allow_all"] != false {
			t.Errorf("allow_all = %v, want false", ad["allow_all"])
		}
		if ad["manage_groups"] != true {
			t.Errorf("manage_groups = %v: allowed_groups needs it", ad["manage_groups"])
		}
		if got := toStrings(ad["allowed_groups"]); !slices.Equal(got, h.JupyterHub.Auth.AzureAD.AllowedGroups) {
			t.Errorf("allowed_groups = %v", got)
		}
		if ad["tenant_id"] != h.JupyterHub.Auth.AzureAD.TenantID || ad["client_id"] != h.JupyterHub.Auth.AzureAD.ClientID {
			t.Errorf("tenant_id/client_id = %v/%v", ad["tenant_id"], ad["client_id"])
		}
		// allowedUsers and admins are user principal names: so must usernames
		// be (test/chartcode runs this code for members and guests).
		if extra, _ := get(jh, "hub", "extraConfig", "dhub-azuread-username").(string); !strings.Contains(extra, `("upn", "email", "preferred_username")`) {
			t.Errorf("no username from the upn claim: %q", extra)
		}
		if got := toStrings(ad["admin_users"]); !slices.Equal(got, h.JupyterHub.Auth.AzureAD.Admins) {
			t.Errorf("admin_users = %v", got)
		}
		if _, ok := ad["client_secret"]; ok {
			t.Error("client_secret is written into the values")
		}
		ref := get(jh, "hub", "extraEnv", "OAUTH_CLIENT_SECRET", "valueFrom", "secretKeyRef", "name")
		if ref != render.AuthSecretName {
			t.Errorf("OAUTH_CLIENT_SECRET comes from %v, want Secret %s", ref, render.AuthSecretName)
		}
	})

	t.Run("singleuser egress reaches only traefik port 8000", func(t *testing.T) {
		rules, _ := get(jh, "singleuser", "networkPolicy", "egress").([]any)
		if len(rules) == 0 {
			t.Fatal("no singleuser.networkPolicy.egress rule: user pods cannot reach the gateway")
		}
		for i, r := range rules {
			ports, _ := get(r, "ports").([]any)
			if len(ports) == 0 {
				t.Errorf("egress[%d] allows every port", i)
			}
			for _, p := range ports {
				if !reflect.DeepEqual(p, map[string]any{"port": 8000, "protocol": "TCP"}) {
					t.Errorf("egress[%d] allows port %v, want only 8000/TCP", i, p)
				}
			}
			to, _ := get(r, "to").([]any)
			if len(to) == 0 {
				t.Errorf("egress[%d] allows every destination", i)
			}
			for _, peer := range to {
				pm, _ := peer.(map[string]any)
				if len(pm) != 1 || pm["podSelector"] == nil {
					t.Errorf("egress[%d] peer %v is not only a podSelector", i, peer)
				}
				if got := get(peer, "podSelector", "matchLabels", "app.kubernetes.io/component"); got != "traefik" {
					t.Errorf("egress[%d] peer %v is not the traefik pods", i, peer)
				}
				if exprs := get(peer, "podSelector", "matchExpressions"); exprs != nil {
					t.Errorf("egress[%d] peer has matchExpressions %v", i, exprs)
				}
			}
		}
		// The chart's own egress rules stay closed to private IPs.
		defaults, err := charts.Defaults(charts.JupyterHub)
		if err != nil {
			t.Fatal(err)
		}
		merged := charts.Coalesce(defaults, jh)
		if got := get(merged, "singleuser", "networkPolicy", "egressAllowRules", "privateIPs"); got != false {
			t.Errorf("merged singleuser egressAllowRules.privateIPs = %v, want false", got)
		}
		if got := get(merged, "singleuser", "networkPolicy", "enabled"); got != true {
			t.Errorf("merged singleuser networkPolicy.enabled = %v, want true", got)
		}
	})

	t.Run("gateway wiring", func(t *testing.T) {
		for _, tc := range []struct {
			keys []string
			want any
		}{
			{[]string{"gateway", "prefix"}, "/services/dask-gateway"},
			{[]string{"gateway", "auth", "type"}, "jupyterhub"},
			{[]string{"traefik", "service", "type"}, "ClusterIP"},
			{[]string{"gateway", "nodeSelector", "hub.jupyter.org/node-purpose"}, "core"},
			{[]string{"controller", "nodeSelector", "hub.jupyter.org/node-purpose"}, "core"},
			{[]string{"traefik", "nodeSelector", "hub.jupyter.org/node-purpose"}, "core"},
			{[]string{"gateway", "backend", "image", "name"}, "pangeo/pangeo-notebook"},
			{[]string{"gateway", "backend", "image", "tag"}, "2025.08.14"},
		} {
			if got := get(dg, tc.keys...); got != tc.want {
				t.Errorf("%s = %v, want %v", strings.Join(tc.keys, "."), got, tc.want)
			}
		}
		svc := get(jh, "hub", "services", "dask-gateway", "url")
		// The gateway chart names its traefik Service after the release,
		// which carries the namespace: each hub on a cluster has its own.
		if want := "http://traefik-" + h.Namespace + "-dask-gateway." + h.Namespace; svc != want {
			t.Errorf("hub.services.dask-gateway.url = %v, want %s", svc, want)
		}
		env, _ := get(jh, "singleuser", "extraEnv").(map[string]any)
		for k, want := range map[string]string{
			// With HTTPS, proxy-public redirects to https: use the internal proxy-http.
			"DASK_GATEWAY__ADDRESS":        "http://proxy-http:8000/services/dask-gateway",
			"DASK_GATEWAY__PROXY_ADDRESS":  "gateway://traefik-" + h.Namespace + "-dask-gateway." + h.Namespace + ":80",
			"DASK_GATEWAY__PUBLIC_ADDRESS": "/services/dask-gateway/",
			"DASK_GATEWAY__AUTH__TYPE":     "jupyterhub",
		} {
			if env[k] != want {
				t.Errorf("singleuser.extraEnv.%s = %v, want %s", k, env[k], want)
			}
		}
	})
}

// TestSimple checks the guide's simple deployment: one pool, no pinning, and
// the admin's password generated by dhub, or with an explicit 'type: none'
// no login at all.
func TestSimple(t *testing.T) {
	h := loadNamed(t, "azure-simple")
	if got := get(releaseValues(t, render.ForKubernetes(h), "jupyterhub"), "hub", "config", "JupyterHub", "authenticator_class"); got != "shared-password" {
		t.Errorf("authenticator_class = %v, want shared-password", got)
	}
	if s := render.ForKubernetes(h).Secret; s == nil || !s.Data[render.AdminPasswordKey].Generate {
		t.Errorf("the simple hub's Secret %v, want a generated admin password", s)
	}
	h.JupyterHub.Auth = config.Auth{Type: config.AuthNone}
	k := render.ForKubernetes(h)
	jh := releaseValues(t, k, "jupyterhub")
	dg := releaseValues(t, k, "dask-gateway")

	for _, role := range []string{"worker", "scheduler"} {
		if v, ok := lookup(dg, "gateway", "backend", role, "extraPodConfig"); ok {
			t.Errorf("gateway.backend.%s.extraPodConfig = %v, want none on a single pool", role, v)
		}
	}
	if v, ok := lookup(dg, "gateway", "nodeSelector"); ok {
		t.Errorf("gateway.nodeSelector = %v, want none", v)
	}
	if v, ok := lookup(jh, "scheduling"); ok {
		t.Errorf("scheduling = %v, want nothing required of a single pool", v)
	}
	if got := get(jh, "hub", "config", "JupyterHub", "authenticator_class"); got != "dummy" {
		t.Errorf("authenticator_class = %v, want dummy", got)
	}
	if got := get(jh, "hub", "config", "DummyAuthenticator", "allow_all"); got != true {
		t.Errorf("DummyAuthenticator.allow_all = %v, want true", got)
	}
	if v, ok := lookup(jh, "proxy", "https"); ok {
		t.Errorf("proxy.https = %v, want none", v)
	}
	if got := get(jh, "proxy", "service", "annotations", "service.beta.kubernetes.io/azure-dns-label-name"); got != h.Azure.DNSLabel {
		t.Errorf("azure-dns-label-name = %v, want %s", got, h.Azure.DNSLabel)
	}
	if got := get(jh, "singleuser", "extraEnv", "DASK_GATEWAY__ADDRESS"); got != "http://proxy-public/services/dask-gateway" {
		t.Errorf("DASK_GATEWAY__ADDRESS = %v", got)
	}
	if k.Secret != nil {
		t.Errorf("auth none renders Secret %v", k.Secret.Data)
	}
}

// TestGatewayBounds: the cluster options offered follow dask.* in the config.
func TestGatewayBounds(t *testing.T) {
	coresRE := regexp.MustCompile(`Float\("worker_cores", default=([^,]+), min=([^,]+), max=([^,]+),`)
	check := func(t *testing.T, code, want string) {
		t.Helper()
		m := coresRE.FindStringSubmatch(code)
		if m == nil {
			t.Fatalf("no worker_cores option in:\n%s", code)
		}
		if got := strings.Join(m[1:], " "); got != want {
			t.Errorf("worker_cores default, min, max = %s, want %s", got, want)
		}
	}

	// On Azure the default bounds fit the worker pool's VMs (Standard_D2s_v3:
	// 2 cores, about 5.9 GiB for pods).
	h := loadNamed(t, "azure-recommended")
	code := gatewayConfig(t, h)
	check(t, code, "1.0 1.0 2.0")
	if !strings.Contains(code, `Float("worker_memory", default=2.0, min=1.0, max=5.5,`) {
		t.Errorf("memory bounds of a Standard_D2s_v3 worker not in the gateway config:\n%s", code)
	}
	h.Dask.WorkerCores.Max = 1.5
	code = gatewayConfig(t, h)
	check(t, code, "1.0 1.0 1.5")

	local := loadNamed(t, "local")
	local.Dask.WorkerCores.Max = 8
	for _, f := range render.ForLocal(local, render.DefaultLocalPorts(local.Local.Port)) {
		if f.Name == "dask_gateway_config.py" {
			check(t, f.Content, "1.0 1.0 8.0")
		}
	}

	// Limits, idle timeout and environment of dask-access-role.yaml.
	code = gatewayConfig(t, loadNamed(t, "dask-access-role"))
	check(t, code, "1.0 0.5 4.0")
	for _, want := range []string{
		`Float("worker_memory", default=4.0, min=1.0, max=16.0,`,
		// The limits as workers per cluster (test/chartcode runs them).
		"caps.append(20)\n",
		"caps.append(int(40.0 / options.worker_cores + 1e-9))\n",
		"caps.append(int(160.0 / options.worker_memory + 1e-9))\n",
		"c.ClusterConfig.idle_timeout = 1800\n",
		`"GDAL_DISABLE_READDIR_ON_OPEN":"EMPTY_DIR"`,
		`String("image", default="pangeo/pangeo-notebook:2025.08.14"`,
	} {
		if !strings.Contains(code, want) {
			t.Errorf("gateway config lacks %s:\n%s", want, code)
		}
	}
}

// TestDaskAccessRole: requireAccessRole grants the gateway's access scope to
// the configured users and groups, and the gateway checks it.
func TestDaskAccessRole(t *testing.T) {
	h := loadNamed(t, "dask-access-role")
	k := render.ForKubernetes(h)
	jh := releaseValues(t, k, "jupyterhub")
	dg := releaseValues(t, k, "dask-gateway")
	role := get(jh, "hub", "loadRoles", "dask-gateway-users")
	if got := toStrings(get(role, "scopes")); !slices.Equal(got, []string{"access:services!service=dask-gateway"}) {
		t.Errorf("scopes = %v", got)
	}
	if got := toStrings(get(role, "groups")); !slices.Equal(got, h.Dask.AccessGroups) {
		t.Errorf("groups = %v, want %v", got, h.Dask.AccessGroups)
	}
	if got := toStrings(get(role, "users")); !slices.Equal(got, h.Dask.AccessUsers) {
		t.Errorf("users = %v, want %v", got, h.Dask.AccessUsers)
	}
	if got := get(dg, "gateway", "auth", "jupyterhub", "jupyterhubServiceName"); got != "dask-gateway" {
		t.Errorf("jupyterhubServiceName = %v, want dask-gateway", got)
	}
	// Without requireAccessRole, nothing is restricted.
	other := releaseValues(t, render.ForKubernetes(loadNamed(t, "kubernetes")), "dask-gateway")
	if v, ok := lookup(other, "gateway", "auth", "jupyterhub", "jupyterhubServiceName"); ok {
		t.Errorf("jupyterhubServiceName = %v without requireAccessRole", v)
	}
}

// TestEndWithServer: by default the gateway's backend stops the clusters
// of users without a server, on both targets, and the hub grants the
// gateway's token what that needs; dask.endWithServer: false renders
// neither.
func TestEndWithServer(t *testing.T) {
	for _, on := range []bool{true, false} {
		kubeHub, localHub := loadNamed(t, "kubernetes"), loadNamed(t, "local")
		*kubeHub.Dask.EndWithServer, *localHub.Dask.EndWithServer = on, on
		k := render.ForKubernetes(kubeHub)
		code, _ := get(releaseValues(t, k, "dask-gateway"), "gateway", "extraConfig", "dhub-end-with-server").(string)
		role := get(releaseValues(t, k, "jupyterhub"), "hub", "loadRoles", "dask-gateway-servers")
		var local string
		for _, f := range render.ForLocal(localHub, render.DefaultLocalPorts(localHub.Local.Port)) {
			local += f.Content
		}
		if !on {
			if code != "" || role != nil || strings.Contains(local, "dhub_end_with_server") || strings.Contains(local, "dask-gateway-servers") {
				t.Errorf("dask.endWithServer: false still renders the gateway's loop or its role")
			}
			continue
		}
		if !strings.Contains(code, "c.DaskGateway.backend_class = dhub_end_with_server(KubeBackend, 10)") {
			t.Errorf("the gateway's extraConfig does not wrap KubeBackend:\n%s", code)
		}
		if got := toStrings(get(role, "scopes")); !slices.Equal(got, render.GatewayHubScopes) || !slices.Equal(toStrings(get(role, "services")), []string{"dask-gateway"}) {
			t.Errorf("the gateway's hub role: %v", role)
		}
		for _, want := range []string{"c.DaskGateway.backend_class = dhub_end_with_server(c.DaskGateway.backend_class, 10)", `"name": "dask-gateway-servers"`} {
			if !strings.Contains(local, want) {
				t.Errorf("the local hub's configuration lacks %s", want)
			}
		}
	}
}

// TestExtraValuesMergedLast: charts.*.values win over what dhub renders, and
// merge with it instead of replacing whole maps.
func TestExtraValuesMergedLast(t *testing.T) {
	h := loadNamed(t, "airgapped-charts")
	k := render.ForKubernetes(h)
	jh := releaseValues(t, k, "jupyterhub")
	dg := releaseValues(t, k, "dask-gateway")
	if got := get(jh, "singleuser", "memory", "guarantee"); got != "2G" {
		t.Errorf("singleuser.memory.guarantee = %v, want 2G", got)
	}
	if got := get(dg, "gateway", "loglevel"); got != "DEBUG" {
		t.Errorf("gateway.loglevel = %v, want DEBUG", got)
	}
	if got := get(jh, "singleuser", "extraEnv", "PIP_INDEX_URL"); got != "https://pypi.offline.example.org/simple" {
		t.Errorf("extra singleuser.extraEnv.PIP_INDEX_URL = %v", got)
	}
	if got := get(jh, "singleuser", "extraEnv", "DASK_GATEWAY__AUTH__TYPE"); got != "jupyterhub" {
		t.Errorf("extra extraEnv replaced dhub's: DASK_GATEWAY__AUTH__TYPE = %v", got)
	}
	if got := get(dg, "gateway", "prefix"); got != "/services/dask-gateway" {
		t.Errorf("extra gateway values replaced dhub's: gateway.prefix = %v", got)
	}
	for _, r := range k.Releases {
		if r.Path == "" || !strings.HasSuffix(r.Path, ".tgz") {
			t.Errorf("release %s: path %q, want the local .tgz", r.Name, r.Path)
		}
	}

	// A key dhub renders itself is overridden by the same key in values.
	h.Charts.JupyterHub.Values["singleuser"].(map[string]any)["defaultUrl"] = "/tree"
	h.Charts.JupyterHub.Values["cull"] = map[string]any{"timeout": 7200}
	h.Charts.DaskGateway.Values["traefik"].(map[string]any)["service"] = map[string]any{"type": "LoadBalancer"}
	k = render.ForKubernetes(h)
	jh = releaseValues(t, k, "jupyterhub")
	dg = releaseValues(t, k, "dask-gateway")
	if got := get(jh, "singleuser", "defaultUrl"); got != "/tree" {
		t.Errorf("singleuser.defaultUrl = %v, want the extra value /tree", got)
	}
	if got := get(jh, "cull", "timeout"); got != 7200 {
		t.Errorf("cull.timeout = %v, want the extra value 7200", got)
	}
	if got := get(jh, "cull", "enabled"); got != true {
		t.Errorf("cull.enabled = %v: the extra cull map replaced dhub's", got)
	}
	if got := get(dg, "traefik", "service", "type"); got != "LoadBalancer" {
		t.Errorf("traefik.service.type = %v, want the extra value LoadBalancer", got)
	}
	if ps := render.Check(h); len(ps) > 0 {
		t.Errorf("Check:\n%s", problemList(ps))
	}
}

// TestCheckReportsExtraValues: a key the chart's schema does not know, in
// charts.*.values, is reported under that path.
func TestCheckReportsExtraValues(t *testing.T) {
	for _, tc := range []struct {
		chart  string
		set    func(h *config.Hub)
		prefix string
	}{
		{"jupyterhub", func(h *config.Hub) { h.Charts.JupyterHub.Values = map[string]any{"hub": map[string]any{"nope": 1}} }, "charts.jupyterhub.values.hub"},
		{"daskGateway", func(h *config.Hub) {
			h.Charts.DaskGateway.Values = map[string]any{"gateway": map[string]any{"nope": 1}}
		}, "charts.daskGateway.values.gateway"},
		{"wrong type", func(h *config.Hub) {
			h.Charts.JupyterHub.Values = map[string]any{"singleuser": map[string]any{"defaultUrl": 3}}
		}, "charts.jupyterhub.values.singleuser.defaultUrl"},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			h := loadNamed(t, "kubernetes")
			tc.set(h)
			ps := render.Check(h)
			if len(ps.Errors()) == 0 {
				t.Fatalf("Check found no error; want one under %s", tc.prefix)
			}
			for _, p := range ps.Errors() {
				if !strings.HasPrefix(p.Path, tc.prefix) {
					t.Errorf("problem %s is not under %s", p, tc.prefix)
				}
			}
			if tc.chart != "wrong type" && !strings.Contains(ps.Errors()[0].Message, "nope") {
				t.Errorf("problem %s does not name the unknown key", ps.Errors()[0])
			}
		})
	}

	h := loadNamed(t, "kubernetes")
	h.Charts.JupyterHub.Version = "4.3.0"
	ps := render.Check(h)
	if len(ps) != 1 || !ps[0].Warning || ps[0].Path != "charts.jupyterhub.values" {
		t.Errorf("another chart version: Check = %v, want one warning at charts.jupyterhub.values", ps)
	}
}

// TestLocalOnlyPasswordAuth: the local target's files know only shared
// passwords; another auth type is a problem at hub.auth.type, not a panic.
func TestLocalOnlyPasswordAuth(t *testing.T) {
	for _, auth := range []config.Auth{
		{Type: config.AuthAzureAD, AzureAD: &config.AzureAD{
			TenantID: "00000000-0000-0000-0000-00000000a11d", ClientID: "00000000-0000-0000-0000-0000000c11e7",
			ClientSecret: config.SecretRef{FromEnv: "DHUB_AZUREAD_CLIENT_SECRET"}, Access: config.Access{AllowAll: true}}},
		{Type: config.AuthNone},
	} {
		t.Run(string(auth.Type), func(t *testing.T) {
			h := loadNamed(t, "local")
			h.JupyterHub.Auth = auth
			ps := h.Validate().Errors()
			if len(ps) != 1 || ps[0].Path != "hub.auth.type" {
				t.Errorf("Validate = %v, want one error at hub.auth.type", ps)
			}
			if _, err := render.Files(h, false); err == nil || !strings.Contains(err.Error(), "hub.auth.type") {
				t.Errorf("Files error = %v, want one naming hub.auth.type", err)
			}
		})
	}
}

// TestValuesValidateAgainstSchemas validates every rendered values file, as
// written to disk and read back, against its chart's schema merged over the
// chart defaults.
func TestValuesValidateAgainstSchemas(t *testing.T) {
	for _, path := range kubeExamples(t) {
		h := loadExample(t, path)
		k := render.ForKubernetes(h)
		files, err := render.Files(h, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range k.Releases {
			c := charts.JupyterHub
			if r.Chart.Name == "dask-gateway" {
				c = charts.DaskGateway
			}
			if r.Chart.Version != c.Version || r.Chart.Name != c.Name {
				t.Fatalf("%s: release %s is chart %s %s, want %s %s", path, r.Name, r.Chart.Name, r.Chart.Version, c.Name, c.Version)
			}
			for _, v := range charts.Validate(c, r.Values) {
				t.Errorf("%s: %s values: %s", path, r.Name, v)
			}
			var fromFile map[string]any
			i := slices.IndexFunc(files, func(f render.File) bool { return f.Name == r.Chart.Name+"-values.yaml" })
			if i < 0 {
				t.Fatalf("%s: no file %s-values.yaml", path, r.Chart.Name)
			}
			if err := yaml.Unmarshal(files[i].Content, &fromFile); err != nil {
				t.Fatalf("%s: %s: %v", path, files[i].Name, err)
			}
			for _, v := range charts.Validate(c, fromFile) {
				t.Errorf("%s: %s as written: %s", path, files[i].Name, v)
			}
			if !reflect.DeepEqual(normalize(t, r.Values), fromFile) {
				t.Errorf("%s: %s does not read back as the rendered values", path, files[i].Name)
			}
		}
	}
}

// TestPythonCompiles parses every Python file and snippet dhub generates
// with the real Python parser.
func TestPythonCompiles(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required to check the generated Python: %v", err)
	}
	snippets := map[string]string{}
	add := func(name string, h *config.Hub) {
		if h.Target == config.TargetLocal {
			for _, f := range render.ForLocal(h, render.DefaultLocalPorts(h.Local.Port)) {
				snippets[name+"/"+f.Name] = f.Content
			}
			return
		}
		for _, r := range render.ForKubernetes(h).Releases {
			for _, keys := range [][]string{{"hub", "extraConfig"}, {"gateway", "extraConfig"}} {
				m, _ := get(r.Values, keys...).(map[string]any)
				for k, v := range m {
					code, ok := v.(string)
					if !ok {
						t.Errorf("%s: %s.%s is %T, not Python text", name, strings.Join(keys, "."), k, v)
						continue
					}
					snippets[fmt.Sprintf("%s/%s/%s.%s", name, r.Name, strings.Join(keys, "."), k)] = code
				}
			}
		}
	}
	for _, path := range examplePaths(t) {
		add(exampleName(path), loadExample(t, path))
	}
	// Quotes, backslashes and braces in every string that reaches Python.
	awkward := func(h *config.Hub) {
		h.Dask.Environment = map[string]string{"AWKWARD": `it's "quoted" \ {x} ''' """ %s` + "\n\t"}
		h.Dask.RequireAccessRole = true
		h.Dask.AccessUsers = []string{`o'brien`, `say"hi"`}
		h.Dask.AccessGroups = []string{`g\1`}
		h.Dask.Image = `registry.example.org/we"ird%s'x:1`
	}
	for _, name := range []string{"local", "password-auth"} {
		h := loadNamed(t, name)
		awkward(h)
		if h.JupyterHub.Auth.Password != nil {
			h.JupyterHub.Auth.Password.AllowedUsers = []string{`o'brien`, `back\slash`}
			h.JupyterHub.Auth.Password.AdminUser = `adm"in`
			h.JupyterHub.Auth.Password.UserPassword = config.SecretRef{FromEnv: "DHUB_USER_PASSWORD"}
		}
		h.JupyterHub.DefaultURL = `/lab?x="y"`
		if errs := h.Validate().Errors(); len(errs) > 0 {
			t.Fatalf("awkward %s does not validate:\n%s", name, problemList(errs))
		}
		add("awkward-"+name, h)
	}
	if len(snippets) < 10 {
		t.Fatalf("only %d Python snippets found", len(snippets))
	}
	for name, code := range snippets {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(python, "-c", "import ast,sys; ast.parse(sys.stdin.read())")
			cmd.Stdin = strings.NewReader(code)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("not valid Python: %v\n%s\n--- code:\n%s", err, out, code)
			}
		})
	}
}

// BenchmarkFiles measures what 'dhub render' does for the recommended
// deployment: load, validate, check against the schemas, render.
func BenchmarkFiles(b *testing.B) {
	path := filepath.Join("..", "..", "examples", "azure-recommended.yaml")
	for b.Loop() {
		f, err := config.LoadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if errs := f.Hub.Validate().Errors(); len(errs) > 0 {
			b.Fatal(errs)
		}
		if ps := render.Check(f.Hub); len(ps) > 0 {
			b.Fatal(ps)
		}
		if _, err := render.Files(f.Hub, false); err != nil {
			b.Fatal(err)
		}
	}
}

// gatewayConfig returns the cluster options snippet of the gateway values.
func gatewayConfig(t testing.TB, h *config.Hub) string {
	t.Helper()
	dg := releaseValues(t, render.ForKubernetes(h), "dask-gateway")
	code, ok := get(dg, "gateway", "extraConfig", "dhub-cluster-options").(string)
	if !ok {
		t.Fatalf("no gateway.extraConfig.dhub-cluster-options in %v", get(dg, "gateway", "extraConfig"))
	}
	return code
}

// kubeExamples returns the examples that install Helm charts.
func kubeExamples(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, p := range examplePaths(t) {
		f, err := config.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Hub.Target != config.TargetLocal {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no kubernetes or azure example")
	}
	return out
}

// releaseValues returns the values of the named release.
func releaseValues(t testing.TB, k *render.Kubernetes, chart string) map[string]any {
	t.Helper()
	for _, r := range k.Releases {
		if r.Chart.Name == chart {
			return r.Values
		}
	}
	t.Fatalf("no release of chart %s", chart)
	return nil
}

// lookup walks nested maps along keys.
func lookup(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// get is lookup without the found flag: nil when absent.
func get(v any, keys ...string) any {
	v, _ = lookup(v, keys...)
	return v
}

func toStrings(v any) []string {
	switch s := v.(type) {
	case []string:
		return s
	case []any:
		out := make([]string, len(s))
		for i, x := range s {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

// normalize round-trips v through YAML so Go types compare with decoded ones.
func normalize(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Each hub's releases are named after its namespace, so the charts'
// cluster-wide objects (named after the release) don't collide; a long
// namespace is shortened so the gateway's object names stay valid.
func TestReleaseNamesFor(t *testing.T) {
	if got, want := render.ReleaseNamesFor("course-a"), (render.ReleaseNames{JupyterHub: "course-a-jupyterhub", DaskGateway: "course-a-dask-gateway"}); got != want {
		t.Errorf("ReleaseNamesFor(course-a) = %+v, want %+v", got, want)
	}
	long := strings.Repeat("n", 63)
	a, b := render.ReleaseNamesFor(long), render.ReleaseNamesFor(long[:62]+"m")
	if a == b {
		t.Errorf("two long namespaces share release names %+v", a)
	}
	for _, n := range []string{a.DaskGateway, a.JupyterHub} {
		if len("controller-"+n) > 63 || len(n) > 53 {
			t.Errorf("release %s: too long for Helm (53) or the gateway's controller-<release> (63)", n)
		}
	}
	if !strings.Contains(a.DaskGateway, "dask-gateway") {
		t.Errorf("%s lacks dask-gateway: the chart would add it to every name", a.DaskGateway)
	}
}
