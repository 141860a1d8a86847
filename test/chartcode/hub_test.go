package chartcode

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"dhub/internal/charts"
	"dhub/internal/config"
	"dhub/internal/render"
)

// clusterExamples are the examples that install the charts.
var clusterExamples = []string{"azure-simple", "azure-recommended", "azure-custom-pools", "kubernetes", "password-auth", "dask-access-role", "airgapped-charts"}

// A group of Azure AD users no example lets in.
const otherGroup = "00000000-0000-0000-0000-0000000000ff"

// portImage is an image a user may ask for: a registry with a port, a tag.
const portImage = "registry.example.org:5000/team/notebook:2025.1"

// probesFor are the questions asked of an example's charts.
func probesFor(h *config.Hub) spec {
	s := spec{PodUser: "alice"}
	switch a := h.JupyterHub.Auth; a.Type {
	case config.AuthPassword:
		p := a.Password
		s.Logins = append(s.Logins,
			loginProbe{Name: p.AdminUser, Password: authSecret["admin-password"]},
			loginProbe{Name: p.AdminUser, Password: authSecret["user-password"]},
			loginProbe{Name: "mallory", Password: authSecret["user-password"]},
			loginProbe{Name: "mallory", Password: authSecret["admin-password"]})
		for _, u := range p.AllowedUsers {
			s.Logins = append(s.Logins, loginProbe{Name: u, Password: authSecret["user-password"]})
		}
	case config.AuthAzureAD:
		ad := a.AzureAD
		claims := func(upn string, groups ...string) map[string]any {
			return map[string]any{"upn": upn, "name": "Someone", "oid": "0000", "aud": ad.ClientID, "tid": ad.TenantID, "groups": groups}
		}
		for _, u := range append(slices.Clone(ad.AllowedUsers), ad.Admins...) {
			s.Logins = append(s.Logins, loginProbe{Name: u, Claims: claims(u)})
		}
		for _, g := range ad.AllowedGroups {
			s.Logins = append(s.Logins, loginProbe{Name: "member@example.org", Claims: claims("member@example.org", g)})
			// A guest (B2B) account: no upn claim; its email names it.
			guest := map[string]any{"email": "guest@partner.example", "preferred_username": "guest_partner.example#EXT#@contoso.onmicrosoft.com",
				"name": "A Guest", "oid": "0001", "aud": ad.ClientID, "groups": []string{g}}
			s.Logins = append(s.Logins, loginProbe{Name: "guest@partner.example", Claims: guest})
		}
		s.Logins = append(s.Logins, loginProbe{Name: "mallory@example.org", Claims: claims("mallory@example.org", otherGroup)})
	case config.AuthNone:
		s.Logins = append(s.Logins, loginProbe{Name: "anyone"})
	}
	s.TokenUsers = []tokenUser{{Name: "outsider@example.org", Groups: []string{otherGroup}}}
	for _, u := range h.Dask.AccessUsers {
		s.TokenUsers = append(s.TokenUsers, tokenUser{Name: u})
	}
	for _, g := range h.Dask.AccessGroups {
		s.TokenUsers = append(s.TokenUsers, tokenUser{Name: "member@example.org", Groups: []string{g}})
	}
	d := h.Dask
	s.OptionProbes = []optionProbe{
		{User: "alice", Request: map[string]any{}},
		{User: "alice", Request: map[string]any{"worker_cores": d.WorkerCores.Max, "worker_memory": d.WorkerMemory.Max}},
		{User: "alice", Request: map[string]any{"worker_cores": d.WorkerCores.Max + 1}},
		{User: "alice", Request: map[string]any{"environment": map[string]any{"N": 3}}},
		{User: "alice", Request: map[string]any{"image": "registry.example.org:5000/team/notebook"}},
		{User: "alice", Request: map[string]any{"image": portImage}},
	}
	return s
}

var (
	reportsMu sync.Mutex
	reports   = map[string]*report{}
)

