//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeUpCommand is the README's first command: dhub's main job on its
// embedded default. The test reads it from the README and fails if the
// README says something else, so what it runs is what a person reads.
const readmeUpCommand = "./scripts/dhub up --target local"

// defaultURL is where the default hub listens.
const defaultURL = "http://127.0.0.1:8000"

// checkout is a fresh copy of this checkout (every file git tracks or
// would add, nothing it ignores: no bin/, no state), run as an account.
type checkout struct {
	t   *testing.T
	dir string
	env []string
	// cred is the account the commands run as; nil is this process's.
	cred *syscall.Credential
}

// freshCheckout copies the checkout into dir, owned by uid:gid.
func freshCheckout(t *testing.T, dir string, uid, gid int) *checkout {
	t.Helper()
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("find the checkout: %v", err)
	}
	files, err := exec.Command("git", "-C", strings.TrimSpace(string(root)), "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		src := filepath.Join(strings.TrimSpace(string(root)), f)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	return &checkout{t: t, dir: dir, env: os.Environ()}
}

// sh runs a command line in the checkout, as a person types it, and
// returns its exit code, stdout and stderr.
func (c *checkout) sh(line string) (int, string, string) {
	c.t.Helper()
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir, cmd.Env = c.dir, c.env
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	start := time.Now()
	code, out, errb := runCommand(c.t, cmd)
	c.t.Logf("%s: %.1fs", line, time.Since(start).Seconds())
	return code, out, errb
}

// must runs a command line and fails the test unless it exits 0; it
// returns stdout.
func (c *checkout) must(line string) string {
	c.t.Helper()
	out, _ := c.mustWithProgress(line)
	return out
}

// mustWithProgress is must, returning stderr (progress) too.
func (c *checkout) mustWithProgress(line string) (string, string) {
	c.t.Helper()
	code, out, errb := c.sh(line)
	if code != 0 {
		c.t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", line, code, out, errb)
	}
	return out, errb
}

// checkedUsersCanRun fails unless up's progress says, as root, that it
// checked users' accounts can run their servers.
func checkedUsersCanRun(t *testing.T, progress string) {
	t.Helper()
	m := regexp.MustCompile(`users' accounts can run their servers \(checked as nobody in [0-9.]+s\)`).FindString(progress)
	if m == "" {
		t.Errorf("up, as root, does not say it checked that users' accounts can run their servers:\n%s", progress)
	}
	t.Log(m)
}

// setenv sets a variable of the commands' environment.
func (c *checkout) setenv(name, value string) {
	c.env = slices.DeleteFunc(c.env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	if value != "" {
		c.env = append(c.env, name+"="+value)
	}
}

// userPath walks the user's path on a hub that 'up' just reported: smoke
// passes with all its phases, and the admin, with the password in the file
// up named, signs in through the form and gets JupyterLab.
func (c *checkout) userPath(up string) {
	t := c.t
	t.Helper()
	if !strings.Contains(up, "DaskHub is up at "+defaultURL+"/") {
		t.Fatalf("up does not say the hub is up at %s:\n%s", defaultURL, up)
	}
	m := regexp.MustCompile(`log in as: (\S+), password in (\S+)`).FindStringSubmatch(up)
	if m == nil {
		t.Fatalf("up does not say how to log in:\n%s", up)
	}
	out := c.must("./scripts/dhub smoke -o json")
	var sm struct {
		OK     bool `json:"ok"`
		Phases []struct {
			Name    string  `json:"name"`
			Seconds float64 `json:"seconds"`
		} `json:"phases"`
	}
	if err := json.Unmarshal([]byte(out), &sm); err != nil || !sm.OK {
		t.Fatalf("smoke -o json: %v\n%s", err, out)
	}
	var phases []string
	for _, p := range sm.Phases {
		phases = append(phases, p.Name)
		t.Logf("smoke phase %s: %.2fs", p.Name, p.Seconds)
	}
	if got := strings.Join(phases, ","); got != "login,spawn,kernel start,cluster start,workers ready,compute,dashboard,shutdown" {
		t.Errorf("smoke phases = %s", got)
	}
	password, err := os.ReadFile(m[2])
	if err != nil {
		t.Fatalf("the password file up named: %v", err)
	}
	openLab(t, defaultURL, m[1], strings.TrimSpace(string(password)))
}

// openLab signs in on the hub's login form as a person does, then follows
// the hub to the user's server until JupyterLab's page loads.
func openLab(t *testing.T, base, name, password string) {
	t.Helper()
	c, ok := signIn(t, base, name, password)
	if !ok {
		t.Fatalf("%s cannot sign in with the password up named", name)
	}
	resp, err := c.Get(base + "/hub/spawn")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := c.Get(base + "/user/" + name + "/lab")
		if err == nil {
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(page, []byte("<title>JupyterLab</title>")) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s signed in, but %s/user/%s/lab answers %s after 2 minutes:\n%s", name, base, name, resp.Status, lastLines(string(page), 20))
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("%s/user/%s/lab: %v", base, name, err)
		}
		time.Sleep(time.Second)
	}
}

