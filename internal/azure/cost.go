package azure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"

	"dhub/internal/azure/prices"
	"dhub/internal/config"
	"dhub/internal/plan"
)

// costTimeout bounds the price lookup of a plan: without network the
// plan says "cost unknown" and goes on, it never waits for long.
const costTimeout = 8 * time.Second

// publicIPs are the Standard public IPs of a hub on AKS: the cluster's
// outbound address and the hub's own (proxy-public's LoadBalancer).
const publicIPs = 2

// hubDBSize is the hub database volume's size in the JupyterHub chart
// (hub.db.pvc.storage, 1Gi), which dhub leaves at its default.
const hubDBSize = "1Gi"

// diskTiers are the sizes in GiB of Azure managed disk tiers (E1 and P1 4
// GiB ... E80 and P80 32767 GiB): a volume is billed as the smallest
// tier that holds it.
var diskTiers = []struct {
	n   string
	gib int64
}{{"1", 4}, {"2", 8}, {"3", 16}, {"4", 32}, {"6", 64}, {"10", 128}, {"15", 256}, {"20", 512}, {"30", 1024},
	{"40", 2048}, {"50", 4096}, {"60", 8192}, {"70", 16384}, {"80", 32767}}

// scratchProduct is the Retail Prices product of a StorageV2 account's
// block blobs.
const scratchProduct = "General Block Blob v2"

// diskKind is the managed disk product of the AKS StorageClasses dhub
// knows: the default and managed-csi make Standard SSD disks, the
// premium classes Premium SSD ones.
func diskKind(class string) (product, prefix string, ok bool) {
	switch class {
	case "", "default", "managed-csi", "managed":
		return "Standard SSD Managed Disks", "E", true
	case "managed-csi-premium", "managed-premium":
		return "Premium SSD Managed Disks", "P", true
	}
	return "", "", false
}

var quantityRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$`)

// gibOf returns a Kubernetes quantity in GiB, rounded up.
func gibOf(q string) (int64, bool) {
	m := quantityRE.FindStringSubmatch(q)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
		"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}[m[2]]
	return int64(math.Ceil(v * mult / (1 << 30))), true
}

// diskTier is the tier name (E3, P10...) billed for a volume of size.
func diskTier(prefix, size string) (string, bool) {
	gib, ok := gibOf(size)
	if !ok {
		return "", false
	}
	for _, t := range diskTiers {
		if gib <= t.gib {
			return prefix + t.n, true
		}
	}
	return "", false
}

// priceQuery is one lookup of the estimate.
type priceQuery struct {
	q   prices.Query
	ans *prices.Answer
	err error
}

// estimate starts pricing each of hubs (their VM sizes picked) while the
// rest of the plan runs, and returns the function that waits for their
// estimates, in the same order. The hubs differ only in their node pools
// (the hub as dhub.yaml has it, and as Azure has it now): each price is
// looked up once for all of them. tier is the cluster's AKS tier (Free for
// a cluster dhub creates).
func (c *Client) estimate(ctx context.Context, tier string, hubs ...*config.Hub) func() []*plan.Cost {
	pc := c.o.Prices
	h := hubs[0]
	a := h.Azure
	currency := a.Currency
	if currency == "" {
		currency = config.DefaultCurrency
	}
	region := [2]string{"armRegionName", a.Location}
	consumption := [2]string{"priceType", "Consumption"}
	query := func(f ...[2]string) *priceQuery {
		return &priceQuery{q: prices.Query{Currency: currency, Filter: f}}
	}
	vms := map[string]*priceQuery{}
	for _, hub := range hubs {
		for _, np := range hub.Azure.NodePools {
			if vms[np.VMSize] == nil {
				vms[np.VMSize] = query([2]string{"serviceName", "Virtual Machines"}, region, [2]string{"armSkuName", np.VMSize}, consumption)
			}
		}
	}
	lb := query([2]string{"serviceName", "Load Balancer"}, region, consumption)
	ip := query([2]string{"serviceName", "Virtual Network"}, region, [2]string{"productName", "IP Addresses"}, consumption)
	product, prefix, knownDisk := diskKind(h.JupyterHub.Storage.Class)
	var disk, aks *priceQuery
	all := []*priceQuery{lb, ip}
	for _, q := range vms {
		all = append(all, q)
	}
	if knownDisk {
		disk = query([2]string{"serviceName", "Storage"}, region, [2]string{"productName", product}, consumption)
		all = append(all, disk)
	}
	var blob *priceQuery
	if a.Storage.Scratch.On() {
		blob = query([2]string{"serviceName", "Storage"}, region, [2]string{"productName", scratchProduct}, consumption)
		all = append(all, blob)
	}
	if tier != "" && !strings.EqualFold(tier, "Free") {
		aks = query([2]string{"serviceName", "Azure Kubernetes Service"}, region, consumption)
		all = append(all, aks)
	}

	ctx, cancel := context.WithTimeout(ctx, costTimeout)
	var wg sync.WaitGroup
	for _, q := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.ans, q.err = pc.Get(ctx, q.q)
		}()
	}
	return func() []*plan.Cost {
		wg.Wait()
		cancel()
		costs := make([]*plan.Cost, len(hubs))
		for i, hub := range hubs {
			costs[i] = priceHub(hub, currency, tier, all, vms, lb, ip, disk, aks, blob, prefix)
		}
		return costs
	}
}

// priceHub is hub's estimate from the answers of all, or why there is none.
func priceHub(h *config.Hub, currency, tier string, all []*priceQuery, vms map[string]*priceQuery, lb, ip, disk, aks, blob *priceQuery, diskPrefix string) *plan.Cost {
	region := h.Azure.Location
	for _, q := range all {
		if q.err != nil {
			return &plan.Cost{Currency: currency, Region: region,
				Unknown: fmt.Sprintf("the Azure Retail Prices API did not answer (%v); the plan goes on without an estimate", q.err)}
		}
	}
	cost := &plan.Cost{Currency: currency, Region: region, Source: "Azure Retail Prices API, pay-as-you-go"}
	if err := price(cost, h, tier, vms, lb, ip, disk, aks, blob, diskPrefix); err != nil {
		return &plan.Cost{Currency: currency, Region: region, Unknown: err.Error()}
	}
	var oldest time.Time
	for _, q := range all {
		if oldest.IsZero() || q.ans.Fetched.Before(oldest) {
			oldest = q.ans.Fetched
		}
	}
	cost.PricesOf = oldest.Format(time.DateOnly)
	return cost
}

// price fills in cost's lines from the answers.
func price(cost *plan.Cost, h *config.Hub, tier string, vms map[string]*priceQuery, lb, ip, disk, aks, blob *priceQuery, diskPrefix string) error {
	a := h.Azure
	for i, np := range a.NodePools {
		spot := np.Spot != nil
		it, err := vmPrice(vms[np.VMSize].ans.Items, np.VMSize, spot)
		if err != nil {
			return fmt.Errorf("%s in %s: %w", np.VMSize, a.Location, err)
		}
		idle, top := poolBounds(np)
		what := np.VMSize
		if spot {
			what += " Spot"
		}
		cost.AddLine("node pool "+np.Name, what, it.RetailPrice, "hour", idle, top)
		cost.Lines[len(cost.Lines)-1].Bound = poolBound(i, np)
	}
	it, err := pick(lb.ans.Items, func(i prices.Item) bool {
		return i.SkuName == "Standard" && strings.Contains(i.MeterName, "Included") && i.UnitOfMeasure == "1 Hour"
	})
	if err != nil {
		return fmt.Errorf("the Standard load balancer in %s: %w", a.Location, err)
	}
	cost.AddLine("load balancer", "Standard load balancer (up to 5 rules)", it.RetailPrice, "hour", 1, 1)
	it, err = pick(ip.ans.Items, func(i prices.Item) bool {
		return i.SkuName == "Standard" && strings.Contains(i.MeterName, "Static") && i.UnitOfMeasure == "1 Hour"
	})
	if err != nil {
		return fmt.Errorf("a Standard public IP in %s: %w", a.Location, err)
	}
	cost.AddLine("public IPs", "Standard static IPv4 (outbound and the hub's)", it.RetailPrice, "hour", publicIPs, publicIPs)
	switch {
	case aks == nil:
		cost.Lines = append(cost.Lines, plan.CostLine{Name: "cluster tier", What: "AKS Free tier: the control plane costs nothing"})
	default:
		it, err := pick(aks.ans.Items, func(i prices.Item) bool {
			return strings.EqualFold(i.SkuName, tier) && i.UnitOfMeasure == "1 Hour"
		})
		if err != nil {
			return fmt.Errorf("the AKS %s tier in %s: %w", tier, a.Location, err)
		}
		cost.AddLine("cluster tier", "AKS "+tier+" tier", it.RetailPrice, "hour", 1, 1)
	}
	size := h.JupyterHub.Storage.Size
	if disk == nil {
		cost.Excluded = append(cost.Excluded, fmt.Sprintf("users' home volumes and the hub's database (StorageClass %s: dhub does not know its disk type)", h.JupyterHub.Storage.Class))
	} else {
		dbTier, _ := diskTier(diskPrefix, hubDBSize)
		it, err := diskPrice(disk.ans.Items, dbTier)
		if err != nil {
			return fmt.Errorf("a %s disk in %s: %w", dbTier, a.Location, err)
		}
		cost.AddLine("hub database volume", fmt.Sprintf("%s disk (%s)", dbTier, hubDBSize), it.RetailPrice, "month", 1, 1)
		userTier, ok := diskTier(diskPrefix, size)
		if !ok {
			cost.Excluded = append(cost.Excluded, fmt.Sprintf("users' home volumes (%s is larger than a managed disk)", size))
		} else {
			it, err := diskPrice(disk.ans.Items, userTier)
			if err != nil {
				return fmt.Errorf("a %s disk in %s: %w", userTier, a.Location, err)
			}
			l := plan.CostLine{Name: "home volume of " + size, What: userTier + " managed disk, from a user's first login until 'dhub down'", Unit: it.RetailPrice, UnitOf: "month", IdleCount: 1, MaxCount: 1}
			l.IdleMonthly, l.MaxMonthly = l.Unit, l.Unit
			cost.PerUser = &l
		}
	}
	if blob != nil {
		// The first tier of Hot LRS block blob storage: the first 50 TB.
		it, err := pick(blob.ans.Items, func(i prices.Item) bool {
			return i.SkuName == "Hot LRS" && i.MeterName == "Hot LRS Data Stored" && i.TierMinimumUnits == 0
		})
		if err != nil {
			return fmt.Errorf("Hot LRS blob storage in %s: %w", a.Location, err)
		}
		cost.PerGB = &plan.CostLine{Name: "scratch container", What: fmt.Sprintf("Hot LRS blob data, kept at most %s after its last change", plan.Count(a.Storage.Scratch.RetentionDays, "day")),
			Unit: it.RetailPrice, UnitOf: "GB-month"}
		cost.Excluded = append(cost.Excluded, "scratch container requests")
	}
	cost.Excluded = append(cost.Excluded, "node OS disks", "data through the load balancer and out of Azure", "disk operations")
	if slices.ContainsFunc(a.NodePools, func(np config.NodePool) bool { return np.Spot != nil }) {
		cost.Excluded = append(cost.Excluded, "Spot prices move with demand (shown: today's)")
	}
	return nil
}

// poolBound is the field of pool i of dhub.yaml that sets its most nodes,
// with its value.
func poolBound(i int, np config.NodePool) string {
	if np.Autoscale != nil {
		return fmt.Sprintf("azure.nodePools[%d].autoscale.max = %d", i, np.Autoscale.Max)
	}
	return fmt.Sprintf("azure.nodePools[%d].count = %d", i, deref(np.Count))
}

// poolBounds are a pool's nodes at the idle floor and at the most.
func poolBounds(np config.NodePool) (idle, top int) {
	if np.Autoscale != nil {
		return np.Autoscale.Min, np.Autoscale.Max
	}
	n := 0
	if np.Count != nil {
		n = *np.Count
	}
	return n, n
}

// vmPrice picks a Linux VM's hourly pay-as-you-go price: the API lists
// Windows, Low Priority and Spot meters under the same armSkuName.
func vmPrice(items []prices.Item, size string, spot bool) (prices.Item, error) {
	return pick(items, func(i prices.Item) bool {
		if !strings.EqualFold(i.ArmSkuName, size) || i.Type != "Consumption" || i.UnitOfMeasure != "1 Hour" ||
			strings.Contains(i.ProductName, "Windows") || strings.HasSuffix(i.SkuName, " Low Priority") {
			return false
		}
		return strings.HasSuffix(i.SkuName, " Spot") == spot
	})
}

// diskPrice picks a disk tier's monthly price (not its operations).
func diskPrice(items []prices.Item, tier string) (prices.Item, error) {
	return pick(items, func(i prices.Item) bool {
		return i.SkuName == tier+" LRS" && i.MeterName == tier+" LRS Disk" && i.UnitOfMeasure == "1/Month"
	})
}

// pick returns the newest item that ok accepts, preferring the region's
// primary meter.
func pick(items []prices.Item, ok func(prices.Item) bool) (prices.Item, error) {
	var best *prices.Item
	for i := range items {
		it := &items[i]
		if !ok(*it) || it.TierMinimumUnits > 0 {
			continue
		}
		if best == nil || (it.IsPrimaryMeterRegion && !best.IsPrimaryMeterRegion) ||
			(it.IsPrimaryMeterRegion == best.IsPrimaryMeterRegion && it.EffectiveStartDate > best.EffectiveStartDate) {
			best = it
		}
	}
	if best == nil {
		return prices.Item{}, errors.New("no retail price listed")
	}
	return *best, nil
}

// clusterTier is the AKS tier of an existing cluster, Free for a new one
// (dhub sets none, and AKS's default is Free).
func clusterTier(mc *armcontainerservice.ManagedCluster) string {
	if mc == nil || mc.SKU == nil || mc.SKU.Tier == nil {
		return "Free"
	}
	return string(*mc.SKU.Tier)
}
