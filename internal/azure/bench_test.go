package azure_test

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConvergedPlan is the cost of 'dhub plan' on a converged
// recommended deployment against the fake servers: two GETs through the
// SDK's pipeline (auth, retry, logging policies) and the comparison.
func BenchmarkConvergedPlan(b *testing.B) {
	e := newEnv(b)
	h := hub(b, "azure-recommended.yaml")
	e.up(b, h)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		p, err := e.c.Plan(ctx, h)
		if err != nil || p.View.HasChanges() {
			b.Fatalf("plan: %v", err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
