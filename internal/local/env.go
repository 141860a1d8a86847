package local

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Requirements pins every package of the local target's Python environment.
//
//go:embed requirements.txt
var Requirements string

// minPython is the oldest Python the pinned packages support.
const minPython = "3.11"

// envMarker records which requirements (and interpreter) an environment was
// built from. It is written last, so an interrupted install is redone.
const envMarker = ".dhub-requirements"

// EnsureEnv makes sure dir holds a virtual environment with exactly the
// pinned packages, creating or updating it with python when it does not.
// It reports whether it had to install. Progress goes to progress.
func EnsureEnv(ctx context.Context, dir, python string, progress io.Writer) (installed bool, err error) {
	want, err := envFingerprint(ctx, python)
	if err != nil {
		return false, err
	}
	if got, err := os.ReadFile(filepath.Join(dir, envMarker)); err == nil && string(got) == want {
		return false, nil
	}
	start := time.Now()
	if _, err := os.Stat(filepath.Join(dir, "bin", "python")); err != nil {
		fmt.Fprintf(progress, "creating the Python environment in %s\n", dir)
		if err := run(ctx, python, "-m", "venv", dir); err != nil {
			return false, fmt.Errorf("create Python environment %s: %w", dir, err)
		}
	}
	_ = os.Remove(filepath.Join(dir, envMarker))
	req := filepath.Join(dir, "dhub-requirements.txt")
	if err := os.WriteFile(req, []byte(Requirements), 0o644); err != nil {
		return false, err
	}
	fmt.Fprintf(progress, "installing JupyterHub, Dask Gateway and Dask into %s (once; about a minute)\n", dir)
	pip := []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-q", "-r", req}
	if err := run(ctx, filepath.Join(dir, "bin", "python"), pip...); err != nil {
		return false, fmt.Errorf("install the pinned packages into %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, envMarker), []byte(want), 0o644); err != nil {
		return false, err
	}
	fmt.Fprintf(progress, "Python environment ready in %s\n", time.Since(start).Round(time.Second))
	return true, nil
}

// envFingerprint identifies the requirements and the interpreter's version,
// and checks that the interpreter is new enough.
func envFingerprint(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c",
		"import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.version_info >= (3, 11))").Output()
	if err != nil {
		// A bare name not on PATH is an *exec.Error; a path that does not
		// exist fails to start with ENOENT.
		var ee *exec.Error
		if errors.As(err, &ee) || errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("local.python: %s not found: install Python %s or newer, or set local.python in dhub.yaml", python, minPython)
		}
		return "", fmt.Errorf("local.python: run %s: %w", python, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != 2 || lines[1] != "True" {
		return "", fmt.Errorf("local.python: %s is Python %s; the local target needs %s or newer", python, strings.Join(lines[:1], ""), minPython)
	}
	sum := sha256.Sum256([]byte(Requirements))
	return "python " + lines[0] + "\nrequirements " + hex.EncodeToString(sum[:]) + "\n", nil
}

// run runs a command; on failure the error carries its last output lines.
func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, out.Tail(20))
	}
	return nil
}

// tailBuffer keeps what a command wrote, to show its end on failure.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 1<<20 {
		t.b = t.b[len(t.b)-(1<<19):]
	}
	return len(p), nil
}

// Tail returns the last n lines written.
func (t *tailBuffer) Tail(n int) string { return lastLines(string(t.b), n) }

// lastLines returns the last n lines of s, indented for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
