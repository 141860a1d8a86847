package kube

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// Smoke returns where the smoke check finds the hub: its public URL (the
// check goes where people go), dhub's service token from the chart's hub
// Secret, the admin's login with password login, and the user's pod's
// state to explain a failed spawn. The tokens stay in memory.
func (c *Client) Smoke(ctx context.Context, h *config.Hub) (smoke.Target, error) {
	url, _, why := c.publicURL(ctx, h)
	if url == "" {
		return smoke.Target{}, fmt.Errorf("the hub has no URL yet: %s ('dhub status' says more)", why)
	}
	secrets := c.clientset.CoreV1().Secrets(c.namespace)
	hubSecret, err := secrets.Get(ctx, hubSecretName, metav1.GetOptions{})
	if err != nil {
		return smoke.Target{}, c.apiError("read the hub's token of dhub from secret "+hubSecretName, err)
	}
	token := string(hubSecret.Data[render.DhubTokenKey])
	if token == "" {
		return smoke.Target{}, fmt.Errorf("secret hub has no %s: was the hub installed by dhub?", render.DhubTokenKey)
	}
	t := smoke.Target{HubURL: strings.TrimSuffix(url, "/"), APIToken: token, Diagnose: c.userPodProblem}
	if p := h.JupyterHub.Auth.Password; h.JupyterHub.Auth.Type == config.AuthPassword && p != nil {
		auth, err := secrets.Get(ctx, render.AuthSecretName, metav1.GetOptions{})
		if err != nil {
			return smoke.Target{}, c.apiError("read secret "+render.AuthSecretName, err)
		}
		t.Login = &smoke.Login{User: p.AdminUser, Password: string(auth.Data[render.AdminPasswordKey])}
	}
	return t, nil
}

// userPodProblem says why a user's server pod is not running: KubeSpawner
// annotates the pod with the user's name.
func (c *Client) userPodProblem(ctx context.Context, user string) string {
	pods, err := c.clientset.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: singleuserServers})
	if err != nil {
		return ""
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Annotations["hub.jupyter.org/username"] != user {
			continue
		}
		if why := c.podProblem(ctx, p); why != "" {
			return fmt.Sprintf("pod %s %s", p.Name, why)
		}
	}
	return ""
}
