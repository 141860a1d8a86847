// Package azurefake is an in-memory Azure for tests. It implements the Azure
// SDK's own fake servers (armresources, armcontainerservice, armcompute,
// armnetwork and armconsumption fakes) over a small state of resource
// groups, managed clusters, node pools, budgets and what the subscription
// is offered, so that the
// real SDK clients, pipeline, retry policy and pollers run against it and
// every GET reflects the writes before it. It refuses what AKS refuses
// (rules.go), with Azure's error bodies. It also scripts faults (any
// status, Azure error code, message and Retry-After) and logs every
// request, for tests that count writes or compare request bodies.
package azurefake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	authfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2/fake"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7/fake"
	consumptionfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/consumption/armconsumption/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
	csfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9/fake"
	msifake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi/fake"
	netfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v8/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"
	rfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3/fake"
	storagefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/fake"

	"dhub/internal/azure"
)

// Subscription is the subscription id of every World.
const Subscription = "00000000-0000-0000-0000-00000000ab12"

// DefaultKubeconfig is what the credentials API returns unless a test sets
// World.Kubeconfig: a kubeconfig in AKS's shape with a fake server and token.
const DefaultKubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ZmFrZS1jYQ==
    server: https://pangeo-hub-fake.hcp.westeurope.azmk8s.io:443
  name: pangeoCluster
contexts:
- context:
    cluster: pangeoCluster
    user: clusterUser_pangeo_pangeoCluster
  name: pangeoCluster
current-context: pangeoCluster
users:
- name: clusterUser_pangeo_pangeoCluster
  user:
    token: fake-user-token