// reportFor runs an example's charts once and keeps what they said.
func reportFor(t *testing.T, name string) (*config.Hub, *report) {
	t.Helper()
	h := hub(t, name)
	reportsMu.Lock()
	defer reportsMu.Unlock()
	if r, ok := reports[name]; ok {
		return h, r
	}
	r := run(t, layOut(t, h), probesFor(h))
	reports[name] = r
	return h, r
}

func forEachExample(t *testing.T, f func(t *testing.T, h *config.Hub, r *report)) {
	for _, name := range clusterExamples {
		t.Run(name, func(t *testing.T) {
			h, r := reportFor(t, name)
			f(t, h, r)
		})
	}
}

// TestWhoLogsIn asks the chart's authenticator, configured as the hub pod
// configures it, who gets in: the admins with the admin password, allowed
// users, group members and guests with Azure AD, and nobody else.
func TestWhoLogsIn(t *testing.T) {
	forEachExample(t, func(t *testing.T, h *config.Hub, r *report) {
		a := h.JupyterHub.Auth
		for _, l := range r.Logins {
			p := l.Probe
			if l.Error != "" {
				t.Errorf("login of %s raised %s", p.Name, l.Error)
				continue
			}
			want, admin := false, false
			switch a.Type {
			case config.AuthNone:
				want = true
			case config.AuthPassword:
				pw := a.Password
				isAdmin := slices.Contains(pw.AdminNames(), p.Name)
				switch {
				case isAdmin:
					want, admin = p.Password == authSecret["admin-password"], true
				default:
					want = (pw.AllowAll || slices.Contains(pw.AllowedUsers, p.Name)) && p.Password == authSecret["user-password"]
				}
			case config.AuthAzureAD:
				ad := a.AzureAD
				groups, _ := p.Claims["groups"].([]any)
				inGroup := false
				for _, g := range groups {
					inGroup = inGroup || slices.Contains(ad.AllowedGroups, fmt.Sprint(g))
				}
				admin = slices.Contains(ad.Admins, p.Name)
				want = ad.AllowAll || admin || slices.Contains(ad.AllowedUsers, p.Name) || inGroup
			}
			if l.Allowed != want {
				t.Errorf("login of %s (password %v, claims %v): allowed %v, want %v", p.Name, p.Password != "", p.Claims, l.Allowed, want)
			}
			if l.Allowed && (l.Name != p.Name || l.Admin != admin) {
				t.Errorf("login of %s: the hub names them %q, admin %v; want %q, admin %v", p.Name, l.Name, l.Admin, p.Name, admin)
			}
		}
	})
}

// TestUserPod asks KubeSpawner, configured by the chart, for the pod of a
// user's server: dhub's image, the Dask environment after KubeSpawner's
// expansion, the user pool's node affinity and tolerations, a home volume.
func TestUserPod(t *testing.T) {
	forEachExample(t, func(t *testing.T, h *config.Hub, r *report) {
		spec := r.Pod.Spec
		if len(spec.Containers) == 0 {
			t.Fatal("no container in the user pod")
		}
		ctr := spec.Containers[0]
		if ctr.Image != h.JupyterHub.Image {
			t.Errorf("image %q, want %q", ctr.Image, h.JupyterHub.Image)
		}
		env := envOf(ctr)
		for k, want := range map[string]string{
			"DASK_GATEWAY__AUTH__TYPE":              "jupyterhub",
			"DASK_GATEWAY__PUBLIC_ADDRESS":          "/services/dask-gateway/",
			"DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE": "{JUPYTER_IMAGE_SPEC}",
			"DASK_DISTRIBUTED__DASHBOARD__LINK":     "/user/{JUPYTERHUB_USER}/proxy/{port}/status",
			"DASK_LABEXTENSION__FACTORY__MODULE":    "dask_gateway",
			"JUPYTER_IMAGE_SPEC":                    h.JupyterHub.Image,
		} {
			if env[k] != want {
				t.Errorf("env %s = %q, want %q", k, env[k], want)
			}
		}
		for k := range env {
			if strings.HasPrefix(k, "DASK_DISTRIBUTED__DASHBOARD_") && k != "DASK_DISTRIBUTED__DASHBOARD__LINK" {
				t.Errorf("env %s is a key Dask does not read", k)
			}
		}
		checkScratch(t, h, "the user pod", ctr, "alice")
		checkIdentity(t, h, "the user pod", r.Pod)
		userPool := h.PoolRoles()[config.RoleUser]
		required := spec.Affinity != nil && spec.Affinity.NodeAffinity != nil && spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
		if required != userPool {
			t.Errorf("the user pod requires the user pool: %v, want %v (affinity %+v)", required, userPool, spec.Affinity)
		}
		if userPool && !tolerates(spec.Tolerations, "hub.jupyter.org/dedicated", "user") {
			t.Errorf("tolerations %+v lack the user pool's", spec.Tolerations)
		}
		home := false
		for _, v := range spec.Volumes {
			home = home || (v.PersistentVolumeClaim != nil && strings.HasPrefix(v.PersistentVolumeClaim.ClaimName, "claim-"))
		}
		if !home {
			t.Errorf("no home volume in %+v", spec.Volumes)
		}
	})
}

