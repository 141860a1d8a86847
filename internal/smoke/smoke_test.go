package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestRunRejectsNoWorkers(t *testing.T) {
	t.Parallel()
	if _, err := Run(t.Context(), Target{HubURL: "http://127.0.0.1:1"}, Options{Workers: 0}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--workers 0") {
		t.Errorf("err = %v", err)
	}
}

// A hub that does not answer fails the first phase, named, and nothing
// after it runs.
func TestRunReportsAHubThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hub := "http://" + l.Addr().String()
	l.Close()
	var progress bytes.Buffer
	res, err := Run(t.Context(), Target{HubURL: hub + "/", APIToken: "x", Login: &Login{User: "admin", Password: "pw"}}, Options{Workers: 2, Timeout: 10 * time.Second}, &progress)
	if !errors.Is(err, ErrFailed) || res == nil {
		t.Fatalf("Run = %+v, %v; want a result and ErrFailed", res, err)
	}
	if res.OK || res.Workers != 2 || res.User != DefaultUser || len(res.Phases) != 1 || res.Phases[0].Name != "login" || res.Phases[0].OK {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(res.Error, "login: the hub does not answer at "+hub) {
		t.Errorf("error = %q", res.Error)
	}
	if !strings.Contains(progress.String(), "smoke: login FAILED") {
		t.Errorf("progress = %q", progress.String())
	}
}

// The spawn progress stream as JupyterHub sends it: server-sent events
// whose data is JSON, ending with ready (or failed).
func TestReadProgress(t *testing.T) {
	t.Parallel()
	stream := "data: {\"progress\": 0, \"message\": \"Server requested\"}\n\n" +
		": keepalive\n\n" +
		"data: {\"progress\": 50, \"message\": \"Spawning server...\"}\n\n" +
		"data: {\"progress\": 100, \"ready\": true, \"message\": \"Server ready at /user/dhub-smoke/\", \"html_message\": \"x\", \"url\": \"/user/dhub-smoke/\"}\n\n" +
		"data: {\"progress\": 100, \"message\": \"after the end\"}\n\n"
	var seen []string
	ev, err := readProgress(strings.NewReader(stream), func(e progressEvent) { seen = append(seen, e.Message) })
	if err != nil || !ev.Ready || ev.URL != "/user/dhub-smoke/" || len(seen) != 3 {
		t.Errorf("readProgress = %+v, %v; saw %q", ev, err, seen)
	}
	failed := "data: {\"progress\": 100, \"failed\": true, \"message\": \"Spawn failed: exit 1\"}\n\n"
	if ev, err := readProgress(strings.NewReader(failed), func(progressEvent) {}); err != nil || !ev.Failed || ev.Message != "Spawn failed: exit 1" {
		t.Errorf("failed stream: %+v, %v", ev, err)
	}
	if _, err := readProgress(strings.NewReader("data: {\"progress\": 10}\n\n"), func(progressEvent) {}); err == nil {
		t.Error("a stream that ends before ready was accepted")
	}
}

