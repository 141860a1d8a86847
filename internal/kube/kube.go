package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	helmkube "helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/charts"
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

// Plan is what Apply will do on the cluster, decided with reads only: the
// namespace, the dhub-auth Secret and each Helm release.
type Plan struct {
	// View is the plan as the user sees it.
	View            *plan.Plan
	hub             *config.Hub
	rendered        *render.Kubernetes
	createNamespace bool
	secret          *secretPlan
	serviceAccount  *serviceAccountPlan
	releases        []releaseChangeOf
}

// Plan compares the rendered releases and Secret with what the cluster
// holds. It reads only (referenced secrets are resolved, nothing is
// written), and fails when a referenced secret cannot be read.
func (c *Client) Plan(ctx context.Context, h *config.Hub) (*Plan, error) {
	cfg, names, err := c.releases()
	if err != nil {
		return nil, err
	}
	p := &Plan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target)}, hub: h, rendered: render.ForReleases(h, names)}
	if h.Target == config.TargetKubernetes {
		// On azure dhub made the cluster for the hub; on a cluster of the
		// user's, what the hub needs is checked before anything changes.
		pf := c.preflight(ctx, h, p.rendered)
		fmt.Fprintf(c.opts.Progress, "preflight: %s in %s\n", countOf(pf.Checks, "check"), pf.Elapsed.Round(time.Millisecond))
		if len(pf.Problems) > 0 {
			return nil, &PreflightError{Preflight: pf}
		}
		p.View.Warnings = append(p.View.Warnings, pf.Warnings...)
		p.View.Notes = append(p.View.Notes, pf.Notes...)
	} else {
		p.View.Warnings = append(p.View.Warnings, c.workerFit(ctx, h)...)
	}
	ns := plan.Change{Kind: "namespace", Name: c.namespace, Action: plan.NoOp, Reason: "exists"}
	if _, err := c.clientset.CoreV1().Namespaces().Get(ctx, c.namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		p.createNamespace = true
		ns.Action, ns.Reason = plan.Create, "does not exist"
	} else if err != nil {
		return nil, c.apiError("read namespace "+c.namespace, err)
	}
	p.View.Add(ns)
	var existing *corev1.Secret
	if s := p.rendered.Secret; s != nil && !p.createNamespace {
		got, err := c.clientset.CoreV1().Secrets(c.namespace).Get(ctx, s.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, c.apiError("read secret "+s.Name, err)
		default:
			existing = got
		}
	}
	if err := p.planSecret(existing); err != nil {
		return nil, err
	}
	sa, err := c.readServiceAccount(ctx, p)
	if err != nil {
		return nil, err
	}
	p.planServiceAccount(sa)
	for _, r := range p.rendered.Releases {
		have, err := deployed(cfg, r.Name)
		if err != nil {
			return nil, c.apiError("read release "+r.Name, err)
		}
		p.addRelease(releaseChangeOf{Change: releaseChange(r, have), release: r, have: have})
	}
	return p, nil
}

// PlanNew is the plan for a cluster that does not exist yet (the azure
// target before it creates one): everything is created. It reads nothing
// but the referenced secrets.
func PlanNew(h *config.Hub) (*Plan, error) {
	return planNew(h, render.ReleaseNamesFor(h.Namespace))
}

// planNew is PlanNew with the given release names.
func planNew(h *config.Hub, names render.ReleaseNames) (*Plan, error) {
	p := &Plan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target)}, hub: h, rendered: render.ForReleases(h, names), createNamespace: true}
	p.View.Add(plan.Change{Kind: "namespace", Name: h.Namespace, Action: plan.Create, Reason: "the cluster is new"})
	if err := p.planSecret(nil); err != nil {
		return nil, err
	}
	p.planServiceAccount(nil)
	for _, r := range p.rendered.Releases {
		p.addRelease(releaseChangeOf{Change: releaseChange(r, nil), release: r})
	}
	return p, nil
}

func (p *Plan) addRelease(ch releaseChangeOf) {
	p.releases = append(p.releases, ch)
	p.View.Add(ch.Change)
}

type releaseChangeOf struct {
	plan.Change
	release render.Release
	have    *releasev1.Release
}

// UpResult is what Apply did and where the hub answers.
type UpResult struct {
	URL     string        `json:"url"`
	Changed bool          `json:"changed"`
	Elapsed time.Duration `json:"elapsedNs"`
}

