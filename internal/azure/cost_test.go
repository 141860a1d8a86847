package azure_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/azure/prices"
	"dhub/internal/azure/prices/pricesfake"
	"dhub/internal/config"
	"dhub/internal/golden"
	"dhub/internal/plan"
)

// pricesDay is the test's today: the date the plan's prices are of.
var pricesDay = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// costEnv is a fake Azure and a local Retail Prices API with a cache of
// the test's own.
func costEnv(t testing.TB) (*env, *pricesfake.Server, *prices.Client) {
	t.Helper()
	srv := pricesfake.New(t)
	pc := &prices.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Now: func() time.Time { return pricesDay }}
	w := azurefake.New()
	var progress bytes.Buffer
	o := w.Options(&progress)
	o.Prices = pc
	c, err := azure.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{w: w, c: c, progress: &progress}, srv, pc
}

func costOf(t testing.TB, e *env, h *config.Hub) *plan.Cost {
	t.Helper()
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if p.View.Cost == nil {
		t.Fatal("plan has no cost")
	}
	return p.View.Cost
}

func TestCostRecommended(t *testing.T) {
	e, srv, pc := costEnv(t)
	h := hub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	c := p.View.Cost
	if c.Unknown != "" {
		t.Fatalf("cost unknown: %s", c.Unknown)
	}
	// The test server's prices: D2s_v3 0.115/h, Spot 0.023/h, LB 0.025/h,
	// IP 0.005/h, E1 0.30 and E3 1.20 a month.
	want := map[string][2]float64{
		"node pool core":      {0.115 * 730, 0.115 * 730},
		"node pool users":     {0, 10 * 0.115 * 730},
		"node pool workers":   {0, 50 * 0.023 * 730},
		"load balancer":       {0.025 * 730, 0.025 * 730},
		"public IPs":          {2 * 0.005 * 730, 2 * 0.005 * 730},
		"cluster tier":        {0, 0},
		"hub database volume": {0.30, 0.30},
	}
	checkLines(t, c, want)
	if c.PerUser == nil || !near(c.PerUser.IdleMonthly, 1.20) || !strings.HasPrefix(c.PerUser.What, "E3 ") {
		t.Errorf("per user: %+v, want an E3 disk at 1.20", c.PerUser)
	}
	if c.Currency != "USD" || c.PricesOf != "2026-05-04" || c.Region != "westeurope" {
		t.Errorf("currency %s, date %s, region %s", c.Currency, c.PricesOf, c.Region)
	}
	// The VM answer has 6 items, 3 a page: the client followed NextPageLink.
	paged := false
	for _, r := range srv.Requests() {
		paged = paged || strings.Contains(r, "%24skip=")
	}
	if !paged {
		t.Errorf("no request followed NextPageLink: %v", srv.Requests())
	}
	var text bytes.Buffer
	if err := p.View.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/golden/plan-cost-recommended.txt", text.Bytes())

	// A second plan reads the cache: no request.
	before := pc.Requests()
	costOf(t, e, h)
	if n := pc.Requests() - before; n != 0 {
		t.Errorf("a plan with a warm cache sent %d price requests", n)
	}
	// A day later the prices are read again.
	pc.Now = func() time.Time { return pricesDay.Add(prices.MaxAge + time.Minute) }
	if c := costOf(t, e, h); c.PricesOf != "2026-05-05" || pc.Requests() == before {
		t.Errorf("after a day: prices of %s, %d requests", c.PricesOf, pc.Requests()-before)
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

// checkLines compares the estimate's lines with want (name: monthly idle
// floor and maximum), and its totals with their sums.
func checkLines(t *testing.T, c *plan.Cost, want map[string][2]float64) {
	t.Helper()
	var idle, top float64
	for _, w := range want {
		idle, top = idle+w[0], top+w[1]
	}
	for _, l := range c.Lines {
		w, ok := want[l.Name]
		if !ok || !near(l.IdleMonthly, w[0]) || !near(l.MaxMonthly, w[1]) {
			t.Errorf("%s: idle %.4f max %.4f, want %v", l.Name, l.IdleMonthly, l.MaxMonthly, w)
		}
	}
	if len(c.Lines) != len(want) || !near(c.IdleMonthly, idle) || !near(c.MaxMonthly, top) {
		t.Errorf("totals %.2f / %.2f over %d lines, want %.2f / %.2f over %d", c.IdleMonthly, c.MaxMonthly, len(c.Lines), idle, top, len(want))
	}
}

// TestCostPickedSize prices the VM size the preflight picks for a pool
// that names none, and the currency dhub.yaml asks for.
func TestCostPickedSize(t *testing.T) {
	e, _, _ := costEnv(t)
	h := hub(t, "azure-simple.yaml")
	h.Azure.NodePools[0].VMSize = ""
	h.Azure.Currency = "EUR"
	c := costOf(t, e, h)
	if c.Unknown != "" {
		t.Fatal(c.Unknown)
	}
	l := c.Lines[0]
	if l.What != config.VMSizePreference[0] || !near(l.Unit, 0.115*pricesfake.Rates["EUR"]) || c.Currency != "EUR" {
		t.Errorf("pool priced as %s at %g %s, want %s at %g EUR", l.What, l.Unit, c.Currency, config.VMSizePreference[0], 0.115*pricesfake.Rates["EUR"])
	}
	if h.Azure.NodePools[0].VMSize != "" {
		t.Error("the plan's pick leaked into the hub")
	}
}

// TestCostUnknown: without the API the plan says so and goes on.
func TestCostUnknown(t *testing.T) {
	e, srv, _ := costEnv(t)
	srv.SetDown(true)
	h := hub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatalf("plan failed with the prices API down: %v", err)
	}
	var text bytes.Buffer
	p.View.WriteText(&text)
	if !strings.Contains(text.String(), "cost unknown: the Azure Retail Prices API did not answer (retail prices: 503 Service Unavailable)") {
		t.Errorf("plan text:\n%s", text.String())
	}
	// No network at all: the same, and quickly: each lookup gives up on
	// its refused connection, once, instead of trying again or waiting out
	// the estimate's timeout (whose error would be the context's).
	queries := len(srv.Requests())
	e2, _, pc := costEnv(t)
	pc.Endpoint = "http://127.0.0.1:1/api/retail/prices"
	if c := costOf(t, e2, h); !strings.HasPrefix(c.Unknown, "the Azure Retail Prices API did not answer") || !strings.Contains(c.Unknown, "connection refused") {
		t.Errorf("unknown: %q, want the refused connection", c.Unknown)
	}
	if n := pc.Requests(); n != int64(queries) || n == 0 {
		t.Errorf("%d requests to a refused address, want one for each of the %d lookups", n, queries)
	}
}

// TestCostSimple: the simple profile, one pool from 1 to 5 nodes, costs
// that pool and what every hub on AKS has; the plan shows it so.
func TestCostSimple(t *testing.T) {
	e, _, _ := costEnv(t)
	p, err := e.c.Plan(context.Background(), hub(t, "azure-simple.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.View.Cost
	if c.Unknown != "" {
		t.Fatalf("cost unknown: %s", c.Unknown)
	}
	// The test server's prices, as in TestCostRecommended.
	checkLines(t, c, map[string][2]float64{
		"node pool nodepool1": {0.115 * 730, 5 * 0.115 * 730},
		"load balancer":       {0.025 * 730, 0.025 * 730},
		"public IPs":          {2 * 0.005 * 730, 2 * 0.005 * 730},
		"cluster tier":        {0, 0},
		"hub database volume": {0.30, 0.30},
	})
	if c.PerUser == nil || !near(c.PerUser.IdleMonthly, 1.20) {
		t.Errorf("per user: %+v, want an E3 disk at 1.20", c.PerUser)
	}
	var text bytes.Buffer
	if err := p.View.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/golden/plan-cost-simple.txt", text.Bytes())
}

// The scratch container is priced per GB kept, from the first volume tier
// of Hot LRS block blobs: what users keep there is theirs to decide, so it
// is not in the totals.
func TestCostScratchPerGB(t *testing.T) {
	e, _, _ := costEnv(t)
	h := scratchHub(t, "azure-recommended.yaml")
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	c := p.View.Cost
	if c.Unknown != "" || c.PerGB == nil || !near(c.PerGB.Unit, 0.0196) || c.PerGB.UnitOf != "GB-month" || !strings.Contains(c.PerGB.What, "7 days") {
		t.Fatalf("per GB: %+v (unknown %q)", c.PerGB, c.Unknown)
	}
	off, err := e.c.Plan(context.Background(), hub(t, "azure-recommended.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if off.View.Cost.PerGB != nil || !near(off.View.Cost.MaxMonthly, c.MaxMonthly) {
		t.Errorf("without scratch: per GB %+v, most %g (with: %g)", off.View.Cost.PerGB, off.View.Cost.MaxMonthly, c.MaxMonthly)
	}
	var b strings.Builder
	if err := p.View.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "and per GB kept: 0.0196 a month (scratch container: Hot LRS blob data, kept at most 7 days after its last change)") {
		t.Errorf("plan text:\n%s", b.String())
	}
}
