// Package graphfake is a local Microsoft Graph v1.0 for tests of the
// hub's Azure AD application: applications, service principals and
// password credentials over HTTPS, with Graph's rules (a token for
// Graph's audience, single-tenant sign-in audiences, https redirect URIs,
// a service principal only for an application that exists, a keyId that
// exists) and Graph's error bodies: {"error":{"code","message",
// "innerError":{"date","request-id","client-request-id"}}}, 403
// Authorization_RequestDenied when the tenant does not let users register
// applications, 429 TooManyRequests with Retry-After.
package graphfake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Tenant is the fake directory's id.
const Tenant = "7e1a0000-0000-4000-8000-00000000d1b0"

// Request is one request the fake answered.
type Request struct{ Method, Path string }

// Server is the fake Graph.
type Server struct {
	URL string
	// Client is the HTTP client that trusts the server's certificate.
	Client *http.Client
	mu     sync.Mutex
	apps   map[string]map[string]any // by object id
	sps    map[string]string         // appId -> service principal id
	// DenyRegistration makes POST /applications answer 403
	// Authorization_RequestDenied, as when the tenant's "Users can
	// register applications" is off.
	DenyRegistration bool
	throttle         int
	requests         []Request
	secrets          map[string]string // keyId -> secretText, to check nothing leaks
}

// New starts the fake, closed when t ends.
func New(t testing.TB) *Server {
	s := &Server{apps: map[string]map[string]any{}, sps: map[string]string{}, secrets: map[string]string{}}
	srv := httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL, s.Client = srv.URL+"/v1.0", srv.Client()
	return s
}

// Throttle makes the next n requests answer 429 with Retry-After: 1.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Secrets returns every client secret the fake handed out.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.secrets {
		out = append(out, v)
	}
	return out
}

// App returns the application with appId as Graph stores it, or nil.
func (s *Server) App(appID string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		if a["appId"] == appID {
			return a
		}
	}
	return nil
}

// Apps counts the applications.
func (s *Server) Apps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.apps)
}

// ExpireSecrets moves every password credential's end to at.
func (s *Server) ExpireSecrets(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		for _, pc := range a["passwordCredentials"].([]any) {
			pc.(map[string]any)["endDateTime"] = at.UTC().Format(time.RFC3339)
		}
	}
}

func uuid() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// graphError writes Graph's error body.
func graphError(w http.ResponseWriter, status int, code, msg string) {
	id := uuid()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", id)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": id}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

var (
	tagFilterRE   = regexp.MustCompile(`^tags/any\(t:t eq '((?:[^']|'')*)'\)$`)
	appIDFilterRE = regexp.MustCompile(`^appId eq '([0-9a-f-]{36})'$`)
	appPathRE     = regexp.MustCompile(`^/v1\.0/applications/([0-9a-f-]{36})(/addPassword|/removePassword)?$`)
)

