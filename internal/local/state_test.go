package local

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"dhub/internal/config"
)

func TestStateFor(t *testing.T) {
	// As an unprivileged user; root's default is below.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	hub := func(stateDir string) *config.Hub {
		return &config.Hub{Name: "myhub", Local: config.Local{StateDir: stateDir}}
	}
	for _, c := range []struct {
		name, stateDir, xdg, want string
	}{
		{"default", "", "", filepath.Join(home, ".local", "state", "dhub", "myhub")},
		{"XDG_STATE_HOME", "", "/xdg/state", "/xdg/state/dhub/myhub"},
		{"stateDir wins over XDG", "/srv/dhub/hub1", "/xdg/state", "/srv/dhub/hub1"},
		{"stateDir with ~/", "~/hubs/one", "/xdg/state", filepath.Join(home, "hubs", "one")},
		{"stateDir is cleaned", "/srv/dhub/../dhub/hub1/", "", "/srv/dhub/hub1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", c.xdg)
			st, err := StateFor(hub(c.stateDir), Machine{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Dir != c.want {
				t.Errorf("StateFor = %s, want %s", st.Dir, c.want)
			}
		})
	}

	// Never a path that depends on where dhub runs, the root directory or
	// a home directory: dhub writes there and stops what runs from there.
	for _, c := range []struct{ stateDir, want string }{
		{"rel/state", "is relative"},
		{"./state", "is relative"},
		{"~", "is your home directory"},
		{"~/", "is your home directory"},
		{home + "/", "is your home directory"},
		{"/", "is the root directory"},
		{"/tmp/..", "is the root directory"},
		{"/root", "is a home directory"},
	} {
		if _, err := StateFor(hub(c.stateDir), Machine{}); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "local.stateDir: ") {
			t.Errorf("StateFor(%q) = %v, want an error on local.stateDir that says it %s", c.stateDir, err, c.want)
		}
	}

	t.Run("root", func(t *testing.T) {
		t.Setenv("XDG_STATE_HOME", "")
		if st, err := StateFor(hub(""), Machine{Root: true}); err != nil || st.Dir != "/var/lib/dhub/myhub" {
			t.Errorf("root's default: %s, %v; want /var/lib/dhub/myhub", st.Dir, err)
		}
		t.Setenv("XDG_STATE_HOME", "/xdg/state")
		if st, err := StateFor(hub(""), Machine{Root: true}); err != nil || st.Dir != "/xdg/state/dhub/myhub" {
			t.Errorf("root with XDG_STATE_HOME: %s, %v", st.Dir, err)
		}
	})

	t.Run("no home", func(t *testing.T) {
		t.Setenv("HOME", "")
		if _, err := StateFor(hub(""), Machine{}); err == nil || !strings.Contains(err.Error(), "local.stateDir") {
			t.Errorf("err = %v, want one naming local.stateDir", err)
		}
		st, err := StateFor(hub("/explicit"), Machine{})
		if err != nil || st.Dir != "/explicit" {
			t.Errorf("an explicit stateDir without a home: %v, %v", st.Dir, err)
		}
	})
}

func TestStatePaths(t *testing.T) {
	st := State{Dir: "/s"}
	for got, want := range map[string]string{
		st.Venv():                   "/s/venv",
		st.Python():                 "/s/venv/bin/python",
		st.Bin("jupyterhub"):        "/s/venv/bin/jupyterhub",
		st.Secret(SecretProxyToken): "/s/secrets/proxy-token",
		st.Log("jupyterhub"):        "/s/logs/jupyterhub.log",
		st.PidFile("dask-gateway"):  "/s/run/dask-gateway.pid",
		st.ConfigFile("a.py"):       "/s/config/a.py",
		st.Clusters():               "/s/dask-clusters",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestPrepare(t *testing.T) {
	st := State{Dir: filepath.Join(t.TempDir(), "a", "state")}
	if err := st.prepare("myhub"); err != nil {
		t.Fatal(err)
	}
	if !idRE.MatchString(st.ID) {
		t.Errorf("id %q", st.ID)
	}
	var rec stateRecord
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(st.Dir, stateRecordFile))), &rec); err != nil || rec.ID != st.ID || rec.Hub != "myhub" || rec.Created.IsZero() {
		t.Errorf("record %+v (%v), want hub myhub and id %s", rec, err, st.ID)
	}
	for _, d := range []string{st.Dir, st.ConfigDir(), st.Logs(), st.Run(), st.Clusters(), st.Secrets()} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	// A secrets directory left readable by others is tightened.
	if err := os.Chmod(st.Secrets(), 0o755); err != nil {
		t.Fatal(err)
	}
	again := State{Dir: st.Dir}
	if err := again.prepare("myhub"); err != nil {
		t.Errorf("prepare again: %v", err)
	}
	if again.ID != st.ID {
		t.Errorf("prepare again changed the id from %s to %s", st.ID, again.ID)
	}
	fi, err := os.Stat(st.Secrets())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("secrets directory mode %o, want 700", perm)
	}
}

