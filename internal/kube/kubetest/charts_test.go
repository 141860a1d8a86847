package kubetest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	release "helm.sh/helm/v4/pkg/release/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"dhub/internal/kube/kubetest"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// manifest is a rendered release, with test helpers.
type manifest kubetest.Manifest

func (m manifest) get(t *testing.T, kind, name string, into any) bool {
	t.Helper()
	ok, err := kubetest.Manifest(m).Get(kind, name, into)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (m manifest) names(kind string) []string { return kubetest.Manifest(m).Names(kind) }

// render renders a test chart as `helm template` would.
func render(t *testing.T, chart, releaseName, namespace, kubeVersion string, values map[string]any) (manifest, *release.Release, error) {
	t.Helper()
	kubetest.IsolateHelm(t)
	dir, err := kubetest.Chart(chart)
	if err != nil {
		t.Fatal(err)
	}
	m, rel, err := kubetest.Render(dir, releaseName, namespace, kubeVersion, values)
	return manifest(m), rel, err
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// dig returns the value at a dotted path of nested maps, or nil.
func dig(v map[string]any, path string) any {
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// goldenDirs are the render golden cases that have Helm values.
func goldenDirs(t *testing.T) []string {
	t.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob(filepath.Join(root, "internal", "render", "testdata", "golden", "*", "jupyterhub-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 5 {
		t.Fatalf("only %d golden values files found: %v", len(dirs), dirs)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func requiresCore(spec corev1.PodSpec) bool {
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == corePurpose && e.Operator == corev1.NodeSelectorOpIn && reflect.DeepEqual(e.Values, []string{"core"}) {
				return true
			}
		}
	}
	return false
}

// TestJupyterHubChartTakesDhubValues renders the test jupyterhub chart with
// every jupyterhub-values.yaml dhub's render goldens hold and checks the
// objects dhub's install, wait and status code will look for.
func TestJupyterHubChartTakesDhubValues(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			values := readValues(t, filepath.Join(dir, "jupyterhub-values.yaml"))
			m, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", kubetest.Version, values)
			if err != nil {
				t.Fatal(err)
			}
			https := dig(values, "proxy.https.enabled") == true
			require := dig(values, "scheduling.corePods.nodeAffinity.matchNodePurpose") == "require"

			for _, name := range []string{"hub", "proxy", "user-scheduler", "autohttps"} {
				var d appsv1.Deployment
				if !m.get(t, "Deployment", name, &d) {
					if name != "autohttps" || https {
						t.Errorf("no Deployment %s; Deployments: %v", name, m.names("Deployment"))
					}
					continue
				}
				if name == "autohttps" && !https {
					t.Errorf("Deployment autohttps without proxy.https.enabled")
				}
				labels := d.Spec.Template.Labels
				want := map[string]string{"app": "jupyterhub", "component": name, "release": "jupyterhub"}
				for k, v := range want {
					if labels[k] != v {
						t.Errorf("Deployment %s pod label %s = %q, want %q", name, k, labels[k], v)
					}
				}
				if got := requiresCore(d.Spec.Template.Spec); got != require {
					t.Errorf("Deployment %s requires a core node: %v, want %v", name, got, require)
				}
				if name == "user-scheduler" && (d.Spec.Replicas == nil || *d.Spec.Replicas != 2) {
					t.Errorf("user-scheduler replicas = %v, want 2", d.Spec.Replicas)
				}
			}

			var hub appsv1.Deployment
			m.get(t, "Deployment", "hub", &hub)
			env := map[string]corev1.EnvVar{}
			for _, e := range hub.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e
			}
			extra, _ := dig(values, "hub.extraEnv").(map[string]any)
			for name := range extra {
				e, ok := env[name]
				if !ok {
					t.Errorf("hub lacks env %s of hub.extraEnv", name)
				} else if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "dhub-auth" {
					t.Errorf("hub env %s = %+v, want a secretKeyRef to dhub-auth", name, e)
				}
			}
			if wantImage, _ := dig(values, "hub.image.name").(string); wantImage != "" {
				if got := hub.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(got, wantImage+":") {
					t.Errorf("hub image = %s, want %s:*", got, wantImage)
				}
			}

			var pub corev1.Service
			if !m.get(t, "Service", "proxy-public", &pub) {
				t.Fatalf("no Service proxy-public; Services: %v", m.names("Service"))
			}
			// The chart's LoadBalancer unless the values choose another way in.
			wantType := corev1.ServiceTypeLoadBalancer
			if st, ok := dig(values, "proxy.service.type").(string); ok {
				wantType = corev1.ServiceType(st)
			}
			if pub.Spec.Type != wantType {
				t.Errorf("proxy-public type = %s, want %s", pub.Spec.Type, wantType)
			}
			wantAnn := map[string]string{}
			if a, ok := dig(values, "proxy.service.annotations").(map[string]any); ok {
				for k, v := range a {
					wantAnn[k] = v.(string)
				}
			}
			if len(wantAnn) > 0 && !reflect.DeepEqual(pub.Annotations, wantAnn) {
				t.Errorf("proxy-public annotations = %v, want %v", pub.Annotations, wantAnn)
			}
			if len(wantAnn) == 0 && len(pub.Annotations) != 0 {
				t.Errorf("proxy-public annotations = %v, want none", pub.Annotations)
			}
			wantSelect := "proxy"
			if https {
				wantSelect = "autohttps"
			}
			if pub.Spec.Selector["component"] != wantSelect {
				t.Errorf("proxy-public selects %v, want component %s", pub.Spec.Selector, wantSelect)
			}
			if got := m.get(t, "Service", "proxy-http", nil); got != https {
				t.Errorf("Service proxy-http rendered: %v, want %v", got, https)
			}
			for _, s := range []string{"hub", "proxy-api"} {
				if !m.get(t, "Service", s, nil) {
					t.Errorf("no Service %s", s)
				}
			}

			var secret corev1.Secret
			if !m.get(t, "Secret", "hub", &secret) {
				t.Fatal("no Secret hub")
			}
			for _, k := range []string{"hub.services.dask-gateway.apiToken", "hub.config.ConfigurableHTTPProxy.auth_token"} {
				if len(secret.Data[k]) != 64 {
					t.Errorf("Secret hub %s has %d bytes, want a generated 64", k, len(secret.Data[k]))
				}
			}

			var job batchv1.Job
			if !m.get(t, "Job", "hook-image-awaiter", &job) {
				t.Fatalf("no hook Job; Jobs: %v", m.names("Job"))
			}
			if got := job.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
				t.Errorf("hook Job helm.sh/hook = %q", got)
			}
			if !m.get(t, "PersistentVolumeClaim", "hub-db-dir", nil) {
				t.Error("no PVC hub-db-dir (hub.db.type sqlite-pvc is the default)")
			}
			if m.get(t, "ConfigMap", "dhub-test_FAIL-APPLY", nil) {
				t.Error("failApply object rendered without custom.dhubTest.failApply")
			}
		})
	}
}

