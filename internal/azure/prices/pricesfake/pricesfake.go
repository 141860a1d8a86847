// Package pricesfake is a local stand-in for the Azure Retail Prices API
// for tests: the API's answer format (BillingCurrency, Items, NextPageLink,
// Count), its $filter of eq clauses joined by "and" (values compared
// case-sensitively, as from API version 2023-01-01-preview), currencyCode,
// and paging. Its prices are the test's, not Azure's.
package pricesfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"dhub/internal/azure/prices"
)

// Server answers like the API from Items.
type Server struct {
	URL string
	// PageSize is how many items a page holds (the API: 100; default here
	// 3, so that tests page).
	PageSize int
	mu       sync.Mutex
	items    []prices.Item
	requests []string
	down     bool
	srv      *httptest.Server
}

// Rates convert USD list prices to the other currencies (the test's).
var Rates = map[string]float64{"USD": 1, "EUR": 0.9, "GBP": 0.8}

// New starts a server with Westeurope's items, closed when t ends.
func New(t testing.TB) *Server {
	s := &Server{PageSize: 3, items: Westeurope()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/api/retail/prices"
	t.Cleanup(s.srv.Close)
	return s
}

// SetDown makes every request fail (503) or answer again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Requests returns the request URIs answered so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

var clauseRE = regexp.MustCompile(`^(\w+) eq '((?:[^']|'')*)'$`)

// fields are the item fields a filter may name.
var fields = map[string]func(prices.Item) string{
	"armRegionName": func(i prices.Item) string { return i.ArmRegionName },
	"serviceName":   func(i prices.Item) string { return i.ServiceName },
	"armSkuName":    func(i prices.Item) string { return i.ArmSkuName },
	"priceType":     func(i prices.Item) string { return i.Type },
	"skuName":       func(i prices.Item) string { return i.SkuName },
	"productName":   func(i prices.Item) string { return i.ProductName },
	"meterName":     func(i prices.Item) string { return i.MeterName },
	"location":      func(i prices.Item) string { return i.Location },
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.URL.RequestURI())
	down, all, size := s.down, s.items, s.PageSize
	s.mu.Unlock()
	if down {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/api/retail/prices" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	currency := "USD"
	if c := q.Get("currencyCode"); c != "" {
		currency = strings.Trim(c, "'")
	}
	rate, ok := Rates[currency]
	if !ok {
		badRequest(w, "Invalid currency code")
		return
	}
	var match []func(prices.Item) bool
	if f := q.Get("$filter"); f != "" {
		for _, clause := range strings.Split(f, " and ") {
			m := clauseRE.FindStringSubmatch(clause)
			if m == nil || fields[m[1]] == nil {
				badRequest(w, "Invalid OData parameters supplied")
				return
			}
			get, want := fields[m[1]], strings.ReplaceAll(m[2], "''", "'")
			match = append(match, func(i prices.Item) bool { return get(i) == want })
		}
	}
	var hits []prices.Item
	for _, it := range all {
		ok := true
		for _, m := range match {
			ok = ok && m(it)
		}
		if ok {
			it.CurrencyCode = currency
			it.RetailPrice *= rate
			it.UnitPrice *= rate
			hits = append(hits, it)
		}
	}
	skip, _ := strconv.Atoi(q.Get("$skip"))
	page := prices.Page{BillingCurrency: currency, CustomerEntityID: "Default", CustomerEntityType: "Retail", Items: []prices.Item{}}
	if skip < len(hits) {
		page.Items = hits[skip:min(len(hits), skip+size)]
	}
	page.Count = len(page.Items)
	if skip+size < len(hits) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("$skip", strconv.Itoa(skip+size))
		// The API writes the port: https://prices.azure.com:443/...
		page.NextPageLink = fmt.Sprintf("http://%s/api/retail/prices?%s", r.Host, next.Encode())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(page)
}

func badRequest(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"Error": map[string]string{"Code": "BadRequest", "Message": msg}})
}

