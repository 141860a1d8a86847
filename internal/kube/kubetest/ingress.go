package kubetest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// SetIngressIP does what an ingress controller would: it records ip as
// the address in the status of Ingress namespace/ingress. kwok runs no
// ingress controller.
func (c *Cluster) SetIngressIP(ctx context.Context, namespace, ingress, ip string) error {
	if net.ParseIP(ip) == nil {
		return fmt.Errorf("kubetest: %q is not an IP address", ip)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ing, err := c.client.NetworkingV1().Ingresses(namespace).Get(ctx, ingress, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: ip}}
		_, err = c.client.NetworkingV1().Ingresses(namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("kubetest: set the address of ingress %s/%s: %w", namespace, ingress, err)
	}
	return nil
}

// AssignIngressAddress plays the ingress controller for a test: it gives
// Ingress ingress of namespace the address ip as soon as the Ingress
// exists, trying until it does or the test ends.
func (c *Cluster) AssignIngressAddress(t testing.TB, namespace, ingress, ip string) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			if err := c.SetIngressIP(ctx, namespace, ingress, ip); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
}
