package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"dhub/internal/plan"
)

// mode is path's permission bits.
func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// changesOf lists the plan's changes of kind, as "action name: reason".
func changesOf(p *plan.Plan, kind string) []string {
	var out []string
	for _, c := range p.Changes {
		if c.Kind == kind {
			out = append(out, string(c.Action)+" "+c.Name+": "+c.Reason)
		}
	}
	return out
}

// The directories above the state directory that do not exist yet are in
// the plan with the mode Up gives them, and Up gives them that mode
// whatever the umask: as root, users' accounts cross them (0711), else
// they are the account's own (0700).
func TestPlanMakesTheDirectoriesAboveTheStateDirectory(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want fs.FileMode
	}{
		{"root", asRoot(nil), 0o711},
		{"not root", asUser, 0o700},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := testHub(t)
			top := filepath.Join(filepath.Dir(h.Local.StateDir), "new")
			h.Local.StateDir = filepath.Join(top, "dhub", "state")
			h.Local.Python = pythonIn(t, filepath.Dir(top), filepath.Dir(top))
			p, err := PlanUp(t.Context(), h, c.o)
			if err != nil {
				t.Fatal(err)
			}
			got := changesOf(p.View, "directory")
			if len(got) != 2 || !strings.HasPrefix(got[0], "create "+top+": missing: make it ") || !strings.HasPrefix(got[1], "create "+filepath.Join(top, "dhub")+": ") {
				t.Fatalf("directory changes = %q, want %s then %s/dhub made", got, top, top)
			}
			if want := fmt.Sprintf("%04o", c.want); !strings.Contains(got[0], want) || !strings.Contains(got[1], want) {
				t.Errorf("the reasons %q do not name mode %s", got, want)
			}
			// A umask that would close them to everyone else.
			defer syscall.Umask(syscall.Umask(0o077))
			if err := p.st.prepare(h.Name); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{top, filepath.Join(top, "dhub")} {
				if m := mode(t, d); m != c.want {
					t.Errorf("%s: mode %04o, want %04o", d, m, c.want)
				}
			}
		})
	}
}

// As root, dhub's own directory of state directories that an earlier
// release made 0700 keeps every user from their server: the plan lists
// opening it and Up opens it. A closed directory that is not dhub's own is
// refused, named with the fix.
func TestPlanOpensDhubsOwnDirectoryOfHubs(t *testing.T) {
	xdg := filepath.Join(reachableTempDir(t), "xdg")
	own := filepath.Join(xdg, "dhub")
	if err := os.MkdirAll(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(xdg, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", xdg)
	h := testHub(t)
	h.Local.StateDir = ""
	h.Local.Python = pythonIn(t, filepath.Dir(xdg), filepath.Dir(xdg))
	p, err := PlanUp(t.Context(), h, asRoot(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := "update " + own + ": mode 0700 lets users' accounts not through to the environment, so their servers cannot start: make it 0711"
	if got := changesOf(p.View, "permissions"); len(got) != 1 || got[0] != want {
		t.Fatalf("permissions = %q, want [%q]", got, want)
	}
	if err := fixModes(p.modes); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, own); m != 0o711 {
		t.Errorf("%s: mode %04o after Up's fix, want 0711", own, m)
	}
	if p, err := PlanUp(t.Context(), h, asRoot(nil)); err != nil || len(changesOf(p.View, "permissions")) != 0 {
		t.Errorf("plan after the fix: %v, %v", err, p)
	}

	// $XDG_STATE_HOME itself is the person's, not dhub's: named, not changed.
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = PlanUp(t.Context(), h, asRoot(nil))
	if err == nil || !strings.Contains(err.Error(), xdg+" (mode 0700) lets no other account through") || !strings.Contains(err.Error(), "chmod o+x "+xdg) {
		t.Errorf("err = %v", err)
	}
	if m := mode(t, xdg); m != 0o700 {
		t.Errorf("plan changed %s to %04o", xdg, m)
	}
}

// As root, up checks what a spawn needs: that an account with no rights
// of its own runs the environment's jupyterhub-singleuser. It switches to
// that account for real, so it needs root (CI runs as root).
func TestUsersCanRunTheServerProgram(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs a program as nobody, which only root can do: run the unit tier as root, as CI does")
	}
	st := State{Dir: filepath.Join(reachableTempDir(t), "state"), usersOwnAccounts: true}
	writeScript(t, st.Bin("jupyterhub-singleuser"), "echo 5.5.0\n")
	for _, d := range []string{st.Dir, st.Venv(), filepath.Dir(st.Bin("x"))} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.checkUsersCanRun(t.Context()); err != nil {
		t.Fatalf("a program users' accounts can reach: %v", err)
	}
	// The state directory closed to them, as /var/lib/dhub was.
	if err := os.Chmod(st.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := st.checkUsersCanRun(t.Context())
	if err == nil || !strings.Contains(err.Error(), "cannot run "+st.Bin("jupyterhub-singleuser")+", so no user could start a server") ||
		!strings.Contains(strings.ToLower(err.Error()), "permission denied") || !strings.Contains(err.Error(), "chmod o+x "+st.Dir) {
		t.Errorf("err = %v", err)
	}
	// A hub of one account runs everything as that account: nothing to check.
	st.usersOwnAccounts = false
	if err := st.checkUsersCanRun(t.Context()); err != nil {
		t.Errorf("not root: %v", err)
	}
}
