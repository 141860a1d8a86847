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

// actions renders a plan's changes as "action kind name" lines.
func actions(p *azure.Plan) []string {
	var out []string
	for _, c := range p.View.Changes {
		out = append(out, string(c.Action)+" "+c.Kind+" "+c.Name)
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestFreshRecommendedIsOneRequestForClusterAndPools(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	p, res := e.up(t, h)
	equal(t, "plan", actions(p), []string{
		"create resource group pangeo", "create managed cluster pangeoCluster",
		"create node pool core", "create node pool users", "create node pool workers",
	})
	// Reads first (GETs only), then one synchronous PUT of the group and
	// one long-running PUT of the cluster with all three pools in it.
	equal(t, "requests", paths(withoutPreflight(e.w.Requests()))[:5], []string{
		"GET /subscriptions/" + sub + "/resourcegroups/pangeo",
		// Whether the hub has a budget that dhub.yaml no longer asks for.
		"GET /subscriptions/" + sub + "/providers/Microsoft.Consumption/budgets/dhub-pangeo-hub",
		"PUT /subscriptions/" + sub + "/resourcegroups/pangeo",
		"PUT /subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster",
		"GET /subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster/get/fake/status",
	})
	if res.LongRunning() != 1 || res.Writes() != 2 {
		t.Errorf("long-running operations %d, writes %d; want 1 and 2", res.LongRunning(), res.Writes())
	}
	t.Logf("MEASURE fresh recommended deploy: %d long-running operation(s) on the critical path (the guide: 3 in a row: az aks create, 2 x az aks nodepool add); %d writes",
		res.LongRunning(), res.Writes())
	golden.Check(t, "testdata/golden/fresh-recommended-writes.json", writesJSON(t, e.w))

	mc := e.w.Cluster("pangeo", "pangeoCluster")
	if len(mc.Properties.AgentPoolProfiles) != 3 {
		t.Fatalf("cluster has %d pools, want 3", len(mc.Properties.AgentPoolProfiles))
	}
	for _, want := range []string{"managed cluster pangeoCluster: create accepted by Azure", "managed cluster pangeoCluster: create done in"} {
		if !strings.Contains(e.progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, e.progress)
		}
	}
}

const sub = "00000000-0000-0000-0000-00000000ab12"

func TestSimpleProfileMapsToOneSystemPoolWithAutoscale(t *testing.T) {
	e := newEnv(t)
	e.up(t, hub(t, "azure-simple.yaml"))
	golden.Check(t, "testdata/golden/fresh-simple-writes.json", writesJSON(t, e.w))
}

func TestCustomPoolsMapLabelsTaintsSpotPriceVersionAndCilium(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-custom-pools.yaml")
	h.Azure.Subscription = ""
	e.up(t, h)
	golden.Check(t, "testdata/golden/fresh-custom-pools-writes.json", writesJSON(t, e.w))
	mc := e.w.Cluster("pangeo-custom", "pangeoCustom")
	np := mc.Properties.NetworkProfile
	if *np.NetworkPolicy != armcontainerservice.NetworkPolicyCilium || *np.NetworkDataplane != armcontainerservice.NetworkDataplaneCilium {
		t.Errorf("network profile = %+v", np)
	}
	// A converged re-run must not see AKS's own Spot label and taint as drift.
	e.w.ResetLog()
	p, res := e.up(t, h)
	if p.View.HasChanges() || res.Writes() != 0 {
		t.Errorf("re-run changes %v", actions(p))
	}
}

func TestConvergedRerunMakesNoWrites(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.ResetLog()
	p, res := e.up(t, h)
	if p.View.HasChanges() {
		var b strings.Builder
		p.View.WriteText(&b)
		t.Fatalf("converged plan has changes:\n%s", b.String())
	}
	if n := len(e.w.Writes()); n != 0 || res.Writes() != 0 || res.LongRunning() != 0 {
		t.Errorf("writes %d (%v), long-running %d; want none", n, paths(e.w.Writes()), res.LongRunning())
	}
	equal(t, "requests", paths(e.w.Requests()), []string{
		"GET /subscriptions/" + sub + "/resourcegroups/pangeo",
		"GET /subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster",
		"GET /subscriptions/" + sub + "/providers/Microsoft.Consumption/budgets/dhub-pangeo-hub",
		// The DNS label is checked on every plan: it must be free or the hub's.
		"GET /subscriptions/" + sub + "/providers/Microsoft.Network/locations/westeurope/CheckDnsNameAvailability",
	})
	t.Logf("MEASURE converged re-run: %d writes, %d long-running operations, %d requests (all GET)", len(e.w.Writes()), res.LongRunning(), len(e.w.Requests()))
}

func TestPoolAddedThroughAgentPoolsAPI(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.ResetLog()
	h.Azure.NodePools = append(h.Azure.NodePools, config.NodePool{
		Name: "highmem", Role: config.RoleUser, VMSize: "Standard_E16s_v5", Count: ptr(0),
		Autoscale: &config.Autoscale{Min: 0, Max: 4}, Labels: map[string]string{"example.org/pool": "highmem"},
		Taints: []string{"example.org/pool=highmem:NoSchedule"},
	})
	p, res := e.up(t, h)
	equal(t, "plan", actions(p), []string{
		"no-op resource group pangeo", "no-op managed cluster pangeoCluster", "no-op node pool core",
		"no-op node pool users", "no-op node pool workers", "create node pool highmem",
	})
	if res.LongRunning() != 1 {
		t.Errorf("long-running operations = %d, want 1", res.LongRunning())
	}
	golden.Check(t, "testdata/golden/pool-added-writes.json", writesJSON(t, e.w))
}

func TestPoolResizedAndRelabelledInPlace(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	// The autoscaler grew the workers pool: not drift.
	e.w.EditPool("pangeo", "pangeoCluster", "workers", func(p *armcontainerservice.ManagedClusterAgentPoolProfileProperties) {
		p.Count = ptr[int32](7)
	})
	e.w.ResetLog()
	h.Azure.NodePools[0].Count = ptr(2)                                // core: fixed size 1 -> 2
	h.Azure.NodePools[2].Autoscale = &config.Autoscale{Min: 0, Max: 5} // workers: max 50 -> 5
	h.Azure.NodePools[2].Labels = map[string]string{"example.org/tier": "spot"}
	p, res := e.up(t, h)
	equal(t, "plan", actions(p), []string{
		"no-op resource group pangeo", "no-op managed cluster pangeoCluster", "update node pool core",
		"no-op node pool users", "update node pool workers",
	})
	var fields []string
	for _, c := range p.View.Changes {
		for _, f := range c.Fields {
			fields = append(fields, c.Name+"."+f.Field+": "+f.From+" -> "+f.To)
		}
	}
	equal(t, "fields", fields, []string{
		"core.count: 1 -> 2",
		"workers.maxCount: 50 -> 5",
		"workers.nodeLabels: k8s.dask.org/dedicated=worker -> example.org/tier=spot,k8s.dask.org/dedicated=worker",
	})
	if res.LongRunning() != 2 {
		t.Errorf("long-running operations = %d, want 2", res.LongRunning())
	}
	// The count the autoscaler chose is clamped into the new bounds, and
	// AKS's own Spot label and taint are sent back unchanged.
	golden.Check(t, "testdata/golden/pool-resized-writes.json", writesJSON(t, e.w))
	e.w.ResetLog()
	if p, _ := e.up(t, h); p.View.HasChanges() {
		t.Errorf("after the update the plan still has changes: %v", actions(p))
	}
}

func TestReplaceIsShownAndNeverAttempted(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.ResetLog()
	h.Azure.NodePools[1].VMSize = "Standard_D4s_v5" // users: VM size
	h.Azure.NodePools[2].Spot = nil                 // workers: Spot -> regular
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "plan", actions(p), []string{
		"no-op resource group pangeo", "no-op managed cluster pangeoCluster", "no-op node pool core",
		"replace node pool users", "replace node pool workers",
	})
	for _, c := range p.View.Changes[3:] {
		if !strings.Contains(c.Reason, "AKS cannot change it in place; not attempted") || !strings.Contains(c.Reason, "new name") {
			t.Errorf("%s reason %q", c.Name, c.Reason)
		}
	}
	if !strings.Contains(p.View.Changes[3].Reason, "vmSize Standard_D2s_v3 -> Standard_D4s_v5") ||
		!strings.Contains(p.View.Changes[4].Reason, "priority Spot -> Regular") {
		t.Errorf("reasons: %q, %q", p.View.Changes[3].Reason, p.View.Changes[4].Reason)
	}
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.w.Writes()) != 0 || len(res.NotApplied) != 2 {
		t.Errorf("writes %v, not applied %d; want none and 2", paths(e.w.Writes()), len(res.NotApplied))
	}
}

