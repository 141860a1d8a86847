package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
)

// This file is Azure Storage's management API (Microsoft.Storage
// 2023-05-01): storage accounts, blob containers and lifecycle management
// policies, with the rules the service applies, from its REST
// specification and the error bodies it sends: an account name is 3 to 24
// lowercase letters and digits and unique across all of Azure; a
// container's name is 3 to 63 lowercase letters, digits and single
// hyphens; a container of an account that forbids public blob access
// cannot be public; a management policy is named "default", its rules
// have alphanumeric names and act on block or append blobs, a prefix
// names a container, and a rule deletes blobs 0 to 99999 days after their
// last change.

var (
	storageNameRE   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	containerNameRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
	ruleNameRE      = regexp.MustCompile(`^[a-zA-Z0-9]{1,256}$`)
)

// storageAccount is one account with its containers and policy.
type storageAccount struct {
	group      string
	a          *armstorage.Account
	containers map[string]*armstorage.BlobContainer
	policy     *armstorage.ManagementPolicy
}

// TakeStorageName makes a storage account name taken by someone else,
// somewhere in Azure.
func (w *World) TakeStorageName(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.storageTaken[name] = true
}

// StorageAccount returns storage account name as stored, or nil.
func (w *World) StorageAccount(name string) *armstorage.Account {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.storage[name]; s != nil {
		return clone(s.a)
	}
	return nil
}

// Container returns a blob container as stored, or nil.
func (w *World) Container(account, name string) *armstorage.BlobContainer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.storage[account]; s != nil && s.containers[name] != nil {
		return clone(s.containers[name])
	}
	return nil
}

// Policy returns an account's management policy as stored, or nil.
func (w *World) Policy(account string) *armstorage.ManagementPolicy {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.storage[account]; s != nil && s.policy != nil {
		return clone(s.policy)
	}
	return nil
}

// account is the stored account name of group, or nil.
func (w *World) account(group, name string) *storageAccount {
	if s := w.storage[name]; s != nil && strings.EqualFold(s.group, group) {
		return s
	}
	return nil
}

func storageID(group, name string) string {
	return groupID(group) + "/providers/Microsoft.Storage/storageAccounts/" + name
}