// vm returns the items the API lists for a VM size: Linux, Spot, Low
// Priority, and the Windows ones a filter must leave out.
func vm(arm, sku, series string, linux, spot float64) []prices.Item {
	base := prices.Item{ArmRegionName: "westeurope", Location: "EU West", ServiceName: "Virtual Machines",
		UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimaryMeterRegion: true, ArmSkuName: arm, EffectiveStartDate: "2024-11-01T00:00:00Z"}
	mk := func(product, skuName string, price float64) prices.Item {
		it := base
		it.ProductName, it.SkuName, it.MeterName, it.RetailPrice, it.UnitPrice = product, skuName, skuName, price, price
		return it
	}
	reservation := mk("Virtual Machines "+series+" Series", sku, linux*0.6)
	reservation.Type, reservation.UnitOfMeasure = "Reservation", "1 Hour"
	return []prices.Item{
		mk("Virtual Machines "+series+" Series Windows", sku, linux*1.8),
		mk("Virtual Machines "+series+" Series", sku+" Low Priority", spot),
		mk("Virtual Machines "+series+" Series", sku, linux),
		mk("Virtual Machines "+series+" Series Windows", sku+" Spot", spot*1.8),
		mk("Virtual Machines "+series+" Series", sku+" Spot", spot),
		reservation,
	}
}

// Westeurope is the test's price list for westeurope, in USD.
func Westeurope() []prices.Item {
	var out []prices.Item
	out = append(out, vm("Standard_D2s_v3", "D2s v3", "DSv3", 0.115, 0.0230)...)
	out = append(out, vm("Standard_D2s_v5", "D2s v5", "Dsv5", 0.115, 0.0201)...)
	out = append(out, vm("Standard_E4s_v5", "E4s v5", "Esv5", 0.296, 0.0592)...)
	hourly := func(service, product, sku, meter string, price float64) prices.Item {
		return prices.Item{ArmRegionName: "westeurope", Location: "EU West", ServiceName: service, ProductName: product,
			SkuName: sku, MeterName: meter, UnitOfMeasure: "1 Hour", Type: "Consumption", IsPrimaryMeterRegion: true,
			RetailPrice: price, UnitPrice: price, EffectiveStartDate: "2023-01-01T00:00:00Z"}
	}
	out = append(out,
		hourly("Load Balancer", "Load Balancer", "Standard", "Standard Included LB Rules and Outbound Rules", 0.025),
		hourly("Load Balancer", "Load Balancer", "Standard", "Standard Overage LB Rules and Outbound Rules", 0.01),
		hourly("Load Balancer", "Load Balancer", "Basic", "Basic LB", 0),
		hourly("Virtual Network", "IP Addresses", "Standard", "Standard IPv4 Static Public IP", 0.005),
		hourly("Virtual Network", "IP Addresses", "Basic", "Basic IPv4 Dynamic Public IP", 0.004),
		hourly("Azure Kubernetes Service", "Azure Kubernetes Service", "Standard", "Standard Uptime SLA", 0.10),
	)
	gb := hourly("Load Balancer", "Load Balancer", "Standard", "Standard Data Processed", 0.005)
	gb.UnitOfMeasure = "1 GB"
	out = append(out, gb)
	// Hot LRS block blob storage is priced in tiers of volume; Cool is
	// another SKU, and write operations another meter.
	for _, b := range []struct {
		sku, meter, unit string
		from, price      float64
	}{{"Hot LRS", "Hot LRS Data Stored", "1 GB/Month", 0, 0.0196}, {"Hot LRS", "Hot LRS Data Stored", "1 GB/Month", 51200, 0.0188},
		{"Cool LRS", "Cool LRS Data Stored", "1 GB/Month", 0, 0.01}, {"Hot LRS", "Hot LRS Write Operations", "10K", 0, 0.0594}} {
		it := hourly("Storage", "General Block Blob v2", b.sku, b.meter, b.price)
		it.UnitOfMeasure, it.TierMinimumUnits = b.unit, b.from
		out = append(out, it)
	}
	for i, tier := range []string{"1", "2", "3", "4", "6", "10"} {
		for _, d := range []struct {
			product, prefix string
			first           float64
		}{{"Standard SSD Managed Disks", "E", 0.30}, {"Premium SSD Managed Disks", "P", 0.78}} {
			sku := d.prefix + tier + " LRS"
			price := d.first * float64(int(1)<<i)
			disk := hourly("Storage", d.product, sku, sku+" Disk", price)
			disk.UnitOfMeasure = "1/Month"
			ops := hourly("Storage", d.product, sku, sku+" Disk Operations", 0.002)
			ops.UnitOfMeasure = "10K"
			out = append(out, disk, ops)
		}
	}
	return out
}
