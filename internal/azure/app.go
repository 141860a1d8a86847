package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// KindApp is the plan's kind for the hub's Azure AD application.
const KindApp = "Azure AD application"

// The application's own tags (Graph tags are plain strings): dhub finds
// its application by the hub's tag and deletes only an application that
// carries both.
const (
	appTagManaged = "dhub-managed"
	appTagHub     = "dhub-hub:"
)

// Client secrets dhub adds live SecretLifetime and are replaced by up once
// less than RotateBefore is left.
const (
	SecretLifetime = 180 * 24 * time.Hour
	RotateBefore   = 30 * 24 * time.Hour
	// secretName names dhub's client secrets on the application.
	secretName = "dhub"
)

type webApp struct {
	RedirectURIs []string `json:"redirectUris"`
}

type optionalClaim struct {
	Name string `json:"name"`
}

type optionalClaims struct {
	IDToken     []optionalClaim `json:"idToken"`
	AccessToken []optionalClaim `json:"accessToken"`
	Saml2Token  []optionalClaim `json:"saml2Token"`
}

type passwordCredential struct {
	KeyID       string     `json:"keyId,omitempty"`
	DisplayName string     `json:"displayName,omitempty"`
	EndDateTime *time.Time `json:"endDateTime,omitempty"`
	SecretText  string     `json:"secretText,omitempty"`
}

type application struct {
	ID                    string               `json:"id,omitempty"`
	AppID                 string               `json:"appId,omitempty"`
	DisplayName           string               `json:"displayName,omitempty"`
	SignInAudience        string               `json:"signInAudience,omitempty"`
	Tags                  []string             `json:"tags,omitempty"`
	GroupMembershipClaims *string              `json:"groupMembershipClaims,omitempty"`
	Web                   *webApp              `json:"web,omitempty"`
	OptionalClaims        *optionalClaims      `json:"optionalClaims,omitempty"`
	PasswordCredentials   []passwordCredential `json:"passwordCredentials,omitempty"`
}

// AppPlan is what up does to the hub's Azure AD application, when
// dhub.yaml names no clientId: computed with Graph GETs only.
type AppPlan struct {
	// Change is the plan's line for the application.
	Change plan.Change
	// TenantID and ClientID are the application's; ClientID is "" until
	// up creates it.
	TenantID, ClientID string
	// SecretExpires is when the client secret dhub keeps expires (zero
	// when up adds one).
	SecretExpires time.Time
	h             *config.Hub
	app           *application
	patch         map[string]any
	newSecret     bool
	newSP         bool
	// oldKeys are dhub's secrets that go once the new one is in use.
	oldKeys []string
}

// Managed reports whether dhub manages the hub's application: Azure AD
// login and no clientId in dhub.yaml.
func Managed(h *config.Hub) bool {
	a := h.JupyterHub.Auth
	return a.Type == config.AuthAzureAD && a.AzureAD != nil && a.AzureAD.ClientID == ""
}

// byGroup reports whether who may log in (or use Dask) is decided by
// group: the id token must then carry the groups claim.
func byGroup(h *config.Hub) bool {
	return len(h.JupyterHub.Auth.AzureAD.AllowedGroups) > 0 || len(h.Dask.AccessGroups) > 0
}

// desiredApp is the application dhub registers for h.
func desiredApp(h *config.Hub) application {
	claims := "None"
	oc := &optionalClaims{IDToken: []optionalClaim{}, AccessToken: []optionalClaim{}, Saml2Token: []optionalClaim{}}
	if byGroup(h) {
		claims = "SecurityGroup"
		oc.IDToken = []optionalClaim{{Name: "groups"}}
	}
	return application{
		DisplayName:           "dhub " + h.Name,
		SignInAudience:        "AzureADMyOrg",
		Tags:                  []string{appTagManaged, appTagHub + h.Name},
		GroupMembershipClaims: &claims,
		Web:                   &webApp{RedirectURIs: []string{render.OAuthCallbackURL(h)}},
		OptionalClaims:        oc,
	}
}