func (w *World) checkStorageName(_ context.Context, in armstorage.AccountCheckNameAvailabilityParameters, _ *armstorage.AccountsClientCheckNameAvailabilityOptions) (resp azfake.Responder[armstorage.AccountsClientCheckNameAvailabilityResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name := deref(in.Name)
	r := armstorage.CheckNameAvailabilityResult{NameAvailable: to.Ptr(true)}
	switch {
	case deref(in.Type) != "Microsoft.Storage/storageAccounts":
		w.refuse(&errResp, http.StatusBadRequest, "InvalidResourceType", fmt.Sprintf("The resource type '%s' is not supported: use Microsoft.Storage/storageAccounts.", deref(in.Type)))
		return
	case !storageNameRE.MatchString(name):
		r = armstorage.CheckNameAvailabilityResult{NameAvailable: to.Ptr(false), Reason: to.Ptr(armstorage.ReasonAccountNameInvalid),
			Message: to.Ptr(fmt.Sprintf("%s is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.", name))}
	case w.storageTaken[name] || w.storage[name] != nil:
		r = armstorage.CheckNameAvailabilityResult{NameAvailable: to.Ptr(false), Reason: to.Ptr(armstorage.ReasonAlreadyExists),
			Message: to.Ptr(fmt.Sprintf("The storage account named %s is already taken.", name))}
	}
	resp.SetResponse(http.StatusOK, armstorage.AccountsClientCheckNameAvailabilityResponse{CheckNameAvailabilityResult: r}, nil)
	return
}

func (w *World) getStorage(_ context.Context, group, name string, _ *armstorage.AccountsClientGetPropertiesOptions) (resp azfake.Responder[armstorage.AccountsClientGetPropertiesResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.account(group, name)
	if s == nil {
		w.refuse(&errResp, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Storage/storageAccounts/%s' under resource group '%s' was not found.", name, group))
		return
	}
	resp.SetResponse(http.StatusOK, armstorage.AccountsClientGetPropertiesResponse{Account: *clone(s.a)}, nil)
	return
}

func (w *World) createStorage(_ context.Context, group, name string, in armstorage.AccountCreateParameters, _ *armstorage.AccountsClientBeginCreateOptions) (resp azfake.PollerResponder[armstorage.AccountsClientCreateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseInGroup(&errResp, "Microsoft.Storage", group) {
		return
	}
	switch {
	case !storageNameRE.MatchString(name):
		w.refuse(&errResp, http.StatusBadRequest, "AccountNameInvalid", fmt.Sprintf("%s is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.", name))
		return
	case w.storageTaken[name] || (w.storage[name] != nil && w.account(group, name) == nil):
		w.refuse(&errResp, http.StatusConflict, "StorageAccountAlreadyTaken", fmt.Sprintf("The storage account named %s is already taken.", name))
		return
	case deref(in.Location) == "":
		w.refuse(&errResp, http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		return
	case in.SKU == nil || !slices.Contains(armstorage.PossibleSKUNameValues(), deref(in.SKU.Name)):
		w.refuse(&errResp, http.StatusBadRequest, "InvalidSku", "The sku name is required and must be one of Standard_LRS, Standard_GRS, ...")
		return
	case !slices.Contains(armstorage.PossibleKindValues(), deref(in.Kind)):
		w.refuse(&errResp, http.StatusBadRequest, "InvalidKind", fmt.Sprintf("The kind '%s' is not valid.", deref(in.Kind)))
		return
	}
	s := w.storage[name]
	if s == nil {
		s = &storageAccount{group: group, containers: map[string]*armstorage.BlobContainer{}}
		w.storage[name] = s
	}
	p := in.Properties
	if p == nil {
		p = &armstorage.AccountPropertiesCreateParameters{}
	}
	s.a = &armstorage.Account{
		ID: to.Ptr(storageID(group, name)), Name: to.Ptr(name), Type: to.Ptr("Microsoft.Storage/storageAccounts"),
		Location: in.Location, Kind: in.Kind, SKU: in.SKU, Tags: *clone(&in.Tags),
		Properties: &armstorage.AccountProperties{
			ProvisioningState:      to.Ptr(armstorage.ProvisioningStateSucceeded),
			EnableHTTPSTrafficOnly: orTrue(p.EnableHTTPSTrafficOnly),
			MinimumTLSVersion:      p.MinimumTLSVersion,
			AllowBlobPublicAccess:  p.AllowBlobPublicAccess,
			AllowSharedKeyAccess:   p.AllowSharedKeyAccess,
			PrimaryEndpoints:       &armstorage.Endpoints{Blob: to.Ptr("https://" + name + ".blob.core.windows.net/")},
		},
	}
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusAccepted)
	resp.SetTerminalResponse(http.StatusOK, armstorage.AccountsClientCreateResponse{Account: *clone(s.a)}, nil)
	return
}

// orTrue is *p, or true where Azure defaults a flag on.
func orTrue(p *bool) *bool {
	if p == nil {
		return to.Ptr(true)
	}
	return p
}

func (w *World) deleteStorage(_ context.Context, group, name string, _ *armstorage.AccountsClientDeleteOptions) (resp azfake.Responder[armstorage.AccountsClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	status := http.StatusNoContent
	if w.account(group, name) != nil {
		status = http.StatusOK
		w.dropAssignments(storageID(group, name))
		delete(w.storage, name)
	}
	resp.SetResponse(status, armstorage.AccountsClientDeleteResponse{}, nil)
	return
}

func (w *World) createContainer(_ context.Context, group, account, name string, in armstorage.BlobContainer, _ *armstorage.BlobContainersClientCreateOptions) (resp azfake.Responder[armstorage.BlobContainersClientCreateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.account(group, account)
	switch {
	case s == nil:
		w.refuse(&errResp, http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf("Can not perform requested operation on nested resource. Parent resource '%s' not found.", account))
		return
	case !containerNameRE.MatchString(name):
		w.refuse(&errResp, http.StatusBadRequest, "ContainerOperationFailure", "The specifed resource name contains invalid characters.")
		return
	case in.ContainerProperties != nil && deref(in.ContainerProperties.PublicAccess) != "" && deref(in.ContainerProperties.PublicAccess) != armstorage.PublicAccessNone && !deref(s.a.Properties.AllowBlobPublicAccess):
		w.refuse(&errResp, http.StatusConflict, "PublicAccessNotPermitted", "Public access is not permitted on this storage account.")
		return
	}
	c := &armstorage.BlobContainer{
		ID:   to.Ptr(storageID(group, account) + "/blobServices/default/containers/" + name),
		Name: to.Ptr(name), Type: to.Ptr("Microsoft.Storage/storageAccounts/blobServices/containers"),
		ContainerProperties: &armstorage.ContainerProperties{PublicAccess: to.Ptr(armstorage.PublicAccessNone)},
	}
	s.containers[name] = c
	resp.SetResponse(http.StatusCreated, armstorage.BlobContainersClientCreateResponse{BlobContainer: *clone(c)}, nil)
	return
}

func (w *World) getContainer(_ context.Context, group, account, name string, _ *armstorage.BlobContainersClientGetOptions) (resp azfake.Responder[armstorage.BlobContainersClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.account(group, account)
	if s == nil || s.containers[name] == nil {
		w.refuse(&errResp, http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
		return
	}
	resp.SetResponse(http.StatusOK, armstorage.BlobContainersClientGetResponse{BlobContainer: *clone(s.containers[name])}, nil)
	return
}

func (w *World) getPolicy(_ context.Context, group, account string, name armstorage.ManagementPolicyName, _ *armstorage.ManagementPoliciesClientGetOptions) (resp azfake.Responder[armstorage.ManagementPoliciesClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.account(group, account)
	if s == nil || s.policy == nil || name != armstorage.ManagementPolicyNameDefault {
		w.refuse(&errResp, http.StatusNotFound, "ManagementPolicyNotFound", fmt.Sprintf("No ManagementPolicy found for account %s", account))
		return
	}
	resp.SetResponse(http.StatusOK, armstorage.ManagementPoliciesClientGetResponse{ManagementPolicy: *clone(s.policy)}, nil)
	return
}

func (w *World) putPolicy(_ context.Context, group, account string, name armstorage.ManagementPolicyName, in armstorage.ManagementPolicy, _ *armstorage.ManagementPoliciesClientCreateOrUpdateOptions) (resp azfake.Responder[armstorage.ManagementPoliciesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.account(group, account)
	if s == nil {
		w.refuse(&errResp, http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf("Can not perform requested operation on nested resource. Parent resource '%s' not found.", account))
		return
	}
	if name != armstorage.ManagementPolicyNameDefault {
		w.refuse(&errResp, http.StatusBadRequest, "InvalidManagementPolicyName", "The management policy name must be 'default'.")
		return
	}
	if msg := policyRules(&in, s); msg != "" {
		w.refuse(&errResp, http.StatusBadRequest, "InvalidManagementPolicyRules", msg)
		return
	}
	p := clone(&in)
	p.ID = to.Ptr(storageID(group, account) + "/managementPolicies/default")
	p.Name, p.Type = to.Ptr("DefaultManagementPolicy"), to.Ptr("Microsoft.Storage/storageAccounts/managementPolicies")
	s.policy = p
	resp.SetResponse(http.StatusOK, armstorage.ManagementPoliciesClientCreateOrUpdateResponse{ManagementPolicy: *clone(p)}, nil)
	return
}

// policyRules returns why Azure refuses a management policy, or "".
func policyRules(in *armstorage.ManagementPolicy, s *storageAccount) string {
	if in.Properties == nil || in.Properties.Policy == nil || len(in.Properties.Policy.Rules) == 0 {
		return "The management policy must have at least one rule."
	}
	rules := in.Properties.Policy.Rules
	if len(rules) > 100 {
		return "A management policy can have at most 100 rules."
	}
	seen := map[string]bool{}
	for _, r := range rules {
		name := deref(r.Name)
		switch {
		case !ruleNameRE.MatchString(name):
			return fmt.Sprintf("Rule name '%s' is invalid: a rule name can contain up to 256 alphanumeric characters.", name)
		case seen[name]:
			return fmt.Sprintf("Rule name '%s' is used by more than one rule.", name)
		case deref(r.Type) != armstorage.RuleTypeLifecycle:
			return fmt.Sprintf("Rule '%s': type must be Lifecycle.", name)
		case r.Definition == nil || r.Definition.Actions == nil:
			return fmt.Sprintf("Rule '%s': a definition with actions is required.", name)
		}
		seen[name] = true
		f := r.Definition.Filters
		if f == nil || len(f.BlobTypes) == 0 {
			return fmt.Sprintf("Rule '%s': filters.blobTypes is required.", name)
		}
		for _, t := range f.BlobTypes {
			if deref(t) != "blockBlob" && deref(t) != "appendBlob" {
				return fmt.Sprintf("Rule '%s': blob type '%s' is not one of blockBlob, appendBlob.", name, deref(t))
			}
		}
		for _, p := range f.PrefixMatch {
			c, _, _ := strings.Cut(deref(p), "/")
			if !containerNameRE.MatchString(c) {
				return fmt.Sprintf("Rule '%s': prefix '%s' must start with a container name.", name, deref(p))
			}
		}
		if bb := r.Definition.Actions.BaseBlob; bb != nil && bb.Delete != nil {
			if d := bb.Delete.DaysAfterModificationGreaterThan; d != nil && (*d < 0 || *d > 99999) {
				return fmt.Sprintf("Rule '%s': daysAfterModificationGreaterThan must be between 0 and 99999.", name)
			}
		}
	}
	return ""
}

// storageResources are the storage accounts of group (all when ""),
// as the resources API lists them.
func (w *World) storageResources(group string, match func(map[string]*string) bool) []*armresources.GenericResourceExpanded {
	var out []*armresources.GenericResourceExpanded
	for _, n := range sortedKeys(w.storage) {
		s := w.storage[n]
		if (group == "" || strings.EqualFold(s.group, group)) && match(s.a.Tags) {
			out = append(out, &armresources.GenericResourceExpanded{ID: s.a.ID, Name: s.a.Name, Type: s.a.Type, Location: s.a.Location, Tags: *clone(&s.a.Tags)})
		}
	}
	return out
}
