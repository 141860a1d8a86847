package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

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
