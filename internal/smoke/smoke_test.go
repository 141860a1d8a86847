package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeRunner records what Run hands it and answers with canned output.
type fakeRunner struct {
	stdout string
	err    error

	calls    int
	script   []byte
	env      map[string]string
	deadline time.Time
}

func (f *fakeRunner) RunScript(ctx context.Context, script []byte, env map[string]string, progress io.Writer) ([]byte, error) {
	f.calls++
	f.script, f.env = script, env
	f.deadline, _ = ctx.Deadline()
	fmt.Fprintln(progress, "smoke: hub login ...")
	return []byte(f.stdout), f.err
}

var target = Target{
	HubURL:              "http://127.0.0.1:8000",
	GatewayAddress:      "http://127.0.0.1:8000/services/dask-gateway",
	GatewayProxyAddress: "gateway://127.0.0.1:8004",
	APIToken:            "s3cr3t-dhub-token-0123456789abcdef",
}

const passing = `{"ok": true, "user": "dhub-smoke", "cluster": "abc123", "workers": 3, "workersSeen": 3,
 "phases": [{"name": "hub login", "seconds": 0.1, "ok": true}, {"name": "cluster start", "seconds": 2.5, "ok": true},
            {"name": "workers ready", "seconds": 4.0, "ok": true}, {"name": "compute", "seconds": 1.5, "ok": true},
            {"name": "shutdown", "seconds": 0.5, "ok": true}],
 "result": 2666664666667000000, "expected": 2666664666667000000, "localClusterComputeSeconds": 0.5}`

