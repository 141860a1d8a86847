package azure_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/plan"
)

// scratchScope is the scratch container of the recommended example, where
// its identity's role is.
func scratchScope(account string) string {
	return "/subscriptions/" + azurefake.Subscription + "/resourceGroups/pangeo/providers/Microsoft.Storage/storageAccounts/" + account + "/blobServices/default/containers/scratch"
}

func TestScratchComesWithTheHubReachedThroughWorkloadIdentity(t *testing.T) {
	e := newEnv(t)
	h := scratchHub(t, "azure-recommended.yaml")
	account := h.Azure.Storage.Scratch.AccountName
	p, res := e.up(t, h)
	for _, kn := range [][2]string{{azure.KindStorage, account}, {azure.KindContainer, "scratch"}, {azure.KindLifecycle, "dhubScratchRetention"},
		{azure.KindIdentity, "dhub-pangeo-hub-storage"}, {azure.KindCredential, "dhub-storage"}, {azure.KindRole, "Storage Blob Data Contributor on container scratch"}} {
		if ch := change(p, kn[0], kn[1]); ch == nil || ch.Action != plan.Create {
			t.Errorf("plan's %s %s: %+v", kn[0], kn[1], ch)
		}
	}
	if p.Identity() != nil {
		t.Errorf("the plan knows an identity before it exists: %+v", p.Identity())
	}

	a := e.w.StorageAccount(account)
	if a == nil {
		t.Fatal("no storage account")
	}
	ap := a.Properties
	if !*ap.EnableHTTPSTrafficOnly || *ap.AllowBlobPublicAccess || *ap.AllowSharedKeyAccess || *ap.MinimumTLSVersion != armstorage.MinimumTLSVersionTLS12 {
		t.Errorf("account's settings: https %v public %v shared key %v tls %v", *ap.EnableHTTPSTrafficOnly, *ap.AllowBlobPublicAccess, *ap.AllowSharedKeyAccess, *ap.MinimumTLSVersion)
	}
	if *a.Tags[azure.TagHub] != "pangeo-hub" || *a.Tags[azure.TagManaged] != "true" {
		t.Errorf("account's tags: %v", a.Tags)
	}
	if c := e.w.Container(account, "scratch"); c == nil || *c.ContainerProperties.PublicAccess != armstorage.PublicAccessNone {
		t.Errorf("container: %+v", c)
	}
	rule := e.w.Policy(account).Properties.Policy.Rules[0]
	if d := *rule.Definition.Actions.BaseBlob.Delete.DaysAfterModificationGreaterThan; d != 7 || *rule.Definition.Filters.PrefixMatch[0] != "scratch/" {
		t.Errorf("lifecycle rule: %v days, prefix %s", d, *rule.Definition.Filters.PrefixMatch[0])
	}

	mc := e.w.Cluster("pangeo", "pangeoCluster")
	if !*mc.Properties.OidcIssuerProfile.Enabled || !*mc.Properties.SecurityProfile.WorkloadIdentity.Enabled {
		t.Error("the cluster has no OIDC issuer or workload identity")
	}
	id := e.w.Identity("pangeo", "dhub-pangeo-hub-storage")
	creds := e.w.FederatedCredentials("pangeo", "dhub-pangeo-hub-storage")
	cred, ok := creds["dhub-storage"]
	switch {
	case id == nil || !ok:
		t.Fatalf("identity %v, credentials %v", id, creds)
	case *cred.Issuer != *mc.Properties.OidcIssuerProfile.IssuerURL:
		t.Errorf("credential's issuer %s, the cluster's %s", *cred.Issuer, *mc.Properties.OidcIssuerProfile.IssuerURL)
	case *cred.Subject != "system:serviceaccount:dhub:dhub-storage" || len(cred.Audiences) != 1 || *cred.Audiences[0] != "api://AzureADTokenExchange":
		t.Errorf("credential's subject %s, audiences %v", *cred.Subject, cred.Audiences)
	}
	roles := e.w.RoleAssignments(scratchScope(account))
	if len(roles) != 1 || *roles[0].PrincipalID != *id.Properties.PrincipalID || !strings.HasSuffix(*roles[0].RoleDefinitionID, "/ba92f5b4-2d11-453d-a403-e96b0029c9fe") {
		t.Errorf("roles on the scratch container: %+v", roles)
	}

	var lro, writes []string
	for _, o := range res.Operations {
		if strings.Contains(o.Resource, "storage") || strings.Contains(o.Resource, "scratch") || strings.Contains(o.Resource, "credential") || strings.Contains(o.Resource, "role") || strings.Contains(o.Resource, "identity") || strings.Contains(o.Resource, "lifecycle") {
			writes = append(writes, o.Action+" "+o.Resource)
			if o.LongRunning {
				lro = append(lro, o.Resource)
			}
		}
	}
	if len(lro) != 1 || lro[0] != azure.KindStorage+" "+account {
		t.Errorf("long-running operations of the scratch container: %v", lro)
	}
	byMethod := map[string]int{}
	for _, r := range e.w.Requests() {
		if strings.Contains(r.Path, "/providers/Microsoft.Storage/") || strings.Contains(r.Path, "/providers/Microsoft.ManagedIdentity/") || strings.Contains(r.Path, "/providers/Microsoft.Authorization/") {
			byMethod[r.Method]++
		}
	}
	t.Logf("MEASURE a fresh deploy's scratch container adds %d ARM writes (%s), %d of them long-running; its requests by method, polls included: %v; 0 Graph calls", len(writes), strings.Join(writes, "; "), len(lro), byMethod)

	// Converged: reads only, and the plan now knows the identity.
	e.w.ResetLog()
	p, res = e.up(t, h)
	if len(e.w.Writes()) != 0 || res.Writes() != 0 || p.View.HasChanges() {
		t.Errorf("converged up wrote %v", e.w.Writes())
	}
	if got := p.Identity(); got == nil || got.ClientID != *id.Properties.ClientID || got.TenantID != azurefake.Tenant {
		t.Errorf("plan's identity %+v", got)
	}
	n := 0
	for _, r := range e.w.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("converged up sent %s %s", r.Method, r.Path)
		}
		n++
	}
	t.Logf("MEASURE a converged up with the scratch container: %d requests, all GET (6 for the scratch container)", n)

	st, err := e.c.Status(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Scratch; s == nil || s.Account != account || s.RetentionDays != 7 || s.ClientID != *id.Properties.ClientID || s.Problem != "" {
		t.Errorf("status: %+v", st.Scratch)
	}
}

