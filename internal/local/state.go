// Package local runs a DaskHub as processes on this machine: a managed
// Python environment, JupyterHub (with its proxy) and Dask Gateway, each
// supervised through pid files and logs in the hub's state directory.
package local

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"dhub/internal/config"
)

// State is the layout of one hub's state directory, and the id that marks
// the hub's processes.
type State struct {
	Dir string
	// ID is the random id of the directory's record (empty while the
	// directory is new or empty). Every process of the hub carries it in
	// its environment as DHUB_HUB_ID: that, not a path, is how dhub tells
	// its processes from others'.
	ID string
}

// markerEnv is the environment variable that marks the hub's processes.
// dhub sets it for the hub and the gateway; the hub passes it on to its
// proxy, services and users' servers, the gateway to Dask schedulers and
// workers (the rendered configuration says so), and every program they
// start inherits it.
const markerEnv = "DHUB_HUB_ID"

// stateRecordFile records that dhub made the directory (or took it empty)
// and the id of its processes.
const stateRecordFile = "dhub-state.json"

type stateRecord struct {
	Hub     string    `json:"hub"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// StateFor returns the state directory of a hub: local.stateDir, else
// $XDG_STATE_HOME/dhub/<name>, else ~/.local/state/dhub/<name>. It refuses
// a relative path, the root directory and home directories: dhub writes in
// its state directory and stops what runs from it. It reads nothing in the
// directory; open does.
func StateFor(h *config.Hub) (State, error) {
	if d := config.ExpandHome(h.Local.StateDir); d != "" {
		if err := config.CheckStateDir(d); err != nil {
			return State{}, fmt.Errorf("local.stateDir: %w", err)
		}
		d = filepath.Clean(d)
		if isHomeDir(d) {
			return State{}, fmt.Errorf("local.stateDir: %s is a home directory: use a directory of its own, such as %s", d, filepath.Join(d, ".local", "state", "dhub", h.Name))
		}
		return State{Dir: d}, nil
	}
	base, err := defaultStateBase()
	if err != nil {
		return State{}, fmt.Errorf("local.stateDir: no home directory to default to (%w); set local.stateDir", err)
	}
	return State{Dir: filepath.Join(base, h.Name)}, nil
}

// isHomeDir reports whether dir is the home directory of the user running
// dhub or of any account in /etc/passwd.
func isHomeDir(dir string) bool {
	if home, err := os.UserHomeDir(); err == nil && filepath.Clean(home) == dir {
		return true
	}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 16<<20))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[5] != "" && fields[5] != "/" && filepath.Clean(fields[5]) == dir {
			return true
		}
	}
	return false
}

// open reads the directory's record into st.ID. A directory that does
// not exist or is empty is not an error: dhub may make it its own (exists
// is false). A directory that holds anything but no record of dhub's is
// not dhub's, and neither up nor down touches anything in it.
func (st *State) open() (exists bool, err error) {
	b, err := readBounded(filepath.Join(st.Dir, stateRecordFile), 4096)
	if err == nil {
		var r stateRecord
		if err := json.Unmarshal(b, &r); err != nil || !idRE.MatchString(r.ID) {
			return true, fmt.Errorf("%s is damaged, so dhub cannot tell this hub's processes from others'; stop them yourself (they carry %s in their environment), then move %s aside and run dhub again", filepath.Join(st.Dir, stateRecordFile), markerEnv, st.Dir)
		}
		st.ID = r.ID
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return true, fmt.Errorf("state directory %s: %w", st.Dir, err)
	}
	entries, err := os.ReadDir(st.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return true, fmt.Errorf("local.stateDir: %w", err)
	case len(entries) > 0:
		return true, fmt.Errorf("local.stateDir: %s holds files but was not made by dhub (it has no %s): dhub writes nothing there and stops nothing that runs from there; use a new or empty directory", st.Dir, stateRecordFile)
	}
	return false, nil
}

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// openState is StateFor followed by open.
func openState(h *config.Hub) (State, bool, error) {
	st, err := StateFor(h)
	if err != nil {
		return st, false, err
	}
	exists, err := st.open()
	return st, exists, err
}

// defaultStateBase holds the state directories of hubs that set no
// local.stateDir: $XDG_STATE_HOME/dhub, else /var/lib/dhub for root (whose
// home users' accounts cannot cross to the environment), else
// ~/.local/state/dhub.
func defaultStateBase() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" && isolatesUsers() {
		return "/var/lib/dhub", nil
	}
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "dhub"), nil
}

// otherHubs lists the local hubs other than st's that run from the default
// state directories, as "name (pid N, state DIR)": a dhub.yaml that names
// another hub than the one running must not pass in silence.
func otherHubs(st State) []string {
	base, err := defaultStateBase()
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir(base)
	var out []string
	for _, e := range entries {
		other := State{Dir: filepath.Join(base, e.Name())}
		if !e.IsDir() || other.Dir == st.Dir {
			continue
		}
		if _, err := other.open(); err != nil || other.ID == "" {
			continue
		}
		if p, err := readPidFile(procHub, other.PidFile(procHub)); err == nil && p.alive() && p.carries(other.ID) {
			out = append(out, fmt.Sprintf("%s (pid %d, state %s)", e.Name(), p.Pid, other.Dir))
		}
	}
	return out
}

// Venv is the Python environment.
func (s State) Venv() string { return filepath.Join(s.Dir, "venv") }

// Secrets is the owner-only directory of tokens and passwords.
func (s State) Secrets() string { return filepath.Join(s.Dir, "secrets") }

// ConfigDir holds the rendered configuration files.
func (s State) ConfigDir() string { return filepath.Join(s.Dir, "config") }

// Logs holds one log per process.
func (s State) Logs() string { return filepath.Join(s.Dir, "logs") }

// Run holds pid files and the running hub's ports.
func (s State) Run() string { return filepath.Join(s.Dir, "run") }

// Clusters holds the working directories of Dask clusters.
func (s State) Clusters() string { return filepath.Join(s.Dir, "dask-clusters") }

// Log is the log file of a process.
func (s State) Log(name string) string { return filepath.Join(s.Logs(), name+".log") }

// PidFile is the pid file of a process.
func (s State) PidFile(name string) string { return filepath.Join(s.Run(), name+".pid") }

// Secret is the file of one secret.
func (s State) Secret(name string) string { return filepath.Join(s.Secrets(), name) }

// Python is the environment's interpreter.
func (s State) Python() string { return filepath.Join(s.Venv(), "bin", "python") }

// Bin is a program installed in the environment.
func (s State) Bin(name string) string { return filepath.Join(s.Venv(), "bin", name) }

// ConfigFile is one rendered configuration file.
func (s State) ConfigFile(name string) string { return filepath.Join(s.ConfigDir(), name) }

// Secret names in the secrets directory; the rendered config files read them.
const (
	SecretProxyToken    = "proxy-token"
	SecretGatewayToken  = "gateway-api-token"
	SecretDhubToken     = "dhub-api-token"
	SecretCookie        = "cookie-secret"
	SecretGatewayDBKey  = "gateway-db-key"
	SecretAdminPassword = "admin-password"
	SecretUserPassword  = "user-password"
)

// prepare creates the directories, and the record that makes the state
// directory dhub's (with a new id) when it has none; secrets are
// owner-only.
func (s *State) prepare(hub string) error {
	if _, err := s.open(); err != nil {
		return err
	}
	if s.ID == "" {
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return err
		}
		id, err := hexToken()
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(stateRecord{Hub: hub, ID: id[:32], Created: time.Now().UTC()}, "", "  ")
		// O_EXCL: of two dhub commands making the directory at once, one wins.
		f, err := os.OpenFile(filepath.Join(s.Dir, stateRecordFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		s.ID = id[:32]
	}
	modes := s.dirModes()
	for _, d := range s.privateDirs() {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		// The secrets directory above all: its files' modes alone do
		// not keep a secret's name or a new file from others.
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != modes[d] {
			if err := os.Chmod(d, modes[d]); err != nil {
				return err
			}
		}
	}
	return nil
}

// privateDirs are the directories dhub makes in the state directory, and
// the state directory itself.
func (s State) privateDirs() []string {
	return []string{s.Dir, s.Secrets(), s.ConfigDir(), s.Logs(), s.Run(), s.Clusters()}
}

// isolatesUsers reports whether each hub user's server runs as a system
// account of its own: when dhub, and so the hub, runs as root. Otherwise
// the hub is single-user (the rendered configuration lets only the admin
// in). A variable, so tests see both cases whoever runs them.
var isolatesUsers = func() bool { return os.Geteuid() == 0 }

// checkReachable fails when users' accounts could not reach the state
// directory: they run the environment's programs from it, so every
// directory above it must let others through (o+x).
func (s State) checkReachable() error {
	if !isolatesUsers() {
		return nil
	}
	if d, mode := closedAncestor(filepath.Dir(s.Dir)); d != "" {
		return fmt.Errorf("local.stateDir: %s: %s (mode %04o) lets no other account through, and as root each user's server runs as an account of its own that runs the environment's programs from the state directory; use a state directory whose parents others may cross (the default for root is /var/lib/dhub/<name>), or chmod o+x %s", s.Dir, d, mode, d)
	}
	return nil
}

// closedAncestor returns the first of dir and the directories above it
// that other accounts may not cross (no o+x), with its mode; "" if none.
func closedAncestor(dir string) (string, fs.FileMode) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && fi.Mode().Perm()&0o001 == 0 {
			return d, fi.Mode().Perm()
		}
		if d == filepath.Dir(d) {
			return "", 0
		}
	}
}

// systemPythons are the interpreters choosePython tries, as root, when
// python3 on PATH cannot be run by users' accounts.
var systemPythons = []string{"/usr/bin/python3", "/usr/local/bin/python3"}

// choosePython returns the interpreter to build the environment from:
// python, unless dhub runs as root and python is the plain "python3" of
// PATH that users' accounts cannot run (pyenv's under /root); then the
// first system Python that is new enough and that they can run, with a
// note saying so. An explicit path is never replaced.
func choosePython(ctx context.Context, python string) (chosen, note string, err error) {
	err = checkPythonReachable(ctx, python)
	if err == nil || python != "python3" {
		return python, "", err
	}
	for _, candidate := range systemPythons {
		if _, ferr := envFingerprint(ctx, candidate); ferr == nil && checkPythonReachable(ctx, candidate) == nil {
			return candidate, fmt.Sprintf("python3 on PATH lies where users' accounts cannot run it: the environment is built from %s (set local.python to choose another)", candidate), nil
		}
	}
	return python, "", err
}

// checkPythonReachable fails when, as root, the interpreter the
// environment is built from lies where users' accounts cannot reach it:
// the environment's python links to that interpreter and loads its
// standard library, so users' servers could not start (Python under
// /root, such as pyenv's, is the common case).
func checkPythonReachable(ctx context.Context, python string) error {
	if !isolatesUsers() {
		return nil
	}
	out, err := exec.CommandContext(ctx, python, "-c", "import os, sys; print(os.path.dirname(os.path.realpath(sys.executable))); print(sys.base_prefix)").Output()
	if err != nil {
		return nil // envFingerprint says what is wrong with it
	}
	for _, dir := range strings.Fields(string(out)) {
		if d, mode := closedAncestor(dir); d != "" {
			return fmt.Errorf("local.python: %s is installed in %s, which other accounts cannot reach (%s is %04o), and as root each user's server runs as an account of its own on that interpreter; set local.python to one they can run, such as /usr/bin/python3", python, dir, d, mode)
		}
	}
	return nil
}

// dirModes are the modes of privateDirs: owner-only, since they hold
// secrets, the hub's databases, its configuration and logs, and users'
// files; but when users have accounts of their own, those accounts cross
// the state directory to the environment's programs and to their Dask
// clusters' directories: 0711 lets them through without listing.
func (s State) dirModes() map[string]fs.FileMode {
	m := map[string]fs.FileMode{}
	for _, d := range s.privateDirs() {
		m[d] = 0o700
	}
	if isolatesUsers() {
		m[s.Dir], m[s.Clusters()] = 0o711, 0o711
	}
	return m
}

// modeFix is a file or directory of the state directory that other
// accounts may read or enter, and the owner-only mode Up gives it.
type modeFix struct {
	path      string
	have, fix fs.FileMode
}

// looseModes lists what other accounts may read in the state directory:
// the directories dhub makes, the databases and its own files (configs,
// logs, pid files, records). Secrets are planSecrets' part. Reads only.
func (s State) looseModes() []modeFix {
	var out []modeFix
	checkAgainst := func(path string, want fs.FileMode) {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return
		}
		if perm := fi.Mode().Perm(); perm&^want != 0 {
			out = append(out, modeFix{path: path, have: perm, fix: perm & want})
		}
	}
	check := func(path string) { checkAgainst(path, 0o700) }
	for d, want := range s.dirModes() {
		checkAgainst(d, want)
	}
	slices.SortFunc(out, func(a, b modeFix) int { return strings.Compare(a.path, b.path) })
	// Users' homes, where the servers of a hub that runs as one account
	// keep notebooks.
	check(filepath.Join(s.Dir, "home"))
	for _, pattern := range []string{"*.sqlite", "*.sqlite-journal", stateRecordFile, "lock", "jupyterhub-proxy.pid"} {
		files, _ := filepath.Glob(filepath.Join(s.Dir, pattern))
		for _, f := range files {
			check(f)
		}
	}
	for _, d := range []string{s.ConfigDir(), s.Logs(), s.Run()} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			check(filepath.Join(d, e.Name()))
		}
	}
	return out
}

// fixModes makes what looseModes found owner-only.
func fixModes(fixes []modeFix) error {
	for _, f := range fixes {
		if err := os.Chmod(f.path, f.fix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("make %s owner-only: %w", f.path, err)
		}
	}
	return nil
}

// readBounded reads a file of at most limit bytes, refusing anything but a
// regular file (a FIFO or a device never ends or never answers).
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// secretChange is one file of the secrets directory that Up writes or
// removes. Values never leave the process: the plan shows names and reasons.
type secretChange struct {
	name   string
	value  string
	remove bool
	// chmod repairs the file's mode (0600); its value stays.
	chmod bool
	// generated is true for a token dhub made now with crypto/rand.
	generated bool
	reason    string
}

// planSecrets decides what Up writes to the secrets directory: each missing
// token, generated now with crypto/rand; each referenced password whose
// value differs from the file; a user password no longer configured,
// removed. It also returns every secret as it will be after those writes,
// for the configuration digest. Nothing is written.
func (s State) planSecrets(h *config.Hub) (changes []secretChange, after map[string]string, err error) {
	gen := map[string]func() (string, error){
		SecretProxyToken:   hexToken,
		SecretGatewayToken: hexToken,
		SecretDhubToken:    hexToken,
		SecretCookie:       hexToken,
		// Dask Gateway wants a urlsafe base64 Fernet key.
		SecretGatewayDBKey: func() (string, error) {
			b := make([]byte, 32)
			_, err := rand.Read(b)
			return base64.URLEncoding.EncodeToString(b), err
		},
	}
	type reference struct {
		field string
		ref   config.SecretRef
	}
	refs := map[string]reference{}
	if p := h.JupyterHub.Auth.Password; p != nil {
		refs[SecretAdminPassword] = reference{"hub.auth.password.adminPassword", p.AdminPassword}
		refs[SecretUserPassword] = reference{"hub.auth.password.userPassword", p.UserPassword}
		if p.AdminPassword.IsZero() {
			// SharedPasswordAuthenticator wants at least 32 characters.
			gen[SecretAdminPassword] = hexToken
		}
	}
	after = map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		r := refs[name]
		have, readErr := s.readSecret(name)
		if r.ref.IsZero() {
			if _, generated := gen[name]; !generated && readErr == nil {
				changes = append(changes, secretChange{name: name, remove: true, reason: r.field + " is no longer set: remove it"})
			}
			continue
		}
		v, err := r.ref.Resolve()
		if err != nil {
			// The error starts with fromEnv or fromFile, under the field.
			return nil, nil, fmt.Errorf("%s.%w", r.field, err)
		}
		after[name] = v
		switch {
		case readErr != nil:
			changes = append(changes, secretChange{name: name, value: v, reason: "from " + r.field + " (" + r.ref.String() + ")"})
		case have != v:
			changes = append(changes, secretChange{name: name, value: v, reason: r.field + " (" + r.ref.String() + ") changed"})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(gen)) {
		reason := "does not exist: generate it (crypto/rand)"
		have, err := s.readSecret(name)
		switch {
		case err == nil && wholeSecret(name, have):
			after[name] = have
			continue
		case err == nil, name != SecretAdminPassword && isRegular(s.Secret(name)) && !errors.Is(err, fs.ErrNotExist):
			// An empty or cut token is what a write stopped half way
			// leaves; no person depends on a token's value. (A damaged
			// admin password is refused below: people log in with it.)
			reason = "is not a whole secret of its kind (a write was interrupted?): generate it again (crypto/rand)"
		case !errors.Is(err, fs.ErrNotExist):
			return nil, nil, err
		}
		v, err := gen[name]()
		if err != nil {
			return nil, nil, fmt.Errorf("generate %s: %w", name, err)
		}
		after[name] = v
		changes = append(changes, secretChange{name: name, value: v, generated: true, reason: reason})
	}
	// A secret kept as it is must still be owner-only: modes drift (a
	// restored backup, a chmod by hand).
	rewritten := map[string]bool{}
	for _, c := range changes {
		rewritten[c.name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if fi, err := os.Lstat(s.Secret(name)); err == nil && !rewritten[name] && fi.Mode().Perm()&0o077 != 0 {
			changes = append(changes, secretChange{name: name, chmod: true,
				reason: fmt.Sprintf("mode %04o lets other accounts read it: make it owner-only (0600)", fi.Mode().Perm())})
		}
	}
	if p := h.JupyterHub.Auth.Password; p != nil && p.AdminPassword.IsZero() && len(after[SecretAdminPassword]) < 32 {
		// No field of dhub.yaml holds this password: one too short for
		// JupyterHub is a damaged file of the state directory.
		return nil, nil, fmt.Errorf("%s holds %d characters, not a password dhub generated (a damaged file?): remove it and 'dhub up' generates a new one",
			s.Secret(SecretAdminPassword), len(after[SecretAdminPassword]))
	}
	return changes, after, nil
}

// wholeSecret reports whether a generated secret's file holds what dhub
// generates: 64 hex digits for tokens, a 32-byte key for the gateway's
// database (the admin password is checked apart).
func wholeSecret(name, v string) bool {
	switch name {
	case SecretGatewayDBKey:
		b, err := base64.URLEncoding.DecodeString(v)
		return err == nil && len(b) == 32
	case SecretAdminPassword:
		// A short one is refused below, not replaced: people may
		// already log in with it.
		return true
	default:
		return tokenRE.MatchString(v)
	}
}

var tokenRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// isRegular reports whether path is a regular file (not a link to one).
func isRegular(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode().IsRegular()
}

// writeSecrets makes the changes planSecrets decided, each file 0600 and
// replaced atomically. A temporary file left by a write that was
// interrupted is removed: half a secret is never kept.
func (s State) writeSecrets(changes []secretChange) error {
	leftovers, _ := filepath.Glob(filepath.Join(s.Secrets(), "*.tmp"))
	for _, f := range leftovers {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove the unfinished secret %s: %w", f, err)
		}
	}
	for _, c := range changes {
		if c.chmod {
			if err := os.Chmod(s.Secret(c.name), 0o600); err != nil {
				return fmt.Errorf("make secret %s owner-only: %w", c.name, err)
			}
			continue
		}
		if c.remove {
			if err := os.Remove(s.Secret(c.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove secret %s: %w", c.name, err)
			}
			continue
		}
		if err := writeSecret(s.Secret(c.name), c.value); err != nil {
			return err
		}
	}
	return nil
}

func hexToken() (string, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return hex.EncodeToString(b), err
}

// writeSecret writes a secret owner-only, replacing the file atomically.
func writeSecret(path, value string) error {
	if err := writeFileAtomic(path, []byte(value+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret %s: %w", filepath.Base(path), err)
	}
	return nil
}

// writeFileAtomic replaces path with data: written to path.tmp (made anew,
// so a leftover of another mode is not reused), synced, then renamed over
// path. An interrupted write leaves the old file or none, never half a
// file under path's name.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// readSecret reads a secret written by writeSecrets.
func (s State) readSecret(name string) (string, error) {
	// Bounded, and only a regular file: a damaged state directory must not
	// make dhub read /dev/zero or wait on a FIFO.
	v, err := config.ReadSecretFile(s.Secret(name))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("read secret %s: %w (run 'dhub up' first)", name, err)
	case err != nil:
		return "", fmt.Errorf("read secret %s: %w (damaged: remove it and run 'dhub up')", name, err)
	}
	return v, nil
}

// lock takes an exclusive lock on the state directory, so two dhub
// commands never start or stop the same hub at once.
func (s State) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another dhub command is working on %s; wait for it to finish", s.Dir)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
