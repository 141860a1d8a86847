// Package local runs a DaskHub as processes on this machine: a managed
// Python environment, JupyterHub (with its proxy) and Dask Gateway, each
// supervised through pid files and logs in the hub's state directory.
package local

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"dhub/internal/config"
)

// State is the layout of one hub's state directory.
type State struct{ Dir string }

// StateFor returns the state directory of a hub: local.stateDir, else
// $XDG_STATE_HOME/dhub/<name>, else ~/.local/state/dhub/<name>.
func StateFor(h *config.Hub) (State, error) {
	if d := h.Local.StateDir; d != "" {
		abs, err := filepath.Abs(config.ExpandHome(d))
		return State{Dir: abs}, err
	}
	base, err := defaultStateBase()
	if err != nil {
		return State{}, fmt.Errorf("local.stateDir: no home directory to default to (%w); set local.stateDir", err)
	}
	return State{Dir: filepath.Join(base, h.Name)}, nil
}

// defaultStateBase holds the state directories of hubs that set no
// local.stateDir: $XDG_STATE_HOME/dhub, else ~/.local/state/dhub.
func defaultStateBase() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
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
		if p, err := readPidFile(procHub, other.PidFile(procHub)); err == nil && p.alive() {
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

// prepare creates the directories; secrets are owner-only.
func (s State) prepare() error {
	for _, d := range []string{s.Dir, s.ConfigDir(), s.Logs(), s.Run(), s.Clusters()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.Secrets(), 0o700); err != nil {
		return err
	}
	return os.Chmod(s.Secrets(), 0o700)
}

// secretChange is one file of the secrets directory that Up writes or
// removes. Values never leave the process: the plan shows names and reasons.
type secretChange struct {
	name   string
	value  string
	remove bool
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
			return nil, nil, fmt.Errorf("hub.auth.password: %w", err)
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
		if have, err := s.readSecret(name); err == nil {
			after[name] = have
			continue
		} else if _, statErr := os.Stat(s.Secret(name)); !errors.Is(statErr, os.ErrNotExist) {
			return nil, nil, err
		}
		v, err := gen[name]()
		if err != nil {
			return nil, nil, fmt.Errorf("generate %s: %w", name, err)
		}
		after[name] = v
		changes = append(changes, secretChange{name: name, value: v, generated: true, reason: "does not exist: generate it (crypto/rand)"})
	}
	return changes, after, nil
}

// writeSecrets makes the changes planSecrets decided, each file 0600 and
// replaced atomically.
func (s State) writeSecrets(changes []secretChange) error {
	for _, c := range changes {
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
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o600); err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	return os.Rename(tmp, path)
}

// readSecret reads a secret written by writeSecrets.
func (s State) readSecret(name string) (string, error) {
	b, err := os.ReadFile(s.Secret(name))
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w (run 'dhub up' first)", name, err)
	}
	return string(trimNewline(b)), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// lock takes an exclusive lock on the state directory, so two dhub
// commands never start or stop the same hub at once.
func (s State) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another dhub command is working on %s; wait for it to finish", s.Dir)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
