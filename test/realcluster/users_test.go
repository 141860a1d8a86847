package realcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"dhub/internal/render"
	"dhub/internal/smoke"
)

// daskClusters is the Dask Gateway chart's custom resource: one object per
// cluster a user starts.
var daskClusters = schema.GroupVersionResource{Group: "gateway.dask.org", Version: "v1alpha1", Resource: "daskclusters"}

// people are users with their servers running and a notebook kernel open
// in each, and alice's Dask cluster: what is running while people work.
type people struct {
	alice, bob   *smoke.Session
	aliceCluster string
}

// smokeTarget is the hub as the tests reach it: its URL and dhub's own
// service token from the chart's hub Secret.
func smokeTarget(t *testing.T, ns, url string) smoke.Target {
	t.Helper()
	secret, err := cluster.Client().CoreV1().Secrets(ns).Get(t.Context(), "hub", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := string(secret.Data[render.DhubTokenKey])
	if token == "" {
		t.Fatalf("secret hub has no %s", render.DhubTokenKey)
	}
	return smoke.Target{HubURL: url, APIToken: token}
}

// openSession starts user's server and a kernel in it, bounded.
func openSession(t *testing.T, target smoke.Target, user string) *smoke.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	s, err := smoke.OpenSession(ctx, target, user, io.Discard)
	if err != nil {
		t.Fatalf("%s's server and kernel: %v\n%s", user, err, podsReport(hubNamespace))
	}
	return s
}