// checkScratch checks a container of user's against hub.storage.scratch:
// SCRATCH_URL is the user's own place in the bucket, and every key of the
// credentials Secret is in its environment; without scratch, neither is.
func checkScratch(t *testing.T, h *config.Hub, what string, c corev1.Container, user string) {
	t.Helper()
	want, secret := "", ""
	if sc := h.JupyterHub.Storage.Scratch; sc != nil {
		want, secret = strings.TrimRight(sc.URL, "/")+"/"+user, sc.CredentialsSecret
	}
	env := envOf(c)
	azure := map[string]string{}
	if h.Target == config.TargetAzure && h.Azure.Storage.Scratch.On() {
		want = "az://scratch/" + user
		azure = map[string]string{
			"AZURE_STORAGE_ACCOUNT_NAME": h.Azure.Storage.Scratch.AccountName, "AZURE_STORAGE_ANON": "false",
			"AZURE_CLIENT_ID": testIdentity.ClientID, "AZURE_TENANT_ID": testIdentity.TenantID,
			"AZURE_FEDERATED_TOKEN_FILE": render.TokenDir + "/" + render.TokenFile, "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
		}
	}
	if got := env["SCRATCH_URL"]; got != want {
		t.Errorf("%s: SCRATCH_URL %q, want %q", what, got, want)
	}
	for k, v := range env {
		if strings.HasPrefix(k, "AZURE_") && azure[k] != v {
			t.Errorf("%s: env %s = %q, want %q", what, k, v, azure[k])
		}
	}
	for k, v := range azure {
		if env[k] != v {
			t.Errorf("%s: env %s = %q, want %q", what, k, env[k], v)
		}
	}
	var from []string
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil {
			from = append(from, e.SecretRef.Name)
		}
	}
	if got := strings.Join(from, ","); got != secret {
		t.Errorf("%s: environment from Secrets %q, want %q", what, got, secret)
	}
}

// checkIdentity checks a pod of a user's against azure.storage.scratch:
// it runs as the service account the identity trusts, carries AKS's
// workload identity label, and has a token for Azure AD mounted where
// AZURE_FEDERATED_TOKEN_FILE says; without scratch, none of these.
func checkIdentity(t *testing.T, h *config.Hub, what string, pod corev1.Pod) {
	t.Helper()
	on := h.Target == config.TargetAzure && h.Azure.Storage.Scratch.On()
	if got := pod.Spec.ServiceAccountName == render.StorageServiceAccount; got != on {
		t.Errorf("%s: service account %q (scratch %v)", what, pod.Spec.ServiceAccountName, on)
	}
	if got := pod.Labels[render.WorkloadIdentityLabel] == "true"; got != on {
		t.Errorf("%s: label %s = %q (scratch %v)", what, render.WorkloadIdentityLabel, pod.Labels[render.WorkloadIdentityLabel], on)
	}
	volume := ""
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == render.TokenAudience && s.ServiceAccountToken.Path == render.TokenFile {
				volume = v.Name
			}
		}
	}
	mounted := false
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			mounted = mounted || (m.Name == volume && m.MountPath == render.TokenDir)
		}
	}
	if (volume != "" && mounted) != on {
		t.Errorf("%s: Azure AD token volume %q mounted at %s: %v (scratch %v)", what, volume, render.TokenDir, mounted, on)
	}
}

