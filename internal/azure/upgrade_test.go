package azure_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/config"
	"dhub/internal/golden"
	"dhub/internal/plan"
)

// steps renders a plan's changes with their fields, one line each:
// "update node pool core orchestratorVersion 1.33.2 -> 1.35.0".
func steps(p *azure.Plan) []string {
	var out []string
	for _, c := range p.View.Changes {
		line := string(c.Action) + " " + c.Kind + " " + c.Name
		for _, f := range c.Fields {
			line += fmt.Sprintf(" %s %s -> %s", f.Field, f.From, f.To)
		}
		out = append(out, line)
	}
	return out
}

// versions renders what the fake runs: the control plane, then each pool.
func versions(t *testing.T, e *env) []string {
	t.Helper()
	mc := e.w.Cluster("pangeo", "pangeoCluster")
	out := []string{"control plane " + *mc.Properties.CurrentKubernetesVersion}
	for _, ap := range mc.Properties.AgentPoolProfiles {
		out = append(out, *ap.Name+" "+*ap.CurrentOrchestratorVersion)
	}
	return out
}

const poolsPath = "/subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster"

// upgraded deploys the recommended profile at version from, then plans
// (and returns, unapplied) its upgrade to version to.
func upgraded(t *testing.T, from, to string) (*env, *config.Hub, *azure.Plan) {
	t.Helper()
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	h.Azure.KubernetesVersion = from
	e.up(t, h)
	e.w.ResetLog()
	e.progress.Reset()
	h.Azure.KubernetesVersion = to
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return e, h, p
}

// converged wants a re-run to plan nothing and write nothing.
func converged(t *testing.T, e *env, h *config.Hub) {
	t.Helper()
	e.w.ResetLog()
	p, res := e.up(t, h)
	if p.View.HasChanges() || res.Writes() != 0 || len(e.w.Writes()) != 0 {
		t.Errorf("re-run: changes %v, writes %v", steps(p), paths(e.w.Writes()))
	}
}

func TestTwoMinorUpgradeOfRecommendedProfile(t *testing.T) {
	e, h, p := upgraded(t, "1.33", "1.35")
	equal(t, "plan", steps(p), []string{
		"no-op resource group pangeo",
		// One minor version at a time; 1.34's newest patch in the region.
		"update managed cluster pangeoCluster kubernetesVersion 1.33.2 -> 1.34.1",
		"update managed cluster pangeoCluster kubernetesVersion 1.34.1 -> 1.35.0",
		// The pools are two minor versions behind at most: each goes
		// straight to the control plane's version.
		"update node pool core orchestratorVersion 1.33.2 -> 1.35.0",
		"update node pool users orchestratorVersion 1.33.2 -> 1.35.0",
		"replace node pool workers name workers -> workers2 orchestratorVersion 1.33.2 -> 1.35.0",
	})
	if r := p.View.Changes[5].Reason; !strings.Contains(r, "AKS cannot upgrade Spot pools in place") || !strings.Contains(r, "then deletes workers once workers2 is ready") {
		t.Errorf("replace reason %q", r)
	}
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.progress)
	}
	if len(res.NotApplied) != 0 {
		t.Errorf("not applied: %+v", res.NotApplied)
	}
	equal(t, "writes", paths(e.w.Writes()), []string{
		"PUT " + poolsPath,
		"PUT " + poolsPath,
		"PUT " + poolsPath + "/agentPools/core",
		"PUT " + poolsPath + "/agentPools/users",
		"PUT " + poolsPath + "/agentPools/workers2",
		"DELETE " + poolsPath + "/agentPools/workers",
	})
	golden.Check(t, "testdata/golden/upgrade-two-minor-writes.json", writesJSON(t, e.w))
	equal(t, "versions", versions(t, e), []string{"control plane 1.35.0", "core 1.35.0", "users 1.35.0", "workers2 1.35.0"})
	if res.Writes() != 6 || res.LongRunning() != 6 {
		t.Errorf("writes %d, long-running %d; want 6 and 6", res.Writes(), res.LongRunning())
	}
	t.Logf("MEASURE two-minor upgrade of the recommended profile (1.33 -> 1.35): %d writes, %d long-running operations, after a preflight of %d GETs",
		res.Writes(), res.LongRunning(), p.PreflightGets)

	// The replacement has the Spot pool's settings, and says which pool of
	// dhub.yaml it is.
	mc := e.w.Cluster("pangeo", "pangeoCluster")
	w := mc.Properties.AgentPoolProfiles[2]
	if *w.ScaleSetPriority != armcontainerservice.ScaleSetPrioritySpot || *w.ScaleSetEvictionPolicy != armcontainerservice.ScaleSetEvictionPolicyDelete ||
		*w.SpotMaxPrice != -1 || !*w.EnableAutoScaling || *w.MinCount != 0 || *w.MaxCount != 50 || *w.Count != 1 ||
		*w.NodeLabels["k8s.dask.org/dedicated"] != "worker" || *w.Tags[azure.TagPool] != "workers" || *w.Tags[azure.TagHub] != "pangeo-hub" {
		t.Errorf("workers2 = %+v", w)
	}
	for _, want := range []string{
		"Kubernetes upgrade, step 1 of 5: managed cluster pangeoCluster 1.33.2 -> 1.34.1\n",
		"managed cluster pangeoCluster: upgrade done in",
		"Kubernetes upgrade, step 4 of 5: node pool users 1.33.2 -> 1.35.0\n",
		"Kubernetes upgrade, step 5 of 5: Spot node pool workers replaced by workers2 at 1.35.0\n",
		"node pool workers: delete done in",
	} {
		if !strings.Contains(e.progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, e.progress)
		}
	}
	converged(t, e, h)
	if n := len(e.w.Requests()); n != 4 {
		t.Errorf("converged re-run sent %d requests, want 4 (group, cluster, budget, DNS label): %v", n, paths(e.w.Requests()))
	}
}

