package local

import (
	"crypto/rand"
	"dhub/internal/config"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

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