// oneLine compacts JSON onto one line, as the script prints it.
func oneLine(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRunPassesSettingsThroughTheEnvironment(t *testing.T) {
	r := &fakeRunner{stdout: oneLine(t, passing) + "\n"}
	var progress bytes.Buffer
	start := time.Now()
	if _, err := Run(t.Context(), r, target, Options{Workers: 3, Timeout: 90 * time.Second, CompareLocal: true}, &progress); err != nil {
		t.Fatal(err)
	}
	if r.calls != 1 {
		t.Fatalf("the runner ran %d times", r.calls)
	}
	want := map[string]string{
		"DHUB_HUB_URL":               target.HubURL,
		"DHUB_API_TOKEN":             target.APIToken,
		"DHUB_GATEWAY_ADDRESS":       target.GatewayAddress,
		"DHUB_GATEWAY_PROXY_ADDRESS": target.GatewayProxyAddress,
		"DHUB_SMOKE_WORKERS":         "3",
		"DHUB_SMOKE_TIMEOUT":         "90",
		"DHUB_SMOKE_COMPARE_LOCAL":   "1",
	}
	if len(r.env) != len(want) {
		t.Errorf("env = %v, want %v", r.env, want)
	}
	for k, v := range want {
		if r.env[k] != v {
			t.Errorf("env %s = %q, want %q", k, r.env[k], v)
		}
	}
	// The token travels in the environment only, never in the script (which
	// is written to a file) nor anywhere else the runner sees.
	if !bytes.Equal(r.script, Script) {
		t.Error("the runner did not get the embedded script")
	}
	if bytes.Contains(r.script, []byte(target.APIToken)) || strings.Contains(progress.String(), target.APIToken) {
		t.Error("the token leaked outside the environment")
	}
	// The script reads every variable Run sets.
	for k := range want {
		if !bytes.Contains(Script, []byte(`"`+k+`"`)) {
			t.Errorf("the script does not read %s", k)
		}
	}
	// The run is bounded: twice the timeout and a minute.
	if r.deadline.IsZero() {
		t.Fatal("the runner's context has no deadline")
	}
	if d := r.deadline.Sub(start); d < 4*time.Minute-time.Second || d > 4*time.Minute+time.Second {
		t.Errorf("the runner's deadline is %s away, want 2*90s+1m", d)
	}
	if !strings.Contains(progress.String(), "smoke: hub login") {
		t.Error("progress did not reach the runner's writer")
	}
}

func TestRunDefaults(t *testing.T) {
	r := &fakeRunner{stdout: `{"ok": true, "workers": 1, "phases": []}`}
	res, err := Run(t.Context(), r, Target{HubURL: "http://h"}, Options{Workers: 1}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if r.env["DHUB_SMOKE_TIMEOUT"] != "300" || r.env["DHUB_SMOKE_WORKERS"] != "1" {
		t.Errorf("env = %v, want a 300 s default timeout and 1 worker", r.env)
	}
	if _, ok := r.env["DHUB_SMOKE_COMPARE_LOCAL"]; ok {
		t.Error("the LocalCluster comparison was asked for without CompareLocal")
	}
	if res.Ratio() != 0 {
		t.Errorf("Ratio without a comparison = %v, want 0", res.Ratio())
	}
}

func TestRunPassingResult(t *testing.T) {
	r := &fakeRunner{stdout: oneLine(t, passing) + "\n"}
	res, err := Run(t.Context(), r, target, Options{Workers: 3}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.User != "dhub-smoke" || res.Cluster != "abc123" || res.Workers != 3 || res.WorkersSeen != 3 ||
		res.Result != 2666664666667000000 || res.Result != res.Expected || len(res.Phases) != 5 {
		t.Errorf("result = %+v", res)
	}
	if got := res.Phase("compute"); got != 1.5 {
		t.Errorf("Phase(compute) = %v, want 1.5", got)
	}
	if got := res.Phase("cluster start"); got != 2.5 {
		t.Errorf("Phase(cluster start) = %v, want 2.5", got)
	}
	if got := res.Phase("no such phase"); got != 0 {
		t.Errorf("Phase of a missing phase = %v, want 0", got)
	}
	if got := res.Ratio(); got != 3 {
		t.Errorf("Ratio = %v, want 1.5/0.5 = 3", got)
	}
}

func TestRunFailingResult(t *testing.T) {
	out := `{"ok": false, "error": "RuntimeError: Dask Gateway at http://h/services/dask-gateway did not create a cluster", "user": "dhub-smoke", "workers": 2,
	 "phases": [{"name": "hub login", "seconds": 0.2, "ok": true}, {"name": "cluster start", "seconds": 1.0, "ok": false}]}`
	r := &fakeRunner{stdout: oneLine(t, out) + "\n", err: errors.New("exit status 1")}
	res, err := Run(t.Context(), r, target, Options{Workers: 2}, io.Discard)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want one wrapping ErrFailed", err)
	}
	if !strings.Contains(err.Error(), "did not create a cluster") {
		t.Errorf("err = %q, want the script's error text", err)
	}
	if res == nil {
		t.Fatal("no result for a check that ran and failed")
	}
	if res.OK || len(res.Phases) != 2 || res.Phases[1].OK || res.Phase("cluster start") != 1.0 {
		t.Errorf("result = %+v", res)
	}

	// ok false is a failure even when the script exited 0.
	r = &fakeRunner{stdout: `{"ok": false, "error": "shutdown failed: boom", "phases": []}`}
	res, err = Run(t.Context(), r, target, Options{Workers: 2}, io.Discard)
	if !errors.Is(err, ErrFailed) || res == nil || !strings.Contains(err.Error(), "shutdown failed: boom") {
		t.Errorf("Run = %+v, %v", res, err)
	}
}

func TestRunIgnoresNoiseBeforeTheResult(t *testing.T) {
	noise := "distributed.client - WARNING - something {not json}\n" +
		`{"partial": "json from a library"}` + "\n" +
		"UserWarning: blah\n"
	for name, stdout := range map[string]string{
		"noise first":          noise + oneLine(t, passing) + "\n",
		"trailing blank lines": noise + oneLine(t, passing) + "\n\n\n",
		"no final newline":     noise + oneLine(t, passing),
		"CRLF":                 strings.ReplaceAll(noise, "\n", "\r\n") + oneLine(t, passing) + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Run(t.Context(), &fakeRunner{stdout: stdout}, target, Options{Workers: 3}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.Cluster != "abc123" || res.Phase("compute") != 1.5 {
				t.Errorf("result = %+v", res)
			}
		})
	}
}

func TestRunWithoutAResult(t *testing.T) {
	// The script crashed: no JSON, and the runner's error.
	r := &fakeRunner{stdout: "Traceback (most recent call last):\n  ...\nModuleNotFoundError: No module named 'dask_gateway'\n", err: errors.New("exit status 1")}
	res, err := Run(t.Context(), r, target, Options{Workers: 2}, io.Discard)
	if res != nil {
		t.Errorf("result %+v from output without one", res)
	}
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("err = %v, want ErrFailed with the runner's error", err)
	}

	// The runner could not run anything.
	r = &fakeRunner{err: errors.New("fork/exec /state/venv/bin/python: no such file or directory")}
	if _, err := Run(t.Context(), r, target, Options{Workers: 2}, io.Discard); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v", err)
	}

	// The script exited 0 but printed no result.
	r = &fakeRunner{stdout: "hello\n"}
	if _, err := Run(t.Context(), r, target, Options{Workers: 2}, io.Discard); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "printed no result") {
		t.Errorf("err = %v", err)
	}
}