// audience returns the aud claim of the request's bearer token.
func audience(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Aud string `json:"aud"`
	}
	json.Unmarshal(b, &c)
	return c.Aud
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{r.Method, r.URL.Path})
	if s.throttle > 0 {
		s.throttle--
		w.Header().Set("Retry-After", "1")
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry after some time.")
		return
	}
	if r.Header.Get("Authorization") == "" {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	if aud := audience(r); aud != "https://graph.microsoft.com" && aud != "00000003-0000-0000-c000-000000000000" {
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			graphError(w, http.StatusBadRequest, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
			return
		}
	}
	q := r.URL.Query()
	switch p := r.URL.Path; {
	case p == "/v1.0/applications" && r.Method == http.MethodGet:
		m := tagFilterRE.FindStringSubmatch(q.Get("$filter"))
		if m == nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported Query.")
			return
		}
		tag := strings.ReplaceAll(m[1], "''", "'")
		out := []any{}
		for _, a := range s.apps {
			for _, t := range a["tags"].([]any) {
				if t == tag {
					out = append(out, a)
				}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications", "value": out})
	case p == "/v1.0/applications" && r.Method == http.MethodPost:
		if s.DenyRegistration {
			graphError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return
		}
		if msg := checkApp(body, true); msg != "" {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", msg)
			return
		}
		body["id"], body["appId"] = uuid(), uuid()
		body["passwordCredentials"] = []any{}
		if body["tags"] == nil {
			body["tags"] = []any{}
		}
		s.apps[body["id"].(string)] = body
		writeJSON(w, http.StatusCreated, body)
	case p == "/v1.0/servicePrincipals" && r.Method == http.MethodGet:
		m := appIDFilterRE.FindStringSubmatch(q.Get("$filter"))
		if m == nil {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported Query.")
			return
		}
		out := []any{}
		if id, ok := s.sps[m[1]]; ok {
			out = append(out, map[string]any{"id": id})
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	case p == "/v1.0/servicePrincipals" && r.Method == http.MethodPost:
		appID, _ := body["appId"].(string)
		found := false
		for _, a := range s.apps {
			found = found || a["appId"] == appID
		}
		switch {
		case !found:
			graphError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("The appId '%s' of the service principal does not reference a valid application object.", appID))
		case s.sps[appID] != "":
			graphError(w, http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property servicePrincipalNames already exists.")
		default:
			s.sps[appID] = uuid()
			writeJSON(w, http.StatusCreated, map[string]any{"id": s.sps[appID], "appId": appID})
		}
	default:
		m := appPathRE.FindStringSubmatch(p)
		var app map[string]any
		if m != nil {
			app = s.apps[m[1]]
		}
		if app == nil {
			id := ""
			if m != nil {
				id = m[1]
			}
			graphError(w, http.StatusNotFound, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
			return
		}
		s.appOp(w, r.Method, m[2], app, body)
	}
}

func (s *Server) appOp(w http.ResponseWriter, method, op string, app, body map[string]any) {
	switch {
	case op == "" && method == http.MethodPatch:
		if msg := checkApp(body, false); msg != "" {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", msg)
			return
		}
		for k, v := range body {
			app[k] = v
		}
		w.WriteHeader(http.StatusNoContent)
	case op == "" && method == http.MethodDelete:
		delete(s.apps, app["id"].(string))
		delete(s.sps, app["appId"].(string))
		w.WriteHeader(http.StatusNoContent)
	case op == "/addPassword" && method == http.MethodPost:
		pc, _ := body["passwordCredential"].(map[string]any)
		end := time.Now().Add(2 * 365 * 24 * time.Hour)
		if e, ok := pc["endDateTime"].(string); ok {
			t, err := time.Parse(time.RFC3339, e)
			if err != nil {
				graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.")
				return
			}
			end = t
		}
		secret := make([]byte, 30)
		rand.Read(secret)
		out := map[string]any{"keyId": uuid(), "displayName": pc["displayName"], "endDateTime": end.UTC().Format(time.RFC3339),
			"startDateTime": time.Now().UTC().Format(time.RFC3339), "hint": "", "secretText": base64.RawURLEncoding.EncodeToString(secret)}
		out["hint"] = out["secretText"].(string)[:3]
		s.secrets[out["keyId"].(string)] = out["secretText"].(string)
		stored := map[string]any{}
		for k, v := range out {
			if k != "secretText" { // Graph never shows a secret again
				stored[k] = v
			}
		}
		app["passwordCredentials"] = append(app["passwordCredentials"].([]any), stored)
		writeJSON(w, http.StatusOK, out)
	case op == "/removePassword" && method == http.MethodPost:
		key, _ := body["keyId"].(string)
		pcs := app["passwordCredentials"].([]any)
		for i, pc := range pcs {
			if pc.(map[string]any)["keyId"] == key {
				app["passwordCredentials"] = append(pcs[:i:i], pcs[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		graphError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("No password credential found with keyId '%s'.", key))
	default:
		graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
}

// checkApp applies Graph's rules to an application's properties.
func checkApp(body map[string]any, create bool) string {
	if create {
		if n, _ := body["displayName"].(string); n == "" {
			return "Property 'displayName' is required."
		}
	}
	if a, ok := body["signInAudience"]; ok {
		switch a {
		case "AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount":
		default:
			return "Invalid value specified for property 'signInAudience' of resource 'Application'."
		}
	}
	if web, ok := body["web"].(map[string]any); ok {
		uris, _ := web["redirectUris"].([]any)
		for _, u := range uris {
			s, _ := u.(string)
			if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://localhost") {
				return "Invalid value specified for property 'web.redirectUris' of resource 'Application'."
			}
		}
	}
	if g, ok := body["groupMembershipClaims"]; ok {
		switch g {
		case nil, "None", "SecurityGroup", "All", "DirectoryRole", "ApplicationGroup":
		default:
			return "Invalid value specified for property 'groupMembershipClaims' of resource 'Application'."
		}
	}
	return ""
}

// Credential issues JWTs for the scope it is asked for, in Tenant, as
// Azure AD does: aud is the scope's resource, tid the tenant. It records
// the scopes asked for.
type Credential struct {
	mu     sync.Mutex
	Scopes []string
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.Scopes = append(c.Scopes, o.Scopes...)
	c.mu.Unlock()
	aud := ""
	if len(o.Scopes) > 0 {
		aud = strings.TrimSuffix(o.Scopes[0], "/.default")
	}
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"aud": aud, "tid": Tenant, "exp": time.Now().Add(time.Hour).Unix()})
	return azcore.AccessToken{Token: head + "." + enc.EncodeToString(claims) + ".sig", ExpiresOn: time.Now().Add(time.Hour)}, nil
}