func TestOpenState(t *testing.T) {
	base := t.TempDir()
	dir := func(name string) string { return filepath.Join(base, name) }

	// New and empty directories may become dhub's; opening writes nothing.
	for _, name := range []string{"new", "empty"} {
		if name == "empty" {
			os.Mkdir(dir(name), 0o755)
		}
		st := State{Dir: dir(name)}
		exists, err := st.open()
		if err != nil || exists || st.ID != "" {
			t.Errorf("%s: open = %v, %v, id %q", name, exists, err, st.ID)
		}
		if err := st.prepare("h"); err != nil || st.ID == "" {
			t.Errorf("%s: prepare = %v, id %q", name, err, st.ID)
		}
		reopened := State{Dir: dir(name)}
		if exists, err := reopened.open(); err != nil || !exists || reopened.ID != st.ID {
			t.Errorf("%s: reopened = %v, %v, id %q, want %q", name, exists, err, reopened.ID, st.ID)
		}
	}
	if _, err := os.Stat(dir("new")); err != nil {
		t.Error("prepare did not create the directory")
	}

	// A directory with anything in it but no record is not dhub's.
	os.MkdirAll(filepath.Join(dir("foreign"), "venv"), 0o755)
	os.MkdirAll(dir("hidden"), 0o755)
	os.WriteFile(filepath.Join(dir("hidden"), ".profile"), nil, 0o644)
	for _, name := range []string{"foreign", "hidden"} {
		st := State{Dir: dir(name)}
		if _, err := st.open(); err == nil || !strings.Contains(err.Error(), "was not made by dhub") {
			t.Errorf("%s: open = %v", name, err)
		}
		if err := st.prepare("h"); err == nil {
			t.Errorf("%s: prepare took a directory that is not dhub's", name)
		}
		if _, err := os.Stat(filepath.Join(dir(name), stateRecordFile)); !os.IsNotExist(err) {
			t.Errorf("%s: a record was written", name)
		}
	}

	// A damaged record: dhub can no longer tell its processes, and says so.
	for name, damage := range map[string]func(string){
		"not json":     func(p string) { os.WriteFile(p, []byte("{"), 0o600) },
		"no id":        func(p string) { os.WriteFile(p, []byte(`{"hub":"h"}`), 0o600) },
		"a bad id":     func(p string) { os.WriteFile(p, []byte(`{"id":"../x"}`), 0o600) },
		"a directory":  func(p string) { os.Mkdir(p, 0o700) },
		"too large":    func(p string) { os.WriteFile(p, make([]byte, 1<<20), 0o600) },
		"a named pipe": func(p string) { syscall.Mkfifo(p, 0o600) },
	} {
		d := dir("damaged-" + strings.ReplaceAll(name, " ", "-"))
		os.MkdirAll(d, 0o755)
		damage(filepath.Join(d, stateRecordFile))
		st := State{Dir: d}
		if _, err := st.open(); err == nil || st.ID != "" {
			t.Errorf("record %s: open = %v, id %q", name, err, st.ID)
		}
	}
}

