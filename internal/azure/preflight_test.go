package azure_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/config"
	"dhub/internal/plan"
)

// planFails plans h and wants a preflight error whose text holds every
// want, with no write made.
func planFails(t *testing.T, e *env, h *config.Hub, want ...string) *azure.PreflightError {
	t.Helper()
	_, err := e.c.Plan(context.Background(), h)
	var pe *azure.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("plan err = %v (%T), want a *azure.PreflightError", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%s", w, err)
		}
	}
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Code == "" {
		t.Errorf("no *azure.Error with a code in %v", err)
	}
	if w := e.w.Writes(); len(w) != 0 {
		t.Errorf("preflight wrote %v", paths(w))
	}
	return pe
}

func checks(p *azure.Plan) string {
	var b strings.Builder
	for _, c := range p.View.Checks {
		b.WriteString(c.Name + ": " + c.Result + "\n")
	}
	return b.String()
}

func TestFreshRecommendedPreflightIsGETsOnly(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	var pre int
	for _, r := range e.w.Requests() {
		if r.Method != "GET" {
			t.Errorf("plan sent %s %s", r.Method, r.Path)
		}
		if isPreflight(r) {
			pre++
		}
	}
	if pre != p.PreflightGets {
		t.Errorf("the fake saw %d preflight GETs, the plan counted %d", pre, p.PreflightGets)
	}
	for _, want := range []string{
		"resource providers: Microsoft.ContainerService, Microsoft.Network, Microsoft.Compute registered",
		"VM sizes offered in westeurope: Standard_D2s_v3 (core), Standard_D2s_v3 (users), Standard_D2s_v3 (workers)",
		"vCPU quota for the nodes created now: cores 4 of 100 left, lowPriorityCores 2 of 100 left, standardDSv3Family 4 of 100 left",
		"DNS label " + h.Azure.DNSLabel + ": " + h.Azure.DNSLabel + ".westeurope.cloudapp.azure.com is free",
	} {
		if !strings.Contains(checks(p), want) {
			t.Errorf("checks lack %q:\n%s", want, checks(p))
		}
	}
	// 50 Spot workers at 2 vCPUs each exceed a limit of 100 less the 2 used now.
	if len(p.View.Warnings) != 0 {
		t.Errorf("warnings %q", p.View.Warnings)
	}
	_, res := e.up(t, h)
	if res.LongRunning() != 1 || res.Writes() != 2 {
		t.Errorf("long-running %d, writes %d; want 1 and 2", res.LongRunning(), res.Writes())
	}
}

func TestFreshSubscriptionRegistersProvidersFirst(t *testing.T) {
	e := newEnv(t)
	e.w.SetProvider("Microsoft.ContainerService", "NotRegistered")
	e.w.RegisterGets = 2
	h := hub(t, "azure-recommended.yaml")
	p, res := e.up(t, h)
	if c := p.View.Changes[0]; c.Kind != azure.KindProvider || c.Name != "Microsoft.ContainerService" || c.Action != plan.Update ||
		!strings.Contains(c.Reason, "up registers it first") || c.Fields[0].From != "NotRegistered" {
		t.Errorf("first change = %+v", c)
	}
	if w := paths(e.w.Writes()); len(w) != 3 || !strings.HasSuffix(w[0], "/providers/Microsoft.ContainerService/register") {
		t.Errorf("writes %v: want the registration first", w)
	}
	if e.w.Provider("Microsoft.ContainerService") != "Registered" || res.Operations[0].Action != "register" {
		t.Errorf("provider %s, operations %+v", e.w.Provider("Microsoft.ContainerService"), res.Operations)
	}
	if !strings.Contains(e.progress.String(), "resource provider Microsoft.ContainerService: Registering") {
		t.Errorf("progress:\n%s", e.progress)
	}
}

// Without the preflight, AKS refuses the cluster after the group exists.
func TestUnregisteredProviderIsRefusedByTheFake(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	e.w.SetProvider("Microsoft.Network", "Unregistered")
	_, err = e.c.Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "MissingRegistrationForResourceProvider") || !strings.Contains(err.Error(), "az provider register --namespace Microsoft.Network") {
		t.Errorf("err = %v", err)
	}
}

