package realcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/kube/kubetest"
	"dhub/internal/kube/realnodes"
	"dhub/test/browsertest"
)

// hubNamespace is the namespace of the hub the tier installs.
const hubNamespace = "dhub"

// secondNamespace is the namespace of a second hub on the same cluster.
const secondNamespace = "dhub-second"

// adminPassword is the password of the hub's admin user, "admin".
const adminPassword = "correct-horse-battery-staple-realnodes"

// TestDaskHubOnRealNodes: dhub's verbs, as a user runs them, install the
// real JupyterHub and Dask Gateway charts on real nodes and report what
// the cluster really does, then people use the hub: plan (its preflight
// passes on its own), up (every workload's pods running real processes,
// the gateway answering through the hub's URL, the hub's URL answering at
// a node port), status, up again and plan (no change), a second hub
// installed beside it, smoke (the seed's path,
// with the scheduler and workers where the profile puts them), a person
// in Chromium (JupyterLab, a notebook's Gateway cluster, its dashboard),
// two users kept apart by the gateway and by NetworkPolicies, an admin's
// change applied with up while they work (the hub restarts, they do not,
// the second hub's releases stay as they were),
// the Spot worker node lost mid-computation (status says so, the gateway
// replaces the worker once the node is back, the result comes),
// the hub's pod killed while they work (status says so, their servers and cluster
// run on, smoke passes once it is back) and bob's server evicted meanwhile
// (once the hub is back, the gateway stops his cluster), down while they work (keeping
// their volumes, and the second hub running, untouched), and down
// --delete-data (nothing left).
func TestDaskHubOnRealNodes(t *testing.T) {
	ctx := t.Context()
	file := hubFile(t, "realnodes-hub", hubNamespace, 30080)

	code, stdout, stderr := dhub(t, "plan", "-f", file, "--detailed-exitcode")
	if code != 2 || !strings.Contains(stdout, "to create") {
		t.Fatalf("plan before up: exit %d, want 2 (changes)\n%s%s", code, stdout, stderr)
	}

	start := time.Now()
	code, stdout, stderr = dhub(t, "up", "-f", file, "--yes")
	upTime := time.Since(start)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s%s\n%s", code, stdout, stderr, podsReport(hubNamespace))
	}
	t.Logf("dhub up on real nodes: %.1fs from nothing to every component ready", upTime.Seconds())
	url := hubURL(t, stdout)
	for _, want := range []string{"installing chart jupyterhub 4.4.0", "installing chart dask-gateway 2026.3.0", "gateway API answering"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("up's progress lacks %q:\n%s", want, stderr)
		}
	}
	checkWorkloadsRun(t, hubNamespace)
	checkPlacement(t, hubNamespace)
	if rss, err := cluster.RSS(); err == nil {
		t.Logf("resident memory of the cluster with the hub up: %.2f GiB", float64(rss)/(1<<30))
	}
	if page := get(t, url+"hub/login"); !strings.Contains(page, "Sign in") {
		t.Errorf("GET %shub/login from the host: no sign-in form:\n%.500s", url, page)
	}

	checkStatusAfterUp(t, file, url)
	code, stdout, stderr = dhub(t, "up", "-f", file, "--yes")
	if code != 0 || !strings.Contains(stdout, "No changes") {
		t.Errorf("second up: exit %d, want no changes\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := dhub(t, "plan", "-f", file, "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after up: exit %d, want 0 (no change)\n%s%s", code, stdout, stderr)
	}

	// A second hub on the same cluster, installed while the first one's
	// smoke runs: neither hub's verbs touch the other.
	second := hubFile(t, "second-hub", secondNamespace, 30081)
	secondUp := startUp(t, second)
	userPath(t, file)
	secondUp(secondNamespace)
	checkClusterRoles(t, hubNamespace, true)
	checkClusterRoles(t, secondNamespace, true)

	// A person in Chromium: the admin signs in, and JupyterLab's notebook
	// starts a cluster, computes, shows the dashboard and shuts it down.
	browsertest.DaskInLab(t, browsertest.Person{
		Hub: strings.TrimSuffix(url, "/"), User: "admin", Password: adminPassword,
		Artifacts: browsertest.ArtifactsDir(t, "browser-realnodes"),
	})
	waitDaskClustersStopped(t, "after the notebook shut its cluster down")

	people := usersApart(t, smokeTarget(t, hubNamespace, url))
	secondRevisions := readStatus(t, second).revisions()
	upgradeWhilePeopleWork(t, file, people)
	if after := readStatus(t, second).revisions(); !maps.Equal(after, secondRevisions) || len(after) != 2 {
		t.Errorf("the second hub's releases after the first's upgrade: %v, want %v", after, secondRevisions)
	}
	spotNodeLost(t, file, people)

	// The hub's pod is killed as a node failure or an eviction would: the
	// cluster starts another, and status says so meanwhile. People's
	// servers and clusters run on without it, except bob's: his server's
	// pod is evicted while the hub is away, so once the hub is back and
	// finds it gone, the gateway stops his cluster (dask.endWithServer).
	bobCluster := run(t, people.bob, "bob", startCluster, "CLUSTER ")
	bobServer := podOf(t, hubNamespace, "component=singleuser-server,hub.jupyter.org/username=bob")
	hub := podOf(t, hubNamespace, "component=hub")
	if err := cluster.Client().CoreV1().Pods(hubNamespace).Delete(ctx, hub.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Client().CoreV1().Pods(hubNamespace).Delete(ctx, bobServer.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	evicted := time.Now()
	waitStatus(t, file, false, "after the hub's pod was deleted")
	if got := run(t, people.alice, "alice", stillComputes, "SUM "); got != "332833500 1" {
		t.Errorf("alice's cluster while the hub is away: sum and workers %q, want 332833500 1", got)
	}
	waitStatus(t, file, true, "after the cluster replaced the hub's pod")
	if again := podOf(t, hubNamespace, "component=hub"); again.UID == hub.UID {
		t.Errorf("the hub's pod %s was not replaced", hub.Name)
	}
	waitDaskClusterGone(t, bobCluster, "bob's server was evicted while the hub was away", evicted)
	if live := liveDaskClusters(t, hubNamespace); len(live) != 1 || hubNamespace+"."+live[0] != people.aliceCluster {
		t.Errorf("running DaskClusters after bob's went: %v, want alice's %s", live, people.aliceCluster)
	}
	if code, stdout, stderr := dhub(t, "smoke", "-f", file, "--workers", "1"); code != 0 {
		t.Errorf("smoke after the hub came back: exit %d\n%s%s", code, stdout, stderr)
	}

	// Down of the first hub leaves the second running, its pods and its
	// cluster-wide objects untouched.
	secondPods := podUIDs(t, secondNamespace)
	downWhilePeopleWork(t, file, people)
	if !statusUp(t, second) {
		t.Errorf("the second hub is not up after down of the first\n%s", podsReport(secondNamespace))
	}
	if after := podUIDs(t, secondNamespace); !maps.Equal(after, secondPods) {
		t.Errorf("down of the first hub touched the second's pods: %v, then %v", secondPods, after)
	}
	checkClusterRoles(t, hubNamespace, false)
	checkClusterRoles(t, secondNamespace, true)
	if code, stdout, stderr := dhub(t, "down", "-f", second, "--yes", "--delete-data"); code != 0 {
		t.Fatalf("down --delete-data of the second hub: exit %d\n%s%s", code, stdout, stderr)
	}
	checkNothingLeft(t, secondNamespace)

	code, stdout, stderr = dhub(t, "down", "-f", file, "--yes", "--delete-data")
	if code != 0 {
		t.Fatalf("down --delete-data: exit %d\n%s%s", code, stdout, stderr)
	}
	checkNothingLeft(t, hubNamespace)
}

// downWhilePeopleWork runs down (keeping data) while the admin's, alice's
// and bob's servers and alice's Dask cluster run: afterwards no pod of
// the hub runs, no DaskCluster is left, and each user's volume claim is
// kept, bound.
func downWhilePeopleWork(t *testing.T, file string, p people) {
	t.Helper()
	// The gateway names a cluster <namespace>.<its DaskCluster's name>.
	if live := liveDaskClusters(t, hubNamespace); len(live) != 1 || hubNamespace+"."+live[0] != p.aliceCluster {
		t.Fatalf("running DaskClusters before down: %v, want alice's %s", live, p.aliceCluster)
	}
	code, stdout, stderr := dhub(t, "down", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("down while people work: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "custom resource definitions of Dask Gateway and Traefik") {
		t.Errorf("down does not say it keeps the CRDs the second hub uses:\n%s", stdout)
	}
	pods, err := cluster.Client().CoreV1().Pods(hubNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range pods.Items {
		t.Errorf("pod %s is left after down: %s", pod.Name, describePod(&pod))
	}
	if phases := daskClusterPhases(t, hubNamespace); len(phases) != 0 {
		t.Errorf("DaskClusters left after down: %v", phases)
	}
	for _, user := range []string{"admin", "alice", "bob"} {
		claim, err := cluster.Client().CoreV1().PersistentVolumeClaims(hubNamespace).Get(t.Context(), "claim-"+user, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s's volume after down (which keeps data): %v", user, err)
			continue
		}
		if claim.Status.Phase != corev1.ClaimBound {
			t.Errorf("%s's claim after down: %s, want Bound", user, claim.Status.Phase)
		}
	}
}

// upgradeWhilePeopleWork changes the hub's configuration (the idle
// culler's timeout) while alice and bob work, and runs up: the hub
// restarts, the proxy does not, and alice's server (the same pod) answers
// through the proxy, and her notebook's open connection computes on her
// cluster afterwards.
func upgradeWhilePeopleWork(t *testing.T, file string, p people) {
	t.Helper()
	hub := podOf(t, hubNamespace, "component=hub")
	proxy := podOf(t, hubNamespace, "component=proxy")
	server := podOf(t, hubNamespace, "component=singleuser-server,hub.jupyter.org/username=alice")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(doc), "hub:\n", "hub:\n  idleCulling: {timeout: 2h}\n", 1)
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := dhub(t, "up", "-f", file, "--yes")
	if code != 0 {
		t.Fatalf("up with the culler's new timeout: exit %d\n%s%s", code, stdout, stderr)
	}
	if podOf(t, hubNamespace, "component=hub").UID == hub.UID {
		t.Fatalf("up with the culler's new timeout did not restart the hub:\n%s", stdout)
	}
	if again := podOf(t, hubNamespace, "component=proxy"); again.UID != proxy.UID {
		t.Errorf("up restarted the hub's proxy: every open connection of every user dropped")
	}
	if again := podOf(t, hubNamespace, "component=singleuser-server,hub.jupyter.org/username=alice"); again.UID != server.UID {
		t.Errorf("up restarted alice's server: pod %s is now %s", server.UID, again.UID)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := p.alice.ServerAnswers(ctx); err != nil {
		t.Errorf("alice's server through the hub's proxy after up: %v", err)
	}
	if got := run(t, p.alice, "alice", stillComputes, "SUM "); got != "332833500 1" {
		t.Errorf("alice's cluster after up: sum and workers %q, want 332833500 1", got)
	}
}

// waitDaskClusterGone waits, bounded, until the DaskCluster of the
// gateway's cluster name (<namespace>.<DaskCluster>) is stopped and its
// scheduler and worker pods are gone, and logs how long that took after
// since.
func waitDaskClusterGone(t *testing.T, name, after string, since time.Time) {
	t.Helper()
	_, dc, _ := strings.Cut(name, ".")
	for deadline := since.Add(3 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		pods, err := cluster.Client().CoreV1().Pods(hubNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: "gateway.dask.org/cluster=" + name})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(liveDaskClusters(t, hubNamespace), dc) && len(pods.Items) == 0 {
			t.Logf("DaskCluster %s stopped and its pods gone %.1fs after %s", name, time.Since(since).Seconds(), after)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("three minutes after %s, DaskCluster %s has phase %q and %d pods\n%s", after, name, daskClusterPhases(t, hubNamespace)[dc], len(pods.Items), podsReport(hubNamespace))
		}
	}
}

// waitDaskClustersStopped waits, up to a minute, until every DaskCluster
// of the hub is stopped and no scheduler or worker pod is left.
func waitDaskClustersStopped(t *testing.T, when string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		live := liveDaskClusters(t, hubNamespace)
		pods, err := cluster.Client().CoreV1().Pods(hubNamespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component in (dask-scheduler,dask-worker)"})
		if err != nil {
			t.Fatal(err)
		}
		if len(live) == 0 && len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: after a minute, DaskClusters %v still run, and %d scheduler and worker pods\n%s", when, live, len(pods.Items), podsReport(hubNamespace))
		}
	}
}

// userPath runs dhub smoke, the seed's last sentence as a person lives
// it: sign in through the form, a server spawned in a real pod, Gateway()
// in its kernel, a cluster of two workers, a computation checked, the
// dashboard, shutdown. The scheduler and workers it starts are real pods,
// watched as they come: the scheduler on the user node, each worker on
// the Spot-tainted worker node, all in the user's image.
func userPath(t *testing.T, file string) {
	t.Helper()
	seen := watchPods(t, hubNamespace, "app.kubernetes.io/name=dask-gateway")
	code, stdout, stderr := dhub(t, "smoke", "-f", file, "--workers", "2", "-o", "json")
	var res struct {
		OK          bool
		Error       string
		WorkersSeen int
		Result      int64
		Expected    int64
		Phases      []struct {
			Name    string
			Seconds float64
			OK      bool
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || !res.OK {
		t.Fatalf("smoke: exit %d, %v\n%s%s\n%s", code, err, stdout, stderr, podsReport(hubNamespace))
	}
	var phases []string
	for _, p := range res.Phases {
		phases = append(phases, p.Name)
		t.Logf("smoke phase %s: %.2fs", p.Name, p.Seconds)
	}
	if res.WorkersSeen != 2 || res.Result != res.Expected || res.Result == 0 {
		t.Errorf("smoke: %d workers seen, result %d (want %d)", res.WorkersSeen, res.Result, res.Expected)
	}
	pods := seen()
	var schedulers, workers int
	for _, p := range pods {
		if p.component != "dask-scheduler" && p.component != "dask-worker" {
			continue // the gateway's own pods
		}
		switch p.component {
		case "dask-scheduler":
			schedulers++
			if p.node != "user" {
				t.Errorf("scheduler pod %s ran on %q, want the user node", p.name, p.node)
			}
		case "dask-worker":
			workers++
			if p.node != "worker" {
				t.Errorf("worker pod %s ran on %q, want the worker node", p.name, p.node)
			}
		}
		if p.image != "pangeo/pangeo-notebook:2025.08.14" {
			t.Errorf("pod %s ran image %q, want the user's", p.name, p.image)
		}
	}
	if schedulers != 1 || workers != 2 {
		t.Errorf("smoke's cluster ran %d scheduler and %d worker pods, want 1 and 2 (phases %v): %+v", schedulers, workers, phases, pods)
	}
}

// seenPod is what a pod watch saw of a running pod.
type seenPod struct {
	name, component, node, image string
}

// watchPods records every pod of ns matching selector that gets to run
// until the returned function is called, which returns them.
func watchPods(t *testing.T, ns, selector string) func() []seenPod {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w, err := cluster.Client().CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]seenPod{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning || len(p.Spec.Containers) == 0 {
				continue
			}
			seen[p.Name] = seenPod{name: p.Name, component: p.Labels["app.kubernetes.io/component"], node: p.Spec.NodeName, image: p.Spec.Containers[0].Image}
		}
	}()
	return func() []seenPod {
		cancel()
		w.Stop()
		<-done
		var out []seenPod
		for _, p := range seen {
			out = append(out, p)
		}
		return out
	}
}

// hubFile writes the dhub.yaml of hub name in namespace on the cluster,
// reached at nodePort: the recommended
// profile's placement on its three nodes, password login, the hub at a
// node port without HTTPS, volumes from the cluster's provisioner, the
// real charts from a chart repository.
func hubFile(t *testing.T, name, namespace string, nodePort int) string {
	t.Helper()
	dir := t.TempDir()
	password := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(password, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := kubetest.ChartRepository(t)
	doc := fmt.Sprintf(`name: %s
target: kubernetes
namespace: %s
hub:
  expose: {type: nodePort, nodePort: %d}
  https: {enabled: false}
  auth:
    type: password
    password:
      adminPassword: {fromFile: %s}
  storage: {class: %s}
kubernetes:
  kubeconfig: %s
  nodeRoles: [core, user, worker]
charts:
  jupyterhub: {repository: %q}
  daskGateway: {repository: %q}
`, name, namespace, nodePort, password, realnodes.StorageClass, cluster.KubeconfigPath(), url, url)
	file := filepath.Join(dir, "dhub.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

var built struct {
	once sync.Once
	path string
	err  error
}

// dhub runs the dhub binary, built once from this checkout, with args, in
// an environment of its own (its caches in the test's directories, no
// KUBECONFIG), and returns its exit code and output.
func dhub(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, stdout, stderr, err := runDhub(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return code, stdout, stderr
}

// runDhub is dhub, for any goroutine: it returns what the test goroutine
// would fail on. home is the command's own home directory.
func runDhub(home string, args ...string) (code int, stdout, stderr string, err error) {
	built.once.Do(func() {
		root, err := kubetest.RepoRoot()
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(cluster.Root(), "bin", "dhub")
		cmd := exec.Command("go", "build", "-o", built.path, "./cmd/dhub")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/dhub: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		return 0, "", "", built.err
	}
	cmd := exec.Command(built.path, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return 0, "", "", fmt.Errorf("dhub %v: %w", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String(), nil
}

// hubURL reads the URL up reports the hub at.
func hubURL(t *testing.T, upOutput string) string {
	t.Helper()
	const prefix = "DaskHub is up at "
	i := strings.Index(upOutput, prefix)
	if i < 0 {
		t.Fatalf("up did not say where the hub is:\n%s", upOutput)
	}
	// "DaskHub is up at URL (how long it took)"
	url, _, _ := strings.Cut(upOutput[i+len(prefix):], " ")
	url = strings.TrimSpace(url)
	if !strings.HasSuffix(url, ":30080/") {
		t.Errorf("up reports the hub at %s, want a node's address at the node port 30080", url)
	}
	return url
}

// get fetches url from the host and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%.500s", url, resp.Status, body)
	}
	return string(body)
}

// checkStatusAfterUp checks what status says right after up: up, at up's
// URL, which answers, with the charts' components ready, among them those
// that are not Deployments (the image puller's DaemonSet, the user
// placeholders' StatefulSet).
func checkStatusAfterUp(t *testing.T, file, url string) {
	t.Helper()
	st := readStatus(t, file)
	if !st.Up {
		t.Fatal("status after up: not up")
	}
	if st.URL != url || st.Kubernetes.URLState != "answers" {
		t.Errorf("status after up: URL %s %q, want %s answering", st.URL, st.Kubernetes.URLState, url)
	}
	ready := map[string]bool{}
	for _, c := range st.Kubernetes.Components {
		ready[c.Kind+" "+c.Name] = c.Ready
	}
	for _, want := range []string{"Deployment hub", "DaemonSet continuous-image-puller", "StatefulSet user-placeholder"} {
		if r, ok := ready[want]; !ok || !r {
			t.Errorf("status after up lists %s: %v, ready %v", want, ok, r)
		}
	}
}

// statusUp runs dhub status -o json and reports whether it says up.
func statusUp(t *testing.T, file string) bool {
	t.Helper()
	return readStatus(t, file).Up
}

// kubeStatus is what the tests read of dhub status -o json on Kubernetes.
type kubeStatus struct {
	Up         bool
	URL        string
	Kubernetes struct {
		URLState string
		Releases []struct {
			Name     string
			Revision int
		}
		Components []struct {
			Kind, Name string
			Ready      bool
		}
		DaskPods []string
		Pools    []struct {
			Role            string
			Ready, NotReady []string
		}
	}
}

// revisions are the revisions of the hub's releases, by name.
func (st kubeStatus) revisions() map[string]int {
	r := map[string]int{}
	for _, rel := range st.Kubernetes.Releases {
		r[rel.Name] = rel.Revision
	}
	return r
}

// readStatus runs dhub status -o json; its exit code must agree with what
// it says of the hub.
func readStatus(t *testing.T, file string) kubeStatus {
	t.Helper()
	code, stdout, stderr := dhub(t, "status", "-f", file, "-o", "json")
	var st kubeStatus
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("status -o json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if st.Up != (code == 0) {
		t.Errorf("status -o json says up=%v but exits %d", st.Up, code)
	}
	return st
}

// waitStatus runs status until it says up (or not), for up to three
// minutes.
func waitStatus(t *testing.T, file string, up bool, when string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for statusUp(t, file) != up {
		if time.Now().After(deadline) {
			t.Fatalf("status %s: still up=%v after three minutes\n%s", when, !up, podsReport(hubNamespace))
		}
		time.Sleep(time.Second)
	}
}

// podUIDs maps each pod of ns to its UID.
func podUIDs(t *testing.T, ns string) map[string]string {
	t.Helper()
	pods, err := cluster.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		out[p.Name] = string(p.UID)
	}
	return out
}

// podOf returns the one running pod of ns with the label selector.
func podOf(t *testing.T, ns, selector string) corev1.Pod {
	t.Helper()
	pods, err := cluster.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var live []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	if len(live) != 1 {
		t.Fatalf("pods %s in %s: %d live, want 1\n%s", selector, ns, len(live), podsReport(ns))
	}
	return live[0]
}

// checkWorkloadsRun asserts that every Deployment, StatefulSet and
// DaemonSet of ns has all its replicas ready, and that every pod of ns is
// Running with each container started by the kubelet (a container ID from
// containerd, a start time), none restarted.
func checkWorkloadsRun(t *testing.T, ns string) {
	t.Helper()
	ctx := t.Context()
	apps := cluster.Client().AppsV1()
	deps, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		if d.Status.ReadyReplicas != *d.Spec.Replicas {
			t.Errorf("deployment %s: %d of %d ready", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas)
		}
	}
	sets, err := apps.StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sets.Items {
		if s.Status.ReadyReplicas != *s.Spec.Replicas {
			t.Errorf("statefulset %s: %d of %d ready", s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas)
		}
	}
	daemons, err := apps.DaemonSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range daemons.Items {
		if d.Status.DesiredNumberScheduled == 0 || d.Status.NumberReady != d.Status.DesiredNumberScheduled {
			t.Errorf("daemonset %s: %d of %d ready", d.Name, d.Status.NumberReady, d.Status.DesiredNumberScheduled)
		}
	}
	if len(deps.Items) < 6 {
		t.Errorf("%d deployments in %s, want the hub, proxy, user-scheduler and the gateway's api, controller and traefik", len(deps.Items), ns)
	}
	pods, err := cluster.Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded {
			continue // the image puller's hook Job
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: %s", p.Name, describePod(&p))
			continue
		}
		for _, s := range p.Status.ContainerStatuses {
			if !strings.HasPrefix(s.ContainerID, "containerd://") || s.State.Running == nil || s.RestartCount > 0 {
				t.Errorf("pod %s container %s: id %q, running %v, restarts %d", p.Name, s.Name, s.ContainerID, s.State.Running != nil, s.RestartCount)
			}
		}
	}
}

// checkPlacement asserts the recommended profile's placement: the hub's
// and the gateway's pods on the core node, the image puller on the user
// node only.
func checkPlacement(t *testing.T, ns string) {
	t.Helper()
	pods, err := cluster.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		want := "core"
		switch p.Labels["component"] {
		case "continuous-image-puller", "hook-image-puller", "user-placeholder":
			want = "user"
		}
		if p.Spec.NodeName != want {
			t.Errorf("pod %s (component %q) runs on %q, want %q", p.Name, p.Labels["component"], p.Spec.NodeName, want)
		}
	}
}

// checkNothingLeft asserts that no pod, claim, volume or Helm release of
// the hub is left after down --delete-data, and its namespace is gone.
func checkNothingLeft(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var left []string
		if _, err := cluster.Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
			left = append(left, "namespace "+ns)
		}
		pvs, err := cluster.Client().CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, pv := range pvs.Items {
			if ref := pv.Spec.ClaimRef; ref != nil && ref.Namespace == ns {
				left = append(left, "volume "+pv.Name+" of claim "+ref.Name)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("two minutes after down --delete-data, left: %v", left)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// podsReport lists the pods of ns and where they stand, for failure
// messages.
func podsReport(ns string) string {
	pods, err := cluster.Client().CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: %s\n", p.Name, describePod(&p))
	}
	return b.String()
}