func TestOneMinorUpgradeOfRecommendedProfile(t *testing.T) {
	e, h, p := upgraded(t, "1.33", "1.34")
	equal(t, "plan", steps(p), []string{
		"no-op resource group pangeo",
		"update managed cluster pangeoCluster kubernetesVersion 1.33.2 -> 1.34.1",
		"update node pool core orchestratorVersion 1.33.2 -> 1.34.1",
		"update node pool users orchestratorVersion 1.33.2 -> 1.34.1",
		"replace node pool workers name workers -> workers2 orchestratorVersion 1.33.2 -> 1.34.1",
	})
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.progress)
	}
	equal(t, "versions", versions(t, e), []string{"control plane 1.34.1", "core 1.34.1", "users 1.34.1", "workers2 1.34.1"})
	if res.Writes() != 5 || res.LongRunning() != 5 {
		t.Errorf("writes %d, long-running %d; want 5 and 5", res.Writes(), res.LongRunning())
	}
	t.Logf("MEASURE one-minor upgrade of the recommended profile (1.33 -> 1.34): %d writes, %d long-running operations", res.Writes(), res.LongRunning())
	converged(t, e, h)

	// The next upgrade replaces workers2 by a pool named as in dhub.yaml.
	h.Azure.KubernetesVersion = "1.35"
	e.w.ResetLog()
	p, _ = e.up(t, h)
	if c := p.View.Changes[len(p.View.Changes)-1]; c.Name != "workers2" || c.Fields[0].To != "workers" {
		t.Errorf("second replace = %+v", c)
	}
	equal(t, "versions", versions(t, e), []string{"control plane 1.35.0", "core 1.35.0", "users 1.35.0", "workers 1.35.0"})
	converged(t, e, h)
}

func TestThreeMinorUpgradeInterleavesPools(t *testing.T) {
	e, h, p := upgraded(t, "1.32", "1.35")
	// 1.35 would lead pools at 1.32 by three minor versions, which AKS
	// refuses: the pools go to 1.34 first.
	equal(t, "plan", steps(p), []string{
		"no-op resource group pangeo",
		"update managed cluster pangeoCluster kubernetesVersion 1.32.6 -> 1.33.2",
		"update managed cluster pangeoCluster kubernetesVersion 1.33.2 -> 1.34.1",
		"update node pool core orchestratorVersion 1.32.6 -> 1.34.1",
		"update node pool users orchestratorVersion 1.32.6 -> 1.34.1",
		"replace node pool workers name workers -> workers2 orchestratorVersion 1.32.6 -> 1.34.1",
		"update managed cluster pangeoCluster kubernetesVersion 1.34.1 -> 1.35.0",
		"update node pool core orchestratorVersion 1.34.1 -> 1.35.0",
		"update node pool users orchestratorVersion 1.34.1 -> 1.35.0",
		"replace node pool workers2 name workers2 -> workers orchestratorVersion 1.34.1 -> 1.35.0",
	})
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.progress)
	}
	var writes []string
	for _, w := range paths(e.w.Writes()) {
		writes = append(writes, strings.Replace(w, poolsPath, "", 1))
	}
	equal(t, "writes", writes, []string{
		"PUT ", "PUT ",
		"PUT /agentPools/core", "PUT /agentPools/users", "PUT /agentPools/workers2", "DELETE /agentPools/workers",
		"PUT ",
		"PUT /agentPools/core", "PUT /agentPools/users", "PUT /agentPools/workers", "DELETE /agentPools/workers2",
	})
	equal(t, "versions", versions(t, e), []string{"control plane 1.35.0", "core 1.35.0", "users 1.35.0", "workers 1.35.0"})
	t.Logf("MEASURE three-minor upgrade of the recommended profile (1.32 -> 1.35): %d writes, %d long-running operations", res.Writes(), res.LongRunning())
	converged(t, e, h)
}

func TestDowngradeIsRefusedAtPlanTime(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	h.Azure.KubernetesVersion = "1.34"
	e.up(t, h)
	e.w.ResetLog()
	for _, v := range []string{"1.33", "1.34.0", "1.32.6"} {
		h.Azure.KubernetesVersion = v
		pe := planFails(t, e, h, "managed cluster pangeoCluster: it runs Kubernetes 1.34.1 and azure.kubernetesVersion asks for "+v,
			"AKS cannot downgrade a cluster", "set azure.kubernetesVersion to 1.34 or later")
		if len(pe.Problems) != 1 {
			t.Errorf("%s: %d problems: %v", v, len(pe.Problems), pe)
		}
	}
}