`

// Request is one request that reached the fake, in order.
type Request struct {
	Method string
	// Path is the URL path with its query (api-version).
	Path string
	// API is the SDK method, e.g. "ManagedClustersClient.BeginCreateOrUpdate".
	API  string
	Body []byte
	// Status is the status of a scripted fault's answer, 0 when the fake
	// servers answered.
	Status int
}

// IsWrite reports whether the request changes something: PUT, PATCH,
// DELETE, or a POST that acts (register a provider, start or stop a
// cluster); LRO polls and the credentials POST are not writes.
func (r Request) IsWrite() bool {
	switch r.Method {
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	case http.MethodPost:
		p, _, _ := strings.Cut(r.Path, "?")
		return strings.HasSuffix(p, "/register") || strings.HasSuffix(p, "/start") || strings.HasSuffix(p, "/stop")
	}
	return false
}

// Fault is a scripted answer to the requests that match it.
type Fault struct {
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path must occur in the URL path (polls of an LRO match too, unless
	// Method excludes them).
	Path string
	// Times is how many requests the fault answers; 0 means 1.
	Times int
	// Status, Code and Message make the answer: an Azure error body
	// {"error":{"code":..., "message":...}}.
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	hits       int
}

type pending struct {
	state string
	gets  int
}

// World is the fake Azure. The zero value is not usable; call New.
type World struct {
	// LROSteps is how many "InProgress" polls each long-running operation
	// answers before its result (default 2).
	LROSteps int
	// SettleGets is how many GETs a cluster or pool still shows Creating or
	// Updating after a write was accepted, as when Azure runs the operation
	// on after the client is gone (default 0).
	SettleGets int
	// Kubeconfig is the cluster user kubeconfig; DefaultKubeconfig if nil.
	Kubeconfig []byte
	// OnRequest is called after each request is answered.
	OnRequest func(Request)
	// Now is the fake's clock (what "this month" is to the budgets API)
	// and the clock of the Options it returns; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex
	rules
	groups   map[string]*armresources.ResourceGroup
	clusters map[string]*armcontainerservice.ManagedCluster
	pools    map[string][]*armcontainerservice.AgentPool // by cluster key, in creation order
	others   []*armresources.GenericResourceExpanded
	pending  map[string]*pending
	failLRO  map[string]failure
	faults   []*Fault
	requests []Request
	factory  http.RoundTripper
	// budgets are the subscription's budgets by lower-case name;
	// budgetOffer, when set, is an offer id Cost Management refuses.
	budgets     map[string]*budget
	budgetOffer string
	// storage are the storage accounts by name (unique across Azure);
	// storageTaken are names others hold.
	storage      map[string]*storageAccount
	storageTaken map[string]bool
	identities   map[string]*identity // by key(group, name)
	// assignments are role assignments by lower-case scope/name.
	assignments map[string]*armauthorization.RoleAssignment
}

// New returns an empty World.
func New() *World {
	return &World{
		LROSteps: 2,
		groups:   map[string]*armresources.ResourceGroup{},
		clusters: map[string]*armcontainerservice.ManagedCluster{},
		pools:    map[string][]*armcontainerservice.AgentPool{},
		pending:  map[string]*pending{},
		failLRO:  map[string]failure{},
		rules:    newRules(),
		budgets:  map[string]*budget{},
		storage:  map[string]*storageAccount{}, storageTaken: map[string]bool{},
		identities: map[string]*identity{}, assignments: map[string]*armauthorization.RoleAssignment{},
	}
}

// now is the fake's clock.
func (w *World) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Options returns azure.Options that reach this World through the SDK's
// fake transports, with millisecond polls and retry delays (a Retry-After
// of up to 2 s is honoured).
func (w *World) Options(progress io.Writer) azure.Options {
	return azure.Options{
		Credential:   &azfake.TokenCredential{},
		Subscription: Subscription,
		ClientOptions: arm.ClientOptions{ClientOptions: policy.ClientOptions{
			Transport: w.Transport(),
			Retry:     policy.RetryOptions{MaxRetries: 4, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
		}},
		PollFrequency: time.Millisecond,
		ConflictWait:  time.Millisecond,
		Now:           w.now,
		WaitTimeout:   10 * time.Second,
		Progress:      progress,
	}
}

// AddFault scripts a fault; faults are matched in the order added.
func (w *World) AddFault(f *Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.faults = append(w.faults, f)
}

// failure is how a long-running operation ends Failed.
type failure struct{ code, message string }

// FailLRO makes the next long-running operation whose path contains path
// fail while it is polled, with Azure error code code and message; the
// resource is left in provisioningState Failed. Azure answers the last
// poll 200 with {"status": "Failed", "error": {...}}, as it does.
func (w *World) FailLRO(path, code, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failLRO[path] = failure{code, message}
}

// Requests returns every request so far.
func (w *World) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.requests...)
}

// Writes returns the writes (PUT, PATCH, DELETE) the fake servers answered
// (scripted faults excluded).
func (w *World) Writes() []Request {
	var out []Request
	for _, r := range w.Requests() {
		if r.IsWrite() && r.Status == 0 {
			out = append(out, r)
		}
	}
	return out
}

// ResetLog forgets the requests so far.
func (w *World) ResetLog() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = nil
}

// Versions reads every resource group (but the node resource groups AKS
// manages itself), managed cluster (without its pools) and node pool as it
// is stored, keyed "resource group NAME", "managed
// cluster NAME" and "node pool NAME", each with its content as a version:
// a test compares two readings to see which resources a run changed.
func (w *World) Versions() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	version := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	for _, g := range w.groups {
		if g.ManagedBy == nil {
			out["resource group "+deref(g.Name)] = version(g)
		}
	}
	for k, mc := range w.clusters {
		out["managed cluster "+deref(mc.Name)] = version(mc)
		for _, p := range w.pools[k] {
			out["node pool "+deref(p.Name)] = version(p)
		}
	}
	for name, s := range w.storage {
		out["storage account "+name] = version(s.a)
		for c, bc := range s.containers {
			out["blob container "+c] = version(bc)
		}
		if s.policy != nil {
			for _, r := range s.policy.Properties.Policy.Rules {
				out["lifecycle rule "+deref(r.Name)] = version(r)
			}
		}
	}
	for _, i := range w.identities {
		out["managed identity "+deref(i.id.Name)] = version(i.id)
		for n, c := range i.creds {
			out["federated credential "+n] = version(c)
		}
	}
	for _, a := range w.assignments {
		// Named as dhub's plans name them: the role, and the container
		// its scope ends with.
		role := builtInRoles[strings.ToLower(path.Base(deref(a.Properties.RoleDefinitionID)))]
		out["role assignment "+role+" on container "+path.Base(deref(a.Properties.Scope))] = version(a)
	}
	return out
}

// AddGroup puts a resource group in the World, as if made outside dhub.
func (w *World) AddGroup(name, location string, tags map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.groups[key(name)] = &armresources.ResourceGroup{
		ID: to.Ptr(groupID(name)), Name: to.Ptr(name), Type: to.Ptr("Microsoft.Resources/resourceGroups"),
		Location: to.Ptr(location), Tags: ptrMap(tags),
		Properties: &armresources.ResourceGroupProperties{ProvisioningState: to.Ptr("Succeeded")},
	}
}

// AddResource puts a resource of type typ in a group, as if made outside dhub.
func (w *World) AddResource(group, typ, name string, tags map[string]string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.others = append(w.others, &armresources.GenericResourceExpanded{
		ID: to.Ptr(groupID(group) + "/providers/" + typ + "/" + name), Name: to.Ptr(name), Type: to.Ptr(typ),
		Tags: ptrMap(tags),
	})
}

// Group returns a copy of a resource group, or nil.
func (w *World) Group(name string) *armresources.ResourceGroup {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.groups[key(name)]
	if g == nil {
		return nil
	}
	return clone(g)
}

// Cluster returns a copy of a managed cluster with its pools, or nil.
func (w *World) Cluster(group, name string) *armcontainerservice.ManagedCluster {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clusterView(key(group, name), false)
}

// EditCluster changes a stored cluster in place (to set up a test).
func (w *World) EditCluster(group, name string, f func(*armcontainerservice.ManagedCluster)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if mc := w.clusters[key(group, name)]; mc != nil {
		f(mc)
	}
}

// EditPool changes a stored pool in place (to set up a test).
func (w *World) EditPool(group, cluster, name string, f func(*armcontainerservice.ManagedClusterAgentPoolProfileProperties)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.pools[key(group, cluster)] {
		if deref(p.Name) == name {
			f(p.Properties)
		}
	}
}

// SetPending makes the next gets GETs of a cluster (pool empty) or pool
// show state, as when an operation runs in Azure.
func (w *World) SetPending(group, cluster, pool, state string, gets int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(group, cluster)
	if pool != "" {
		k = key(group, cluster, pool)
	}
	w.pending[k] = &pending{state: state, gets: gets}
}

// Transport returns the transport that serves the SDK clients: scripted
// faults first, then the SDK's fake server factories of armresources and
// armcontainerservice.
func (w *World) Transport() policy.Transporter { return transport{w} }

type transport struct{ w *World }

// Do answers one request: a scripted fault, or the fake servers.
func (t transport) Do(req *http.Request) (*http.Response, error) {
	w := t.w
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	r := Request{Method: req.Method, Path: req.URL.Path, API: api, Body: body}
	if req.URL.RawQuery != "" {
		r.Path += "?" + req.URL.RawQuery
	}

	w.mu.Lock()
	var fault *Fault
	for _, f := range w.faults {
		times := max(f.Times, 1)
		if f.hits < times && (f.Method == "" || f.Method == req.Method) && strings.Contains(req.URL.Path, f.Path) {
			f.hits++
			fault = f
			break
		}
	}
	if fault != nil {
		r.Status = fault.Status
	}
	w.requests = append(w.requests, r)
	w.mu.Unlock()

	var resp *http.Response
	var err error
	if fault != nil {
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": fault.Code, "message": fault.Message}})
		resp = &http.Response{
			StatusCode: fault.Status, Status: fmt.Sprintf("%d %s", fault.Status, http.StatusText(fault.Status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {fault.Code}},
			Body:    io.NopCloser(bytes.NewReader(b)),
			Request: req, ContentLength: int64(len(b)),
		}
		if fault.RetryAfter != "" {
			resp.Header.Set("Retry-After", fault.RetryAfter)
		}
	} else {
		resp, err = w.serve(req)
		resp, err = w.withBody(req, resp, err)
	}
	if w.OnRequest != nil {
		w.OnRequest(r)
	}
	return resp, err
}

func (w *World) serve(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	if w.factory == nil {
		w.factory = router{
			rs: rfake.NewServerFactoryTransport(&rfake.ServerFactory{
				ResourceGroupsServer: rfake.ResourceGroupsServer{
					Get: w.getGroup, CreateOrUpdate: w.putGroup, BeginDelete: w.deleteGroup, NewListPager: w.listGroups,
				},
				Server:          rfake.Server{NewListPager: w.listResources, NewListByResourceGroupPager: w.listGroupResources},
				ProvidersServer: rfake.ProvidersServer{Get: w.getProvider, Register: w.registerProvider},
			}),
			compute: computefake.NewServerFactoryTransport(&computefake.ServerFactory{
				ResourceSKUsServer: computefake.ResourceSKUsServer{NewListPager: w.listSKUs},
				UsageServer:        computefake.UsageServer{NewListPager: w.listUsages},
			}),
			network: netfake.NewServerFactoryTransport(&netfake.ServerFactory{
				ManagementServer:        netfake.ManagementServer{CheckDNSNameAvailability: w.checkDNS},
				PublicIPAddressesServer: netfake.PublicIPAddressesServer{NewListPager: w.listPublicIPs},
			}),
			consumption: consumptionfake.NewServerFactoryTransport(&consumptionfake.ServerFactory{
				BudgetsServer: consumptionfake.BudgetsServer{Get: w.getBudget, CreateOrUpdate: w.putBudget, Delete: w.deleteBudget},
			}),
			storage: storagefake.NewServerFactoryTransport(&storagefake.ServerFactory{
				AccountsServer: storagefake.AccountsServer{
					CheckNameAvailability: w.checkStorageName, GetProperties: w.getStorage, BeginCreate: w.createStorage, Delete: w.deleteStorage,
				},
				BlobContainersServer:     storagefake.BlobContainersServer{Create: w.createContainer, Get: w.getContainer},
				ManagementPoliciesServer: storagefake.ManagementPoliciesServer{Get: w.getPolicy, CreateOrUpdate: w.putPolicy},
			}),
			msi: msifake.NewServerFactoryTransport(&msifake.ServerFactory{
				UserAssignedIdentitiesServer:       msifake.UserAssignedIdentitiesServer{Get: w.getIdentity, CreateOrUpdate: w.putIdentity, Delete: w.deleteIdentity},
				FederatedIdentityCredentialsServer: msifake.FederatedIdentityCredentialsServer{Get: w.getCredential, CreateOrUpdate: w.putCredential},
			}),
			authorization: authfake.NewServerFactoryTransport(&authfake.ServerFactory{
				RoleAssignmentsServer: authfake.RoleAssignmentsServer{Get: w.getAssignment, Create: w.createAssignment, Delete: w.deleteAssignment},
			}),
			cs: csfake.NewServerFactoryTransport(&csfake.ServerFactory{
				ManagedClustersServer: csfake.ManagedClustersServer{
					Get: w.getCluster, BeginCreateOrUpdate: w.putCluster, BeginDelete: w.deleteCluster,
					ListClusterUserCredentials: w.userCredentials, ListKubernetesVersions: w.listVersions,
					BeginStart: w.startCluster,
				},
				AgentPoolsServer: csfake.AgentPoolsServer{
					Get: w.getPool, BeginCreateOrUpdate: w.putPool, BeginDelete: w.deletePool, NewListPager: w.listPools,
				},
			}),
		}
	}
	f := w.factory
	w.mu.Unlock()
	resp, err := f.RoundTrip(req)
	if err != nil && strings.HasSuffix(req.URL.Path, "/get/fake/status") {
		// The SDK's fake servers keep a poller that ended in an error
		// under its path, and would answer the next write to the same
		// path from it: start afresh, as Azure would.
		w.mu.Lock()
		w.factory = nil
		w.mu.Unlock()
	}
	return resp, err
}

// withBody turns an error of the SDK's fake servers (a status and a code,
// no body) into the answer Azure sends: the status, x-ms-error-code and
// {"error": {"code", "message"}}; a long-running operation that failed
// answers its poll 200 with {"status": "Failed", "error": {...}}. The SDK
// then reads the error from the answer, as it does from Azure's.
func (w *World) withBody(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	var re *azcore.ResponseError
	if err == nil || !errors.As(err, &re) {
		return resp, err
	}
	e := map[string]string{"code": re.ErrorCode, "message": w.message(re.ErrorCode)}
	status := re.StatusCode
	header := http.Header{"Content-Type": {"application/json"}}
	var body any = map[string]any{"error": e}
	if strings.HasSuffix(req.URL.Path, "/get/fake/status") && status < 300 {
		body = map[string]any{"name": "fake-operation", "status": "Failed", "error": e}
		header.Set("Fake-Poller-Status", "Failed")
	} else {
		header.Set("X-Ms-Error-Code", re.ErrorCode)
	}
	b, _ := json.Marshal(body)
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: header,
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
	}, nil
}

// router sends ARM requests to the fake server factory of their module.
type router struct {
	rs, cs, compute, network, consumption, storage, msi, authorization policy.Transporter
}

// providerRE matches the resource providers API: a provider, or its
// register action.
var providerRE = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/providers/[^/]+(/register)?$`)

