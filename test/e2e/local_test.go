//go:build e2e

// Package e2e runs the dhub binary end to end on the local target: real
// JupyterHub, Dask Gateway and Dask from PyPI in a Python environment that
// dhub builds itself. It needs python3 (3.11+) and the package registry;
// scripts/test.sh runs it with -tags e2e.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// hub is one dhub.yaml in its own state directory, driven through the binary.
type hub struct {
	t      *testing.T
	bin    string
	dir    string
	state  string
	port   int
	config string
}

func newHub(t *testing.T) *hub {
	t.Helper()
	dir := t.TempDir()
	// As root, users' accounts run the environment's programs from the
	// state directory: its parents must let them through (the testing
	// package makes the temporary directory's parent 0700).
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	accounts := hubAccounts()
	bin := filepath.Join(dir, "dhub")
	build := exec.Command("go", "build", "-o", bin, "dhub/cmd/dhub")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build dhub: %v\n%s", err, out)
	}
	h := &hub{t: t, bin: bin, dir: dir, state: filepath.Join(dir, "state"), port: freePort(t)}
	h.config = filepath.Join(dir, "dhub.yaml")
	cfg := fmt.Sprintf("apiVersion: dhub/v1alpha1\nkind: Hub\nname: e2e-hub\ntarget: local\nlocal:\n  port: %d\n  stateDir: %s\n", h.port, h.state)
	if os.Geteuid() == 0 {
		// As root, users' accounts run the environment's interpreter: a
		// system one (dhub refuses one under /root, such as pyenv's).
		cfg += "  python: /usr/bin/python3\n"
	}
	if err := os.WriteFile(h.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever happened, leave no process behind, and no account the
		// hub made for its users (as root).
		h.run("down", "--yes")
		removeAccountsSince(t, accounts)
	})
	return h
}

// hubAccounts lists the system accounts a local hub makes for its users.
func hubAccounts() []string {
	b, _ := os.ReadFile("/etc/passwd")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, _, _ := strings.Cut(line, ":"); strings.HasPrefix(name, "dhub-") {
			out = append(out, name)
		}
	}
	return out
}

// run runs dhub with the hub's config and returns exit code, stdout, stderr.
func (h *hub) run(args ...string) (int, string, string) {
	h.t.Helper()
	cmd := exec.Command(h.bin, append(args, "-f", h.config)...)
	cmd.Dir = h.dir
	return runCommand(h.t, cmd)
}

// runCommand runs cmd and returns its exit code, stdout and stderr; a
// command that cannot be started fails the test.
func runCommand(t *testing.T, cmd *exec.Cmd) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return code, out.String(), errb.String()
}

// must runs dhub and fails the test unless it exits 0.
func (h *hub) must(args ...string) (string, string) {
	h.t.Helper()
	start := time.Now()
	code, out, errb := h.run(args...)
	h.t.Logf("dhub %s: %.1fs", strings.Join(args, " "), time.Since(start).Seconds())
	if code != 0 {
		h.t.Fatalf("dhub %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errb)
	}
	return out, errb
}

// processes lists the pids of the hub's processes: those that carry its
// marker (DHUB_HUB_ID, from the state directory's record) and those that
// run a program of its Python environment.
func (h *hub) processes() []string {
	out, _ := exec.Command("pgrep", "-f", filepath.Join(h.state, "venv")+"/").Output()
	pids := strings.Fields(string(out))
	var rec struct{ ID string }
	if b, err := os.ReadFile(filepath.Join(h.state, "dhub-state.json")); err == nil && json.Unmarshal(b, &rec) == nil && rec.ID != "" {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00DHUB_HUB_ID="+rec.ID+"\x00")) && !slices.Contains(pids, e.Name()) {
				pids = append(pids, e.Name())
			}
		}
	}
	return pids
}

