package azure

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/google/uuid"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// The kinds of the scratch container's resources in plans.
const (
	KindStorage    = "storage account"
	KindContainer  = "blob container"
	KindLifecycle  = "lifecycle rule"
	KindIdentity   = "managed identity"
	KindCredential = "federated credential"
	KindRole       = "role assignment"
)

const (
	// lifecycleRule names dhub's rule in the account's management policy
	// (Azure allows letters and digits only); other rules stay.
	lifecycleRule = "dhubScratchRetention"
	// credentialName names the federated credential of the users' service
	// account.
	credentialName = "dhub-storage"
	// tokenAudience is the audience Azure AD takes a Kubernetes token for.
	tokenAudience = "api://AzureADTokenExchange"
	// blobContributor is the built-in role Storage Blob Data Contributor.
	blobContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
)

// IdentityName is the user-assigned identity users' pods act as.
func IdentityName(h *config.Hub) string { return "dhub-" + h.Name + "-storage" }

// subject is the Kubernetes service account a federated credential trusts.
func subject(h *config.Hub) string {
	return "system:serviceaccount:" + h.Namespace + ":" + render.StorageServiceAccount
}

// containerScope is the scratch container's resource ID, where the role is
// assigned.
func (c *Client) containerScope(h *config.Hub) string {
	return storageID(c.o.Subscription, h.Azure.ResourceGroup, h.Azure.Storage.Scratch.AccountName) + "/blobServices/default/containers/" + render.ScratchContainer
}

// identityID is the identity's resource ID.
func (c *Client) identityID(h *config.Hub) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s",
		c.o.Subscription, h.Azure.ResourceGroup, IdentityName(h))
}

// assignmentName is the role assignment's GUID: derived from its scope,
// identity and role, so that up finds the one it made with one GET.
func (c *Client) assignmentName(h *config.Hub) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(strings.ToLower(c.containerScope(h)+"|"+c.identityID(h)+"|"+blobContributor))).String()
}

// desiredAccount is the scratch storage account: HTTPS and TLS 1.2 only,
// no public blobs, and no shared keys (identities only).
func desiredAccount(h *config.Hub) armstorage.AccountCreateParameters {
	return armstorage.AccountCreateParameters{
		Location: to.Ptr(h.Azure.Location),
		Kind:     to.Ptr(armstorage.KindStorageV2),
		SKU:      &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
		Tags:     tags(h, false),
		Properties: &armstorage.AccountPropertiesCreateParameters{
			EnableHTTPSTrafficOnly: to.Ptr(true),
			MinimumTLSVersion:      to.Ptr(armstorage.MinimumTLSVersionTLS12),
			AllowBlobPublicAccess:  to.Ptr(false),
			AllowSharedKeyAccess:   to.Ptr(false),
		},
	}
}

// diffAccount lists the security settings in which got differs.
func diffAccount(got *armstorage.Account) []plan.FieldChange {
	var out []plan.FieldChange
	p := got.Properties
	if p == nil {
		p = &armstorage.AccountProperties{}
	}
	flag := func(field string, v *bool, want bool) {
		if v == nil || *v != want {
			out = append(out, plan.FieldChange{Field: field, From: orNone(boolText(v)), To: fmt.Sprint(want)})
		}
	}
	flag("supportsHttpsTrafficOnly", p.EnableHTTPSTrafficOnly, true)
	flag("allowBlobPublicAccess", p.AllowBlobPublicAccess, false)
	flag("allowSharedKeyAccess", p.AllowSharedKeyAccess, false)
	if v := deref(p.MinimumTLSVersion); v != armstorage.MinimumTLSVersionTLS12 {
		out = append(out, plan.FieldChange{Field: "minimumTlsVersion", From: orNone(string(v)), To: string(armstorage.MinimumTLSVersionTLS12)})
	}
	return out
}

func boolText(v *bool) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(*v)
}

// retentionRule is dhub's lifecycle rule: delete scratch blobs days after
// their last change.
func retentionRule(days int) *armstorage.ManagementPolicyRule {
	return &armstorage.ManagementPolicyRule{
		Name: to.Ptr(lifecycleRule), Enabled: to.Ptr(true), Type: to.Ptr(armstorage.RuleTypeLifecycle),
		Definition: &armstorage.ManagementPolicyDefinition{
			Filters: &armstorage.ManagementPolicyFilter{
				BlobTypes:   to.SliceOfPtrs("blockBlob", "appendBlob"),
				PrefixMatch: to.SliceOfPtrs(render.ScratchContainer + "/"),
			},
			Actions: &armstorage.ManagementPolicyAction{BaseBlob: &armstorage.ManagementPolicyBaseBlob{
				Delete: &armstorage.DateAfterModification{DaysAfterModificationGreaterThan: to.Ptr(float32(days))},
			}},
		},
	}
}

