package local

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartDetachedOwnSessionEnvDirAndLog(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "p.log")
	if err := os.WriteFile(logFile, []byte("an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DHUB_TEST_VALUE=from-env")
	p, err := startDetached("worker", []string{"sh", "-c", `echo "out $DHUB_TEST_VALUE $(pwd)"; echo "err line" >&2; exec sleep 60`}, env, dir, logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(p) })

	if p.Name != "worker" || p.Pid <= 0 || p.Start == "" || p.Start == "0" {
		t.Fatalf("proc = %+v, want name worker, a pid and its start time", p)
	}
	if got := startTime(p.Pid); got != p.Start {
		t.Errorf("recorded start time %s, /proc says %s", p.Start, got)
	}
	if !p.alive() {
		t.Fatal("the started process is not alive")
	}
	pgid, err := syscall.Getpgid(p.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.Pid {
		t.Errorf("pgid = %d, want its own group %d", pgid, p.Pid)
	}
	if pgid == syscall.Getpgrp() {
		t.Errorf("the process shares the test's process group %d", pgid)
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	if sid := statFields(string(stat))[3]; sid != strconv.Itoa(p.Pid) {
		t.Errorf("session id = %s, want a session of its own (%d)", sid, p.Pid)
	}

	realDir, _ := filepath.EvalSymlinks(dir)
	var log string
	waitFor(t, 5*time.Second, "the process's output in its log", func() bool {
		b, _ := os.ReadFile(logFile)
		log = string(b)
		return strings.Contains(log, "out from-env") && strings.Contains(log, "err line")
	})
	if !strings.HasPrefix(log, "an earlier run\n") {
		t.Errorf("the log was not appended to; it starts %q", log[:min(len(log), 40)])
	}
	if !strings.Contains(log, "==== dhub started worker at ") {
		t.Errorf("no start header in the log:\n%s", log)
	}
	if !strings.Contains(log, "out from-env "+realDir) && !strings.Contains(log, "out from-env "+dir) {
		t.Errorf("the process did not run in %s:\n%s", dir, log)
	}

	// A second start appends again.
	q, err := startDetached("worker", []string{"sh", "-c", "echo second run"}, env, dir, logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(q) })
	waitFor(t, 5*time.Second, "the second run's output", func() bool {
		b, _ := os.ReadFile(logFile)
		log = string(b)
		return strings.Contains(log, "second run")
	})
	if n := strings.Count(log, "==== dhub started worker"); n != 2 || !strings.HasPrefix(log, "an earlier run\n") || !strings.Contains(log, "out from-env") {
		t.Errorf("after two starts the log holds %d headers and lost earlier output?\n%s", n, log)
	}
}

func TestStartDetachedMissingProgram(t *testing.T) {
	_, err := startDetached("ghost", []string{filepath.Join(t.TempDir(), "no-such-program")}, os.Environ(), "", filepath.Join(t.TempDir(), "g.log"))
	if err == nil || !strings.Contains(err.Error(), "start ghost") {
		t.Fatalf("err = %v, want a start error naming ghost", err)
	}
	_, err = startDetached("ghost", []string{"true"}, os.Environ(), "", filepath.Join(t.TempDir(), "missing-dir", "g.log"))
	if err == nil {
		t.Fatal("a log file in a missing directory was accepted")
	}
}

func TestPidFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.pid")
	want := proc{Name: "jupyterhub", Pid: 4242, Start: "987654"}
	if err := writePidFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := readPidFile("jupyterhub", path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, wrote %+v", got, want)
	}
	if _, err := readPidFile("x", filepath.Join(t.TempDir(), "none.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing pid file: err = %v, want not exist", err)
	}
	for _, content := range []string{"", "4242\n", "4242 1 2\n", "abc 123\n", "garbage"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := readPidFile("jupyterhub", path)
		if err == nil {
			t.Errorf("pid file %q read as %+v, want an error", content, p)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("pid file %q: error %q does not name the file", content, err)
		}
	}
}