func (h *hub) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(h.state, "run", name+".pid"))
	if err != nil {
		h.t.Fatalf("read pid file of %s: %v", name, err)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	return pid
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// alive reports whether pid runs (a zombie, killed but not yet reaped by
// this test, does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && !strings.HasPrefix(s[i+1:], " Z")
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 300*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// status is 'dhub status -o json' of a local hub.
type status struct {
	URL    string `json:"url"`
	Up     bool   `json:"up"`
	Target string `json:"target"`
	Local  struct {
		Components []struct {
			Name    string `json:"name"`
			Running bool   `json:"running"`
			Pid     int    `json:"pid"`
			Version string `json:"version"`
			Detail  string `json:"detail"`
		} `json:"components"`
		Clusters []string `json:"daskClusters"`
	} `json:"local"`
}

// state reads what a local plan may change, each with a version that
// moves when it is written: the environment, each secret and each process.
func (h *hub) readings() map[string]string {
	st := map[string]string{}
	venv := filepath.Join(h.state, "venv")
	if b, err := os.ReadFile(filepath.Join(venv, ".dhub-requirements")); err == nil {
		fi, _ := os.Stat(filepath.Join(venv, ".dhub-requirements"))
		st["python environment "+venv] = fmt.Sprintf("%x %s", sha256.Sum256(b), fi.ModTime())
	}
	entries, _ := os.ReadDir(filepath.Join(h.state, "secrets"))
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(h.state, "secrets", e.Name()))
		st["secret "+e.Name()] = fmt.Sprintf("%x", sha256.Sum256(b))
	}
	for _, name := range []string{"jupyterhub", "dask-gateway"} {
		if b, err := os.ReadFile(filepath.Join(h.state, "run", name+".pid")); err == nil {
			st["process "+name] = string(b)
		}
	}
	return st
}

// planThenUp runs 'dhub plan', checks it lists exactly want (kind and
// name of each change) with the exit code --detailed-exitcode promises,
// then runs 'dhub up' and checks that it changed exactly what the plan
// listed and that a new plan has nothing left to do. It returns up's
// stdout.
func (h *hub) planThenUp(want ...string) string {
	h.t.Helper()
	code, out, errb := h.run("plan", "-o", "json", "--detailed-exitcode")
	var p struct {
		Changes []struct{ Kind, Name, Action string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		h.t.Fatalf("plan -o json: exit %d, %v\n%s%s", code, err, out, errb)
	}
	var listed []string
	for _, c := range p.Changes {
		if c.Action != "no-op" {
			listed = append(listed, c.Kind+" "+c.Name)
		}
	}
	sort.Strings(listed)
	sort.Strings(want)
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("plan lists\n  %s\nwant\n  %s", strings.Join(listed, "\n  "), strings.Join(want, "\n  "))
	}
	if wantCode := map[bool]int{true: 0, false: 2}[len(want) == 0]; code != wantCode {
		h.t.Errorf("plan --detailed-exitcode: exit %d, want %d", code, wantCode)
	}
	before := h.readings()
	up, _ := h.must("up")
	after := h.readings()
	var moved []string
	for k, v := range after {
		if before[k] != v {
			moved = append(moved, k)
		}
	}
	sort.Strings(moved)
	if strings.Join(moved, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("up changed\n  %s\nits plan listed\n  %s", strings.Join(moved, "\n  "), strings.Join(want, "\n  "))
	}
	if code, out, _ := h.run("plan", "--detailed-exitcode"); code != 0 {
		h.t.Errorf("plan after up: exit %d, want 0\n%s", code, out)
	}
	return up
}

