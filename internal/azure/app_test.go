package azure_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/azure/graphfake"
	"dhub/internal/config"
	"dhub/internal/plan"
)

// appEnv is a client whose Graph requests reach a fake Graph over HTTPS,
// signed by azcore's bearer token policy with a credential that issues
// tokens per scope.
func appEnv(t *testing.T) (*azure.Client, *graphfake.Server, *bytes.Buffer) {
	t.Helper()
	return appEnvWith(t, nil)
}

// appEnvWith is appEnv with the options changed by set first.
func appEnvWith(t *testing.T, set func(*azure.Options)) (*azure.Client, *graphfake.Server, *bytes.Buffer) {
	t.Helper()
	g := graphfake.New(t)
	var progress bytes.Buffer
	o := azurefake.New().Options(&progress)
	o.Credential = &graphfake.Credential{}
	o.GraphEndpoint, o.GraphTransport = g.URL, g.Client
	if set != nil {
		set(&o)
	}
	c, err := azure.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, g, &progress
}

// managedHub is the recommended example without a clientId, tenantId or
// client secret: dhub registers the application.
func managedHub(t *testing.T) *config.Hub {
	h := hub(t, "azure-recommended.yaml")
	ad := *h.JupyterHub.Auth.AzureAD
	ad.ClientID, ad.TenantID, ad.ClientSecret = "", "", config.SecretRef{}
	h.JupyterHub.Auth.AzureAD = &ad
	return h
}