// RoundTrip routes by resource provider.
func (r router) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	switch {
	case providerRE.MatchString(p):
		return r.rs.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Authorization/"):
		// Before Microsoft.Storage: a role assignment's scope may be a
		// storage container.
		return r.authorization.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Storage/"):
		return r.storage.Do(req)
	case strings.Contains(p, "/providers/Microsoft.ManagedIdentity/"):
		return r.msi.Do(req)
	case strings.Contains(p, "/providers/Microsoft.ContainerService/"):
		return r.cs.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Compute/"):
		return r.compute.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Network/"):
		return r.network.Do(req)
	case strings.Contains(p, "/providers/Microsoft.Consumption/"):
		return r.consumption.Do(req)
	}
	return r.rs.Do(req)
}

// --- resource groups --------------------------------------------------------

func (w *World) getGroup(_ context.Context, name string, _ *armresources.ResourceGroupsClientGetOptions) (resp azfake.Responder[armresources.ResourceGroupsClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.groups[key(name)]
	if p := w.pending["group:"+key(name)]; g != nil && p != nil {
		if p.gets > 0 {
			p.gets--
			out := clone(g)
			out.Properties = &armresources.ResourceGroupProperties{ProvisioningState: to.Ptr(p.state)}
			resp.SetResponse(http.StatusOK, armresources.ResourceGroupsClientGetResponse{ResourceGroup: *out}, nil)
			return
		}
		delete(w.pending, "group:"+key(name))
		if p.state == "Deleting" {
			delete(w.groups, key(name))
			for k := range w.clusters {
				if strings.HasPrefix(k, key(name)+"/") {
					w.dropCluster(k)
				}
			}
			w.others = dropIn(w.others, name)
			g = nil
		}
	}
	if g == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceGroupNotFound")
		return
	}
	resp.SetResponse(http.StatusOK, armresources.ResourceGroupsClientGetResponse{ResourceGroup: *clone(g)}, nil)
	return
}