// ruleDays is how many days dhub's rule in policy keeps blobs, or -1
// when the policy has no rule of dhub's.
func ruleDays(policy *armstorage.ManagementPolicy) int {
	if policy == nil || policy.Properties == nil || policy.Properties.Policy == nil {
		return -1
	}
	for _, r := range policy.Properties.Policy.Rules {
		if deref(r.Name) != lifecycleRule || r.Definition == nil || r.Definition.Actions == nil || r.Definition.Actions.BaseBlob == nil || r.Definition.Actions.BaseBlob.Delete == nil {
			continue
		}
		return int(deref(r.Definition.Actions.BaseBlob.Delete.DaysAfterModificationGreaterThan))
	}
	return -1
}

// issuerOf is a cluster's OIDC issuer URL, or "" while it has none.
func issuerOf(mc *armcontainerservice.ManagedCluster) string {
	if mc == nil || mc.Properties == nil || mc.Properties.OidcIssuerProfile == nil {
		return ""
	}
	return deref(mc.Properties.OidcIssuerProfile.IssuerURL)
}

// workloadIdentityOn reports whether a cluster has its OIDC issuer and
// workload identity on.
func workloadIdentityOn(props *armcontainerservice.ManagedClusterProperties) (oidc, wi bool) {
	if props.OidcIssuerProfile != nil {
		oidc = deref(props.OidcIssuerProfile.Enabled)
	}
	if sp := props.SecurityProfile; sp != nil && sp.WorkloadIdentity != nil {
		wi = deref(sp.WorkloadIdentity.Enabled)
	}
	return oidc, wi
}

// setWorkloadIdentity turns the cluster's OIDC issuer and workload
// identity on.
func setWorkloadIdentity(props *armcontainerservice.ManagedClusterProperties) {
	props.OidcIssuerProfile = &armcontainerservice.ManagedClusterOIDCIssuerProfile{Enabled: to.Ptr(true)}
	if props.SecurityProfile == nil {
		props.SecurityProfile = &armcontainerservice.ManagedClusterSecurityProfile{}
	}
	props.SecurityProfile.WorkloadIdentity = &armcontainerservice.ManagedClusterSecurityProfileWorkloadIdentity{Enabled: to.Ptr(true)}
}

