package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	// python builds the environment: local.python, or a system Python
	// in its place (see choosePython).
	python string
	// envWant is the environment's expected marker.
	envWant string
	// modes are the modes Up changes: what other accounts may read in
	// the state directory, and, as root, what users' accounts must cross.
	modes []modeFix
	prev  *runtime
	// procs are the hub's processes that ran when planning.
	procs map[string]proc
}

// PlanUp compares the hub's state directory and processes with h. It
// writes nothing; the only requests it sends are the readiness probes of a
// hub that already runs. It fails, as Up would, when a referenced password
// cannot be read or breaks JupyterHub's rules, when another program holds
// local.port, or, as root, when users' accounts could not reach the state
// directory or run the interpreter.
func PlanUp(ctx context.Context, h *config.Hub, o Options) (*Plan, error) {
	m := o.machine()
	st, _, err := openState(h, m)
	if err != nil {
		return nil, err
	}
	way, err := st.planWayIn()
	if err != nil {
		return nil, err
	}
	p := &Plan{View: &plan.Plan{Hub: h.Name, Target: string(h.Target)}, hub: h, st: st}
	for _, d := range way.missing {
		// The mode makeParents gives it.
		reason := fmt.Sprintf("missing: make it owner-only (%04o)", st.parentMode())
		if st.usersOwnAccounts {
			reason = fmt.Sprintf("missing: make it %04o, so users' accounts cross it to the environment", st.parentMode())
		}
		p.View.Add(plan.Change{Kind: "directory", Name: d, Action: plan.Create, Reason: reason})
	}

	python, note, err := choosePython(ctx, h.Local.Python, m)
	if err != nil {
		return nil, err
	}
	p.python = python
	if note != "" {
		p.View.Warnings = append(p.View.Warnings, note)
	}
	want, err := envFingerprint(ctx, python)
	if err != nil {
		return nil, err
	}
	env := plan.Change{Kind: "python environment", Name: st.Venv(), Action: plan.NoOp, Reason: "has the pinned packages"}
	if why := envComplete(st.Venv(), want); why != "" {
		p.installEnv = true
		env.Action, env.Reason = plan.Create, "missing: install the pinned packages (about a minute)"
		if fileExists(st.Python()) {
			env.Action, env.Reason = plan.Update, why+": install the pinned packages (about a minute)"
		}
	}
	p.View.Add(env)
	p.envWant = want
	p.modes = append(way.open, st.looseModes()...)
	for _, fix := range p.modes {
		p.View.Add(plan.Change{Kind: "permissions", Name: fix.path, Action: plan.Update, Reason: fix.reason})
	}

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

	if w := singleUserWarning(h, m.Root); w != "" {
		p.View.Warnings = append(p.View.Warnings, w)
	}
	for _, o := range otherHubs(st) {
		p.View.Warnings = append(p.View.Warnings, fmt.Sprintf("another local hub runs: %s; this one is %s (state %s)", o, h.Name, st.Dir))
	}
	prev, prevErr := st.readRuntime()
	p.prev = prev
	procs, all := st.running()
	p.procs = procs
	if err := st.checkPublicPort(h); err != nil {
		return nil, err
	}
	why := ""
	switch {
	case len(procs) == 0:
		p.processes = startProcesses
	case !all:
		p.processes, why = restartProcesses, "restart it: the hub's other process is not running"
	case p.installEnv:
		p.processes, why = restartProcesses, "restart it on the rebuilt Python environment"
	case prevErr != nil && !errors.Is(prevErr, fs.ErrNotExist):
		p.processes, why = restartProcesses, "restart it: its runtime record cannot be read ("+prevErr.Error()+")"
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
// makes loose modes owner-only, writes the planned secrets, then leaves,
// starts or restarts the processes. It returns once everything answers.
//
// A running hub is stopped only once everything that can be checked
// beforehand holds (see stage); if the new configuration still fails to
// come up, the previous one is started again and the error says so.
// When ctx ends (Ctrl-C), Apply stops what this run started and its
// error, which wraps context.Canceled, says what it left.
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
		Users:        "single-user: only " + p.hub.JupyterHub.Auth.Password.AdminUser + " logs in (dhub does not run as root)",
		URL:          fmt.Sprintf("http://%s/", hostPort(p.hub.Local.Host, p.hub.Local.Port)),
		AdminUser:    p.hub.JupyterHub.Auth.Password.AdminUser,
		PasswordFile: st.Secret(SecretAdminPassword),
		StateDir:     st.Dir,
		Logs:         st.Logs(),
		Changed:      p.View.HasChanges(),
	}
	if st.usersOwnAccounts {
		res.Users = "each user's server runs as a system account of its own (dhub-<name>, home 0700)"
	}
	untouched := "nothing was started or stopped"
	if len(p.procs) > 0 {
		untouched = "the running hub was not touched"
	}
	// The environment is built while a running hub goes on serving: if
	// the install fails, the hub is left as it was.
	if p.installEnv {
		if res.EnvInstalled, err = EnsureEnv(ctx, st.Venv(), p.python, o.machine().WheelCache, o.Progress); err != nil {
			if ctx.Err() != nil {
				return nil, interrupted(fmt.Sprintf("the Python environment at %s is not finished and is kept (the next 'dhub up' completes it); %s", st.Venv(), untouched))
			}
			return nil, err
		}
	}
	if err := fixModes(p.modes); err != nil {
		return nil, err
	}
	// What a spawn needs beyond the hub, checked before anything starts or
	// stops: a hub that answers but on which no user can start a server
	// is not up.
	checked := time.Now()
	if err := st.checkUsersCanRun(ctx); err != nil {
		return nil, fmt.Errorf("%w; %s", err, untouched)
	}
	if st.usersOwnAccounts {
		fmt.Fprintf(o.Progress, "users' accounts can run their servers (checked as nobody in %.1fs)\n", time.Since(checked).Seconds())
	}
	if err := st.writeSecrets(p.secrets); err != nil {
		return nil, err
	}
	for _, s := range p.secrets {
		res.PasswordGenerated = res.PasswordGenerated || (s.generated && s.name == SecretAdminPassword)
	}
	if p.processes == leaveRunning {
		fmt.Fprintln(o.Progress, "the hub already runs with this configuration: nothing to do")
		for name, pr := range p.procs {
			if pr.Unrecorded {
				if err := writePidFile(st.PidFile(name), pr); err != nil {
					return nil, err
				}
				fmt.Fprintf(o.Progress, "wrote the missing or damaged pid file of %s (pid %d)\n", name, pr.Pid)
			}
		}
		res.Elapsed = time.Since(start)
		return res, nil
	}

	next, err := p.stage(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, interrupted(untouched)
		}
		if len(p.procs) > 0 {
			return nil, fmt.Errorf("%w; %s", err, untouched)
		}
		return nil, err
	}
	var prev *launch
	stoppedPrevious := ""
	if p.processes == restartProcesses {
		prev = st.previousLaunch(p.prev)
		fmt.Fprintln(o.Progress, "restarting the hub: "+p.restartReason())
		// Stopping is not cut short by Ctrl-C: a process killed half way
		// through its shutdown may leave its children behind.
		st.stopAll(context.WithoutCancel(ctx), o)
		stoppedPrevious = "; the hub that ran before was stopped for the restart"
		if ctx.Err() != nil {
			return nil, interrupted(fmt.Sprintf("stopped the running hub for the restart and started nothing; the environment at %s and the secrets are kept; run 'dhub up' again", st.Venv()))
		}
	}
	err = st.launch(ctx, p.hub, next, o)
	switch {
	case err == nil:
		res.Elapsed = time.Since(start)
		return res, nil
	case ctx.Err() != nil:
		return nil, interrupted(fmt.Sprintf("stopped the hub this run started%s; the environment at %s and the secrets are kept; run 'dhub up' again", stoppedPrevious, st.Venv()))
	case prev == nil && p.processes == restartProcesses:
		failed := failure(err)
		return nil, fmt.Errorf("the new configuration failed: %s; the previous one cannot be started again (its runtime record or configuration files were missing or unreadable): the hub is down%s", failed.summary, failed.detail)
	case prev == nil:
		return nil, err
	}
	failed := failure(err)
	fmt.Fprintf(o.Progress, "the new configuration failed (%s): starting the previous one again\n", failed.summary)
	if rerr := st.launch(ctx, p.hub, *prev, o); rerr != nil {
		if ctx.Err() != nil {
			return nil, interrupted(fmt.Sprintf("the new configuration failed (%s); stopped the previous one while it started again; the hub is down; run 'dhub up' again", failed.summary))
		}
		return nil, fmt.Errorf("the new configuration failed: %s; the previous one did not start again either (%s): the hub is down%s", failed.summary, failure(rerr).summary, failed.detail)
	}
	return nil, fmt.Errorf("the new configuration failed: %s; the previous one runs again%s", failed.summary, failed.detail)
}