// PlanApp reads the hub's application (found by its tag) and its service
// principal: two Graph GETs when it exists, one when not.
func (c *Client) PlanApp(ctx context.Context, h *config.Hub) (*AppPlan, error) {
	ad := h.JupyterHub.Auth.AzureAD
	p := &AppPlan{h: h, TenantID: ad.TenantID}
	if p.TenantID == "" {
		t, err := tenantOf(ctx, c.o.Credential)
		if err != nil {
			return nil, err
		}
		p.TenantID = t
	}
	name := "dhub " + h.Name
	p.Change = plan.Change{Kind: KindApp, Name: name}
	app, err := c.findApp(ctx, h.Name)
	if err != nil {
		return nil, graphHint(err)
	}
	want := desiredApp(h)
	if app == nil {
		p.newSP, p.newSecret = true, true
		p.Change.Action = plan.Create
		p.Change.Reason = "dhub.yaml names no clientId: up registers the hub's application in tenant " + p.TenantID
		p.Change.Detail = fmt.Sprintf("single-tenant, redirect URI %s, groups claim %s, a service principal, a client secret valid %d days (into Secret %s, never shown)",
			want.Web.RedirectURIs[0], *want.GroupMembershipClaims, int(SecretLifetime.Hours()/24), render.AuthSecretName)
		return p, nil
	}
	p.app, p.ClientID = app, app.AppID
	p.Change.Name = fmt.Sprintf("%s (%s)", name, app.AppID)
	p.patch = map[string]any{}
	var got []string
	if app.Web != nil {
		got = app.Web.RedirectURIs
	}
	if !slices.Equal(got, want.Web.RedirectURIs) {
		p.patch["web"] = want.Web
		p.Change.Fields = append(p.Change.Fields, plan.FieldChange{Field: "web.redirectUris", From: orNone(strings.Join(got, ",")), To: want.Web.RedirectURIs[0]})
	}
	if g := deref(app.GroupMembershipClaims); !strings.EqualFold(g, *want.GroupMembershipClaims) {
		p.patch["groupMembershipClaims"] = *want.GroupMembershipClaims
		p.Change.Fields = append(p.Change.Fields, plan.FieldChange{Field: "groupMembershipClaims", From: orNone(g), To: *want.GroupMembershipClaims})
	}
	if gotGroups := app.OptionalClaims != nil && slices.ContainsFunc(app.OptionalClaims.IDToken, func(c optionalClaim) bool { return c.Name == "groups" }); gotGroups != byGroup(h) {
		p.patch["optionalClaims"] = want.OptionalClaims
		p.Change.Fields = append(p.Change.Fields, plan.FieldChange{Field: "optionalClaims.idToken groups", From: fmt.Sprint(gotGroups), To: fmt.Sprint(byGroup(h))})
	}
	var sp struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	q := url.Values{"$filter": {fmt.Sprintf("appId eq '%s'", app.AppID)}, "$select": {"id"}}
	if err := c.graph.do(ctx, http.MethodGet, "/servicePrincipals?"+q.Encode(), nil, &sp); err != nil {
		return nil, graphHint(err)
	}
	p.newSP = len(sp.Value) == 0
	var newest *passwordCredential
	for i, pc := range app.PasswordCredentials {
		if pc.DisplayName != secretName || pc.EndDateTime == nil {
			continue
		}
		p.oldKeys = append(p.oldKeys, pc.KeyID)
		if newest == nil || pc.EndDateTime.After(*newest.EndDateTime) {
			newest = &app.PasswordCredentials[i]
		}
	}
	now := c.o.Now()
	var why []string
	switch {
	case newest == nil:
		p.newSecret = true
		why = append(why, "it has no client secret of dhub's: up adds one")
	case newest.EndDateTime.Sub(now) < RotateBefore:
		p.newSecret = true
		why = append(why, fmt.Sprintf("its client secret expires %s: up replaces it", newest.EndDateTime.Format(time.DateOnly)))
	default:
		p.SecretExpires = *newest.EndDateTime
		p.oldKeys = slices.DeleteFunc(p.oldKeys, func(k string) bool { return k == newest.KeyID })
	}
	if p.newSP {
		why = append(why, "it has no service principal: up creates it")
	}
	if len(p.patch) > 0 {
		why = append(why, "differs from dhub.yaml; changed in place")
	}
	if len(why) == 0 {
		p.Change.Action = plan.NoOp
		p.Change.Reason = fmt.Sprintf("matches dhub.yaml; its client secret expires %s and up replaces it from %s",
			p.SecretExpires.Format(time.DateOnly), p.SecretExpires.Add(-RotateBefore).Format(time.DateOnly))
		return p, nil
	}
	p.Change.Action, p.Change.Reason = plan.Update, strings.Join(why, "; ")
	plan.SortFields(p.Change.Fields)
	return p, nil
}

