package chartcode

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"dhub/internal/config"
	"dhub/internal/kube/kubetest"
	"dhub/internal/render"
)

// Test values of the dhub-auth Secret's keys, as 'dhub up' would fill it.
var authSecret = map[string]string{
	"admin-password":        strings.Repeat("A", 40),
	"user-password":         "user-password-of-the-test",
	"azuread-client-secret": "client-secret-of-the-test",
}

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  error
)

// chartPython is the interpreter with the hub and gateway images' pins:
// DHUB_CHART_PYTHON (scripts/test.sh sets it), else what
// scripts/chart-python.sh builds (once; cached).
func chartPython(t *testing.T) string {
	t.Helper()
	pythonOnce.Do(func() {
		if p := os.Getenv("DHUB_CHART_PYTHON"); p != "" {
			pythonPath = p
			return
		}
		root, err := kubetest.RepoRoot()
		if err != nil {
			pythonErr = err
			return
		}
		var out, errb bytes.Buffer
		cmd := exec.Command(filepath.Join(root, "scripts", "chart-python.sh"))
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			pythonErr = fmt.Errorf("scripts/chart-python.sh: %v\n%s", err, errb.String())
			return
		}
		pythonPath = strings.TrimSpace(out.String())
	})
	if pythonErr != nil {
		t.Fatalf("the charts' code needs the images' Python packages: %v", pythonErr)
	}
	return pythonPath
}