func TestPoolRemovedFromConfigIsDeleted(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.ResetLog()
	h.Azure.NodePools = h.Azure.NodePools[:2]
	p, res := e.up(t, h)
	last := p.View.Changes[len(p.View.Changes)-1]
	if last.Action != plan.Delete || last.Name != "workers" || last.Reason != "no longer in dhub.yaml" {
		t.Errorf("last change = %+v", last)
	}
	equal(t, "writes", paths(e.w.Writes()), []string{
		"DELETE /subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster/agentPools/workers",
	})
	if res.LongRunning() != 1 {
		t.Errorf("long-running = %d", res.LongRunning())
	}
}

func TestClusterDhubDidNotCreateIsRefused(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.EditCluster("pangeo", "pangeoCluster", func(mc *armcontainerservice.ManagedCluster) { mc.Tags = nil })
	e.w.ResetLog()
	_, err := e.c.Plan(context.Background(), h)
	if err == nil || !strings.Contains(err.Error(), "has no dhub-managed tag") || !strings.Contains(err.Error(), "will not change it") {
		t.Errorf("err = %v", err)
	}
	if len(e.w.Writes()) != 0 {
		t.Error("plan wrote")
	}
}

func TestExistingGroupIsUsedAndKept(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.w.AddGroup("pangeo", "westeurope", map[string]string{"owner": "lab"})
	p, _ := e.up(t, h)
	if c := p.View.Changes[0]; c.Action != plan.NoOp || !strings.Contains(c.Reason, "not created by dhub") {
		t.Errorf("group change = %+v", c)
	}
	if g := e.w.Group("pangeo"); g.Tags["dhub-created-rg"] != nil {
		t.Error("dhub tagged a group it did not create")
	}
}

