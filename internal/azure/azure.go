// Package azure is dhub's Azure target: the resource group, the AKS managed
// cluster with its node pools, the cluster's user credentials, the hub's
// cost budget, its scratch storage with the workload identity that reaches
// it, and their deletion, through the Azure SDK for Go (Azure Resource
// Manager).
//
// Everything here is a value first: Plan reads what exists (GETs only) and
// returns a typed plan; Apply executes it, waiting for long-running
// operations with progress on Options.Progress; Down deletes only what dhub
// created (tagged TagHub and TagManaged). Every request goes through the
// SDK's pipeline, so tests put the SDK's fake servers behind
// Options.ClientOptions.Transport and exercise the real clients, retries and
// pollers. This is the only package that imports the Azure SDK.
package azure

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"dhub/internal/azure/prices"
)

// The tags dhub puts on what it creates. Down deletes nothing without them.
const (
	// TagHub holds the hub's name.
	TagHub = "dhub-hub"
	// TagManaged is "true" on every resource dhub created or manages.
	TagManaged = "dhub-managed"
	// TagCreatedGroup is "true" only on a resource group dhub created: only
	// such a group is deleted by down.
	TagCreatedGroup = "dhub-created-rg"
)

// Options configure a Client. Credential and Subscription are required;
// everything else has a production default.
type Options struct {
	// Credential signs every request (DefaultAzureCredential in the CLI).
	Credential azcore.TokenCredential
	// Subscription is the Azure subscription id.
	Subscription string
	// ClientOptions are passed to every SDK client. Tests set
	// ClientOptions.Transport to the SDK's fake servers. Retry configures
	// dhub's retry policy, which takes the place of azcore's (a zero Retry
	// is replaced by DefaultRetry); resource provider auto-registration is
	// always off, so a missing registration is reported with its fix.
	ClientOptions arm.ClientOptions
	// PollFrequency is the pause between two polls of a long-running
	// operation (unless Azure asks for a longer one with Retry-After) and
	// between two reads while waiting for another operation to finish.
	// Default 10s; tests use milliseconds.
	PollFrequency time.Duration
	// ConflictWait is the first pause after 409 OperationNotAllowed
	// (another operation is in progress on the resource); it doubles up to
	// 8 times the first. Default 15s.
	ConflictWait time.Duration
	// WaitTimeout bounds each wait for an operation dhub did not start (an
	// earlier run's, or the one that made Azure answer 409). Default 60m.
	WaitTimeout time.Duration
	// ProgressEvery is how often a long operation reports that it is still
	// running; a change of state is always reported. Default 30s; a
	// negative value reports every poll.
	ProgressEvery time.Duration
	// Progress receives progress lines (resource, state, elapsed); nil
	// discards them.
	Progress io.Writer
	// Now is the clock for elapsed times; nil means time.Now.
	Now func() time.Time
	// Sleep pauses for d, or until ctx is done (returning its error); nil
	// means a timer. Every pause dhub makes goes through it: between two
	// polls, after 409 OperationNotAllowed, and before a request that was
	// throttled (429), failed (408, 5xx) or got no answer is sent again.
	// Tests record the pauses asked for instead of timing them.
	Sleep func(ctx context.Context, d time.Duration) error
	// Prices reads the Azure Retail Prices API for the plan's monthly
	// cost estimate; nil means no estimate (DefaultOptions sets the real
	// API with a day's cache; tests a local server).
	Prices *prices.Client
	// GraphEndpoint is Microsoft Graph's address; default GraphEndpoint
	// (tests: a local fake Graph).
	GraphEndpoint string
	// GraphTransport sends Graph's requests; nil means
	// ClientOptions.Transport (tests: the fake Graph's HTTPS client, while
	// ARM goes to the SDK's fake servers).
	GraphTransport policy.Transporter
}

// DefaultRetry is the retry policy for every request: 408, 429 and 5xx
// answers are retried with exponential backoff, honouring Retry-After.
var DefaultRetry = policy.RetryOptions{
	MaxRetries:    6,
	RetryDelay:    2 * time.Second,
	MaxRetryDelay: 2 * time.Minute,
}

// Client talks to Azure Resource Manager for one subscription.
type Client struct {
	o         Options
	groups    *armresources.ResourceGroupsClient
	resources *armresources.Client
	clusters  *armcontainerservice.ManagedClustersClient
	pools     *armcontainerservice.AgentPoolsClient
	providers *armresources.ProvidersClient
	skus      *armcompute.ResourceSKUsClient
	usages    *armcompute.UsageClient
	dns       *armnetwork.ManagementClient
	publicIPs *armnetwork.PublicIPAddressesClient
	budgets   *armconsumption.BudgetsClient
	// The scratch container's: its account, container and lifecycle
	// policy; the identity, its federated credential and role.
	accounts    *armstorage.AccountsClient
	containers  *armstorage.BlobContainersClient
	policies    *armstorage.ManagementPoliciesClient
	identities  *armmsi.UserAssignedIdentitiesClient
	credentials *armmsi.FederatedIdentityCredentialsClient
	assignments *armauthorization.RoleAssignmentsClient
	graph       *graph
}

// New returns a Client; it makes no request.
func New(o Options) (*Client, error) {
	if o.Credential == nil {
		return nil, errors.New("azure: no credential")
	}
	if o.Subscription == "" {
		return nil, errors.New("azure: no subscription")
	}
	if o.PollFrequency <= 0 {
		o.PollFrequency = 10 * time.Second
	}
	if o.ConflictWait <= 0 {
		o.ConflictWait = 15 * time.Second
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 60 * time.Minute
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	co := o.ClientOptions
	retry := co.Retry
	if retry.MaxRetries == 0 && retry.RetryDelay == 0 && retry.MaxRetryDelay == 0 {
		retry = DefaultRetry
	}
	// dhub's retry policy runs where azcore's would, just before it, and
	// azcore's makes one try.
	co.PerCallPolicies = append(slices.Clip(co.PerCallPolicies), newRetryPolicy(retry, o.Sleep, o.Now))
	co.Retry = policy.RetryOptions{MaxRetries: -1}
	co.DisableRPRegistration = true
	o.ClientOptions = co

	c := &Client{o: o}
	var err error
	if c.groups, err = armresources.NewResourceGroupsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.resources, err = armresources.NewClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.clusters, err = armcontainerservice.NewManagedClustersClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.pools, err = armcontainerservice.NewAgentPoolsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.providers, err = armresources.NewProvidersClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.skus, err = armcompute.NewResourceSKUsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.usages, err = armcompute.NewUsageClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.dns, err = armnetwork.NewManagementClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.publicIPs, err = armnetwork.NewPublicIPAddressesClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.budgets, err = armconsumption.NewBudgetsClient(o.Credential, &co); err != nil {
		return nil, err
	}
	if c.accounts, err = armstorage.NewAccountsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.containers, err = armstorage.NewBlobContainersClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.policies, err = armstorage.NewManagementPoliciesClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.identities, err = armmsi.NewUserAssignedIdentitiesClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.credentials, err = armmsi.NewFederatedIdentityCredentialsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	if c.assignments, err = armauthorization.NewRoleAssignmentsClient(o.Subscription, o.Credential, &co); err != nil {
		return nil, err
	}
	c.graph = newGraph(o)
	return c, nil
}
