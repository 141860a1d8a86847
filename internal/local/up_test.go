package local

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// runningHub is a hub brought up by Up on the fake programs of fakeVenv,
// on a free port.
func runningHub(t *testing.T) (*config.Hub, State) {
	t.Helper()
	h, st := upReady(t)
	h.Local.Port = freePorts(t, 1)[0]
	var progress bytes.Buffer
	if _, err := up(t, h, Options{Progress: &progress, StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second}); err != nil {
		t.Fatalf("first up: %v\n%s", err, progress.String())
	}
	t.Cleanup(func() { Down(context.Background(), h, Options{StopGrace: 2 * time.Second}) })
	return h, st
}

// hubProcs returns the hub's two processes as their pid files name them,
// failing unless both run.
func hubProcs(t *testing.T, st State) map[string]proc {
	t.Helper()
	procs, all := st.running()
	if !all {
		t.Fatalf("the hub's processes do not both run: %+v", procs)
	}
	return procs
}

// answers fails the test unless every readiness probe of the hub answers.
func answers(t *testing.T, h *config.Hub, st State) {
	t.Helper()
	rt, err := st.readRuntime()
	if err != nil {
		t.Fatalf("runtime record: %v", err)
	}
	if err := probe(t.Context(), readyChecks(h, rt.Ports)); err != nil {
		t.Errorf("the hub does not answer: %v", err)
	}
}

// changeOf returns the plan's change of kind and name.
func changeOf(p *plan.Plan, kind, name string) (plan.Change, bool) {
	for _, c := range p.Changes {
		if c.Kind == kind && c.Name == name {
			return c, true
		}
	}
	return plan.Change{}, false
}

