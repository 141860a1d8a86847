package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run dhub as a process of its own, with real
// signals: the test binary started with DHUB_TEST_RUN_CLI=1 is dhub.
func TestMain(m *testing.M) {
	if os.Getenv("DHUB_TEST_RUN_CLI") == "1" {
		os.Exit(Run(os.Args[1:], SystemStreams()))
	}
	os.Exit(m.Run())
}

// syncBuffer is a buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// interruptUp runs 'dhub up -f cfg' as a process, sends it SIGINT (what
// Ctrl-C sends) once its stderr shows after, and returns its exit code,
// stdout and stderr.
func interruptUp(t *testing.T, cfg, after string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "up", "-f", cfg)
	// Its caches (the pinned packages' wheels) beside cfg, not the user's.
	cmd.Env = append(os.Environ(), "DHUB_TEST_RUN_CLI=1", "XDG_CACHE_HOME="+filepath.Join(filepath.Dir(cfg), "cache"))
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(stderr.String(), after) {
		select {
		case <-exited:
			t.Fatalf("dhub up ended before it wrote %q\nstdout:\n%s\nstderr:\n%s", after, stdout.String(), stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("dhub up never wrote %q\nstdout:\n%s\nstderr:\n%s", after, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	t.Logf("dhub up ended %s after SIGINT", time.Since(start).Round(time.Millisecond))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// markedProcesses lists the pids that carry the hub's marker (the id in
// the state directory's record).
func markedProcesses(t *testing.T, state string) []string {
	t.Helper()
	var rec struct{ ID string }
	b, err := os.ReadFile(filepath.Join(state, "dhub-state.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.ID == "" {
		t.Fatalf("state record: %v %s", err, b)
	}
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00DHUB_HUB_ID="+rec.ID+"\x00")) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// Ctrl-C during 'dhub up' on the local target, with real signals: while
// pip installs, then while the hub starts. Each time dhub stops what it
// started, says what it left and exits 130; the next up picks up.
func TestUpInterruptedByCtrlC(t *testing.T) {
	python3, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required by this test: %v", err)
	}
	dir := reachableTempDir(t)
	slowPip := filepath.Join(dir, "slow-pip")
	// A Python whose venv and pip are fake (pip installs programs that
	// never answer), installed where it lies (so that, as root, users'
	// accounts could run it), and whose everything else is python3's.
	python := filepath.Join(dir, "python")
	script := `#!/bin/sh
case "$2" in *base_prefix*) dirname "$0"; dirname "$0"; exit 0 ;; esac
case "$1 $2" in
"-m venv")
	for d; do :; done
	mkdir -p "$d/bin" && cp "$0" "$d/bin/python" && exit 0 ;;
"-m pip")
	[ "$3" = --version ] && exit 0
	[ -e '` + slowPip + `' ] && exec sleep 60
	bin=$(dirname "$0")
	for p in jupyterhub dask-gateway-server; do
		printf '#!/bin/sh\nexec sleep 3600\n' > "$bin/$p" && chmod +x "$bin/$p"
	done
	printf '#!/bin/sh\necho 5.5.0\n' > "$bin/jupyterhub-singleuser" && chmod +x "$bin/jupyterhub-singleuser"
	exit 0 ;;
esac
exec ` + python3 + ` "$@"
`
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	state := filepath.Join(dir, "state")
	cfg := writeHub(t, fmt.Sprintf("apiVersion: dhub/v1alpha1\nkind: Hub\nname: ctrl-c\ntarget: local\nlocal:\n  port: %d\n  stateDir: %s\n  python: %s\n", port, state, python))
	t.Cleanup(func() { run(t, "down", "--yes", "-f", cfg) })

	// While pip downloads: the environment is left unfinished, nothing
	// runs, and the wheel cache keeps no partial download.
	if err := os.WriteFile(slowPip, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := interruptUp(t, cfg, "downloading the ")
	venv := filepath.Join(state, "venv")
	want := "error: interrupted: the Python environment at " + venv + " is not finished and is kept (the next 'dhub up' completes it); nothing was started or stopped\n"
	// The notice comes first: the verb's context ends only after it is
	// written.
	notice := "interrupted: finishing up (Ctrl-C again to quit at once)\n"
	if code != ExitInterrupted || !strings.HasSuffix(stderr, notice+want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and it to end with:\n%s", code, stderr, ExitInterrupted, notice+want)
	}
	if pids := markedProcesses(t, state); len(pids) != 0 {
		t.Errorf("processes of the hub run after the interrupt: %v", pids)
	}
	if left, _ := os.ReadDir(filepath.Join(filepath.Dir(cfg), "cache", "dhub", "python-wheels")); len(left) != 0 {
		t.Errorf("the interrupted download left %v in the wheel cache", left)
	}

	// The next up sees the unfinished environment and builds it; Ctrl-C
	// while the hub starts stops the hub.
	os.Remove(slowPip)
	code, stdout, stderr := interruptUp(t, cfg, "waiting for dask gateway")
	if !strings.Contains(stdout, "missing or not finished: install the pinned packages") {
		t.Errorf("the plan does not say the environment is unfinished:\n%s", stdout)
	}
	want = "error: interrupted: stopped the hub this run started; the environment at " + venv + " and the secrets are kept; run 'dhub up' again\n"
	if code != ExitInterrupted || !strings.HasSuffix(stderr, want) || !strings.Contains(stderr, "stopping dask-gateway") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and it to end with:\n%s", code, stderr, ExitInterrupted, want)
	}
	if pids := markedProcesses(t, state); len(pids) != 0 {
		t.Errorf("processes of the hub run after the interrupt: %v", pids)
	}
	for _, name := range []string{"jupyterhub", "dask-gateway"} {
		if _, err := os.Stat(filepath.Join(state, "run", name+".pid")); err == nil {
			t.Errorf("the pid file of %s is left", name)
		}
	}
}
