package azure_test

import (
	"context"
	"testing"
)

// BenchmarkConvergedPlan is the cost of 'dhub plan' on a converged
// recommended deployment against the fake servers: two GETs through the
// SDK's pipeline (auth, retry, logging policies) and the comparison.
func BenchmarkConvergedPlan(b *testing.B) {
	e := newEnv(b)
	h := hub(b, "azure-recommended.yaml")
	e.up(b, h)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := e.c.Plan(ctx, h)
		if err != nil || p.View.HasChanges() {
			b.Fatalf("plan: %v", err)
		}
	}
}
