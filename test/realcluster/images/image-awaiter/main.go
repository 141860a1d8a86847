// Command image-awaiter is the program of the image the JupyterHub chart's
// hook-image-awaiter Job runs (quay.io/jupyterhub/k8s-image-awaiter), built
// by scripts/node-images.sh for dhub's real-node test tier, where no
// registry is reachable and the upstream program is not buildable (its
// source is no Go module the module proxy serves).
//
// It does the upstream job, with the flags the chart 4.4.0's
// templates/image-puller/job.yaml passes: it reads the hook-image-puller
// DaemonSet through the Kubernetes API once a second and exits 0 when its
// pods are ready; their init containers pull the user images, so ready pods
// mean every node has them. For the first -pod-scheduling-wait-duration
// seconds it waits for the desired number of pods (one per node); after
// that only for the pods that were scheduled, so that a node without room
// for one does not hold a Helm upgrade forever (-1 waits for all forever).
// Connection errors and 5xx or 429 answers are retried for a minute; any
// other answer that is not the DaemonSet is an error.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	caPath := flag.String("ca-path", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "CA bundle that signed the API server's certificate")
	tokenPath := flag.String("auth-token-path", "/var/run/secrets/kubernetes.io/serviceaccount/token", "bearer token for the API server, read before each request")
	server := flag.String("api-server-address", "", "URL of the Kubernetes API server, such as https://kubernetes.default.svc:443")
	namespace := flag.String("namespace", "", "namespace of the DaemonSet")
	daemonSet := flag.String("daemonset", "hook-image-puller", "name of the DaemonSet whose pods pull the images")
	schedulingWait := flag.Int("pod-scheduling-wait-duration", 10, "seconds to wait for the desired number of pods to be ready before waiting only for the scheduled ones; -1 waits for the desired number forever")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)
	if *server == "" || *namespace == "" {
		log.Fatal("image-awaiter: -api-server-address and -namespace are required")
	}

	client, err := newClient(*caPath)
	if err != nil {
		log.Fatalf("image-awaiter: %v", err)
	}
	a := &awaiter{
		client:         client,
		url:            daemonSetURL(*server, *namespace, *daemonSet),
		tokenPath:      *tokenPath,
		schedulingWait: time.Duration(*schedulingWait) * time.Second,
		interval:       time.Second,
		retryFor:       time.Minute,
		logf:           log.Printf,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := a.run(ctx); err != nil {
		log.Fatalf("image-awaiter: %v", err)
	}
}

// newClient returns an HTTP client that trusts only the CA bundle at caPath.
func newClient(caPath string) (*http.Client, error) {
	pem, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in CA bundle %s", caPath)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

// daemonSetURL is the API path of one DaemonSet.
func daemonSetURL(server, namespace, name string) string {
	return strings.TrimSuffix(server, "/") + "/apis/apps/v1/namespaces/" +
		url.PathEscape(namespace) + "/daemonsets/" + url.PathEscape(name)
}

// awaiter polls one DaemonSet until its pods are ready.
type awaiter struct {
	client         *http.Client
	url            string
	tokenPath      string
	schedulingWait time.Duration // negative: forever
	interval       time.Duration
	retryFor       time.Duration // how long errors worth retrying may last
	logf           func(format string, args ...any)
}

// daemonSetStatus holds the fields of a DaemonSet's status the wait needs;
// the API always sets them.
type daemonSetStatus struct {
	// CurrentNumberScheduled counts the nodes that run a pod of it and should.
	CurrentNumberScheduled int `json:"currentNumberScheduled"`
	// DesiredNumberScheduled counts the nodes that should run a pod of it.
	DesiredNumberScheduled int `json:"desiredNumberScheduled"`
	// NumberReady counts the nodes whose pod of it is ready.
	NumberReady int `json:"numberReady"`
}

// run polls until the pods are ready, an error is final, or ctx ends.
func (a *awaiter) run(ctx context.Context) error {
	start := time.Now()
	var failingSince time.Time
	for {
		status, err := a.get(ctx)
		var answer *statusError
		switch {
		case err == nil:
			failingSince = time.Time{}
			strict := a.schedulingWait < 0 || time.Since(start) < a.schedulingWait
			a.logf("%d image puller pods are ready out of the %d currently scheduled and %d desired number scheduled.",
				status.NumberReady, status.CurrentNumberScheduled, status.DesiredNumberScheduled)
			if ready(status, strict) {
				a.logf("Image download on nodes awaited successfully: shutting down!")
				return nil
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &answer) && !answer.retry():
			return err
		default:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > a.retryFor {
				return fmt.Errorf("gave up after %v of errors: %w", a.retryFor, err)
			}
			a.logf("will retry: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(a.interval):
		}
	}
}

// ready tells whether the DaemonSet's pods are ready: all the desired ones
// when strict, else those that are scheduled.
func ready(s daemonSetStatus, strict bool) bool {
	if strict {
		return s.NumberReady == s.DesiredNumberScheduled
	}
	return s.NumberReady >= s.CurrentNumberScheduled
}

// statusError is an API answer other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("API server answered %d: %s", e.code, e.body)
}

// retry tells whether the same request may succeed later.
func (e *statusError) retry() bool {
	return e.code == http.StatusTooManyRequests || e.code >= 500
}

// get reads the DaemonSet's status.
func (a *awaiter) get(ctx context.Context) (daemonSetStatus, error) {
	token, err := os.ReadFile(a.tokenPath)
	if err != nil {
		// Not worth retrying: the token is mounted before the container starts.
		return daemonSetStatus{}, &statusError{code: http.StatusUnauthorized, body: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return daemonSetStatus{}, &statusError{code: http.StatusBadRequest, body: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return daemonSetStatus{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return daemonSetStatus{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return daemonSetStatus{}, &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	var ds struct {
		Kind   string          `json:"kind"`
		Status daemonSetStatus `json:"status"`
	}
	if err := json.Unmarshal(body, &ds); err != nil || ds.Kind != "DaemonSet" {
		return daemonSetStatus{}, &statusError{code: resp.StatusCode, body: "not a DaemonSet: " + string(body)}
	}
	return ds.Status, nil
}
