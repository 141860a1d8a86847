package plan

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HoursPerMonth is the month Azure's pricing calculator uses (730 hours).
const HoursPerMonth = 730

// Cost is what a hub costs a month at list prices: the idle floor (what
// runs when nobody works) and the most it can cost at the pools'
// maximum scale, per line and in total, plus each user's home volume.
// Unknown says why there is no estimate; the plan goes on without one.
type Cost struct {
	Currency string `json:"currency"`
	Region   string `json:"region"`
	// PricesOf is the date (YYYY-MM-DD) the prices were read from Azure.
	PricesOf string `json:"pricesOf,omitempty"`
	// Source names where the prices come from.
	Source string     `json:"source,omitempty"`
	Lines  []CostLine `json:"lines,omitempty"`
	// IdleMonthly and MaxMonthly are the sums of the lines.
	IdleMonthly float64 `json:"idleMonthly"`
	MaxMonthly  float64 `json:"maxMonthly"`
	// PerUser is each user's home volume, a month.
	PerUser *CostLine `json:"perUser,omitempty"`
	// PerGB is what each GiB users keep in the scratch container costs
	// a month (Unit, UnitOf "GB-month").
	PerGB *CostLine `json:"perGB,omitempty"`
	// Excluded lists what the estimate does not count.
	Excluded []string `json:"excluded,omitempty"`
	// Bounds say what bounds the maximum beyond the lines' own: which
	// limit Dask workers meet first.
	Bounds []string `json:"bounds,omitempty"`
	// Unknown, when set, says why there is no estimate.
	Unknown string `json:"unknown,omitempty"`
}

// CostLine is one priced thing: a node pool, the load balancer, ...
type CostLine struct {
	Name string `json:"name"`
	// What is the priced unit, e.g. "Standard_D2s_v3 Spot".
	What string `json:"what"`
	// Unit is the price of one unit and UnitOf its unit ("hour", "month").
	Unit   float64 `json:"unitPrice"`
	UnitOf string  `json:"unitOf"`
	// IdleCount and MaxCount are how many units run at the floor and at
	// the maximum.
	IdleCount   int     `json:"idleCount"`
	MaxCount    int     `json:"maxCount"`
	IdleMonthly float64 `json:"idleMonthly"`
	MaxMonthly  float64 `json:"maxMonthly"`
	// Bound is the dhub.yaml field that sets MaxCount, e.g.
	// azure.nodePools[2].autoscale.max; empty for what dhub.yaml does not
	// scale.
	Bound string `json:"bound,omitempty"`
}

// Monthly returns the line's monthly cost for n units.
func (l CostLine) Monthly(n int) float64 {
	if l.UnitOf == "hour" {
		return l.Unit * HoursPerMonth * float64(n)
	}
	return l.Unit * float64(n)
}

// AddLine adds a line priced at unit per unitOf, counting idle units at
// the floor and top at the maximum, and adds it to the totals.
func (c *Cost) AddLine(name, what string, unit float64, unitOf string, idle, top int) {
	l := CostLine{Name: name, What: what, Unit: unit, UnitOf: unitOf, IdleCount: idle, MaxCount: top}
	l.IdleMonthly, l.MaxMonthly = cents(l.Monthly(idle)), cents(l.Monthly(top))
	c.Lines = append(c.Lines, l)
	c.IdleMonthly = cents(c.IdleMonthly + l.IdleMonthly)
	c.MaxMonthly = cents(c.MaxMonthly + l.MaxMonthly)
}

// cents rounds an amount to hundredths, so that JSON shows 83.95, not
// 83.94999999999999.
func cents(v float64) float64 { return math.Round(v*100) / 100 }

// writeText writes the cost section of the plan's text view.
func (c *Cost) writeText(b *strings.Builder) {
	if c.Unknown != "" {
		fmt.Fprintf(b, "  cost unknown: %s\n", c.Unknown)
		return
	}
	fmt.Fprintf(b, "  monthly cost in %s at list prices of %s in %s (%s; %d hours a month):\n", c.Currency, c.PricesOf, c.Region, c.Source, HoursPerMonth)
	width := len("total")
	for _, l := range c.Lines {
		width = max(width, len(l.Name))
	}
	fmt.Fprintf(b, "    %-*s  %12s  %12s  %s\n", width, "", "idle floor", "at maximum", "priced as")
	for _, l := range c.Lines {
		fmt.Fprintf(b, "    %-*s  %12s  %12s  %s\n", width, l.Name, money(l.IdleMonthly), money(l.MaxMonthly), l.describe())
	}
	fmt.Fprintf(b, "    %-*s  %12s  %12s\n", width, "total", money(c.IdleMonthly), money(c.MaxMonthly))
	if u := c.PerUser; u != nil {
		fmt.Fprintf(b, "    and per user: %s a month (%s: %s)\n", money(u.IdleMonthly), u.Name, u.What)
	}
	if g := c.PerGB; g != nil {
		fmt.Fprintf(b, "    and per GB kept: %s a month (%s: %s)\n", strconv.FormatFloat(g.Unit, 'f', 4, 64), g.Name, g.What)
	}
	if len(c.Excluded) > 0 {
		fmt.Fprintf(b, "    not counted: %s\n", strings.Join(c.Excluded, "; "))
	}
	for _, bound := range c.Bounds {
		fmt.Fprintf(b, "    bound: %s\n", bound)
	}
}

// Line returns the line named name, or nil.
func (c *Cost) Line(name string) *CostLine {
	for i := range c.Lines {
		if c.Lines[i].Name == name {
			return &c.Lines[i]
		}
	}
	return nil
}

func (l CostLine) describe() string {
	n := fmt.Sprint(l.MaxCount)
	if l.IdleCount != l.MaxCount {
		n = fmt.Sprintf("%d..%d", l.IdleCount, l.MaxCount)
	}
	if l.Unit == 0 && l.UnitOf == "" {
		return l.What
	}
	s := fmt.Sprintf("%s × %s at %s/%s", n, l.What, unitMoney(l.Unit), l.UnitOf)
	if l.Bound != "" {
		s += "; at most " + l.Bound
	}
	return s
}

// money formats a monthly amount: whole units with two decimals.
func money(v float64) string { return fmt.Sprintf("%.2f", v) }

// unitMoney keeps the precision of small hourly prices.
func unitMoney(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}