// planScratch plans the scratch container's resources against what Azure
// has: GETs only (and, for an account still to create, the check that its
// name is free across Azure). groupExists says whether there is anything
// to read; mc is the cluster, for its OIDC issuer.
func (p *Plan) planScratch(ctx context.Context, c *Client, groupExists bool, mc *armcontainerservice.ManagedCluster) error {
	h := p.hub
	sc := h.Azure.Storage.Scratch
	if !sc.On() {
		return nil
	}
	a := h.Azure
	account := KindStorage + " " + sc.AccountName
	var acct *armstorage.Account
	if groupExists {
		r, err := c.accounts.GetProperties(ctx, a.ResourceGroup, sc.AccountName, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, account, a.Location)
		default:
			acct = &r.Account
		}
	}
	if acct == nil {
		r, err := c.accounts.CheckNameAvailability(ctx, armstorage.AccountCheckNameAvailabilityParameters{
			Name: to.Ptr(sc.AccountName), Type: to.Ptr("Microsoft.Storage/storageAccounts")}, nil)
		if err != nil {
			return explain(err, account, a.Location)
		}
		if !deref(r.NameAvailable) {
			return &Error{Resource: account, Code: string(deref(r.Reason)), Sentence: fmt.Sprintf(
				"%s: %s; storage account names are unique across all of Azure: set azure.storage.scratch.accountName to another (3 to 24 lowercase letters and digits)", account, strings.TrimSuffix(deref(r.Message), "."))}
		}
		p.add(plan.Change{Kind: KindStorage, Name: sc.AccountName, Action: plan.Create, Reason: "does not exist; holds the hub's scratch container",
			Detail: fmt.Sprintf("StorageV2, Standard_LRS, location %s, HTTPS and TLS 1.2 only, no public blobs, no shared keys (identities only)", a.Location)},
			step{kind: stepCreateStorage})
	} else {
		if err := owned(acct.Tags, h.Name); err != nil {
			return fmt.Errorf("%s in resource group %s exists but %v: dhub will not use it; set azure.storage.scratch.accountName to another name", account, a.ResourceGroup, err)
		}
		ch := plan.Change{Kind: KindStorage, Name: sc.AccountName, Fields: diffAccount(acct)}
		if len(ch.Fields) > 0 {
			ch.Action, ch.Reason = plan.Update, "differs from dhub's settings; changed in place"
			p.add(ch, step{kind: stepCreateStorage})
		} else {
			ch.Action, ch.Reason = plan.NoOp, "matches dhub.yaml"
			p.add(ch)
		}
	}
	containerExists, days := false, -1
	if acct != nil {
		_, err := c.containers.Get(ctx, a.ResourceGroup, sc.AccountName, render.ScratchContainer, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, KindContainer+" "+render.ScratchContainer, a.Location)
		default:
			containerExists = true
		}
		pol, err := c.policies.Get(ctx, a.ResourceGroup, sc.AccountName, armstorage.ManagementPolicyNameDefault, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, KindLifecycle+" "+lifecycleRule, a.Location)
		default:
			days = ruleDays(&pol.ManagementPolicy)
		}
	}
	ch := plan.Change{Kind: KindContainer, Name: render.ScratchContainer}
	if containerExists {
		ch.Action, ch.Reason = plan.NoOp, "exists"
		p.add(ch)
	} else {
		ch.Action, ch.Reason, ch.Detail = plan.Create, "does not exist", "private; users write under "+render.ScratchContainer+"/<user name>"
		p.add(ch, step{kind: stepCreateContainer})
	}
	ch = plan.Change{Kind: KindLifecycle, Name: lifecycleRule}
	want := fmt.Sprintf("deletes scratch blobs %s after their last change", plan.Count(sc.RetentionDays, "day"))
	switch days {
	case -1:
		ch.Action, ch.Reason, ch.Detail = plan.Create, "not in the account's management policy", want
		p.add(ch, step{kind: stepPutLifecycle})
	case sc.RetentionDays:
		ch.Action, ch.Reason = plan.NoOp, "matches dhub.yaml ("+want+")"
		p.add(ch)
	default:
		ch.Action, ch.Reason = plan.Update, "differs from azure.storage.scratch.retentionDays"
		ch.Fields = []plan.FieldChange{{Field: "daysAfterModificationGreaterThan", From: fmt.Sprint(days), To: fmt.Sprint(sc.RetentionDays)}}
		p.add(ch, step{kind: stepPutLifecycle})
	}
	return p.planIdentity(ctx, c, groupExists, containerExists, mc)
}

// planIdentity plans the identity, its federated credential and its role
// on the scratch container.
func (p *Plan) planIdentity(ctx context.Context, c *Client, groupExists, containerExists bool, mc *armcontainerservice.ManagedCluster) error {
	h := p.hub
	a := h.Azure
	name := IdentityName(h)
	var id *armmsi.Identity
	if groupExists {
		r, err := c.identities.Get(ctx, a.ResourceGroup, name, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, KindIdentity+" "+name, a.Location)
		default:
			id = &r.Identity
		}
	}
	if id == nil {
		p.add(plan.Change{Kind: KindIdentity, Name: name, Action: plan.Create, Reason: "does not exist; users' servers and their Dask pods act as it",
			Detail: "user-assigned, location " + a.Location}, step{kind: stepCreateIdentity})
	} else {
		if err := owned(id.Tags, h.Name); err != nil {
			return fmt.Errorf("%s in resource group %s exists but %v: dhub will not use it", KindIdentity+" "+name, a.ResourceGroup, err)
		}
		p.add(plan.Change{Kind: KindIdentity, Name: name, Action: plan.NoOp, Reason: "exists"})
		if id.Properties != nil {
			p.identity = &config.WorkloadIdentity{ClientID: deref(id.Properties.ClientID), TenantID: deref(id.Properties.TenantID)}
		}
	}

	issuer := issuerOf(mc)
	ch := plan.Change{Kind: KindCredential, Name: credentialName}
	wantIssuer := issuer
	if wantIssuer == "" {
		wantIssuer = "the cluster's OIDC issuer"
	}
	detail := fmt.Sprintf("issuer %s, subject %s, audience %s", wantIssuer, subject(h), tokenAudience)
	var cred *armmsi.FederatedIdentityCredential
	if id != nil {
		r, err := c.credentials.Get(ctx, a.ResourceGroup, name, credentialName, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, KindCredential+" "+credentialName, a.Location)
		default:
			cred = &r.FederatedIdentityCredential
		}
	}
	if cred == nil {
		ch.Action, ch.Reason, ch.Detail = plan.Create, "does not exist", detail
		p.add(ch, step{kind: stepPutCredential})
	} else {
		got := cred.Properties
		if got == nil {
			got = &armmsi.FederatedIdentityCredentialProperties{}
		}
		if g := deref(got.Issuer); issuer != "" && g != issuer {
			ch.Fields = append(ch.Fields, plan.FieldChange{Field: "issuer", From: g, To: issuer})
		}
		if g := deref(got.Subject); g != subject(h) {
			ch.Fields = append(ch.Fields, plan.FieldChange{Field: "subject", From: g, To: subject(h)})
		}
		var auds []string
		for _, x := range got.Audiences {
			auds = append(auds, deref(x))
		}
		if g := strings.Join(auds, ","); g != tokenAudience {
			ch.Fields = append(ch.Fields, plan.FieldChange{Field: "audiences", From: g, To: tokenAudience})
		}
		if len(ch.Fields) > 0 || issuer == "" {
			ch.Action, ch.Reason = plan.Update, "differs from the cluster's issuer or the users' service account"
			p.add(ch, step{kind: stepPutCredential})
		} else {
			ch.Action, ch.Reason = plan.NoOp, "trusts "+subject(h)
			p.add(ch)
		}
	}

	ch = plan.Change{Kind: KindRole, Name: "Storage Blob Data Contributor on container " + render.ScratchContainer}
	if id != nil && containerExists {
		_, err := c.assignments.Get(ctx, c.containerScope(h), c.assignmentName(h), nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return explain(err, KindRole+" "+c.assignmentName(h), a.Location)
		default:
			ch.Action, ch.Reason = plan.NoOp, "exists"
			p.add(ch)
			return nil
		}
	}
	ch.Action, ch.Reason, ch.Detail = plan.Create, "does not exist", "to managed identity "+name+", on the scratch container only"
	p.add(ch, step{kind: stepAssignRole})
	return nil
}

