package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dump renders v as YAML for failure messages (pointers shown by value).
func dump(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return "\n" + string(b)
}

// emptyToNil replaces empty slices and maps with nil, in place: a list
// written as [] in dhub.yaml means what an absent one does.
func emptyToNil(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			emptyToNil(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				emptyToNil(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := range v.Len() {
			emptyToNil(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// equalHubs reports whether a and b are reflect.DeepEqual once empty lists
// and maps are taken as absent. It normalizes both hubs in place.
func equalHubs(a, b Hub) bool {
	emptyToNil(reflect.ValueOf(&a).Elem())
	emptyToNil(reflect.ValueOf(&b).Elem())
	return reflect.DeepEqual(a, b)
}

// writtenLabel is the DNS label Init wrote for an Azure hub: the name, a
// dash and six random characters; "" for the other targets.
func writtenLabel(t *testing.T, h *Hub) string {
	t.Helper()
	if h.Target != TargetAzure {
		return ""
	}
	l := h.Azure.DNSLabel
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(h.Name) + `-[a-z0-9]{6}$`).MatchString(l) {
		t.Errorf("written dnsLabel %q: want %s- and six random characters", l, h.Name)
	}
	return l
}

func TestEqualHubsNormalizes(t *testing.T) {
	a, b := Hub{Dask: Dask{Environment: map[string]string{}}}, Hub{}
	a.Kubernetes.NodeRoles = []PoolRole{}
	if !equalHubs(a, b) {
		t.Error("empty and nil collections differ")
	}
	a.Kubernetes.NodeRoles = []PoolRole{RoleCore}
	if equalHubs(a, b) {
		t.Error("a non-empty list equals an absent one")
	}
}

// initHub is what the Init template writes beyond the defaults of name,
// target and profile: the Azure AD block with its secret reference, the
// options given, and on Azure the DNS label it drew (label).
func initHub(o InitOptions, label string, allowed ...string) Hub {
	h := Hub{Name: o.Name, Target: o.Target, Profile: o.Profile}
	h.SetDefaults()
	want := Hub{Name: o.Name, Target: o.Target, Profile: o.Profile}
	want.Azure.DNSLabel = label
	if h.Azure.Storage.Scratch.On() {
		// The scratch account carries the label's random suffix.
		want.Azure.Storage.Scratch.AccountName = "dhubpangeohub" + label[len(label)-6:]
	}
	if h.HTTPSEnabled() {
		want.JupyterHub.HTTPS.ContactEmail = o.Email
	}
	if h.JupyterHub.Auth.Type == AuthAzureAD {
		want.JupyterHub.Auth.AzureAD = &AzureAD{
			TenantID:     o.TenantID,
			ClientID:     o.ClientID,
			ClientSecret: SecretRef{FromEnv: testSecret},
			Access:       Access{AllowedUsers: allowed},
		}
	}
	want.SetDefaults()
	return want
}

func TestInitEveryTargetAndProfileLoads(t *testing.T) {
	for _, target := range Targets {
		for _, p := range profiles {
			t.Run(string(target)+"/"+string(p), func(t *testing.T) {
				o := InitOptions{Name: "pangeo-hub", Target: target, Profile: p}
				b, err := Init(o)
				if err != nil {
					t.Fatal(err)
				}
				f, err := Load("dhub.yaml", b)
				if err != nil {
					t.Fatalf("Load of the Init output: %v\n%s", err, b)
				}
				label := writtenLabel(t, f.Hub)
				if want := initHub(o, label); !equalHubs(*f.Hub, want) {
					t.Errorf("the written values are not the defaults\n got %s\nwant %s", dump(f.Hub), dump(want))
				}
				// Every profile that needs nothing from the user is valid as written.
				if p == ProfileSimple || target == TargetLocal {
					if errs := f.Hub.Validate().Errors(); len(errs) != 0 {
						t.Errorf("Init output has errors:\n%s", problemList(errs))
					}
				}
			})
		}
	}
}

// fillAllowedUser puts one user into the written allowedUsers list.
func fillAllowedUser(t *testing.T, b []byte, user string) []byte {
	t.Helper()
	const empty = "allowedUsers: []"
	if n := strings.Count(string(b), empty); n != 1 {
		t.Fatalf("%d %q in the Init output, want 1", n, empty)
	}
	return []byte(strings.Replace(string(b), empty, "allowedUsers: ["+user+"]", 1))
}

func TestInitRecommendedAzureValid(t *testing.T) {
	o := InitOptions{Name: "pangeo-hub", Target: TargetAzure, Profile: ProfileRecommended,
		Email: testEmail, TenantID: testTenantID, ClientID: testClientID}
	b, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("dhub.yaml", fillAllowedUser(t, b, testUser))
	if err != nil {
		t.Fatal(err)
	}
	label := writtenLabel(t, f.Hub)
	for _, want := range []string{"contactEmail: \"" + testEmail + "\"", testTenantID, testClientID,
		"https://" + label + ".westeurope.cloudapp.azure.com/hub/oauth_callback"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Init output lacks %q", want)
		}
	}
	if ps := f.Hub.Validate(); len(ps) != 0 {
		t.Errorf("problems:\n%s", problemList(ps))
	}
	want := initHub(o, label, testUser)
	if !equalHubs(*f.Hub, want) {
		t.Errorf("loaded hub differs from the defaults plus the filled fields\n got %s\nwant %s", dump(f.Hub), dump(want))
	}
	// And that is the validation baseline, but for the label drawn.
	base := azureHub()
	base.Azure.DNSLabel, base.JupyterHub.Host = label, label+".westeurope.cloudapp.azure.com"
	base.Azure.Storage.Scratch.AccountName = "dhubpangeohub" + label[len(label)-6:]
	if !equalHubs(*f.Hub, *base) {
		t.Errorf("loaded hub differs from the azure baseline\n got %s\nwant %s", dump(f.Hub), dump(azureHub()))
	}
}

// Without the allowed user, the written file fails for exactly that reason.
func TestInitRecommendedAzureNeedsAllowRule(t *testing.T) {
	b, err := Init(InitOptions{Target: TargetAzure, Email: testEmail, TenantID: testTenantID, ClientID: testClientID})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("dhub.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	ps := f.Hub.Validate()
	want := Problem{Path: "hub.auth.azuread", Message: "no one is allowed to log in; set allowedUsers, allowedGroups, admins or allowAll"}
	if len(ps) != 1 || ps[0] != want {
		t.Fatalf("problems:\n%s", problemList(ps))
	}
	// The problem points at the azuread block of the written file.
	line := strings.Count(string(b[:strings.Index(string(b), "    azuread:")]), "\n") + 1
	if got := f.Line(ps[0].Path); got != line {
		t.Errorf("Line(%s) = %d, want %d", ps[0].Path, got, line)
	}
}

func TestInitOptionDefaults(t *testing.T) {
	b, err := Init(InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load("dhub.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if h := f.Hub; h.Name != "pangeo-hub" || h.Target != TargetLocal || h.Profile != ProfileRecommended {
		t.Errorf("name %q, target %s, profile %s", h.Name, h.Target, h.Profile)
	}
}

func TestInitName(t *testing.T) {
	b, err := Init(InitOptions{Name: "geo-lab", Target: TargetAzure, Profile: ProfileSimple})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`reached at http://geo-lab-[a-z0-9]{6}\.westeurope\.cloudapp\.azure\.com`).Match(b) {
		t.Errorf("the name's host is not shown:\n%s", b)
	}
	f, err := Load("dhub.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Hub.Name != "geo-lab" || f.Hub.JupyterHub.Host != writtenLabel(t, f.Hub)+".westeurope.cloudapp.azure.com" {
		t.Errorf("name %q, host %q", f.Hub.Name, f.Hub.JupyterHub.Host)
	}
}

func TestInitRejects(t *testing.T) {
	for _, tc := range []struct {
		o    InitOptions
		want string
	}{
		{InitOptions{Target: "gcp"}, `target "gcp" is not one of local, kubernetes, azure`},
		{InitOptions{Profile: "huge"}, `profile "huge" is not one of simple, recommended`},
		{InitOptions{Name: "Pangeo_Hub"}, `name "Pangeo_Hub" is not a DNS label`},
		{InitOptions{Name: "1hub"}, `name "1hub" is not a DNS label`},
		{InitOptions{Name: "hub-"}, `name "hub-" is not a DNS label`},
		// Validate wants at least 3 characters; Init must not write a file it rejects.
		{InitOptions{Name: "ab"}, `name "ab" is not a DNS label`},
	} {
		b, err := Init(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || b != nil {
			t.Errorf("Init(%+v) = %d bytes, %v; want error %q", tc.o, len(b), err, tc.want)
		}
	}
}

// Values that YAML would read otherwise unless quoted (a quote, a comment,
// a mapping, an alias, a tag, a block scalar) come back as given.
func TestInitEscapesWhatItWrites(t *testing.T) {
	hostile := []string{`x"y`, `a:b`, `#c`, `'q'`, `[x]`, `{x}`, `\back`, `&anchor`, `*alias`, `!tag`, `%x`, `@x`, "`x`", `|x`, `>x`, `-`, `?`, `x,y`, "é\u2028"}
	for _, target := range []Target{TargetAzure, TargetLocal} {
		o := InitOptions{Target: target, Email: `x"y#z@example.org`, TenantID: testTenantID, ClientID: testClientID,
			AllowedUsers: hostile, Admins: []string{`o'k"`, `ad:min`}}
		b, err := Init(o)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Load("dhub.yaml", b)
		if err != nil {
			t.Fatalf("%s: the file Init wrote does not load: %v\n%s", target, err, b)
		}
		var got Access
		if target == TargetAzure {
			got = f.Hub.JupyterHub.Auth.AzureAD.Access
			if f.Hub.JupyterHub.HTTPS.ContactEmail != o.Email {
				t.Errorf("contactEmail = %q, want %q", f.Hub.JupyterHub.HTTPS.ContactEmail, o.Email)
			}
		} else {
			got = f.Hub.JupyterHub.Auth.Password.Access
		}
		if !equalHubs(Hub{JupyterHub: JupyterHub{Auth: Auth{AzureAD: &AzureAD{Access: got}}}},
			Hub{JupyterHub: JupyterHub{Auth: Auth{AzureAD: &AzureAD{Access: Access{AllowedUsers: hostile, Admins: o.Admins}}}}}) {
			t.Errorf("%s: the lists read back as %q and %q", target, got.AllowedUsers, got.Admins)
		}
	}
}

func TestInitChecksWhatItIsGiven(t *testing.T) {
	azure := InitOptions{Target: TargetAzure, Email: testEmail, TenantID: testTenantID, ClientID: testClientID, Admins: []string{testUser}}
	with := func(change func(*InitOptions)) InitOptions {
		o := azure
		change(&o)
		return o
	}
	for _, tc := range []struct {
		o    InitOptions
		want string
	}{
		{with(func(o *InitOptions) { o.ClientID = `x"y` }), `client id "x\"y" is not a GUID`},
		{with(func(o *InitOptions) { o.TenantID = "contoso.onmicrosoft.com" }), `tenant id "contoso.onmicrosoft.com" is not a GUID`},
		{with(func(o *InitOptions) { o.Email = "admin" }), `email "admin" is not an address`},
		{with(func(o *InitOptions) { o.Email = "admin@example.org\nx: 1" }), `is not an address`},
		{with(func(o *InitOptions) { o.AllowedGroups = []string{"Researchers"} }), `allowed group "Researchers" is not an Azure AD group object id`},
		{with(func(o *InitOptions) { o.AllowedUsers = []string{"two words"} }), `allowed user "two words" is empty or holds spaces`},
		{with(func(o *InitOptions) { o.Admins = []string{""} }), `admin "" is empty or holds spaces`},
		{with(func(o *InitOptions) { o.Admins = []string{"a", "a"} }), `admin "a" is listed twice`},
		{InitOptions{Target: TargetLocal, AllowedGroups: []string{testTenantID}}, "allowed groups are Azure AD groups: password login"},
	} {
		b, err := Init(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) || b != nil {
			t.Errorf("Init(%+v) = %d bytes, %v; want error %q", tc.o, len(b), err, tc.want)
		}
	}
}

// The flags of who may log in yield files that validate accepts as they
// are, with the user password named when others than admins log in.
func TestInitWhoMayLogIn(t *testing.T) {
	for _, tc := range []struct {
		name         string
		o            InitOptions
		userPassword bool
	}{
		{"azure: admins and a group", InitOptions{Target: TargetAzure, Email: testEmail, TenantID: testTenantID, ClientID: testClientID,
			Admins: []string{testUser}, AllowedGroups: []string{testClientID}}, false},
		{"azure: everyone in the tenant", InitOptions{Target: TargetAzure, Email: testEmail, TenantID: testTenantID, ClientID: testClientID, AllowAll: true}, false},
		{"kubernetes, simple: allowed users", InitOptions{Target: TargetKubernetes, Profile: ProfileSimple, AllowedUsers: []string{"alice"}, Admins: []string{"ops"}}, true},
		{"local: admins only", InitOptions{Target: TargetLocal, Admins: []string{"ops"}}, false},
		{"local: allowed users", InitOptions{Target: TargetLocal, AllowedUsers: []string{"alice", "bob"}}, true},
		{"local: the admin is no other user", InitOptions{Target: TargetLocal, AllowedUsers: []string{DefaultAdminUser}}, false},
		{"local: everyone with the password", InitOptions{Target: TargetLocal, AllowAll: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Init(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Load("dhub.yaml", b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if errs := f.Hub.Validate().Errors(); len(errs) != 0 {
				t.Errorf("validate:\n%s\n%s", problemList(errs), b)
			}
			a := f.Hub.JupyterHub.Auth
			switch {
			case a.AzureAD != nil:
				if !equalHubs(Hub{JupyterHub: JupyterHub{Auth: Auth{AzureAD: &AzureAD{Access: a.AzureAD.Access, AllowedGroups: a.AzureAD.AllowedGroups}}}},
					Hub{JupyterHub: JupyterHub{Auth: Auth{AzureAD: &AzureAD{Access: Access{AllowedUsers: tc.o.AllowedUsers, Admins: tc.o.Admins, AllowAll: tc.o.AllowAll}, AllowedGroups: tc.o.AllowedGroups}}}}) {
					t.Errorf("azuread read back as %+v", a.AzureAD)
				}
			case a.Password != nil:
				if got := !a.Password.UserPassword.IsZero(); got != tc.userPassword {
					t.Errorf("userPassword set = %v, want %v\n%s", got, tc.userPassword, b)
				}
				if a.Password.AllowAll != tc.o.AllowAll || strings.Join(a.Password.AllowedUsers, ",") != strings.Join(tc.o.AllowedUsers, ",") || strings.Join(a.Password.Admins, ",") != strings.Join(tc.o.Admins, ",") {
					t.Errorf("password access read back as %+v", a.Password.Access)
				}
			default:
				t.Fatalf("auth %+v", a)
			}
		})
	}
}

// The budget init writes for Azure is commented out; uncommented, it is a
// valid budget that tells the contact address given to init.
func TestInitAzureBudgetUncommented(t *testing.T) {
	o := InitOptions{Name: "pangeo-hub", Target: TargetAzure, Profile: ProfileRecommended,
		Email: testEmail, TenantID: testTenantID, ClientID: testClientID}
	b, err := Init(o)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		for _, key := range []string{"budget:", "amount:", "actual:", "forecast:", "contactEmails:"} {
			if strings.HasPrefix(strings.TrimLeft(l, " #"), key) && strings.HasPrefix(strings.TrimSpace(l), "#") {
				l = strings.Replace(l, "# ", "", 1)
			}
		}
		lines = append(lines, l)
	}
	f, err := Load("dhub.yaml", fillAllowedUser(t, []byte(strings.Join(lines, "\n")), testUser))
	if err != nil {
		t.Fatal(err)
	}
	bu := f.Hub.Azure.Budget
	if bu == nil || bu.Amount != 1000 || len(bu.Actual) != 2 || len(bu.Forecast) != 1 || strings.Join(bu.ContactEmails, ",") != testEmail {
		t.Fatalf("budget uncommented: %+v", bu)
	}
	if ps := f.Hub.Validate(); len(ps) != 0 {
		t.Errorf("problems:\n%s", problemList(ps))
	}
}
