package local

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyServer answers 503 to its first `failures` requests, then 200.
func flakyServer(t *testing.T, failures int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= failures {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"version": "5.3.0"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestWaitReadySucceedsOnceHealthy(t *testing.T) {
	t.Parallel()
	gw, gwHits := flakyServer(t, 3)
	hub, hubHits := flakyServer(t, 1)
	p := startProc(t, procGateway, "", "sleep", "60")
	checks := []check{
		{name: "dask gateway", url: gw.URL + "/api/health", proc: procGateway},
		{name: "jupyterhub", url: hub.URL + "/hub/api", proc: procHub},
	}
	var progress bytes.Buffer
	if err := waitReady(t.Context(), checks, map[string]proc{procGateway: p}, 10*time.Second, &progress); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if gwHits.Load() != 4 || hubHits.Load() != 2 {
		t.Errorf("requests: gateway %d, hub %d; want 4 and 2 (one past the failures)", gwHits.Load(), hubHits.Load())
	}
	out := progress.String()
	for _, want := range []string{"waiting for dask gateway (" + gw.URL + "/api/health)", "dask gateway ready after", "waiting for jupyterhub", "jupyterhub ready after"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
}

func TestWaitReadyStopsWhenTheProcessDies(t *testing.T) {
	t.Parallel()
	p := startProc(t, procHub, "", "sleep", "60")
	// The process dies once waitReady is polling: on its first probe.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		syscall.Kill(p.Pid, syscall.SIGKILL)
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	// Were the death missed, the wait would end in a timeout instead.
	err := waitReady(t.Context(), []check{{name: "jupyterhub", url: srv.URL, proc: procHub}}, map[string]proc{procHub: p}, 2*time.Minute, &bytes.Buffer{})
	var se *startError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *startError", err)
	}
	if se.process != procHub || !strings.Contains(se.Error(), "jupyterhub exited during start") {
		t.Errorf("startError = %q (process %q), want jupyterhub exited during start", se.Error(), se.process)
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	t.Parallel()
	srv, _ := flakyServer(t, 1<<30)
	p := startProc(t, procGateway, "", "sleep", "60")
	url := srv.URL + "/services/dask-gateway/api/health"
	err := waitReady(t.Context(), []check{{name: "dask gateway", url: url, proc: procGateway}}, map[string]proc{procGateway: p}, 500*time.Millisecond, &bytes.Buffer{})
	var se *startError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *startError", err)
	}
	if se.process != procGateway || !strings.Contains(se.Error(), "dask-gateway did not answer "+url+" within 500ms") {
		t.Errorf("startError = %q", se.Error())
	}
	if !p.alive() {
		t.Error("waitReady touched the process")
	}

	// Nothing listening at all times out the same way.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hub/api"
	l.Close()
	err = waitReady(t.Context(), []check{{name: "jupyterhub", url: closed, proc: procHub}}, nil, 300*time.Millisecond, &bytes.Buffer{})
	if !errors.As(err, &se) || se.process != procHub {
		t.Errorf("closed port: err = %v", err)
	}
}

func TestWaitReadyHonoursContext(t *testing.T) {
	t.Parallel()
	srv, _ := flakyServer(t, 1<<30)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := waitReady(ctx, []check{{name: "jupyterhub", url: srv.URL, proc: procHub}}, nil, time.Minute, &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's error", err)
	}
}

func TestStartErrorWithLog(t *testing.T) {
	e := &startError{process: "jupyterhub", reason: "exited during start", logFile: "/s/logs/jupyterhub.log", logTail: "    Traceback"}
	if got, want := e.Error(), "jupyterhub exited during start; the end of /s/logs/jupyterhub.log:\n    Traceback"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestGetJSON(t *testing.T) {
	var gotAuth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"version": "2025.4.0"}`))
		case "/bad":
			w.Write([]byte(`not json`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var v struct{ Version string }
	if err := getJSON(t.Context(), srv.URL+"/ok", "token tok123", &v); err != nil || v.Version != "2025.4.0" {
		t.Errorf("getJSON = %+v, %v", v, err)
	}
	if gotAuth.Load() != "token tok123" {
		t.Errorf("Authorization = %q", gotAuth.Load())
	}
	if err := getJSON(t.Context(), srv.URL+"/ok", "", nil); err != nil || gotAuth.Load() != "" {
		t.Errorf("without a token: %v, Authorization %q", err, gotAuth.Load())
	}
	if err := getJSON(t.Context(), srv.URL+"/missing", "", nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: err = %v", err)
	}
	if err := getJSON(t.Context(), srv.URL+"/bad", "", &v); err == nil {
		t.Error("a body that is not JSON was accepted")
	}
}

func TestListeningAndFreePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !listening("127.0.0.1", port) || portFree("127.0.0.1", port) {
		t.Error("a held port is not seen as in use")
	}
	l.Close()
	if listening("127.0.0.1", port) || !portFree("127.0.0.1", port) {
		t.Error("a released port is not seen as free")
	}
	free, err := freePort()
	if err != nil || free <= 0 || !portFree("127.0.0.1", free) {
		t.Errorf("freePort = %d, %v", free, err)
	}
}
