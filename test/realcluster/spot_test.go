package realcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// slowSum is alice's computation of twenty seconds on her one worker:
// twenty one-second tasks, whose squares sum to 2470. The cell returns once
// the worker has started on it.
const slowSum = `
import time
from dask import delayed
def slow_square(i):
    time.sleep(1)
    return i * i
total = client.compute(delayed(sum)([delayed(slow_square)(i) for i in range(20)]))
deadline = time.time() + 60
while not any(client.processing().values()) and time.time() < deadline:
    time.sleep(0.1)
print('RUNNING', any(client.processing().values()))
`

// readyWorkerNodes is what status says of the worker pool's Ready nodes.
func (st kubeStatus) readyWorkerNodes() []string {
	for _, p := range st.Kubernetes.Pools {
		if p.Role == "worker" {
			return p.Ready
		}
	}
	return nil
}

// spotNodeLost: while alice's cluster computes, the worker node vanishes
// as an evicted Spot VM does (realnodes.LoseNode: its link cut, its
// kubelet and containers killed, its Node deleted). dhub status reports
// the worker pool without a Ready node and the gateway's replacement
// worker Pending with the scheduler's reason; when the node is back the
// replacement runs there, and alice's computation completes with the right
// result: never a hang. Times are logged: the scheduler's notice, the
// replacement's creation and start, the result.
func spotNodeLost(t *testing.T, file string, p people) {
	t.Helper()
	ctx := t.Context()
	workers := func() map[string]string { // name -> phase
		pods, err := cluster.Client().CoreV1().Pods(hubNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=dask-worker"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, pod := range pods.Items {
			if pod.DeletionTimestamp == nil {
				out[pod.Name] = string(pod.Status.Phase)
			}
		}
		return out
	}
	before := workers()
	if len(before) != 1 {
		t.Fatalf("alice's cluster has worker pods %v, want one", before)
	}
	if got := run(t, p.alice, "alice", slowSum, "RUNNING "); got != "True" {
		t.Fatalf("alice's computation did not start on her worker: %s", got)
	}

	lost := time.Now()
	if err := cluster.LoseNode(ctx, "worker"); err != nil {
		t.Fatal(err)
	}
	since := func() float64 { return time.Since(lost).Seconds() }

	// Status names the pool without a node and the replacement that waits.
	var st kubeStatus
	var pending string
	for deadline := time.Now().Add(3 * time.Minute); pending == ""; time.Sleep(2 * time.Second) {
		st = readStatus(t, file)
		for _, d := range st.Kubernetes.DaskPods {
			name, _, _ := strings.Cut(strings.TrimPrefix(d, "dask-worker pod "), " ")
			if strings.HasPrefix(d, "dask-worker pod ") && before[name] == "" && strings.Contains(d, "cannot be scheduled") {
				pending = d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("three minutes after the worker node was lost, status shows no replacement worker waiting for a node: %+v\n%s", st, podsReport(hubNamespace))
		}
	}
	t.Logf("%.0fs after the node was lost, status: %s", since(), pending)
	if ready := st.readyWorkerNodes(); len(ready) != 0 {
		t.Errorf("status with the worker node lost: the worker pool's Ready nodes %v, want none", ready)
	}
	if !st.Up {
		t.Errorf("status with a worker node lost says the hub is down; the hub runs on the core node")
	}

	if err := cluster.RestartNode(ctx, "worker"); err != nil {
		t.Fatal(err)
	}
	back := since()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(time.Second) {
		now := workers()
		running := 0
		for name, phase := range now {
			if before[name] == "" && phase == "Running" {
				running++
			}
		}
		if running == 1 && len(now) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three minutes after the worker node came back, worker pods %v (before: %v)\n%s", now, before, podsReport(hubNamespace))
		}
	}
	replaced := since()

	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	out, err := p.alice.Run(cctx, "print('TOTAL', total.result(timeout=240))")
	if err != nil {
		t.Fatalf("alice's computation after her worker's node was lost: %v\n%s", err, out)
	}
	if !strings.Contains(out, "TOTAL 2470") {
		t.Errorf("alice's computation after the loss printed %q, want TOTAL 2470", out)
	}
	t.Logf("spot loss: node back %.0fs after it was lost, the replacement worker running at %.0fs, the result at %.0fs", back, replaced, since())

	st = readStatus(t, file)
	if ready := st.readyWorkerNodes(); len(ready) != 1 || len(st.Kubernetes.DaskPods) != 0 {
		t.Errorf("status after the node came back: worker pool Ready %v, Dask pods not running %v", ready, st.Kubernetes.DaskPods)
	}
}
