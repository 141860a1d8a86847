package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// down on the local target asks before it stops a running hub, as on the
// other targets: without a terminal it refuses unless --yes, and stops
// nothing.
func TestLocalDownAsksWhileTheHubRuns(t *testing.T) {
	state := t.TempDir()
	const id = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(state, "dhub-state.json"), []byte(`{"hub": "lab-hub", "id": "`+id+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A process of the hub: it carries the hub's marker, as the hub's
	// proxy and users' servers do.
	p := exec.Command("sleep", "60")
	p.Dir, p.Env = state, append(os.Environ(), "DHUB_HUB_ID="+id)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.Wait(); close(exited) }()
	t.Cleanup(func() { p.Process.Kill(); <-exited })
	path := writeHub(t, "name: lab-hub\ntarget: local\nlocal:\n  stateDir: "+state+"\n")

	code, stdout, stderr := run(t, "down", "-f", path)
	if code != 1 || !strings.Contains(stderr, "not asking: standard input is not a terminal; run 'dhub down --yes -f "+path+"'") {
		t.Fatalf("down without --yes: exit %d\n%s%s", code, stdout, stderr)
	}
	select {
	case <-exited:
		t.Fatal("down without --yes stopped the hub's process")
	case <-time.After(200 * time.Millisecond):
	}
	code, stdout, stderr = run(t, "down", "-f", path, "--yes")
	if code != 0 {
		t.Fatalf("down --yes: exit %d\n%s%s", code, stdout, stderr)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Error("down --yes left the hub's process running")
	}
	// Nothing runs: nothing to ask.
	if code, stdout, stderr := run(t, "down", "-f", path); code != 0 {
		t.Errorf("down of a stopped hub: exit %d\n%s%s", code, stdout, stderr)
	}
}
