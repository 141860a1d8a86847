// Package prices reads the public Azure Retail Prices API
// (unauthenticated; an OData $filter of eq clauses, answers paged with
// NextPageLink) and keeps each answer a day in a cache file keyed by the
// query, so that a plan after the first costs no request. It needs no
// Azure SDK: the API is plain JSON over HTTPS.
package prices

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Endpoint is the API's address.
const Endpoint = "https://prices.azure.com/api/retail/prices"

// Item is one price of the API's answer (the fields dhub reads).
type Item struct {
	CurrencyCode         string  `json:"currencyCode"`
	TierMinimumUnits     float64 `json:"tierMinimumUnits"`
	RetailPrice          float64 `json:"retailPrice"`
	UnitPrice            float64 `json:"unitPrice"`
	ArmRegionName        string  `json:"armRegionName"`
	Location             string  `json:"location"`
	EffectiveStartDate   string  `json:"effectiveStartDate"`
	MeterName            string  `json:"meterName"`
	ProductName          string  `json:"productName"`
	SkuName              string  `json:"skuName"`
	ServiceName          string  `json:"serviceName"`
	UnitOfMeasure        string  `json:"unitOfMeasure"`
	Type                 string  `json:"type"`
	IsPrimaryMeterRegion bool    `json:"isPrimaryMeterRegion"`
	ArmSkuName           string  `json:"armSkuName"`
}

// Page is one page of the API's answer.
type Page struct {
	BillingCurrency    string `json:"BillingCurrency"`
	CustomerEntityID   string `json:"CustomerEntityId"`
	CustomerEntityType string `json:"CustomerEntityType"`
	Items              []Item `json:"Items"`
	NextPageLink       string `json:"NextPageLink"`
	Count              int    `json:"Count"`
}

// Query is a $filter of eq clauses, in order, and the currency.
type Query struct {
	Currency string
	// Filter holds field, value pairs: {"serviceName", "Virtual Machines"}.
	Filter [][2]string
}

// filter returns the OData $filter text: the clauses joined with "and",
// quotes in values doubled as OData escapes them.
func (q Query) filter() string {
	var parts []string
	for _, f := range q.Filter {
		parts = append(parts, fmt.Sprintf("%s eq '%s'", f[0], strings.ReplaceAll(f[1], "'", "''")))
	}
	return strings.Join(parts, " and ")
}

// Answer is every item of a query, and when Azure gave them.
type Answer struct {
	Items   []Item    `json:"items"`
	Fetched time.Time `json:"fetched"`
	// Cached is true when the answer came from the cache file.
	Cached bool `json:"-"`
}

// MaxAge is how long an answer is kept: Azure changes list prices
// rarely, Spot prices a few times a day at most.
const MaxAge = 24 * time.Hour

// maxPages bounds a query's pages: dhub's queries fit in one or two.
const maxPages = 20

// Client reads prices. The zero value of every field but Endpoint has a
// default.
type Client struct {
	// Endpoint is the API's address (tests: a local server).
	Endpoint string
	// CacheDir keeps answers; empty means no cache.
	CacheDir string
	// HTTP sends the requests; nil means a client with a 10s timeout.
	HTTP *http.Client
	// Now is the clock of the cache; nil means time.Now.
	Now func() time.Time
	// requests counts the HTTP requests sent, pages included.
	requests atomic.Int64
}

// Requests returns how many HTTP requests the client has sent.
func (c *Client) Requests() int64 { return c.requests.Load() }

// DefaultCacheDir is where answers are kept: the user's cache directory
// (~/.cache/dhub/prices on Linux), or "" when there is none.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "dhub", "prices")
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// URL is the first page's address for q.
func (c *Client) URL(q Query) string {
	v := url.Values{}
	if q.Currency != "" {
		v.Set("currencyCode", "'"+q.Currency+"'")
	}
	v.Set("$filter", q.filter())
	return c.Endpoint + "?" + v.Encode()
}

// Get returns every item of q, from the cache when it is less than a
// day old, else from the API (following NextPageLink), then caches it.
func (c *Client) Get(ctx context.Context, q Query) (*Answer, error) {
	u := c.URL(q)
	path := c.cachePath(u)
	if a := c.readCache(path); a != nil {
		return a, nil
	}
	a := &Answer{Fetched: c.now().UTC()}
	base, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("prices endpoint: %w", err)
	}
	next := u
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return nil, fmt.Errorf("retail prices: more than %d pages for %s", maxPages, q.filter())
		}
		p, err := c.page(ctx, next)
		if err != nil {
			return nil, err
		}
		a.Items = append(a.Items, p.Items...)
		next = p.NextPageLink
		if next != "" {
			// Follow links only to the API itself (it writes
			// https://prices.azure.com:443/...).
			n, err := url.Parse(next)
			if err != nil || n.Scheme != base.Scheme || n.Hostname() != base.Hostname() {
				return nil, fmt.Errorf("retail prices: NextPageLink %q leaves %s", next, base.Host)
			}
		}
	}
	c.writeCache(path, a)
	return a, nil
}

func (c *Client) page(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c.requests.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("retail prices: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("retail prices: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("retail prices: %s", resp.Status)
	}
	var p Page
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("retail prices: %w", err)
	}
	return &p, nil
}

func (c *Client) cachePath(u string) string {
	if c.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(u))
	return filepath.Join(c.CacheDir, hex.EncodeToString(sum[:16])+".json")
}

// readCache returns the cached answer when it is fresh, else nil; a
// broken file is a miss, not an error.
func (c *Client) readCache(path string) *Answer {
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var a Answer
	if json.Unmarshal(b, &a) != nil {
		return nil
	}
	if age := c.now().Sub(a.Fetched); age < 0 || age >= MaxAge {
		return nil
	}
	a.Cached = true
	return &a
}

// writeCache keeps a; a cache that cannot be written only costs a
// request next time.
func (c *Client) writeCache(path string, a *Answer) {
	if path == "" {
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".prices-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}
