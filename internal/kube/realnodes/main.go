package realnodes

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Main runs a test package's tests on one cluster started with opts: it
// starts the cluster, runs the tests, stops the cluster, and exits with the
// tests' code (or 1 when the cluster failed to start or to stop cleanly).
// Run in the watchdog's environment, it is the watchdog instead. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { realnodes.Main(m, &cluster, options) }
func Main(m *testing.M, cluster **Cluster, opts func() (Options, error)) {
	if spec := os.Getenv(watchdogEnv); spec != "" {
		os.Exit(runWatchdog(spec))
	}
	os.Exit(runMain(m, cluster, opts))
}

func runMain(m *testing.M, cluster **Cluster, opts func() (Options, error)) (code int) {
	o, err := opts()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	c, err := Start(ctx, o)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*cluster = c
	defer func() {
		// A daemon that died during the tests may explain a failure, and
		// must fail a run whose tests did not notice.
		if err := c.Healthy(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}()
	return m.Run()
}