// kernelPeer answers a kernel's websocket as jupyter-server relays a
// kernel: every request gets busy, its output and idle on iopub and its
// reply on shell, here with the reply after idle, and a message of another
// request in between. After answering the cell "idle()" it pings the
// client, as jupyter-server pings every connection and closes one whose
// pongs stop, and sends on pings whether the pong came within 5 s.
func kernelPeer(t *testing.T, pings chan<- error) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/kernels") {
			if r.Header.Get("Authorization") != "token tok" {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(`{"id": "k1", "name": "python3"}`))
			return
		}
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			_, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var req message
			json.Unmarshal(data, &req)
			send := func(channel, msgType string, content map[string]any, parent string) {
				b, _ := json.Marshal(message{Header: header{MsgID: newID(), MsgType: msgType}, ParentHeader: header{MsgID: parent}, Channel: channel, Content: content})
				conn.Write(r.Context(), websocket.MessageText, b)
			}
			id := req.Header.MsgID
			send("iopub", "status", map[string]any{"execution_state": "busy"}, id)
			send("iopub", "stream", map[string]any{"name": "stdout", "text": "noise of another cell\n"}, "other")
			reply := map[string]any{"status": "ok"}
			if code, _ := req.Content["code"].(string); strings.Contains(code, "boom") {
				send("iopub", "error", map[string]any{"ename": "RuntimeError", "evalue": "boom", "traceback": []any{"\x1b[0;31mTraceback\x1b[0m", "RuntimeError: boom"}}, id)
				reply = map[string]any{"status": "error", "ename": "RuntimeError", "evalue": "boom"}
			} else if req.Header.MsgType == "execute_request" {
				send("iopub", "stream", map[string]any{"name": "stdout", "text": "DHUB-RESULT {\"cluster\": \"c1\"}\n"}, id)
				send("iopub", "stream", map[string]any{"name": "stderr", "text": "a warning\n"}, id)
			}
			send("iopub", "status", map[string]any{"execution_state": "idle"}, id)
			send("shell", strings.TrimSuffix(req.Header.MsgType, "_request")+"_reply", reply, id)
			if code, _ := req.Content["code"].(string); code == "idle()" {
				// The pong arrives through this loop's Read.
				go func() {
					ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
					defer cancel()
					pings <- conn.Ping(ctx)
				}()
			}
		}
	}))
}

func TestKernelExecute(t *testing.T) {
	t.Parallel()
	pings := make(chan error, 1)
	srv := kernelPeer(t, pings)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	k, err := startKernel(ctx, srv.Client(), srv.URL+"/user/dhub-smoke/", "dhub-smoke", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer k.close(ctx)
	out, err := k.execute(ctx, "_dhub_smoke.cluster_start()")
	if err != nil || out != "DHUB-RESULT {\"cluster\": \"c1\"}\n" {
		t.Errorf("execute = %q, %v; want only this cell's stdout", out, err)
	}
	c := &check{res: &Result{}}
	if err := c.record(out); err != nil || c.res.Cluster != "c1" {
		t.Errorf("record: %+v, %v", c.res, err)
	}
	_, err = k.execute(ctx, "raise RuntimeError('boom')")
	var ce *cellError
	if !errors.As(err, &ce) || ce.Error() != "RuntimeError: boom" || ce.Traceback[0] != "Traceback" {
		t.Errorf("a failing cell: %v (%+v)", err, ce)
	}
	// Between cells the connection still answers the server's pings, as
	// a browser's does: an open notebook outlives the server's ping timeout.
	if _, err := k.execute(ctx, "idle()"); err != nil {
		t.Fatal(err)
	}
	if err := <-pings; err != nil {
		t.Errorf("the server's ping while no cell runs: %v", err)
	}
	if out, err := k.execute(ctx, "after()"); err != nil || !strings.Contains(out, "DHUB-RESULT") {
		t.Errorf("a cell after the ping: %q, %v", out, err)
	}
	if _, err := startKernel(ctx, srv.Client(), srv.URL+"/user/dhub-smoke", "dhub-smoke", "wrong"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a refused token: %v", err)
	}
}

func TestTracebackEnd(t *testing.T) {
	t.Parallel()
	tb := []string{"Traceback (most recent call last):\n  File \"x\", line 1", "  in f", "ValueError: v"}
	if got := tracebackEnd(tb, 2); got != "      in f\n    ValueError: v" {
		t.Errorf("tracebackEnd = %q", got)
	}
}

func TestCellsAreValidPython(t *testing.T) {
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required by this test: %v", err)
	}
	path := filepath.Join(t.TempDir(), "cells.py")
	if err := os.WriteFile(path, []byte(cells), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", path).CombinedOutput()
	if err != nil {
		t.Fatalf("the kernel's cells are not valid Python: %v\n%s", err, out)
	}
	for _, method := range []string{"cluster_start", "workers_ready", "compute", "dashboard", "shutdown", "compare_local"} {
		if !strings.Contains(cells, "def "+method+"(self)") {
			t.Errorf("cells.py has no method %s, which a phase calls", method)
		}
	}
}
