package azure_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/plan"
)

const clusterPath = "/managedClusters/pangeoCluster"

func TestThrottlingWithRetryAfterAndServerErrorsAreRetried(t *testing.T) {
	var slept pauses
	e := newEnvWith(t, func(o *azure.Options) { o.Sleep = slept.sleep })
	h := hub(t, "azure-recommended.yaml")
	e.w.AddFault(&azurefake.Fault{Method: "GET", Path: "/resourcegroups/pangeo", Times: 2, Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable", Message: "try later"})
	e.w.AddFault(&azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusTooManyRequests, Code: "TooManyRequests", Message: "throttled", RetryAfter: "1"})
	e.w.AddFault(&azurefake.Fault{Method: "GET", Path: clusterPath + "/get/fake/status", Status: http.StatusInternalServerError, Code: "InternalServerError"})
	_, res := e.up(t, h)
	var statuses []int
	reqs := withoutBudget(withoutPreflight(e.w.Requests()))
	for _, r := range reqs {
		statuses = append(statuses, r.Status)
	}
	// 2 x 503 then the GET; the PUT of the group; 429 then the cluster PUT; a 500 poll then the polls.
	got := paths(reqs)
	if got[0] != got[1] || got[1] != got[2] || statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 0 {
		t.Errorf("the group GET was not retried after 503: %v %v", got[:3], statuses[:3])
	}
	if got[4] != got[5] || statuses[4] != 429 || statuses[5] != 0 {
		t.Errorf("the cluster PUT was not retried after 429: %v %v", got[4:6], statuses[4:6])
	}
	// The 429 is sent again after the 1 s its Retry-After asks for (within
	// the test's MaxRetryDelay of 2 s); the 5xx after the backoff of the
	// test's RetryDelay of 1 ms: 1 ms, then 3 ms, each with a jitter of
	// [0.8, 1.3).
	backoff := func(d time.Duration, try int) bool {
		base := time.Duration(1<<try-1) * time.Millisecond
		return d >= base*8/10 && d < base*13/10
	}
	if got := slept.of("ResourceGroupsClient.Get"); len(got) != 2 || !backoff(got[0], 1) || !backoff(got[1], 2) {
		t.Errorf("pauses before the group GET was sent again: %v, want about 1ms and 3ms", got)
	}
	if got := slept.of("ManagedClustersClient.BeginCreateOrUpdate"); len(got) != 2 || got[0] != time.Second || !backoff(got[1], 1) {
		t.Errorf("pauses before the cluster PUT and its poll were sent again: %v, want the 429's 1s, then about 1ms", got)
	}
	if res.LongRunning() != 1 || len(e.w.Writes()) != 2 {
		t.Errorf("long-running %d, writes %v", res.LongRunning(), paths(e.w.Writes()))
	}
}

// TestRetryAfterDateAndTheBoundOnTries: Retry-After may be an HTTP date,
// read on the client's clock; a request that keeps failing is sent
// MaxRetries times again (4 in the fake's options), then its error is
// returned.
func TestRetryAfterDateAndTheBoundOnTries(t *testing.T) {
	now := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	var slept pauses
	e := newEnvWith(t, func(o *azure.Options) {
		o.Sleep = slept.sleep
		o.Now = func() time.Time { return now }
	})
	h := hub(t, "azure-recommended.yaml")
	e.w.AddFault(&azurefake.Fault{Method: "PUT", Path: "/resourcegroups/pangeo", Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		Message: "throttled", RetryAfter: now.Add(2 * time.Second).Format(http.TimeFormat)})
	e.w.AddFault(&azurefake.Fault{Method: "PUT", Path: clusterPath, Times: 5, Status: http.StatusBadGateway, Code: "BadGateway", Message: "no upstream"})
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Apply(context.Background(), p)
	if got := slept.of("ResourceGroupsClient.CreateOrUpdate"); len(got) != 1 || got[0] != 2*time.Second {
		t.Errorf("pauses before the group PUT was sent again: %v, want the 2s to the 429's Retry-After date", got)
	}
	if got := slept.of("ManagedClustersClient.BeginCreateOrUpdate"); len(got) != 4 {
		t.Errorf("pauses before the cluster PUT was sent again: %v, want 4", got)
	}
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Code != "BadGateway" {
		t.Errorf("err = %v, want the 502 after the last try", err)
	}
	if n := len(paths(e.w.Writes())); n != 1 {
		t.Errorf("writes %v, want only the group's", paths(e.w.Writes()))
	}
}

func TestConflictOperationNotAllowedWaitsAndRetries(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.ResetLog()
	h.Azure.NodePools[1].Autoscale.Max = 20
	e.w.AddFault(&azurefake.Fault{Method: "PUT", Path: "/agentPools/users", Times: 2, Status: http.StatusConflict, Code: "OperationNotAllowed",
		Message: "Operation is not allowed because there's an in progress scale agent pool operation (4b5c...) on the managed cluster. Please wait for it to finish before starting a new operation."})
	_, res := e.up(t, h)
	if n := strings.Count(e.progress.String(), "pool users: another operation is in progress (OperationNotAllowed); trying again"); n != 2 {
		t.Errorf("progress reports %d waits, want 2:\n%s", n, e.progress)
	}
	if res.Writes() != 1 || len(e.w.Writes()) != 1 {
		t.Errorf("writes %v", paths(e.w.Writes()))
	}
	if mc := e.w.Cluster("pangeo", "pangeoCluster"); *mc.Properties.AgentPoolProfiles[1].MaxCount != 20 {
		t.Error("the pool was not updated")
	}
}

func TestAzureErrorsBecomeOneSentence(t *testing.T) {
	cases := []struct {
		name  string
		fault azurefake.Fault
		want  []string
	}{
		{"quota", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusConflict, Code: "QuotaExceeded",
			Message: "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 4, Current Usage: 2, Additional Required: 4, (Minimum) New Limit Required: 6. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/..."},
			[]string{"managed cluster pangeoCluster: Azure refused with QuotaExceeded", "standardDSv3Family vCPU quota in westeurope", "4 more cores are needed (a limit of at least 6)", "request an increase"}},
		{"quota as OperationNotAllowed", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusConflict, Code: "OperationNotAllowed",
			Message: "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 4, Current Usage: 2, Additional Required: 4, (Minimum) New Limit Required: 6."},
			[]string{"Azure refused with OperationNotAllowed", "standardDSv3Family vCPU quota in westeurope is too small: 4 more cores"}},
		{"missing registration", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusConflict, Code: "MissingSubscriptionRegistration",
			Message: "The subscription is not registered to use namespace 'Microsoft.ContainerService'. See https://aka.ms/rps-not-found for how to register subscriptions."},
			[]string{"managed cluster pangeoCluster: Azure refused with MissingSubscriptionRegistration", "az provider register --namespace Microsoft.ContainerService"}},
		{"sku", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "SkuNotAvailable",
			Message: "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: Standard_D2s_v3' is currently not available in location 'westeurope'."},
			[]string{"Azure refused with SkuNotAvailable", "Standard_D2s_v3 is not offered to this subscription in westeurope", "az vm list-skus -l westeurope"}},
		// The body AKS sends for a size a subscription may not use: its
		// aka.ms link holds "quotas", which is no quota error.
		{"vm size not allowed", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "The VM size of Standard_D2s_v3 is not allowed in your subscription in location 'westeurope'. For more details, please visit https://aka.ms/aks/quotas-skus-regions"},
			[]string{"Azure refused with BadRequest: Standard_D2s_v3 is not offered to this subscription in westeurope", "pick another vmSize"}},
		{"vm size of a pool not allowed", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "The VM size of AgentPoolProfile:workers is not allowed in your subscription in location 'westeurope'. The available VM sizes are 'standard_d2s_v5,standard_d4s_v5'. For more details, please visit https://aka.ms/aks/quotas-skus-regions"},
			[]string{"the VM size of node pool workers is not offered to this subscription in westeurope"}},
		{"capacity", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "AKSCapacityHeavyUsage",
			Message: "Creating a free tier cluster is unavailable at this time in region westeurope. To create a new cluster, we recommend using an alternate region, or create a paid tier cluster. For a list of all the Azure regions, visit https://aka.ms/aks/regions."},
			[]string{"Azure refused with AKSCapacityHeavyUsage: Azure has no capacity for this request in westeurope right now", "another azure.location"}},
		{"provider not registered", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusConflict, Code: "MissingRegistrationForResourceProvider",
			Message: "The subscription registration is in 'Unregistered' state. The subscription must be registered to use namespace 'Microsoft.Network'. See https://aka.ms/rps-not-found for how to register subscriptions."},
			[]string{"not registered for Microsoft.Network", "az provider register --namespace Microsoft.Network --wait"}},
		{"agent pool reason kept", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "ReconcileVMSSAgentPoolFailed",
			Message: "Provisioning of resource(s) for Agent Pool workers failed. Error: {\n  \"code\": \"InvalidTemplateDeployment\",\n  \"message\": \"The template deployment failed with error: 'The requested size for resource is currently not available in location westeurope zones 1 for subscription.'\"\n}"},
			[]string{"managed cluster pangeoCluster (node pool workers): Azure refused with InvalidTemplateDeployment", "not offered to this subscription in westeurope"}},
		{"throttled beyond the bound", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusTooManyRequests, Code: "TooManyRequests",
			Message: "The request is being throttled.", RetryAfter: "300"},
			[]string{"Azure refused with TooManyRequests: Azure is throttling requests and asked dhub to wait 5m0s", "run 'dhub up' again after that"}},
		{"group elsewhere", azurefake.Fault{Method: "PUT", Path: "/resourcegroups/pangeo", Status: http.StatusConflict, Code: "InvalidResourceGroupLocation",
			Message: "Invalid resource group location 'westeurope'. The Resource group already exists in location 'eastus'."},
			[]string{"resource group pangeo: Azure refused with InvalidResourceGroupLocation", "already exists in eastus", "set azure.location to eastus"}},
		{"name taken", azurefake.Fault{Method: "PUT", Path: clusterPath, Status: http.StatusBadRequest, Code: "DnsPrefixAlreadyExists",
			Message: "The DNS prefix pangeo-hub is already in use."},
			[]string{"managed cluster pangeoCluster: Azure refused with DnsPrefixAlreadyExists: the name is taken", "choose another name"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			h := hub(t, "azure-recommended.yaml")
			f := tc.fault
			e.w.AddFault(&f)
			p, err := e.c.Plan(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.c.Apply(context.Background(), p)
			var ae *azure.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *azure.Error", err, err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "\n") || strings.Count(msg, ". ") > 0 {
				t.Errorf("not one sentence: %q", msg)
			}
			// The code is Azure's (the agent pool's own, when AKS wraps it).
			if !strings.Contains(ae.Detail(), `"code": "`+ae.Code) && !strings.Contains(ae.Detail(), `\"code\": \"`+ae.Code) ||
				!strings.Contains(ae.Detail(), "RESPONSE") || !strings.Contains(ae.Detail(), strings.SplitN(f.Message, "\n", 2)[0]) {
				t.Errorf("code %q, detail %q: want the full Azure error", ae.Code, ae.Detail())
			}
			// Not retried: a quota or registration error does not pass by itself.
			if n := len(withoutBudget(withoutPreflight(e.w.Requests()))); n > 3 {
				t.Errorf("%d requests: the error was retried", n)
			}
		})
	}
}

