package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"

	"dhub/internal/plan"
	"dhub/internal/render"
)

// deployed returns the latest revision of a release, or nil when it was
// never installed (or was uninstalled).
func deployed(cfg *action.Configuration, name string) (*releasev1.Release, error) {
	r, err := action.NewGet(cfg).Run(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", name, err)
	}
	rel, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("release %s: unexpected release type %T", name, r)
	}
	return rel, nil
}

// releases returns Helm's configuration for the client's namespace and the
// release names of the hub there: the legacy ones when a hub installed
// under them is there (it is upgraded in place, keeping its users'
// volumes), else a new hub's, unique on the cluster.
func (c *Client) releases() (*action.Configuration, render.ReleaseNames, error) {
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, render.ReleaseNames{}, err
	}
	for _, name := range []string{render.LegacyReleaseNames.JupyterHub, render.LegacyReleaseNames.DaskGateway} {
		rel, err := deployed(cfg, name)
		if err != nil {
			return nil, render.ReleaseNames{}, c.apiError("read release "+name, err)
		}
		if rel != nil {
			return cfg, render.LegacyReleaseNames, nil
		}
	}
	return cfg, render.ReleaseNamesFor(c.namespace), nil
}

// releaseChange compares a rendered release with the deployed one.
func releaseChange(want render.Release, have *releasev1.Release) plan.Change {
	c := plan.Change{Kind: "helm release", Name: want.Name}
	switch {
	case have == nil:
		c.Action, c.Reason = plan.Create, fmt.Sprintf("not installed: install chart %s %s", want.Chart.Name, want.Chart.Version)
		return c
	case have.Info == nil || have.Info.Status != common.StatusDeployed:
		status := common.StatusUnknown
		if have.Info != nil {
			status = have.Info.Status
		}
		c.Action, c.Reason = plan.Update, fmt.Sprintf("revision %d is %s: upgrade it", have.Version, status)
	}
	if v := have.Chart.Metadata.Version; v != want.Chart.Version {
		c.Fields = append(c.Fields, plan.FieldChange{Field: "chart version", From: v, To: want.Chart.Version})
	}
	if diff := valuesDiff(have.Config, want.Values); diff != "" {
		c.Fields = append(c.Fields, plan.FieldChange{Field: "values", From: fmt.Sprintf("revision %d", have.Version), To: "dhub.yaml"})
		c.Detail = diff
	}
	switch {
	case c.Action != "":
	case len(c.Fields) > 0:
		c.Action, c.Reason = plan.Update, fmt.Sprintf("upgrade revision %d", have.Version)
	default:
		c.Action, c.Reason = plan.NoOp, fmt.Sprintf("revision %d has this chart and these values", have.Version)
	}
	return c
}

// sameValues compares values as JSON sees them, so YAML's int/float and
// map types don't make equal values differ.
func sameValues(a, b map[string]any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

func normalize(v map[string]any) any {
	if len(v) == 0 {
		return map[string]any{}
	}
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// valuesDiff is a line diff of the two values as YAML ("" when equal).
// dhub's values hold no secrets (they live in the dhub-auth Secret), so the
// diff can be shown as it is.
func valuesDiff(have, want map[string]any) string {
	if sameValues(have, want) {
		return ""
	}
	return lineDiff(toYAML(normalize(have)), toYAML(normalize(want)))
}

func toYAML(v any) []string {
	b, _ := yaml.Marshal(v)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// lineDiff returns the changed lines of a and b, "-" for removed and "+" for
// added, each with the nearest preceding unchanged key line for context.
func lineDiff(a, b []string) string {
	// Longest common subsequence table.
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	context := ""
	flush := func() {
		if context != "" {
			out = append(out, "  "+context)
			context = ""
		}
	}
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && a[i] == b[j]:
			context = a[i]
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			flush()
			out = append(out, "+ "+b[j])
			j++
		default:
			flush()
			out = append(out, "- "+a[i])
			i++
		}
	}
	return strings.Join(out, "\n")
}

// loadChart loads a release's chart: from its local path, or from its
// repository at the pinned version, downloaded into dhub's cache.
func (c *Client) loadChart(r render.Release) (*chartv2.Chart, error) {
	path := r.Path
	if path == "" {
		path = c.keptChart(r)
	}
	if path == "" {
		cache, err := c.cacheDir()
		if err != nil {
			return nil, err
		}
		settings := cli.New()
		settings.RepositoryCache = filepath.Join(cache, "repository")
		settings.RepositoryConfig = filepath.Join(cache, "repositories.yaml")
		settings.RegistryConfig = filepath.Join(cache, "registry.json")
		settings.ContentCache = filepath.Join(cache, "content")
		settings.PluginsDirectory = filepath.Join(cache, "plugins")
		if err := os.MkdirAll(settings.RepositoryCache, 0o755); err != nil {
			return nil, err
		}
		opts := action.ChartPathOptions{RepoURL: r.Chart.Repository, Version: r.Chart.Version}
		p, err := opts.LocateChart(r.Chart.Name, settings)
		if err != nil {
			return nil, fmt.Errorf("get chart %s %s from %s: %w (an air-gapped site sets charts.*.path)", r.Chart.Name, r.Chart.Version, r.Chart.Repository, err)
		}
		path = c.keepChart(r, p)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", path, err)
	}
	chart, ok := ch.(*chartv2.Chart)
	if !ok {
		return nil, fmt.Errorf("chart %s: unsupported chart API version", path)
	}
	if chart.Metadata.Name != r.Chart.Name || chart.Metadata.Version != r.Chart.Version {
		return nil, fmt.Errorf("chart %s is %s %s, but dhub.yaml pins %s %s", path,
			chart.Metadata.Name, chart.Metadata.Version, r.Chart.Name, r.Chart.Version)
	}
	return chart, nil
}
