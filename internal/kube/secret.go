package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// secretPlan is the dhub-auth Secret as Apply will write it. Its values
// stay in memory: the plan shows key names only.
type secretPlan struct {
	name   string
	action plan.Action
	data   map[string][]byte
	// existing is the Secret read by Plan, updated in place (its
	// resourceVersion makes a concurrent change fail, not vanish).
	existing *corev1.Secret
	// restartHub is set when a value the running hub read at start changed.
	restartHub bool
	// newAdminPassword is the admin's password when this plan generates it.
	newAdminPassword string
	// missing are Keep keys the cluster's Secret does not have.
	missing []string
}

// planSecret decides the dhub-auth Secret: referenced secrets resolved
// now, generated ones kept from existing or made now with crypto/rand.
func (p *Plan) planSecret(existing *corev1.Secret) error {
	s := p.rendered.Secret
	if s == nil {
		return nil
	}
	sp := &secretPlan{name: s.Name, data: map[string][]byte{}, existing: existing}
	for _, key := range s.SortedKeys() {
		src := s.Data[key]
		switch {
		case src.Generate && existing != nil && len(existing.Data[key]) > 0:
			sp.data[key] = existing.Data[key]
		case src.Keep && existing != nil && len(existing.Data[key]) > 0:
			sp.data[key] = existing.Data[key]
		case src.Keep:
			sp.missing = append(sp.missing, key)
		case src.Generate:
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			sp.data[key] = []byte(hex.EncodeToString(b))
			if key == render.AdminPasswordKey {
				sp.newAdminPassword = string(sp.data[key])
			}
		default:
			v, err := src.Ref.Resolve()
			if err != nil {
				return fmt.Errorf("secret %s key %s: %w", s.Name, key, err)
			}
			sp.data[key] = []byte(v)
		}
	}
	if p.hub.JupyterHub.Auth.Type == config.AuthPassword {
		// The hub would not start with passwords JupyterHub refuses.
		user, hasUser := sp.data["user-password"]
		if err := config.CheckSharedPasswords(string(sp.data[render.AdminPasswordKey]), string(user), hasUser); err != nil {
			return err
		}
	}
	ch := plan.Change{Kind: "secret", Name: s.Name}
	switch changed := changedKeys(existingData(existing), sp.data); {
	case existing == nil:
		sp.action, ch.Reason = plan.Create, "does not exist: keys "+strings.Join(s.SortedKeys(), ", ")
	case len(changed) > 0:
		sp.action, sp.restartHub = plan.Update, true
		ch.Reason = "keys changed: " + strings.Join(changed, ", ") + "; the hub restarts to read them"
	default:
		sp.action, ch.Reason = plan.NoOp, "has these keys and values"
	}
	ch.Action = sp.action
	p.secret = sp
	p.View.Add(ch)
	return nil
}

// MissingSecretKeys lists the keys the plan must keep from the cluster's
// Secret but that it does not have: whoever holds them must SetSecret
// before Apply.
func (p *Plan) MissingSecretKeys() []string {
	if p.secret == nil {
		return nil
	}
	return p.secret.missing
}

// SetSecret gives the plan a secret value held in memory (the client
// secret of the application dhub registers) for key: written with the
// Secret, the hub restarted to read it when it runs. Never shown.
func (p *Plan) SetSecret(key string, value []byte) {
	sp := p.secret
	if sp == nil {
		return
	}
	if string(sp.data[key]) == string(value) {
		return
	}
	sp.data[key] = value
	sp.missing = slices.DeleteFunc(sp.missing, func(k string) bool { return k == key })
	if sp.existing != nil {
		sp.action, sp.restartHub = plan.Update, true
	}
}

// NewAdminPassword returns the admin's password when applying p generates
// it (the first up with password authentication and no adminPassword
// reference), else "". A person at a terminal is shown it once.
func (p *Plan) NewAdminPassword() string {
	if p.secret == nil {
		return ""
	}
	return p.secret.newAdminPassword
}

// AdminPasswordCommand is the command that prints the admin's password
// kept in the hub's Secret.
func AdminPasswordCommand(h *config.Hub) string {
	return fmt.Sprintf("kubectl -n %s get secret %s -o jsonpath='{.data.%s}' | base64 -d", h.Namespace, render.AuthSecretName, render.AdminPasswordKey)
}

func existingData(s *corev1.Secret) map[string][]byte {
	if s == nil {
		return nil
	}
	return s.Data
}

// changedKeys lists the keys whose values differ between a and b, sorted.
func changedKeys(a, b map[string][]byte) []string {
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || string(w) != string(v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// writeSecret creates or updates the Secret as planned.
func (c *Client) writeSecret(ctx context.Context, h *config.Hub, sp *secretPlan) error {
	if sp == nil || sp.action == plan.NoOp {
		return nil
	}
	api := c.clientset.CoreV1().Secrets(c.namespace)
	var err error
	if sp.action == plan.Create {
		_, err = api.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: sp.name, Namespace: c.namespace, Labels: map[string]string{labelManagedBy: managedBy, labelHub: h.Name}},
			Type:       corev1.SecretTypeOpaque,
			Data:       sp.data,
		}, metav1.CreateOptions{})
	} else {
		s := sp.existing.DeepCopy()
		s.Data = sp.data
		_, err = api.Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return c.apiError("write secret "+sp.name, err)
	}
	done := "created"
	if sp.action == plan.Update {
		done = "updated"
	}
	fmt.Fprintf(c.opts.Progress, "secret %s: %s\n", sp.name, done)
	return nil
}

// restartHub rolls the hub's Deployment, as 'kubectl rollout restart'
// does, so it reads the Secret's new values; Helm does not own the
// annotation, so later upgrades keep it.
func (c *Client) restartHub(ctx context.Context) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"dhub.io/restartedAt":%q}}}}}`, time.Now().UTC().Format(time.RFC3339))
	_, err := c.clientset.AppsV1().Deployments(c.namespace).Patch(ctx, "hub", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil // installed just now: it reads the new values at its first start
	}
	if err != nil {
		return c.apiError("restart deployment hub", err)
	}
	fmt.Fprintf(c.opts.Progress, "deployment hub: restarted to read the changed secret %s\n", render.AuthSecretName)
	return nil
}