func tolerates(ts []corev1.Toleration, key, value string) bool {
	for _, t := range ts {
		if t.Key == key && (t.Value == value || t.Operator == corev1.TolerationOpExists) {
			return true
		}
	}
	return false
}

// TestServerTokenReachesTheGateway gives the gateway's authenticator, as
// the gateway chart configures it, the token a user's server gets (its
// scopes resolved by JupyterHub's own role code from the chart's roles):
// with dask.requireAccessRole only the granted users and groups are let in.
func TestServerTokenReachesTheGateway(t *testing.T) {
	forEachExample(t, func(t *testing.T, h *config.Hub, r *report) {
		for _, tok := range r.Tokens {
			want := !h.Dask.RequireAccessRole || tok.User != "outsider@example.org"
			if tok.Gateway.Accepted != want {
				t.Errorf("the gateway takes the server token of %s: %v (%s), want %v; its scopes: %v", tok.User, tok.Gateway.Accepted, tok.Gateway.Why, want, tok.Scopes)
			}
		}
		if h.Dask.RequireAccessRole && len(r.Tokens) < 2 {
			t.Error("no granted user was probed")
		}
	})
}

// TestClustersEndWithServers: with dask.endWithServer (every example), the
// gateway chart runs its Kubernetes backend with dhub's loop that stops
// the clusters of users without a server, and the hub, as the jupyterhub
// chart configures it, gives the gateway's token the scopes that loop
// checks for before it stops anything.
func TestClustersEndWithServers(t *testing.T) {
	forEachExample(t, func(t *testing.T, h *config.Hub, r *report) {
		if !*h.Dask.EndWithServer {
			t.Fatal("an example turns dask.endWithServer off")
		}
		if len(r.GatewayBackend) < 2 || r.GatewayBackend[0] != "EndWithServerKubeBackend" || r.GatewayBackend[1] != "KubeBackend" {
			t.Errorf("the gateway's backend: %v, want EndWithServerKubeBackend over KubeBackend", r.GatewayBackend)
		}
		for _, want := range render.GatewayHubScopes {
			if !slices.Contains(r.GatewayScopes, want) {
				t.Errorf("the gateway's hub token lacks %s: %v", want, r.GatewayScopes)
			}
		}
	})
}

// clusterProbe is one probe's cluster configuration and the scheduler and
// worker pods the gateway's controller makes of it, or its error.
type clusterProbe struct {
	Error             string         `json:"error"`
	Environment       map[string]any `json:"environment"`
	ClusterMaxCores   *float64       `json:"cluster_max_cores"`
	ClusterMaxMemory  *float64       `json:"cluster_max_memory"`
	ClusterMaxWorkers *int           `json:"cluster_max_workers"`
	SchedulerPod      corev1.Pod     `json:"scheduler_pod"`
	WorkerPod         corev1.Pod     `json:"worker_pod"`
}