// signIn posts the hub's login form with a cookie jar, following the
// hub's redirects as a browser does; ok is whether the hub let the user in
// (a refusal shows the form again).
func signIn(t *testing.T, base, name, password string) (*http.Client, bool) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/hub/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_xsrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no _xsrf field on the login page:\n%s", page)
	}
	resp, err = c.PostForm(base+"/hub/login", url.Values{"username": {name}, "password": {password}, "_xsrf": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CheckRedirect = nil
	return c, resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther
}

// needsDefaults fails, naming what is in the way, unless the default hub's
// port is free and the directories the README's command would make do not
// exist: the test runs the command as written on a machine where nothing
// of dhub's exists yet, and it must touch nothing it did not make.
func needsDefaults(t *testing.T, absent ...string) {
	t.Helper()
	if listening(8000) {
		t.Fatalf("127.0.0.1:8000 is in use: this test runs the README's first command as written, whose hub listens there; stop what listens there ('./scripts/dhub down' if it is a hub of yours)")
	}
	for _, d := range absent {
		if _, err := os.Lstat(d); err == nil {
			t.Fatalf("%s exists: this test runs the README's first command on a machine where dhub has made nothing yet, and removes what it makes; move %s aside ('./scripts/dhub down' first if a hub runs from it)", d, d)
		}
	}
}

// TestReadmeFirstCommand runs the README's first command as written, in a
// fresh copy of the checkout, with no state of dhub's on the machine: as
// root (users get accounts of their own), as root with an XDG_STATE_HOME
// that does not exist yet (a local.stateDir's missing parents are made the
// same way: internal/local's tests), and as an ordinary account made for
// the test (the hub is single-user). Each time the hub
// must serve a person: smoke passes, the admin signs in and gets
// JupyterLab; then down stops it.
func TestReadmeFirstCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile("(?s)## The two commands.*?```sh\n([^\n]+)\n```").FindSubmatch(readme); m == nil || string(m[1]) != readmeUpCommand {
		t.Fatalf("the README's first command is not %q (found %q): update this test with the README", readmeUpCommand, m)
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the README's command as root and as an account it makes: run the end-to-end tier as root, as CI does")
	}
	accounts := hubAccounts()
	t.Cleanup(func() { removeAccountsSince(t, accounts) })

	t.Run("root", func(t *testing.T) {
		needsDefaults(t, "/var/lib/dhub")
		c := freshCheckout(t, t.TempDir(), 0, 0)
		c.setenv("XDG_STATE_HOME", "")
		t.Cleanup(func() { c.sh("./scripts/dhub down --yes"); os.RemoveAll("/var/lib/dhub") })
		up, progress := c.mustWithProgress(readmeUpCommand)
		checkedUsersCanRun(t, progress)
		if m := mode(t, "/var/lib/dhub"); m&0o001 == 0 {
			t.Errorf("/var/lib/dhub is %04o: users' accounts cannot cross it", m)
		}
		c.userPath(up)
		c.must("./scripts/dhub down --yes")
		if listening(8000) {
			t.Error("the hub still listens after down")
		}
	})

	t.Run("root with XDG_STATE_HOME not there yet", func(t *testing.T) {
		needsDefaults(t)
		c := freshCheckout(t, t.TempDir(), 0, 0)
		xdg := filepath.Join(crossableTempDir(t), "not", "there", "yet")
		c.setenv("XDG_STATE_HOME", xdg)
		t.Cleanup(func() { c.sh("./scripts/dhub down --yes") })
		up, progress := c.mustWithProgress(readmeUpCommand)
		checkedUsersCanRun(t, progress)
		c.userPath(up)
		c.must("./scripts/dhub down --yes")
	})

	t.Run("an ordinary account", func(t *testing.T) {
		needsDefaults(t)
		u := ordinaryAccount(t)
		c := freshCheckout(t, filepath.Join(u.HomeDir, "dhub"), u.uid, u.gid)
		c.cred = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}
		c.env = u.env(goBin(t))
		t.Cleanup(func() { c.sh("./scripts/dhub down --yes") })
		up, progress := c.mustWithProgress(readmeUpCommand)
		if strings.Contains(progress, "checked as nobody") {
			t.Errorf("up checked users' accounts on a single-user hub:\n%s", progress)
		}
		if !strings.Contains(up, "single-user: only admin logs in") {
			t.Errorf("up does not say the hub is single-user:\n%s", up)
		}
		c.userPath(up)
		c.must("./scripts/dhub down --yes")
	})
}