// singleUserWarning says, when dhub does not run as root and dhub.yaml
// lets others than the admin log in, that they will not get in: their
// servers would run as the one account that runs the hub, able to read
// its secrets and each other's files.
func singleUserWarning(h *config.Hub, root bool) string {
	p := h.JupyterHub.Auth.Password
	if root || p == nil {
		return ""
	}
	var others []string
	for _, n := range p.AllowedNames() {
		if n != p.AdminUser {
			others = append(others, n)
		}
	}
	if p.AllowAll {
		others = append(others, "anyone (allowAll)")
	}
	if len(others) == 0 {
		return ""
	}
	return fmt.Sprintf("dhub does not run as root, so this hub is single-user: only %s may log in, not %s (their servers would run as this account and could read the hub's secrets and each other's files); run dhub as root to give each user a system account of their own",
		p.AdminUser, strings.Join(others, ", "))
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

// launch is one configuration of the hub's processes: the rendered files
// and the runtime record that goes with them.
type launch struct {
	files []render.LocalFile
	rt    runtime
}

// stage renders the configuration Up is about to start and checks, while
// a running hub goes on serving, everything that can be checked before it
// is stopped: the public port is free or the hub's, the internal ports
// (kept when free or the hub's), the environment's programs, the Python of
// each configuration file compiles, and the files Up writes can be
// written (a runtime record or log replaced by a directory cannot).
func (p *Plan) stage(ctx context.Context) (launch, error) {
	h, st := p.hub, p.st
	if err := st.checkPublicPort(h); err != nil {
		return launch{}, err
	}
	ports, err := choosePorts(p.prev, h.Local.Port, st.usablePort)
	if err != nil {
		return launch{}, err
	}
	if why := envComplete(st.Venv(), p.envWant); why != "" {
		return launch{}, fmt.Errorf("the Python environment at %s is %s: run 'dhub up' again to rebuild it", st.Venv(), why)
	}
	files := render.ForLocal(h, ports)
	if err := compilePython(ctx, st.Python(), files); err != nil {
		return launch{}, err
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, st.ConfigFile(f.Name))
	}
	for _, name := range []string{procGateway, procHub} {
		paths = append(paths, st.Log(name), st.PidFile(name))
	}
	paths = append(paths, st.runtimeFile())
	for _, path := range paths {
		if err := writable(path); err != nil {
			return launch{}, err
		}
	}
	return launch{files: files, rt: runtime{Ports: ports, Digest: digest(files, p.secretValues)}}, nil
}