func preparedState(t *testing.T) State {
	t.Helper()
	st := State{Dir: filepath.Join(t.TempDir(), "state")}
	if err := st.prepare("test"); err != nil {
		t.Fatal(err)
	}
	return st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEnsureSecretsGenerates(t *testing.T) {
	st := preparedState(t)
	h := testHub(t)
	generated, err := ensureSecrets(st, h)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{SecretAdminPassword, SecretCookie, SecretDhubToken, SecretGatewayDBKey, SecretGatewayToken, SecretProxyToken}
	slices.Sort(generated)
	slices.Sort(want)
	if !slices.Equal(generated, want) {
		t.Fatalf("generated %v, want %v", generated, want)
	}
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	values := map[string]string{}
	seen := map[string]string{}
	for _, name := range want {
		path := st.Secret(name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %o, want 600", name, perm)
		}
		raw := readFile(t, path)
		v := strings.TrimSuffix(raw, "\n")
		if raw != v+"\n" || strings.ContainsAny(v, "\n\r ") {
			t.Errorf("%s: %q is not one line", name, raw)
		}
		if name == SecretGatewayDBKey {
			key, err := base64.URLEncoding.DecodeString(v)
			if err != nil || len(key) != 32 {
				t.Errorf("%s: %q is not urlsafe base64 of 32 bytes (%d bytes, %v)", name, v, len(key), err)
			}
		} else if !hexRE.MatchString(v) {
			t.Errorf("%s: %q is not 64 hex characters", name, v)
		}
		if other, dup := seen[v]; dup {
			t.Errorf("%s and %s have the same value", name, other)
		}
		seen[v] = name
		values[name] = v
		if got, err := st.readSecret(name); err != nil || got != v {
			t.Errorf("readSecret(%s) = %q, %v", name, got, err)
		}
	}
	if _, err := os.Stat(st.Secret(SecretUserPassword)); !os.IsNotExist(err) {
		t.Errorf("a user password was written without being configured: %v", err)
	}

	// A second run keeps every secret.
	again, err := ensureSecrets(st, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("second run generated %v, want nothing", again)
	}
	for name, v := range values {
		if got := strings.TrimSuffix(readFile(t, st.Secret(name)), "\n"); got != v {
			t.Errorf("%s changed on the second run", name)
		}
	}

	// A lost secret is regenerated alone, with a new value.
	if err := os.Remove(st.Secret(SecretCookie)); err != nil {
		t.Fatal(err)
	}
	again, err = ensureSecrets(st, h)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, []string{SecretCookie}) {
		t.Errorf("after removing %s, generated %v", SecretCookie, again)
	}
	if v, _ := st.readSecret(SecretCookie); v == values[SecretCookie] || !hexRE.MatchString(v) {
		t.Errorf("regenerated cookie secret %q", v)
	}
	entries, _ := os.ReadDir(st.Secrets())
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestEnsureSecretsWritesReferencedPasswords(t *testing.T) {
	st := preparedState(t)
	h := testHub(t)
	userFile := filepath.Join(t.TempDir(), "user-password")
	if err := os.WriteFile(userFile, []byte("user-secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adminPW := strings.Repeat("a", 40)
	t.Setenv("DHUB_TEST_ADMIN_PASSWORD", adminPW)
	h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{FromEnv: "DHUB_TEST_ADMIN_PASSWORD"}
	h.JupyterHub.Auth.Password.UserPassword = config.SecretRef{FromFile: userFile}

	generated, err := ensureSecrets(st, h)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(generated, SecretAdminPassword) || slices.Contains(generated, SecretUserPassword) {
		t.Errorf("generated %v: a referenced password counts as generated", generated)
	}
	for name, want := range map[string]string{SecretAdminPassword: adminPW, SecretUserPassword: "user-secret-1"} {
		if got := readFile(t, st.Secret(name)); got != want+"\n" {
			t.Errorf("%s = %q, want %q", name, got, want+"\n")
		}
		if fi, _ := os.Stat(st.Secret(name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", name, fi.Mode().Perm())
		}
	}

	// A changed reference is written again.
	t.Setenv("DHUB_TEST_ADMIN_PASSWORD", strings.Repeat("b", 40))
	if _, err := ensureSecrets(st, h); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.readSecret(SecretAdminPassword); got != strings.Repeat("b", 40) {
		t.Errorf("admin password after the variable changed = %q", got)
	}

	// A user password no longer configured is removed.
	h.JupyterHub.Auth.Password.UserPassword = config.SecretRef{}
	if _, err := ensureSecrets(st, h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(st.Secret(SecretUserPassword)); !os.IsNotExist(err) {
		t.Errorf("the unconfigured user password is still there: %v", err)
	}
}

func TestEnsureSecretsUnresolvableReference(t *testing.T) {
	t.Setenv("DHUB_TEST_UNSET_PASSWORD", "")
	os.Unsetenv("DHUB_TEST_UNSET_PASSWORD")
	missing := filepath.Join(t.TempDir(), "no-such-file")
	for _, c := range []struct {
		name         string
		admin, user  config.SecretRef
		wantMentions string
	}{
		{"admin from an unset variable", config.SecretRef{FromEnv: "DHUB_TEST_UNSET_PASSWORD"}, config.SecretRef{}, "hub.auth.password.adminPassword.fromEnv: the environment variable it names is not set"},
		{"user from a missing file", config.SecretRef{}, config.SecretRef{FromFile: missing}, "hub.auth.password.userPassword.fromFile: cannot open the file: no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := preparedState(t)
			h := testHub(t)
			h.JupyterHub.Auth.Password.AdminPassword = c.admin
			h.JupyterHub.Auth.Password.UserPassword = c.user
			_, err := ensureSecrets(st, h)
			if err == nil {
				t.Fatal("an unresolvable reference was accepted")
			}
			if !strings.Contains(err.Error(), "hub.auth.password") || !strings.Contains(err.Error(), c.wantMentions) {
				t.Errorf("err = %q, want it to name hub.auth.password and %s", err, c.wantMentions)
			}
			// The reference may be a pasted secret: never repeated.
			if ref := c.admin.FromEnv + c.user.FromFile; strings.Contains(err.Error(), ref) {
				t.Errorf("err = %q repeats the reference", err)
			}
		})
	}
}

// A generated admin password that is damaged is the state directory's
// fault, not a field of dhub.yaml; a file that is not a regular file is
// never read.
func TestDamagedGeneratedPassword(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"truncated": func(p string) error { return os.WriteFile(p, []byte("3f2a\n"), 0o600) },
		"empty":     func(p string) error { return os.WriteFile(p, nil, 0o600) },
		"directory": func(p string) error { os.Remove(p); return os.Mkdir(p, 0o700) },
		"device":    func(p string) error { os.Remove(p); return os.Symlink("/dev/zero", p) },
	} {
		t.Run(name, func(t *testing.T) {
			st := preparedState(t)
			h := testHub(t)
			h.JupyterHub.Auth.Password.AdminPassword = config.SecretRef{}
			if _, err := ensureSecrets(st, h); err != nil {
				t.Fatal(err)
			}
			if err := damage(st.Secret(SecretAdminPassword)); err != nil {
				t.Fatal(err)
			}
			_, err := ensureSecrets(st, h)
			if err == nil || !strings.Contains(err.Error(), st.Secret(SecretAdminPassword)) || strings.Contains(err.Error(), "hub.auth") {
				t.Errorf("err = %v, want one naming the state file, not a field of dhub.yaml", err)
			}
		})
	}
}

func TestReadSecretMissing(t *testing.T) {
	st := preparedState(t)
	_, err := st.readSecret(SecretDhubToken)
	if err == nil || !strings.Contains(err.Error(), SecretDhubToken) || !strings.Contains(err.Error(), "dhub up") {
		t.Errorf("err = %v, want one naming the secret and 'dhub up'", err)
	}
}

func TestLock(t *testing.T) {
	st := preparedState(t)
	unlock, err := st.lock()
	if err != nil {
		t.Fatal(err)
	}
	if u2, err := st.lock(); err == nil {
		u2()
		t.Fatal("a second lock was granted while the first is held")
	} else if !strings.Contains(err.Error(), "another dhub command is working on "+st.Dir) {
		t.Errorf("err = %q, want it to say another dhub command works on %s", err, st.Dir)
	}
	unlock()
	u3, err := st.lock()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	u3()

	if _, err := (State{Dir: filepath.Join(t.TempDir(), "missing")}).lock(); err == nil {
		t.Error("locking a missing state directory succeeded")
	}
}

func TestOtherHubsAreTheRunningOnesBesideThisOne(t *testing.T) {
	base := t.TempDir()
	t.Setenv("XDG_STATE_HOME", base)
	this := &State{Dir: filepath.Join(base, "dhub", "this")}
	running := &State{Dir: filepath.Join(base, "dhub", "other")}
	stopped := &State{Dir: filepath.Join(base, "dhub", "stopped")}
	// A hub whose pid file names a process without its marker.
	unmarked := &State{Dir: filepath.Join(base, "dhub", "unmarked")}
	for _, st := range []*State{this, running, stopped, unmarked} {
		if err := st.prepare("test"); err != nil {
			t.Fatal(err)
		}
	}
	p := startOwn(t, *running, procHub, running.Dir, "sleep", "60")
	if err := writePidFile(running.PidFile(procHub), p); err != nil {
		t.Fatal(err)
	}
	if err := writePidFile(stopped.PidFile(procHub), proc{Pid: 1 << 22, Start: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := writePidFile(unmarked.PidFile(procHub), startProc(t, procHub, unmarked.Dir, "sleep", "60")); err != nil {
		t.Fatal(err)
	}
	got := otherHubs(*this)
	want := fmt.Sprintf("other (pid %d, state %s)", p.Pid, running.Dir)
	if len(got) != 1 || got[0] != want {
		t.Errorf("otherHubs = %q, want [%q]", got, want)
	}
	if got := otherHubs(*running); len(got) != 0 {
		t.Errorf("otherHubs of the running hub = %q; the stopped one does not run", got)
	}
}
