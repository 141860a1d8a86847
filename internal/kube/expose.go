package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/render"
)

// address is where people reach the hub: a host (name or IP) and, for a
// NodePort, the port.
type address struct {
	host string
	port int32
}

// url is the hub's URL at a, with a trailing slash.
func (a address) url(h *config.Hub) string {
	scheme := "http"
	if h.HTTPSEnabled() {
		scheme = "https"
	}
	hostport := a.host
	if a.port != 0 {
		hostport = net.JoinHostPort(a.host, strconv.Itoa(int(a.port)))
	}
	return scheme + "://" + hostport + "/"
}

// errNoAddressYet is currentAddress's answer while the way in has no
// address yet, one that a controller may still assign.
var errNoAddressYet = errors.New("no address yet")

// currentAddress is where the hub is reached now, following its way in,
// without waiting: with byName, the host with HTTPS (or an Ingress with a
// host); else the load balancer's or the Ingress's address, or a node's
// address and the NodePort. It wraps errNoAddressYet while a controller
// has not assigned an address.
func (c *Client) currentAddress(ctx context.Context, h *config.Hub, byName bool) (address, error) {
	j := h.JupyterHub
	if byName && (h.HTTPSEnabled() || (j.Expose.Type == config.ExposeIngress && j.Host != "")) {
		return address{host: j.Host}, nil
	}
	switch j.Expose.Type {
	case config.ExposeIngress:
		ing, err := c.clientset.NetworkingV1().Ingresses(c.namespace).Get(ctx, render.HubIngress, metav1.GetOptions{})
		if err != nil {
			return address{}, c.apiError("read ingress "+render.HubIngress, err)
		}
		for _, in := range ing.Status.LoadBalancer.Ingress {
			if host := in.Hostname + in.IP; host != "" {
				return address{host: host}, nil
			}
		}
		return address{}, fmt.Errorf("ingress %s: %w", render.HubIngress, errNoAddressYet)
	case config.ExposeNodePort:
		return c.nodePortAddress(ctx)
	}
	svc, err := c.clientset.CoreV1().Services(c.namespace).Get(ctx, render.ProxyService, metav1.GetOptions{})
	if err != nil {
		return address{}, c.apiError("read service "+render.ProxyService, err)
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return address{}, fmt.Errorf("service %s is %s, not LoadBalancer: reach it with kubectl -n %s port-forward svc/%s 8080:80", render.ProxyService, svc.Spec.Type, c.namespace, render.ProxyService)
	}
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if host := in.Hostname + in.IP; host != "" {
			return address{host: host}, nil
		}
	}
	return address{}, fmt.Errorf("service %s: %w", render.ProxyService, errNoAddressYet)
}

// nodePortAddress is proxy-public's http NodePort on a ready node: its
// external address, else its internal one, else its host name.
func (c *Client) nodePortAddress(ctx context.Context) (address, error) {
	svc, err := c.clientset.CoreV1().Services(c.namespace).Get(ctx, render.ProxyService, metav1.GetOptions{})
	if err != nil {
		return address{}, c.apiError("read service "+render.ProxyService, err)
	}
	var port int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "http" {
			port = p.NodePort
		}
	}
	if port == 0 {
		return address{}, fmt.Errorf("service %s is %s with no http node port", render.ProxyService, svc.Spec.Type)
	}
	nodes, err := c.clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return address{}, c.apiError("list nodes", err)
	}
	for _, kind := range []corev1.NodeAddressType{corev1.NodeExternalIP, corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, n := range nodes.Items {
			if n.Spec.Unschedulable || !nodeReady(&n) {
				continue
			}
			for _, a := range n.Status.Addresses {
				if a.Type == kind && a.Address != "" {
					return address{host: a.Address, port: port}, nil
				}
			}
		}
	}
	return address{}, fmt.Errorf("no ready node has an address to reach node port %d on", port)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitAddress waits for the way in to get an address (see currentAddress
// for byName). A LoadBalancer or an Ingress without one after a short
// bound most likely has no controller to give it one: the error says so
// and names the other ways in.
func (c *Client) waitAddress(ctx context.Context, h *config.Hub, byName bool) (address, error) {
	bound := c.opts.LoadBalancerTimeout
	if h.Target == config.TargetAzure {
		bound = c.opts.URLTimeout // AKS's controller is there; it can take minutes
	}
	deadline := time.Now().Add(bound)
	said := false
	for {
		a, err := c.currentAddress(ctx, h, byName)
		if !errors.Is(err, errNoAddressYet) {
			return a, err
		}
		if time.Now().After(deadline) {
			if h.JupyterHub.Expose.Type == config.ExposeIngress {
				class := h.JupyterHub.Expose.IngressClassName
				if class == "" {
					class = "the default class"
				}
				return address{}, fmt.Errorf("ingress %s has no address after %s: the cluster seems to have no running ingress controller for %s; check it (kubectl get pods -A | grep -i ingress), or set hub.host to the name that reaches the controller, or hub.expose.type nodePort",
					render.HubIngress, bound, class)
			}
			return address{}, fmt.Errorf("service %s has no external address after %s: the cluster seems to have no load-balancer controller (clouds have one; bare metal, kind and most on-premise clusters do not); set hub.expose.type to nodePort (a port on every node) or ingress (through an ingress controller), or install one (MetalLB)",
				render.ProxyService, bound)
		}
		if !said {
			fmt.Fprintf(c.opts.Progress, "waiting for the address of %s (%s)\n", render.ProxyService, err)
			said = true
		}
		select {
		case <-ctx.Done():
			return address{}, ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}
