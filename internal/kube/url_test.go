package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"dhub/internal/config"
	"dhub/internal/kube/kubetest"
)

// A hub with HTTPS whose name answers but resolves to another server (one
// that took the same DNS label) is not reported up: the error names the
// name, the address it resolves to and proxy-public's. Once the name
// resolves to proxy-public, up passes; status with a DNS that does not
// know the name says it does not resolve.
func TestHTTPSNameResolvingElsewhereIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := testHub(t, "name-elsewhere")
	h.JupyterHub.HTTPS = config.HTTPS{Enabled: ptr(true), ContactEmail: "admin@example.org"}
	h.JupyterHub.Host = "hub.example.org"
	dns := kubetest.StartDNS(t)
	dns.Set(h.JupyterHub.Host, "203.0.113.9")
	c, _ := clientWith(t, h.Namespace, Options{Resolver: dns.Resolver(), URLTimeout: 2 * time.Second})
	down(t, c, h)
	cluster.AssignLoadBalancer(t, h.Namespace, "proxy-public", "192.0.2.20")

	_, _, err := up(ctx, c, h)
	want := "hub.example.org answers, but it resolves to 203.0.113.9, not to this hub's load balancer address 192.0.2.20: another server has the name"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("up with the name resolving elsewhere: %v, want %q", err, want)
	}

	dns.Set(h.JupyterHub.Host, "192.0.2.20")
	if _, res, err := up(ctx, c, h); err != nil || res.URL != "https://hub.example.org/" {
		t.Fatalf("up with the name resolving to proxy-public: %+v, %v", res, err)
	}

	unknown, _ := clientWith(t, h.Namespace, Options{})
	st, err := unknown.GetStatus(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.URLState, "does not resolve: lookup hub.example.org") || !strings.HasSuffix(st.URLState, ": no such host") {
		t.Errorf("status where the name does not resolve: URL state %q", st.URLState)
	}
}