// createStorage creates (or updates in place) the scratch storage
// account, a long-running operation.
func (c *Client) createStorage(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	name := a.Storage.Scratch.AccountName
	resource := KindStorage + " " + name
	return c.record(res, Operation{Resource: resource, Action: "create", LongRunning: true}, a.Location, func() error {
		return startAndWait(ctx, c, resource, "create", func() (*runtime.Poller[armstorage.AccountsClientCreateResponse], error) {
			return c.accounts.BeginCreate(ctx, a.ResourceGroup, name, desiredAccount(h), nil)
		})
	})
}

// createContainer creates the private scratch container.
func (c *Client) createContainer(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	resource := KindContainer + " " + render.ScratchContainer
	return c.record(res, Operation{Resource: resource, Action: "create"}, a.Location, func() error {
		_, err := c.containers.Create(ctx, a.ResourceGroup, a.Storage.Scratch.AccountName, render.ScratchContainer, armstorage.BlobContainer{
			ContainerProperties: &armstorage.ContainerProperties{PublicAccess: to.Ptr(armstorage.PublicAccessNone)}}, nil)
		return err
	})
}

// putLifecycle writes dhub's retention rule into the account's management
// policy, keeping the policy's other rules.
func (c *Client) putLifecycle(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	sc := a.Storage.Scratch
	resource := KindLifecycle + " " + lifecycleRule
	return c.record(res, Operation{Resource: resource, Action: "update"}, a.Location, func() error {
		var rules []*armstorage.ManagementPolicyRule
		cur, err := c.policies.Get(ctx, a.ResourceGroup, sc.AccountName, armstorage.ManagementPolicyNameDefault, nil)
		switch {
		case isNotFound(err):
		case err != nil:
			return err
		case cur.Properties != nil && cur.Properties.Policy != nil:
			rules = slices.DeleteFunc(cur.Properties.Policy.Rules, func(r *armstorage.ManagementPolicyRule) bool { return deref(r.Name) == lifecycleRule })
		}
		rules = append(rules, retentionRule(sc.RetentionDays))
		_, err = c.policies.CreateOrUpdate(ctx, a.ResourceGroup, sc.AccountName, armstorage.ManagementPolicyNameDefault, armstorage.ManagementPolicy{
			Properties: &armstorage.ManagementPolicyProperties{Policy: &armstorage.ManagementPolicySchema{Rules: rules}}}, nil)
		return err
	})
}

// createIdentity creates the user-assigned identity, and keeps its ids in
// res for the hub's pods.
func (c *Client) createIdentity(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	resource := KindIdentity + " " + IdentityName(h)
	return c.record(res, Operation{Resource: resource, Action: "create"}, a.Location, func() error {
		r, err := c.identities.CreateOrUpdate(ctx, a.ResourceGroup, IdentityName(h), armmsi.Identity{Location: to.Ptr(a.Location), Tags: tags(h, false)}, nil)
		if err != nil {
			return err
		}
		if r.Properties == nil {
			return fmt.Errorf("Azure made %s but shows no client ID", resource)
		}
		res.Identity = &config.WorkloadIdentity{ClientID: deref(r.Properties.ClientID), TenantID: deref(r.Properties.TenantID)}
		return nil
	})
}