func TestLocalLifecycle(t *testing.T) {
	h := newHub(t)

	secrets := []string{"secret admin-password", "secret cookie-secret", "secret dhub-api-token", "secret gateway-api-token", "secret gateway-db-key", "secret proxy-token"}
	out := h.planThenUp(append([]string{"python environment " + filepath.Join(h.state, "venv"), "process dask-gateway", "process jupyterhub"}, secrets...)...)
	if !strings.Contains(out, fmt.Sprintf("DaskHub is up at http://127.0.0.1:%d/", h.port)) {
		t.Fatalf("up output lacks the URL:\n%s", out)
	}
	secret := filepath.Join(h.state, "secrets", "admin-password")
	if st, err := os.Stat(secret); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin password file: %v, mode %v; want 0600", err, st.Mode())
	}
	pw, _ := os.ReadFile(secret)
	if strings.Contains(out, strings.TrimSpace(string(pw))) {
		t.Fatal("up printed the admin password on stdout")
	}

	out, _ = h.must("status", "-o", "json")
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if !st.Up || st.Target != "local" || len(st.Local.Components) != 3 {
		t.Fatalf("status = %+v, want 3 components up", st)
	}
	for _, c := range st.Local.Components {
		if !c.Running || c.Pid == 0 {
			t.Errorf("component %s not running: %+v", c.Name, c)
		}
	}
	if !strings.HasPrefix(st.Local.Components[2].Detail, "list_clusters works") {
		t.Errorf("the guide's list_clusters() check: %q", st.Local.Components[2].Detail)
	}
	if st.Local.Components[0].Version != "5.5.0" || st.Local.Components[2].Version != "2026.3.0" {
		t.Errorf("versions = %s / %s, want jupyterhub 5.5.0, dask-gateway 2026.3.0", st.Local.Components[0].Version, st.Local.Components[2].Version)
	}

	out, _ = h.must("smoke", "--workers", "2", "-o", "json")
	var sm struct {
		OK          bool   `json:"ok"`
		WorkersSeen int    `json:"workersSeen"`
		Result      int64  `json:"result"`
		Expected    int64  `json:"expected"`
		Cluster     string `json:"cluster"`
		Phases      []struct {
			Name    string  `json:"name"`
			Seconds float64 `json:"seconds"`
			OK      bool    `json:"ok"`
		} `json:"phases"`
	}
	if err := json.Unmarshal([]byte(out), &sm); err != nil {
		t.Fatalf("smoke -o json: %v\n%s", err, out)
	}
	if !sm.OK || sm.WorkersSeen != 2 || sm.Result != sm.Expected || sm.Result == 0 {
		t.Fatalf("smoke = %+v", sm)
	}
	var names []string
	for _, p := range sm.Phases {
		names = append(names, p.Name)
		t.Logf("smoke phase %s: %.2fs", p.Name, p.Seconds)
	}
	if got := strings.Join(names, ","); got != "login,spawn,kernel start,cluster start,workers ready,compute,dashboard,shutdown" {
		t.Errorf("smoke phases = %s", got)
	}
	// The smoke cluster was shut down: no scheduler or worker is left.
	out, _ = h.must("status", "-o", "json")
	json.Unmarshal([]byte(out), &st)
	if len(st.Local.Clusters) != 0 {
		t.Errorf("clusters still running after smoke: %v", st.Local.Clusters)
	}

	// DHUB_E2E_BROWSER_RUNS repeats the browser's path, to show it does
	// not fail at random (on a loaded machine, say); once by default.
	runs, err := strconv.Atoi(os.Getenv("DHUB_E2E_BROWSER_RUNS"))
	if err != nil || runs < 1 {
		runs = 1
	}
	for range runs {
		t.Run("browser", func(t *testing.T) { testBrowser(t, h) })
	}

	// A user's Dask clusters end with their server (dask.endWithServer).
	h.clustersEndWithServers()

	out = h.planThenUp()
	if !strings.Contains(out, "(no change)") {
		t.Errorf("second up did something:\n%s", out)
	}

	// A changed configuration restarts both processes; a lost secret is
	// generated anew, and restarts them too.
	cfg, _ := os.ReadFile(h.config)
	os.WriteFile(h.config, append(cfg, "dask:\n  workerCores: {max: 2}\n"...), 0o644)
	h.planThenUp("process dask-gateway", "process jupyterhub")
	os.Remove(filepath.Join(h.state, "secrets", "cookie-secret"))
	h.planThenUp("secret cookie-secret", "process dask-gateway", "process jupyterhub")

	// A configuration the gateway fails on at start (here its program
	// refuses a marker in the rendered file): up brings the previous
	// configuration back, says so and fails; the hub serves on.
	h.rollback(cfg)

	// Who runs users' servers: as root, accounts of their own that cannot
	// read the hub's secrets or each other's files; otherwise only the
	// admin logs in.
	h.isolation()

	// A server the idle culler stops ends its user's Dask clusters too.
	h.culledServerEndsItsCluster()

	// Processes a person runs in the state directory are not the hub's:
	// down leaves them alone.
	var foreign []*exec.Cmd
	for _, argv := range [][]string{{"sleep", "600"}, {"tail", "-f", filepath.Join(h.state, "logs", "jupyterhub.log")}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = h.state
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		foreign = append(foreign, cmd)
	}
	h.must("down", "--yes")
	for _, cmd := range foreign {
		if !alive(cmd.Process.Pid) {
			t.Errorf("down stopped %v (pid %d), which a person started in the state directory", cmd.Args, cmd.Process.Pid)
		}
	}
	if left := h.processes(); len(left) > 0 {
		t.Errorf("processes left after down: %v", left)
	}
	if listening(h.port) {
		t.Errorf("port %d still open after down", h.port)
	}
	if _, err := os.Stat(filepath.Join(h.state, "venv", "bin", "python")); err != nil {
		t.Errorf("down removed the Python environment: %v", err)
	}
}

