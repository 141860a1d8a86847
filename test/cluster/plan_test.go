package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/deploy"
)

// applyPlan plans h on its target, applies that plan, and checks the
// promise of 'dhub plan': what changed is exactly what the plan listed
// (state is a reading of everything a plan may change, taken before and
// after), and a new plan then has nothing left to do.
func applyPlan(t *testing.T, h *config.Hub, o deploy.Options, state func() map[string]string, want ...string) *deploy.UpResult {
	t.Helper()
	ctx := context.Background()
	target, err := deploy.New(h, o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := target.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if got := changes(p.View); !slices.Equal(got, want) {
		t.Fatalf("plan lists %q, want %q", got, want)
	}
	before := state()
	res, err := p.Apply(ctx)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := moved(before, state()); !slices.Equal(got, changes(p.View)) {
		t.Errorf("up changed %q; its plan listed %q", got, changes(p.View))
	}
	if res.Changed != p.View.HasChanges() {
		t.Errorf("up says changed=%v; its plan has changes=%v", res.Changed, p.View.HasChanges())
	}
	again, err := target.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(again.View); len(got) > 0 {
		var b bytes.Buffer
		again.View.WriteText(&b)
		t.Errorf("after up, plan still lists %q:\n%s", got, b.String())
	}
	return res
}

func TestKubernetesUpDoesWhatThePlanSays(t *testing.T) {
	t.Parallel()
	const ns = "plan-kube"
	file, password := kubeHub(t, ns)
	o := options(t, ns, nil)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.40")
	t.Cleanup(func() {
		if code, _, stderr := run(t, o, "down", "-f", file, "--yes", "--delete-data"); code != 0 {
			t.Errorf("down: %s", stderr)
		}
	})
	state := func() map[string]string { return kubeState(t, ns) }
	ctx := context.Background()

	h := loadHub(t, file)
	if _, err := cluster.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		t.Fatalf("namespace %s exists before the test", ns)
	}
	res := applyPlan(t, h, o, state, "namespace "+ns, "secret dhub-auth", "helm release "+ns+"-jupyterhub", "helm release "+ns+"-dask-gateway")
	if res.URL != "http://192.0.2.40/" {
		t.Errorf("URL %q", res.URL)
	}

	// Nothing changed: nothing is written.
	applyPlan(t, h, o, state)

	// One release's values.
	h.JupyterHub.Image = "pangeo/pangeo-notebook:2025.09.01"
	applyPlan(t, h, o, state, "helm release "+ns+"-jupyterhub")

	// A referenced secret: the Secret is updated and the hub restarted to
	// read it; the releases stay.
	if err := os.WriteFile(password, []byte(strings.Repeat("b", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	applyPlan(t, h, o, state, "secret dhub-auth")
	d, err := cluster.Client().AppsV1().Deployments(ns).Get(ctx, "hub", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Template.Annotations["dhub.io/restartedAt"] == "" {
		t.Error("the hub was not restarted to read the changed secret")
	}
	s, _ := cluster.Client().CoreV1().Secrets(ns).Get(ctx, "dhub-auth", metav1.GetOptions{})
	if string(s.Data["admin-password"]) != strings.Repeat("b", 40) {
		t.Error("the Secret does not hold the new admin password")
	}
}

func TestAzureUpDoesWhatThePlanSays(t *testing.T) {
	t.Parallel()
	const ns = "plan-azure"
	w, o := fakeAzure(t, ns, "192.0.2.72")
	file := azureHub(t, ns)
	t.Cleanup(func() {
		if code, _, stderr := run(t, o, "down", "-f", file, "--yes"); code != 0 {
			t.Errorf("down: %s", stderr)
		}
		cleanNamespace(t, ns)
	})
	// Azure's resources are read from the fake's state, the hub's from
	// the cluster.
	state := func() map[string]string {
		st := kubeState(t, ns)
		for k, v := range w.Versions() {
			st[k] = v
		}
		return st
	}
	h := loadHub(t, file)
	applyPlan(t, h, o, state, "resource group pangeo", "managed cluster pangeoCluster", "node pool core", "node pool users", "node pool workers",
		"storage account "+h.Azure.Storage.Scratch.AccountName, "blob container scratch", "lifecycle rule dhubScratchRetention",
		"managed identity dhub-pangeo-hub-storage", "federated credential dhub-storage", "role assignment Storage Blob Data Contributor on container scratch",
		"namespace "+ns, "secret dhub-auth", "service account dhub-storage", "helm release "+ns+"-jupyterhub", "helm release "+ns+"-dask-gateway")

	w.ResetLog()
	applyPlan(t, h, o, state)
	if len(w.Writes()) != 0 {
		t.Errorf("an up with nothing to do wrote to Azure: %v", w.Writes())
	}

	// One pool's bounds: one agent pool request, nothing else.
	for i := range h.Azure.NodePools {
		if h.Azure.NodePools[i].Name == "workers" {
			h.Azure.NodePools[i].Autoscale.Max = 20
		}
	}
	w.ResetLog()
	applyPlan(t, h, o, state, "node pool workers")
	for _, wr := range w.Writes() {
		if !strings.Contains(wr.Path, "/agentPools/workers?") {
			t.Errorf("changing the workers pool wrote %s %s", wr.Method, wr.Path)
		}
	}
}

// TestGeneratedAdminPasswordShownOnce: with no adminPassword reference
// (the simple profile's default), the first up generates the admin's
// password and hands it to the person running it once, never in the
// result's text or JSON; later ups keep it and hand nothing.
func TestGeneratedAdminPasswordShownOnce(t *testing.T) {
	t.Parallel()
	const ns = "generated-password"
	file, _ := kubeHub(t, ns)
	o := options(t, ns, nil)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.41")
	t.Cleanup(func() {
		if code, _, stderr := run(t, o, "down", "-f", file, "--yes", "--delete-data"); code != 0 {
			t.Errorf("down: %s", stderr)
		}
	})
	h := loadHub(t, file)
	h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{}
	state := func() map[string]string { return kubeState(t, ns) }

	res := applyPlan(t, h, o, state, "namespace "+ns, "secret dhub-auth", "helm release "+ns+"-jupyterhub", "helm release "+ns+"-dask-gateway")
	pw, kept := res.NewPassword()
	s, err := cluster.Client().CoreV1().Secrets(ns).Get(context.Background(), "dhub-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pw == "" || pw != string(s.Data["admin-password"]) || len(pw) < 32 {
		t.Errorf("the first up hands %d characters, the Secret holds %d; want the same password of 32 or more", len(pw), len(s.Data["admin-password"]))
	}
	if kept != "kept in secret "+ns+"/dhub-auth" {
		t.Errorf("kept %q", kept)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	if pw != "" && (strings.Contains(text.String(), pw) || strings.Contains(string(js), pw)) {
		t.Error("the result's text or JSON shows the password")
	}
	if want := "log in as: admin; password: kubectl -n " + ns + " get secret dhub-auth -o jsonpath='{.data.admin-password}' | base64 -d"; !strings.Contains(text.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, text.String())
	}

	if pw, _ := applyPlan(t, h, o, state).NewPassword(); pw != "" {
		t.Error("a second up hands the password again")
	}
}
