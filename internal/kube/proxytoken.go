package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hubSecretName is the JupyterHub chart's Secret of the hub: its tokens
// and keys.
const hubSecretName = "hub"

// proxyTokenKey is where the hub Secret holds the proxy's API token.
const proxyTokenKey = "hub.config.ConfigurableHTTPProxy.auth_token"

// seededBy marks a hub Secret that dhub created before the chart's
// first install, so that a failed install removes it again.
const seededBy = "dhub.io/seeded-for"

// seedProxyToken creates the hub Secret, holding only a new proxy token and
// labelled for Helm to adopt into release, before the JupyterHub chart is
// first installed. The chart looks its tokens up in that Secret and else
// generates them, once per use: on a first install it stores one proxy
// token and puts the checksum of another on the proxy's pod template, so
// the first upgrade, whatever it changes, restarts the proxy and drops
// every user's open connections (kernels, terminals, dashboards). With the
// token already stored, both uses read the same one. An existing Secret
// is left as it is.
func (c *Client) seedProxyToken(ctx context.Context, release string) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      hubSecretName,
			Namespace: c.namespace,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{
				"meta.helm.sh/release-name":      release,
				"meta.helm.sh/release-namespace": c.namespace,
				seededBy:                         release,
			},
		},
		Data: map[string][]byte{proxyTokenKey: []byte(hex.EncodeToString(b))},
	}
	_, err := c.clientset.CoreV1().Secrets(c.namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return c.apiError("create secret "+hubSecretName+" with the proxy's token", err)
	}
	return nil
}

// unseedProxyToken deletes the hub Secret that seedProxyToken made for
// release, after an install that failed: nothing half-done stays.
func (c *Client) unseedProxyToken(ctx context.Context, release string) error {
	secrets := c.clientset.CoreV1().Secrets(c.namespace)
	s, err := secrets.Get(ctx, hubSecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return c.apiError("read secret "+hubSecretName, err)
	}
	if s.Annotations[seededBy] != release {
		return nil
	}
	err = secrets.Delete(ctx, hubSecretName, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return c.apiError("delete secret "+hubSecretName, err)
	}
	return nil
}