// TestDaskGatewayChartTakesDhubValues renders the test dask-gateway chart
// with every dask-gateway-values.yaml of dhub's render goldens.
func TestDaskGatewayChartTakesDhubValues(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			values := readValues(t, filepath.Join(dir, "dask-gateway-values.yaml"))
			m, _, err := render(t, "dask-gateway", "dask-gateway", "dhub", kubetest.Version, values)
			if err != nil {
				t.Fatal(err)
			}
			for component, key := range map[string]string{"api": "gateway", "controller": "controller", "traefik": "traefik"} {
				name := component + "-dask-gateway"
				var d appsv1.Deployment
				if !m.get(t, "Deployment", name, &d) {
					t.Errorf("no Deployment %s; Deployments: %v", name, m.names("Deployment"))
					continue
				}
				wantComponent := component
				if component == "api" {
					wantComponent = "gateway"
				}
				labels := d.Spec.Template.Labels
				for k, v := range map[string]string{
					"app.kubernetes.io/name":      "dask-gateway",
					"app.kubernetes.io/instance":  "dask-gateway",
					"app.kubernetes.io/component": wantComponent,
				} {
					if labels[k] != v {
						t.Errorf("Deployment %s pod label %s = %q, want %q", name, k, labels[k], v)
					}
				}
				want := map[string]string{}
				if ns, ok := dig(values, key+".nodeSelector").(map[string]any); ok {
					for k, v := range ns {
						want[k] = v.(string)
					}
				}
				got := d.Spec.Template.Spec.NodeSelector
				if len(want) == 0 && len(got) != 0 || len(want) > 0 && !reflect.DeepEqual(got, want) {
					t.Errorf("Deployment %s nodeSelector = %v, want %v", name, got, want)
				}
			}

			var traefik corev1.Service
			if !m.get(t, "Service", "traefik-dask-gateway", &traefik) {
				t.Fatalf("no Service traefik-dask-gateway; Services: %v", m.names("Service"))
			}
			if want := dig(values, "traefik.service.type"); want != nil && string(traefik.Spec.Type) != want {
				t.Errorf("traefik service type = %s, want %v", traefik.Spec.Type, want)
			}
			if !m.get(t, "Service", "api-dask-gateway", nil) {
				t.Error("no Service api-dask-gateway")
			}
			if !m.get(t, "CustomResourceDefinition", "daskclusters.gateway.dask.org", nil) {
				t.Errorf("no DaskCluster CRD; CRDs: %v", m.names("CustomResourceDefinition"))
			}

			// The glue: the gateway reads its JupyterHub token where the
			// jupyterhub chart keeps it.
			var api appsv1.Deployment
			m.get(t, "Deployment", "api-dask-gateway", &api)
			var ref *corev1.SecretKeySelector
			for _, e := range api.Spec.Template.Spec.Containers[0].Env {
				if e.Name == "JUPYTERHUB_API_TOKEN" && e.ValueFrom != nil {
					ref = e.ValueFrom.SecretKeyRef
				}
			}
			if ref == nil || ref.Name != "hub" || ref.Key != "hub.services.dask-gateway.apiToken" {
				t.Errorf("gateway token from %+v, want Secret hub key hub.services.dask-gateway.apiToken", ref)
			}
			var cfg corev1.Secret
			m.get(t, "Secret", "api-dask-gateway", &cfg)
			if !strings.Contains(cfg.StringData["dask_gateway_config.py"], "c.Backend.cluster_options = Options(") {
				t.Errorf("gateway.extraConfig not in the gateway configuration:\n%s", cfg.StringData["dask_gateway_config.py"])
			}
		})
	}
}

