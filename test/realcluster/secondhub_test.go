package realcluster

import (
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// startUp runs dhub up of file in the background, while the test goes on
// with the cluster's other hub. The returned wait, called from the test's
// goroutine, fails the test unless that up succeeded and every workload
// in namespace ns runs.
func startUp(t *testing.T, file string) (wait func(ns string)) {
	t.Helper()
	type result struct {
		code           int
		stdout, stderr string
		err            error
	}
	home := t.TempDir()
	done := make(chan result, 1)
	go func() {
		var r result
		r.code, r.stdout, r.stderr, r.err = runDhub(home, "up", "-f", file, "--yes")
		done <- r
	}()
	// A test that fails before it waits still lets up end before the
	// cluster goes.
	finished := sync.OnceValue(func() result { return <-done })
	t.Cleanup(func() { finished() })
	return func(ns string) {
		t.Helper()
		r := finished()
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.code != 0 {
			t.Fatalf("up of %s: exit %d\n%s%s\n%s", file, r.code, r.stdout, r.stderr, podsReport(ns))
		}
		checkWorkloadsRun(t, ns)
	}
}

// checkClusterRoles checks that the cluster-wide roles of the hub in ns
// (its user-scheduler's and its gateway API's) exist, or, after its down,
// that they are gone.
func checkClusterRoles(t *testing.T, ns string, exist bool) {
	t.Helper()
	for _, name := range []string{ns + "-jupyterhub-user-scheduler", "api-" + ns + "-dask-gateway"} {
		_, err := cluster.Client().RbacV1().ClusterRoles().Get(t.Context(), name, metav1.GetOptions{})
		if exist && err != nil {
			t.Errorf("cluster role %s of the hub in %s: %v", name, ns, err)
		}
		if !exist && err == nil {
			t.Errorf("cluster role %s of the hub in %s is still there after its down", name, ns)
		}
	}
}
