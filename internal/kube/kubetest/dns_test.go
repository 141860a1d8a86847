package kubetest_test

import (
	"errors"
	"net"
	"slices"
	"testing"

	"dhub/internal/kube/kubetest"
)

// Go's resolver, pointed at the test's DNS server, resolves the names the
// test set and no other, as the public DNS would.
func TestDNSResolvesWhatTheTestSet(t *testing.T) {
	dns := kubetest.StartDNS(t)
	dns.Set("hub.example.org", "192.0.2.30")
	dns.Set("Dual.Example.org.", "192.0.2.31", "2001:db8::31")
	r := dns.Resolver()
	ctx := t.Context()
	for host, want := range map[string][]string{
		"hub.example.org":  {"192.0.2.30"},
		"HUB.example.org.": {"192.0.2.30"},
		"dual.example.org": {"192.0.2.31", "2001:db8::31"},
		"192.0.2.99":       {"192.0.2.99"},
	} {
		got, err := r.LookupHost(ctx, host)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("LookupHost(%s) = %v, %v; want %v", host, got, err, want)
		}
	}
	_, err := r.LookupHost(ctx, "other.example.org")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound || de.Name != "other.example.org" {
		t.Errorf("LookupHost of a name not set: %v, want no such host", err)
	}

	dns.Set("hub.example.org", "198.51.100.30")
	if got, err := r.LookupHost(ctx, "hub.example.org"); err != nil || !slices.Equal(got, []string{"198.51.100.30"}) {
		t.Errorf("after Set again: %v, %v", got, err)
	}
}