// putCredential makes the identity trust the users' service account's
// tokens from the cluster's OIDC issuer, which it reads now: a new
// cluster has its issuer only once created.
func (c *Client) putCredential(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	resource := KindCredential + " " + credentialName
	return c.record(res, Operation{Resource: resource, Action: "update"}, a.Location, func() error {
		mc, err := c.clusters.Get(ctx, a.ResourceGroup, a.ClusterName, nil)
		if err != nil {
			return explain(err, KindCluster+" "+a.ClusterName, a.Location)
		}
		issuer := issuerOf(&mc.ManagedCluster)
		if issuer == "" {
			return fmt.Errorf("%s: managed cluster %s has no OIDC issuer URL yet; run 'dhub up' again once it has one", resource, a.ClusterName)
		}
		_, err = c.credentials.CreateOrUpdate(ctx, a.ResourceGroup, IdentityName(h), credentialName, armmsi.FederatedIdentityCredential{
			Properties: &armmsi.FederatedIdentityCredentialProperties{
				Issuer: to.Ptr(issuer), Subject: to.Ptr(subject(h)), Audiences: to.SliceOfPtrs(tokenAudience),
			}}, nil)
		return err
	})
}

// assignRole gives the identity Storage Blob Data Contributor on the
// scratch container only. The principal type is sent so that Azure does
// not look up a principal made seconds ago in a directory replica that
// has not seen it yet.
func (c *Client) assignRole(ctx context.Context, h *config.Hub, res *Result) error {
	a := h.Azure
	resource := KindRole + " " + c.assignmentName(h)
	return c.record(res, Operation{Resource: resource, Action: "create"}, a.Location, func() error {
		id, err := c.identities.Get(ctx, a.ResourceGroup, IdentityName(h), nil)
		if err != nil {
			return err
		}
		_, err = c.assignments.Create(ctx, c.containerScope(h), c.assignmentName(h), armauthorization.RoleAssignmentCreateParameters{
			Properties: &armauthorization.RoleAssignmentProperties{
				PrincipalID:      id.Properties.PrincipalID,
				PrincipalType:    to.Ptr(armauthorization.PrincipalTypeServicePrincipal),
				RoleDefinitionID: to.Ptr(fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s", c.o.Subscription, blobContributor)),
			}}, nil)
		return err
	})
}

// ScratchStatus is the hub's scratch container as Azure reports it.
type ScratchStatus struct {
	Account string `json:"account"`
	// URL is what users' servers get as SCRATCH_URL, before their name.
	URL           string `json:"url"`
	RetentionDays int    `json:"retentionDays,omitempty"`
	// ClientID is the identity's, which pods present their token for.
	ClientID string `json:"clientId,omitempty"`
	// Problem says what is missing; empty when all is there.
	Problem string `json:"problem,omitempty"`
}

// scratchStatus reads the account's policy and the identity (two GETs).
func (c *Client) scratchStatus(ctx context.Context, h *config.Hub) *ScratchStatus {
	a := h.Azure
	sc := a.Storage.Scratch
	st := &ScratchStatus{Account: sc.AccountName, URL: "az://" + render.ScratchContainer}
	var missing []string
	pol, err := c.policies.Get(ctx, a.ResourceGroup, sc.AccountName, armstorage.ManagementPolicyNameDefault, nil)
	switch {
	case err == nil:
		st.RetentionDays = max(ruleDays(&pol.ManagementPolicy), 0)
	case isNotFound(err):
		missing = append(missing, KindStorage+" "+sc.AccountName+" or its lifecycle rule")
	default:
		missing = append(missing, explain(err, KindStorage+" "+sc.AccountName, a.Location).Error())
	}
	id, err := c.identities.Get(ctx, a.ResourceGroup, IdentityName(h), nil)
	switch {
	case err == nil && id.Properties != nil:
		st.ClientID = deref(id.Properties.ClientID)
	case isNotFound(err):
		missing = append(missing, KindIdentity+" "+IdentityName(h))
	case err != nil:
		missing = append(missing, explain(err, KindIdentity+" "+IdentityName(h), a.Location).Error())
	}
	if len(missing) > 0 {
		st.Problem = "missing: " + strings.Join(missing, "; ") + " ('dhub up' makes them)"
	}
	return st
}