// hub is an example of examples/, on the real charts.
func hub(t *testing.T, name string) *config.Hub {
	t.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.LoadFile(filepath.Join(root, "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := f.Hub.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("%s does not validate: %v", name, errs)
	}
	if f.Hub.Target == config.TargetAzure && f.Hub.Azure.Storage.Scratch.On() {
		// The scratch container's identity, as up gives it the hub once
		// Azure has made it.
		f.Hub.Azure.Storage.Scratch.Identity = &testIdentity
	}
	return f.Hub
}

// testIdentity is the workload identity of the Azure examples' scratch
// containers.
var testIdentity = config.WorkloadIdentity{ClientID: "5b2c0a3e-1f4d-4c6b-9e8a-7d6c5b4a3f21", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"}

// pod is a chart's rendering laid out as the hub and gateway pods see it.
type pod struct {
	// etc is what the hub pod mounts at /usr/local/etc (jupyterhub/...).
	etc string
	// run is what the pod has at /run: its service account's credentials,
	// which KubeSpawner loads (without calling the API server).
	run string
	// gatewayConfig is the gateway's dask_gateway_config.py.
	gatewayConfig string
	// env is the union of the hub's and the gateway's container
	// environment, Secret references resolved, Service variables added.
	env []string
}

// layOut renders both real charts with h's values and writes the files
// and environment their pods get.
func layOut(t *testing.T, h *config.Hub) pod {
	t.Helper()
	kubetest.IsolateHelm(t)
	dir := t.TempDir()
	p := pod{etc: filepath.Join(dir, "etc"), run: filepath.Join(dir, "run")}
	sa := filepath.Join(p.run, "secrets", "kubernetes.io", "serviceaccount")
	write(t, filepath.Join(sa, "token"), "service-account-token")
	write(t, filepath.Join(sa, "ca.crt"), selfSignedCA(t))
	write(t, filepath.Join(sa, "namespace"), h.Namespace)
	k := render.ForKubernetes(h)
	manifests := map[string]kubetest.Manifest{}
	for _, r := range k.Releases {
		chart, err := kubetest.RealChart(r.Chart.Name)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := kubetest.Render(chart, r.Name, h.Namespace, kubetest.Version, r.Values)
		if err != nil {
			t.Fatalf("render the real %s chart with dhub's values: %v", r.Chart.Name, err)
		}
		manifests[r.Chart.Name] = m
	}
	jh, dg := manifests["jupyterhub"], manifests["dask-gateway"]

	var cm corev1.ConfigMap
	var secret corev1.Secret
	mustGet(t, jh, "ConfigMap", "hub", &cm)
	mustGet(t, jh, "Secret", "hub", &secret)
	hubDir := filepath.Join(p.etc, "jupyterhub")
	for key, value := range cm.Data {
		write(t, filepath.Join(hubDir, "config", key), value)
	}
	// subPath mounts of the same ConfigMap.
	write(t, filepath.Join(hubDir, "jupyterhub_config.py"), cm.Data["jupyterhub_config.py"])
	write(t, filepath.Join(hubDir, "z2jh.py"), cm.Data["z2jh.py"])
	secrets := map[string]map[string]string{"hub": {}, render.AuthSecretName: authSecret}
	for key, value := range secret.Data {
		secrets["hub"][key] = string(value)
		write(t, filepath.Join(hubDir, "secret", key), string(value))
	}

	var gwConfig corev1.ConfigMap
	mustGet(t, dg, "ConfigMap", k.Names.GatewayAPIService(), &gwConfig)
	p.gatewayConfig = filepath.Join(dir, "gateway", "dask_gateway_config.py")
	write(t, p.gatewayConfig, gwConfig.Data["dask_gateway_config.py"])

	env := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
		"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
	for _, m := range []kubetest.Manifest{jh, dg} {
		for _, name := range m.Names("Service") {
			var svc corev1.Service
			mustGet(t, m, "Service", name, &svc)
			// As the kubelet sets them for the Services of the namespace.
			prefix := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			env[prefix+"_SERVICE_HOST"] = "10.0.0.10"
			if len(svc.Spec.Ports) > 0 {
				env[prefix+"_SERVICE_PORT"] = fmt.Sprint(svc.Spec.Ports[0].Port)
			}
		}
	}
	for _, d := range []struct {
		m    kubetest.Manifest
		name string
	}{{jh, "hub"}, {dg, k.Names.GatewayAPIService()}} {
		var dep appsv1.Deployment
		mustGet(t, d.m, "Deployment", d.name, &dep)
		for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
			switch {
			case e.ValueFrom == nil:
				env[e.Name] = e.Value
			case e.ValueFrom.SecretKeyRef != nil:
				ref := e.ValueFrom.SecretKeyRef
				v, ok := secrets[ref.Name][ref.Key]
				if !ok && (ref.Optional == nil || !*ref.Optional) {
					t.Fatalf("deployment %s: env %s from secret %s key %s, which the release does not hold", d.name, e.Name, ref.Name, ref.Key)
				}
				env[e.Name] = v
			case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
				env[e.Name] = h.Namespace
			case e.ValueFrom.FieldRef != nil:
				env[e.Name] = "field-" + e.ValueFrom.FieldRef.FieldPath
			}
		}
	}
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	sort.Strings(p.env)
	return p
}

func mustGet(t *testing.T, m kubetest.Manifest, kind, name string, into any) {
	t.Helper()
	ok, err := m.Get(kind, name, into)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("the release has no %s %s; it has %v", kind, name, m.Names(kind))
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spec is what the harness is asked.
type spec struct {
	Report        string        `json:"report"`
	GatewayConfig string        `json:"gatewayConfig"`
	Logins        []loginProbe  `json:"logins"`
	PodUser       string        `json:"podUser"`
	TokenUsers    []tokenUser   `json:"tokenUsers"`
	OptionProbes  []optionProbe `json:"optionProbes"`
}

type loginProbe struct {
	Name     string         `json:"name"`
	Password string         `json:"password,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
}

type tokenUser struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups,omitempty"`
}

type optionProbe struct {
	User    string         `json:"user"`
	Request map[string]any `json:"request"`
}

// report is what the charts' code said.
type report struct {
	Authenticator string `json:"authenticator"`
	Logins        []struct {
		Probe   loginProbe `json:"probe"`
		Allowed bool       `json:"allowed"`
		Name    string     `json:"name"`
		Admin   bool       `json:"admin"`
		Error   string     `json:"error"`
	} `json:"logins"`
	Pod      corev1.Pod       `json:"pod"`
	Services []map[string]any `json:"services"`
	Tokens   []struct {
		User    string   `json:"user"`
		Scopes  []string `json:"scopes"`
		Gateway struct {
			Accepted bool   `json:"accepted"`
			Why      string `json:"why"`
		} `json:"gateway"`
	} `json:"tokens"`
	ClusterOptions struct {
		Fields []map[string]any  `json:"fields"`
		Probes []json.RawMessage `json:"probes"`
	} `json:"clusterOptions"`
	// GatewayBackend is the gateway's backend class and its bases;
	// GatewayScopes what the gateway's hub token may do.
	GatewayBackend []string `json:"gatewayBackend"`
	GatewayScopes  []string `json:"gatewayScopes"`
}

// run executes the charts' configuration in the images' Python, with the
// hub pod's files at /usr/local/etc (a mount namespace of its own, so the
// chart's code runs unchanged) and the pods' environment.
func run(t *testing.T, p pod, s spec) *report {
	t.Helper()
	dir := t.TempDir()
	s.GatewayConfig, s.Report = p.gatewayConfig, filepath.Join(dir, "report.json")
	if s.PodUser == "" {
		s.PodUser = "alice"
	}
	specFile := filepath.Join(dir, "spec.json")
	b, _ := json.Marshal(s)
	write(t, specFile, string(b))
	root, _ := kubetest.RepoRoot()
	harness := filepath.Join(root, "test", "chartcode", "harness.py")
	cmd := exec.Command("unshare", "--mount", "--map-root-user", "sh", "-c",
		`mount --bind "$1" /usr/local/etc && mount --bind "$2" /run && shift 2 && exec "$@"`,
		"sh", p.etc, p.run, chartPython(t), harness, specFile)
	cmd.Env = p.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("the charts' code failed: %v\n%s", err, errb.String())
	}
	b, err := os.ReadFile(s.Report)
	if err != nil {
		t.Fatalf("harness report: %v\n%s\n%s", err, out.String(), errb.String())
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("harness report: %v\n%s", err, b)
	}
	return &r
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func contains(xs []string, x string) bool { return slices.Contains(xs, x) }

// selfSignedCA is a CA certificate (PEM) for the pod's service account:
// KubeSpawner builds its API client with it, and sends no request.
func selfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
