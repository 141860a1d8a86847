package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dhub/internal/deploy"
)

// down on the local target asks before it stops a running hub, as on the
// other targets: only "yes" stops it; any other answer, or no terminal to
// ask on, stops nothing.
func TestLocalDownAsksWhileTheHubRuns(t *testing.T) {
	state := t.TempDir()
	const id = "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(state, "dhub-state.json"), []byte(`{"hub": "lab-hub", "id": "`+id+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A process of the hub: it carries the hub's marker, as the hub's
	// proxy and users' servers do.
	p := exec.Command("sleep", "600")
	p.Dir, p.Env = state, append(os.Environ(), "DHUB_HUB_ID="+id)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.Wait(); close(exited) }()
	t.Cleanup(func() { p.Process.Kill(); <-exited })
	path := writeHub(t, "name: lab-hub\ntarget: local\nlocal:\n  stateDir: "+state+"\n")
	const question = "Stop hub lab-hub? Everyone using it is disconnected; their files stay. Only 'yes' goes on: "

	code, stdout, stderr := run(t, "down", "-f", path)
	if code != 1 || strings.Contains(stderr, question) ||
		!strings.Contains(stderr, "error: not asking: standard input is not a terminal; run 'dhub down --yes -f "+path+"' to go ahead without a question") {
		t.Errorf("not a terminal: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, answer := range notYes {
		code, stdout, stderr := runStreams(t, deploy.Options{}, answering(answer), "down", "-f", path)
		if code != 1 || !strings.Contains(stderr, question) || !strings.Contains(stderr, "error: cancelled (only 'yes' goes on): nothing was changed") {
			t.Errorf("answer %q: exit %d\n%s%s", answer, code, stdout, stderr)
		}
	}
	select {
	case <-exited:
		t.Fatal("a down that was not answered yes stopped the hub's process")
	default:
	}
	// down stops only what it finds running: the process was left by
	// every down before this one.
	code, stdout, stderr = runStreams(t, deploy.Options{}, answering("yes\n"), "down", "-f", path)
	if code != 0 || !strings.Contains(stderr, question) || !strings.Contains(stdout, "stopped: sleep") ||
		!strings.Contains(stdout, "no process of the hub is left") {
		t.Fatalf("yes: exit %d\n%s%s", code, stdout, stderr)
	}
	<-exited
	// Nothing runs: nothing to ask, even without a terminal.
	if code, stdout, stderr := run(t, "down", "-f", path); code != 0 || strings.Contains(stderr, question) {
		t.Errorf("down of a stopped hub: exit %d\n%s%s", code, stdout, stderr)
	}
}
