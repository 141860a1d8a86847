package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/render"
)

// Prober checks the hub from the outside, as a user's browser would.
type Prober interface {
	// Get returns nil when url answers; a certificate that is not valid for
	// the host is reported as a *CertError.
	Get(ctx context.Context, url string) error
}

// Resolver tells the addresses a name resolves to; *net.Resolver is one.
// With it the URL check waits until the hub's name resolves and, with
// HTTPS, proves the name is this hub's: it resolves to proxy-public's load
// balancer address, not to a server that merely answers (another hub that
// took the same DNS label).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// CertError is a TLS certificate that does not verify.
type CertError struct{ Err error }

// Error says the certificate is not valid, and why.
func (e *CertError) Error() string { return "certificate not valid: " + e.Err.Error() }

// httpProber makes real requests.
type httpProber struct{}

func (httpProber) Get(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		var cv *tls.CertificateVerificationError
		var ua x509.UnknownAuthorityError
		var hn x509.HostnameError
		if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) {
			return &CertError{Err: err}
		}
		return err
	}
	resp.Body.Close()
	// Redirects are followed: what is left must be a page, not an error.
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// hubURL finds where the hub answers, following its way in (see
// currentAddress), and waits until the name resolves and the hub answers.
// With the chart's autohttps, if no valid certificate comes within the
// bound, it recreates the autohttps pod once (the guide's fix).
func (c *Client) hubURL(ctx context.Context, h *config.Hub) (string, error) {
	a, err := c.waitAddress(ctx, h, true)
	if err != nil {
		return "", err
	}
	host, url := a.host, a.url(h)
	fmt.Fprintf(c.opts.Progress, "checking %s resolves and answers\n", url)
	if err := c.waitAnswer(ctx, host, url, c.opts.URLTimeout); err != nil {
		var ce *CertError
		if !errors.As(err, &ce) {
			return "", fmt.Errorf("the hub does not answer at %s: %w", url, err)
		}
		if cm := h.JupyterHub.HTTPS.CertManager; !h.AutoHTTPS() && cm != nil {
			return "", fmt.Errorf("%s has no valid certificate: %w; cert-manager's %s %s issues it into secret %s (kubectl -n %s describe certificate %s)", host, err, cm.Kind, cm.Issuer, render.IngressTLSSecret, c.namespace, render.IngressTLSSecret)
		}
		fmt.Fprintf(c.opts.Progress, "no valid certificate for %s yet: recreating the autohttps pod once\n", host)
		if err := c.recreateAutoHTTPS(ctx); err != nil {
			return "", err
		}
		if err := c.waitAnswer(ctx, host, url, c.opts.CertTimeout); err != nil {
			return "", fmt.Errorf("%s still has no valid certificate after the autohttps pod was recreated: %w; check that %s points at the proxy-public address, that port 80 reaches it for Let's Encrypt, and the autohttps logs (kubectl -n %s logs deploy/autohttps -c traefik)", host, err, host, c.namespace)
		}
	}
	if h.HTTPSEnabled() {
		if err := c.ownHost(ctx, h, host); err != nil {
			return "", err
		}
	}
	return url, nil
}

// waitGatewayRoute waits (within URLTimeout) until the Dask Gateway
// answers through the hub's URL, the way users' Gateway() calls go: the
// hub adds that route to its proxy only once it reaches the gateway, which
// on a fresh install can be 20 s after the hub's pod is ready. Until then
// users' calls get the hub's 404 page.
func (c *Client) waitGatewayRoute(ctx context.Context, url string) error {
	health := strings.TrimSuffix(url, "/") + render.GatewayPrefix + render.GatewayHealthPath
	deadline := time.Now().Add(c.opts.URLTimeout)
	for {
		err := c.opts.Prober.Get(ctx, health)
		if err == nil {
			fmt.Fprintf(c.opts.Progress, "gateway answering through the hub at %s\n", strings.TrimSuffix(url, "/")+render.GatewayPrefix+"/")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the hub does not route %s to the Dask Gateway after %s: %w; it adds the route once it reaches the gateway's traefik (kubectl -n %s logs deploy/hub)", render.GatewayPrefix+"/", c.opts.URLTimeout, err, c.namespace)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// ownHost waits (within URLTimeout, for DNS caches) until host resolves
// to an address of the hub's way in (its load balancer or Ingress): a hub
// that answers at the name is not proof that it is this hub.
func (c *Client) ownHost(ctx context.Context, h *config.Hub, host string) error {
	a, err := c.waitAddress(ctx, h, false)
	if err != nil {
		return err
	}
	lb := a.host
	deadline := time.Now().Add(c.opts.URLTimeout)
	for {
		want, err1 := c.lookupHost(ctx, lb)
		got, err2 := c.lookupHost(ctx, host)
		if err := errors.Join(err1, err2); err == nil && sameAddress(got, want) {
			return nil
		} else if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("cannot tell whether %s is this hub's: %w", host, err)
			}
			return fmt.Errorf("%s answers, but it resolves to %s, not to this hub's load balancer address %s: another server has the name; on Azure set azure.dnsLabel to a label of this hub's own (otherwise point hub.host at %s)",
				host, strings.Join(got, ", "), strings.Join(want, ", "), lb)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// lookupHost is the addresses host resolves to: itself for an IP address.
func (c *Client) lookupHost(ctx context.Context, host string) ([]string, error) {
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	return c.opts.Resolver.LookupHost(ctx, host)
}

// sameAddress reports whether two address lists share an address.
func sameAddress(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if net.ParseIP(x).Equal(net.ParseIP(y)) && net.ParseIP(x) != nil {
				return true
			}
		}
	}
	return false
}

// waitAnswer polls until host resolves and url answers, or the bound
// passes; it returns the last error. Once the hub answers with a
// certificate that does not verify, it waits at most CertTimeout more.
func (c *Client) waitAnswer(ctx context.Context, host, url string, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	var last error
	var certSince time.Time
	for {
		_, last = c.lookupHost(ctx, host)
		if last == nil {
			last = c.opts.Prober.Get(ctx, url+"hub/api")
			if last == nil {
				return nil
			}
		} else {
			last = fmt.Errorf("%s does not resolve: %w", host, last)
		}
		var ce *CertError
		if errors.As(last, &ce) && certSince.IsZero() {
			certSince = time.Now()
		}
		if time.Now().After(deadline) || (!certSince.IsZero() && time.Since(certSince) > c.opts.CertTimeout) {
			return last
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// recreateAutoHTTPS deletes the autohttps pods so their Deployment starts
// fresh ones, which request the certificate again.
func (c *Client) recreateAutoHTTPS(ctx context.Context) error {
	sel := "app=jupyterhub,component=autohttps"
	pods, err := c.clientset.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return c.apiError("list autohttps pods", err)
	}
	if len(pods.Items) == 0 {
		return errors.New("no autohttps pod to recreate: is hub.https enabled in the deployed release?")
	}
	var names []string
	for _, p := range pods.Items {
		if err := c.clientset.CoreV1().Pods(c.namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			return c.apiError("delete pod "+p.Name, err)
		}
		names = append(names, p.Name)
	}
	fmt.Fprintf(c.opts.Progress, "deleted %s; its Deployment starts a new one\n", strings.Join(names, ", "))
	return nil
}