// rollback checks that up starts the previous configuration again when
// the new one fails at start. cfg is the hub's dhub.yaml before the last
// change the hub runs with is appended.
func (h *hub) rollback(cfg []byte) {
	t := h.t
	t.Helper()
	bin := filepath.Join(h.state, "venv", "bin", "dask-gateway-server")
	orig, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin+".real", orig, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := "#!/bin/sh\nif grep -q E2E_FAIL_AT_START \"$2\"; then echo 'e2e: this gateway configuration fails at start' >&2; exit 3; fi\nexec \"$0.real\" \"$@\"\n"
	if err := os.WriteFile(bin, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		os.WriteFile(bin, orig, 0o755)
		os.Remove(bin + ".real")
	}()
	running, _ := os.ReadFile(h.config)
	os.WriteFile(h.config, append(cfg, "dask:\n  workerCores: {max: 2}\n  environment: {E2E_FAIL_AT_START: \"yes\"}\n"...), 0o644)
	start := time.Now()
	code, _, errb := h.run("up")
	t.Logf("dhub up with a rollback: %.1fs", time.Since(start).Seconds())
	if code != 1 || !strings.Contains(errb, "error: the new configuration failed: dask-gateway exited during start; the previous one runs again") ||
		!strings.Contains(errb, "e2e: this gateway configuration fails at start") {
		t.Errorf("up of a configuration that fails at start: exit %d, stderr:\n%s", code, errb)
	}
	out, _ := h.must("status", "-o", "json")
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Up {
		t.Errorf("status after the rollback: %v\n%s", err, out)
	}
	// Back to the configuration that runs: nothing left to do.
	os.WriteFile(h.config, running, 0o644)
	if out := h.planThenUp(); !strings.Contains(out, "(no change)") {
		t.Errorf("up after the rollback did something:\n%s", out)
	}
}