// Apply does what p says on c's cluster: creates the namespace, writes the
// Secret (restarting the hub when a value it reads changed), installs or
// upgrades the releases that differ, then waits until every component is
// ready and the gateway API answers, and finds the hub's URL. A failed
// upgrade is rolled back to the previous revision.
func (c *Client) Apply(ctx context.Context, p *Plan) (*UpResult, error) {
	start := time.Now()
	if p.createNamespace {
		if err := c.createNamespace(ctx, p.hub); err != nil {
			return nil, err
		}
	}
	if err := c.writeSecret(ctx, p.hub, p.secret); err != nil {
		return nil, err
	}
	if err := c.writeServiceAccount(ctx, p); err != nil {
		return nil, err
	}
	cfg, err := c.actionConfig()
	if err != nil {
		return nil, err
	}
	res := &UpResult{Changed: p.View.HasChanges()}
	var upgraded []releaseChangeOf
	for _, ch := range p.releases {
		if ch.Action == plan.NoOp {
			fmt.Fprintf(c.opts.Progress, "release %s: unchanged (%s)\n", ch.Name, ch.Reason)
			continue
		}
		if err := c.applyRelease(ctx, cfg, ch); err != nil {
			c.rollback(cfg, upgraded)
			return nil, err
		}
		if ch.have != nil {
			upgraded = append(upgraded, ch)
		}
	}
	if p.secret != nil && p.secret.restartHub {
		if err := c.restartHub(ctx); err != nil {
			return nil, err
		}
	}
	err = c.waitReady(ctx, cfg, p.rendered)
	if err == nil {
		err = c.waitGateway(ctx, p.rendered.Names)
	}
	if err != nil {
		if len(upgraded) > 0 {
			c.rollback(cfg, upgraded)
			return nil, fmt.Errorf("%w\nthe upgrade was rolled back to the previous revision", err)
		}
		return nil, err
	}
	url, err := c.hubURL(ctx, p.hub)
	if err == nil {
		err = c.waitGatewayRoute(ctx, url)
	}
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
		if ch.release.Chart.Name == charts.JupyterHub.Name {
			if err := c.seedProxyToken(ctx, ch.Name); err != nil {
				return err
			}
		}
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace = ch.Name, c.namespace
		in.WaitStrategy, in.Timeout = helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
		in.ServerSideApply = true
		// Helm's own rollback-on-failure would also make it wait, with a
		// bare timeout for an answer; dhub waits itself and explains.
		if _, err := in.RunWithContext(ctx, chart, ch.release.Values); err != nil {
			// A failed install is uninstalled: nothing half-done stays.
			c.removeHooks(cfg, ch.Name)
			un := action.NewUninstall(cfg)
			un.IgnoreNotFound, un.WaitStrategy, un.Timeout = true, helmkube.HookOnlyStrategy, c.opts.ReadyTimeout
			_, uerr := un.Run(ch.Name)
			if uerr == nil {
				uerr = c.unseedProxyToken(context.WithoutCancel(ctx), ch.Name)
			}
			if uerr != nil {
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
			c.removeHooks(cfg, ch.Name)
			c.rollback(cfg, []releaseChangeOf{ch})
			return fmt.Errorf("upgrade release %s: %w (rolled back to revision %d)", ch.Name, err, ch.have.Version)
		}
	}
	fmt.Fprintf(c.opts.Progress, "release %s: applied in %s\n", ch.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// removeHooks deletes what the hooks of release name's latest revision
// left in the cluster. Helm's delete policies remove a hook's objects only
// when it succeeds: a pre-install or pre-upgrade hook that failed or never
// finished (the JupyterHub chart's image awaiter Job has no deadline)
// would leave its Job, its pending pods and the objects it uses behind.
func (c *Client) removeHooks(cfg *action.Configuration, name string) {
	rel, err := deployed(cfg, name)
	if err != nil || rel == nil {
		return
	}
	for _, h := range rel.Hooks {
		objs, err := cfg.KubeClient.Build(strings.NewReader(h.Manifest), false)
		if err != nil {
			fmt.Fprintf(c.opts.Progress, "release %s: hook %s %s not removed: %v\n", name, h.Kind, h.Name, err)
			continue
		}
		res, errs := cfg.KubeClient.Delete(objs, metav1.DeletePropagationForeground)
		for _, err := range errs {
			if !apierrors.IsNotFound(err) {
				fmt.Fprintf(c.opts.Progress, "release %s: hook %s %s not removed: %v\n", name, h.Kind, h.Name, err)
			}
		}
		if res == nil || len(res.Deleted) == 0 {
			continue
		}
		fmt.Fprintf(c.opts.Progress, "release %s: removed %s %s, left by its unfinished hook\n", name, strings.ToLower(h.Kind), h.Name)
		w, err := cfg.KubeClient.GetWaiter(helmkube.StatusWatcherStrategy)
		if err == nil {
			err = w.WaitForDelete(res.Deleted, c.opts.ReadyTimeout)
		}
		if err != nil {
			fmt.Fprintf(c.opts.Progress, "release %s: %s %s still being deleted: %v\n", name, strings.ToLower(h.Kind), h.Name, err)
		}
	}
}

// rollback returns upgraded releases to their previous revision.
func (c *Client) rollback(cfg *action.Configuration, upgraded []releaseChangeOf) {
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

// createNamespace creates the hub's namespace, labelled as dhub's.
func (c *Client) createNamespace(ctx context.Context, h *config.Hub) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.namespace, Labels: map[string]string{labelManagedBy: managedBy, labelHub: h.Name}}}
	if _, err := c.clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return c.apiError("create namespace "+c.namespace, err)
	}
	fmt.Fprintf(c.opts.Progress, "namespace %s: created\n", c.namespace)
	return nil
}

// apiError says what dhub was doing when the API server refused.
func (c *Client) apiError(doing string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: the cluster refused (forbidden): the kubeconfig's user needs rights in namespace %s: %w", doing, c.namespace, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
