package deploy

import (
	"context"
	"fmt"
	"strings"

	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// kubeTarget installs the hub's Helm releases on a cluster: the one
// dhub.yaml names, or the AKS cluster of the azure target. It connects on
// first use, so a verb that needs no cluster (kubeconfig) does not fail for
// want of one.
type kubeTarget struct {
	h   *config.Hub
	o   Options
	src kube.Source
	c   *kube.Client
}

// client connects to the cluster the first time: it reads the kubeconfig
// and sends no request yet.
func (t *kubeTarget) client() (*kube.Client, error) {
	if t.c == nil {
		ko := kube.Options{Progress: t.o.Progress, Debug: t.o.Debug}
		if t.o.Kube != nil {
			t.o.Kube(&ko)
		}
		c, err := kube.New(t.src, t.h.Namespace, ko)
		if err != nil {
			return nil, err
		}
		t.c = c
	}
	return t.c, nil
}

func (t *kubeTarget) Plan(ctx context.Context) (*Plan[*UpResult], error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	p, err := c.Plan(ctx, t.h)
	if err != nil {
		return nil, err
	}
	return &Plan[*UpResult]{View: p.View, apply: func(ctx context.Context) (*UpResult, error) { return t.apply(ctx, p) }}, nil
}

// apply applies a plan of the releases and describes the hub it leaves.
func (t *kubeTarget) apply(ctx context.Context, p *kube.Plan) (*UpResult, error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	res, err := c.Apply(ctx, p)
	if err != nil {
		return nil, err
	}
	r := &UpResult{Hub: t.h.Name, Target: string(t.h.Target), URL: res.URL, Changed: res.Changed,
		Seconds: res.Elapsed.Seconds(), Plan: p.View, Kubernetes: res,
		details: [][2]string{{"namespace", t.h.Namespace}}}
	if a := t.h.JupyterHub.Auth; a.Type == config.AuthPassword {
		where := "hub.auth.password.adminPassword"
		if a.Password.AdminPassword.IsZero() {
			where = kube.AdminPasswordCommand(t.h)
		}
		r.details = append(r.details, [2]string{"log in as", a.Password.AdminUser + "; password: " + where})
		if pw := p.NewAdminPassword(); pw != "" {
			r.newPassword, r.passwordKept = pw, "kept in secret "+t.h.Namespace+"/"+render.AuthSecretName
		}
	}
	return r, nil
}

func (t *kubeTarget) Status(ctx context.Context) (*Status, error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	st, err := c.GetStatus(ctx, t.h)
	if err != nil {
		return nil, err
	}
	return &Status{Hub: t.h.Name, Target: string(t.h.Target), Up: st.Up, URL: st.URL, Kubernetes: st}, nil
}

func (t *kubeTarget) Smoke(ctx context.Context, o smoke.Options) (*smoke.Result, error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	target, err := c.Smoke(ctx, t.h)
	if err != nil {
		return nil, err
	}
	return smoke.Run(ctx, target, o, t.o.Progress)
}

func (t *kubeTarget) PlanDown(ctx context.Context, o DownOptions) (*Plan[*DownResult], error) {
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	p, err := c.PlanDown(ctx, t.h, o.DeleteData)
	if err != nil {
		return nil, err
	}
	dp := &Plan[*DownResult]{View: p.View, apply: func(ctx context.Context) (*DownResult, error) {
		res, err := c.Down(ctx, p)
		if res == nil {
			return nil, err
		}
		r := &DownResult{Hub: t.h.Name, Target: string(t.h.Target), Kubernetes: res, lines: []string{
			"uninstalled: " + orNone(res.Uninstalled),
			"deleted:     " + orNone(res.Deleted),
		}}
		if len(res.Kept) > 0 {
			r.lines = append(r.lines, "kept:        "+strings.Join(res.Kept, ", "))
		}
		return r, err
	}}
	if p.View.HasChanges() {
		dp.Confirm = fmt.Sprintf("Remove hub %s from namespace %s? Everyone using it is disconnected.", t.h.Name, t.h.Namespace)
	}
	return dp, nil
}

func (t *kubeTarget) Kubeconfig(context.Context) ([]byte, error) {
	return nil, fmt.Errorf("%w: target kubernetes uses the kubeconfig you already have", ErrNoKubeconfig)
}
