package kubetest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is an authoritative DNS server on the loopback interface for one
// test, standing in for the public DNS a hub's name is in: it answers A
// and AAAA questions for the names set on it and NXDOMAIN (no such host)
// for any other name. Its Resolver is Go's own resolver, asking it alone.
type DNS struct {
	t    testing.TB
	conn net.PacketConn

	mu    sync.Mutex
	names map[string][]netip.Addr // by lower-case name with a final dot
}

// StartDNS starts a DNS server that knows no name yet; it stops when t
// ends.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("kubetest: start a DNS server: %v", err)
	}
	d := &DNS{t: t, conn: conn, names: map[string][]netip.Addr{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return d
}

// Set makes name resolve to addrs (IP addresses), instead of what it
// resolved to before; with no addrs, name is known but has no address.
// Call it from the test's goroutine: an address that is not one fails the
// test.
func (d *DNS) Set(name string, addrs ...string) {
	d.t.Helper()
	var as []netip.Addr
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			d.t.Fatalf("kubetest: %s would resolve to %q: %v", name, a, err)
		}
		as = append(as, ip)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.names[fqdn(name)] = as
}

// Resolver is Go's resolver asking d, and no other server, every question.
func (d *DNS) Resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, "udp", addr)
		},
	}
}

func fqdn(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) + "." }

// serve answers each question until the connection is closed.
func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if answer, err := d.answer(buf[:n]); err == nil {
			d.conn.WriteTo(answer, from)
		}
	}
}

// answer is the reply to the query in packet.
func (d *DNS) answer(packet []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(packet)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	m := dnsmessage.Message{
		Header: dnsmessage.Header{
			ID: h.ID, Response: true, Authoritative: true,
			RecursionDesired: h.RecursionDesired, RecursionAvailable: true,
		},
		Questions: []dnsmessage.Question{q},
	}
	d.mu.Lock()
	addrs, known := d.names[strings.ToLower(q.Name.String())]
	d.mu.Unlock()
	if !known {
		m.RCode = dnsmessage.RCodeNameError
		return m.Pack()
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			rh.Type = dnsmessage.TypeA
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: a.As4()}})
		case q.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
			rh.Type = dnsmessage.TypeAAAA
			m.Answers = append(m.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	return m.Pack()
}