func TestUpgradeFailedMidwayThenRerunFinishes(t *testing.T) {
	e, h, p := upgraded(t, "1.33", "1.35")
	// A restrictive PodDisruptionBudget stops the drain of a users node.
	e.w.FailLRO("/agentPools/users", "UpgradeFailed", "Drain node aks-users-12345678-vmss000000 failed when evicting pod jupyter-alice failed with Too Many Requests error. This is often caused by a restrictive Pod Disruption Budget (PDB) policy. See http://aka.ms/aks/debugdrainfailures. Original error: Cannot evict pod as it would violate the pod's disruption budget.")
	res, err := e.c.Apply(context.Background(), p)
	if err == nil {
		t.Fatal("apply succeeded")
	}
	for _, want := range []string{
		"node pool users: the operation failed in Azure with UpgradeFailed: Drain node aks-users-12345678-vmss000000 failed when evicting pod jupyter-alice failed with Too Many Requests error.",
		"\n  stopped at: upgrade node pool users to 1.35.0\n",
		"\n  done before it: upgrade managed cluster pangeoCluster to 1.34.1; upgrade managed cluster pangeoCluster to 1.35.0; upgrade node pool core to 1.35.0\n",
		"\n  not done: create node pool workers2 at 1.35.0 to replace Spot pool workers; delete node pool workers\n",
		"'dhub up' again plans from what Azure has then and goes on from there",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if res.Writes() != 3 || len(e.w.Writes()) != 4 {
		t.Errorf("writes done %d, sent %v", res.Writes(), paths(e.w.Writes()))
	}

	// The re-run plans from what Azure has: the control plane and core are
	// done; users is repaired and workers replaced.
	e.w.ResetLog()
	p, res = e.up(t, h)
	equal(t, "re-run plan", actions(p), []string{
		"no-op resource group pangeo", "no-op managed cluster pangeoCluster", "replace node pool workers",
		"no-op node pool core", "update node pool users",
	})
	equal(t, "versions", versions(t, e), []string{"control plane 1.35.0", "core 1.35.0", "users 1.35.0", "workers2 1.35.0"})
	if res.Writes() != 3 {
		t.Errorf("re-run writes %v", paths(e.w.Writes()))
	}
	converged(t, e, h)
}

func TestReplacementInterruptedBeforeTheDeleteIsFinishedByTheRerun(t *testing.T) {
	e, h, p := upgraded(t, "1.33", "1.34")
	ctx, cancel := context.WithCancel(context.Background())
	e.w.OnRequest = func(r azurefake.Request) {
		if r.Method == "PUT" && strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "/agentPools/workers2") {
			cancel() // the process dies once Azure accepted the replacement
		}
	}
	_, err := e.c.Apply(ctx, p)
	if !errors.Is(err, azure.ErrInterrupted) || !strings.Contains(err.Error(), "not done: delete node pool workers") {
		t.Fatalf("apply err = %v", err)
	}
	e.w.OnRequest = nil
	e.w.ResetLog()
	p, _ = e.up(t, h)
	last := p.View.Changes[len(p.View.Changes)-1]
	if last.Action != plan.Delete || last.Name != "workers" || !strings.Contains(last.Reason, "left by the replacement of Spot pool workers") {
		t.Errorf("re-run's last change = %+v", last)
	}
	equal(t, "re-run writes", paths(e.w.Writes()), []string{"DELETE " + poolsPath + "/agentPools/workers"})
	equal(t, "versions", versions(t, e), []string{"control plane 1.34.1", "core 1.34.1", "users 1.34.1", "workers2 1.34.1"})
	converged(t, e, h)
}

func TestPoolsLeftBehindByAControlPlaneOnlyUpgradeCatchUp(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	h.Azure.KubernetesVersion = "1.33"
	e.up(t, h)
	// Upgraded as dhub did before: the control plane only.
	e.w.EditCluster("pangeo", "pangeoCluster", func(mc *armcontainerservice.ManagedCluster) {
		mc.Properties.KubernetesVersion, mc.Properties.CurrentKubernetesVersion = ptr("1.34"), ptr("1.34.1")
	})
	h.Azure.KubernetesVersion = "1.34"
	e.w.ResetLog()
	p, res := e.up(t, h)
	equal(t, "plan", steps(p), []string{
		"no-op resource group pangeo",
		"no-op managed cluster pangeoCluster",
		"update node pool core orchestratorVersion 1.33.2 -> 1.34.1",
		"update node pool users orchestratorVersion 1.33.2 -> 1.34.1",
		"replace node pool workers name workers -> workers2 orchestratorVersion 1.33.2 -> 1.34.1",
	})
	if res.Writes() != 4 {
		t.Errorf("writes %v", paths(e.w.Writes()))
	}
	equal(t, "versions", versions(t, e), []string{"control plane 1.34.1", "core 1.34.1", "users 1.34.1", "workers2 1.34.1"})
	converged(t, e, h)
}
