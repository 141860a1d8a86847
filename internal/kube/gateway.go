package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/render"
)

// gatewayHealth asks the gateway API's health endpoint (through the API
// server's service proxy, so no port-forward is needed) on the port its
// Service has: "answering", or why not.
func (c *Client) gatewayHealth(ctx context.Context, names render.ReleaseNames) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	name := names.GatewayAPIService()
	svc, err := c.clientset.CoreV1().Services(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("not answering (service %s: %s)", name, shortErr(err))
	}
	port, err := gatewayAPIPort(svc)
	if err != nil {
		return "not answering: " + err.Error()
	}
	raw, err := c.opts.ServiceGet(ctx, name, port, render.GatewayHealthPath)
	if err != nil {
		return fmt.Sprintf("not answering (%s:%s%s): %s", name, port, render.GatewayHealthPath, refusal(raw, err))
	}
	if !strings.Contains(string(raw), "pass") {
		return fmt.Sprintf("unhealthy: %s", strings.TrimSpace(string(raw)))
	}
	return gatewayAnswering
}

// gatewayAnswering is gatewayHealth's answer for a healthy gateway API.
const gatewayAnswering = "answering"

// gatewayAPIPort is the port of the gateway API's Service to ask, by
// number (the service proxy finds the port's name from it): the port named
// api, else the Service's only one (the chart's is unnamed).
func gatewayAPIPort(svc *corev1.Service) (string, error) {
	ports := svc.Spec.Ports
	for _, p := range ports {
		if p.Name == "api" {
			return strconv.Itoa(int(p.Port)), nil
		}
	}
	if len(ports) != 1 {
		return "", fmt.Errorf("service %s has %d ports and none is named api: which is the gateway API's?", svc.Name, len(ports))
	}
	return strconv.Itoa(int(ports[0].Port)), nil
}

// refusal says why a GET through the service proxy failed: the message of
// the API server's Status when it refused (client-go's DoRaw returns a
// generic error and leaves the Status in the body), else the error.
func refusal(body []byte, err error) string {
	var s metav1.Status
	if json.Unmarshal(body, &s) == nil && s.Kind == "Status" && s.Message != "" {
		return s.Message
	}
	return shortErr(err)
}

// serviceProxyGet GETs path from a Service of the hub's namespace through
// the API server's service proxy. On an error, the body is what the API
// server or the pod answered.
func (c *Client) serviceProxyGet(ctx context.Context, service, port, path string) ([]byte, error) {
	return c.clientset.CoreV1().Services(c.namespace).ProxyGet("http", service, port, path, nil).DoRaw(ctx)
}

// waitGateway waits until the gateway API answers its health check, the
// last step of readiness: users' clusters are created through it.
func (c *Client) waitGateway(ctx context.Context, names render.ReleaseNames) error {
	deadline := time.Now().Add(c.opts.ReadyTimeout)
	for {
		state := c.gatewayHealth(ctx, names)
		if state == gatewayAnswering {
			fmt.Fprintln(c.opts.Progress, "gateway API answering")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Dask Gateway API is %s after %s", state, c.opts.ReadyTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}