// TestClusterOptions asks the gateway's options handler, as the gateway
// chart loads it, what clusters users get, and the gateway's controller
// for the pods it makes of them: every core of a worker used by a thread,
// the bounds enforced, the environment strings, the image with a tag, the
// limits and the idle timeout; the pods' image, threads, resources, and
// the placement dhub renders (workers on the worker pool, Spot included;
// schedulers on the user pool).
func TestClusterOptions(t *testing.T) {
	forEachExample(t, func(t *testing.T, h *config.Hub, r *report) {
		d := h.Dask
		var probes []clusterProbe
		for _, raw := range r.ClusterOptions.Probes {
			var p clusterProbe
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			probes = append(probes, p)
		}
		if len(probes) != 6 {
			t.Fatalf("%d probes answered", len(probes))
		}
		def, max, above, badEnv, noTag, port := probes[0], probes[1], probes[2], probes[3], probes[4], probes[5]
		for _, c := range []struct {
			name       string
			p          clusterProbe
			image      string
			cores, mem float64
		}{
			{"default", def, d.Image, d.WorkerCores.Default, d.WorkerMemory.Default},
			{"max", max, d.Image, d.WorkerCores.Max, d.WorkerMemory.Max},
			{"image with a registry port", port, portImage, d.WorkerCores.Default, d.WorkerMemory.Default},
		} {
			if c.p.Error != "" {
				t.Errorf("%s options refused: %s", c.name, c.p.Error)
				continue
			}
			checkClusterPods(t, h, c.name, c.p, c.image, c.cores, c.mem)
		}
		if !strings.Contains(above.Error, "worker_cores") {
			t.Errorf("cores above the bound: %+v, want refused", above)
		}
		if badEnv.Error == "" {
			t.Errorf("an environment value that is not a string was taken: %+v", badEnv.Environment)
		}
		if noTag.Error == "" || !strings.Contains(noTag.Error, "tag") {
			t.Errorf("an image without a tag (a registry with a port) was taken: %+v", noTag)
		}
		// The limits count the cores and memory workers may use, not their
		// requests and not the scheduler's: a cluster of the chosen size
		// gets as many workers as fit.
		for _, c := range []struct {
			name       string
			p          clusterProbe
			cores, mem float64
		}{{"default", def, d.WorkerCores.Default, d.WorkerMemory.Default}, {"max", max, d.WorkerCores.Max, d.WorkerMemory.Max}} {
			want := workersWithin(d.Limits, c.cores, c.mem)
			switch {
			case want < 0 && c.p.ClusterMaxWorkers != nil:
				t.Errorf("%s options: cluster max workers %d without limits", c.name, *c.p.ClusterMaxWorkers)
			case want >= 0 && (c.p.ClusterMaxWorkers == nil || *c.p.ClusterMaxWorkers != want):
				t.Errorf("%s options: cluster max workers %v, want %d (limits %+v)", c.name, c.p.ClusterMaxWorkers, want, d.Limits)
			}
			if c.p.ClusterMaxCores != nil || c.p.ClusterMaxMemory != nil {
				t.Errorf("%s options: the gateway counts requests against cluster_max_cores %v / memory %v", c.name, c.p.ClusterMaxCores, c.p.ClusterMaxMemory)
			}
		}
	})
}

// workersWithin is how many workers of cores and mem GiB a cluster may have
// under l, or -1 without limits.
func workersWithin(l config.ClusterLimits, cores, mem float64) int {
	n := -1
	lower := func(m int) {
		if n < 0 || m < n {
			n = m
		}
	}
	if l.MaxWorkers > 0 {
		lower(l.MaxWorkers)
	}
	if l.MaxCores > 0 {
		lower(int(math.Floor(l.MaxCores/cores + 1e-9)))
	}
	if l.MaxMemoryGiB > 0 {
		lower(int(math.Floor(l.MaxMemoryGiB/mem + 1e-9)))
	}
	return n
}

// spotTaint is the taint AKS puts on every node of a Spot pool (dhub does
// not choose it): worker pods without its toleration never start there.
var spotTaint = corev1.Taint{Key: "kubernetes.azure.com/scalesetpriority", Value: "spot", Effect: corev1.TaintEffectNoSchedule}

