package local

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"dhub/internal/config"
	"dhub/internal/plan"
)

// DownResult says what Down stopped and whether it had to force anything.
type DownResult struct {
	Stopped []string `json:"stopped"`
	Forced  []string `json:"forced"`
	// Leftover lists processes still running in the state directory; empty
	// after a successful Down.
	Leftover []string `json:"leftover"`
	StateDir string   `json:"stateDir"`
}

// Down stops every process of the hub: the gateway first (it stops its Dask
// clusters), then the hub (it stops its proxy and users' servers), then any
// process left in the state directory. The state directory stays: the
// environment, secrets, users' homes and logs are kept for the next Up.
func Down(ctx context.Context, h *config.Hub, o Options) (*DownResult, error) {
	o.defaults()
	st, exists, err := openState(h, o.machine())
	if err != nil {
		return nil, err
	}
	res := &DownResult{StateDir: st.Dir}
	if !exists || st.ID == "" {
		fmt.Fprintf(o.Progress, "nothing to stop: %s does not exist or is empty\n", st.Dir)
		return res, nil
	}
	unlock, err := st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	res.Stopped, res.Forced = st.stopAll(ctx, o)
	for _, p := range ownProcesses(st.ID) {
		res.Leftover = append(res.Leftover, fmt.Sprintf("%s (pid %d)", p.Name, p.Pid))
	}
	if len(res.Leftover) > 0 {
		return res, fmt.Errorf("processes of the hub still run: %s", strings.Join(res.Leftover, ", "))
	}
	return res, nil
}

// stopAll stops the gateway, then the hub, then every other process that
// carries the hub's marker; it removes the pid files.
func (st State) stopAll(ctx context.Context, o Options) (stopped, forced []string) {
	procs, _ := st.running()
	for _, name := range []string{procGateway, procHub} {
		if p, ok := procs[name]; ok && p.alive() {
			fmt.Fprintf(o.Progress, "stopping %s (pid %d)\n", name, p.Pid)
			if p.stop(ctx, o.StopGrace) {
				forced = append(forced, name)
			}
			stopped = append(stopped, name)
		}
		_ = os.Remove(st.PidFile(name))
	}
	for _, p := range ownProcesses(st.ID) {
		fmt.Fprintf(o.Progress, "stopping leftover %s (pid %d)\n", p.Name, p.Pid)
		if p.stop(ctx, 5*time.Second) {
			forced = append(forced, p.Name)
		}
		stopped = append(stopped, p.Name)
	}
	return stopped, forced
}

// PlanDown says what Down will stop, reading only: the gateway and the hub
// when they run, and how many other processes carry the hub's marker (the
// proxy, users' servers, Dask clusters), which stop with them.
func PlanDown(h *config.Hub, o Options) (*plan.Plan, error) {
	st, _, err := openState(h, o.machine())
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{Hub: h.Name, Target: string(h.Target), Removal: true}
	procs, _ := st.running()
	for _, name := range []string{procGateway, procHub} {
		c := plan.Change{Kind: "process", Name: name, Action: plan.NoOp, Reason: "not running"}
		if pr, ok := procs[name]; ok {
			c.Action, c.Reason = plan.Delete, fmt.Sprintf("stop it (pid %d)", pr.Pid)
		}
		p.Add(c)
	}
	others := 0
	for _, pr := range ownProcesses(st.ID) {
		if q, ok := procs[procHub]; ok && q.Pid == pr.Pid {
			continue
		}
		if q, ok := procs[procGateway]; ok && q.Pid == pr.Pid {
			continue
		}
		others++
	}
	if others > 0 {
		p.Add(plan.Change{Kind: "processes", Name: "of the hub", Action: plan.Delete,
			Reason: fmt.Sprintf("stop %d more (the proxy, users' servers, Dask clusters)", others)})
	}
	p.Add(plan.Change{Kind: "state directory", Name: st.Dir, Action: plan.NoOp, Reason: "kept: the environment, secrets, users' homes and logs"})
	return p, nil
}
