package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var profiles = []Profile{ProfileSimple, ProfileRecommended}

func defaulted(name string, target Target, profile Profile) *Hub {
	h := &Hub{Name: name, Target: target, Profile: profile}
	h.SetDefaults()
	return h
}

func TestDefaultsSimpleAzure(t *testing.T) {
	h := defaulted("pangeo-hub", TargetAzure, ProfileSimple)
	want := []NodePool{{
		Name: "nodepool1", Role: RoleAll, // the VM size is picked by the plan, from VMSizePreference
		Count: ptr(1), Autoscale: &Autoscale{Min: 1, Max: 5},
	}}
	if !reflect.DeepEqual(h.Azure.NodePools, want) {
		t.Errorf("node pools %s, want %s", dump(h.Azure.NodePools), dump(want))
	}
	// The guide's hub is open to anyone; dhub's logs in its admin with a
	// generated password.
	if a := h.JupyterHub.Auth; a.Type != AuthPassword || a.Password.AdminUser != "admin" || !a.Password.AdminPassword.IsZero() || h.HTTPSEnabled() {
		t.Errorf("auth %s %+v, https %v; want password with a generated admin password, and off", a.Type, a.Password, h.HTTPSEnabled())
	}
	if h.JupyterHub.Host != "pangeo-hub-r2crrr.westeurope.cloudapp.azure.com" {
		t.Errorf("host %q", h.JupyterHub.Host)
	}
}

func TestDefaultsRecommendedAzure(t *testing.T) {
	h := defaulted("pangeo-hub", TargetAzure, ProfileRecommended)
	want := Azure{
		ResourceGroup: "pangeo",
		Location:      "westeurope",
		ClusterName:   "pangeoCluster",
		NetworkPolicy: "azure",
		DNSLabel:      "pangeo-hub-r2crrr",
		Currency:      "USD",
		NodePools: []NodePool{
			{Name: "core", Role: RoleCore, Count: ptr(1)},
			{Name: "users", Role: RoleUser, Count: ptr(1), Autoscale: &Autoscale{Min: 0, Max: 10}},
			{Name: "workers", Role: RoleWorker, Count: ptr(1), Autoscale: &Autoscale{Min: 0, Max: 50},
				Spot: &Spot{MaxPrice: ptr(-1.0), Eviction: "Delete"}},
		},
		// The scratch container is on in the recommended profile, its
		// account named like the DNS label.
		Storage: AzureStorage{Scratch: AzureScratch{Enabled: ptr(true), RetentionDays: 7, AccountName: "dhubpangeohubk5t5bb"}},
	}
	if !reflect.DeepEqual(h.Azure, want) {
		t.Errorf("azure\n got %s\nwant %s", dump(h.Azure), dump(want))
	}
	// The guide's node labels follow from the roles.
	for role, label := range map[PoolRole]map[string]string{
		RoleCore:   {"hub.jupyter.org/node-purpose": "core"},
		RoleUser:   {"hub.jupyter.org/node-purpose": "user"},
		RoleWorker: {"k8s.dask.org/dedicated": "worker"},
		RoleAll:    nil,
	} {
		if got := RoleLabels(role); !reflect.DeepEqual(got, label) {
			t.Errorf("RoleLabels(%s) = %v, want %v", role, got, label)
		}
	}
	j := h.JupyterHub
	if !h.HTTPSEnabled() || j.Auth.Type != AuthAzureAD || j.Host != "pangeo-hub-r2crrr.westeurope.cloudapp.azure.com" {
		t.Errorf("https %v, auth %s, host %q", h.HTTPSEnabled(), j.Auth.Type, j.Host)
	}
	if got := h.PoolRoles(); !reflect.DeepEqual(got, map[PoolRole]bool{RoleCore: true, RoleUser: true, RoleWorker: true}) {
		t.Errorf("PoolRoles = %v", got)
	}
}

// The host follows the hub's location and DNS label.
func TestDefaultsHostFollowsLocation(t *testing.T) {
	h := &Hub{Name: "geo", Target: TargetAzure, Azure: Azure{Location: "eastus2", DNSLabel: "geo-lab"}}
	h.SetDefaults()
	if h.JupyterHub.Host != "geo-lab.eastus2.cloudapp.azure.com" {
		t.Errorf("host %q", h.JupyterHub.Host)
	}
	h = &Hub{Target: TargetAzure}
	h.SetDefaults()
	if h.JupyterHub.Host != "" {
		t.Errorf("host %q from an empty name", h.JupyterHub.Host)
	}
}