// checkClusterPods checks the scheduler and worker pods the gateway's
// controller makes for options of image, cores and mem GiB: what runs,
// with what it may use, and where the scheduler places it.
func checkClusterPods(t *testing.T, h *config.Hub, name string, p clusterProbe, image string, cores, mem float64) {
	t.Helper()
	d := h.Dask
	sched, worker := container(t, p.SchedulerPod), container(t, p.WorkerPod)
	if sched == nil || worker == nil {
		return
	}
	for _, c := range []*corev1.Container{sched, worker} {
		if c.Image != image {
			t.Errorf("%s options: %s image %q, want %q", name, c.Name, c.Image, image)
		}
		checkScratch(t, h, name+" options: "+c.Name, *c, "alice")
		pod := p.SchedulerPod
		if c == worker {
			pod = p.WorkerPod
		}
		checkIdentity(t, h, name+" options: "+c.Name+" pod", pod)
		env := envOf(*c)
		for k, v := range d.Environment {
			if env[k] != v {
				t.Errorf("%s options: %s env %s = %q, want %q", name, c.Name, k, env[k], v)
			}
		}
		// A lost worker is noticed within dhub's bound, unless the
		// admin's environment sets another.
		const ttl = "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL"
		if _, own := d.Environment[ttl]; !own && env[ttl] != render.WorkerTTL {
			t.Errorf("%s options: %s env %s = %q, want %q", name, c.Name, ttl, env[ttl], render.WorkerTTL)
		}
		// Kubernetes refuses a pod that requests more than its limit.
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.Sign() <= 0 || lim.Cmp(req) < 0 {
				t.Errorf("%s options: %s %s request %s, limit %s: want 0 < request <= limit", name, c.Name, r, req.String(), lim.String())
			}
		}
	}

	// A worker may use the cores and memory chosen, runs a thread per
	// whole core (at least one), and Dask's memory limit is the container's,
	// so Dask spills before the kernel kills it.
	threads := strconv.Itoa(int(math.Max(1, math.Floor(cores))))
	if got := argAfter(worker.Args, "--nthreads"); got != threads {
		t.Errorf("%s options: a %g-core worker runs --nthreads %s, want %s", name, cores, got, threads)
	}
	cpu, memory := worker.Resources.Limits[corev1.ResourceCPU], worker.Resources.Limits[corev1.ResourceMemory]
	// The controller writes cores with 3 decimals; the handler memory
	// with 6 decimals of GiB.
	if math.Abs(cpu.AsApproximateFloat64()-cores) > 0.0005 {
		t.Errorf("%s options: worker cpu limit %s, want %g", name, cpu.String(), cores)
	}
	if math.Abs(float64(memory.Value())/(1<<30)-mem) > 1e-6 {
		t.Errorf("%s options: worker memory limit %s, want %g GiB", name, memory.String(), mem)
	}
	if got := argAfter(worker.Args, "--memory-limit"); got != strconv.FormatInt(memory.Value(), 10) {
		t.Errorf("%s options: worker --memory-limit %s, want the container's %d", name, got, memory.Value())
	}
	if got, want := argAfter(sched.Args, "--dg-idle-timeout"), d.IdleTimeout.Seconds(); got != strconv.FormatFloat(want, 'f', 1, 64) {
		t.Errorf("%s options: scheduler --dg-idle-timeout %s, want %g", name, got, want)
	}

	// Placement: what dhub renders into the gateway chart's values reaches
	// every pod as it is, and it keeps workers on worker nodes (Spot ones
	// included) and schedulers on user nodes.
	roles := h.PoolRoles()
	for _, c := range []struct {
		component string
		pod       corev1.Pod
		on        config.PoolRole
	}{{"scheduler", p.SchedulerPod, config.RoleUser}, {"worker", p.WorkerPod, config.RoleWorker}} {
		want := renderedPodConfig(t, h, c.component)
		spec := c.pod.Spec
		if !reflect.DeepEqual(spec.Tolerations, want.Tolerations) || !reflect.DeepEqual(spec.Affinity, want.Affinity) {
			t.Errorf("%s options: %s tolerations %+v, affinity %+v; dhub renders %+v, %+v", name, c.component, spec.Tolerations, spec.Affinity, want.Tolerations, want.Affinity)
		}
		required := spec.Affinity != nil && spec.Affinity.NodeAffinity != nil && spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
		if !roles[c.on] {
			if required {
				t.Errorf("%s options: the %s pod requires nodes %+v, but the cluster has no %s pool", name, c.component, spec.Affinity.NodeAffinity, c.on)
			}
			continue
		}
		for _, r := range []config.PoolRole{config.RoleCore, config.RoleUser, config.RoleWorker} {
			if got := required && matchesNode(*spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution, config.RoleLabels(r)); got != (r == c.on) {
				t.Errorf("%s options: the %s pod may run on a %s node (labels %v): %v, want %v", name, c.component, r, config.RoleLabels(r), got, r == c.on)
			}
		}
	}
	if spotWorkers(h) && !toleratesTaint(p.WorkerPod.Spec.Tolerations, spotTaint) {
		t.Errorf("%s options: the worker pod does not tolerate %s=%s:%s of the Spot worker pool: %+v", name, spotTaint.Key, spotTaint.Value, spotTaint.Effect, p.WorkerPod.Spec.Tolerations)
	}
}