// NeedsSecret makes the plan add a client secret: the cluster's Secret has
// none to keep (a new or recreated cluster), and Azure AD never shows a
// secret again after it is made.
func (p *AppPlan) NeedsSecret(why string) {
	if p.newSecret {
		return
	}
	p.newSecret = true
	p.SecretExpires = time.Time{}
	if p.Change.Action == plan.NoOp {
		p.Change.Action, p.Change.Reason = plan.Update, why+": up adds a client secret"
	} else {
		p.Change.Reason += "; " + why + ": up adds a client secret"
	}
}

// NewSecret reports whether applying the plan adds a client secret.
func (p *AppPlan) NewSecret() bool { return p.newSecret }

// findApp returns the application tagged for hub, or nil.
func (c *Client) findApp(ctx context.Context, hub string) (*application, error) {
	q := url.Values{
		"$filter": {fmt.Sprintf("tags/any(t:t eq '%s')", strings.ReplaceAll(appTagHub+hub, "'", "''"))},
		"$select": {"id,appId,displayName,signInAudience,tags,groupMembershipClaims,web,optionalClaims,passwordCredentials"},
	}
	var list struct {
		Value []application `json:"value"`
	}
	if err := c.graph.do(ctx, http.MethodGet, "/applications?"+q.Encode(), nil, &list); err != nil {
		return nil, err
	}
	var mine []application
	for _, a := range list.Value {
		if slices.Contains(a.Tags, appTagManaged) {
			mine = append(mine, a)
		}
	}
	switch len(mine) {
	case 0:
		return nil, nil
	case 1:
		return &mine[0], nil
	}
	var ids []string
	for _, a := range mine {
		ids = append(ids, a.AppID)
	}
	return nil, fmt.Errorf("%d Azure AD applications are tagged %s%s (%s): delete all but one, or give hub.auth.azuread.clientId", len(mine), appTagHub, hub, strings.Join(ids, ", "))
}

// AppResult is what ApplyApp made: the ids the hub needs and, when it
// added one, the client secret, held in memory only.
type AppResult struct {
	TenantID, ClientID string
	// Secret is the new client secret, or nil when the cluster's is kept.
	Secret  []byte
	Expires time.Time
	Writes  int
}

// ApplyApp creates or updates the application as planned and adds a
// client secret when the plan says so. The old secrets stay until
// RetireSecrets, once the hub uses the new one.
func (c *Client) ApplyApp(ctx context.Context, p *AppPlan) (*AppResult, error) {
	before := c.graph.writes.Load()
	res := &AppResult{TenantID: p.TenantID, ClientID: p.ClientID, Expires: p.SecretExpires}
	app := p.app
	if app == nil {
		want := desiredApp(p.h)
		var created application
		if err := c.graph.do(ctx, http.MethodPost, "/applications", want, &created); err != nil {
			return nil, graphHint(err)
		}
		app = &created
		p.app, p.ClientID, res.ClientID = app, app.AppID, app.AppID
		fmt.Fprintf(c.o.Progress, "%s %s: created (client id %s)\n", KindApp, want.DisplayName, app.AppID)
	} else if len(p.patch) > 0 {
		if err := c.graph.do(ctx, http.MethodPatch, "/applications/"+app.ID, p.patch, nil); err != nil {
			return nil, graphHint(err)
		}
		fmt.Fprintf(c.o.Progress, "%s %s: updated\n", KindApp, app.DisplayName)
	}
	if p.newSP {
		if err := c.graph.do(ctx, http.MethodPost, "/servicePrincipals", map[string]string{"appId": app.AppID}, nil); err != nil {
			return nil, graphHint(err)
		}
	}
	if p.newSecret {
		end := c.o.Now().Add(SecretLifetime).UTC().Truncate(time.Second)
		var pc passwordCredential
		body := map[string]any{"passwordCredential": passwordCredential{DisplayName: secretName, EndDateTime: &end}}
		if err := c.graph.do(ctx, http.MethodPost, "/applications/"+app.ID+"/addPassword", body, &pc); err != nil {
			return nil, graphHint(err)
		}
		if pc.SecretText == "" {
			return nil, errors.New("microsoft graph addPassword answered without a secret")
		}
		res.Secret, res.Expires = []byte(pc.SecretText), end
		if pc.EndDateTime != nil {
			res.Expires = *pc.EndDateTime
		}
		fmt.Fprintf(c.o.Progress, "%s %s: client secret added, valid until %s\n", KindApp, app.DisplayName, res.Expires.Format(time.DateOnly))
	}
	res.Writes = int(c.graph.writes.Load() - before)
	return res, nil
}