// run runs code in a user's kernel, bounded, and returns what it printed
// after prefix on the line that has it.
func run(t *testing.T, s *smoke.Session, who, code, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	out, err := s.Run(ctx, code)
	if err != nil {
		t.Fatalf("in %s's notebook: %v\n%s", who, err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("%s's notebook printed no %q line:\n%s", who, prefix, out)
	return ""
}

// startCluster is a person's first cells: a Gateway cluster with one
// worker, and a computation on it.
const startCluster = `
from dask_gateway import Gateway
import dask.array as da
cluster = Gateway().new_cluster()
cluster.scale(1)
client = cluster.get_client()
client.wait_for_workers(1, timeout=180)
assert int((da.arange(1000, chunks=100) ** 2).sum().compute()) == 332833500
print('CLUSTER', cluster.name)
`

// stillComputes is alice's cell after something happened around her.
const stillComputes = `
print('SUM', int((da.arange(1000, chunks=100) ** 2).sum().compute()), len(client.scheduler_info()['workers']))
`

// usersApart: two people, alice and bob, each with a server and a
// notebook; alice starts a Dask cluster and computes. Through the real
// gateway and the hub's token check, bob's notebook cannot see, connect to
// or stop alice's cluster (the gateway answers 403), which then still
// computes. With the NetworkPolicies that the charts and dhub render
// enforced by the nodes, bob's server reaches what a notebook needs (the hub's API, the hub's
// proxy and through it the gateway's API, the gateway's proxy) and
// nothing it must not: alice's server, alice's scheduler, the gateway's
// API server and controller directly. Each of those refused addresses is
// one that a real path uses (the hub's proxy reaches alice's server, the
// gateway's proxy and workers her scheduler, the host the gateway's
// pods), so the refusal is the policy's. (The hub's database is SQLite in
// the hub pod's own volume: nothing of it listens on the network.)
// Alice's and bob's servers and her cluster are left running.
func usersApart(t *testing.T, target smoke.Target) people {
	t.Helper()
	p := people{alice: openSession(t, target, "alice"), bob: openSession(t, target, "bob")}
	start := time.Now()
	p.aliceCluster = run(t, p.alice, "alice", startCluster, "CLUSTER ")
	t.Logf("alice's cluster %s: a worker and a computation %.1fs after new_cluster()", p.aliceCluster, time.Since(start).Seconds())

	const tryAlice = `
import json
from dask_gateway import Gateway
g = Gateway()
def attempt(f):
    try:
        f()
        return 'allowed'
    except Exception as e:
        return f'{type(e).__name__}: {e}'
print('BOB', json.dumps({'list': [c.name for c in g.list_clusters()],
    'connect': attempt(lambda: g.connect(%[1]q)),
    'stop': attempt(lambda: g.stop_cluster(%[1]q))}))
`
	var bob struct {
		List          []string
		Connect, Stop string
	}
	if err := json.Unmarshal([]byte(run(t, p.bob, "bob", fmt.Sprintf(tryAlice, p.aliceCluster), "BOB ")), &bob); err != nil {
		t.Fatal(err)
	}
	if len(bob.List) != 0 {
		t.Errorf("bob's Gateway().list_clusters() shows %v; alice's cluster is not his", bob.List)
	}
	// The gateway's refusal: 403 Forbidden ("lacks permissions", which the
	// client does not show).
	if !strings.Contains(bob.Connect, "403") {
		t.Errorf("bob's Gateway().connect(alice's cluster): %q, want the gateway's 403", bob.Connect)
	}
	if !strings.Contains(bob.Stop, "403") {
		t.Errorf("bob's Gateway().stop_cluster(alice's cluster): %q, want the gateway's 403", bob.Stop)
	}
	if got := run(t, p.alice, "alice", stillComputes, "SUM "); got != "332833500 1" {
		t.Errorf("alice's cluster after bob's attempts: sum and workers %q, want 332833500 1", got)
	}

	// Where bob's server may and may not connect to.
	alicePod := podOf(t, hubNamespace, "component=singleuser-server,hub.jupyter.org/username=alice")
	scheduler := podOf(t, hubNamespace, "app.kubernetes.io/component=dask-scheduler")
	controller := podOf(t, hubNamespace, "app.kubernetes.io/component=controller")
	apiServer := podOf(t, hubNamespace, "app.kubernetes.io/component=gateway")
	traefik := serviceNamed(t, "traefik-")
	open := []string{"hub:8081", "proxy-public:80", traefik + ":80"}
	refused := map[string]string{
		net.JoinHostPort(alicePod.Status.PodIP, "8888"):   "alice's server",
		net.JoinHostPort(scheduler.Status.PodIP, "8786"):  "alice's scheduler",
		net.JoinHostPort(scheduler.Status.PodIP, "8787"):  "alice's dashboard, directly",
		net.JoinHostPort(apiServer.Status.PodIP, "8000"):  "the gateway's API server, directly",
		net.JoinHostPort(controller.Status.PodIP, "8000"): "the gateway's controller",
	}
	// The gateway's pods listen: the host reaches them.
	for _, pod := range []string{apiServer.Status.PodIP, controller.Status.PodIP} {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(pod, "8000"), 5*time.Second)
		if err != nil {
			t.Fatalf("the host cannot reach %s:8000, so a refusal from bob's server would prove nothing: %v", pod, err)
		}
		conn.Close()
	}
	addrs := append([]string{}, open...)
	for a := range refused {
		addrs = append(addrs, a)
	}
	var reached map[string]string
	if err := json.Unmarshal([]byte(run(t, p.bob, "bob", fmt.Sprintf(reach, mustJSON(addrs)), "REACH ")), &reached); err != nil {
		t.Fatal(err)
	}
	for _, a := range open {
		if reached[a] != "open" {
			t.Errorf("bob's server cannot connect to %s (%s); a notebook needs it", a, reached[a])
		}
	}
	for a, what := range refused {
		if reached[a] == "open" {
			t.Errorf("bob's server connects to %s at %s; the NetworkPolicies must refuse it", what, a)
		}
	}
	t.Logf("from bob's server: %v", reached)
	return p
}

// reach is a notebook cell that tries a TCP connection to each address of
// a JSON list at once and prints, for each, "open" or why not.
const reach = `
import json, socket, concurrent.futures as cf
def reach(addr):
    host, port = addr.rsplit(':', 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        return 'open'
    except socket.timeout:
        return 'timed out'
    except OSError as e:
        return e.strerror or type(e).__name__
addrs = json.loads(%q)
with cf.ThreadPoolExecutor(len(addrs)) as ex:
    print('REACH', json.dumps(dict(zip(addrs, ex.map(reach, addrs)))))
`

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// serviceNamed returns the name of the one Service of the hub's namespace
// whose name starts with prefix.
func serviceNamed(t *testing.T, prefix string) string {
	t.Helper()
	svcs, err := cluster.Client().CoreV1().Services(hubNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range svcs.Items {
		if strings.HasPrefix(s.Name, prefix) {
			names = append(names, s.Name)
		}
	}
	if len(names) != 1 {
		t.Fatalf("services named %s* in %s: %v, want one", prefix, hubNamespace, names)
	}
	return names[0]
}

// daskClusterPhases returns the phase of each DaskCluster object of ns
// (Pending, Running, Stopped or Failed). The gateway keeps a stopped
// cluster's object for a day (completed_cluster_max_age).
func daskClusterPhases(t *testing.T, ns string) map[string]string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.Resource(daskClusters).Namespace(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string]string{}
	for _, o := range list.Items {
		phase, _, _ := unstructured.NestedString(o.Object, "status", "phase")
		phases[o.GetName()] = phase
	}
	return phases
}

// liveDaskClusters are the DaskClusters of ns neither stopped nor failed.
func liveDaskClusters(t *testing.T, ns string) []string {
	t.Helper()
	var live []string
	for name, phase := range daskClusterPhases(t, ns) {
		if phase != "Stopped" && phase != "Failed" {
			live = append(live, name)
		}
	}
	return live
}
