package kubetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	release "helm.sh/helm/v4/pkg/release/v1"
	"sigs.k8s.io/yaml"

	"dhub/internal/charts"

	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// RealChart returns the path of a real chart as dhub installs it, from the
// project's shared chart data (../shared/charts from the project root, or
// shared/charts in a directory further up): "jupyterhub" or
// "dask-gateway", at the version dhub installs (charts.JupyterHub,
// charts.DaskGateway).
func RealChart(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var file string
	for _, c := range []charts.Chart{charts.JupyterHub, charts.DaskGateway} {
		if c.Name == name {
			file = c.Name + "-" + c.Version + ".tgz"
		}
	}
	if file == "" {
		return "", fmt.Errorf("kubetest: no real chart %q", name)
	}
	// A clone kept deeper than the project's own (a worktree in a
	// directory of clones) finds shared/ further up.
	var first error
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		path := filepath.Join(dir, "shared", "charts", file)
		_, err := os.Stat(path)
		if err == nil {
			return path, nil
		}
		if first == nil {
			first = err
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("kubetest: the real chart %s: %w", name, first)
		}
	}
}

// Manifest is a rendered release: each object's YAML by kind and name,
// hooks included.
type Manifest map[string]map[string][]byte

// Get decodes the object kind/name into into (when not nil) and reports
// whether the release has it.
func (m Manifest) Get(kind, name string, into any) (bool, error) {
	doc, ok := m[kind][name]
	if !ok {
		return false, nil
	}
	if into != nil {
		if err := yaml.Unmarshal(doc, into); err != nil {
			return true, fmt.Errorf("%s %s: %w", kind, name, err)
		}
	}
	return true, nil
}

// Names lists the names of the objects of a kind, sorted.
func (m Manifest) Names(kind string) []string {
	var names []string
	for n := range m[kind] {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Render renders the chart at path (a directory or a .tgz) as `helm
// template` would (a client-side dry-run install, CRDs included) for a
// control plane of version kubeVersion (Version for kubetest's own). Point
// Helm's homes away from $HOME first (IsolateHelm, or Main).
func Render(path, releaseName, namespace, kubeVersion string, values map[string]any) (Manifest, *release.Release, error) {
	chart, err := loader.Load(path)
	if err != nil {
		return nil, nil, err
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = releaseName
	install.Namespace = namespace
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, nil, err
	}
	install.KubeVersion = kv
	r, err := install.Run(chart, values)
	if err != nil {
		return nil, nil, err
	}
	rel := r.(*release.Release)
	docs := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		docs = append(docs, h.Manifest)
	}
	m, err := parseManifest(docs...)
	return m, rel, err
}

func parseManifest(docs ...string) (Manifest, error) {
	m := Manifest{}
	for _, text := range docs {
		for _, doc := range strings.Split(text, "\n---") {
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("%w\n%s", err, doc)
			}
			if head.Kind == "" {
				continue
			}
			if m[head.Kind] == nil {
				m[head.Kind] = map[string][]byte{}
			}
			if _, dup := m[head.Kind][head.Metadata.Name]; dup {
				return nil, fmt.Errorf("%s %s rendered twice", head.Kind, head.Metadata.Name)
			}
			m[head.Kind][head.Metadata.Name] = []byte(doc)
		}
	}
	return m, nil
}

// ChartRepository serves the real charts (RealChart) as a Helm chart
// repository on loopback (index.yaml and the .tgz files), as a user's dhub
// downloads them, until the test ends, and returns its URL.
func ChartRepository(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"jupyterhub", "dask-gateway"} {
		src, err := RealChart(name)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	index, err := repo.IndexDirectory(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}