// isolation lets alice and bob log in with a shared password. As root,
// alice logs in, her server runs as her own account, and from her terminal
// she cannot read the admin's password, the hub's database, configuration
// or log, the admin's home or bob's notebook, but reads her own files. It
// needs root (CI runs the tier as root); the single-user hub of an
// ordinary account is TestReadmeFirstCommand's.
func (h *hub) isolation() {
	t := h.t
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the isolation of users' accounts needs root: run the end-to-end tier as root, as CI does")
	}
	const userPassword = "e2e-shared-user-password"
	t.Setenv("DHUB_E2E_USER_PASSWORD", userPassword)
	running, _ := os.ReadFile(h.config)
	os.WriteFile(h.config, append(running, "hub:\n  auth:\n    password:\n      userPassword: {fromEnv: DHUB_E2E_USER_PASSWORD}\n      allowedUsers: [alice, bob]\n"...), 0o644)
	up := h.planThenUp("secret user-password", "process dask-gateway", "process jupyterhub")
	adminPassword, _ := os.ReadFile(filepath.Join(h.state, "secrets", "admin-password"))
	if !h.login("admin", strings.TrimSpace(string(adminPassword))) {
		t.Fatal("the admin cannot log in")
	}
	if !strings.Contains(up, "each user's server runs as a system account of its own") {
		t.Errorf("up does not say users have accounts of their own:\n%s", up)
	}
	if !h.login("alice", userPassword) {
		t.Fatal("alice cannot log in with the user password")
	}
	tokens := map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		tokens[user] = h.userToken(user)
		h.startServer(user, tokens[user])
	}
	// bob's notebook, readable by anyone who reaches it: only his home's
	// mode keeps it from others.
	out := h.terminal("bob", tokens["bob"], `echo '{"cells": []}' > ~/notes.ipynb && chmod 644 ~/notes.ipynb; echo "WHO=$(id -un) HOME=$HOME"; echo E""ND`, "END\r")
	if !strings.Contains(out, "WHO=dhub-bob HOME=/home/dhub-bob") {
		t.Fatalf("bob's server does not run as his account:\n%s", out)
	}
	targets := []string{
		filepath.Join(h.state, "secrets", "admin-password"),
		filepath.Join(h.state, "jupyterhub.sqlite"),
		filepath.Join(h.state, "config", "jupyterhub_config.py"),
		filepath.Join(h.state, "logs", "jupyterhub.log"),
		"/home/dhub-bob/notes.ipynb",
	}
	for _, f := range targets {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s: %v (the check below would pass for nothing)", f, err)
		}
	}
	script := `echo mine > ~/mine.txt; for f in ~/mine.txt ` + strings.Join(targets, " ") + `; do if cat "$f" >/dev/null 2>&1; then echo "READ $f"; else echo "DENIED $f"; fi; done; ` +
		`for d in ` + h.state + ` /home/dhub-admin /home/dhub-bob; do if ls "$d" >/dev/null 2>&1; then echo "LISTED $d"; else echo "DENIED $d"; fi; done; echo "WHO=$(id -un)"; echo E""ND`
	out = h.terminal("alice", tokens["alice"], script, "END\r")
	want := []string{"WHO=dhub-alice", "READ /home/dhub-alice/mine.txt"}
	for _, f := range targets {
		want = append(want, "DENIED "+f)
	}
	for _, d := range []string{h.state, "/home/dhub-admin", "/home/dhub-bob"} {
		want = append(want, "DENIED "+d)
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\r") {
			t.Errorf("alice's terminal lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, strings.TrimSpace(string(adminPassword))) {
		t.Error("the admin password reached alice's terminal")
	}
	for _, user := range []string{"alice", "bob"} {
		h.api(http.MethodDelete, "/hub/api/users/"+user+"/server", tokens[user], "", nil)
	}
}

// login signs in on the hub's login form as a person does and reports
// whether the hub let the user in.
func (h *hub) login(user, password string) bool {
	h.t.Helper()
	_, ok := signIn(h.t, fmt.Sprintf("http://127.0.0.1:%d", h.port), user, password)
	return ok
}

// userToken gets a token of user from the hub, with dhub's service token.
func (h *hub) userToken(user string) string {
	h.t.Helper()
	var tok struct{ Token string }
	h.api(http.MethodPost, "/hub/api/users/"+user+"/tokens", h.serviceToken(), `{"note": "e2e", "expires_in": 3600}`, &tok)
	return tok.Token
}

// serviceToken is dhub's own API token of the hub.
func (h *hub) serviceToken() string {
	h.t.Helper()
	service, err := os.ReadFile(filepath.Join(h.state, "secrets", "dhub-api-token"))
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.TrimSpace(string(service))
}