func TestInterruptedAfterClusterAcceptedThenRerunWaits(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.w.SettleGets = 3 // Azure keeps creating for three more reads
	ctx, cancel := context.WithCancel(context.Background())
	e.w.OnRequest = func(r azurefake.Request) {
		if r.Method == "PUT" && strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "managedClusters/pangeoCluster") {
			cancel() // the process dies right after Azure accepted the cluster
		}
	}
	p, err := e.c.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Apply(ctx, p)
	if !errors.Is(err, azure.ErrInterrupted) {
		t.Fatalf("apply err = %v, want ErrInterrupted", err)
	}
	e.w.OnRequest = nil
	e.w.SettleGets = 0
	e.w.ResetLog()
	e.progress.Reset()

	p, res := e.up(t, h)
	if c := p.View.Changes[1]; c.Action != plan.Update || !strings.Contains(c.Reason, "in progress (Creating)") {
		t.Errorf("cluster change = %+v", c)
	}
	if w := e.w.Writes(); len(w) != 0 {
		t.Errorf("re-run wrote %v; want it to wait for the running create", paths(w))
	}
	if !strings.Contains(e.progress.String(), "managed cluster pangeoCluster: Creating (an operation already running), waiting") ||
		!strings.Contains(e.progress.String(), "Succeeded after") {
		t.Errorf("progress:\n%s", e.progress)
	}
	if res.LongRunning() != 0 {
		t.Errorf("long-running = %d", res.LongRunning())
	}
}

func TestKubeconfigFromUserCredentials(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	if _, err := e.c.Kubeconfig(context.Background(), h); err == nil || !strings.Contains(err.Error(), "run 'dhub up' first") {
		t.Errorf("before up: %v", err)
	}
	e.up(t, h)
	kc, err := e.c.Kubeconfig(context.Background(), h)
	if err != nil || !strings.Contains(string(kc), "azmk8s.io") {
		t.Errorf("kubeconfig %q, %v", kc, err)
	}
}

