package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// Labels dhub puts on what it creates outside the charts, so down can tell
// its own namespace and Secret from the user's.
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "dhub"
	labelHub       = "dhub.io/hub"
)

// Plan compares the rendered releases with the deployed ones, reading only.
func (c *Client) Plan(ctx context.Context, h *config.Hub) (*plan.Plan, error) {
	p := &plan.Plan{Hub: h.Name, Target: string(h.Target)}
	ns := plan.Change{Kind: "namespace", Name: c.namespace, Action: plan.NoOp, Reason: "exists"}
	if _, err := c.clientset.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		ns.Action, ns.Reason = plan.Create, "does not exist"
	} else if err != nil {
		return nil, c.apiError("read namespace "+c.namespace, err)
	}
	p.Add(ns)
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	changes, err := c.releaseChanges(cfg, render.ForKubernetes(h))
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		p.Add(ch.Change)
	}
	return p, nil
}

type releaseChangeOf struct {
	plan.Change
	release render.Release
	have    *releasev1.Release
}

func (c *Client) releaseChanges(cfg *action.Configuration, k *render.Kubernetes) ([]releaseChangeOf, error) {
	var out []releaseChangeOf
	for _, r := range k.Releases {
		have, err := deployed(cfg, r.Name)
		if err != nil {
			return nil, c.apiError("read release "+r.Name, err)
		}
		out = append(out, releaseChangeOf{Change: releaseChange(r, have), release: r, have: have})
	}
	return out, nil
}

// UpResult is what Up did and where the hub answers.
type UpResult struct {
	URL     string        `json:"url"`
	Changes []plan.Change `json:"changes"`
	Changed bool          `json:"changed"`
	Elapsed time.Duration `json:"elapsedNs"`
}

// Up installs or upgrades both releases (a release whose chart and values
// match is not touched), waits until every component is ready, and finds
// the hub's URL. A failed upgrade is rolled back unless Options.NoRollback.
func (c *Client) Up(ctx context.Context, h *config.Hub) (*UpResult, error) {
	start := time.Now()
	k := render.ForKubernetes(h)
	if err := c.ensureNamespace(ctx, h); err != nil {
		return nil, err
	}
	if err := c.ensureSecret(ctx, h, k.Secret); err != nil {
		return nil, err
	}
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	changes, err := c.releaseChanges(cfg, k)
	if err != nil {
		return nil, err
	}
	res := &UpResult{}
	var upgraded []releaseChangeOf
	for _, ch := range changes {
		res.Changes = append(res.Changes, ch.Change)
		if ch.Action == plan.NoOp {
			fmt.Fprintf(c.opts.Progress, "release %s: unchanged (%s)\n", ch.Name, ch.Reason)
			continue
		}
		res.Changed = true
		if err := c.applyRelease(ctx, cfg, ch); err != nil {
			c.rollback(cfg, upgraded)
			return nil, err
		}
		if ch.have != nil {
			upgraded = append(upgraded, ch)
		}
	}
	if err := c.waitReady(ctx, cfg, k); err != nil {
		if len(upgraded) > 0 && !c.opts.NoRollback {
			c.rollback(cfg, upgraded)
			return nil, fmt.Errorf("%w\nthe upgrade was rolled back to the previous revision", err)
		}
		return nil, err
	}
	url, err := c.hubURL(ctx, h)
	if err != nil {
		return nil, err
	}
	res.URL, res.Elapsed = url, time.Since(start)
	return res, nil
}

