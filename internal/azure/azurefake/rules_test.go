package azurefake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"dhub/internal/azure/azurefake"
)

// code is the Azure error code of err, or "" when it is not one.
func code(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// The rules the fake enforces on what dhub sends for the scratch container,
// each with Azure's error code, through the SDK's own clients.
func TestScratchRulesRefuseWhatAzureRefuses(t *testing.T) {
	ctx := context.Background()
	w := azurefake.New()
	w.AddGroup("rg", "westeurope", nil)
	o := w.Options(nil)
	co := o.ClientOptions
	accounts, _ := armstorage.NewAccountsClient(azurefake.Subscription, o.Credential, &co)
	containers, _ := armstorage.NewBlobContainersClient(azurefake.Subscription, o.Credential, &co)
	identities, _ := armmsi.NewUserAssignedIdentitiesClient(azurefake.Subscription, o.Credential, &co)
	creds, _ := armmsi.NewFederatedIdentityCredentialsClient(azurefake.Subscription, o.Credential, &co)
	roles, _ := armauthorization.NewRoleAssignmentsClient(azurefake.Subscription, o.Credential, &co)

	create := func(name string) error {
		p, err := accounts.BeginCreate(ctx, "rg", name, armstorage.AccountCreateParameters{Location: to.Ptr("westeurope"), Kind: to.Ptr(armstorage.KindStorageV2),
			SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}, Properties: &armstorage.AccountPropertiesCreateParameters{AllowBlobPublicAccess: to.Ptr(false)}}, nil)
		if err != nil {
			return err
		}
		_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond})
		return err
	}
	w.TakeStorageName("takenname")
	if c := code(create("Has-Upper")); c != "AccountNameInvalid" {
		t.Errorf("invalid name: %q", c)
	}
	if c := code(create("takenname")); c != "StorageAccountAlreadyTaken" {
		t.Errorf("taken name: %q", c)
	}
	if err := create("goodname1"); err != nil {
		t.Fatal(err)
	}
	_, err := containers.Create(ctx, "rg", "goodname1", "public", armstorage.BlobContainer{ContainerProperties: &armstorage.ContainerProperties{PublicAccess: to.Ptr(armstorage.PublicAccessBlob)}}, nil)
	if c := code(err); c != "PublicAccessNotPermitted" {
		t.Errorf("a public container where public access is off: %q", c)
	}
	if _, err := containers.Create(ctx, "rg", "goodname1", "scratch", armstorage.BlobContainer{}, nil); err != nil {
		t.Fatal(err)
	}

	id, err := identities.CreateOrUpdate(ctx, "rg", "id1", armmsi.Identity{Location: to.Ptr("westeurope")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred := func(name, issuer string, auds ...string) error {
		_, err := creds.CreateOrUpdate(ctx, "rg", "id1", name, armmsi.FederatedIdentityCredential{Properties: &armmsi.FederatedIdentityCredentialProperties{
			Issuer: to.Ptr(issuer), Subject: to.Ptr("system:serviceaccount:ns:sa"), Audiences: to.SliceOfPtrs(auds...)}}, nil)
		return err
	}
	for _, bad := range []error{
		cred("cred1", "http://issuer.example/", "api://AzureADTokenExchange"),
		cred("cred1", "https://issuer.example/", "a", "b"),
		cred("-c", "https://issuer.example/", "api://AzureADTokenExchange"),
	} {
		if c := code(bad); c != "BadRequest" {
			t.Errorf("a credential Azure refuses: %q (%v)", c, bad)
		}
	}
	if err := cred("cred1", "https://issuer.example/", "api://AzureADTokenExchange"); err != nil {
		t.Fatal(err)
	}
	if c := code(cred("cred2", "https://issuer.example/", "api://AzureADTokenExchange")); c != "BadRequest" {
		t.Errorf("a second credential with the same issuer and subject: %q", c)
	}

	scope := "/subscriptions/" + azurefake.Subscription + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/goodname1/blobServices/default/containers/scratch"
	role := "/subscriptions/" + azurefake.Subscription + "/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"
	assign := func(scope, name, principal string) error {
		_, err := roles.Create(ctx, scope, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
			PrincipalID: to.Ptr(principal), RoleDefinitionID: to.Ptr(role), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil)
		return err
	}
	principal := *id.Properties.PrincipalID
	for want, err := range map[string]error{
		"InvalidRoleAssignmentId": assign(scope, "not-a-guid", principal),
		"PrincipalNotFound":       assign(scope, "0b6f1a8e-5d0c-4c8a-9a3e-1f2d3c4b5a69", "00000000-0000-0000-0000-000000000001"),
		"ResourceNotFound":        assign(scope+"x", "0b6f1a8e-5d0c-4c8a-9a3e-1f2d3c4b5a69", principal),
	} {
		if c := code(err); c != want {
			t.Errorf("role assignment: %q, want %s", c, want)
		}
	}
	if err := assign(scope, "0b6f1a8e-5d0c-4c8a-9a3e-1f2d3c4b5a69", principal); err != nil {
		t.Fatal(err)
	}
	if c := code(assign(scope, "1b6f1a8e-5d0c-4c8a-9a3e-1f2d3c4b5a69", principal)); c != "RoleAssignmentExists" {
		t.Errorf("the same role twice: %q", c)
	}
}