func TestDaskGatewayFullname(t *testing.T) {
	for release, want := range map[string]string{
		"dask-gateway":    "api-dask-gateway",
		"my-dask-gateway": "api-my-dask-gateway",
		"gw":              "api-gw-dask-gateway",
	} {
		m, _, err := render(t, "dask-gateway", release, "dhub", kubetest.Version, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !m.get(t, "Deployment", want, nil) {
			t.Errorf("release %s: Deployments %v, want %s", release, m.names("Deployment"), want)
		}
	}
}

// TestJupyterHubChartNeedsRealKubeVersion: a control plane that reports no
// proper version (kube-* built without the version ldflags report
// v0.0.0-master) cannot install the chart, as with the real one.
func TestJupyterHubChartNeedsRealKubeVersion(t *testing.T) {
	_, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", "v0.0.0-master", nil)
	if err == nil || !strings.Contains(err.Error(), "kubeVersion") {
		t.Fatalf("install on v0.0.0-master: err = %v, want a kubeVersion error", err)
	}
	if _, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", "v1.27.9", nil); err == nil {
		t.Fatal("install on v1.27.9 accepted; the chart needs >=1.28")
	}
}

func TestJupyterHubChartDefaults(t *testing.T) {
	m, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", kubetest.Version, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub corev1.Service
	m.get(t, "Service", "proxy-public", &pub)
	if pub.Spec.Type != corev1.ServiceTypeLoadBalancer || pub.Spec.Selector["component"] != "proxy" {
		t.Errorf("proxy-public: type %s selector %v", pub.Spec.Type, pub.Spec.Selector)
	}
	if m.get(t, "Deployment", "autohttps", nil) || m.get(t, "Service", "proxy-http", nil) {
		t.Error("autohttps objects without HTTPS")
	}
	var hub appsv1.Deployment
	m.get(t, "Deployment", "hub", &hub)
	if requiresCore(hub.Spec.Template.Spec) {
		t.Error("hub requires a core node by default (default is prefer)")
	}
	if a := hub.Spec.Template.Spec.Affinity; a == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("hub affinity = %+v, want a core preference", a)
	}
	var s corev1.Secret
	m.get(t, "Secret", "hub", &s)
	if _, ok := s.Data["hub.services.dask-gateway.apiToken"]; ok {
		t.Error("dask-gateway token without hub.services.dask-gateway")
	}

	m, _, err = render(t, "jupyterhub", "jupyterhub", "dhub", kubetest.Version, map[string]any{
		"fullnameOverride": "jh",
		"proxy":            map[string]any{"service": map[string]any{"type": "ClusterIP"}, "secretToken": "fixed"},
		"hub":              map[string]any{"db": map[string]any{"type": "sqlite-memory"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !m.get(t, "Deployment", "jh-hub", nil) || !m.get(t, "Service", "jh-proxy-public", &pub) {
		t.Errorf("fullnameOverride jh: Deployments %v Services %v", m.names("Deployment"), m.names("Service"))
	}
	if pub.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("proxy.service.type ClusterIP ignored: %s", pub.Spec.Type)
	}
	m.get(t, "Secret", "jh-hub", &s)
	if string(s.Data["hub.config.ConfigurableHTTPProxy.auth_token"]) != "fixed" {
		t.Errorf("proxy.secretToken ignored: %q", s.Data["hub.config.ConfigurableHTTPProxy.auth_token"])
	}
	if m.get(t, "PersistentVolumeClaim", "jh-hub-db-dir", nil) {
		t.Error("PVC with hub.db.type sqlite-memory")
	}
}

func TestJupyterHubChartFailSwitches(t *testing.T) {
	m, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", kubetest.Version, map[string]any{
		"custom": map[string]any{"dhubTest": map[string]any{"failHook": true, "failApply": true}},
	})
	for _, v := range []map[string]any{kubetest.FailUpgradeValues(), kubetest.FailApplyValues()} {
		if _, _, err := render(t, "jupyterhub", "jupyterhub", "dhub", kubetest.Version, v); err != nil {
			t.Errorf("values %v do not render: %v", v, err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var job batchv1.Job
	m.get(t, "Job", "hook-image-awaiter", &job)
	if job.Spec.ActiveDeadlineSeconds == nil || *job.Spec.ActiveDeadlineSeconds != 3 {
		t.Errorf("failHook: activeDeadlineSeconds = %v, want 3", job.Spec.ActiveDeadlineSeconds)
	}
	if job.Spec.Template.Spec.NodeSelector["dhub.test/fail-hook"] == "" {
		t.Errorf("failHook: node selector %v", job.Spec.Template.Spec.NodeSelector)
	}
	if !m.get(t, "ConfigMap", "dhub-test_FAIL-APPLY", nil) {
		t.Error("failApply: no invalid ConfigMap")
	}
}