// applyRelease installs or upgrades one release; Helm waits only for its
// hooks, dhub's own wait then explains what is not ready.
func (c *Client) applyRelease(ctx context.Context, cfg *action.Configuration, ch releaseChangeOf) error {
	chart, err := c.loadChart(ch.release)
	if err != nil {
		return err
	}
	start := time.Now()
	if ch.have == nil {
		fmt.Fprintf(c.opts.Progress, "release %s: installing chart %s %s\n", ch.Name, ch.release.Chart.Name, ch.release.Chart.Version)
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = ch.Name, c.namespace
		in.WaitStrategy, in.Timeout = helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
		in.ServerSideApply = true
		// Helm's own rollback-on-failure would also make it wait, with a
		// bare timeout for an answer; dhub waits itself and explains.
		if _, err := in.RunWithContext(ctx, chart, ch.release.Values); err != nil {
			// A failed install is uninstalled: nothing half-done stays.
			un := action.NewUninstall(cfg)
			un.IgnoreNotFound, un.WaitStrategy, un.Timeout = true, helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
			if _, uerr := un.Run(ch.Name); uerr != nil {
				return fmt.Errorf("install release %s: %w (and removing what it left failed: %v)", ch.Name, err, uerr)
			}
			return fmt.Errorf("install release %s: %w (what it created was removed)", ch.Name, err)
		}
	} else {
		fmt.Fprintf(c.opts.Progress, "release %s: upgrading revision %d (%s)\n", ch.Name, ch.have.Version, ch.Reason)
		up := action.NewUpgrade(cfg)
		up.Namespace = c.namespace
		up.WaitStrategy, up.Timeout = helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
		up.ServerSideApply = "auto"
		up.ResetValues = true
		up.MaxHistory = 10
		if _, err := up.RunWithContext(ctx, ch.Name, chart, ch.release.Values); err != nil {
			if c.opts.NoRollback {
				return fmt.Errorf("upgrade release %s: %w (kept as it is: --no-rollback)", ch.Name, err)
			}
			c.rollback(cfg, []releaseChangeOf{ch})
			return fmt.Errorf("upgrade release %s: %w (rolled back to revision %d)", ch.Name, err, ch.have.Version)
		}
	}
	fmt.Fprintf(c.opts.Progress, "release %s: applied in %s\n", ch.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// rollback returns upgraded releases to their previous revision.
func (c *Client) rollback(cfg *action.Configuration, upgraded []releaseChangeOf) {
	if c.opts.NoRollback {
		return
	}
	for _, ch := range upgraded {
		rb := action.NewRollback(cfg)
		rb.Version = ch.have.Version
		rb.WaitStrategy, rb.Timeout = helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
		if err := rb.Run(ch.Name); err != nil {
			fmt.Fprintf(c.opts.Progress, "release %s: rollback to revision %d failed: %v\n", ch.Name, ch.have.Version, err)
			continue
		}
		fmt.Fprintf(c.opts.Progress, "release %s: rolled back to revision %d\n", ch.Name, ch.have.Version)
	}
}

// ensureNamespace creates the hub's namespace, labelled as dhub's, when it
// does not exist.
func (c *Client) ensureNamespace(ctx context.Context, h *config.Hub) error {
	_, err := c.clientset.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return c.apiError("read namespace "+c.namespace, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.namespace, Labels: map[string]string{labelManagedBy: managedBy, labelHub: h.Name}}}
	if _, err := c.clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return c.apiError("create namespace "+c.namespace, err)
	}
	fmt.Fprintf(c.opts.Progress, "namespace %s: created\n", c.namespace)
	return nil
}

// ensureSecret writes the dhub-auth Secret: referenced secrets resolved now,
// generated ones made once and then kept.
func (c *Client) ensureSecret(ctx context.Context, h *config.Hub, s *render.Secret) error {
	if s == nil {
		return nil
	}
	api := c.clientset.CoreV1().Secrets(c.namespace)
	existing, err := api.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		existing = nil
	} else if err != nil {
		return c.apiError("read secret "+s.Name, err)
	}
	data := map[string][]byte{}
	for _, key := range s.SortedKeys() {
		src := s.Data[key]
		switch {
		case src.Generate && existing != nil && len(existing.Data[key]) > 0:
			data[key] = existing.Data[key]
		case src.Generate:
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			data[key] = []byte(hex.EncodeToString(b))
		default:
			v, err := src.Ref.Resolve()
			if err != nil {
				return fmt.Errorf("secret %s key %s: %w", s.Name, key, err)
			}
			data[key] = []byte(v)
		}
	}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: c.namespace, Labels: map[string]string{labelManagedBy: managedBy, labelHub: h.Name}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	if existing == nil {
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
	} else if !sameData(existing.Data, data) {
		existing.Data = data
		_, err = api.Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return c.apiError("write secret "+s.Name, err)
	}
	return nil
}

func sameData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// apiError says what dhub was doing when the API server refused.
func (c *Client) apiError(doing string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: the cluster refused (forbidden): the kubeconfig's user needs rights in namespace %s: %w", doing, c.namespace, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
