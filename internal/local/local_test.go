package local

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dhub/internal/config"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// holdPort listens on a free loopback port until the test ends.
func holdPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// freePorts returns n distinct ports that are free now.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// isFree is choosePorts' test of a port with no hub running.
func isFree(port int) bool { return portFree("127.0.0.1", port) }

func portList(p render.LocalPorts) []int {
	return []int{p.ProxyAPI, p.HubAPI, p.GatewayAPI, p.GatewayProxy}
}

// checkPortSet fails unless the ports are set, distinct, and none is public.
func checkPortSet(t *testing.T, p render.LocalPorts, public int) {
	t.Helper()
	seen := map[int]bool{}
	for _, n := range portList(p) {
		if n <= 0 || n > 65535 {
			t.Errorf("port %d in %+v", n, p)
		}
		if n == public {
			t.Errorf("the public port %d was chosen as an internal port: %+v", public, p)
		}
		if seen[n] {
			t.Errorf("port %d chosen twice: %+v", n, p)
		}
		seen[n] = true
	}
}

func TestChoosePortsKeepsFreePreviousPorts(t *testing.T) {
	ps := freePorts(t, 5)
	public := ps[4]
	prev := &runtime{Ports: render.LocalPorts{ProxyAPI: ps[0], HubAPI: ps[1], GatewayAPI: ps[2], GatewayProxy: ps[3]}}
	got, err := choosePorts(prev, public, isFree)
	if err != nil {
		t.Fatal(err)
	}
	if got != prev.Ports {
		t.Errorf("choosePorts = %+v, want the free previous ports %+v", got, prev.Ports)
	}
}

func TestChoosePortsReplacesATakenPort(t *testing.T) {
	ps := freePorts(t, 4)
	taken := holdPort(t)
	public := holdPort(t) // the hub's own port may be anything; here it is busy too
	prev := &runtime{Ports: render.LocalPorts{ProxyAPI: ps[0], HubAPI: taken, GatewayAPI: ps[1], GatewayProxy: ps[2]}}
	got, err := choosePorts(prev, public, isFree)
	if err != nil {
		t.Fatal(err)
	}
	checkPortSet(t, got, public)
	if got.HubAPI == taken {
		t.Errorf("the taken port %d was kept", taken)
	}
	if got.ProxyAPI != ps[0] || got.GatewayAPI != ps[1] || got.GatewayProxy != ps[2] {
		t.Errorf("free previous ports were not kept: %+v, previous %+v", got, prev.Ports)
	}
	if !portFree("127.0.0.1", got.HubAPI) {
		t.Errorf("the replacement %d is not free", got.HubAPI)
	}
}

func TestChoosePortsNeverPublicOrDuplicate(t *testing.T) {
	ps := freePorts(t, 3)
	public := ps[0]
	for _, prev := range []*runtime{
		// The public port changed to an old internal one.
		{Ports: render.LocalPorts{ProxyAPI: ps[1], HubAPI: public, GatewayAPI: ps[2], GatewayProxy: 0}},
		// A duplicate in the previous ports (edited by hand).
		{Ports: render.LocalPorts{ProxyAPI: ps[1], HubAPI: ps[1], GatewayAPI: ps[2], GatewayProxy: ps[2]}},
		// Nothing recorded.
		{},
		nil,
	} {
		got, err := choosePorts(prev, public, isFree)
		if err != nil {
			t.Fatal(err)
		}
		checkPortSet(t, got, public)
		if prev != nil && prev.Ports.ProxyAPI == ps[1] && got.ProxyAPI != ps[1] {
			t.Errorf("a free previous port was replaced: %+v", got)
		}
	}
}

func TestChoosePortsDefaults(t *testing.T) {
	// Without a previous run the internal ports follow the public one when
	// they are free, else free ones are picked.
	public := holdPort(t)
	got, err := choosePorts(nil, public, isFree)
	if err != nil {
		t.Fatal(err)
	}
	checkPortSet(t, got, public)
	def := render.DefaultLocalPorts(public)
	for i, n := range portList(got) {
		if d := portList(def)[i]; n != d && portFree("127.0.0.1", d) && !slices.Contains(portList(got), d) {
			t.Errorf("default port %d was free but %d was chosen", d, n)
		}
	}
}

func writeSecretT(t *testing.T, st State, name, value string) {
	t.Helper()
	if err := writeSecret(st.Secret(name), value); err != nil {
		t.Fatal(err)
	}
}