func TestLROThatFailsWhilePollingThenRepairs(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.w.FailLRO(clusterPath, "VMExtensionProvisioningError", "VM has reported a failure when processing extension 'vmssCSE'. Error message: \"Enable failed: failed to execute command: command terminated with exit status=50\".")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Apply(context.Background(), p)
	var ae *azure.Error
	if !errors.As(err, &ae) || ae.Code != "VMExtensionProvisioningError" || !strings.Contains(err.Error(), "managed cluster pangeoCluster") {
		t.Fatalf("err = %v", err)
	}
	// Azure answers the last poll 200 with the failure in its body: the
	// sentence is that failure, not "Azure answered 200".
	if want := "managed cluster pangeoCluster: the operation failed in Azure with VMExtensionProvisioningError: VM has reported a failure when processing extension 'vmssCSE'."; !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "answered 200") {
		t.Errorf("err = %v\nwant it to start %q", err, want)
	}
	if !strings.Contains(e.progress.String(), "create accepted by Azure") {
		t.Errorf("progress:\n%s", e.progress)
	}
	// The cluster exists, Failed: the next up sends it again instead of failing on "already exists".
	e.w.ResetLog()
	p, res := e.up(t, h)
	if c := p.View.Changes[1]; c.Action != plan.Update || !strings.Contains(c.Reason, "Failed") {
		t.Errorf("cluster change = %+v", c)
	}
	if res.LongRunning() != 1 || *e.w.Cluster("pangeo", "pangeoCluster").Properties.ProvisioningState != "Succeeded" {
		t.Errorf("long-running %d, state %s", res.LongRunning(), *e.w.Cluster("pangeo", "pangeoCluster").Properties.ProvisioningState)
	}
}

func TestCredentialFailureIsExplained(t *testing.T) {
	w := azurefake.New()
	o := w.Options(nil)
	cred := o.Credential.(interface{ SetError(error) })
	cred.SetError(errors.New("DefaultAzureCredential: failed to acquire a token"))
	c, err := azure.New(o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Plan(context.Background(), hub(t, "azure-recommended.yaml"))
	if err == nil || !strings.Contains(err.Error(), "run 'az login'") {
		t.Errorf("err = %v", err)
	}
}
