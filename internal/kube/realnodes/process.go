package realnodes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// daemon is a long-running process of the cluster.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// startDaemon starts bin with args as the daemon name, in the cgroup group
// (see makeCgroup) and, when ns is not nil, inside that node's network and
// mount namespaces. Its output goes to logs/name.log. The process joins its
// cgroup before it runs bin, so all it ever starts is found there.
func (c *Cluster) startDaemon(name, group string, ns *node, bin string, args ...string) (*daemon, error) {
	procs, err := makeCgroup(group)
	if err != nil {
		return nil, err
	}
	argv := []string{"-c", `while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"`, "realnodes-" + name}
	argv = append(argv, procs...)
	argv = append(argv, "--")
	if ns != nil {
		argv = append(argv, "nsenter", "--mount="+ns.mntns, "--net="+ns.netns, "--")
	}
	argv = append(argv, bin)
	argv = append(argv, args...)
	logPath := c.logPath(name)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("realnodes: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("sh", argv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = c.baseEnv()
	// Its own process group: a terminal's Ctrl-C reaches the test, whose
	// teardown stops the cluster in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("realnodes: start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath}
	go func() { _ = cmd.Wait() }()
	c.mu.Lock()
	c.daemons = append(c.daemons, d)
	c.mu.Unlock()
	return d, nil
}

// logPath is where the daemon name's output goes.
func (c *Cluster) logPath(name string) string { return filepath.Join(c.root, "logs", name+".log") }

// exited reports whether the daemon's process is gone.
func (d *daemon) exited() bool {
	return d.cmd.Process == nil || syscall.Kill(d.cmd.Process.Pid, 0) != nil
}

// baseEnv is every daemon's environment: a PATH with the node tools first
// (containerd finds its shim there) and nothing of the caller's Kubernetes
// or proxy settings.
func (c *Cluster) baseEnv() []string {
	env := []string{
		"PATH=" + c.opts.NodeTools + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(c.root, "home"),
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LANG", "LC_ALL", "TZ":
			env = append(env, kv)
		}
	}
	return env
}

// logTail returns the last lines of a daemon's log, for error messages.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