// startServer starts user's server and waits until the hub says it is ready.
func (h *hub) startServer(user, token string) {
	h.t.Helper()
	h.api(http.MethodPost, "/hub/api/users/"+user+"/server", token, "", nil)
	deadline := time.Now().Add(90 * time.Second)
	for {
		var u struct {
			Servers map[string]struct{ Ready bool }
		}
		h.api(http.MethodGet, "/hub/api/users/"+user, token, "", &u)
		if u.Servers[""].Ready {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(h.state, "logs", "jupyterhub.log"))
			h.t.Fatalf("the server of %s is not ready after 90s; the hub's log ends:\n%s", user, lastLines(string(log), 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// terminal runs a shell command line in a JupyterLab terminal of user's
// server, as the Lab's terminal does, and returns what it printed up to
// and including until.
func (h *hub) terminal(user, token, cmd, until string) string {
	h.t.Helper()
	var term struct{ Name string }
	h.api(http.MethodPost, "/user/"+user+"/api/terminals", token, "", &term)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/user/%s/terminals/websocket/%s", h.port, user, term.Name),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"token " + token}}})
	if err != nil {
		h.t.Fatalf("terminal websocket of %s: %v", user, err)
	}
	defer conn.CloseNow()
	msg, _ := json.Marshal([]string{"stdin", cmd + "\r"})
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		h.t.Fatal(err)
	}
	var out bytes.Buffer
	// The terminal echoes the command line first: until must be what the
	// command prints, not what it says (echo E""ND prints END).
	for !strings.Contains(out.String(), until) {
		_, data, err := conn.Read(ctx)
		if err != nil {
			h.t.Fatalf("terminal of %s: %v; it printed:\n%s", user, err, out.String())
		}
		var m []any
		if json.Unmarshal(data, &m) == nil && len(m) == 2 && m[0] == "stdout" {
			out.WriteString(fmt.Sprint(m[1]))
		}
	}
	return out.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestLocalFailures(t *testing.T) {
	h := newHub(t)
	h.must("up") // builds the environment the cases below reuse
	h.must("down", "--yes")

	t.Run("port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(h.port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		code, _, errb := h.run("up")
		if code != 1 || !strings.Contains(errb, fmt.Sprintf("local.port: 127.0.0.1:%d is in use by another program", h.port)) {
			t.Errorf("exit %d, stderr:\n%s", code, errb)
		}
		if left := h.processes(); len(left) > 0 {
			t.Errorf("processes started despite the taken port: %v", left)
		}
	})

	t.Run("process dies at start", func(t *testing.T) {
		bin := filepath.Join(h.state, "venv", "bin", "dask-gateway-server")
		orig, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(bin, orig, 0o755)
		broken := "#!/bin/sh\necho 'gateway config is broken: e2e' >&2\nexit 3\n"
		if err := os.WriteFile(bin, []byte(broken), 0o755); err != nil {
			t.Fatal(err)
		}
		code, _, errb := h.run("up")
		if code != 1 || !strings.Contains(errb, "dask-gateway exited during start") ||
			!strings.Contains(errb, "gateway config is broken: e2e") {
			t.Errorf("exit %d, stderr:\n%s", code, errb)
		}
		if left := h.processes(); len(left) > 0 {
			t.Errorf("a failed up left processes: %v", left)
		}
	})

	t.Run("smoke with the gateway down", func(t *testing.T) {
		h.must("up")
		gateway := h.pid("dask-gateway")
		if err := syscall.Kill(gateway, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); alive(gateway); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway (pid %d) still runs a minute after SIGKILL", gateway)
			}
		}
		code, out, errb := h.run("smoke", "--timeout", "30s")
		// The user's path works up to the gateway, which is down: the
		// check names that phase, and cleans up its user's server.
		if code != 1 || !strings.Contains(errb, "error: smoke check failed: cluster start: ") || !strings.Contains(out, "kernel start") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errb)
		}
		code, _, _ = h.run("status")
		if code != 1 {
			t.Errorf("status exit %d with the gateway down, want 1", code)
		}
		h.must("down", "--yes")
		if left := h.processes(); len(left) > 0 {
			t.Errorf("processes left after down: %v", left)
		}
	})
}
