package azure_test

import (
	"context"
	"strings"
	"testing"
)

// TestPlanWarnsWhenTheMostRisesByAQuarter: doubling the worker pool's
// maximum on a running hub is a warning that names the pool, its new
// maximum and the field that sets it; a small rise is not.
func TestPlanWarnsWhenTheMostRisesByAQuarter(t *testing.T) {
	e, _, _ := costEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	h.Azure.NodePools[2].Autoscale.Max = 55
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.View.Warnings {
		if strings.Contains(w, "raises the most") {
			t.Errorf("a rise of 3%% warns: %s", w)
		}
	}
	h.Azure.NodePools[2].Autoscale.Max = 100
	p, err = e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want := "this plan raises the most the hub can cost a month from 1788.80 to 2628.30 USD (+47%): node pool workers 839.50 -> 1679.00 (50 -> 100 at most, azure.nodePools[2].autoscale.max = 100)"
	if w := strings.Join(p.View.Warnings, "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
}

// TestPlanSaysWhichBoundDaskWorkersMeetFirst: no dask.limits, or limits
// that keep a cluster within the worker pool, are a bound of the cost;
// limits beyond it are a warning that the pool's maximum applies first.
func TestPlanSaysWhichBoundDaskWorkersMeetFirst(t *testing.T) {
	e, _, _ := costEnv(t)
	h := hub(t, "azure-recommended.yaml")
	c := costOf(t, e, h)
	want := "dask.limits caps no Dask cluster: one user's cluster can ask for workers on all 50 nodes of node pool workers, so its azure.nodePools[2].autoscale.max (50) is the bound that applies"
	if b := strings.Join(c.Bounds, "\n"); !strings.Contains(b, want) {
		t.Errorf("cost bounds lack %q:\n%s", want, b)
	}

	h.Dask.Limits.MaxWorkers = 20
	c = costOf(t, e, h)
	want = "dask.limits (maxWorkers 20) let one cluster run 20 workers of 1 core and 1 GiB, on 20 nodes of node pool workers (its azure.nodePools[2].autoscale.max is 50): the limits apply first to each cluster"
	if b := strings.Join(c.Bounds, "\n"); !strings.Contains(b, want) {
		t.Errorf("cost bounds lack %q:\n%s", want, b)
	}

	h.Dask.Limits.MaxWorkers, h.Dask.Limits.MaxCores = 200, 80
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	want = "dask.limits (maxCores 80, maxWorkers 200) let one cluster run 80 workers of 1 core and 1 GiB, on 80 nodes of node pool workers, more than its azure.nodePools[2].autoscale.max (50): the pool's maximum applies first, and workers past it stay Pending"
	if w := strings.Join(p.View.Warnings, "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
	if len(p.View.Cost.Bounds) != 0 {
		t.Errorf("the warning is in the cost's bounds too: %v", p.View.Cost.Bounds)
	}
}