// SetGroupPending makes the next gets GETs of a resource group show state;
// a group left Deleting is gone after them, as when an earlier delete ends.
func (w *World) SetGroupPending(name, state string, gets int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending["group:"+key(name)] = &pending{state: state, gets: gets}
}

func (w *World) putGroup(_ context.Context, name string, rg armresources.ResourceGroup, _ *armresources.ResourceGroupsClientCreateOrUpdateOptions) (resp azfake.Responder[armresources.ResourceGroupsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	status := http.StatusCreated
	if old := w.groups[key(name)]; old != nil {
		status = http.StatusOK
		if !strings.EqualFold(deref(old.Location), deref(rg.Location)) {
			errResp.SetResponseError(http.StatusConflict, "InvalidResourceGroupLocation")
			return
		}
	}
	g := clone(&rg)
	g.ID, g.Name, g.Type = to.Ptr(groupID(name)), to.Ptr(name), to.Ptr("Microsoft.Resources/resourceGroups")
	g.Properties = &armresources.ResourceGroupProperties{ProvisioningState: to.Ptr("Succeeded")}
	w.groups[key(name)] = g
	resp.SetResponse(status, armresources.ResourceGroupsClientCreateOrUpdateResponse{ResourceGroup: *clone(g)}, nil)
	return
}

func (w *World) deleteGroup(_ context.Context, name string, _ *armresources.ResourceGroupsClientBeginDeleteOptions) (resp azfake.PollerResponder[armresources.ResourceGroupsClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.groups[key(name)] == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceGroupNotFound")
		return
	}
	delete(w.groups, key(name))
	for k := range w.clusters {
		if strings.HasPrefix(k, key(name)+"/") {
			w.dropCluster(k)
		}
	}
	w.others = dropIn(w.others, name)
	for n, s := range w.storage {
		if strings.EqualFold(s.group, name) {
			delete(w.storage, n)
		}
	}
	for k := range w.identities {
		if strings.HasPrefix(k, key(name)+"/") {
			delete(w.identities, k)
		}
	}
	w.dropAssignments(groupID(name))
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusAccepted)
	resp.SetTerminalResponse(http.StatusOK, armresources.ResourceGroupsClientDeleteResponse{}, nil)
	return
}

