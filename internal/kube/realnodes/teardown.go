package realnodes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// strayPaths are host paths a node's daemons create outside the cluster's
// directory whatever their configuration (iptables' lock file), besides the
// mount points of hostPaths.
var strayPaths = []string{"/run/xtables.lock"}

// hostPathsFile lists, in the cluster's directory, the host paths that did
// not exist before the cluster made them, so teardown removes exactly those.
const hostPathsFile = "host-paths-made"

// recordHostPaths makes each of hostPaths as a mount point on the host and
// records, with strayPaths, those that were not there before.
func recordHostPaths(root string) error {
	var made []string
	for _, p := range append(append([]string(nil), hostPaths...), strayPaths...) {
		// p and each missing directory above it, the topmost first.
		var missing []string
		for dir := p; dir != "/"; dir = filepath.Dir(dir) {
			if _, err := os.Lstat(dir); err == nil {
				break
			}
			missing = append([]string{dir}, missing...)
		}
		for _, m := range missing {
			if !slices.Contains(made, m) {
				made = append(made, m)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, hostPathsFile), []byte(strings.Join(made, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	for _, p := range hostPaths {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("realnodes: mount point %s: %w", p, err)
		}
	}
	return nil
}

// Teardown removes everything a cluster at root made, whether it stopped
// cleanly or its test process died: it kills every process in the
// cluster's cgroups, unmounts the namespaces' files, deletes the host's
// bridge and the nodes' links, removes the cgroups and the host paths the
// cluster made, then root itself. It is safe to call when nothing is left.
func Teardown(ctx context.Context, root string) error {
	var errs []error
	if err := killCgroups("", 30*time.Second); err != nil {
		errs = append(errs, err)
	}
	nsDir := filepath.Join(root, "ns")
	if files, _ := filepath.Glob(filepath.Join(nsDir, "*")); len(files) > 0 {
		for _, f := range files {
			if err := syscall.Unmount(f, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("realnodes: unmount %s: %w", f, err))
			}
		}
	}
	for mounted(nsDir) {
		if err := syscall.Unmount(nsDir, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("realnodes: unmount %s: %w", nsDir, err))
			break
		}
	}
	if err := removeBridge(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups(); err != nil {
		errs = append(errs, err)
	}
	if data, err := os.ReadFile(filepath.Join(root, hostPathsFile)); err == nil {
		made := strings.Fields(string(data))
		// Deepest first: /etc/cni/net.d before /etc/cni.
		for i := len(made) - 1; i >= 0; i-- {
			if err := os.Remove(made[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("realnodes: remove %s, which the cluster made: %w", made[i], err))
			}
		}
	}
	if err := os.RemoveAll(root); err != nil {
		errs = append(errs, fmt.Errorf("realnodes: %w", err))
	}
	return errors.Join(errs...)
}

// mounted reports whether path is a mount point of this mount namespace.
func mounted(path string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && fields[4] == path {
			return true
		}
	}
	return false
}

// watchdogEnv, set in a test binary's environment, makes Main run the
// watchdog instead of the tests: "<pid of the test process> <root>".
const watchdogEnv = "DHUB_REALNODES_WATCHDOG"

// startWatchdog starts the test binary again as a watchdog that tears the
// cluster down when this process is gone without having called Stop.
func (c *Cluster) startWatchdog() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("realnodes: watchdog: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", watchdogEnv, os.Getpid(), c.root))
	logf, err := os.Create(filepath.Join(c.root, "logs", "watchdog.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the test's process group ending, or a terminal's
	// Ctrl-C, must not take it along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("realnodes: start watchdog: %w", err)
	}
	c.watchdog = cmd.Process
	return nil
}

// runWatchdog waits for the process pid to end, then takes the machine's
// lock and tears down the cluster at root.
func runWatchdog(spec string) int {
	var pid int
	var root string
	if _, err := fmt.Sscanf(spec, "%d %s", &pid, &root); err != nil {
		fmt.Fprintf(os.Stderr, "realnodes watchdog: bad %s=%q\n", watchdogEnv, spec)
		return 2
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(500 * time.Millisecond)
	}
	lock, err := lockMachine(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer lock.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Teardown(ctx, root); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
