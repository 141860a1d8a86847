package azure

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// costRiseWarning is the rise of the most a hub can cost a month, as a
// fraction, beyond which the plan warns before up asks.
const costRiseWarning = 0.25

// runningHub is h with the node pools the cluster has in Azure now, named
// as dhub.yaml names them where they are its pools, so that its estimate is
// what the hub costs before the plan is applied.
func runningHub(h *config.Hub, mc *armcontainerservice.ManagedCluster, m poolMatch) *config.Hub {
	cfgName := map[string]string{}
	for name, o := range m.byConfig {
		cfgName[o.name] = name
	}
	cur := *h
	cur.Azure.NodePools = nil
	for _, ap := range mc.Properties.AgentPoolProfiles {
		pp := propertiesOf(ap)
		np := config.NodePool{Name: deref(ap.Name), VMSize: deref(pp.VMSize), Count: new(int(deref(pp.Count)))}
		if n, ok := cfgName[np.Name]; ok {
			np.Name = n
		}
		if deref(pp.EnableAutoScaling) {
			np.Autoscale = &config.Autoscale{Min: int(deref(pp.MinCount)), Max: int(deref(pp.MaxCount))}
		}
		if isSpot(pp) {
			np.Spot = &config.Spot{}
		}
		cur.Azure.NodePools = append(cur.Azure.NodePools, np)
	}
	return &cur
}

// costRise warns when next's most a month is more than a quarter above
// now's, naming the lines that rise and the fields that set them; "" when
// it is not, or either is unknown.
func costRise(now, next *plan.Cost) string {
	if now == nil || next == nil || now.Unknown != "" || next.Unknown != "" || now.MaxMonthly <= 0 ||
		next.MaxMonthly <= now.MaxMonthly*(1+costRiseWarning) {
		return ""
	}
	var rises []string
	for _, l := range next.Lines {
		before := now.Line(l.Name)
		switch {
		case before == nil:
			rises = append(rises, fmt.Sprintf("%s is new (at most %.2f)", l.Name, l.MaxMonthly))
		case l.MaxMonthly > before.MaxMonthly:
			r := fmt.Sprintf("%s %.2f -> %.2f", l.Name, before.MaxMonthly, l.MaxMonthly)
			if l.MaxCount != before.MaxCount {
				r += fmt.Sprintf(" (%d -> %d at most", before.MaxCount, l.MaxCount)
				if l.Bound != "" {
					r += ", " + l.Bound
				}
				r += ")"
			}
			rises = append(rises, r)
		}
	}
	return fmt.Sprintf("this plan raises the most the hub can cost a month from %.2f to %.2f %s (+%.0f%%): %s",
		now.MaxMonthly, next.MaxMonthly, next.Currency, 100*(next.MaxMonthly/now.MaxMonthly-1), strings.Join(rises, "; "))
}

// daskBound says which bound one user's Dask cluster meets first on the
// worker pool: dask.limits, or the pool's most nodes. warn is true when
// dask.limits were set and the pool's maximum still applies first (they
// let one cluster ask for more workers than the pool can hold); with no
// limits the pool's maximum is the bound, which the plan's cost states
// rather than warns of on every plan. "" when dhub cannot tell (no worker
// pool, or a VM size it does not know).
func daskBound(h *config.Hub) (text string, warn bool) {
	pool, path := h.WorkerNodes()
	if pool == nil {
		return "", false
	}
	size, ok := config.LookupVMSize(pool.VMSize)
	if !ok {
		return "", false
	}
	most, field := deref(pool.Count), path+".count"
	if pool.Autoscale != nil {
		most, field = pool.Autoscale.Max, path+".autoscale.max"
	}
	d, l := h.Dask, h.Dask.Limits
	if l.MaxWorkers == 0 && l.MaxCores == 0 && l.MaxMemoryGiB == 0 {
		return fmt.Sprintf("dask.limits caps no Dask cluster: one user's cluster can ask for workers on all %d nodes of node pool %s, so its %s (%d) is the bound that applies; set dask.limits to bound each cluster below it",
			most, pool.Name, field, most), false
	}
	cores, mem := config.AKSAllocatable(size)
	// The most nodes one cluster can fill, over the smallest and largest
	// worker the options offer.
	nodes, workers, wc, wm := 0, 0, 0.0, 0.0
	for _, c := range []float64{d.WorkerCores.Min, d.WorkerCores.Max} {
		for _, m := range []float64{d.WorkerMemory.Min, d.WorkerMemory.Max} {
			perNode := int(math.Min(math.Floor(cores/c), math.Floor(mem/m)))
			if c <= 0 || m <= 0 || perNode == 0 {
				continue // validate refuses a worker that fits no node
			}
			n := math.MaxInt
			if l.MaxWorkers > 0 {
				n = l.MaxWorkers
			}
			if l.MaxCores > 0 {
				n = min(n, int(math.Floor(l.MaxCores/c)))
			}
			if l.MaxMemoryGiB > 0 {
				n = min(n, int(math.Floor(l.MaxMemoryGiB/m)))
			}
			if need := (n + perNode - 1) / perNode; need > nodes {
				nodes, workers, wc, wm = need, n, c, m
			}
		}
	}
	if nodes == 0 {
		return "", false
	}
	caps := []string{}
	for _, c := range []struct {
		name string
		v    float64
	}{{"maxWorkers", float64(l.MaxWorkers)}, {"maxCores", l.MaxCores}, {"maxMemoryGiB", l.MaxMemoryGiB}} {
		if c.v > 0 {
			caps = append(caps, fmt.Sprintf("%s %g", c.name, c.v))
		}
	}
	slices.Sort(caps)
	coreWord := "cores"
	if wc == 1 {
		coreWord = "core"
	}
	one := fmt.Sprintf("dask.limits (%s) let one cluster run %d workers of %g %s and %g GiB, on %d nodes of node pool %s",
		strings.Join(caps, ", "), workers, wc, coreWord, wm, nodes, pool.Name)
	if nodes > most {
		return fmt.Sprintf("%s, more than its %s (%d): the pool's maximum applies first, and workers past it stay Pending", one, field, most), true
	}
	return fmt.Sprintf("%s (its %s is %d): the limits apply first to each cluster; a user's several clusters together stop at the pool's maximum", one, field, most), false
}