func (w *World) listGroups(o *armresources.ResourceGroupsClientListOptions) (resp azfake.PagerResponder[armresources.ResourceGroupsClientListResponse]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	match := tagFilter(o.Filter)
	var page armresources.ResourceGroupListResult
	for _, k := range sortedKeys(w.groups) {
		if g := w.groups[k]; match(g.Tags) {
			page.Value = append(page.Value, clone(g))
		}
	}
	resp.AddPage(http.StatusOK, armresources.ResourceGroupsClientListResponse{ResourceGroupListResult: page}, nil)
	return
}

func (w *World) listResources(o *armresources.ClientListOptions) (resp azfake.PagerResponder[armresources.ClientListResponse]) {
	var f *string
	if o != nil {
		f = o.Filter
	}
	resp.AddPage(http.StatusOK, armresources.ClientListResponse{ResourceListResult: armresources.ResourceListResult{Value: w.resources("", tagFilter(f))}}, nil)
	return
}

func (w *World) listGroupResources(group string, _ *armresources.ClientListByResourceGroupOptions) (resp azfake.PagerResponder[armresources.ClientListByResourceGroupResponse]) {
	resp.AddPage(http.StatusOK, armresources.ClientListByResourceGroupResponse{ResourceListResult: armresources.ResourceListResult{Value: w.resources(group, func(map[string]*string) bool { return true })}}, nil)
	return
}

// resources lists the clusters and other resources (of group, or all).
func (w *World) resources(group string, match func(map[string]*string) bool) []*armresources.GenericResourceExpanded {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*armresources.GenericResourceExpanded
	for _, k := range sortedKeys(w.clusters) {
		mc := w.clusters[k]
		if (group == "" || strings.HasPrefix(k, key(group)+"/")) && match(mc.Tags) {
			out = append(out, &armresources.GenericResourceExpanded{ID: mc.ID, Name: mc.Name, Type: mc.Type, Location: mc.Location, Tags: *clone(&mc.Tags)})
		}
	}
	out = append(out, w.storageResources(group, match)...)
	out = append(out, w.identityResources(group, match)...)
	for _, r := range w.others {
		if (group == "" || strings.HasPrefix(strings.ToLower(deref(r.ID)), strings.ToLower(groupID(group))+"/")) && match(r.Tags) {
			out = append(out, clone(r))
		}
	}
	return out
}

// --- managed clusters -------------------------------------------------------

func (w *World) getCluster(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientGetOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	mc := w.clusterView(key(group, name), true)
	if mc == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientGetResponse{ManagedCluster: *mc}, nil)
	return
}