func TestRunRejectsNoWorkers(t *testing.T) {
	for _, w := range []int{0, -2} {
		r := &fakeRunner{stdout: passing}
		_, err := Run(t.Context(), r, target, Options{Workers: w}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--workers %d", w)) {
			t.Errorf("Workers %d: err = %v", w, err)
		}
		if errors.Is(err, ErrFailed) {
			t.Errorf("Workers %d: a usage error counts as a failed check", w)
		}
		if r.calls != 0 {
			t.Errorf("Workers %d: the script ran", w)
		}
	}
}

// python3 is on every machine these tests run on.
func python3(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required by this test: %v", err)
	}
	return p
}

func TestScriptIsValidPython(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smoke.py")
	if err := os.WriteFile(path, Script, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python3(t), "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path).CombinedOutput()
	if err != nil {
		t.Fatalf("the embedded smoke script is not valid Python: %v\n%s", err, out)
	}
}

// pythonRunner runs the script with plain python3, like the local target's
// runner does with the hub's environment.
type pythonRunner struct{ python string }

func (p pythonRunner) RunScript(ctx context.Context, script []byte, env map[string]string, progress io.Writer) ([]byte, error) {
	dir, err := os.MkdirTemp("", "smoke")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "smoke.py")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, p.python, path)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, progress
	err = cmd.Run()
	return out.Bytes(), err
}

// The script and Run agree on the result: against a hub that does not
// answer, the script (standard library only up to that point) reports a
// failed "hub login" phase, which Run returns as a failed check.
func TestScriptReportsAHubThatDoesNotAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hub := "http://" + l.Addr().String()
	l.Close()
	var progress bytes.Buffer
	res, err := Run(t.Context(), pythonRunner{python3(t)}, Target{HubURL: hub, GatewayAddress: hub + "/services/dask-gateway", APIToken: "x"}, Options{Workers: 2, Timeout: 10 * time.Second}, &progress)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed\nstderr:\n%s", err, progress.String())
	}
	if res == nil {
		t.Fatalf("no result: %v\nstderr:\n%s", err, progress.String())
	}
	if res.OK || res.Workers != 2 || res.User != "dhub-smoke" || len(res.Phases) != 1 || res.Phases[0].Name != "hub login" || res.Phases[0].OK {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(res.Error, "the hub at "+hub+" does not answer") || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("error = %q, result error %q", err, res.Error)
	}
	if !strings.Contains(progress.String(), "smoke: hub login FAILED") {
		t.Errorf("progress = %q", progress.String())
	}
}