func TestAlive(t *testing.T) {
	if (proc{Pid: 0, Start: "1"}).alive() || (proc{Pid: -1, Start: "1"}).alive() {
		t.Error("a pid <= 0 is alive")
	}
	self := procOf("self", os.Getpid())
	if !self.alive() {
		t.Error("this test process is not alive")
	}

	p := startProc(t, "sleeper", "", "sleep", "60")
	if !p.alive() {
		t.Fatal("a running sleep is not alive")
	}
	// The pid reuse guard: same pid, another start time.
	reused := p
	reused.Start = "1"
	if reused.alive() {
		t.Error("a process with another start time counts as ours")
	}
	if err := syscall.Kill(p.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a killed process to be not alive", func() bool { return !p.alive() })

	short := startProc(t, "short", "", "sleep", "0.1")
	waitFor(t, 5*time.Second, "an exited process to be not alive", func() bool { return !short.alive() })
}

func TestStopGraceful(t *testing.T) {
	p := startProc(t, "sleeper", "", "sleep", "60")
	if forced := p.stop(t.Context(), 5*time.Second); forced {
		t.Error("a process that exits on SIGTERM was forced")
	}
	if p.alive() {
		t.Error("the process still runs after stop")
	}
	// Stopping what is gone already is a no-op.
	if p.stop(t.Context(), time.Second) {
		t.Error("stopping a stopped process reports forced")
	}
}

func TestStopForcesAProcessIgnoringSIGTERM(t *testing.T) {
	dir := t.TempDir()
	childFile := filepath.Join(dir, "child")
	// The trap is set before the child starts, and ignored signals are
	// inherited: neither the shell nor its sleep ends on SIGTERM.
	p := startProc(t, "stubborn", dir, "sh", "-c", `trap "" TERM; sleep 60 & echo $! > child; wait`)
	child := procOf("child", readPid(t, childFile))
	if !child.alive() {
		t.Fatal("the child is not running")
	}
	// forced: SIGTERM came first and was outlasted (stop kills only
	// once its wait for the process to go ends).
	if forced := p.stop(t.Context(), 300*time.Millisecond); !forced {
		t.Error("a process ignoring SIGTERM was not reported forced")
	}
	if p.alive() {
		t.Error("the process still runs after a forced stop")
	}
	// SIGKILL went to the whole group; the child may take a moment to go.
	waitFor(t, time.Second, "the child to be killed with its group", func() bool { return !child.alive() })
}

func TestStopEndsTheWholeGroup(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "parent", dir, "sh", "-c", `sleep 60 & echo $! > child; wait`)
	child := procOf("child", readPid(t, filepath.Join(dir, "child")))
	if !child.alive() {
		t.Fatal("the child is not running")
	}
	if forced := p.stop(t.Context(), 5*time.Second); forced {
		t.Error("a group that exits on SIGTERM was forced")
	}
	waitFor(t, 2*time.Second, "the child to end with its group", func() bool { return !child.alive() })
	if p.alive() {
		t.Error("the parent still runs")
	}
}

// A leftover process need not lead a process group: JupyterHub's proxy
// outlives a crashed hub, Dask workers belong to their nanny's group. stop
// must end such a process too, not only signal a group that does not exist.
func TestStopEndsAProcessThatLeadsNoGroup(t *testing.T) {
	dir := t.TempDir()
	// The shell leads the group and exits at once, leaving its sleep behind
	// in a group whose leader is gone.
	leader := startProc(t, "leader", dir, "sh", "-c", `sleep 60 & echo $! > child`)
	orphan := procOf("orphan", readPid(t, filepath.Join(dir, "child")))
	t.Cleanup(func() { kill(orphan) })
	waitFor(t, 5*time.Second, "the group leader to exit", func() bool { return !leader.alive() })
	if !orphan.alive() {
		t.Fatal("the orphan is not running")
	}
	if pgid, _ := syscall.Getpgid(orphan.Pid); pgid == orphan.Pid {
		t.Fatal("setup: the orphan leads its own group")
	}
	forced := orphan.stop(t.Context(), 2*time.Second)
	if orphan.alive() {
		t.Fatal("stop left a process that leads no group running")
	}
	if forced {
		t.Error("a process that exits on SIGTERM was forced")
	}

	// And a plain child of this test, which shares the test's group.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	c := procOf("child", cmd.Process.Pid)
	t.Cleanup(func() { kill(c) })
	if c.stop(t.Context(), 2*time.Second) || c.alive() {
		t.Errorf("a child in the test's group: alive after stop %v", c.alive())
	}
}