func TestCheckPasswords(t *testing.T) {
	strong := strings.Repeat("A", 32)
	for _, c := range []struct {
		name, admin, user, wantErr string
	}{
		{"strong admin, no user password", strong, "", ""},
		{"strong admin and user", strong, "12345678", ""},
		{"admin too short", strings.Repeat("A", 31), "", "adminPassword: JupyterHub needs at least 32 characters"},
		{"user too short", strong, "1234567", "userPassword: JupyterHub needs at least 8 characters"},
		{"equal passwords", strong, strong, "userPassword and adminPassword must differ"},
		{"no password login", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			secrets := map[string]string{}
			if c.admin != "" {
				secrets[SecretAdminPassword] = c.admin
			}
			if c.user != "" {
				secrets[SecretUserPassword] = c.user
			}
			err := checkPasswords(secrets)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestProcessEnv(t *testing.T) {
	t.Setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
	t.Setenv("VIRTUAL_ENV", "/some/other/venv")
	t.Setenv("PYTHONPATH", "/some/python/path")
	t.Setenv("DHUB_TEST_KEPT", "yes")
	// dhub run from a terminal of another hub inherits that hub's marker.
	t.Setenv(markerEnv, "0123456789abcdef0123456789abcdef")
	st := State{Dir: "/state/hub", ID: "fedcba9876543210fedcba9876543210"}
	env := processEnv(st)
	values := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		values[k] = append(values[k], v)
	}
	for k, want := range map[string]string{
		"PATH":             "/state/hub/venv/bin:/usr/local/bin:/usr/bin:/bin",
		"VIRTUAL_ENV":      "/state/hub/venv",
		"DHUB_STATE_DIR":   "/state/hub",
		"DHUB_SECRETS_DIR": "/state/hub/secrets",
		"DHUB_TEST_KEPT":   "yes",
		markerEnv:          "fedcba9876543210fedcba9876543210",
	} {
		if got := values[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want exactly %q", k, got, want)
		}
	}
	if _, ok := values["PYTHONPATH"]; ok {
		t.Error("PYTHONPATH leaks into the hub's processes")
	}
}

func TestProcessEnvFindsTheVenvFirst(t *testing.T) {
	// A process started with processEnv runs the environment's programs.
	st := State{Dir: filepath.Join(t.TempDir(), "state")}
	writeScript(t, st.Bin("jupyterhub"), "echo venv jupyterhub\n")
	out := filepath.Join(t.TempDir(), "out")
	p, err := startDetached("probe", []string{"sh", "-c", "jupyterhub; echo $DHUB_STATE_DIR"}, processEnv(st), t.TempDir(), out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(p) })
	waitFor(t, 5*time.Second, "the probe's output", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "venv jupyterhub\n"+st.Dir+"\n")
	})
}

func TestDownWithoutStateDir(t *testing.T) {
	h := testHub(t)
	var progress bytes.Buffer
	res, err := Down(t.Context(), h, Options{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "nothing to stop: "+h.Local.StateDir+" does not exist") {
		t.Errorf("progress = %q", progress.String())
	}
	if res.StateDir != h.Local.StateDir || len(res.Stopped) != 0 || len(res.Forced) != 0 || len(res.Leftover) != 0 {
		t.Errorf("result = %+v", res)
	}
	if _, err := os.Stat(h.Local.StateDir); !os.IsNotExist(err) {
		t.Errorf("Down created the state directory: %v", err)
	}
}

func TestDownStopsRecordedAndLeftoverProcesses(t *testing.T) {
	h, st := preparedHub(t)
	// The two processes dhub records, running in the state directory.
	recorded := map[string]proc{}
	for _, name := range []string{procHub, procGateway} {
		p := startOwn(t, st, name, st.Dir, "sleep", "60")
		if err := writePidFile(st.PidFile(name), p); err != nil {
			t.Fatal(err)
		}
		recorded[name] = p
	}
	// A Dask scheduler in its own session, and a proxy orphaned by a hub
	// that crashed: found by the marker they inherited.
	clusterDir := filepath.Join(st.Clusters(), "c1")
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		t.Fatal(err)
	}
	scheduler := startOwn(t, st, "scheduler", clusterDir, "sleep", "60")
	leader := startOwn(t, st, "crashed-hub", st.Dir, "sh", "-c", `sleep 60 & echo $! > orphan.pid`)
	orphan := procOf("orphan", readPid(t, filepath.Join(st.Dir, "orphan.pid")))
	t.Cleanup(func() { kill(orphan) })
	waitFor(t, 5*time.Second, "the crashed hub to exit", func() bool { return !leader.alive() })
	// Outside the state directory: left alone.
	bystander := startProc(t, "bystander", t.TempDir(), "sleep", "60")

	var progress bytes.Buffer
	res, err := Down(t.Context(), h, Options{Progress: &progress, StopGrace: 2 * time.Second})
	if err != nil {
		t.Fatalf("Down: %v\n%s", err, progress.String())
	}
	for _, p := range []proc{recorded[procHub], recorded[procGateway], scheduler, orphan} {
		if p.alive() {
			t.Errorf("%s (pid %d) still runs after Down", p.Name, p.Pid)
		}
	}
	if !bystander.alive() {
		t.Error("Down stopped a process outside the state directory")
	}
	if len(res.Stopped) != 4 || res.Stopped[0] != procGateway || res.Stopped[1] != procHub {
		t.Errorf("stopped %v, want the gateway, the hub, then the two leftovers", res.Stopped)
	}
	if len(res.Forced) != 0 || len(res.Leftover) != 0 {
		t.Errorf("forced %v, leftover %v", res.Forced, res.Leftover)
	}
	for _, name := range []string{procHub, procGateway} {
		if _, err := os.Stat(st.PidFile(name)); !os.IsNotExist(err) {
			t.Errorf("pid file of %s remains: %v", name, err)
		}
	}
	if g, hb := strings.Index(progress.String(), "stopping dask-gateway"), strings.Index(progress.String(), "stopping jupyterhub"); g < 0 || hb < 0 || g > hb {
		t.Errorf("the gateway is not stopped before the hub:\n%s", progress.String())
	}
	// The state is kept for the next Up.
	if _, err := os.Stat(st.Secrets()); err != nil {
		t.Errorf("Down removed state: %v", err)
	}
}