func TestDefaultsLocal(t *testing.T) {
	for _, p := range profiles {
		h := defaulted("lab-hub", TargetLocal, p)
		a := h.JupyterHub.Auth
		if a.Type != AuthPassword || a.Password == nil || a.Password.AdminUser != "admin" {
			t.Errorf("%s: auth %+v, want password with admin user admin", p, a)
		}
		if h.HTTPSEnabled() {
			t.Errorf("%s: https on", p)
		}
		if h.Local != (Local{Host: "127.0.0.1", Port: 8000, Python: "python3"}) {
			t.Errorf("%s: local %+v", p, h.Local)
		}
		if h.JupyterHub.Host != "" || h.Azure.NodePools != nil {
			t.Errorf("%s: host %q, pools %v on the local target", p, h.JupyterHub.Host, h.Azure.NodePools)
		}
		if len(h.PoolRoles()) != 0 {
			t.Errorf("%s: PoolRoles %v", p, h.PoolRoles())
		}
	}
}

func TestDefaultsEveryTargetAndProfile(t *testing.T) {
	for _, tc := range []struct {
		target  Target
		profile Profile
		auth    AuthType
		https   bool
		host    string
		pools   int
		// The worker bounds' maxima: on Azure, what a Standard_D2s_v3
		// worker node of the size dhub picks holds (2 cores, at least 5 GiB).
		maxCores, maxMemory float64
	}{
		{TargetLocal, ProfileSimple, AuthPassword, false, "", 0, 16, 32},
		{TargetLocal, ProfileRecommended, AuthPassword, false, "", 0, 16, 32},
		{TargetKubernetes, ProfileSimple, AuthPassword, false, "", 0, 16, 32},
		{TargetKubernetes, ProfileRecommended, AuthAzureAD, true, "", 0, 16, 32},
		{TargetAzure, ProfileSimple, AuthPassword, false, "hub-5obb63.westeurope.cloudapp.azure.com", 1, 2, 5},
		{TargetAzure, ProfileRecommended, AuthAzureAD, true, "hub-5obb63.westeurope.cloudapp.azure.com", 3, 2, 5},
	} {
		h := defaulted("hub", tc.target, tc.profile)
		j := h.JupyterHub
		if j.Auth.Type != tc.auth || h.HTTPSEnabled() != tc.https || j.Host != tc.host || len(h.Azure.NodePools) != tc.pools {
			t.Errorf("%s/%s: auth %s, https %v, host %q, %d pools; want %s, %v, %q, %d",
				tc.target, tc.profile, j.Auth.Type, h.HTTPSEnabled(), j.Host, len(h.Azure.NodePools),
				tc.auth, tc.https, tc.host, tc.pools)
		}
		// What every target shares.
		if h.APIVersion != APIVersion || h.Kind != Kind || h.Namespace != "dhub" ||
			j.Image != DefaultImage || j.DefaultURL != "/lab" || j.Storage.Size != "10Gi" ||
			!h.IdleCullingEnabled() || j.IdleCulling.Timeout != time.Hour ||
			h.Dask.Image != DefaultImage || *h.Dask.IdleTimeout != time.Hour ||
			h.Dask.WorkerCores != (Bounds{Default: 1, Min: 1, Max: tc.maxCores}) ||
			h.Dask.WorkerMemory != (Bounds{Default: 2, Min: 1, Max: tc.maxMemory}) ||
			!reflect.DeepEqual(h.Charts, Charts{
				JupyterHub:  ChartSource{Version: "4.4.0", Repository: "https://hub.jupyter.org/helm-chart/"},
				DaskGateway: ChartSource{Version: "2026.3.0", Repository: "https://helm.dask.org/"},
			}) {
			t.Errorf("%s/%s: shared defaults wrong: %s", tc.target, tc.profile, dump(h))
		}
	}
}

func TestDefaultTargetAndProfile(t *testing.T) {
	h := &Hub{}
	h.SetDefaults()
	if h.Target != TargetLocal || h.Profile != ProfileRecommended {
		t.Errorf("target %s, profile %s; want local, recommended", h.Target, h.Profile)
	}
}

