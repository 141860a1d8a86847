// Package local runs a DaskHub as processes on this machine: a managed
// Python environment, JupyterHub (with its proxy) and Dask Gateway, each
// supervised through pid files and logs in the hub's state directory.
package local

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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
	// usersOwnAccounts says each hub user's server runs as a system
	// account of its own (dhub runs as root): those accounts cross the
	// state directory to the environment's programs.
	usersOwnAccounts bool
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
func StateFor(h *config.Hub, m Machine) (State, error) {
	if d := config.ExpandHome(h.Local.StateDir); d != "" {
		if err := config.CheckStateDir(d); err != nil {
			return State{}, fmt.Errorf("local.stateDir: %w", err)
		}
		d = filepath.Clean(d)
		if isHomeDir(d) {
			return State{}, fmt.Errorf("local.stateDir: %s is a home directory: use a directory of its own, such as %s", d, filepath.Join(d, ".local", "state", "dhub", h.Name))
		}
		return State{Dir: d, usersOwnAccounts: m.Root}, nil
	}
	base, err := defaultStateBase(m.Root)
	if err != nil {
		return State{}, fmt.Errorf("local.stateDir: no home directory to default to (%w); set local.stateDir", err)
	}
	return State{Dir: filepath.Join(base, h.Name), usersOwnAccounts: m.Root}, nil
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
func openState(h *config.Hub, m Machine) (State, bool, error) {
	st, err := StateFor(h, m)
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
func defaultStateBase(root bool) (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" && root {
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
	base, err := defaultStateBase(st.usersOwnAccounts)
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir(base)
	var out []string
	for _, e := range entries {
		other := State{Dir: filepath.Join(base, e.Name()), usersOwnAccounts: st.usersOwnAccounts}
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

// Scratch holds each user's scratch directory, <user name>, which their
// server and their Dask clusters know as SCRATCH_URL.
func (s State) Scratch() string { return filepath.Join(s.Dir, "scratch") }

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

// prepare creates the directories, and the record that makes the state
// directory dhub's (with a new id) when it has none; secrets are
// owner-only.
func (s *State) prepare(hub string) error {
	if _, err := s.open(); err != nil {
		return err
	}
	if s.ID == "" {
		if err := s.makeParents(); err != nil {
			return err
		}
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