func TestScratchRetentionChangesInPlace(t *testing.T) {
	e := newEnv(t)
	h := scratchHub(t, "azure-recommended.yaml")
	e.up(t, h)
	h.Azure.Storage.Scratch.RetentionDays = 30
	e.w.ResetLog()
	p, _ := e.up(t, h)
	ch := change(p, azure.KindLifecycle, "dhubScratchRetention")
	if ch == nil || ch.Action != plan.Update || len(ch.Fields) != 1 || ch.Fields[0].From != "7" || ch.Fields[0].To != "30" {
		t.Fatalf("plan's lifecycle rule: %+v", ch)
	}
	if w := e.w.Writes(); len(w) != 1 || !strings.Contains(w[0].Path, "/managementPolicies/default") {
		t.Errorf("writes: %v", paths(w))
	}
	if d := *e.w.Policy(h.Azure.Storage.Scratch.AccountName).Properties.Policy.Rules[0].Definition.Actions.BaseBlob.Delete.DaysAfterModificationGreaterThan; d != 30 {
		t.Errorf("days: %v", d)
	}
}

func TestScratchTurnedOnForAClusterWithoutAnIssuer(t *testing.T) {
	e := newEnv(t)
	e.up(t, hub(t, "azure-recommended.yaml"))
	h := scratchHub(t, "azure-recommended.yaml")
	p, _ := e.up(t, h)
	ch := change(p, azure.KindCluster, "pangeoCluster")
	if ch == nil || ch.Action != plan.Update || len(ch.Fields) != 2 {
		t.Fatalf("plan's cluster: %+v", ch)
	}
	mc := e.w.Cluster("pangeo", "pangeoCluster")
	cred := e.w.FederatedCredentials("pangeo", "dhub-pangeo-hub-storage")["dhub-storage"]
	if cred.Issuer == nil || *cred.Issuer != *mc.Properties.OidcIssuerProfile.IssuerURL {
		t.Errorf("credential's issuer %v", cred.Issuer)
	}
}

