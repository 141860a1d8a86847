package deploy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"dhub/internal/azure"
	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/local"
)

func TestNewRefusesAnUnknownOrMissingTarget(t *testing.T) {
	t.Parallel()
	for target, want := range map[config.Target]string{
		"":    "no target: set target in dhub.yaml (local, kubernetes or azure) or pass --target",
		"gcp": `target "gcp" is not one of local, kubernetes, azure`,
	} {
		h := &config.Hub{Name: "lab", Target: target}
		if tgt, err := New(h, Options{}); err == nil || err.Error() != want {
			t.Errorf("New(target %q) = %v, %v; want the error %q", target, tgt, err, want)
		}
	}
}

func TestOnlyAzureHasAKubeconfig(t *testing.T) {
	t.Parallel()
	for _, target := range []config.Target{config.TargetLocal, config.TargetKubernetes} {
		h := &config.Hub{Name: "lab", Target: target}
		h.SetDefaults()
		tgt, err := New(h, Options{})
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if _, err := tgt.Kubeconfig(context.Background()); !errors.Is(err, ErrNoKubeconfig) {
			t.Errorf("%s: Kubeconfig error %v, want ErrNoKubeconfig", target, err)
		}
	}
}

func TestUpResultText(t *testing.T) {
	t.Parallel()
	r := &UpResult{URL: "http://127.0.0.1:8000/", Changed: true, Seconds: 12.34,
		before:  []string{"Azure matches dhub.yaml."},
		details: [][2]string{{"log in as", "admin, password in /s/admin-password"}, {"logs", "/s/logs"}}}
	r.AddDetail("check it", "dhub smoke --target local")
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `Azure matches dhub.yaml.
DaskHub is up at http://127.0.0.1:8000/ (12.3s)
  log in as: admin, password in /s/admin-password
  logs:      /s/logs
  check it:  dhub smoke --target local
`
	if b.String() != want {
		t.Errorf("text =\n%s\nwant\n%s", b.String(), want)
	}
	r.Changed = false
	b.Reset()
	r.WriteText(&b)
	if !strings.Contains(b.String(), "DaskHub already up at http://127.0.0.1:8000/ (no change)") {
		t.Errorf("unchanged: %s", b.String())
	}
}

func TestStatusTextOfALocalHub(t *testing.T) {
	t.Parallel()
	st := &Status{Hub: "lab", Target: "local", Local: &local.Status{
		URL: "http://127.0.0.1:8000/", StateDir: "/s",
		Components: []local.Component{{Name: "jupyterhub", Running: true, Pid: 42, Version: "5.5.0"}, {Name: "dask-gateway", Detail: "not running"}},
		Clusters:   []string{"a", "b"},
	}}
	var b bytes.Buffer
	if err := st.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jupyterhub    up     42   5.5.0", "dask-gateway  down   -    -        not running", "dask clusters: 2 a b"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatusTextOfAKubernetesHubMissingItsWorkerNode: the pools and the
// Dask pods that wait are in the text an admin reads.
func TestStatusTextOfAKubernetesHubMissingItsWorkerNode(t *testing.T) {
	t.Parallel()
	st := &Status{Hub: "lab", Target: "kubernetes", Kubernetes: &kube.Status{
		Namespace: "lab", GatewayAPI: "answering", Up: true,
		DaskClusters: []string{"c1"},
		DaskPods:     []string{"dask-worker pod dask-worker-c1-x of cluster c1 cannot be scheduled: 0/2 nodes are available"},
		Pools: []kube.PoolStatus{
			{Role: "core", Selector: "hub.jupyter.org/node-purpose=core", Ready: []string{"core-0"}},
			{Role: "user", Selector: "hub.jupyter.org/node-purpose=user", Ready: []string{"user-0"}, NotReady: []string{"user-1"}},
			{Role: "worker", Selector: "k8s.dask.org/dedicated=worker"},
		},
	}}
	var b bytes.Buffer
	if err := st.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dask clusters: 1 c1\n  dask-worker pod dask-worker-c1-x of cluster c1 cannot be scheduled: 0/2 nodes are available\n",
		"core nodes:    core-0\n",
		"user nodes:    user-0; NOT READY: user-1\n",
		"worker nodes:  none labelled k8s.dask.org/dedicated=worker: its pods wait for one\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatusTextOfAnAzureBudget: the month's spend against the budget, or
// why it cannot be shown.
func TestStatusTextOfAnAzureBudget(t *testing.T) {
	t.Parallel()
	spent, forecast := 312.5, 841.0
	for _, tc := range []struct {
		budget *azure.BudgetStatus
		want   string
	}{
		{&azure.BudgetStatus{Name: "dhub-lab", Amount: 900, Spent: &spent, Forecast: &forecast, Unit: "EUR", Notifications: "actual 80%, 100%; forecast 100%; to ops@example.org"},
			"budget dhub-lab: 900 EUR a month; this month 312.50 EUR spent (35%), 841.00 EUR forecast for the month; mails at actual 80%, 100%; forecast 100%; to ops@example.org\n"},
		{&azure.BudgetStatus{Name: "dhub-lab", Amount: 900, Unit: "USD", Notifications: "actual 100%; forecast none; to ops@example.org"},
			"budget dhub-lab: 900 USD a month; this month not reported by Azure yet; mails at actual 100%; forecast none; to ops@example.org\n"},
		{&azure.BudgetStatus{Name: "dhub-lab", Problem: "does not exist: 'dhub up' creates it"}, "budget dhub-lab: does not exist: 'dhub up' creates it\n"},
	} {
		st := &Status{Hub: "lab", Target: "azure", Azure: &azure.Status{ResourceGroup: "rg", Cluster: "c", Budget: tc.budget}}
		var b bytes.Buffer
		if err := st.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("status text lacks %q:\n%s", tc.want, b.String())
		}
	}
}
