package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// GraphEndpoint is Microsoft Graph v1.0.
const GraphEndpoint = "https://graph.microsoft.com/v1.0"

// graphScope is the scope of a token for Microsoft Graph.
const graphScope = "https://graph.microsoft.com/.default"

// graph sends Microsoft Graph requests through azcore's pipeline (bearer
// token for Graph, dhub's retry policy, which honours Retry-After on
// 429): a few REST calls, not the Graph SDK, which is hundreds of MB.
type graph struct {
	pl       runtime.Pipeline
	endpoint string
	cred     azcore.TokenCredential
	gets     atomic.Int64
	writes   atomic.Int64
}

func newGraph(o Options) *graph {
	co := o.ClientOptions.ClientOptions
	if o.GraphTransport != nil {
		co.Transport = o.GraphTransport
	}
	endpoint := o.GraphEndpoint
	if endpoint == "" {
		endpoint = GraphEndpoint
	}
	bearer := runtime.NewBearerTokenPolicy(o.Credential, []string{graphScope}, nil)
	pl := runtime.NewPipeline("dhub", "v1", runtime.PipelineOptions{PerRetry: []policy.Policy{bearer}}, &co)
	return &graph{pl: pl, endpoint: strings.TrimRight(endpoint, "/"), cred: o.Credential}
}

// GraphError is Graph's error answer: {"error":{"code","message","innerError"}}.
type GraphError struct {
	Status  int
	Method  string
	Path    string
	Code    string
	Message string
}

// Error says which Graph request failed, with Graph's status, code and message.
func (e *GraphError) Error() string {
	return fmt.Sprintf("Microsoft Graph %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// do sends one request; out, when not nil, receives the JSON answer.
func (g *graph) do(ctx context.Context, method, path string, body, out any) error {
	req, err := runtime.NewRequest(ctx, method, g.endpoint+path)
	if err != nil {
		return err
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return err
		}
	}
	if method == http.MethodGet {
		g.gets.Add(1)
	} else {
		g.writes.Add(1)
	}
	resp, err := g.pl.Do(req)
	if err != nil {
		return fmt.Errorf("microsoft graph %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		ge := &GraphError{Status: resp.StatusCode, Method: method, Path: strings.SplitN(path, "?", 2)[0]}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if runtime.UnmarshalAsJSON(resp, &e) == nil {
			ge.Code, ge.Message = e.Error.Code, e.Error.Message
		}
		return ge
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	return runtime.UnmarshalAsJSON(resp, out)
}

// tenantOf reads the tenant id (claim tid) from a Graph token of cred:
// the directory the application is registered in, unless dhub.yaml
// names one.
func tenantOf(ctx context.Context, cred azcore.TokenCredential) (string, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		return "", fmt.Errorf("a token for Microsoft Graph: %w", err)
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		return "", errors.New("the Microsoft Graph token is not a JWT: set hub.auth.azuread.tenantId")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("the Microsoft Graph token's claims: %w", err)
	}
	var claims struct {
		Tid string `json:"tid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Tid == "" {
		return "", errors.New("the Microsoft Graph token has no tenant id (tid): set hub.auth.azuread.tenantId")
	}
	return claims.Tid, nil
}
