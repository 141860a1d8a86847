package azure_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"dhub/internal/azure"
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

// BenchmarkConvergedPlanCost is what the monthly cost estimate adds to
// BenchmarkConvergedPlan against the local Retail Prices server: a plan
// without prices, with a cold price cache (every lookup read from the
// API, pages followed) and with a warm one (no request).
func BenchmarkConvergedPlanCost(b *testing.B) {
	e, _, pc := costEnv(b)
	h := hub(b, "azure-recommended.yaml")
	e.up(b, h)
	plain, err := azure.New(e.w.Options(nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := func(b *testing.B, c *azure.Client, before func()) {
		b.ReportAllocs()
		requests := pc.Requests()
		for b.Loop() {
			if before != nil {
				b.StopTimer()
				before()
				b.StartTimer()
			}
			if _, err := c.Plan(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(pc.Requests()-requests)/float64(b.N), "price-requests/op")
	}
	b.Run("prices=none", func(b *testing.B) { run(b, plain, nil) })
	b.Run("prices=cold", func(b *testing.B) {
		cache := pc.CacheDir
		b.Cleanup(func() { pc.CacheDir = cache })
		run(b, e.c, func() { pc.CacheDir = b.TempDir() })
	})
	b.Run("prices=warm", func(b *testing.B) { run(b, e.c, nil) })
}

// BenchmarkFreshPlan is the cost of the first 'dhub plan' of the
// recommended profile, preflight included, against the fake servers.
func BenchmarkFreshPlan(b *testing.B) {
	e := newEnv(b)
	h := hub(b, "azure-recommended.yaml")
	ctx := context.Background()
	b.ReportAllocs()
	var gets int
	for b.Loop() {
		p, err := e.c.Plan(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		gets += p.PreflightGets
	}
	b.ReportMetric(float64(gets)/float64(b.N), "preflight-GETs/op")
}
