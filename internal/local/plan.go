package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"dhub/internal/config"
	"dhub/internal/plan"
	"dhub/internal/render"
)

// processAction is what Up does to the hub's processes.
type processAction int

const (
	// leaveRunning: both run with this configuration and answer.
	leaveRunning processAction = iota
	// startProcesses: none of the hub's processes runs.
	startProcesses
	// restartProcesses: some run, but not all, not with this
	// configuration, or not answering.
	restartProcesses
)

// Plan is what Up will do to a local hub, decided with reads only: build
// the Python environment or not, the secrets it writes, and whether it
// leaves, starts or restarts the processes. Apply does exactly that.
type Plan struct {
	// View is the plan as the user sees it.
	View       *plan.Plan
	hub        *config.Hub
	st         State
	installEnv bool
	secrets    []secretChange
	// secretValues are every secret as it is after the planned writes:
	// the configuration digest covers them.
	secretValues map[string]string
	processes    processAction
	prev         *runtime
	// procs are the hub's processes that ran when planning.
	procs map[string]proc
}

// PlanUp compares the hub's state directory and processes with h. It
// writes nothing; the only requests it sends are the readiness probes of a
// hub that already runs. It fails, as Up would, when a referenced password
// cannot be read or breaks JupyterHub's rules, or when the hub must start
// and another program holds local.port.
func PlanUp(ctx context.Context, h *config.Hub) (*Plan, error) {
	st, _, err := openState(h)
	if err != nil {
		return nil, err
	}
	p := &Plan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target)}, hub: h, st: st}

	want, err := envFingerprint(ctx, h.Local.Python)
	if err != nil {
		return nil, err
	}
	env := plan.Change{Kind: "python environment", Name: st.Venv(), Action: plan.NoOp, Reason: "has the pinned packages"}
	if got, _ := os.ReadFile(filepath.Join(st.Venv(), envMarker)); string(got) != want {
		p.installEnv = true
		env.Action, env.Reason = plan.Create, "missing: install the pinned packages (about a minute)"
		if fileExists(st.Python()) {
			env.Action, env.Reason = plan.Update, "built from other requirements or settings: install the pinned packages (about a minute)"
		}
	}
	p.View.Add(env)

	secrets, after, err := st.planSecrets(h)
	if err != nil {
		return nil, err
	}
	if err := checkPasswords(after); err != nil {
		return nil, err
	}
	p.secrets, p.secretValues = secrets, after
	for _, s := range secrets {
		c := plan.Change{Kind: "secret", Name: s.name, Action: plan.Update, Reason: s.reason}
		switch {
		case s.remove:
			c.Action = plan.Delete
		case !fileExists(st.Secret(s.name)):
			c.Action = plan.Create
		}
		p.View.Add(c)
	}

	if os.Geteuid() == 0 {
		p.View.Warnings = append(p.View.Warnings, "dhub runs as root, so users' servers run as root too: everyone who can log in to this hub can do anything on this machine; run dhub as an unprivileged user where others log in")
	}
	for _, o := range otherHubs(st) {
		p.View.Warnings = append(p.View.Warnings, fmt.Sprintf("another local hub runs: %s; this one is %s (state %s)", o, h.Name, st.Dir))
	}
	p.prev, _ = st.readRuntime()
	procs, all := st.running()
	p.procs = procs
	why := ""
	switch {
	case len(procs) == 0:
		p.processes = startProcesses
		if !portFree(h.Local.Host, h.Local.Port) {
			return nil, fmt.Errorf("local.port: %s is in use by another program: stop it or set another local.port in dhub.yaml", hostPort(h.Local.Host, h.Local.Port))
		}
	case !all:
		p.processes, why = restartProcesses, "restart it: the hub's other process is not running"
	case p.installEnv:
		p.processes, why = restartProcesses, "restart it on the rebuilt Python environment"
	case p.prev == nil || digest(render.ForLocal(h, p.prev.Ports), after) != p.prev.Digest:
		p.processes, why = restartProcesses, "restart it: its configuration or a secret changed"
	default:
		if err := probe(ctx, readyChecks(h, p.prev.Ports)); err != nil {
			p.processes, why = restartProcesses, "restart it: it runs but "+err.Error()
		}
	}
	for _, name := range []string{procGateway, procHub} {
		c := plan.Change{Kind: "process", Name: name}
		_, alive := procs[name]
		switch {
		case !alive:
			c.Action, c.Reason = plan.Create, "not running: start it"
		case p.processes == restartProcesses:
			c.Action, c.Reason = plan.Replace, why
		default:
			c.Action, c.Reason = plan.NoOp, "runs with this configuration and answers"
		}
		p.View.Add(c)
	}
	return p, nil
}