func (w *World) putCluster(_ context.Context, group, name string, in armcontainerservice.ManagedCluster, _ *armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(group, name)
	if w.groups[key(group)] == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceGroupNotFound")
		return
	}
	if p := w.pending[k]; p != nil && p.gets > 0 {
		errResp.SetResponseError(http.StatusConflict, "OperationNotAllowed")
		return
	}
	old := w.clusters[k]
	if status, code, msg := w.clusterRules(group, name, &in, old); status != 0 {
		w.refuse(&errResp, status, code, msg)
		return
	}
	mc := clone(&in)
	mc.ID = to.Ptr(groupID(group) + "/providers/Microsoft.ContainerService/managedClusters/" + name)
	mc.Name, mc.Type = to.Ptr(name), to.Ptr("Microsoft.ContainerService/ManagedClusters")
	if mc.Properties == nil {
		mc.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	pr := mc.Properties
	if deref(pr.KubernetesVersion) == "" {
		pr.KubernetesVersion = to.Ptr(DefaultKubernetesVersion)
	}
	version := patchOf(deref(pr.KubernetesVersion))
	pr.CurrentKubernetesVersion = to.Ptr(version)
	pr.Fqdn = to.Ptr(deref(pr.DNSPrefix) + "-fake.hcp." + deref(mc.Location) + ".azmk8s.io")
	pr.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	if old != nil && old.Properties != nil && old.Properties.PowerState != nil {
		pr.PowerState = old.Properties.PowerState // a PUT does not start a stopped cluster
	}
	pr.NodeResourceGroup = to.Ptr(fmt.Sprintf("MC_%s_%s_%s", group, name, deref(mc.Location)))
	if pr.NetworkProfile != nil {
		// Azure fills in what was left out.
		pr.NetworkProfile.ServiceCidr = to.Ptr("10.0.0.0/16")
		pr.NetworkProfile.DNSServiceIP = to.Ptr("10.0.0.10")
		pr.NetworkProfile.PodCidr = to.Ptr("10.244.0.0/16")
		pr.NetworkProfile.OutboundType = to.Ptr(armcontainerservice.OutboundTypeLoadBalancer)
	}
	if o := pr.OidcIssuerProfile; o != nil && deref(o.Enabled) {
		o.IssuerURL = to.Ptr(fmt.Sprintf("https://%s.oic.prod-aks.azure.com/%s/%s/", deref(mc.Location), Tenant, fakeUUID("issuer:"+deref(mc.ID))))
	}
	if mc.Identity != nil {
		mc.Identity.PrincipalID = to.Ptr("11111111-2222-3333-4444-555555555555")
	}
	var pools []*armcontainerservice.AgentPool
	for _, ap := range pr.AgentPoolProfiles {
		props := convert[armcontainerservice.ManagedClusterAgentPoolProfileProperties](ap)
		poolVersion := version
		if prev := w.findPool(group, name, deref(ap.Name)); prev != nil && deref(props.OrchestratorVersion) == "" {
			// A cluster-level upgrade moves only the control plane
			// unless a pool asks for its own version.
			poolVersion = deref(prev.Properties.CurrentOrchestratorVersion)
		}
		if v := deref(props.OrchestratorVersion); v != "" {
			poolVersion = patchOf(v)
		}
		pools = append(pools, w.storePool(group, name, deref(ap.Name), props, poolVersion))
	}
	if old != nil && len(pr.AgentPoolProfiles) == 0 {
		pools = w.pools[k] // an update that leaves the pools out keeps them
	}
	pr.AgentPoolProfiles = nil
	pr.ProvisioningState = to.Ptr("Succeeded")
	w.clusters[k] = mc
	w.pools[k] = pools
	state := "Creating"
	if old != nil {
		state = "Updating"
	} else {
		// AKS makes the node resource group, tagged like the cluster.
		w.groups[key(deref(pr.NodeResourceGroup))] = &armresources.ResourceGroup{
			ID: to.Ptr(groupID(deref(pr.NodeResourceGroup))), Name: pr.NodeResourceGroup, Type: to.Ptr("Microsoft.Resources/resourceGroups"),
			Location: mc.Location, Tags: *clone(&mc.Tags), ManagedBy: mc.ID,
			Properties: &armresources.ResourceGroupProperties{ProvisioningState: to.Ptr("Succeeded")},
		}
	}
	if w.SettleGets > 0 {
		w.pending[k] = &pending{state: state, gets: w.SettleGets}
	}
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusCreated)
	if f, ok := w.takeFailure(deref(mc.ID)); ok {
		pr.ProvisioningState = to.Ptr("Failed")
		w.messages[f.code] = f.message
		resp.SetTerminalError(http.StatusOK, f.code)
		return
	}
	resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientCreateOrUpdateResponse{ManagedCluster: *w.clusterView(k, false)}, nil)
	return
}

func (w *World) deleteCluster(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerservice.ManagedClustersClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(group, name)
	if w.clusters[k] == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	w.dropCluster(k)
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusAccepted)
	resp.SetTerminalResponse(http.StatusOK, armcontainerservice.ManagedClustersClientDeleteResponse{}, nil)
	return
}

func (w *World) dropCluster(k string) {
	if mc := w.clusters[k]; mc != nil && mc.Properties != nil {
		delete(w.groups, key(deref(mc.Properties.NodeResourceGroup)))
	}
	delete(w.clusters, k)
	delete(w.pools, k)
	delete(w.pending, k)
}