func TestRestrictedVMSizeStopsBeforeAnyWrite(t *testing.T) {
	e := newEnv(t)
	e.w.RestrictSKU("Standard_D2s_v3", "NotAvailableForSubscription")
	planFails(t, e, hub(t, "azure-recommended.yaml"),
		"node pool core: VM size Standard_D2s_v3 is not offered to this subscription in westeurope (resource SKUs: NotAvailableForSubscription); pick another vmSize in azure.nodePools (Standard_D2s_v5 is offered here), or another azure.location",
		"3 problems found before any change was made")
}

func TestUnpinnedVMSizeIsPickedFromThePreferenceList(t *testing.T) {
	e := newEnv(t)
	e.w.RestrictSKU("Standard_D2s_v5", "NotAvailableForSubscription")
	h := hub(t, "azure-recommended.yaml")
	for i := range h.Azure.NodePools {
		h.Azure.NodePools[i].VMSize = ""
	}
	p, _ := e.up(t, h)
	if !strings.Contains(checks(p), "VM size of node pool core: Standard_D2as_v5, picked from dhub's preference list") {
		t.Errorf("checks:\n%s", checks(p))
	}
	if !strings.Contains(p.View.Changes[2].Detail, "Standard_D2as_v5") || h.Azure.NodePools[0].VMSize != "" {
		t.Errorf("pool detail %q; the caller's hub got %q", p.View.Changes[2].Detail, h.Azure.NodePools[0].VMSize)
	}
	// Once created, the pools keep their size: no replace when the
	// preference would now pick another.
	e.w.ResetLog()
	e.w.RestrictSKU("Standard_D2as_v5", "NotAvailableForSubscription")
	if p, _ := e.up(t, h); p.View.HasChanges() {
		t.Errorf("re-run changes %v", actions(p))
	}
}

func TestSpotSizeNotOfferedAsSpot(t *testing.T) {
	e := newEnv(t)
	skus := azurefake.DefaultSKUs()
	for i := range skus {
		if skus[i].Name == "Standard_D2s_v3" {
			skus[i].Spot = false
		}
	}
	e.w.SetSKUs(skus)
	planFails(t, e, hub(t, "azure-recommended.yaml"), "node pool workers: VM size Standard_D2s_v3 is not offered as Spot in westeurope (resource SKUs: NotSpotCapable)")
}

func TestQuotaTooSmallStopsBeforeAnyWriteAndMaxScaleWarns(t *testing.T) {
	e := newEnv(t)
	e.w.SetQuota("standardDSv3Family", 2, 4)
	planFails(t, e, hub(t, "azure-recommended.yaml"),
		"vCPU quota standardDSv3Family: the nodes created now need 4 standardDSv3Family vCPUs in westeurope and 2 of the limit of 4 are left (2 used); request an increase")

	e = newEnv(t)
	e.w.SetQuota("lowPriorityCores", 0, 10)
	p, err := e.c.Plan(context.Background(), hub(t, "azure-recommended.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.View.Warnings) != 1 || !strings.Contains(p.View.Warnings[0], "at their autoscale maximum the pools need 90 more Total Regional Low-priority vCPUs in westeurope than are left (10 of 10)") {
		t.Errorf("warnings %q", p.View.Warnings)
	}
}

// Without the preflight, AKS refuses the nodes over the quota.
func TestQuotaIsEnforcedByTheFake(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	e.w.SetQuota("standardDSv3Family", 2, 4)
	_, err = e.c.Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "the standardDSv3Family vCPU quota in westeurope is too small: 4 more cores are needed (a limit of at least 6)") {
		t.Errorf("err = %v", err)
	}
}

func TestDNSLabelTakenStopsBeforeAnyWrite(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.w.TakeDNSLabel("westeurope", h.Azure.DNSLabel)
	planFails(t, e, h, "DNS label "+h.Azure.DNSLabel+": "+h.Azure.DNSLabel+".westeurope.cloudapp.azure.com belongs to another Azure resource", "set azure.dnsLabel to another label")
}

