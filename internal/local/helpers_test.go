package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dhub/internal/config"
)

// startProc starts argv the way dhub starts the hub (startDetached, in a
// session of its own) and kills its whole group when the test ends.
func startProc(t *testing.T, name, dir string, argv ...string) proc {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), name+".log")
	p, err := startDetached(name, argv, os.Environ(), dir, logFile)
	if err != nil {
		t.Fatalf("startDetached %v: %v", argv, err)
	}
	t.Cleanup(func() { kill(p) })
	return p
}

// startOwn starts argv as startProc does, with st's marker in its
// environment, as the hub's processes have it.
func startOwn(t *testing.T, st State, name, dir string, argv ...string) proc {
	t.Helper()
	if st.ID == "" {
		t.Fatal("startOwn: the state has no id; prepare it first")
	}
	logFile := filepath.Join(t.TempDir(), name+".log")
	p, err := startDetached(name, argv, append(os.Environ(), markerEnv+"="+st.ID), dir, logFile)
	if err != nil {
		t.Fatalf("startDetached %v: %v", argv, err)
	}
	t.Cleanup(func() { kill(p) })
	return p
}

// preparedHub is testHub with its state directory made dhub's.
func preparedHub(t *testing.T) (*config.Hub, State) {
	t.Helper()
	h := testHub(t)
	st, err := StateFor(h, Machine{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.prepare(h.Name); err != nil {
		t.Fatal(err)
	}
	return h, st
}

// kill ends p and its group for good, unless its pid went to another process.
func kill(p proc) {
	if !p.alive() {
		return
	}
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = syscall.Kill(p.Pid, syscall.SIGKILL)
	waitGone(context.Background(), 5*time.Second, p.alive)
}

// procOf describes a running pid the way dhub records it.
func procOf(name string, pid int) proc {
	return proc{Name: name, Pid: pid, Start: startTime(pid)}
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPid waits for a shell to write a pid (and a newline) into path.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, 5*time.Second, "a pid in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

var (
	python3Once sync.Once
	python3Path string
	python3Err  error
)

// python3 returns the real python3 interpreter (not a version manager's
// shim, to keep start-up fast). Every machine the tests run on has one.
func python3(t *testing.T) string {
	t.Helper()
	python3Once.Do(func() {
		var out []byte
		out, python3Err = exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
		python3Path = strings.TrimSpace(string(out))
	})
	if python3Err != nil || python3Path == "" {
		t.Fatalf("python3 is required by these tests: %v", python3Err)
	}
	return python3Path
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// testHub is a defaulted local hub whose state lives in a fresh directory
// and whose port was free a moment ago: never the default port, which a
// hub of the machine's owner may hold.
func testHub(t *testing.T) *config.Hub {
	t.Helper()
	h := &config.Hub{Name: "test", Target: config.TargetLocal}
	h.Local.StateDir = filepath.Join(reachableTempDir(t), "state")
	h.SetDefaults()
	h.Local.Port = freePorts(t, 1)[0]
	return h
}

// reachableTempDir is t.TempDir() with its parent (made 0700 by the
// testing package) crossable by other accounts, as a state directory's
// parents must be when the hub runs as root.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeVenv makes st's environment look installed for python: bin/python is
// python3 and the marker matches, so EnsureEnv installs nothing. The state
// directory is made dhub's first, as Up would.
func fakeVenv(t *testing.T, st State, python string) {
	t.Helper()
	if _, err := os.Stat(st.Dir); os.IsNotExist(err) {
		if err := st.prepare("test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(st.Venv(), "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(python3(t), st.Python()); err != nil {
		t.Fatal(err)
	}
	for name, pattern := range map[string]string{
		"jupyterhub":          `c\.JupyterHub\.port = (\d+)`,
		"dask-gateway-server": `c\.Proxy\.address = "[^:]+:(\d+)"`,
	} {
		if err := os.WriteFile(st.Bin(name), []byte(fmt.Sprintf(fakeServer, python3(t), name, pattern)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want, err := envFingerprint(t.Context(), python)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st.Venv(), envMarker), []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeServer stands in for jupyterhub and dask-gateway-server: it reads
// its port from the rendered configuration (-f FILE), as the real one
// does, and answers 200 to every GET there (the readiness probes). A
// configuration that holds "fail-at-start" (a dask.environment value, say)
// makes it exit at once, as a real process does on a configuration it
// cannot run; one that holds "hang-at-start" makes it never answer. Args: the interpreter, the name, the port's pattern.
const fakeServer = `#!%s
import http.server, re, sys

name, pattern = %q, r'%s'
text = open(sys.argv[sys.argv.index("-f") + 1]).read()
if "fail-at-start" in text:
    print(name + ": this configuration cannot run (fail-at-start)", file=sys.stderr)
    sys.exit(3)
if "hang-at-start" in text:
    import time
    time.sleep(3600)
port = int(re.search(pattern, text).group(1))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"version": "fake"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print(name + ": serving on port %%d" %% port, file=sys.stderr, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
`

// asUser is how the tests run dhub unless they say otherwise: as an
// ordinary account, whoever runs them. Their fake programs run as this
// account, and the test interpreter may lie where other accounts cannot
// go (pyenv under /root); what changes as root has tests of its own.
var asUser = Options{Machine: &Machine{}}

// asRoot is dhub run as root, trying systemPythons in place of a python3
// of PATH that users' accounts cannot run.
func asRoot(systemPythons []string) Options {
	return Options{Machine: &Machine{Root: true, SystemPythons: systemPythons}}
}

// up plans and applies, as 'dhub up' does (as an ordinary account unless
// o says otherwise).
func up(t *testing.T, h *config.Hub, o Options) (*UpResult, error) {
	t.Helper()
	if o.Machine == nil {
		o.Machine = asUser.Machine
	}
	p, err := PlanUp(t.Context(), h, o)
	if err != nil {
		return nil, err
	}
	return p.Apply(t.Context(), o)
}

// ensureSecrets plans the secrets and writes them, returning the names of
// those generated now.
func ensureSecrets(st State, h *config.Hub) ([]string, error) {
	changes, _, err := st.planSecrets(h)
	if err != nil {
		return nil, err
	}
	var generated []string
	for _, c := range changes {
		if c.generated {
			generated = append(generated, c.name)
		}
	}
	return generated, st.writeSecrets(changes)
}