// container is a pod's one container.
func container(t *testing.T, p corev1.Pod) *corev1.Container {
	t.Helper()
	if len(p.Spec.Containers) != 1 {
		t.Errorf("pod %s%s has %d containers, want 1", p.Name, p.GenerateName, len(p.Spec.Containers))
		return nil
	}
	return &p.Spec.Containers[0]
}

// argAfter is the argument after flag in args, "" when flag is absent.
func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// renderedPodConfig is the extraPodConfig dhub renders for the gateway
// chart's scheduler or worker pods, as a pod spec.
func renderedPodConfig(t *testing.T, h *config.Hub, component string) corev1.PodSpec {
	t.Helper()
	var spec corev1.PodSpec
	for _, r := range render.ForKubernetes(h).Releases {
		if r.Chart.Name != charts.DaskGateway.Name {
			continue
		}
		v := any(r.Values)
		for _, k := range []string{"gateway", "backend", component, "extraPodConfig"} {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if v == nil {
			return spec
		}
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, &spec)
		}
		if err != nil {
			t.Fatalf("the %s extraPodConfig dhub renders: %v", component, err)
		}
		return spec
	}
	t.Fatal("dhub renders no dask-gateway release")
	return spec
}

// spotWorkers reports whether the hub's Dask workers run on an AKS Spot pool.
func spotWorkers(h *config.Hub) bool {
	if h.Target != config.TargetAzure {
		return false
	}
	for _, p := range h.Azure.NodePools {
		if p.Role == config.RoleWorker && p.Spot != nil {
			return true
		}
	}
	return false
}

// toleratesTaint reports whether one of ts tolerates taint, by the
// Kubernetes rules (k8s.io/api/core/v1 Toleration.ToleratesTaint): the
// effect, when set, matches; the key, when set, matches; Exists takes any
// value, Equal (or no operator) the same value.
func toleratesTaint(ts []corev1.Toleration, taint corev1.Taint) bool {
	for _, t := range ts {
		if (t.Effect != "" && t.Effect != taint.Effect) || (t.Key != "" && t.Key != taint.Key) {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			return true
		case "", corev1.TolerationOpEqual:
			if t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

// matchesNode reports whether a node with labels satisfies a required
// node selector, by the Kubernetes rules: any one term, all of its
// expressions (In, NotIn, Exists, DoesNotExist; Gt and Lt never match
// the labels dhub uses).
func matchesNode(sel corev1.NodeSelector, labels map[string]string) bool {
	for _, term := range sel.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 {
			continue // an empty term matches no node
		}
		ok := true
		for _, e := range term.MatchExpressions {
			v, has := labels[e.Key]
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				ok = ok && has && slices.Contains(e.Values, v)
			case corev1.NodeSelectorOpNotIn:
				ok = ok && !(has && slices.Contains(e.Values, v))
			case corev1.NodeSelectorOpExists:
				ok = ok && has
			case corev1.NodeSelectorOpDoesNotExist:
				ok = ok && !has
			default:
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
