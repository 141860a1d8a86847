package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// probeTimeout bounds each request to the hub: a probe of a process that
// hangs must not hang dhub.
const probeTimeout = 3 * time.Second

// listening reports whether something accepts TCP connections on host:port.
func listening(host string, port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// getJSON GETs url into v, with an Authorization header when auth is not
// empty ("token X" for the hub, "jupyterhub X" for the gateway); any
// non-200 is an error.
func getJSON(ctx context.Context, url, auth string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: probeTimeout}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// check is one readiness probe of the local hub.
type check struct {
	name string
	url  string
	// proc is the process the probe depends on; if it dies, waiting stops.
	proc string
}

// waitReady polls each check until it answers 200, a process it depends on
// dies, or the timeout passes. Progress lines name what is awaited.
func waitReady(ctx context.Context, checks []check, procs map[string]proc, timeout time.Duration, progress io.Writer) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for _, c := range checks {
		fmt.Fprintf(progress, "waiting for %s (%s)\n", c.name, c.url)
		for {
			if err := getJSON(ctx, c.url, "", nil); err == nil {
				fmt.Fprintf(progress, "%s ready after %s\n", c.name, time.Since(start).Round(100*time.Millisecond))
				break
			}
			if p, ok := procs[c.proc]; ok && !p.alive() {
				return &startError{process: c.proc, reason: "exited during start"}
			}
			if time.Now().After(deadline) {
				return &startError{process: c.proc, reason: fmt.Sprintf("did not answer %s within %s", c.url, timeout)}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// startError names the process that failed to start; Up adds its log tail.
type startError struct {
	process string
	reason  string
	logTail string
	logFile string
}

func (e *startError) Error() string {
	msg := fmt.Sprintf("%s %s", e.process, e.reason)
	if e.logFile != "" {
		msg += fmt.Sprintf("; the end of %s:\n%s", e.logFile, e.logTail)
	}
	return msg
}

// probe asks each check once, without waiting: nil when all answer, else
// which one does not and why.
func probe(ctx context.Context, checks []check) error {
	for _, c := range checks {
		if err := getJSON(ctx, c.url, "", nil); err != nil {
			return fmt.Errorf("%s does not answer: %w", c.name, err)
		}
	}
	return nil
}
