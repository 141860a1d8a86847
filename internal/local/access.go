package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// privateDirs are the directories dhub makes in the state directory, and
// the state directory itself.
func (s State) privateDirs() []string {
	return []string{s.Dir, s.Secrets(), s.ConfigDir(), s.Logs(), s.Run(), s.Clusters(), s.Scratch()}
}

// wayIn is what Up does to the directories above the state directory, so
// that, as root, users' accounts reach the environment's programs in it.
type wayIn struct {
	// missing are the directories that do not exist yet, top first: prepare
	// makes them with parentMode.
	missing []string
	// open is dhub's own directory of state directories (the default
	// <base>/dhub) when it lets no other account through, as earlier
	// releases made it: Up opens it.
	open []modeFix
}

// planWayIn looks at every directory above the state directory, those that
// exist and those Up will make. As root each user's server runs as an
// account of its own that runs the environment's programs from the state
// directory, so each must let other accounts through (o+x): a directory
// dhub makes gets 0711, dhub's own directory of hubs is opened, and any
// other that is closed is an error naming it and the fix. Reads only.
func (s State) planWayIn() (wayIn, error) {
	var w wayIn
	for d := filepath.Dir(s.Dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			w.missing = append([]string{d}, w.missing...)
		} else {
			break
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if !s.usersOwnAccounts {
		return w, nil
	}
	if own := s.ownBase(); own != "" {
		if fi, err := os.Stat(own); err == nil && fi.Mode().Perm()&0o001 == 0 {
			have := fi.Mode().Perm()
			w.open = append(w.open, modeFix{path: own, have: have, fix: have | 0o011,
				reason: fmt.Sprintf("mode %04o lets users' accounts not through to the environment, so their servers cannot start: make it %04o", have, have|0o011)})
		}
	}
	for d := filepath.Dir(s.Dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && fi.Mode().Perm()&0o001 == 0 && (len(w.open) == 0 || d != w.open[0].path) {
			return w, fmt.Errorf("local.stateDir: %s: %s (mode %04o) lets no other account through, and as root each user's server runs as an account of its own that runs the environment's programs from the state directory; use a state directory whose parents others may cross (the default for root is /var/lib/dhub/<name>), or chmod o+x %s", s.Dir, d, fi.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return w, nil
		}
	}
}

// ownBase is dhub's own directory of state directories (the default
// $XDG_STATE_HOME/dhub or /var/lib/dhub) when it holds this one and this
// account owns it; "" otherwise. Up may change its mode: no one else
// keeps anything there.
func (s State) ownBase() string {
	base, err := defaultStateBase(s.usersOwnAccounts)
	if err != nil || filepath.Dir(s.Dir) != base {
		return ""
	}
	fi, err := os.Stat(base)
	if err != nil || !fi.IsDir() {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return ""
	}
	return base
}

// parentMode is the mode of the directories prepare makes above the state
// directory: as root, users' accounts cross them (0711: through, without
// listing); otherwise owner-only.
func (s State) parentMode() fs.FileMode {
	if s.usersOwnAccounts {
		return 0o711
	}
	return 0o700
}

// makeParents makes the directories above the state directory that
// planWayIn says are missing, each with parentMode whatever the umask. A
// directory someone else made meanwhile is left as it is.
func (s State) makeParents() error {
	w, _ := s.planWayIn()
	for _, d := range w.missing {
		if err := os.Mkdir(d, s.parentMode()); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := os.Chmod(d, s.parentMode()); err != nil {
			return err
		}
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

// dirModes are the modes of privateDirs: owner-only, since they hold
// secrets, the hub's databases, its configuration and logs, and users'
// files; but when users have accounts of their own, those accounts cross
// the state directory to the environment's programs, to their Dask
// clusters' directories and to their scratch directories: 0711 lets them
// through without listing.
func (s State) dirModes() map[string]fs.FileMode {
	m := map[string]fs.FileMode{}
	for _, d := range s.privateDirs() {
		m[d] = 0o700
	}
	if s.usersOwnAccounts {
		m[s.Dir], m[s.Clusters()], m[s.Scratch()] = 0o711, 0o711, 0o711
	}
	return m
}

// modeFix is a file or directory whose mode Up changes, and why: one of
// the state directory that other accounts may read or enter gets an
// owner-only mode; one users' accounts must cross gets o+x.
type modeFix struct {
	path      string
	have, fix fs.FileMode
	reason    string
}

// looseModes lists what other accounts may read in the state directory
// (the databases and dhub's own files: configs, logs, pid files, records),
// and the directories dhub makes there whose mode is not theirs (too
// open, or, as root, closed to users' accounts that must cross them).
// Secrets are planSecrets' part. Reads only.
func (s State) looseModes() []modeFix {
	var out []modeFix
	check := func(path string) {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return
		}
		if perm := fi.Mode().Perm(); perm&^0o700 != 0 {
			out = append(out, modeFix{path: path, have: perm, fix: perm & 0o700,
				reason: fmt.Sprintf("mode %04o lets other accounts in: make it %04o", perm, perm&0o700)})
		}
	}
	for d, want := range s.dirModes() {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() == want {
			continue
		}
		reason := fmt.Sprintf("mode %04o lets other accounts in: make it %04o", fi.Mode().Perm(), want)
		if want&^fi.Mode().Perm() != 0 {
			reason = fmt.Sprintf("mode %04o lets users' accounts not through to their programs and Dask clusters: make it %04o", fi.Mode().Perm(), want)
		}
		out = append(out, modeFix{path: d, have: fi.Mode().Perm(), fix: want, reason: reason})
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

// fixModes gives each file the mode the plan decided.
func fixModes(fixes []modeFix) error {
	for _, f := range fixes {
		if err := os.Chmod(f.path, f.fix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("chmod %04o %s: %w", f.fix, f.path, err)
		}
	}
	return nil
}

// checkUsersCanRun fails, as root, unless an account with no rights of its
// own can run the environment's jupyterhub-singleuser, as each user's
// server does: the hub would answer, yet every spawn would fail with
// "Permission denied". It runs the program as nobody, which stands for
// users' accounts before any exists (theirs own nothing of the hub's
// either), so what a spawn needs is proven without making an account.
func (s State) checkUsersCanRun(ctx context.Context) error {
	if !s.usersOwnAccounts {
		return nil
	}
	uid, gid := nobody()
	program := s.Bin("jupyterhub-singleuser")
	cmd := exec.CommandContext(ctx, program, "--version")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + filepath.Dir(program) + ":/usr/bin:/bin", "HOME=/", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// A program that could not be started at all says why in err; one
	// that started and failed, in its output.
	why := err.Error()
	if o := strings.TrimSpace(string(out)); o != "" {
		why = lastLines(o, 5)
	}
	fix := "check the modes of the state directory and of the interpreter the environment was built from"
	if d, mode := closedAncestor(filepath.Dir(program)); d != "" {
		fix = fmt.Sprintf("%s (mode %04o) lets no other account through: chmod o+x %s", d, mode, d)
	}
	return fmt.Errorf("as root each user's server runs as an account of its own, and such an account (nobody, uid %d) cannot run %s, so no user could start a server: %s; %s", uid, program, why, fix)
}

// nobody is the uid and gid of the account that stands for users' accounts
// in checkUsersCanRun.
func nobody() (uid, gid uint32) {
	uid, gid = 65534, 65534
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			uid = uint32(n)
		}
		if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
			gid = uint32(n)
		}
	}
	return uid, gid
}
