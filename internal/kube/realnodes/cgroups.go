package realnodes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupRoot is the cgroup, in every cgroup v1 hierarchy, under which every
// process of the cluster runs: the control plane's, each node's daemons
// (and so containerd's shims) and, as the kubelets' cgroupRoot, every
// container. Killing what it holds stops everything the cluster started,
// whatever became of the test process.
const cgroupRoot = "dhubrn"

// cgroupFS is where the cgroup v1 hierarchies are mounted.
const cgroupFS = "/sys/fs/cgroup"

// hierarchies returns the directories of the mounted cgroup v1 hierarchies
// (cpu, memory, pids, name=systemd, ...), where the cluster's processes
// join its cgroups. The unified v2 tree of a hybrid host is not among
// them: runc makes containers' cgroups there too, so teardown also looks
// at allHierarchies.
func hierarchies() ([]string, error) { return mountedCgroups(false) }

// allHierarchies is hierarchies and the unified v2 tree, where mounted.
func allHierarchies() ([]string, error) { return mountedCgroups(true) }

func mountedCgroups(withV2 bool) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		_, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if pf := strings.Fields(post); len(pf) > 0 && (pf[0] == "cgroup" || withV2 && pf[0] == "cgroup2") && len(f) > 4 && strings.HasPrefix(f[4], cgroupFS+"/") {
			dirs = append(dirs, f[4])
		}
	}
	if len(dirs) == 0 {
		return nil, errors.New("realnodes: no cgroup v1 hierarchy is mounted under " + cgroupFS + " (the kubelets run with the cgroupfs driver on cgroup v1)")
	}
	slices.Sort(dirs)
	return dirs, nil
}

// makeCgroup creates cgroupRoot/name in every hierarchy and returns the
// cgroup.procs files a process writes itself into to join it.
func makeCgroup(name string) ([]string, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	var procs []string
	for _, h := range hs {
		rel := ""
		for _, part := range append([]string{cgroupRoot}, strings.Split(name, "/")...) {
			rel = filepath.Join(rel, part)
			dir := filepath.Join(h, rel)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("realnodes: cgroup %s: %w", dir, err)
			}
			// A new cpuset has no CPUs or memory nodes until given its
			// parent's; no process can join it before.
			if filepath.Base(h) == "cpuset" {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
					if err != nil {
						return nil, err
					}
					if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
						return nil, fmt.Errorf("realnodes: cgroup %s: %w", dir, err)
					}
				}
			}
		}
		procs = append(procs, filepath.Join(h, cgroupRoot, name, "cgroup.procs"))
	}
	return procs, nil
}

// cgroupPids returns every process in cgroupRoot/sub and below (sub ""
// for the whole cluster), read from the pids hierarchy (or the first
// hierarchy, where pids is not mounted).
func cgroupPids(sub string) ([]int, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	h := hs[0]
	for _, d := range hs {
		if filepath.Base(d) == "pids" {
			h = d
		}
	}
	var pids []int
	err = filepath.WalkDir(filepath.Join(h, cgroupRoot, sub), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		if d.Name() != "cgroup.procs" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids, err
}

// killCgroups kills every process in cgroupRoot/sub and below (sub "" for
// the whole cluster) and waits, up to bound, until none is left. It freezes
// the tree first where the freezer is mounted, so nothing forks behind the
// kill.
func killCgroups(sub string, bound time.Duration) error {
	freezer := filepath.Join(cgroupFS, "freezer", cgroupRoot, sub, "freezer.state")
	frozen := os.WriteFile(freezer, []byte("FROZEN"), 0o644) == nil
	deadline := time.Now().Add(bound)
	for {
		pids, err := cgroupPids(sub)
		if err != nil {
			return fmt.Errorf("realnodes: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		// A frozen process dies only once thawed.
		if frozen {
			_ = os.WriteFile(freezer, []byte("THAWED"), 0o644)
			frozen = false
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("realnodes: processes %v of cgroup %s outlived SIGKILL for %s", pids, filepath.Join(cgroupRoot, sub), bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// removeCgroups removes cgroupRoot and everything below it from every
// hierarchy, deepest first. The cgroups must hold no process.
func removeCgroups() error {
	hs, err := allHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, cgroupRoot), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("realnodes: remove cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// RSS returns the resident memory, in bytes, of every process of the
// cluster: control plane, node daemons, shims and containers.
func (c *Cluster) RSS() (int64, error) {
	pids, err := cgroupPids("")
	if err != nil {
		return 0, err
	}
	var total int64
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue // gone since listed
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				total += kb * 1024
			}
		}
	}
	return total, nil
}
