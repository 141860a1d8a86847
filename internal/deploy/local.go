package deploy

import (
	"context"
	"fmt"
	"os"
	"strings"

	"dhub/internal/config"
	"dhub/internal/local"
	"dhub/internal/smoke"
)

// localTarget runs the hub as processes on this machine.
type localTarget struct {
	h *config.Hub
	o Options
}

func newLocal(h *config.Hub, o Options) *localTarget {
	o.Local.Progress = o.Progress
	return &localTarget{h: h, o: o}
}

func (t *localTarget) Plan(ctx context.Context) (*Plan[*UpResult], error) {
	p, err := local.PlanUp(ctx, t.h, t.o.Local)
	if err != nil {
		return nil, err
	}
	return &Plan[*UpResult]{View: p.View, apply: func(ctx context.Context) (*UpResult, error) {
		res, err := p.Apply(ctx, t.o.Local)
		if err != nil {
			return nil, err
		}
		r := &UpResult{Hub: t.h.Name, Target: string(t.h.Target), URL: res.URL, Changed: res.Changed,
			Seconds: res.Elapsed.Seconds(), Plan: p.View, Local: res,
			details: [][2]string{{"log in as", res.AdminUser + ", password in " + res.PasswordFile}, {"users", res.Users}, {"logs", res.Logs}}}
		if res.PasswordGenerated {
			pw, err := os.ReadFile(res.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("read the generated admin password: %w", err)
			}
			r.newPassword, r.passwordKept = string(pw), "kept in "+res.PasswordFile
		}
		return r, nil
	}}, nil
}

func (t *localTarget) Status(ctx context.Context) (*Status, error) {
	st, err := local.GetStatus(ctx, t.h, t.o.Local)
	if err != nil {
		return nil, err
	}
	return &Status{Hub: t.h.Name, Target: string(t.h.Target), Up: st.Up, URL: st.URL, Local: st}, nil
}

func (t *localTarget) Smoke(ctx context.Context, o smoke.Options) (*smoke.Result, error) {
	target, err := local.Smoke(t.h, t.o.Local)
	if err != nil {
		return nil, err
	}
	return smoke.Run(ctx, target, o, t.o.Progress)
}

func (t *localTarget) PlanDown(ctx context.Context, _ DownOptions) (*Plan[*DownResult], error) {
	view, err := local.PlanDown(t.h, t.o.Local)
	if err != nil {
		return nil, err
	}
	p := &Plan[*DownResult]{View: view, apply: func(ctx context.Context) (*DownResult, error) {
		res, err := local.Down(ctx, t.h, t.o.Local)
		if res == nil {
			return nil, err
		}
		r := &DownResult{Hub: t.h.Name, Target: string(t.h.Target), Local: res}
		if len(res.Stopped) == 0 {
			r.lines = append(r.lines, "nothing was running")
		} else {
			r.lines = append(r.lines, "stopped: "+strings.Join(res.Stopped, ", "))
		}
		if len(res.Forced) > 0 {
			r.lines = append(r.lines, "killed after the grace period: "+strings.Join(res.Forced, ", "))
		}
		if err == nil {
			r.lines = append(r.lines, fmt.Sprintf("no process of the hub is left; kept %s (environment, secrets, homes, logs)", res.StateDir))
		}
		return r, err
	}}
	// Nothing is deleted, but everyone logged in loses their server and
	// Dask clusters: asked as on the other targets.
	if view.HasChanges() {
		p.Confirm = fmt.Sprintf("Stop hub %s? Everyone using it is disconnected; their files stay.", t.h.Name)
	}
	return p, nil
}

func (t *localTarget) Kubeconfig(context.Context) ([]byte, error) {
	return nil, fmt.Errorf("%w: target local runs no cluster", ErrNoKubeconfig)
}