func TestStopHonoursContext(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "stubborn", dir, "sh", "-c", `trap "" TERM; echo $$ > ready; while :; do sleep 1; done`)
	readPid(t, filepath.Join(dir, "ready")) // the trap is set
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// A grace period far past the test's own bound: only the cancelled
	// context can end the wait before the test times out.
	forced := make(chan bool, 1)
	go func() { forced <- p.stop(ctx, 24*time.Hour) }()
	select {
	case f := <-forced:
		if !f {
			t.Error("a cancelled stop of a stubborn process is not reported forced")
		}
	case <-t.Context().Done():
		t.Fatal("stop went on waiting after its context was cancelled")
	}
}

func TestOwnProcesses(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := State{Dir: filepath.Join(root, "state")}
	if err := st.prepare("test"); err != nil {
		t.Fatal(err)
	}
	clusterDir := filepath.Join(st.Clusters(), "c1")
	if err := os.MkdirAll(clusterDir, 0o755); err != nil {
		t.Fatal(err)
	}
	py := python3(t)
	sleepPy := "import time; time.sleep(60)"

	// With the marker, wherever they run and whatever their arguments.
	inCluster := startOwn(t, st, "in-cluster", clusterDir, "sleep", "60")
	elsewhere := startOwn(t, st, "elsewhere", root, py, "-c", sleepPy)
	// Without it, even in the state directory or naming it.
	inDir := startProc(t, "in-dir", clusterDir, "sleep", "60")
	namingDir := startProc(t, "naming-dir", root, py, "-c", sleepPy, st.ConfigFile("jupyterhub_config.py"))

	found := map[int]proc{}
	// Python takes a moment to start; its command line is read from /proc.
	waitFor(t, 5*time.Second, "the test processes to be found", func() bool {
		found = map[int]proc{}
		for _, p := range ownProcesses(st.ID) {
			found[p.Pid] = p
		}
		_, a := found[inCluster.Pid]
		b := found[elsewhere.Pid]
		return a && len(b.Args) > 1 && b.Args[1] == "-c"
	})
	for _, p := range []proc{inDir, namingDir} {
		if _, ok := found[p.Pid]; ok {
			t.Errorf("%s (pid %d) has no marker but was listed", p.Name, p.Pid)
		}
	}
	if _, ok := found[os.Getpid()]; ok {
		t.Error("ownProcesses lists the calling process")
	}
	if got := found[inCluster.Pid]; got.Name != "sleep 60" || got.Start != inCluster.Start || !got.alive() || !got.in(clusterDir) || got.in(filepath.Join(st.Clusters(), "c")) {
		t.Errorf("process in the cluster directory: %+v, want name \"sleep 60\", start %s and cwd %s", got, inCluster.Start, clusterDir)
	}
	if got := found[elsewhere.Pid]; !strings.HasSuffix(got.Name, " -c") || !strings.HasPrefix(got.Name, "python") {
		t.Errorf("process elsewhere is named %q, want \"python... -c\"", got.Name)
	}
	if len(found) != 2 {
		t.Errorf("found %d processes, want 2: %v", len(found), found)
	}
	if !inCluster.carries(st.ID) || inDir.carries(st.ID) || inCluster.carries("") || inCluster.carries(st.ID[1:]) {
		t.Error("carries")
	}

	// A process that ended is not listed.
	kill(inCluster)
	for _, p := range ownProcesses(st.ID) {
		if p.Pid == inCluster.Pid {
			t.Error("a killed process is still listed")
		}
	}
	if got := ownProcesses(""); len(got) != 0 {
		t.Errorf("ownProcesses without an id = %v", got)
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		path, dir string
		want      bool
	}{
		{"/a/state", "/a/state", true},
		{"/a/state/venv/bin/python", "/a/state", true},
		{"/a/state2", "/a/state", false},
		{"/a/state2/x", "/a/state", false},
		{"/a", "/a/state", false},
		{"", "/a/state", false},
	} {
		if got := within(c.path, c.dir); got != c.want {
			t.Errorf("within(%q, %q) = %v, want %v", c.path, c.dir, got, c.want)
		}
	}
	if !slices.Equal(statFields("12 (a b) c) S 1 2 3"), []string{"S", "1", "2", "3"}) {
		t.Errorf("statFields with a ')' in the command name = %q", statFields("12 (a b) c) S 1 2 3"))
	}
	if statFields("garbage") != nil {
		t.Error("statFields of garbage")
	}
}
