package local

import (
	"bytes"
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
	"syscall"
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

// envFiles are settings of users' servers that do not depend on dhub.yaml,
// written into the environment after its packages (relative to it), where
// jupyter-server and JupyterLab read them.
var envFiles = []struct{ path, content string }{
	{"etc/jupyter/jupyter_server_config.py", `# Written by dhub: settings of the hub's users' servers.
import os

# A terminal runs an interactive shell, not a login shell: a login shell
# reads /etc/profile, which resets PATH, and the terminal would lose this
# environment (python, dask_gateway).
c.ServerApp.terminado_settings = {"shell_command": [os.environ.get("SHELL") or "/bin/sh", "-i"]}

# No calls out for JupyterLab news or new versions.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
`},
	{"etc/dhub/configurable-http-proxy.py", `# Written by dhub: the pure-Python configurable-http-proxy, with websocket
# subprotocols passed through. Its proxy connects to the upstream server
# before it answers the browser's upgrade, but does not tell the browser
# which subprotocol the upstream chose: BokehJS then gives up ("Could not
# open websocket") and every Dask dashboard opened through the hub stays
# blank. Once a subprotocol is chosen, JupyterLab's kernels speak the
# binary v1 protocol, so binary frames from the browser must stay binary
# (the proxy sends every frame upstream as text).
import sys

from configurable_http_proxy import handlers
from configurable_http_proxy.cli import main


def _select_subprotocol(self, subprotocols):
    client = getattr(self, "ws_client", None)
    chosen = client.selected_subprotocol if client is not None else None
    return chosen if chosen in subprotocols else None


def _on_message(self, message):
    if self.ws_client:
        prefix = self.target["prefix"] if self.target else ""
        if prefix:
            self.proxy.update_last_activity(prefix)
        self.ws_client.write_message(message, binary=isinstance(message, bytes))


handlers.ProxyHandler.select_subprotocol = _select_subprotocol
handlers.ProxyHandler.on_message = _on_message
sys.exit(main())
`},
	// Without it JupyterLab asks every new user whether to fetch news.
	{"share/jupyter/lab/settings/overrides.json", `{
  "@jupyterlab/apputils-extension:notification": {
    "checkForUpdates": false,
    "fetchNews": "false"
  }
}
`},
}

// environmentDigest identifies what EnsureEnv puts into an environment.
func environmentDigest() string {
	h := sha256.New()
	h.Write([]byte(Requirements))
	for _, f := range envFiles {
		fmt.Fprintf(h, "\n%s\n%d\n%s", f.path, len(f.content), f.content)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EnsureEnv makes sure dir holds a virtual environment with exactly the
// pinned packages, creating or updating it with python when it does not.
// The packages' wheels are downloaded once into wheelCache (see wheels;
// "" keeps none). It reports whether it had to install. Progress goes to
// progress.
func EnsureEnv(ctx context.Context, dir, python, wheelCache string, progress io.Writer) (installed bool, err error) {
	want, err := envFingerprint(ctx, python)
	if err != nil {
		return false, err
	}
	if envComplete(dir, want) == "" {
		return false, nil
	}
	start := time.Now()
	// The environment holds no secret, and users' accounts run its
	// programs when the hub runs as root: readable by all, whatever the
	// umask dhub was started with (the state directory's mode keeps it
	// from others otherwise).
	umask := syscall.Umask(0o022)
	defer syscall.Umask(umask)
	// A 'python -m venv' that was interrupted leaves an interpreter
	// without pip: such an environment is made again from scratch.
	venv := []string{"-m", "venv", dir}
	if _, err := os.Stat(filepath.Join(dir, "bin", "python")); err == nil {
		venv = nil
		// An environment of another interpreter keeps running that one
		// (its python links to it): it is made again from python.
		if was, now := venvHome(dir), interpreterDir(ctx, python); was != "" && now != "" && was != now {
			fmt.Fprintf(progress, "the Python environment in %s runs the interpreter in %s, not %s's: making it again\n", dir, was, python)
			venv = []string{"-m", "venv", "--clear", dir}
		} else if run(ctx, filepath.Join(dir, "bin", "python"), "-m", "pip", "--version") != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			fmt.Fprintf(progress, "the Python environment in %s has no working pip (an interrupted build?): making it again\n", dir)
			venv = []string{"-m", "venv", "--clear", dir}
		}
	}
	if venv != nil {
		fmt.Fprintf(progress, "creating the Python environment in %s\n", dir)
		if err := run(ctx, python, venv...); err != nil {
			return false, fmt.Errorf("create Python environment %s: %w", dir, err)
		}
	}
	_ = os.Remove(filepath.Join(dir, envMarker))
	req := filepath.Join(dir, "dhub-requirements.txt")
	if err := os.WriteFile(req, []byte(Requirements), 0o644); err != nil {
		return false, err
	}
	envPython := filepath.Join(dir, "bin", "python")
	wheelDir, done, err := wheels(ctx, envPython, wheelCache, want, req, progress)
	if err != nil {
		return false, err
	}
	defer done()
	fmt.Fprintf(progress, "installing JupyterHub, JupyterLab, Dask Gateway and Dask (%d pinned packages) into %s\n", pinnedCount(), dir)
	// From the downloaded wheels only, and compiled afterwards on every
	// core: pip compiles one file at a time, half of the install's time.
	pip := []string{"-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-index", "--find-links", wheelDir, "--no-compile", "-r", req}
	pr := &pipProgress{w: progress, total: pinnedCount(), counted: "Processing ", verb: "unpacked", every: 10 * time.Second, last: time.Now()}
	if err := runWith(ctx, pr, envPython, pip...); err != nil {
		return false, fmt.Errorf("install the pinned packages into %s: %w", dir, err)
	}
	fmt.Fprintf(progress, "compiling the environment's Python files\n")
	if err := run(ctx, envPython, "-m", "compileall", "-q", "-j", "0", filepath.Join(dir, "lib")); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		// As pip's own compile step: a file that does not compile is
		// compiled, or fails, when imported.
		fmt.Fprintf(progress, "some of the environment's Python files did not compile (they are compiled when imported): %v\n", err)
	}
	for _, f := range envFiles {
		path := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(path, []byte(f.content), 0o644); err != nil {
			return false, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, envMarker), []byte(want), 0o644); err != nil {
		return false, err
	}
	fmt.Fprintf(progress, "Python environment ready in %s\n", time.Since(start).Round(time.Second))
	return true, nil
}

// venvHome is the directory of the interpreter an environment was made
// from (pyvenv.cfg's home), or "" when it does not say.
func venvHome(dir string) string {
	b, err := readBounded(filepath.Join(dir, "pyvenv.cfg"), 64<<10)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "home" {
			return filepath.Clean(strings.TrimSpace(v))
		}
	}
	return ""
}