// crossableTempDir is a new temporary directory that other accounts may
// cross, as root's users' accounts must cross the state directory's
// parents (the testing package makes its directories 0700).
func crossableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mode is path's permission bits.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// goBin is the go command that runs these tests: the ordinary account
// builds dhub with it, as a person would with Go on their PATH.
func goBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// account is an ordinary account the test made.
type account struct {
	*user.User
	uid, gid int
}

// env is the machine's environment as the account has it: this one's
// without what names root's home or its account, Go on the PATH, and Go's
// caches in a directory that outlives the account (see ordinaryAccount).
func (a account) env(goBin string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case strings.Contains(value, "/root"), strings.HasPrefix(name, "XDG_"),
			slices.Contains([]string{"HOME", "USER", "LOGNAME", "PATH", "GOPATH", "GOCACHE", "GOMODCACHE", "GOFLAGS"}, name):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+a.HomeDir, "USER="+a.Username, "LOGNAME="+a.Username,
		"PATH="+filepath.Dir(goBin)+":/usr/local/bin:/usr/bin:/bin",
		"GOCACHE="+filepath.Join(ordinaryGoCache, "build"), "GOMODCACHE="+filepath.Join(ordinaryGoCache, "mod"),
		"GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -modcacherw"))
}

// ordinaryAccountName and ordinaryUID are the account the test makes; a
// fixed uid keeps its Go caches (ordinaryGoCache) its own from one run to
// the next, so only the first run on a machine builds dhub from nothing.
const (
	ordinaryAccountName = "dhubreadme"
	ordinaryUID         = 61944
	ordinaryGoCache     = "/var/cache/dhub-e2e/ordinary-account-go"
)

// ordinaryAccount makes an ordinary account with a home of its own, and
// removes it (with its home) when the test ends.
func ordinaryAccount(t *testing.T) account {
	t.Helper()
	if u, err := user.LookupId(strconv.Itoa(ordinaryUID)); err == nil {
		t.Fatalf("uid %d is taken by %s: this test makes an account with that uid; remove it (userdel --remove %s) if an earlier run left it", ordinaryUID, u.Username, u.Username)
	}
	out, err := exec.Command("useradd", "--create-home", "--user-group", "--uid", strconv.Itoa(ordinaryUID), "--shell", "/bin/sh", ordinaryAccountName).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", ordinaryAccountName, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "--remove", ordinaryAccountName).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", ordinaryAccountName, err, out)
		}
	})
	u, err := user.Lookup(ordinaryAccountName)
	if err != nil {
		t.Fatal(err)
	}
	a := account{User: u}
	a.uid, _ = strconv.Atoi(u.Uid)
	a.gid, _ = strconv.Atoi(u.Gid)
	if err := os.MkdirAll(ordinaryGoCache, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", u.Uid+":"+u.Gid, ordinaryGoCache).CombinedOutput(); err != nil {
		t.Fatalf("chown %s: %v\n%s", ordinaryGoCache, err, out)
	}
	return a
}

// removeAccountsSince removes the accounts a hub made for its users that
// were not there before: down keeps them, with their files, but these are
// the test's.
func removeAccountsSince(t *testing.T, before []string) {
	for _, a := range hubAccounts() {
		if !slices.Contains(before, a) {
			if out, err := exec.Command("userdel", "--remove", a).CombinedOutput(); err != nil {
				t.Errorf("userdel %s: %v\n%s", a, err, out)
			}
		}
	}
}
