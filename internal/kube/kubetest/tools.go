package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

var tools struct {
	once sync.Once
	dir  string
	err  error
}

// ToolsDir returns the directory holding the binaries a cluster needs
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kwokctl):
// $DHUB_KUBE_TOOLS when set, else the directory scripts/kube-tools.sh
// prints after building or finding them in its cache. The script runs at most
// once per process, under a lock shared by all processes of the machine, so
// test packages that start together do not build the tools twice. A missing
// or non-executable tool is an error.
func ToolsDir() (string, error) {
	tools.once.Do(func() { tools.dir, tools.err = toolsDir() })
	return tools.dir, tools.err
}

func toolsDir() (string, error) {
	dir := os.Getenv("DHUB_KUBE_TOOLS")
	if dir == "" {
		var err error
		if dir, err = buildTools(); err != nil {
			return "", err
		}
	}
	var missing []string
	for _, t := range toolNames {
		fi, err := os.Stat(filepath.Join(dir, t))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("kubetest: tools directory %s lacks %s (DHUB_KUBE_TOOLS=%q; run scripts/kube-tools.sh)",
			dir, strings.Join(missing, ", "), os.Getenv("DHUB_KUBE_TOOLS"))
	}
	return dir, nil
}

// buildTools runs scripts/kube-tools.sh (see ScriptDir).
func buildTools() (string, error) {
	dir, err := ScriptDir("kube-tools.sh")
	if err != nil {
		return "", fmt.Errorf("%w (DHUB_KUBE_TOOLS is unset)", err)
	}
	return dir, nil
}

// ScriptDir runs scripts/<script> of the repository, with env added to
// this process's environment, a script that builds or finds something in
// its cache and prints the directory holding it on its last line of
// output, and returns that directory. It runs under a lock shared by all
// processes of the machine, so test packages that start together do not
// build the same thing twice.
func ScriptDir(script string, env ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "dhub-"+strings.TrimSuffix(script, ".sh")+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("kubetest: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	path := filepath.Join(root, "scripts", script)
	cmd := exec.Command(path)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubetest: %s: %w\n%s%s", path, err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	dir := strings.TrimSpace(lines[len(lines)-1])
	if dir == "" {
		return "", fmt.Errorf("kubetest: %s printed no directory\n%s", path, stderr.String())
	}
	return dir, nil
}

// RepoRoot returns the root of the dhub repository: the nearest directory
// at or above the working directory (a test's package directory) whose go.mod
// declares module dhub.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kubetest: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && isDhubModule(data) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("kubetest: no go.mod of module dhub at or above " + wd)
		}
	}
}

func isDhubModule(gomod []byte) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "dhub"
		}
	}
	return false
}
