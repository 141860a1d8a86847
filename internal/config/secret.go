package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// SecretRef points at a secret kept outside dhub.yaml: an environment
// variable or a file. The secret itself is never written in the config.
//
// A secret pasted by mistake into fromEnv or fromFile must not reach the
// screen, so no message repeats a reference that names nothing: errors
// say what is wrong with "the variable it names" or "the file it names",
// and the field path and line say where.
type SecretRef struct {
	// FromEnv names an environment variable holding the secret.
	FromEnv string `yaml:"fromEnv,omitempty"`
	// FromFile is the absolute path (or ~/...) of a regular file of at
	// most MaxSecretSize bytes holding the secret; trailing newlines are
	// dropped.
	FromFile string `yaml:"fromFile,omitempty"`
	// mem is a secret dhub made itself and holds in memory only (the
	// client secret of the application it registers); never in a file.
	mem *[]byte
}

// InMemory returns a reference to a secret dhub holds in memory: it
// resolves to v and is never written or shown.
func InMemory(v []byte) SecretRef { return SecretRef{mem: &v} }

// MaxSecretSize is the largest secret file dhub reads. Passwords, tokens
// and client secrets are short; the bound keeps a reference to a device or
// a log file from filling memory.
const MaxSecretSize = 64 << 10

// errLiteralSecret is returned for a secret written inline; the message
// never repeats the value.
var errLiteralSecret = errors.New("a secret is never written in dhub.yaml: use {fromEnv: VARIABLE} or {fromFile: PATH}")

// UnmarshalYAML refuses a scalar (a secret typed in place) without echoing it.
// The refusal is a *yaml.TypeError so that a yaml decoder reports it at
// its line together with every other decoding problem.
func (s *SecretRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, errLiteralSecret)}}
	}
	type plain SecretRef
	return n.Decode((*plain)(s))
}

// IsZero reports whether no reference is set.
func (s SecretRef) IsZero() bool { return s.FromEnv == "" && s.FromFile == "" && s.mem == nil }

// String describes the reference, never the secret: a variable's name or a
// file's absolute path. A reference that cannot be a name or a path (a
// pasted secret, most likely) is not repeated. One shaped like a name is:
// CheckReferences, which runs before anything is rendered, refuses a
// reference that names no variable or file.
func (s SecretRef) String() string {
	switch {
	case s.mem != nil:
		return "in memory"
	case s.FromEnv != "" && envNameRE.MatchString(s.FromEnv):
		return "env:" + s.FromEnv
	case s.FromEnv != "":
		return "env:(not a variable name)"
	case s.FromFile != "" && filepath.IsAbs(s.FromFile):
		return "file:" + s.FromFile
	case s.FromFile != "":
		return "file:(not an absolute path)"
	}
	return "unset"
}

// shapeErr says what is wrong with the reference's own text, without
// repeating it; field is "fromEnv" or "fromFile", or "" for the reference.
func (s SecretRef) shapeErr() (field string, err error) {
	switch {
	case s.FromEnv != "" && s.FromFile != "":
		return "", errors.New("set fromEnv or fromFile, not both")
	case s.FromEnv != "" && !envNameRE.MatchString(s.FromEnv):
		return "fromEnv", errors.New("not the name of an environment variable (it holds characters a name cannot; was a secret pasted here?)")
	case s.FromFile != "" && !filepath.IsAbs(s.FromFile):
		return "fromFile", errors.New("not an absolute path: a relative one would depend on the directory dhub runs in; write /... or ~/... (or was a secret pasted here?)")
	}
	return "", nil
}

// Resolve reads the secret: the variable, or the file, bounded by
// MaxSecretSize. Trailing newlines of a file are dropped. An error starts
// with the field at fault ("fromEnv: ..." or "fromFile: ...") and never
// holds the reference or the secret.
func (s SecretRef) Resolve() (string, error) {
	if s.mem != nil {
		return string(*s.mem), nil
	}
	v, _, err := s.read()
	return v, err
}

