//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"dhub/internal/smoke"
)

// startCluster is a person's first cells: a Gateway cluster with one
// worker, and a computation on it.
const startCluster = `
from dask_gateway import Gateway
import dask.array as da
cluster = Gateway().new_cluster()
cluster.scale(1)
client = cluster.get_client()
client.wait_for_workers(1, timeout=120)
assert int((da.arange(1000, chunks=100) ** 2).sum().compute()) == 332833500
print('CLUSTER', cluster.name)
`

// clustersEndWithServers: two users, carol and dave, each start a Dask
// cluster from a notebook. Carol stops her own server: her cluster's
// scheduler and worker processes end, dave's cluster runs on and
// computes. Then the admin stops dave's server through the hub's API: his
// cluster ends too. How long each took after the stop is logged.
func (h *hub) clustersEndWithServers() {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	carol, carolCluster := h.sessionWithCluster(ctx, "carol")
	dave, daveCluster := h.sessionWithCluster(ctx, "dave")

	stopped := time.Now()
	if err := carol.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitClusterGone(carolCluster, "carol stopped her server", stopped)
	if len(h.clusterProcesses(daveCluster)) < 2 {
		t.Errorf("dave's cluster %s lost its processes when carol's server stopped", daveCluster)
	}
	if out, err := dave.Run(ctx, "print('SUM', int((da.arange(1000, chunks=100) ** 2).sum().compute()))"); err != nil || !strings.Contains(out, "SUM 332833500") {
		t.Errorf("dave's cluster after carol's server stopped: %v\n%s", err, out)
	}

	stopped = time.Now()
	h.api(http.MethodDelete, "/hub/api/users/dave/server", h.adminToken(), "", nil)
	h.waitClusterGone(daveCluster, "the admin stopped dave's server", stopped)
}

// sessionWithCluster gives user a server and a kernel, as smoke does, and
// starts a Dask cluster from it; it returns the session and the cluster's
// name once the cluster's scheduler and worker processes run.
func (h *hub) sessionWithCluster(ctx context.Context, user string) (*smoke.Session, string) {
	t := h.t
	t.Helper()
	target := smoke.Target{HubURL: fmt.Sprintf("http://127.0.0.1:%d/", h.port), APIToken: h.serviceToken()}
	s, err := smoke.OpenSession(ctx, target, user, io.Discard)
	if err != nil {
		t.Fatalf("%s's server and kernel: %v", user, err)
	}
	out, err := s.Run(ctx, startCluster)
	name, ok := strings.CutPrefix(strings.TrimSpace(lastLines(out, 1)), "CLUSTER ")
	if err != nil || !ok {
		t.Fatalf("%s's cluster: %v\n%s", user, err, out)
	}
	if len(h.clusterProcesses(name)) < 2 {
		t.Fatalf("%s's cluster %s: no scheduler and worker processes", user, name)
	}
	return s, name
}

// clusterProcesses are the pids of the processes of Dask cluster name:
// the local backend runs its scheduler and workers in the cluster's own
// directory of the state directory.
func (h *hub) clusterProcesses(name string) []int {
	dir := filepath.Join(h.state, "dask-clusters", name)
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitClusterGone waits, with a bound of two minutes, until no process of
// Dask cluster name is left, and logs how long that took after since.
func (h *hub) waitClusterGone(name, after string, since time.Time) {
	h.t.Helper()
	deadline := since.Add(2 * time.Minute)
	for len(h.clusterProcesses(name)) > 0 {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(h.state, "logs", "dask-gateway.log"))
			h.t.Fatalf("cluster %s still has processes %v two minutes after %s; the gateway's log ends:\n%s", name, h.clusterProcesses(name), after, lastLines(string(log), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Logf("the cluster's last process ended %.1fs after %s", time.Since(since).Seconds(), after)
}

// culledServerEndsItsCluster: with the idle culler's shortest timeout,
// erin starts a Dask cluster from a notebook and leaves it; the culler
// stops her server and the gateway then ends her cluster. The hub's
// configuration must end with its hub: mapping (the isolation step's).
func (h *hub) culledServerEndsItsCluster() {
	t := h.t
	t.Helper()
	running, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.config, append(running, "  idleCulling: {timeout: 1m}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	h.planThenUp("process dask-gateway", "process jupyterhub")

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	erin, name := h.sessionWithCluster(ctx, "erin")
	h.scratchReachesWorkers(ctx, erin, "erin")
	opened := time.Now()

	// The culler checks every half timeout: the server goes 60 to 90 s
	// after its last activity the hub knows of.
	deadline := opened.Add(3 * time.Minute)
	for {
		var user struct {
			Servers map[string]any `json:"servers"`
		}
		h.api(http.MethodGet, "/hub/api/users/erin", h.serviceToken(), "", &user)
		if len(user.Servers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(h.state, "logs", "jupyterhub.log"))
			t.Fatalf("the idle culler did not stop erin's server in 3 minutes; the hub's log ends:\n%s", lastLines(string(log), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	culled := time.Now()
	t.Logf("the idle culler stopped erin's server %.0fs after her cluster started", culled.Sub(opened).Seconds())
	h.waitClusterGone(name, "the idle culler stopped erin's server", culled)
}

// scratchRoundTrip writes a file to SCRATCH_URL through fsspec in the
// notebook, reads it in a Dask task, which writes one back, and reads that.
const scratchRoundTrip = `
import os, fsspec
fs, root = fsspec.core.url_to_fs(os.environ["SCRATCH_URL"])
fs.pipe_file(root + "/from-notebook.txt", b"hello")
def roundtrip():
    import os, fsspec
    fs, root = fsspec.core.url_to_fs(os.environ["SCRATCH_URL"])
    fs.pipe_file(root + "/from-worker.txt", fs.cat_file(root + "/from-notebook.txt").upper())
    return os.environ["SCRATCH_URL"]
print("WORKER", client.submit(roundtrip, pure=False).result())
print("NOTEBOOK", os.environ["SCRATCH_URL"], fs.cat_file(root + "/from-worker.txt").decode())
`

// scratchReachesWorkers checks, in user name's session with a cluster, that
// SCRATCH_URL names the same directory in the notebook and in a Dask task,
// that both write there, and that the directory is the user's account's
// alone.
func (h *hub) scratchReachesWorkers(ctx context.Context, s *smoke.Session, name string) {
	t := h.t
	t.Helper()
	dir := filepath.Join(h.state, "scratch", name)
	out, err := s.Run(ctx, scratchRoundTrip)
	if err != nil {
		t.Fatalf("%s's scratch round trip: %v\n%s", name, err, out)
	}
	for _, want := range []string{"WORKER file://" + dir + "\n", "NOTEBOOK file://" + dir + " HELLO\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("%s's scratch round trip lacks %q:\n%s", name, want, out)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	account, err := user.Lookup("dhub-" + name)
	if err != nil || st == nil || fmt.Sprint(st.Uid) != account.Uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, owner %v; want 0700 and account dhub-%s (%v)", dir, fi.Mode().Perm(), st, name, err)
	}
}