func TestDNSLabelOfThisHubIsOurs(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	// The cloud controller gave proxy-public its address, with the label.
	mc := e.w.Cluster("pangeo", "pangeoCluster")
	e.w.AddPublicIP(*mc.Properties.NodeResourceGroup, "kubernetes-a1b2", "westeurope", "20.1.2.3", h.Azure.DNSLabel)
	e.w.ResetLog()
	p, res := e.up(t, h)
	if !strings.Contains(checks(p), "is this hub's (public IP kubernetes-a1b2 in MC_pangeo_pangeoCluster_westeurope)") || res.Writes() != 0 {
		t.Errorf("checks:\n%s\nwrites %d", checks(p), res.Writes())
	}
	// Another cluster's label of the same name is not ours.
	e2 := newEnv(t)
	e2.w.AddPublicIP("someone-else", "ip", "westeurope", "20.9.9.9", h.Azure.DNSLabel)
	planFails(t, e2, h, "belongs to another Azure resource")
}

func TestKubernetesVersionNotOffered(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	h.Azure.KubernetesVersion = "1.29"
	planFails(t, e, h, "Kubernetes version 1.29: AKS does not offer it in westeurope (it offers 1.32, 1.33, 1.34, 1.35)")
	h.Azure.KubernetesVersion = "1.34"
	p, _ := e.up(t, h)
	if !strings.Contains(checks(p), "Kubernetes version 1.34: offered in westeurope") {
		t.Errorf("checks:\n%s", checks(p))
	}
}

func TestStoppedClusterIsStartedFirst(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.StopCluster("pangeo", "pangeoCluster")
	st, err := e.c.Status(context.Background(), h)
	if err != nil || st.Ready() || st.Power != "Stopped" {
		t.Errorf("status of a stopped cluster: %+v, %v", st, err)
	}
	e.w.ResetLog()
	h.Azure.NodePools[1].Autoscale.Max = 20
	p, res := e.up(t, h)
	if !p.Stopped() {
		t.Error("the plan did not see the cluster stopped")
	}
	equal(t, "plan", actions(p)[:4], []string{"no-op resource group pangeo", "update managed cluster pangeoCluster", "no-op managed cluster pangeoCluster", "no-op node pool core"})
	var ops []string
	for _, o := range res.Operations {
		ops = append(ops, o.Action+" "+o.Resource)
	}
	equal(t, "operations", ops, []string{"start managed cluster pangeoCluster", "update node pool users"})
	if mc := e.w.Cluster("pangeo", "pangeoCluster"); *mc.Properties.PowerState.Code != armcontainerservice.CodeRunning {
		t.Error("the cluster was not started")
	}
}

// The fake refuses what AKS refuses, with AKS's error bodies, for what
// config validation would have caught.
func TestFakeRefusesWhatAKSRefuses(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(h *config.Hub)
		want   string
	}{
		{"pool name", func(h *config.Hub) { h.Azure.NodePools[1].Name = "Users_1" }, "InvalidParameter: agentPoolProfile.name is invalid: The agent pool name \"Users_1\" is invalid"},
		{"no system pool", func(h *config.Hub) { h.Azure.NodePools[0].Role = config.RoleUser }, "MustDefineAtLeastOneSystemPool: Must define at least one system pool."},
		{"spot system pool", func(h *config.Hub) { h.Azure.NodePools[0].Spot = &config.Spot{Eviction: "Delete"} }, "Spot agent pool core cannot be a System mode pool"},
		{"system minCount 0", func(h *config.Hub) { h.Azure.NodePools[0].Autoscale = &config.Autoscale{Min: 0, Max: 3} }, "System agent pool core must have minCount of at least 1"},
		{"reserved label", func(h *config.Hub) { h.Azure.NodePools[1].Labels = map[string]string{"kubernetes.azure.com/mode": "x"} }, "Label key kubernetes.azure.com/mode is reserved"},
		{"spot price decimals", func(h *config.Hub) { p := 0.1234567; h.Azure.NodePools[2].Spot.MaxPrice = &p }, "at most 5 digits after the decimal point"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := hub(t, "azure-recommended.yaml")
			tc.mutate(h)
			p, err := e.c.Plan(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.c.Apply(context.Background(), p)
			var ae *azure.Error
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(ae.Detail(), `"message"`) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