func (w *World) userCredentials(_ context.Context, group, name string, _ *armcontainerservice.ManagedClustersClientListClusterUserCredentialsOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientListClusterUserCredentialsResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.clusters[key(group, name)] == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	kc := w.Kubeconfig
	if kc == nil {
		kc = []byte(DefaultKubeconfig)
	}
	resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientListClusterUserCredentialsResponse{
		CredentialResults: armcontainerservice.CredentialResults{Kubeconfigs: []*armcontainerservice.CredentialResult{{Name: to.Ptr("clusterUser"), Value: kc}}},
	}, nil)
	return
}

// clusterView is a copy of a stored cluster with its pools as
// agentPoolProfiles; get counts as a GET for pending states.
func (w *World) clusterView(k string, get bool) *armcontainerservice.ManagedCluster {
	mc := w.clusters[k]
	if mc == nil {
		return nil
	}
	out := clone(mc)
	for _, p := range w.pools[k] {
		prof := convert[armcontainerservice.ManagedClusterAgentPoolProfile](p.Properties)
		prof.Name = p.Name
		if st := w.pendingState(k+"/"+key(deref(p.Name)), false); st != "" {
			prof.ProvisioningState = to.Ptr(st)
		}
		out.Properties.AgentPoolProfiles = append(out.Properties.AgentPoolProfiles, prof)
	}
	if st := w.pendingState(k, get); st != "" {
		out.Properties.ProvisioningState = to.Ptr(st)
	}
	return out
}

// pendingState is the transitional state of resource k, if any; get
// counts one GET against it.
func (w *World) pendingState(k string, get bool) string {
	p := w.pending[k]
	if p == nil || p.gets <= 0 {
		return ""
	}
	if get {
		p.gets--
	}
	return p.state
}

// --- agent pools ------------------------------------------------------------