// read is Resolve that also reports, as a warning, a file every account on
// the machine may read.
func (s SecretRef) read() (value, warning string, err error) {
	if field, err := s.shapeErr(); err != nil {
		if field != "" {
			err = fmt.Errorf("%s: %w", field, err)
		}
		return "", "", err
	}
	switch {
	case s.FromEnv != "":
		v, ok := os.LookupEnv(s.FromEnv)
		switch {
		case !ok:
			return "", "", errors.New("fromEnv: the environment variable it names is not set")
		case v == "":
			return "", "", errors.New("fromEnv: the environment variable it names is empty")
		}
		return v, "", nil
	case s.FromFile != "":
		v, warning, err := readSecretFile(s.FromFile)
		if err != nil {
			return "", "", fmt.Errorf("fromFile: %w", err)
		}
		if warning != "" {
			warning = "fromFile: " + warning
		}
		return v, warning, nil
	}
	return "", "", errors.New("no secret reference set")
}

// readSecretFile reads a secret file of at most MaxSecretSize bytes. It is
// opened without blocking (a FIFO would wait for a writer forever) and
// must be a regular file: never a directory, a device such as /dev/zero, a
// pipe or a socket.
func readSecretFile(path string) (value, warning string, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // its message holds the path
		}
		return "", "", fmt.Errorf("cannot open the file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return "", "", errors.New("cannot stat the file")
	case fi.IsDir():
		return "", "", errors.New("the file is a directory")
	case !fi.Mode().IsRegular():
		return "", "", errors.New("the file is a device, pipe or socket, not a regular file")
	case fi.Size() > MaxSecretSize:
		return "", "", fmt.Errorf("the file holds %d bytes; a secret file holds at most %d KiB", fi.Size(), MaxSecretSize>>10)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	switch {
	case err != nil:
		return "", "", errors.New("cannot read the file")
	case len(b) > MaxSecretSize:
		return "", "", fmt.Errorf("the file holds more than %d KiB, the most a secret file holds", MaxSecretSize>>10)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", "", errors.New("the file is empty")
	}
	if perm := fi.Mode().Perm(); perm&0o004 != 0 {
		// A warning, not a refusal: Kubernetes mounts secrets 0644 by
		// default, and a container has no other account to hide from.
		warning = fmt.Sprintf("every account on this machine can read the file (mode %04o): chmod o-r it", perm)
	}
	return v, warning, nil
}

// ReadSecretFile reads a secret file dhub wrote itself, bounded and
// refusing anything but a regular file, as a secret reference's file is.
func ReadSecretFile(path string) (string, error) {
	v, _, err := readSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// CheckReferences checks what the hub refers to on this machine, which
// Validate (pure, so it checks a file written anywhere) leaves out: that
// each secret reference can be read (the variable is set; the file exists,
// is a regular file under MaxSecretSize and not empty; a file any account
// may read is a warning) and that kubernetes.kubeconfig exists. No problem
// repeats a reference. References Validate finds malformed are skipped.
func (h *Hub) CheckReferences() Problems {
	var ps Problems
	for _, r := range h.secretRefs() {
		if r.ref.IsZero() {
			continue
		}
		if _, err := r.ref.shapeErr(); err != nil {
			continue // Validate says what is wrong
		}
		field := r.path + ".fromFile"
		if r.ref.FromEnv != "" {
			field = r.path + ".fromEnv"
		}
		_, warning, err := r.ref.read()
		switch {
		case err != nil:
			ps = append(ps, Problem{Path: field, Message: afterField(err.Error())})
		case warning != "":
			ps = append(ps, Problem{Path: field, Message: afterField(warning), Warning: true})
		}
	}
	if kc := h.Kubernetes.Kubeconfig; h.Target == TargetKubernetes && kc != "" {
		fi, err := os.Stat(kc)
		switch {
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			ps = append(ps, Problem{Path: "kubernetes.kubeconfig", Message: fmt.Sprintf("cannot read %s: %v", kc, err)})
		case fi.IsDir():
			ps = append(ps, Problem{Path: "kubernetes.kubeconfig", Message: kc + " is a directory, not a kubeconfig file"})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Path < ps[j].Path })
	return ps
}

// afterField drops the "fromEnv: " or "fromFile: " a read error starts
// with, which the problem's path already ends in.
func afterField(msg string) string {
	_, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	return rest
}