// RetireSecrets removes dhub's older client secrets once the hub runs
// with the new one (removing them earlier would lock users out meanwhile).
func (c *Client) RetireSecrets(ctx context.Context, p *AppPlan) error {
	if !p.newSecret || p.app == nil {
		return nil
	}
	for _, k := range p.oldKeys {
		if err := c.graph.do(ctx, http.MethodPost, "/applications/"+p.app.ID+"/removePassword", map[string]string{"keyId": k}, nil); err != nil {
			return graphHint(err)
		}
	}
	return nil
}

// GraphCalls returns the Graph GETs and writes sent so far.
func (c *Client) GraphCalls() (gets, writes int64) { return c.graph.gets.Load(), c.graph.writes.Load() }

// AppStatus is the hub's application as status shows it.
type AppStatus struct {
	Name          string    `json:"name"`
	ClientID      string    `json:"clientId,omitempty"`
	Exists        bool      `json:"exists"`
	SecretExpires time.Time `json:"secretExpires,omitzero"`
}

// App reads the hub's application for status (one Graph GET).
func (c *Client) App(ctx context.Context, h *config.Hub) (*AppStatus, error) {
	app, err := c.findApp(ctx, h.Name)
	if err != nil {
		return nil, graphHint(err)
	}
	st := &AppStatus{Name: "dhub " + h.Name}
	if app == nil {
		return st, nil
	}
	st.Exists, st.ClientID = true, app.AppID
	for _, pc := range app.PasswordCredentials {
		if pc.DisplayName == secretName && pc.EndDateTime != nil && pc.EndDateTime.After(st.SecretExpires) {
			st.SecretExpires = *pc.EndDateTime
		}
	}
	return st, nil
}

// DeleteApp deletes the hub's application if dhub created it (its tags
// say so; Azure AD deletes its service principal with it). It returns
// what it deleted, or "".
func (c *Client) DeleteApp(ctx context.Context, h *config.Hub) (string, error) {
	app, err := c.findApp(ctx, h.Name)
	if err != nil || app == nil {
		return "", graphHint(err)
	}
	if err := c.graph.do(ctx, http.MethodDelete, "/applications/"+app.ID, nil, nil); err != nil {
		return "", graphHint(err)
	}
	return fmt.Sprintf("%s %s (%s)", KindApp, app.DisplayName, app.AppID), nil
}

// graphHint turns Graph's refusals into one sentence with the way out.
func graphHint(err error) error {
	var ge *GraphError
	if err == nil || !errors.As(err, &ge) {
		return err
	}
	switch {
	case ge.Status == http.StatusForbidden && ge.Code == "Authorization_RequestDenied" && ge.Method == http.MethodPost && ge.Path == "/applications":
		return fmt.Errorf("%s: Azure AD refused to register the hub's application (Authorization_RequestDenied): this tenant does not let users register applications; ask the tenant's admin for the Application Developer role (or to allow app registrations), or have them register one and set hub.auth.azuread.clientId, tenantId and clientSecret in dhub.yaml", KindApp)
	case ge.Status == http.StatusForbidden:
		return fmt.Errorf("%s: your Azure credential may not %s %s in Microsoft Graph (%s): ask the tenant's admin for the Application Developer role, or set hub.auth.azuread.clientId, tenantId and clientSecret of an application registered for you", KindApp, strings.ToLower(ge.Method), ge.Path, ge.Code)
	case ge.Status == http.StatusUnauthorized:
		return fmt.Errorf("%s: Microsoft Graph did not accept your Azure credential (%s: %s): sign in with 'az login' as a user of the tenant, or set hub.auth.azuread.clientId, tenantId and clientSecret", KindApp, ge.Code, ge.Message)
	}
	return fmt.Errorf("%s: %w", KindApp, ge)
}
