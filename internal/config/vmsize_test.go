package config

import (
	"math"
	"testing"
)

// AKS's reservations, from its documentation: kube-reserved CPU by cores,
// and memory the smaller of 20 MB per pod (250 with Azure CNI overlay)
// plus 50 MB and a quarter, less the 100 Mi eviction threshold.
func TestAKSAllocatable(t *testing.T) {
	for _, c := range []struct {
		size          string
		cores, memory float64
	}{
		{"Standard_D2s_v3", 1.9, 8 - 2 - 100.0/1024},             // a quarter of 8 GiB
		{"standard_d8s_v5", 7.82, 32 - 5050.0/1024 - 100.0/1024}, // 20 MB × 250 + 50 MB
		{"Standard_E16s_v5", 15.74, 128 - 5050.0/1024 - 100.0/1024},
		{"Standard_B2s", 1.9, 4 - 1 - 100.0/1024},
	} {
		s, ok := LookupVMSize(c.size)
		if !ok {
			t.Fatalf("%s unknown", c.size)
		}
		cores, mem := AKSAllocatable(s)
		if math.Abs(cores-c.cores) > 1e-9 || math.Abs(mem-c.memory) > 1e-9 {
			t.Errorf("%s: allocatable %g cores %g GiB, want %g %g", c.size, cores, mem, c.cores, c.memory)
		}
	}
	if _, ok := LookupVMSize("Standard_NC6s_v3"); ok {
		t.Error("a size dhub has no entry for was found")
	}
}

// A pool that names no VM size gets one of VMSizePreference: dhub knows
// them all, and the worker bounds fit the smallest.
func TestPoolVMSizeUnnamed(t *testing.T) {
	for _, name := range VMSizePreference {
		if _, ok := LookupVMSize(name); !ok {
			t.Errorf("%s of VMSizePreference unknown", name)
		}
	}
	if s, ok := PoolVMSize(&NodePool{}); !ok || s != (VMSize{2, 7}) {
		t.Errorf("PoolVMSize of an unnamed pool = %+v %v, want the smallest preferred, 2 vCPUs and 7 GiB", s, ok)
	}
}