// userHub writes every field a default could fill, none with its default.
func userHub() *Hub {
	return &Hub{
		APIVersion: "dhub/v0", Kind: "Other", Name: "mine", Target: TargetAzure, Profile: ProfileRecommended,
		Namespace: "science",
		Azure: Azure{
			ResourceGroup: "rg", Location: "eastus", ClusterName: "c1", NetworkPolicy: "calico", DNSLabel: "my-hub", Currency: "EUR",
			NodePools: []NodePool{
				{Name: "big", Role: RoleCore, VMSize: "Standard_E8s_v5", Count: ptr(0)},
				{Name: "spot", Role: RoleWorker, VMSize: "Standard_F4s_v2", Count: ptr(2), Autoscale: &Autoscale{Min: 3, Max: 4},
					Spot: &Spot{MaxPrice: ptr(0.5), Eviction: "Deallocate"}},
			},
			Storage: AzureStorage{Scratch: AzureScratch{Enabled: ptr(true), RetentionDays: 3, AccountName: "mydata1"}},
		},
		Local: Local{Host: "0.0.0.0", Port: 9000, Python: "/usr/bin/python3.12"},
		JupyterHub: JupyterHub{
			Image: "me/notebook:1", DefaultURL: "/tree", Host: "hub.example.org",
			HTTPS:       HTTPS{Enabled: ptr(false)},
			Auth:        Auth{Type: AuthPassword, Password: &Password{AdminUser: "root"}},
			IdleCulling: IdleCulling{Enabled: ptr(false), Timeout: 2 * time.Hour},
			Storage:     Storage{Size: "50Gi", Class: "fast"},
			Expose:      Expose{Type: ExposeIngress, IngressClassName: "nginx"},
		},
		Dask: Dask{
			Image:         "me/dask:1",
			WorkerCores:   Bounds{Default: 2, Min: 2, Max: 4},
			WorkerMemory:  Bounds{Default: 8, Min: 4, Max: 16},
			IdleTimeout:   ptr(30 * time.Minute),
			EndWithServer: ptr(false),
		},
		Charts: Charts{
			JupyterHub:  ChartSource{Version: "4.3.0", Repository: "https://mirror.example.org/jh/"},
			DaskGateway: ChartSource{Version: "2025.4.0", Repository: "oci://mirror.example.org/dg"},
		},
	}
}

func TestDefaultsNeverOverride(t *testing.T) {
	for _, target := range Targets {
		for _, p := range profiles {
			h, want := userHub(), userHub()
			h.Target, want.Target = target, target
			h.Profile, want.Profile = p, p
			h.SetDefaults()
			if !reflect.DeepEqual(h, want) {
				t.Errorf("%s/%s: SetDefaults changed what the user wrote\n got %s\nwant %s", target, p, dump(h), dump(want))
			}
		}
	}
}

// Defaults fill only the missing parts of what the user wrote.
func TestDefaultsFillPartialPools(t *testing.T) {
	h := &Hub{Name: "x-hub", Target: TargetAzure, Azure: Azure{NodePools: []NodePool{
		{Name: "only", Autoscale: &Autoscale{Min: 2, Max: 5}, Spot: &Spot{Eviction: "Deallocate"}},
	}}}
	h.SetDefaults()
	want := NodePool{Name: "only", Role: RoleAll, Count: ptr(2), // the VM size is picked by the plan
		Autoscale: &Autoscale{Min: 2, Max: 5}, Spot: &Spot{MaxPrice: ptr(-1.0), Eviction: "Deallocate"}}
	if !reflect.DeepEqual(h.Azure.NodePools, []NodePool{want}) {
		t.Errorf("pool %s, want %s", dump(h.Azure.NodePools), dump(want))
	}

	// With several pools the role is the user's to choose.
	h = &Hub{Target: TargetAzure, Azure: Azure{NodePools: []NodePool{{Name: "a"}, {Name: "b", Count: ptr(4)}}}}
	h.SetDefaults()
	if p := h.Azure.NodePools; p[0].Role != "" || p[1].Role != "" || *p[0].Count != 1 || *p[1].Count != 4 {
		t.Errorf("pools %s", dump(p))
	}

	// The Dask image follows the hub's.
	h = &Hub{JupyterHub: JupyterHub{Image: "me/notebook:2"}}
	h.SetDefaults()
	if h.Dask.Image != "me/notebook:2" {
		t.Errorf("dask image %q, want the hub image", h.Dask.Image)
	}

	// A password block written without an admin user gets one.
	h = &Hub{Target: TargetKubernetes, JupyterHub: JupyterHub{Auth: Auth{Type: AuthPassword}}}
	h.SetDefaults()
	if h.JupyterHub.Auth.Password == nil || h.JupyterHub.Auth.Password.AdminUser != DefaultAdminUser {
		t.Errorf("password %+v", h.JupyterHub.Auth.Password)
	}
}