func applyApp(t *testing.T, c *azure.Client, h *config.Hub) (*azure.AppPlan, *azure.AppResult) {
	t.Helper()
	p, err := c.PlanApp(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ApplyApp(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return p, res
}

func TestAppCreateThenConverged(t *testing.T) {
	now := time.Date(2026, 5, 4, 9, 30, 15, 0, time.UTC)
	c, g, progress := appEnvWith(t, func(o *azure.Options) { o.Now = func() time.Time { return now } })
	h := managedHub(t)
	p, res := applyApp(t, c, h)
	if p.Change.Action != plan.Create || p.TenantID != graphfake.Tenant {
		t.Errorf("plan %s, tenant %s", p.Change.Action, p.TenantID)
	}
	app := g.App(res.ClientID)
	if app == nil || len(res.Secret) == 0 || res.TenantID != graphfake.Tenant {
		t.Fatalf("application %v, secret %d bytes, tenant %s", app, len(res.Secret), res.TenantID)
	}
	if uris := app["web"].(map[string]any)["redirectUris"].([]any); len(uris) != 1 || uris[0] != "https://"+h.JupyterHub.Host+"/hub/oauth_callback" {
		t.Errorf("redirect URIs %v", uris)
	}
	if app["signInAudience"] != "AzureADMyOrg" || app["groupMembershipClaims"] != "SecurityGroup" {
		t.Errorf("audience %v, groups claim %v", app["signInAudience"], app["groupMembershipClaims"])
	}
	if want := now.Add(azure.SecretLifetime); !res.Expires.Equal(want) {
		t.Errorf("secret expires %v, want %v (%v after the client's now)", res.Expires, want, azure.SecretLifetime)
	}
	want := []string{"GET /v1.0/applications", "POST /v1.0/applications", "POST /v1.0/servicePrincipals", "POST /v1.0/applications/" + app["id"].(string) + "/addPassword"}
	if got := reqs(g.Requests()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(progress.String(), string(res.Secret)) {
		t.Error("the secret reached progress")
	}

	// Converged: Graph GETs only, nothing to do.
	n := len(g.Requests())
	p, res = applyApp(t, c, h)
	if p.Change.Action != plan.NoOp || res.Secret != nil || res.Writes != 0 || !strings.Contains(p.Change.Reason, "up replaces it from") {
		t.Errorf("converged: %s %q, new secret %v, %d writes", p.Change.Action, p.Change.Reason, res.Secret != nil, res.Writes)
	}
	got := reqs(g.Requests()[n:])
	for _, r := range got {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("converged up sent %s", r)
		}
	}
	t.Logf("Graph calls of a converged up: %d, all GETs: %v", len(got), got)
}

func reqs(rs []graphfake.Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func TestAppHostChangeAndRotation(t *testing.T) {
	c, g, _ := appEnv(t)
	h := managedHub(t)
	_, first := applyApp(t, c, h)
	h.JupyterHub.Host = "hub.example.org"
	p, res := applyApp(t, c, h)
	if p.Change.Action != plan.Update || len(p.Change.Fields) != 1 || p.Change.Fields[0].Field != "web.redirectUris" || res.Secret != nil {
		t.Errorf("host change: %s %+v, new secret %v", p.Change.Action, p.Change.Fields, res.Secret != nil)
	}
	if uris := g.App(first.ClientID)["web"].(map[string]any)["redirectUris"].([]any); uris[0] != "https://hub.example.org/hub/oauth_callback" {
		t.Errorf("redirect URI %v", uris)
	}
	// Near expiry: a new secret, and the old one goes once it is in use.
	g.ExpireSecrets(time.Now().Add(10 * 24 * time.Hour))
	p, res = applyApp(t, c, h)
	if p.Change.Action != plan.Update || !strings.Contains(p.Change.Reason, "up replaces it") || len(res.Secret) == 0 || bytes.Equal(res.Secret, first.Secret) {
		t.Fatalf("rotation: %s %q", p.Change.Action, p.Change.Reason)
	}
	if n := len(g.App(first.ClientID)["passwordCredentials"].([]any)); n != 2 {
		t.Errorf("%d secrets before retiring, want 2", n)
	}
	if err := c.RetireSecrets(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if n := len(g.App(first.ClientID)["passwordCredentials"].([]any)); n != 1 {
		t.Errorf("%d secrets after retiring, want 1", n)
	}
	// Who may log in no longer by group: the groups claim goes.
	h.JupyterHub.Auth.AzureAD.AllowedGroups = nil
	h.JupyterHub.Auth.AzureAD.AllowedUsers = []string{"a@example.org"}
	if p, _ = applyApp(t, c, h); g.App(first.ClientID)["groupMembershipClaims"] != "None" {
		t.Errorf("groups claim kept: %+v", p.Change.Fields)
	}
}

func TestAppRefusals(t *testing.T) {
	var slept pauses
	c, g, _ := appEnvWith(t, func(o *azure.Options) { o.Sleep = slept.sleep })
	g.DenyRegistration = true
	p, err := c.PlanApp(context.Background(), managedHub(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ApplyApp(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "Authorization_RequestDenied") || !strings.Contains(err.Error(), "ask the tenant's admin") ||
		!strings.Contains(err.Error(), "hub.auth.azuread.clientId") || strings.Count(err.Error(), ". ") > 0 {
		t.Errorf("error: %v", err)
	}
	// Throttled: the retry policy waits as Retry-After says, then sends
	// the request again. Graph's requests carry no SDK method name.
	g.DenyRegistration = false
	g.Throttle(1)
	before := len(g.Requests())
	if _, err := c.PlanApp(context.Background(), managedHub(t)); err != nil {
		t.Errorf("throttled once: %v", err)
	}
	if got := slept.of(""); len(got) != 1 || got[0] != time.Second {
		t.Errorf("pauses %v, want the 1s of Graph's Retry-After", got)
	}
	if rs := reqs(g.Requests()[before:]); len(rs) < 2 || rs[0] != rs[1] {
		t.Errorf("requests after the 429 %v: the throttled one was not sent again", rs)
	}
}

func TestAppDeleteOnlyTagged(t *testing.T) {
	c, g, _ := appEnv(t)
	h := managedHub(t)
	if got, err := c.DeleteApp(context.Background(), h); err != nil || got != "" {
		t.Fatalf("nothing to delete: %q %v", got, err)
	}
	applyApp(t, c, h)
	st, err := c.App(context.Background(), h)
	if err != nil || !st.Exists || st.SecretExpires.IsZero() {
		t.Fatalf("status %+v %v", st, err)
	}
	got, err := c.DeleteApp(context.Background(), h)
	if err != nil || !strings.HasPrefix(got, azure.KindApp) || g.Apps() != 0 {
		t.Fatalf("deleted %q %v, %d left", got, err, g.Apps())
	}
	for _, r := range g.Requests() {
		if r.Method == http.MethodDelete && !strings.HasPrefix(r.Path, "/v1.0/applications/") {
			t.Errorf("deleted %s", r.Path)
		}
	}
}