// interpreterDir is where 'python -m venv' records python as the
// environment's home, or "" when python does not say.
func interpreterDir(ctx context.Context, python string) string {
	out, err := exec.CommandContext(ctx, python, "-c", "import os, sys; print(os.path.dirname(os.path.abspath(getattr(sys, '_base_executable', sys.executable))))").Output()
	if d := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	return ""
}

// envPrograms are the programs Up starts from the environment.
var envPrograms = []string{"jupyterhub", "dask-gateway-server"}

// envComplete says why the environment in dir is not what want describes
// ("" when it is): its marker, written last by EnsureEnv, differs or is
// missing (a build was interrupted), or a program Up starts is missing.
func envComplete(dir, want string) string {
	got, err := os.ReadFile(filepath.Join(dir, envMarker))
	switch {
	case err != nil:
		return "missing or not finished"
	case string(got) != want:
		return "built from other requirements or settings"
	}
	for _, name := range envPrograms {
		if fi, err := os.Stat(filepath.Join(dir, "bin", name)); err != nil || fi.Mode()&0o111 == 0 {
			return "damaged: bin/" + name + " is missing"
		}
	}
	return ""
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
	return "python " + lines[0] + "\nrequirements " + environmentDigest() + "\n", nil
}

// run runs a command; on failure the error carries its last output lines.
func run(ctx context.Context, name string, args ...string) error {
	return runWith(ctx, io.Discard, name, args...)
}

// runWith is run with the command's output also going to w.
func runWith(ctx context.Context, w io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	// When ctx ends the command is killed; a child of it that keeps its
	// output open (pip runs builds) must not hold dhub up.
	cmd.WaitDelay = 5 * time.Second
	var out tailBuffer
	cmd.Stdout = io.MultiWriter(&out, w)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, out.Tail(20))
	}
	return nil
}

// pinnedCount is the number of packages Requirements pins.
func pinnedCount() int {
	n := 0
	for _, l := range strings.Split(Requirements, "\n") {
		if strings.Contains(l, "==") && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// pipProgress turns pip's output into a progress line now and then: how
// many packages it has gone through (each a line starting with counted),
// and when it installs them.
type pipProgress struct {
	w       io.Writer
	total   int
	counted string
	// verb says what pip did to the packages counted.
	verb    string
	every   time.Duration
	last    time.Time
	n       int
	partial []byte
}

func (p *pipProgress) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := strings.TrimSpace(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
		switch {
		case strings.HasPrefix(line, p.counted):
			p.n++
			if time.Since(p.last) >= p.every {
				p.last = time.Now()
				fmt.Fprintf(p.w, "  pip: %d of %d packages %s (now %s)\n", p.n, p.total, p.verb, filepath.Base(strings.Fields(line)[1]))
			}
		case strings.HasPrefix(line, "Installing collected packages:"):
			fmt.Fprintf(p.w, "  pip: all %d packages %s; installing them\n", p.n, p.verb)
		}
	}
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