func (w *World) getPool(_ context.Context, group, cluster, name string, _ *armcontainerservice.AgentPoolsClientGetOptions) (resp azfake.Responder[armcontainerservice.AgentPoolsClientGetResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.findPool(group, cluster, name)
	if p == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	out := clone(p)
	if st := w.pendingState(key(group, cluster, name), true); st != "" {
		out.Properties.ProvisioningState = to.Ptr(st)
	}
	resp.SetResponse(http.StatusOK, armcontainerservice.AgentPoolsClientGetResponse{AgentPool: *out}, nil)
	return
}

func (w *World) putPool(_ context.Context, group, cluster, name string, in armcontainerservice.AgentPool, _ *armcontainerservice.AgentPoolsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armcontainerservice.AgentPoolsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(group, cluster)
	mc := w.clusters[k]
	if mc == nil {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	if p := w.pending[k]; p != nil && p.gets > 0 {
		errResp.SetResponseError(http.StatusConflict, "OperationNotAllowed")
		return
	}
	props := in.Properties
	if props == nil {
		props = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	old := w.findPool(group, cluster, name)
	if old != nil && !strings.EqualFold(deref(old.Properties.VMSize), deref(props.VMSize)) {
		status, code, msg := invalidParameter("agentPoolProfile.vmSize", "Changing the VM size of an existing agent pool is not allowed")
		w.refuse(&errResp, status, code, msg)
		return
	}
	if status, code, msg := w.poolRules(mc, name, props, old); status != 0 {
		w.refuse(&errResp, status, code, msg)
		return
	}
	version := deref(mc.Properties.CurrentKubernetesVersion)
	if old != nil {
		version = deref(old.Properties.CurrentOrchestratorVersion)
	}
	if v := deref(props.OrchestratorVersion); v != "" {
		version = patchOf(v)
	}
	p := w.storePool(group, cluster, name, props, version)
	if old != nil {
		*old = *p
		p = old
	} else {
		w.pools[k] = append(w.pools[k], p)
	}
	state := "Creating"
	if old != nil {
		state = "Updating"
	}
	if w.SettleGets > 0 {
		w.pending[key(group, cluster, name)] = &pending{state: state, gets: w.SettleGets}
	}
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusCreated)
	if f, ok := w.takeFailure(deref(p.ID)); ok {
		p.Properties.ProvisioningState = to.Ptr("Failed")
		w.messages[f.code] = f.message
		resp.SetTerminalError(http.StatusOK, f.code)
		return
	}
	resp.SetTerminalResponse(http.StatusOK, armcontainerservice.AgentPoolsClientCreateOrUpdateResponse{AgentPool: *clone(p)}, nil)
	return
}

func (w *World) deletePool(_ context.Context, group, cluster, name string, _ *armcontainerservice.AgentPoolsClientBeginDeleteOptions) (resp azfake.PollerResponder[armcontainerservice.AgentPoolsClientDeleteResponse], errResp azfake.ErrorResponder) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key(group, cluster)
	var kept []*armcontainerservice.AgentPool
	found := false
	for _, p := range w.pools[k] {
		if strings.EqualFold(deref(p.Name), name) {
			found = true
			continue
		}
		kept = append(kept, p)
	}
	if !found {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
		return
	}
	w.pools[k] = kept
	w.lro(func(n int) { resp.AddNonTerminalResponse(n, nil) }, http.StatusAccepted)
	resp.SetTerminalResponse(http.StatusOK, armcontainerservice.AgentPoolsClientDeleteResponse{}, nil)
	return
}

func (w *World) listPools(group, cluster string, _ *armcontainerservice.AgentPoolsClientListOptions) (resp azfake.PagerResponder[armcontainerservice.AgentPoolsClientListResponse]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var page armcontainerservice.AgentPoolListResult
	for _, p := range w.pools[key(group, cluster)] {
		page.Value = append(page.Value, clone(p))
	}
	resp.AddPage(http.StatusOK, armcontainerservice.AgentPoolsClientListResponse{AgentPoolListResult: page}, nil)
	return
}

func (w *World) findPool(group, cluster, name string) *armcontainerservice.AgentPool {
	for _, p := range w.pools[key(group, cluster)] {
		if strings.EqualFold(deref(p.Name), name) {
			return p
		}
	}
	return nil
}

// storePool makes the stored form of a pool: what AKS adds to what was sent.
func (w *World) storePool(group, cluster, name string, in *armcontainerservice.ManagedClusterAgentPoolProfileProperties, version string) *armcontainerservice.AgentPool {
	props := clone(in)
	props.ProvisioningState = to.Ptr("Succeeded")
	props.PowerState = &armcontainerservice.PowerState{Code: to.Ptr(armcontainerservice.CodeRunning)}
	props.CurrentOrchestratorVersion = to.Ptr(version)
	if props.OrchestratorVersion == nil {
		props.OrchestratorVersion = to.Ptr(version)
	}
	props.NodeImageVersion = to.Ptr("AKSUbuntu-2204gen2containerd-202601.01.0")
	if props.OSDiskSizeGB == nil {
		props.OSDiskSizeGB = to.Ptr[int32](128)
	}
	if deref(props.ScaleSetPriority) == armcontainerservice.ScaleSetPrioritySpot {
		// AKS labels and taints Spot nodes itself.
		if props.NodeLabels == nil {
			props.NodeLabels = map[string]*string{}
		}
		props.NodeLabels["kubernetes.azure.com/scalesetpriority"] = to.Ptr("spot")
		const taint = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
		has := false
		for _, t := range props.NodeTaints {
			has = has || deref(t) == taint
		}
		if !has {
			props.NodeTaints = append(props.NodeTaints, to.Ptr(taint))
		}
	}
	return &armcontainerservice.AgentPool{
		ID:         to.Ptr(groupID(group) + "/providers/Microsoft.ContainerService/managedClusters/" + cluster + "/agentPools/" + name),
		Name:       to.Ptr(name),
		Type:       to.Ptr("Microsoft.ContainerService/managedClusters/agentPools"),
		Properties: props,
	}
}

// lro adds the InProgress answers of a long-running operation.
func (w *World) lro(add func(status int), status int) {
	for range w.LROSteps {
		add(status)
	}
}

func (w *World) takeFailure(id string) (failure, bool) {
	for p, f := range w.failLRO {
		if strings.Contains(id, p) {
			delete(w.failLRO, p)
			return f, true
		}
	}
	return failure{}, false
}

// --- helpers ----------------------------------------------------------------

var tagFilterRE = regexp.MustCompile(`tagName eq '([^']*)' and tagValue eq '([^']*)'`)

// tagFilter understands ARM's "tagName eq 'k' and tagValue eq 'v'" filter.
func tagFilter(f *string) func(map[string]*string) bool {
	if f == nil {
		return func(map[string]*string) bool { return true }
	}
	m := tagFilterRE.FindStringSubmatch(*f)
	if m == nil {
		panic("azurefake: unsupported filter " + *f)
	}
	return func(tags map[string]*string) bool {
		v, ok := tags[m[1]]
		return ok && deref(v) == m[2]
	}
}

func dropIn(rs []*armresources.GenericResourceExpanded, group string) []*armresources.GenericResourceExpanded {
	var kept []*armresources.GenericResourceExpanded
	for _, r := range rs {
		if !strings.HasPrefix(strings.ToLower(deref(r.ID)), strings.ToLower(groupID(group))+"/") {
			kept = append(kept, r)
		}
	}
	return kept
}

func groupID(name string) string {
	return "/subscriptions/" + Subscription + "/resourceGroups/" + name
}

// key is the case-insensitive identity of a resource, as in Azure.
func key(parts ...string) string { return strings.ToLower(strings.Join(parts, "/")) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ptrMap(m map[string]string) map[string]*string {
	out := map[string]*string{}
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

// clone deep-copies an SDK model through its JSON form.
func clone[T any](v *T) *T { return convert[T](v) }

// convert copies v into a T through JSON: the SDK's agent pool properties
// and the managed cluster's agentPoolProfiles entries share their fields.
func convert[T, F any](v *F) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

var _ azcore.TokenCredential = (*azfake.TokenCredential)(nil)