func TestDefaultsIdempotent(t *testing.T) {
	hubs := map[string]func() *Hub{
		"empty": func() *Hub { return &Hub{} },
		"user":  userHub,
		"azure": azureHub,
		"local": localHub,
		"partial": func() *Hub {
			return &Hub{Name: "p-hub", Target: TargetAzure, Azure: Azure{NodePools: []NodePool{{Name: "one"}}}}
		},
	}
	for _, target := range Targets {
		for _, p := range profiles {
			hubs[string(target)+"/"+string(p)] = func() *Hub { return &Hub{Name: "hub", Target: target, Profile: p} }
		}
	}
	for name, mk := range hubs {
		once, twice := mk(), mk()
		once.SetDefaults()
		twice.SetDefaults()
		twice.SetDefaults()
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("%s: defaults applied twice differ from once\nonce  %s\ntwice %s", name, dump(once), dump(twice))
		}
	}
}

func TestPoolRolesKubernetes(t *testing.T) {
	h := &Hub{Target: TargetKubernetes, Kubernetes: Kubernetes{NodeRoles: []PoolRole{RoleUser, RoleWorker}}}
	if got := h.PoolRoles(); !reflect.DeepEqual(got, map[PoolRole]bool{RoleUser: true, RoleWorker: true}) {
		t.Errorf("PoolRoles = %v", got)
	}
}

func TestIdleCullingEnabled(t *testing.T) {
	for _, tc := range []struct {
		enabled *bool
		want    bool
	}{{nil, true}, {ptr(true), true}, {ptr(false), false}} {
		h := &Hub{JupyterHub: JupyterHub{IdleCulling: IdleCulling{Enabled: tc.enabled}}}
		if got := h.IdleCullingEnabled(); got != tc.want {
			t.Errorf("IdleCullingEnabled with %v = %v", tc.enabled, got)
		}
	}
}

func TestPartialBoundsAndNeverIdleTimeout(t *testing.T) {
	f, err := Load("dhub.yaml", []byte("name: lab\ndask:\n  workerCores: {max: 8}\n  idleTimeout: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := f.Hub.Dask
	if want := (Bounds{Default: 1, Min: 1, Max: 8}); d.WorkerCores != want {
		t.Errorf("workerCores = %+v, want %+v (defaults filled field by field)", d.WorkerCores, want)
	}
	if d.IdleTimeout == nil || *d.IdleTimeout != 0 {
		t.Errorf("idleTimeout = %v, want 0 (never), not the default", d.IdleTimeout)
	}
	if ps := f.Hub.Validate().Errors(); len(ps) > 0 {
		t.Errorf("problems: %v", ps)
	}
}

// The default DNS label differs between deployments that keep the guide's
// names in different subscriptions, resource groups or clusters, and stays
// the same for one deployment.
func TestDefaultDNSLabelIsPerDeployment(t *testing.T) {
	label := func(f func(h *Hub)) string {
		h := &Hub{Name: "pangeo-hub", Target: TargetAzure}
		f(h)
		h.SetDefaults()
		return h.Azure.DNSLabel
	}
	base := label(func(*Hub) {})
	if base != label(func(*Hub) {}) || !strings.HasPrefix(base, "pangeo-hub-") || len(base) != len("pangeo-hub-")+6 {
		t.Errorf("label %q: want pangeo-hub- and 6 stable characters", base)
	}
	seen := map[string]bool{base: true}
	for _, f := range []func(h *Hub){
		func(h *Hub) { h.Azure.Subscription = "11111111-2222-3333-4444-555555555555" },
		func(h *Hub) { h.Azure.ResourceGroup = "lab" },
		func(h *Hub) { h.Azure.ClusterName = "other" },
		func(h *Hub) { h.Azure.Location = "eastus" },
	} {
		l := label(f)
		if seen[l] {
			t.Errorf("label %q repeats for another deployment", l)
		}
		seen[l] = true
	}
	long := &Hub{Name: "a" + strings.Repeat("b", 62), Target: TargetAzure}
	long.SetDefaults()
	if n := len(long.Azure.DNSLabel); n > 63 {
		t.Errorf("label of a 63-character name has %d characters", n)
	}
}