// writable checks, without changing anything, that path can be written:
// it is a regular file or absent, and its directory takes new files.
func writable(path string) error {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s): move it aside, then run 'dhub up' again", path, fi.Mode().Type())
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".dhub-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", filepath.Dir(path), err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// compilePython compiles each file with the environment's Python, as the
// process that reads it will, without running it or writing bytecode.
func compilePython(ctx context.Context, python string, files []render.LocalFile) error {
	src := map[string]string{}
	for _, f := range files {
		src[f.Name] = f.Content
	}
	in, _ := json.Marshal(src)
	cmd := exec.CommandContext(ctx, python, "-c", `import json, sys
bad = []
for name, text in json.load(sys.stdin).items():
    try:
        compile(text, name, "exec")
    except SyntaxError as e:
        bad.append("%s line %s: %s: %s" % (name, e.lineno, e.msg, (e.text or "").strip()))
print("\n".join(bad))
sys.exit(1 if bad else 0)`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the rendered configuration is not valid Python (a bug in dhub or a value it should have refused; the running hub, if any, is kept):\n%s", lastLines(string(out), 10))
	}
	return nil
}

// previousLaunch is the configuration the running hub was started with:
// the files in the configuration directory and its runtime record. It is
// nil when either is missing, and then a failed restart cannot go back.
func (st State) previousLaunch(rt *runtime) *launch {
	if rt == nil {
		return nil
	}
	l := &launch{rt: *rt}
	for _, name := range []string{"jupyterhub_config.py", "dask_gateway_config.py"} {
		b, err := readBounded(st.ConfigFile(name), 1<<20)
		if err != nil {
			return nil
		}
		l.files = append(l.files, render.LocalFile{Name: name, Content: string(b)})
	}
	return l
}

