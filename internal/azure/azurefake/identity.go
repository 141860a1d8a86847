package azurefake

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/google/uuid"
)

// This file is Azure's managed identities (Microsoft.ManagedIdentity
// 2023-01-31: user-assigned identities and their federated identity
// credentials) and role assignments (Microsoft.Authorization 2022-04-01),
// with the rules they apply: an identity's name is 3 to 128 letters,
// digits, '-' and '_', starting with a letter or digit; a federated
// credential's name is 3 to 120 of them; its issuer is an https URL, its
// subject is set, it has exactly one audience, an identity has at most 20
// and no two with the same issuer and subject; a role assignment's name is
// a GUID, its role definition exists, its principal exists and is of the
// type it says, its scope exists, and the same principal, role and scope
// cannot be assigned twice under two names.

// Tenant is the directory every World's identities belong to.
const Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// builtInRoles are the role definitions the fake knows, by GUID.
var builtInRoles = map[string]string{
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
	"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
	"acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
}

var (
	identityNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$`)
	credNameRE     = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$`)
	roleDefRE      = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleDefinitions/([0-9a-f-]{36})$`)
)

// identity is one user-assigned identity and its federated credentials.
type identity struct {
	id    *armmsi.Identity
	creds map[string]*armmsi.FederatedIdentityCredential
}

// Identity returns a user-assigned identity as stored, or nil.
func (w *World) Identity(group, name string) *armmsi.Identity {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := w.identities[key(group, name)]; i != nil {
		return clone(i.id)
	}
	return nil
}

// FederatedCredentials returns an identity's federated credentials by name.
func (w *World) FederatedCredentials(group, name string) map[string]armmsi.FederatedIdentityCredentialProperties {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]armmsi.FederatedIdentityCredentialProperties{}
	if i := w.identities[key(group, name)]; i != nil {
		for n, c := range i.creds {
			out[n] = *clone(c.Properties)
		}
	}
	return out
}

// RoleAssignments returns the role assignments whose scope is scope.
func (w *World) RoleAssignments(scope string) []armauthorization.RoleAssignmentProperties {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []armauthorization.RoleAssignmentProperties
	for _, k := range sortedKeys(w.assignments) {
		if a := w.assignments[k]; strings.EqualFold(deref(a.Properties.Scope), scope) {
			out = append(out, *clone(a.Properties))
		}
	}
	return out
}

func identityID(group, name string) string {
	return groupID(group) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

// fakeUUID is a stable GUID for what name says.
func fakeUUID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(strings.ToLower(name))).String()
}

func (w *World) putIdentity(_ context.Context, group, name string, in armmsi.Identity, _ *armmsi.UserAssignedIdentitiesClientCreateOrUpdateOptions) (resp azfake.Responder[armmsi.UserAssignedIdentitiesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuseInGroup(&errResp, "Microsoft.ManagedIdentity", group) {
		return
	}
	switch {
	case !identityNameRE.MatchString(name):
		w.refuse(&errResp, http.StatusBadRequest, "InvalidResourceName", fmt.Sprintf("Resource name %s is invalid. The name can be up to 128 characters long. Valid characters are letters, digits, '-' and '_', starting with a letter or digit.", name))
		return
	case deref(in.Location) == "":
		w.refuse(&errResp, http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		return
	}
	k := key(group, name)
	status := http.StatusOK
	i := w.identities[k]
	if i == nil {
		status = http.StatusCreated
		i = &identity{creds: map[string]*armmsi.FederatedIdentityCredential{}}
		w.identities[k] = i
	}
	id := identityID(group, name)
	i.id = &armmsi.Identity{
		ID: to.Ptr(id), Name: to.Ptr(name), Type: to.Ptr("Microsoft.ManagedIdentity/userAssignedIdentities"),
		Location: in.Location, Tags: *clone(&in.Tags),
		Properties: &armmsi.UserAssignedIdentityProperties{
			ClientID: to.Ptr(fakeUUID("client:" + id)), PrincipalID: to.Ptr(fakeUUID("principal:" + id)), TenantID: to.Ptr(Tenant),
		},
	}
	resp.SetResponse(status, armmsi.UserAssignedIdentitiesClientCreateOrUpdateResponse{Identity: *clone(i.id)}, nil)
	return
}

func (w *World) getIdentity(_ context.Context, group, name string, _ *armmsi.UserAssignedIdentitiesClientGetOptions) (resp azfake.Responder[armmsi.UserAssignedIdentitiesClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := w.identities[key(group, name)]
	if i == nil {
		w.refuse(&errResp, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/%s' under resource group '%s' was not found.", name, group))
		return
	}
	resp.SetResponse(http.StatusOK, armmsi.UserAssignedIdentitiesClientGetResponse{Identity: *clone(i.id)}, nil)
	return
}

func (w *World) deleteIdentity(_ context.Context, group, name string, _ *armmsi.UserAssignedIdentitiesClientDeleteOptions) (resp azfake.Responder[armmsi.UserAssignedIdentitiesClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	status := http.StatusNoContent
	if w.identities[key(group, name)] != nil {
		status = http.StatusOK
		delete(w.identities, key(group, name))
	}
	resp.SetResponse(status, armmsi.UserAssignedIdentitiesClientDeleteResponse{}, nil)
	return
}

func (w *World) putCredential(_ context.Context, group, idName, name string, in armmsi.FederatedIdentityCredential, _ *armmsi.FederatedIdentityCredentialsClientCreateOrUpdateOptions) (resp azfake.Responder[armmsi.FederatedIdentityCredentialsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := w.identities[key(group, idName)]
	if i == nil {
		w.refuse(&errResp, http.StatusNotFound, "ParentResourceNotFound", fmt.Sprintf("Can not perform requested operation on nested resource. Parent resource '%s' not found.", idName))
		return
	}
	if msg := credentialRules(name, &in, i); msg != "" {
		w.refuse(&errResp, http.StatusBadRequest, "BadRequest", msg)
		return
	}
	c := clone(&in)
	c.ID = to.Ptr(identityID(group, idName) + "/federatedIdentityCredentials/" + name)
	c.Name, c.Type = to.Ptr(name), to.Ptr("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
	status := http.StatusCreated
	if i.creds[name] != nil {
		status = http.StatusOK
	}
	i.creds[name] = c
	resp.SetResponse(status, armmsi.FederatedIdentityCredentialsClientCreateOrUpdateResponse{FederatedIdentityCredential: *clone(c)}, nil)
	return
}

// credentialRules returns why Azure refuses federated credential name of
// identity i, or "".
func credentialRules(name string, in *armmsi.FederatedIdentityCredential, i *identity) string {
	p := in.Properties
	if !credNameRE.MatchString(name) {
		return fmt.Sprintf("Federated identity credential name '%s' is invalid: 3 to 120 letters, digits, '-' and '_', starting with a letter or digit.", name)
	}
	if p == nil {
		return "The federated identity credential's properties are required."
	}
	if u, err := url.Parse(deref(p.Issuer)); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Sprintf("Issuer '%s' is not a valid URL: the issuer must be an https URL.", deref(p.Issuer))
	}
	if s := deref(p.Subject); s == "" || len(s) > 600 {
		return "Subject is required and can be at most 600 characters."
	}
	if len(p.Audiences) != 1 || deref(p.Audiences[0]) == "" {
		return fmt.Sprintf("Exactly one audience is allowed; %d were given.", len(p.Audiences))
	}
	if _, replace := i.creds[name]; !replace && len(i.creds) >= 20 {
		return "The identity already has the maximum of 20 federated identity credentials."
	}
	for n, c := range i.creds {
		if n != name && deref(c.Properties.Issuer) == deref(p.Issuer) && deref(c.Properties.Subject) == deref(p.Subject) {
			return fmt.Sprintf("Federated identity credential '%s' already has issuer '%s' and subject '%s'.", n, deref(p.Issuer), deref(p.Subject))
		}
	}
	return ""
}

func (w *World) getCredential(_ context.Context, group, idName, name string, _ *armmsi.FederatedIdentityCredentialsClientGetOptions) (resp azfake.Responder[armmsi.FederatedIdentityCredentialsClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := w.identities[key(group, idName)]
	if i == nil || i.creds[name] == nil {
		w.refuse(&errResp, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The federated identity credential '%s' of identity '%s' was not found.", name, idName))
		return
	}
	resp.SetResponse(http.StatusOK, armmsi.FederatedIdentityCredentialsClientGetResponse{FederatedIdentityCredential: *clone(i.creds[name])}, nil)
	return
}

func (w *World) getAssignment(_ context.Context, scope, name string, _ *armauthorization.RoleAssignmentsClientGetOptions) (resp azfake.Responder[armauthorization.RoleAssignmentsClientGetResponse], errResp azfake.ErrorResponder) {
	scope = "/" + strings.Trim(scope, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.assignments[strings.ToLower(scope+"/"+name)]
	if a == nil {
		w.refuse(&errResp, http.StatusNotFound, "RoleAssignmentNotFound", fmt.Sprintf("The role assignment '%s' is not found.", name))
		return
	}
	resp.SetResponse(http.StatusOK, armauthorization.RoleAssignmentsClientGetResponse{RoleAssignment: *clone(a)}, nil)
	return
}

func (w *World) createAssignment(_ context.Context, scope, name string, in armauthorization.RoleAssignmentCreateParameters, _ *armauthorization.RoleAssignmentsClientCreateOptions) (resp azfake.Responder[armauthorization.RoleAssignmentsClientCreateResponse], errResp azfake.ErrorResponder) {
	scope = "/" + strings.Trim(scope, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	if status, code, msg := w.assignmentRules(scope, name, &in); status != 0 {
		w.refuse(&errResp, status, code, msg)
		return
	}
	p := clone(in.Properties)
	p.Scope = to.Ptr(scope)
	a := &armauthorization.RoleAssignment{
		ID:   to.Ptr(scope + "/providers/Microsoft.Authorization/roleAssignments/" + name),
		Name: to.Ptr(name), Type: to.Ptr("Microsoft.Authorization/roleAssignments"), Properties: p,
	}
	w.assignments[strings.ToLower(scope+"/"+name)] = a
	resp.SetResponse(http.StatusCreated, armauthorization.RoleAssignmentsClientCreateResponse{RoleAssignment: *clone(a)}, nil)
	return
}

// assignmentRules returns the status, code and message of Azure's refusal
// of a role assignment, or 0.
func (w *World) assignmentRules(scope, name string, in *armauthorization.RoleAssignmentCreateParameters) (int, string, string) {
	if _, err := uuid.Parse(name); err != nil {
		return http.StatusBadRequest, "InvalidRoleAssignmentId", fmt.Sprintf("The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name)
	}
	p := in.Properties
	if p == nil {
		return http.StatusBadRequest, "InvalidRequestContent", "The role assignment's properties are required."
	}
	m := roleDefRE.FindStringSubmatch(deref(p.RoleDefinitionID))
	if m == nil || builtInRoles[strings.ToLower(m[1])] == "" {
		return http.StatusBadRequest, "RoleDefinitionDoesNotExist", fmt.Sprintf("The specified role definition with ID '%s' does not exist.", deref(p.RoleDefinitionID))
	}
	principal := w.principal(deref(p.PrincipalID))
	switch {
	case principal == "":
		return http.StatusBadRequest, "PrincipalNotFound", fmt.Sprintf("Principal %s does not exist in the directory %s. Check that you have the correct principal ID.", strings.ReplaceAll(deref(p.PrincipalID), "-", ""), Tenant)
	case p.PrincipalType != nil && *p.PrincipalType != armauthorization.PrincipalTypeServicePrincipal:
		return http.StatusBadRequest, "UnmatchedPrincipalType", fmt.Sprintf("The PrincipalId '%s' has type 'ServicePrincipal', which is different from specified PrincipalType '%s'.", strings.ReplaceAll(deref(p.PrincipalID), "-", ""), *p.PrincipalType)
	}
	if !w.scopeExists(scope) {
		return http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The scope '%s' of the role assignment does not exist.", scope)
	}
	for _, a := range w.assignments {
		ap := a.Properties
		if strings.EqualFold(deref(ap.Scope), scope) && strings.EqualFold(deref(ap.RoleDefinitionID), deref(p.RoleDefinitionID)) &&
			deref(ap.PrincipalID) == deref(p.PrincipalID) && !strings.EqualFold(deref(a.Name), name) {
			return http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists."
		}
	}
	return 0, "", ""
}

// principal is the resource ID of the identity whose principal ID is id,
// or "".
func (w *World) principal(id string) string {
	for _, i := range w.identities {
		if deref(i.id.Properties.PrincipalID) == id {
			return deref(i.id.ID)
		}
	}
	return ""
}

// scopeExists reports whether a role assignment's scope is a resource
// group, a storage account or one of its containers that exists.
func (w *World) scopeExists(scope string) bool {
	parts := strings.Split(strings.Trim(scope, "/"), "/")
	// subscriptions/S/resourceGroups/G[/providers/Microsoft.Storage/storageAccounts/A[/blobServices/default/containers/C]]
	if len(parts) < 4 || !strings.EqualFold(parts[1], Subscription) || w.groups[key(parts[3])] == nil {
		return false
	}
	switch len(parts) {
	case 4:
		return true
	case 8, 12:
		s := w.account(parts[3], parts[7])
		if s == nil || !strings.EqualFold(parts[6], "storageAccounts") {
			return false
		}
		return len(parts) == 8 || s.containers[parts[11]] != nil
	}
	return false
}

func (w *World) deleteAssignment(_ context.Context, scope, name string, _ *armauthorization.RoleAssignmentsClientDeleteOptions) (resp azfake.Responder[armauthorization.RoleAssignmentsClientDeleteResponse], errResp azfake.ErrorResponder) {
	scope = "/" + strings.Trim(scope, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	k := strings.ToLower(scope + "/" + name)
	a := w.assignments[k]
	if a == nil {
		resp.SetResponse(http.StatusNoContent, armauthorization.RoleAssignmentsClientDeleteResponse{}, nil)
		return
	}
	delete(w.assignments, k)
	resp.SetResponse(http.StatusOK, armauthorization.RoleAssignmentsClientDeleteResponse{RoleAssignment: *a}, nil)
	return
}

// dropAssignments removes the role assignments at or under a scope, as
// Azure does when that resource goes.
func (w *World) dropAssignments(scope string) {
	for k, a := range w.assignments {
		if s := strings.ToLower(deref(a.Properties.Scope)); s == strings.ToLower(scope) || strings.HasPrefix(s, strings.ToLower(scope)+"/") {
			delete(w.assignments, k)
		}
	}
}

// identityResources are the identities of group (all when ""), as the
// resources API lists them.
func (w *World) identityResources(group string, match func(map[string]*string) bool) []*armresources.GenericResourceExpanded {
	var out []*armresources.GenericResourceExpanded
	for _, k := range sortedKeys(w.identities) {
		i := w.identities[k].id
		if (group == "" || strings.HasPrefix(k, key(group)+"/")) && match(i.Tags) {
			out = append(out, &armresources.GenericResourceExpanded{ID: i.ID, Name: i.Name, Type: i.Type, Location: i.Location, Tags: *clone(&i.Tags)})
		}
	}
	return out
}
