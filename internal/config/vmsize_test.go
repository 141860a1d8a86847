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