// A configuration that passes every check before the stop and then fails
// at start: the previous configuration runs again, and the error says so.
func TestUpBringsThePreviousConfigurationBack(t *testing.T) {
	h, st := runningHub(t)
	before := hubProcs(t, st)
	prevRuntime, _ := st.readRuntime()
	prevHubConfig := readFile(t, st.ConfigFile("jupyterhub_config.py"))
	prevGatewayConfig := readFile(t, st.ConfigFile("dask_gateway_config.py"))

	h.Dask.Environment = map[string]string{"DHUB_TEST": "fail-at-start"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := changeOf(p.View, "process", procGateway); c.Action != plan.Replace {
		t.Fatalf("plan for a changed configuration: %+v", p.View.Changes)
	}
	var progress bytes.Buffer
	start := time.Now()
	_, err = p.Apply(t.Context(), Options{Progress: &progress, StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second})
	t.Logf("up with a rollback: %s", time.Since(start).Round(time.Millisecond))
	if err == nil {
		t.Fatalf("up of a configuration that fails at start succeeded\n%s", progress.String())
	}
	for _, want := range []string{
		"the new configuration failed: dask-gateway exited during start; the previous one runs again",
		"dask-gateway-server: this configuration cannot run (fail-at-start)", // the log's end
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if !strings.Contains(progress.String(), "starting the previous one again") {
		t.Errorf("progress does not say the previous configuration is started again:\n%s", progress.String())
	}
	after := hubProcs(t, st)
	for name, p := range before {
		if p.alive() {
			t.Errorf("%s of before the restart still runs", name)
		}
		if after[name].Pid == p.Pid {
			t.Errorf("%s was not restarted", name)
		}
	}
	answers(t, h, st)
	if got := readFile(t, st.ConfigFile("jupyterhub_config.py")); got != prevHubConfig {
		t.Error("the hub runs another configuration than before")
	}
	if got := readFile(t, st.ConfigFile("dask_gateway_config.py")); got != prevGatewayConfig {
		t.Error("the gateway's configuration on disk is not the previous one")
	}
	if rt, err := st.readRuntime(); err != nil || *rt != *prevRuntime {
		t.Errorf("runtime record %+v (%v), want the previous %+v", rt, err, prevRuntime)
	}
	// The new configuration is still to be applied: the next plan says so.
	p, err = PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := changeOf(p.View, "process", procHub); c.Action != plan.Replace {
		t.Errorf("the plan after a rollback: %+v, want a restart", c)
	}
}

// A previous configuration that does not come up again either: the hub is
// down, and the error says that too.
func TestUpSaysWhenThePreviousConfigurationFailsToo(t *testing.T) {
	h, st := runningHub(t)
	h.Dask.Environment = map[string]string{"DHUB_TEST": "fail-at-start"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	// The previous gateway's configuration now fails as well.
	prev := st.ConfigFile("dask_gateway_config.py")
	if err := os.WriteFile(prev, []byte(readFile(t, prev)+"\n# fail-at-start\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = p.Apply(t.Context(), Options{StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "the previous one did not start again either (dask-gateway exited during start): the hub is down") {
		t.Fatalf("err = %v", err)
	}
	if procs := ownProcesses(st.ID); len(procs) != 0 {
		t.Errorf("processes left after both configurations failed: %+v", procs)
	}
}

// Checks before the stop that fail leave the running hub as it was: a
// runtime record replaced by a directory, the environment's program gone.
func TestUpChecksBeforeStoppingTheHub(t *testing.T) {
	for _, c := range []struct {
		name    string
		damage  func(t *testing.T, h *config.Hub, st State)
		wantErr string
	}{
		{"runtime record is a directory", func(t *testing.T, h *config.Hub, st State) {
			if err := os.Remove(st.runtimeFile()); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(st.runtimeFile(), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "runtime.json is not a regular file (d"},
		{"a log is a directory", func(t *testing.T, h *config.Hub, st State) {
			h.Dask.Environment = map[string]string{"CHANGED": "yes"}
			if err := os.Remove(st.Log(procGateway)); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(st.Log(procGateway), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "dask-gateway.log is not a regular file"},
		{"a program of the environment is gone", func(t *testing.T, h *config.Hub, st State) {
			h.Dask.Environment = map[string]string{"CHANGED": "yes"}
			if err := os.Remove(st.Bin("dask-gateway-server")); err != nil {
				t.Fatal(err)
			}
		}, ""}, // planned as a rebuild instead: see below
	} {
		t.Run(c.name, func(t *testing.T) {
			h, st := runningHub(t)
			before := hubProcs(t, st)
			c.damage(t, h, st)
			p, err := PlanUp(t.Context(), h, asUser)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if c.wantErr == "" {
				// A damaged environment is planned as a rebuild, never
				// started as it is. The rebuild itself is EnsureEnv's.
				if env, _ := changeOf(p.View, "python environment", st.Venv()); env.Action != plan.Update || !strings.Contains(env.Reason, "bin/dask-gateway-server is missing") {
					t.Errorf("plan for the environment: %+v", env)
				}
				p.installEnv = false // no pip here: check Apply's own check
			}
			_, err = p.Apply(t.Context(), Options{StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second})
			wantErr := c.wantErr
			if wantErr == "" {
				wantErr = "is damaged: bin/dask-gateway-server is missing"
			}
			if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), "the running hub was not touched") {
				t.Fatalf("err = %v, want %q and the hub untouched", err, wantErr)
			}
			after := hubProcs(t, st)
			for name, p := range before {
				if !p.alive() || after[name].Pid != p.Pid {
					t.Errorf("%s was stopped or restarted", name)
				}
			}
		})
	}
}

func TestCompilePython(t *testing.T) {
	py := python3(t)
	good := []render.LocalFile{{Name: "a.py", Content: "c = {}\nc['x'] = 1\n"}, {Name: "b.py", Content: "x = [1, 2]\n"}}
	if err := compilePython(t.Context(), py, good); err != nil {
		t.Errorf("valid files: %v", err)
	}
	// What a non-finite number rendered as Python looks like.
	bad := append(good, render.LocalFile{Name: "dask_gateway_config.py", Content: "x = 1\nmax = +Inf.0\n"})
	err := compilePython(t.Context(), py, bad)
	if err == nil || !strings.Contains(err.Error(), "dask_gateway_config.py line 2: invalid syntax") {
		t.Errorf("err = %v, want the file and line of the syntax error", err)
	}
	// Compiling runs nothing and writes nothing.
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	if err := compilePython(t.Context(), py, []render.LocalFile{{Name: "x.py", Content: "open(" + strconv.Quote(marker) + ", 'w')\n"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("compilePython ran the file")
	}
}

// The public port held by the hub itself counts as free for a restart;
// held by another program it does not.
func TestOwnsPort(t *testing.T) {
	h, st := runningHub(t)
	if !st.ownsPort(h.Local.Port) || !st.usablePort(h.Local.Port) {
		t.Error("the hub's own port is not recognized as the hub's")
	}
	other := holdPort(t)
	if st.ownsPort(other) || st.usablePort(other) {
		t.Error("a port held by another program counts as the hub's")
	}
	free := freePorts(t, 1)[0]
	if st.ownsPort(free) || !st.usablePort(free) {
		t.Error("a free port: not usable, or the hub's")
	}
}

// cancelOn is a progress writer that cancels a context once a line
// containing what has been written, as a person pressing Ctrl-C.
type cancelOn struct {
	mu     sync.Mutex
	b      bytes.Buffer
	what   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.Write(p)
	if strings.Contains(c.b.String(), c.what) {
		c.cancel()
	}
	return len(p), nil
}

// Ctrl-C while the hub starts: what this run started is stopped, the
// error says so and wraps context.Canceled, and the next up starts cleanly.
func TestUpInterruptedWhileStarting(t *testing.T) {
	h, st := upReady(t)
	h.Local.Port = freePorts(t, 1)[0]
	h.Dask.Environment = map[string]string{"DHUB_TEST": "hang-at-start"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := &cancelOn{what: "waiting for dask gateway", cancel: cancel}
	_, err = p.Apply(ctx, Options{Progress: progress, StartTimeout: 30 * time.Second, StopGrace: 2 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want one that wraps context.Canceled", err)
	}
	want := "interrupted: stopped the hub this run started; the environment at " + st.Venv() + " and the secrets are kept; run 'dhub up' again"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if procs := ownProcesses(st.ID); len(procs) != 0 {
		t.Errorf("processes left after the interrupt: %+v", procs)
	}
	for _, name := range []string{procHub, procGateway} {
		if _, err := os.Stat(st.PidFile(name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pid file of %s left: %v", name, err)
		}
	}
	// The next up picks up cleanly.
	h.Dask.Environment = nil
	var out bytes.Buffer
	if _, err := up(t, h, Options{Progress: &out, StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second}); err != nil {
		t.Fatalf("up after the interrupt: %v\n%s", err, out.String())
	}
	t.Cleanup(func() { Down(context.Background(), h, Options{StopGrace: 2 * time.Second}) })
	answers(t, h, st)
}

// Ctrl-C while a restart waits for the new hub: the error says the hub
// that ran before was stopped too.
func TestUpInterruptedWhileRestarting(t *testing.T) {
	h, st := runningHub(t)
	h.Dask.Environment = map[string]string{"DHUB_TEST": "hang-at-start"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := &cancelOn{what: "waiting for dask gateway", cancel: cancel}
	_, err = p.Apply(ctx, Options{Progress: progress, StartTimeout: 30 * time.Second, StopGrace: 2 * time.Second})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped the hub this run started; the hub that ran before was stopped for the restart") {
		t.Fatalf("err = %v", err)
	}
	if procs := ownProcesses(st.ID); len(procs) != 0 {
		t.Errorf("processes left after the interrupt: %+v", procs)
	}
}

// Ctrl-C before the stop (here: while the configuration is compiled)
// leaves the running hub alone.
func TestUpInterruptedBeforeTheStop(t *testing.T) {
	h, st := runningHub(t)
	before := hubProcs(t, st)
	h.Dask.Environment = map[string]string{"CHANGED": "yes"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Apply(ctx, Options{StopGrace: 2 * time.Second})
	if !errors.Is(err, context.Canceled) || err.Error() != "interrupted: the running hub was not touched" {
		t.Fatalf("err = %v", err)
	}
	for name, p := range before {
		if !p.alive() {
			t.Errorf("%s was stopped", name)
		}
	}
}

// Up makes the state directory and all it writes owner-only, and a plan
// shows, then Up repairs, modes that drifted.
func TestUpFileModes(t *testing.T) {
	h, st := runningHub(t)
	mode := func(path string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	// Owner-only; as root, users' accounts may cross (not list) the state
	// directory and the Dask clusters' directory.
	stateMode := fs.FileMode(0o700)
	if st.usersOwnAccounts {
		stateMode = 0o711
	}
	for _, d := range st.privateDirs() {
		want := fs.FileMode(0o700)
		if d == st.Dir || d == st.Clusters() {
			want = stateMode
		}
		if m := mode(d); m != want {
			t.Errorf("%s: mode %04o, want %04o", d, m, want)
		}
	}
	for _, f := range []string{st.ConfigFile("jupyterhub_config.py"), st.ConfigFile("dask_gateway_config.py"), st.Log(procHub), st.Log(procGateway),
		st.PidFile(procHub), st.PidFile(procGateway), st.runtimeFile(), st.Secret(SecretAdminPassword), st.Secret(SecretCookie)} {
		if m := mode(f); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", f, m)
		}
	}

	// Drift: a restored backup, a chmod by hand.
	for path, m := range map[string]fs.FileMode{st.Dir: 0o755, st.Logs(): 0o755, st.ConfigFile("jupyterhub_config.py"): 0o644, st.Secret(SecretAdminPassword): 0o644} {
		if err := os.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(st.Dir, "jupyterhub.sqlite")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := changeOf(p.View, "secret", SecretAdminPassword); !ok || c.Action != plan.Update || c.Reason != "mode 0644 lets other accounts read it: make it owner-only (0600)" {
		t.Errorf("plan for the admin password: %+v", c)
	}
	for _, path := range []string{st.Dir, st.Logs(), st.ConfigFile("jupyterhub_config.py"), db} {
		if c, ok := changeOf(p.View, "permissions", path); !ok || c.Action != plan.Update || !strings.Contains(c.Reason, "lets other accounts in: make it 0") {
			t.Errorf("plan for %s: %+v", path, c)
		}
	}
	if c, _ := changeOf(p.View, "process", procHub); c.Action != plan.NoOp {
		t.Errorf("a mode repair restarts the hub: %+v", c)
	}
	pw := readFile(t, st.Secret(SecretAdminPassword))
	if _, err := p.Apply(t.Context(), Options{StopGrace: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{st.Dir: stateMode, st.Logs(): 0o700, st.ConfigFile("jupyterhub_config.py"): 0o600, st.Secret(SecretAdminPassword): 0o600, db: 0o600} {
		if m := mode(path); m != want {
			t.Errorf("%s: mode %04o after up, want %04o", path, m, want)
		}
	}
	if readFile(t, st.Secret(SecretAdminPassword)) != pw {
		t.Error("the mode repair changed the admin password")
	}
	if p, err := PlanUp(t.Context(), h, asUser); err != nil || p.View.HasChanges() {
		t.Errorf("plan after the repair: %v %+v", err, p.View.Changes)
	}
}

// A generated secret cut short (a write stopped half way) is generated
// again, and a temporary file of a write that never finished is removed.
func TestUpReplacesHalfWrittenSecrets(t *testing.T) {
	h, st := preparedHub(t)
	if _, err := ensureSecrets(st, h); err != nil {
		t.Fatal(err)
	}
	full := readFile(t, st.Secret(SecretCookie))
	for name, v := range map[string]string{SecretCookie: "", SecretProxyToken: full[:20], SecretGatewayDBKey: "abc"} {
		if err := os.WriteFile(st.Secret(name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	leftover := st.Secret(SecretDhubToken) + ".tmp"
	if err := os.WriteFile(leftover, []byte("0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	changes, after, err := st.planSecrets(h)
	if err != nil {
		t.Fatal(err)
	}
	regenerated := map[string]bool{}
	for _, c := range changes {
		if c.generated && strings.Contains(c.reason, "not a whole secret") {
			regenerated[c.name] = true
		}
	}
	for _, name := range []string{SecretCookie, SecretProxyToken, SecretGatewayDBKey} {
		if !regenerated[name] || !wholeSecret(name, after[name]) {
			t.Errorf("%s: not planned to be generated again (%+v)", name, changes)
		}
	}
	if regenerated[SecretDhubToken] || regenerated[SecretAdminPassword] {
		t.Errorf("whole secrets planned again: %+v", changes)
	}
	if err := st.writeSecrets(changes); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the half-written %s is kept: %v", leftover, err)
	}
	for _, name := range []string{SecretCookie, SecretProxyToken, SecretGatewayDBKey} {
		if v, err := st.readSecret(name); err != nil || !wholeSecret(name, v) {
			t.Errorf("%s after the write: %v", name, err)
		}
	}
}

// Not root: the hub is single-user, and a dhub.yaml that lets others in
// hears so. Root: each user has an account; nothing to say.
func TestSingleUserWarning(t *testing.T) {
	h := testHub(t)
	h.JupyterHub.Auth.Password.Admins = []string{"ops"}
	h.JupyterHub.Auth.Password.AllowedUsers = []string{"alice", "admin"}
	want := "dhub does not run as root, so this hub is single-user: only admin may log in, not ops, alice (their servers would run as this account and could read the hub's secrets and each other's files); run dhub as root to give each user a system account of their own"
	if got := singleUserWarning(h, false); got != want {
		t.Errorf("warning = %q\nwant %q", got, want)
	}
	h.JupyterHub.Auth.Password.Admins, h.JupyterHub.Auth.Password.AllowedUsers = nil, []string{"admin"}
	if got := singleUserWarning(h, false); got != "" {
		t.Errorf("only the admin logs in, yet: %q", got)
	}
	h.JupyterHub.Auth.Password.AllowAll = true
	if got := singleUserWarning(h, false); !strings.Contains(got, "not anyone (allowAll)") {
		t.Errorf("allowAll: %q", got)
	}
	if got := singleUserWarning(h, true); got != "" {
		t.Errorf("as root: %q", got)
	}
}

// As root, users' accounts run the environment's programs from the state
// directory: a parent they cannot cross is refused at plan time.
func TestPlanRefusesAStateDirectoryUsersCannotReach(t *testing.T) {
	h := testHub(t)
	closed := filepath.Join(filepath.Dir(h.Local.StateDir), "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	h.Local.StateDir = filepath.Join(closed, "state")
	_, err := PlanUp(t.Context(), h, asRoot(nil))
	if err == nil || !strings.Contains(err.Error(), closed+" (mode 0700) lets no other account through") {
		t.Errorf("err = %v", err)
	}
	if err := os.Chmod(closed, 0o711); err != nil {
		t.Fatal(err)
	}
	h.Local.Python = pythonIn(t, filepath.Dir(closed), filepath.Dir(closed))
	if _, err := PlanUp(t.Context(), h, asRoot(nil)); err != nil {
		t.Errorf("a parent others may cross: %v", err)
	}
	// A hub of one account needs none of that.
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := PlanUp(t.Context(), h, asUser); err != nil {
		t.Errorf("not root: %v", err)
	}
}

// pythonIn writes, into dir, an interpreter that answers PlanUp's
// questions as Python 3.12.1 installed in install would.
func pythonIn(t *testing.T, dir, install string) string {
	t.Helper()
	return writeScript(t, filepath.Join(dir, "bin", "python3"), `case "$2" in
*base_prefix*) printf '%s\n%s\n' '`+install+`/bin' '`+install+`' ;;
*) printf '3.12.1\nTrue\n' ;;
esac
`)
}

// As root, users' servers run on the interpreter the environment links
// to: one installed where other accounts cannot go is refused.
func TestPlanRefusesAnInterpreterUsersCannotRun(t *testing.T) {
	h := testHub(t)
	base := filepath.Dir(h.Local.StateDir)
	closed := filepath.Join(base, "home-of-root")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	install := filepath.Join(closed, "pyenv", "versions", "3.12.1")
	h.Local.Python = pythonIn(t, base, install)
	if err := os.MkdirAll(filepath.Join(install, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := PlanUp(t.Context(), h, asRoot(nil))
	want := "local.python: " + h.Local.Python + " is installed in " + install + "/bin, which other accounts cannot reach (" + closed + " is 0700)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "such as /usr/bin/python3") {
		t.Fatalf("err = %v\nwant %q", err, want)
	}
	if err := os.Chmod(closed, 0o711); err != nil {
		t.Fatal(err)
	}
	if _, err := PlanUp(t.Context(), h, asRoot(nil)); err != nil {
		t.Errorf("an interpreter others can reach: %v", err)
	}
}

// Ctrl-C while a restart stops the running hub: the stop finishes (a
// process cut short in its shutdown may leave children), and nothing new
// is started.
func TestUpInterruptedWhileStoppingForARestart(t *testing.T) {
	h, st := runningHub(t)
	h.Dask.Environment = map[string]string{"CHANGED": "yes"}
	p, err := PlanUp(t.Context(), h, asUser)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := &cancelOn{what: "stopping dask-gateway", cancel: cancel}
	_, err = p.Apply(ctx, Options{Progress: progress, StopGrace: 2 * time.Second})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "interrupted: stopped the running hub for the restart and started nothing;") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(progress.b.String(), "started ") {
		t.Errorf("processes were started after the interrupt:\n%s", progress.b.String())
	}
	if procs := ownProcesses(st.ID); len(procs) != 0 {
		t.Errorf("processes left: %+v", procs)
	}
}

// A restart whose previous configuration is unknown (no runtime record)
// cannot go back, and the error says the hub is down.
func TestUpSaysWhenThereIsNoPreviousConfiguration(t *testing.T) {
	h, st := runningHub(t)
	if err := os.Remove(st.runtimeFile()); err != nil {
		t.Fatal(err)
	}
	h.Dask.Environment = map[string]string{"DHUB_TEST": "fail-at-start"}
	_, err := up(t, h, Options{StartTimeout: 10 * time.Second, StopGrace: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "the new configuration failed: dask-gateway exited during start; the previous one cannot be started again (its runtime record or configuration files were missing or unreadable): the hub is down") {
		t.Fatalf("err = %v", err)
	}
}

// As root, the plain python3 of PATH that users cannot run gives way to a
// system Python they can run, and the plan says so; a path that was set
// explicitly is never replaced.
func TestPlanPicksASystemPythonUsersCanRun(t *testing.T) {
	h := testHub(t)
	base := filepath.Dir(h.Local.StateDir)
	closed := filepath.Join(base, "home-of-root")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	onPath := pythonIn(t, filepath.Join(base, "path"), filepath.Join(closed, "pyenv"))
	t.Setenv("PATH", filepath.Dir(onPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
	system := pythonIn(t, filepath.Join(base, "usr"), filepath.Join(base, "usr"))
	root := asRoot([]string{filepath.Join(base, "missing", "python3"), system})

	h.Local.Python = "python3"
	p, err := PlanUp(t.Context(), h, root)
	if err != nil {
		t.Fatal(err)
	}
	if p.python != system {
		t.Errorf("the environment is built from %s, want %s", p.python, system)
	}
	want := "python3 on PATH lies where users' accounts cannot run it: the environment is built from " + system + " (set local.python to choose another)"
	if !slices.Contains(p.View.Warnings, want) {
		t.Errorf("warnings %q lack %q", p.View.Warnings, want)
	}

	h.Local.Python = onPath
	if _, err := PlanUp(t.Context(), h, root); err == nil || !strings.Contains(err.Error(), "local.python: "+onPath+" is installed in") {
		t.Errorf("an explicit interpreter users cannot run: %v", err)
	}
}