func TestStatusShowsPools(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	st, err := e.c.Status(context.Background(), h)
	if err != nil || st.Exists || st.Ready() {
		t.Fatalf("before up: %+v, %v", st, err)
	}
	e.up(t, h)
	st, err = e.c.Status(context.Background(), h)
	if err != nil || !st.Ready() || st.KubernetesVersion == "" || len(st.Pools) != 3 {
		t.Fatalf("status %+v, %v", st, err)
	}
	w := st.Pools[2]
	if w.Name != "workers" || w.Priority != "Spot" || *w.Min != 0 || *w.Max != 50 || w.Nodes != 1 || w.Mode != "User" {
		t.Errorf("workers = %+v", w)
	}
	if st.Pools[0].Min != nil || st.Pools[0].Priority != "Regular" {
		t.Errorf("core = %+v", st.Pools[0])
	}
}

func ptr[T any](v T) *T { return &v }

func TestGroupStillBeingDeletedIsWaitedForThenCreated(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	// An earlier 'dhub down' was interrupted: Azure is still deleting the group.
	e.w.SetGroupPending("pangeo", "Deleting", 3)
	e.w.ResetLog()
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.View.Changes[0]; c.Action != plan.Create || !strings.Contains(c.Reason, "being deleted") {
		t.Errorf("group change = %+v", c)
	}
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, e.progress)
	}
	if res.LongRunning() != 1 || !strings.Contains(e.progress.String(), "resource group pangeo: Deleting (an operation already running), waiting") {
		t.Errorf("long-running %d, progress:\n%s", res.LongRunning(), e.progress)
	}
	if e.w.Group("pangeo") == nil || e.w.Cluster("pangeo", "pangeoCluster") == nil {
		t.Error("the group and cluster were not created again")
	}
}

func TestClusterFoundUpdatingIsWaitedForThenPlannedAgain(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	h.Azure.NodePools = append(h.Azure.NodePools, config.NodePool{
		Name: "highmem", Role: config.RoleUser, VMSize: "Standard_E16s_v5", Count: ptr(0),
		Autoscale: &config.Autoscale{Min: 0, Max: 4},
	})
	// Another client's update runs for the plan's read and one more.
	e.w.SetPending("pangeo", "pangeoCluster", "", "Updating", 2)
	e.w.ResetLog()
	e.progress.Reset()
	_, res := e.up(t, h)
	var ops []string
	for _, o := range res.Operations {
		ops = append(ops, fmt.Sprintf("%s %s long=%v", o.Action, o.Resource, o.LongRunning))
	}
	equal(t, "operations", ops, []string{
		"wait managed cluster pangeoCluster long=false",
		"create node pool highmem long=true",
	})
	for _, want := range []string{
		"managed cluster pangeoCluster: the running operation finished; planning again\n",
		"  create node pool highmem: ",
	} {
		if !strings.Contains(e.progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, e.progress)
		}
	}
}

func TestClusterThatKeepsChangingStopsAfterThreeWaits(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	// Every plan finds an operation running, and every wait sees it end.
	e.w.SetPending("pangeo", "pangeoCluster", "", "Updating", 1)
	e.w.ResetLog()
	gets := 0
	e.w.OnRequest = func(r azurefake.Request) {
		if r.Method == "GET" && strings.HasSuffix(strings.SplitN(r.Path, "?", 2)[0], "managedClusters/pangeoCluster") {
			if gets++; gets%2 == 0 {
				e.w.SetPending("pangeo", "pangeoCluster", "", "Updating", 1)
			}
		}
	}
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Apply(context.Background(), p)
	if err == nil || err.Error() != "managed cluster pangeoCluster: still changing after 3 waits; run 'dhub up' again later" {
		t.Fatalf("apply err = %v", err)
	}
	if len(res.Operations) != 3 || res.Writes() != 0 || len(e.w.Writes()) != 0 {
		t.Errorf("operations %+v, writes %v", res.Operations, paths(e.w.Writes()))
	}
}
