package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
)

// Chart returns the absolute path of a test chart in
// internal/kube/testdata/charts: "jupyterhub" (a stand-in for the JupyterHub
// chart) or "dask-gateway" (for the Dask Gateway chart), each of the version
// dhub installs (charts.JupyterHub, charts.DaskGateway). Their
// values.yaml files document the keys they read and how to make an install
// or upgrade fail on purpose.
func Chart(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "internal", "kube", "testdata", "charts", name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return "", fmt.Errorf("kubetest: no test chart %q: %w", name, err)
	}
	return dir, nil
}

// FailUpgradeValues returns values for the test jupyterhub chart that make an
// install or upgrade with them fail the way a broken upgrade fails on a real
// cluster: the chart's pre-install/pre-upgrade hook Job hook-image-awaiter
// gets a node selector no node has and a 3 s deadline, the Job controller
// marks it Failed (DeadlineExceeded) and Helm fails the release with
// "pre-upgrade hooks failed" about 4-5 s into the upgrade, before any of the
// chart's other objects changed. The key (custom.dhubTest.failHook) lives
// under custom, which the real chart's schema leaves free-form, so the values
// also pass dhub's validation against that schema.
func FailUpgradeValues() map[string]any {
	return map[string]any{"custom": map[string]any{"dhubTest": map[string]any{"failHook": true}}}
}

// FailApplyValues returns values for the test jupyterhub chart that make an
// install or upgrade fail at once while Helm applies the chart's objects,
// after the hooks ran: the chart then renders a ConfigMap whose name the API
// server rejects (422 Invalid, "dhub-test_FAIL-APPLY").
func FailApplyValues() map[string]any {
	return map[string]any{"custom": map[string]any{"dhubTest": map[string]any{"failApply": true}}}
}
