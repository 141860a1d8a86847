package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI serves one DaemonSet whose status is the next of answers at each
// request (the last one repeats), and records what it was asked; onAsk,
// when set, is called with the number of requests so far.
type fakeAPI struct {
	mu      sync.Mutex
	answers []string // "code body"
	asked   []string
	onAsk   func(n int)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, r.URL.EscapedPath()+" "+r.Header.Get("Authorization"))
	if f.onAsk != nil {
		f.onAsk(len(f.asked))
	}
	answer := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	var code int
	var body string
	fmt.Sscanf(answer, "%d", &code)
	body = answer[strings.Index(answer, " ")+1:]
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

func daemonSetJSON(current, desired, ready int) string {
	return fmt.Sprintf(`200 {"kind":"DaemonSet","status":{"currentNumberScheduled":%d,"desiredNumberScheduled":%d,"numberReady":%d}}`, current, desired, ready)
}

// start serves f over TLS and returns an awaiter of it that trusts the
// server's certificate through a CA file, as the pod's flags give it.
func start(t *testing.T, f *fakeAPI, schedulingWait time.Duration) *awaiter {
	t.Helper()
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := newClient(ca)
	if err != nil {
		t.Fatal(err)
	}
	return &awaiter{
		client:         client,
		url:            daemonSetURL(srv.URL+"/", "hub ns", "hook-image-puller"),
		tokenPath:      token,
		schedulingWait: schedulingWait,
		interval:       time.Millisecond,
		retryFor:       time.Second,
		logf:           t.Logf,
	}
}

func TestWaitsForTheDesiredPods(t *testing.T) {
	f := &fakeAPI{answers: []string{
		daemonSetJSON(0, 2, 0),
		"503 overloaded",
		daemonSetJSON(2, 2, 1),
		daemonSetJSON(2, 2, 2),
	}}
	a := start(t, f, -time.Second)
	if err := a.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 4 {
		t.Errorf("asked %d times, want 4 (one retry after the 503)", len(f.asked))
	}
	want := "/apis/apps/v1/namespaces/hub%20ns/daemonsets/hook-image-puller Bearer secret-token"
	if f.asked[0] != want {
		t.Errorf("asked %q, want %q", f.asked[0], want)
	}
}

func TestAfterTheSchedulingWaitOnlyScheduledPodsCount(t *testing.T) {
	// One of three nodes has no room: strict waiting would never end.
	unschedulable := daemonSetJSON(2, 3, 2)

	// Within the scheduling wait, every desired pod counts: the awaiter
	// keeps asking, here until the test has seen five requests.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeAPI{answers: []string{unschedulable}, onAsk: func(n int) {
		if n == 5 {
			cancel()
		}
	}}
	if err := start(t, f, -time.Second).run(ctx); err != context.Canceled || len(f.asked) < 5 {
		t.Errorf("within the scheduling wait: run = %v after %d requests, want it still waiting for the third pod", err, len(f.asked))
	}

	// Once the wait has passed, the scheduled pods being ready is enough.
	f = &fakeAPI{answers: []string{unschedulable}}
	if err := start(t, f, 0).run(context.Background()); err != nil || len(f.asked) != 1 {
		t.Errorf("after the scheduling wait: run = %v after %d requests, want done at the first answer", err, len(f.asked))
	}
}

func TestAForbiddenAnswerEndsTheWait(t *testing.T) {
	f := &fakeAPI{answers: []string{`403 {"kind":"Status","reason":"Forbidden"}`}}
	a := start(t, f, 0)
	err := a.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("run = %v, want the 403 answer", err)
	}
	if len(f.asked) != 1 {
		t.Errorf("asked %d times, want 1: a 403 is not retried", len(f.asked))
	}
}

func TestRetriesEndAfterRetryFor(t *testing.T) {
	f := &fakeAPI{answers: []string{"500 etcd is down"}}
	a := start(t, f, 0)
	a.retryFor = 20 * time.Millisecond
	if err := a.run(context.Background()); err == nil || !strings.Contains(err.Error(), "etcd is down") {
		t.Fatalf("run = %v, want the last 500 answer", err)
	}
}

func TestReady(t *testing.T) {
	for _, c := range []struct {
		s      daemonSetStatus
		strict bool
		want   bool
	}{
		{daemonSetStatus{CurrentNumberScheduled: 2, DesiredNumberScheduled: 3, NumberReady: 2}, true, false},
		{daemonSetStatus{CurrentNumberScheduled: 2, DesiredNumberScheduled: 3, NumberReady: 2}, false, true},
		{daemonSetStatus{CurrentNumberScheduled: 3, DesiredNumberScheduled: 3, NumberReady: 3}, true, true},
		{daemonSetStatus{CurrentNumberScheduled: 3, DesiredNumberScheduled: 3, NumberReady: 1}, false, false},
	} {
		if got := ready(c.s, c.strict); got != c.want {
			t.Errorf("ready(%+v, strict=%v) = %v, want %v", c.s, c.strict, got, c.want)
		}
	}
}