func TestScratchAccountNameTakenElsewhereIsRefusedByPlan(t *testing.T) {
	e := newEnv(t)
	h := scratchHub(t, "azure-recommended.yaml")
	e.w.TakeStorageName(h.Azure.Storage.Scratch.AccountName)
	_, err := e.c.Plan(context.Background(), h)
	var ae *azure.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "is already taken") || !strings.Contains(err.Error(), "azure.storage.scratch.accountName") {
		t.Fatalf("plan: %v", err)
	}
	if len(e.w.Writes()) != 0 {
		t.Errorf("writes: %v", paths(e.w.Writes()))
	}
}

func TestDownWithAndWithoutKeepData(t *testing.T) {
	for _, keep := range []bool{false, true} {
		e := newEnv(t)
		h := scratchHub(t, "azure-recommended.yaml")
		account := h.Azure.Storage.Scratch.AccountName
		e.up(t, h)
		d, err := e.c.PlanDown(context.Background(), h, keep)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.c.Down(context.Background(), d)
		if err != nil || len(res.Remaining) != 0 {
			t.Fatalf("keep %v: down: %v, remaining %+v", keep, err, res.Remaining)
		}
		kept := e.w.StorageAccount(account) != nil
		if kept != keep || e.w.Identity("pangeo", "dhub-pangeo-hub-storage") != nil || e.w.Cluster("pangeo", "pangeoCluster") != nil {
			t.Errorf("keep %v: account kept %v, identity %v, cluster %v", keep, kept, e.w.Identity("pangeo", "dhub-pangeo-hub-storage"), e.w.Cluster("pangeo", "pangeoCluster"))
		}
		if keep {
			if roles := e.w.RoleAssignments(scratchScope(account)); len(roles) != 0 {
				t.Errorf("the kept container still names the deleted identity: %+v", roles)
			}
			if e.w.Container(account, "scratch") == nil || e.w.Group("pangeo") == nil || !strings.Contains(strings.Join(d.Kept, "\n"), "kept with --keep-data") {
				t.Errorf("kept: %v", d.Kept)
			}
			// up again uses the kept account as it is.
			p, _ := e.up(t, h)
			if ch := change(p, azure.KindStorage, account); ch == nil || ch.Action != plan.NoOp {
				t.Errorf("up after --keep-data: %+v", ch)
			}
		}
	}
}

// A dhub.yaml that turned the scratch container off still finds the
// account up made under its default name: --keep-data keeps it, and the
// identity's role on it goes with the identity.
func TestKeepDataAfterScratchTurnedOff(t *testing.T) {
	e := newEnv(t)
	h := scratchHub(t, "azure-recommended.yaml")
	account := h.Azure.Storage.Scratch.AccountName
	e.up(t, h)
	off := hub(t, "azure-recommended.yaml")
	off.Azure.Storage.Scratch.AccountName = ""
	d, err := e.c.PlanDown(context.Background(), off, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Identity != "dhub-pangeo-hub-storage" || d.Account != "" || d.Group != "" {
		t.Fatalf("deletion: %+v", d)
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil || len(res.Remaining) != 0 {
		t.Fatalf("down: %v, remaining %+v", err, res.Remaining)
	}
	if e.w.StorageAccount(account) == nil || len(e.w.RoleAssignments(scratchScope(account))) != 0 {
		t.Errorf("account kept %v, roles left %+v", e.w.StorageAccount(account) != nil, e.w.RoleAssignments(scratchScope(account)))
	}
}