// Apply does what the plan says: installs the environment if planned,
// writes the planned secrets, then leaves, starts or restarts the
// processes. It returns once everything answers.
func (p *Plan) Apply(ctx context.Context, o Options) (*UpResult, error) {
	o.defaults()
	start := time.Now()
	if err := p.st.prepare(p.hub.Name); err != nil {
		return nil, fmt.Errorf("prepare state directory %s: %w", p.st.Dir, err)
	}
	st := p.st
	unlock, err := st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	res := &UpResult{
		URL:          fmt.Sprintf("http://%s/", hostPort(p.hub.Local.Host, p.hub.Local.Port)),
		AdminUser:    p.hub.JupyterHub.Auth.Password.AdminUser,
		PasswordFile: st.Secret(SecretAdminPassword),
		StateDir:     st.Dir,
		Logs:         st.Logs(),
		Changed:      p.View.HasChanges(),
	}
	// The environment is built while a running hub goes on serving: if
	// the install fails, the hub is left as it was.
	if p.installEnv {
		if res.EnvInstalled, err = EnsureEnv(ctx, st.Venv(), p.hub.Local.Python, o.Progress); err != nil {
			return nil, err
		}
	}
	if err := st.writeSecrets(p.secrets); err != nil {
		return nil, err
	}
	for _, s := range p.secrets {
		res.PasswordGenerated = res.PasswordGenerated || (s.generated && s.name == SecretAdminPassword)
	}
	switch p.processes {
	case leaveRunning:
		fmt.Fprintln(o.Progress, "the hub already runs with this configuration: nothing to do")
		for name, pr := range p.procs {
			if pr.Unrecorded {
				if err := writePidFile(st.PidFile(name), pr); err != nil {
					return nil, err
				}
				fmt.Fprintf(o.Progress, "wrote the missing or damaged pid file of %s (pid %d)\n", name, pr.Pid)
			}
		}
	case restartProcesses:
		fmt.Fprintln(o.Progress, "restarting the hub: "+p.restartReason())
		st.stopAll(ctx, o)
		fallthrough
	case startProcesses:
		if err := p.start(ctx, o); err != nil {
			return nil, err
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// restartReason is the plan's reason for restarting, for the progress line.
func (p *Plan) restartReason() string {
	for _, c := range p.View.Changes {
		if c.Kind == "process" && c.Action == plan.Replace {
			return c.Reason
		}
	}
	return "a process is not running"
}

// start renders the configuration for free ports, starts the gateway and
// then the hub, and waits until both answer. On failure it stops whatever
// it started and names the process with the end of its log.
func (p *Plan) start(ctx context.Context, o Options) error {
	h, st := p.hub, p.st
	if !portFree(h.Local.Host, h.Local.Port) {
		return fmt.Errorf("local.port: %s is in use by another program: stop it or set another local.port in dhub.yaml", hostPort(h.Local.Host, h.Local.Port))
	}
	ports, err := choosePorts(p.prev, h.Local.Port)
	if err != nil {
		return err
	}
	files := render.ForLocal(h, ports)
	for _, f := range files {
		if err := os.WriteFile(st.ConfigFile(f.Name), []byte(f.Content), 0o644); err != nil {
			return err
		}
	}
	if err := st.writeRuntime(runtime{Ports: ports, Digest: digest(files, p.secretValues)}); err != nil {
		return err
	}

	env := processEnv(st)
	started := map[string]proc{}
	for _, s := range []struct{ name, bin, config string }{
		{procGateway, "dask-gateway-server", "dask_gateway_config.py"},
		{procHub, "jupyterhub", "jupyterhub_config.py"},
	} {
		argv := []string{st.Bin(s.bin), "-f", st.ConfigFile(s.config)}
		pr, err := startDetached(s.name, argv, env, st.Dir, st.Log(s.name))
		if err == nil {
			err = writePidFile(st.PidFile(s.name), pr)
		}
		if err != nil {
			st.stopAll(ctx, o)
			return err
		}
		started[s.name] = pr
		fmt.Fprintf(o.Progress, "started %s (pid %d), log %s\n", s.name, pr.Pid, st.Log(s.name))
	}
	if err := waitReady(ctx, readyChecks(h, ports), started, o.StartTimeout, o.Progress); err != nil {
		var se *startError
		if errors.As(err, &se) {
			se.logFile = st.Log(se.process)
			b, _ := os.ReadFile(se.logFile)
			se.logTail = lastLines(string(b), 15)
		}
		st.stopAll(ctx, o)
		return err
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