// Processes that live in the state directory but were not started by the
// hub survive Down: a person's shell there, a tail of a log, a script on
// the environment's Python, another hub's process, and one whose marker
// merely starts with this hub's id.
func TestDownLeavesForeignProcessesInTheStateDirectory(t *testing.T) {
	h, st := preparedHub(t)
	hub := startOwn(t, st, procHub, st.Dir, "sleep", "60")
	if err := writePidFile(st.PidFile(procHub), hub); err != nil {
		t.Fatal(err)
	}
	log := st.Log(procHub)
	if err := os.WriteFile(log, []byte("a line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	py := python3(t)
	env := func(extra ...string) []string { return append(os.Environ(), extra...) }
	foreign := map[string]struct {
		argv []string
		env  []string
	}{
		"a shell in the state directory":               {[]string{"sh", "-c", "sleep 60"}, env()},
		"tail -f of a log":                             {[]string{"tail", "-f", log}, env()},
		"a script on the environment's Python":         {[]string{py, "-c", "import time; time.sleep(60)", st.ConfigFile("jupyterhub_config.py")}, env()},
		"another hub's process":                        {[]string{"sleep", "60"}, env(markerEnv + "=ffffffffffffffffffffffffffffffff")},
		"a marker that only starts with this id":       {[]string{"sleep", "60"}, env(markerEnv + "=" + st.ID + "0")},
		"the id under another variable's name":         {[]string{"sleep", "60"}, env("OTHER_" + markerEnv + "=" + st.ID)},
		"the state directory named in its environment": {[]string{"sleep", "60"}, env("DHUB_STATE_DIR=" + st.Dir)},
	}
	var procs []proc
	for what, f := range foreign {
		p, err := startDetached(what, f.argv, f.env, st.Dir, filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kill(p) })
		procs = append(procs, p)
	}
	// A process that got the recorded pid file's pid and start time right
	// but lacks the marker is not the hub either.
	impostor := startProc(t, procGateway, st.Dir, "sleep", "60")
	if err := writePidFile(st.PidFile(procGateway), impostor); err != nil {
		t.Fatal(err)
	}
	procs = append(procs, impostor)

	plan, err := PlanDown(h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Changes {
		if c.Kind == "processes" || (c.Name == procGateway && c.Action != "no-op") {
			t.Errorf("PlanDown would stop a foreign process: %+v", c)
		}
	}
	res, err := Down(t.Context(), h, Options{StopGrace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Stopped, []string{procHub}) {
		t.Errorf("stopped %v, want only the hub", res.Stopped)
	}
	if hub.alive() {
		t.Error("the hub still runs")
	}
	for _, p := range procs {
		if !p.alive() {
			t.Errorf("Down stopped %s (pid %d), which the hub did not start", p.Name, p.Pid)
		}
	}
}

// A state directory that never held a hub: nothing runs from it is the
// hub's, whatever runs there.
func TestDownOnADirectoryThatIsNotDhubs(t *testing.T) {
	h := testHub(t)
	if err := os.MkdirAll(h.Local.StateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.Local.StateDir, "notes.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sleeper := startProc(t, "sleeper", h.Local.StateDir, "sleep", "60")
	_, err := Down(t.Context(), h, Options{StopGrace: time.Second})
	if err == nil || !strings.Contains(err.Error(), "was not made by dhub") {
		t.Errorf("Down = %v, want a refusal naming a directory dhub did not make", err)
	}
	if !sleeper.alive() {
		t.Error("Down stopped a process in a directory that is not dhub's")
	}
	if _, err := PlanDown(h, asUser); err == nil {
		t.Error("PlanDown of a directory that is not dhub's succeeded")
	}
	if _, err := PlanUp(t.Context(), h, asUser); err == nil || !strings.Contains(err.Error(), "was not made by dhub") {
		t.Errorf("PlanUp = %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(h.Local.StateDir, stateRecordFile)); !os.IsNotExist(err) {
		t.Errorf("dhub wrote its record into a directory that is not its own: %v", err)
	}
}

func TestDownIgnoresARecycledPid(t *testing.T) {
	h, st := preparedHub(t)
	// The pid file names a live process that is not the one dhub started.
	other := startProc(t, "other", t.TempDir(), "sleep", "60")
	if err := writePidFile(st.PidFile(procHub), proc{Pid: other.Pid, Start: "1"}); err != nil {
		t.Fatal(err)
	}
	res, err := Down(t.Context(), h, Options{StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !other.alive() {
		t.Fatal("Down killed a process that merely got the recorded pid")
	}
	if len(res.Stopped) != 0 {
		t.Errorf("stopped %v", res.Stopped)
	}
	if _, err := os.Stat(st.PidFile(procHub)); !os.IsNotExist(err) {
		t.Error("the stale pid file remains")
	}
}

// holdLock takes the state directory's lock for the rest of the test, as
// another dhub command would.
func holdLock(t *testing.T, st State) {
	t.Helper()
	if err := st.prepare("test"); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.lock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
}

func TestDownRefusesWhileLocked(t *testing.T) {
	h := testHub(t)
	st, _ := StateFor(h, Machine{})
	holdLock(t, st)
	if _, err := Down(t.Context(), h, Options{}); err == nil || !strings.Contains(err.Error(), "another dhub command") {
		t.Errorf("err = %v", err)
	}
}

// upReady is a hub whose environment looks installed, so Up goes straight
// to its own checks without installing anything.
// It runs as an ordinary account (asUser).
func upReady(t *testing.T) (*config.Hub, State) {
	t.Helper()
	h, st := preparedHub(t)
	h.Local.Python = "python3"
	fakeVenv(t, st, h.Local.Python)
	return h, st
}

// assertNothingStarted checks that Up left no process, pid file, config or
// runtime record behind, and released its lock.
func assertNothingStarted(t *testing.T, st State) {
	t.Helper()
	for _, name := range []string{procHub, procGateway} {
		if _, err := os.Stat(st.PidFile(name)); !os.IsNotExist(err) {
			t.Errorf("pid file of %s written: %v", name, err)
		}
	}
	for _, f := range []string{filepath.Join(st.Run(), "runtime.json"), st.ConfigFile("jupyterhub_config.py"), st.ConfigFile("dask_gateway_config.py"), st.Log(procHub), st.Log(procGateway)} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s written: %v", f, err)
		}
	}
	if ps := ownProcesses(st.ID); len(ps) != 0 {
		t.Errorf("processes run in the state directory: %+v", ps)
	}
	unlock, err := st.lock()
	if err != nil {
		t.Errorf("Up did not release its lock: %v", err)
	} else {
		unlock()
	}
}

func TestUpRefusesATakenPublicPort(t *testing.T) {
	h, st := upReady(t)
	h.Local.Port = holdPort(t)
	var progress bytes.Buffer
	res, err := up(t, h, Options{Progress: &progress, StartTimeout: 5 * time.Second})
	want := fmt.Sprintf("local.port: 127.0.0.1:%d is in use by another program", h.Local.Port)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Up = %+v, %v; want an error containing %q", res, err, want)
	}
	if strings.Contains(progress.String(), "installing") || strings.Contains(progress.String(), "started") {
		t.Errorf("progress = %q", progress.String())
	}
	assertNothingStarted(t, st)
}

func TestUpChecksPasswordsBeforeStarting(t *testing.T) {
	t.Setenv("DHUB_TEST_UP_SHORT", "short")
	t.Setenv("DHUB_TEST_UP_UNSET", "")
	os.Unsetenv("DHUB_TEST_UP_UNSET")
	for _, c := range []struct {
		name    string
		admin   string
		wantErr string
	}{
		{"unresolvable reference", "DHUB_TEST_UP_UNSET", "hub.auth.password.adminPassword.fromEnv: the environment variable it names is not set"},
		{"short admin password", "DHUB_TEST_UP_SHORT", "hub.auth.password.adminPassword: JupyterHub needs at least 32 characters"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, st := upReady(t)
			h.Local.Port = freePorts(t, 1)[0]
			h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{FromEnv: c.admin}
			_, err := up(t, h, Options{})
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
			assertNothingStarted(t, st)
		})
	}
}

func TestUpRefusesWhileLocked(t *testing.T) {
	h, st := upReady(t)
	holdLock(t, st)
	if _, err := up(t, h, Options{}); err == nil || !strings.Contains(err.Error(), "another dhub command is working on") {
		t.Errorf("err = %v", err)
	}
}

func TestRuntimeRoundTrip(t *testing.T) {
	st := preparedState(t)
	if _, err := st.readRuntime(); err == nil {
		t.Error("reading a missing runtime record succeeded")
	}
	want := runtime{Ports: render.LocalPorts{ProxyAPI: 1, HubAPI: 2, GatewayAPI: 3, GatewayProxy: 4}, Digest: "abc"}
	if err := st.writeRuntime(want); err != nil {
		t.Fatal(err)
	}
	got, err := st.readRuntime()
	if err != nil || *got != want {
		t.Errorf("readRuntime = %+v, %v; want %+v", got, err, want)
	}
}

func TestDigest(t *testing.T) {
	a := []render.LocalFile{{Name: "b.py", Content: "x"}, {Name: "a.py", Content: "y"}}
	b := []render.LocalFile{{Name: "a.py", Content: "y"}, {Name: "b.py", Content: "x"}}
	secrets := map[string]string{SecretCookie: "1", SecretProxyToken: "2"}
	if digest(a, secrets) != digest(b, secrets) {
		t.Error("the digest depends on the files' order")
	}
	c := []render.LocalFile{{Name: "a.py", Content: "y"}, {Name: "b.py", Content: "z"}}
	if digest(b, secrets) == digest(c, secrets) {
		t.Error("the digest ignores a file's content")
	}
	if digest(b, secrets) == digest(b, map[string]string{SecretCookie: "1", SecretProxyToken: "3"}) {
		t.Error("the digest ignores a secret's value")
	}
}

func TestHostPort(t *testing.T) {
	if got := hostPort("127.0.0.1", 8000); got != "127.0.0.1:8000" {
		t.Error(got)
	}
	if got := hostPort("::1", 8000); got != "[::1]:8000" {
		t.Error(got)
	}
}

func TestGetStatusOfAStoppedHub(t *testing.T) {
	h := testHub(t)
	s, err := GetStatus(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	if s.Up || len(s.Components) != 3 || len(s.Clusters) != 0 || s.StateDir != h.Local.StateDir {
		t.Fatalf("status = %+v", s)
	}
	for _, c := range s.Components {
		if c.Running || c.Detail == "" {
			t.Errorf("component %+v of a stopped hub", c)
		}
	}
}

func TestSmokeNeedsARunHub(t *testing.T) {
	h := testHub(t)
	if _, err := Smoke(h, asUser); err == nil || !strings.Contains(err.Error(), "dhub up") {
		t.Errorf("Smoke before up: err = %v", err)
	}
	h, st := upReady(t)
	if err := st.prepare("test"); err != nil {
		t.Fatal(err)
	}
	if err := st.writeRuntime(runtime{Ports: render.LocalPorts{GatewayProxy: 9999}}); err != nil {
		t.Fatal(err)
	}
	writeSecretT(t, st, SecretDhubToken, "tok")
	writeSecretT(t, st, SecretAdminPassword, "pw")
	h.Local.Host = "0.0.0.0"
	target, err := Smoke(h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	if target.APIToken != "tok" || target.HubURL != fmt.Sprintf("http://127.0.0.1:%d", h.Local.Port) ||
		target.Login == nil || *target.Login != (smoke.Login{User: "admin", Password: "pw"}) {
		t.Errorf("target = %+v", target)
	}
	os.WriteFile(st.Log(procHub), []byte("line 1\nSpawn failed: the last line\n"), 0o644)
	if why := target.Diagnose(t.Context(), "dhub-smoke"); !strings.Contains(why, "Spawn failed: the last line") {
		t.Errorf("Diagnose = %q, want the end of the hub's log", why)
	}
}