// checkPublicPort fails when another program than the hub listens on
// local.port.
func (st State) checkPublicPort(h *config.Hub) error {
	if !portFree(h.Local.Host, h.Local.Port) && !st.ownsPort(h.Local.Port) {
		return fmt.Errorf("local.port: %s is in use by another program: stop it or set another local.port in dhub.yaml", hostPort(h.Local.Host, h.Local.Port))
	}
	return nil
}

// launch writes a configuration's files and runtime record, starts the
// gateway and then the hub, and waits until both answer. On failure it
// stops whatever it started and names the process with the end of its log.
func (st State) launch(ctx context.Context, h *config.Hub, l launch, o Options) error {
	if !portFree(h.Local.Host, h.Local.Port) {
		return fmt.Errorf("local.port: %s is in use by another program: stop it or set another local.port in dhub.yaml", hostPort(h.Local.Host, h.Local.Port))
	}
	for _, f := range l.files {
		if err := writeFileAtomic(st.ConfigFile(f.Name), []byte(f.Content), 0o600); err != nil {
			return err
		}
	}
	if err := st.writeRuntime(l.rt); err != nil {
		return err
	}
	// Cleaning up is not cut short by Ctrl-C.
	stop := func() { st.stopAll(context.WithoutCancel(ctx), o) }
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
			stop()
			return err
		}
		started[s.name] = pr
		fmt.Fprintf(o.Progress, "started %s (pid %d), log %s\n", s.name, pr.Pid, st.Log(s.name))
	}
	if err := waitReady(ctx, readyChecks(h, l.rt.Ports), started, o.StartTimeout, o.Progress); err != nil {
		var se *startError
		if errors.As(err, &se) {
			se.logFile = st.Log(se.process)
			b, _ := readBounded(se.logFile, 8<<20)
			se.logTail = lastLines(string(b), 15)
		}
		stop()
		return err
	}
	return nil
}

// failed is an error split for a message that goes on after it: a
// one-line summary and the detail (a log's end) shown last.
type failed struct{ summary, detail string }

func failure(err error) failed {
	var se *startError
	if errors.As(err, &se) {
		f := failed{summary: se.process + " " + se.reason}
		if se.logFile != "" {
			f.detail = fmt.Sprintf("\nthe end of %s:\n%s", se.logFile, se.logTail)
		}
		return f
	}
	return failed{summary: err.Error()}
}

// interruptedError is Apply stopped by its context (Ctrl-C): what it did
// about it and what it left.
type interruptedError struct{ left string }

func interrupted(left string) error { return &interruptedError{left: left} }

func (e *interruptedError) Error() string { return "interrupted: " + e.left }

// Unwrap makes errors.Is(err, context.Canceled) hold, for the exit code.
func (e *interruptedError) Unwrap() error { return context.Canceled }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
