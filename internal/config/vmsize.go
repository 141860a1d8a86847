package config

import (
	"fmt"
	"math"
	"strings"
)

// VMSize is what one Azure VM size offers a Kubernetes node.
type VMSize struct {
	VCPUs     int
	MemoryGiB float64
}

// vmSizes are the sizes dhub knows, for the families a DaskHub's pools
// commonly use (general purpose D, memory optimised E, compute F, burstable
// B). Others are accepted; their bounds are checked on the cluster's nodes
// by 'dhub plan' instead.
var vmSizes = func() map[string]VMSize {
	m := map[string]VMSize{
		"standard_b2s": {2, 4}, "standard_ds2_v2": {2, 7}, "standard_b2ms": {2, 8}, "standard_b4ms": {4, 16}, "standard_b8ms": {8, 32},
	}
	// memPerCPU GiB per vCPU, for each vCPU count of the family.
	families := []struct {
		format    string
		memPerCPU float64
		vcpus     []int
	}{
		{"standard_d%ds_v3", 4, []int{2, 4, 8, 16, 32, 48, 64}},
		{"standard_d%d_v3", 4, []int{2, 4, 8, 16, 32, 48, 64}},
		{"standard_d%ds_v4", 4, []int{2, 4, 8, 16, 32, 48, 64}},
		{"standard_d%das_v4", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_d%ds_v5", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_d%dds_v5", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_d%das_v5", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_d%dads_v5", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_d%ds_v6", 4, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_e%ds_v3", 8, []int{2, 4, 8, 16, 32, 48, 64}},
		{"standard_e%ds_v5", 8, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_e%das_v5", 8, []int{2, 4, 8, 16, 32, 48, 64, 96}},
		{"standard_f%ds_v2", 2, []int{2, 4, 8, 16, 32, 48, 64, 72}},
	}
	for _, f := range families {
		for _, n := range f.vcpus {
			m[fmt.Sprintf(f.format, n)] = VMSize{n, float64(n) * f.memPerCPU}
		}
	}
	return m
}()

// PoolVMSize returns what the VMs of pool p offer, when dhub knows it. A
// pool that names no size gets one of VMSizePreference when planned: it
// offers at least the smallest of them.
func PoolVMSize(p *NodePool) (VMSize, bool) {
	if p.VMSize != "" {
		return LookupVMSize(p.VMSize)
	}
	least := VMSize{VCPUs: math.MaxInt, MemoryGiB: math.Inf(1)}
	for _, name := range VMSizePreference {
		s, ok := LookupVMSize(name)
		if !ok {
			return VMSize{}, false
		}
		least = VMSize{min(least.VCPUs, s.VCPUs), math.Min(least.MemoryGiB, s.MemoryGiB)}
	}
	return least, true
}

// LookupVMSize returns what an Azure VM size offers, when dhub knows it.
func LookupVMSize(name string) (VMSize, bool) {
	s, ok := vmSizes[strings.ToLower(name)]
	return s, ok
}

// aksMaxPods is the pods per node of the clusters dhub creates (Azure CNI
// overlay's default), which sets AKS's memory reservation.
const aksMaxPods = 250

// AKSAllocatable is what AKS leaves for pods on a node of size s: the
// cores less kube-reserved CPU, and the memory less kube-reserved memory
// (the smaller of 20 MB per pod plus 50 MB, and 25%) and the 100 MiB
// eviction threshold, as AKS 1.29 and later reserve them. AKS's own
// DaemonSets take a little more, so this is an upper bound.
func AKSAllocatable(s VMSize) (cores, memoryGiB float64) {
	// Kube-reserved millicores by cores on the host.
	reserved := []struct{ cores, milli int }{{1, 60}, {2, 100}, {4, 140}, {8, 180}, {16, 260}, {32, 420}, {64, 740}}
	milli := reserved[len(reserved)-1].milli
	for _, r := range reserved {
		if s.VCPUs <= r.cores {
			milli = r.milli
			break
		}
	}
	cores = float64(s.VCPUs) - float64(milli)/1000
	kubeReserved := math.Min((20*aksMaxPods+50)/1024.0, 0.25*s.MemoryGiB)
	return cores, s.MemoryGiB - kubeReserved - 100.0/1024
}

// WorkerNodes returns the Azure node pool Dask workers run on (the worker
// pool, else the pool for everything) and its field path, or nil.
func (h *Hub) WorkerNodes() (*NodePool, string) {
	for _, role := range []PoolRole{RoleWorker, RoleAll} {
		for i := range h.Azure.NodePools {
			if h.Azure.NodePools[i].Role == role {
				return &h.Azure.NodePools[i], fmt.Sprintf("azure.nodePools[%d]", i)
			}
		}
	}
	return nil, ""
}

// workerBoundsFor are the default worker bounds on nodes of size s: a
// worker may have every core of a node and the memory AKS leaves for pods,
// rounded down to half a GiB, up to dhub's general maxima.
func workerBoundsFor(s VMSize) (cores, memory Bounds) {
	_, mem := AKSAllocatable(s)
	mem = math.Floor(mem*2) / 2
	return Bounds{Default: 1, Min: 1, Max: math.Min(16, float64(s.VCPUs))},
		Bounds{Default: math.Min(2, mem), Min: math.Min(1, mem), Max: math.Min(32, mem)}
}
