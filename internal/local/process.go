package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a process dhub started, as its pid file records it. The start
// time guards against a recycled pid being taken for ours.
type proc struct {
	Name  string
	Pid   int
	Start string
	// Cwd and Args are known for processes found by ownProcesses.
	Cwd  string
	Args []string
	// Unrecorded is set for the hub or the gateway found by its marker
	// when its pid file is missing or damaged.
	Unrecorded bool
}

// startDetached starts a program in a session of its own, so closing the
// terminal does not stop it, with its output appended to logFile.
func startDetached(name string, argv, env []string, dir, logFile string) (proc, error) {
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return proc{}, err
	}
	defer log.Close()
	// A log kept from before may be readable by others; logs can name
	// users, tokens' owners and paths.
	if err := log.Chmod(0o600); err != nil {
		return proc{}, err
	}
	fmt.Fprintf(log, "\n==== dhub started %s at %s\n", name, time.Now().Format(time.RFC3339))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The hub's processes and all they start (databases, users' files,
	// Dask clusters' directories) create files only their owner reads.
	// The umask is the process's, so it is set around the start alone.
	umask := syscall.Umask(0o077)
	err = cmd.Start()
	syscall.Umask(umask)
	if err != nil {
		return proc{}, fmt.Errorf("start %s: %w", name, err)
	}
	p := proc{Name: name, Pid: cmd.Process.Pid, Start: startTime(cmd.Process.Pid)}
	// Reap it if it exits while dhub still runs; afterwards init does.
	go cmd.Wait()
	return p, nil
}

// writePidFile records p; readPidFile reads it back.
func writePidFile(path string, p proc) error {
	return writeFileAtomic(path, []byte(fmt.Sprintf("%d %s\n", p.Pid, p.Start)), 0o600)
}

func readPidFile(name, path string) (proc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return proc{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return proc{}, fmt.Errorf("%s: malformed pid file", path)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return proc{}, fmt.Errorf("%s: %w", path, err)
	}
	return proc{Name: name, Pid: pid, Start: f[1]}, nil
}

// alive reports whether p still runs (and is not a zombie or another
// process that got the same pid).
func (p proc) alive() bool {
	if p.Pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return false
	}
	fields := statFields(string(stat))
	return len(fields) > 19 && fields[0] != "Z" && fields[19] == p.Start
}

// startTime returns a process's start time in clock ticks since boot.
func startTime(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "0"
	}
	if f := statFields(string(stat)); len(f) > 19 {
		return f[19]
	}
	return "0"
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which may hold spaces): state is [0], starttime is [19].
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

// stop asks p and its whole process group to end with SIGTERM and waits up
// to grace, then kills them. p itself is signalled too: a leftover process
// (the proxy of a crashed hub, say) need not lead a group.
func (p proc) stop(ctx context.Context, grace time.Duration) (forced bool) {
	if !p.alive() {
		return false
	}
	signal := func(sig syscall.Signal) {
		_ = syscall.Kill(-p.Pid, sig)
		_ = syscall.Kill(p.Pid, sig)
	}
	signal(syscall.SIGTERM)
	if waitGone(ctx, grace, p.alive) {
		return false
	}
	signal(syscall.SIGKILL)
	waitGone(ctx, 5*time.Second, p.alive)
	return true
}

// waitGone polls until alive reports false or the time is up.
func waitGone(ctx context.Context, d time.Duration, alive func() bool) bool {
	deadline := time.Now().Add(d)
	for alive() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// ownProcesses returns every live process that carries the hub's marker
// (DHUB_HUB_ID=id) in the environment it started with: the hub, its proxy
// and services, the gateway, Dask schedulers and workers, users' servers and
// what users start there. A process without the marker is never the hub's,
// whatever its working directory or arguments: a person's shell in the state
// directory, a 'tail -f' of a log, a script on the environment's Python.
// The environment of another account's process is readable only by root,
// and then only root can have started it with the marker.
func ownProcesses(id string) []proc {
	if id == "" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		p := proc{Pid: pid, Start: startTime(pid)}
		if !p.carries(id) {
			continue
		}
		p.Cwd, _ = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		p.Args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		p.Name = filepath.Base(p.Args[0])
		if len(p.Args) > 1 {
			p.Name += " " + filepath.Base(p.Args[1])
		}
		// The start time read before the environment guards against the
		// pid having gone to another process in between.
		if p.alive() {
			out = append(out, p)
		}
	}
	return out
}

// carries reports whether p started with the hub's marker in its
// environment.
func (p proc) carries(id string) bool {
	if id == "" || p.Pid <= 0 {
		return false
	}
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Pid))
	if err != nil {
		return false
	}
	want := markerEnv + "=" + id
	for _, kv := range strings.Split(string(env), "\x00") {
		if kv == want {
			return true
		}
	}
	return false
}

func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// in reports whether the process's working directory lies in dir.
func (p proc) in(dir string) bool { return within(p.Cwd, dir) }

// runs reports whether the process runs the program configured by the
// file config (its command line names it).
func (p proc) runs(config string) bool { return slices.Contains(p.Args, config) }

// portFree reports whether nothing listens on host:port.
func portFree(host string, port int) bool {
	return !listening(host, port)
}
