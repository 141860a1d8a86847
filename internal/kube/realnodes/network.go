package realnodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// The cluster's addresses. Every one is made here and lives on links made
// here: the host gets one bridge and a route per node's pods and for the
// Services, nothing else of the host's network is touched, and no traffic
// leaves for an address the cluster did not create.
const (
	// bridgeName is the host's bridge that the nodes' links join.
	bridgeName = "dhubrn0"
	// linkPrefix names the host's end of each node's link.
	linkPrefix = "dhubrn-"
	// hostIP is the bridge's address: the API server and CoreDNS listen
	// here, and host-side tests reach the nodes from here.
	hostIP = "10.123.0.1"
	// nodeNet holds the nodes' addresses (nodeIP).
	nodeNet = "10.123.0.0/24"
	// podNet holds every node's pod range (podCIDR).
	podNet = "10.124.0.0/16"
	// serviceNet is the Services' cluster IP range, routed from the host
	// through the first node, whose kube-proxy translates it.
	serviceNet = "10.125.0.0/16"
	// apiServiceIP is the kubernetes Service's address, in the API
	// server's certificate.
	apiServiceIP = "10.125.0.1"
	// dnsServiceIP is the kube-dns Service's address, the pods' resolver.
	dnsServiceIP = "10.125.0.10"
	// clusterDomain is the DNS domain of Services and pods.
	clusterDomain = "cluster.local"
)

// ownedRanges are the ranges the cluster routes; none may be in use on the
// host already.
var ownedRanges = []string{nodeNet, podNet, serviceNet}

// nodeIP is node i's address on the bridge.
func nodeIP(i int) string { return fmt.Sprintf("10.123.0.%d", 10+i) }

// podCIDR is node i's pod range.
func podCIDR(i int) string { return fmt.Sprintf("10.124.%d.0/24", i) }

// hostLink is the name of the host's end of node i's link.
func hostLink(i int) string { return fmt.Sprintf("%s%d", linkPrefix, i) }

// checkRangesFree refuses to start when an address or route of the host
// overlaps the cluster's ranges (other than the cluster's own leftovers,
// which teardown removes first): the cluster would take traffic that is
// not its own.
func checkRangesFree(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "-4", "-o", "route", "show", "table", "all").CombinedOutput()
	if err != nil {
		return fmt.Errorf("realnodes: ip route: %w: %s", err, out)
	}
	var owned []*net.IPNet
	for _, r := range ownedRanges {
		_, n, _ := net.ParseCIDR(r)
		owned = append(owned, n)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "default" || strings.Contains(line, " dev "+bridgeName) {
			continue
		}
		dst := f[0]
		if f[0] == "local" || f[0] == "broadcast" || f[0] == "unicast" {
			if len(f) < 2 {
				continue
			}
			dst = f[1]
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			continue
		}
		for _, o := range owned {
			if o.Contains(n.IP) || n.Contains(o.IP) {
				return fmt.Errorf("realnodes: the host already routes %s (%q), which overlaps the cluster's range %s: the cluster will not take addresses it did not make", dst, line, o)
			}
		}
	}
	return nil
}

// makeBridge creates the host's bridge with hostIP and the route to the
// Services through node 0.
func makeBridge(ctx context.Context) error {
	return run(ctx, "",
		[]string{"ip", "link", "add", bridgeName, "type", "bridge"},
		[]string{"ip", "addr", "add", hostIP + "/24", "dev", bridgeName},
		[]string{"ip", "link", "set", bridgeName, "up"},
	)
}

// routeServices routes the Services' range through node 0, whose kube-proxy
// translates cluster IPs; it masquerades what comes from outside the pods'
// range, so answers come back the same way.
func routeServices(ctx context.Context) error {
	return run(ctx, "", []string{"ip", "route", "add", serviceNet, "via", nodeIP(0), "dev", bridgeName})
}

// removeBridge deletes the bridge (with its address and routes) and the
// host's ends of node links that outlived their namespaces.
func removeBridge(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		return fmt.Errorf("realnodes: ip link: %w: %s", err, out)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if name != bridgeName && !strings.HasPrefix(name, linkPrefix) {
			continue
		}
		// A node's link goes with its namespace, maybe since the list.
		if err := run(ctx, "", []string{"ip", "link", "del", name}); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// run runs each command in turn (in dir, when not empty) and returns the
// first failure with its output.
func run(ctx context.Context, dir string, cmds ...[]string) error {
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("realnodes: %s: %w: %s", strings.Join(c, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// runOutput runs a command and returns its standard output; a failure
// carries its standard error.
func runOutput(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("realnodes: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
