package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dhub/internal/config"
	"dhub/internal/render"
)

// The processes dhub starts directly; JupyterHub starts its proxy itself.
const (
	procHub     = "jupyterhub"
	procGateway = "dask-gateway"
)

// Options tune Up and Down.
type Options struct {
	// Progress receives progress lines (stderr in the CLI).
	Progress io.Writer
	// StartTimeout bounds the wait for each process to answer.
	StartTimeout time.Duration
	// StopGrace is how long a process may take to stop before it is killed.
	StopGrace time.Duration
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 90 * time.Second
	}
	if o.StopGrace == 0 {
		o.StopGrace = 15 * time.Second
	}
}

// UpResult is what Up did and how to reach the hub.
type UpResult struct {
	URL       string `json:"url"`
	AdminUser string `json:"adminUser"`
	// PasswordFile holds the admin password; dhub never prints it.
	PasswordFile string `json:"adminPasswordFile"`
	// PasswordGenerated is true when this run generated the password.
	PasswordGenerated bool   `json:"adminPasswordGenerated"`
	StateDir          string `json:"stateDir"`
	Logs              string `json:"logs"`
	// Changed is false when the hub already ran with this configuration.
	Changed      bool          `json:"changed"`
	EnvInstalled bool          `json:"envInstalled"`
	Elapsed      time.Duration `json:"elapsedNs"`
}

// runtime is the persisted facts of a running hub: ports and the digest of
// the configuration it was started with.
type runtime struct {
	Ports  render.LocalPorts `json:"ports"`
	Digest string            `json:"digest"`
}

// Up starts the hub's processes, or leaves them be when they already run
// with the same configuration. It returns once everything answers.
func Up(ctx context.Context, h *config.Hub, o Options) (*UpResult, error) {
	o.defaults()
	start := time.Now()
	st, err := StateFor(h)
	if err != nil {
		return nil, err
	}
	if err := st.prepare(); err != nil {
		return nil, fmt.Errorf("prepare state directory %s: %w", st.Dir, err)
	}
	unlock, err := st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	installed, err := EnsureEnv(ctx, st.Venv(), h.Local.Python, o.Progress)
	if err != nil {
		return nil, err
	}
	generated, err := st.ensureSecrets(h)
	if err != nil {
		return nil, err
	}
	if err := checkPasswords(st); err != nil {
		return nil, err
	}
	res := &UpResult{
		URL:          fmt.Sprintf("http://%s/", hostPort(h.Local.Host, h.Local.Port)),
		AdminUser:    h.JupyterHub.Auth.Password.AdminUser,
		PasswordFile: st.Secret(SecretAdminPassword),
		StateDir:     st.Dir,
		Logs:         st.Logs(),
		EnvInstalled: installed,
	}
	for _, g := range generated {
		res.PasswordGenerated = res.PasswordGenerated || g == SecretAdminPassword
	}

	procs, running := st.running()
	prev, _ := st.readRuntime()
	if running && prev != nil {
		files := render.ForLocal(h, prev.Ports)
		if digest(files) == prev.Digest && len(generated) == 0 {
			if err := waitReady(ctx, readyChecks(h, prev.Ports), procs, o.StartTimeout, io.Discard); err == nil {
				fmt.Fprintln(o.Progress, "the hub already runs with this configuration: nothing to do")
				res.Elapsed = time.Since(start)
				return res, nil
			}
		}
	}
	if len(procs) > 0 {
		fmt.Fprintln(o.Progress, "restarting the hub: its configuration changed or a process is down")
		st.stopAll(ctx, o)
	}

	if !portFree(h.Local.Host, h.Local.Port) {
		return nil, fmt.Errorf("local.port: %s is in use by another program: stop it or set another local.port in dhub.yaml", hostPort(h.Local.Host, h.Local.Port))
	}
	ports, err := choosePorts(prev, h.Local.Port)
	if err != nil {
		return nil, err
	}
	files := render.ForLocal(h, ports)
	for _, f := range files {
		if err := os.WriteFile(st.ConfigFile(f.Name), []byte(f.Content), 0o644); err != nil {
			return nil, err
		}
	}
	if err := st.writeRuntime(runtime{Ports: ports, Digest: digest(files)}); err != nil {
		return nil, err
	}

	env := processEnv(st)
	started := map[string]proc{}
	for _, s := range []struct{ name, bin, config string }{
		{procGateway, "dask-gateway-server", "dask_gateway_config.py"},
		{procHub, "jupyterhub", "jupyterhub_config.py"},
	} {
		argv := []string{st.Bin(s.bin), "-f", st.ConfigFile(s.config)}
		p, err := startDetached(s.name, argv, env, st.Dir, st.Log(s.name))
		if err != nil {
			st.stopAll(ctx, o)
			return nil, err
		}
		if err := writePidFile(st.PidFile(s.name), p); err != nil {
			st.stopAll(ctx, o)
			return nil, err
		}
		started[s.name] = p
		fmt.Fprintf(o.Progress, "started %s (pid %d), log %s\n", s.name, p.Pid, st.Log(s.name))
	}
	if err := waitReady(ctx, readyChecks(h, ports), started, o.StartTimeout, o.Progress); err != nil {
		var se *startError
		if errors.As(err, &se) {
			se.logFile = st.Log(se.process)
			b, _ := os.ReadFile(se.logFile)
			se.logTail = lastLines(string(b), 15)
		}
		st.stopAll(ctx, o)
		return nil, err
	}
	res.Changed = true
	res.Elapsed = time.Since(start)
	return res, nil
}

// readyChecks are the probes Up waits for: the gateway itself, the hub's
// API, and the gateway through the hub's proxy (the path users take).
func readyChecks(h *config.Hub, ports render.LocalPorts) []check {
	hub := "http://" + hostPort(h.Local.Host, h.Local.Port)
	return []check{
		{name: "dask gateway", url: fmt.Sprintf("http://127.0.0.1:%d/services/dask-gateway/api/health", ports.GatewayProxy), proc: procGateway},
		{name: "jupyterhub", url: hub + "/hub/api", proc: procHub},
		{name: "dask gateway through the hub", url: hub + "/services/dask-gateway/api/health", proc: procHub},
	}
}

// choosePorts keeps the previous internal ports while they are free and
// picks free ones otherwise; the public port is the config's.
func choosePorts(prev *runtime, public int) (render.LocalPorts, error) {
	want := render.DefaultLocalPorts(public)
	if prev != nil {
		want = prev.Ports
	}
	taken := map[int]bool{public: true}
	for _, p := range []*int{&want.ProxyAPI, &want.HubAPI, &want.GatewayAPI, &want.GatewayProxy} {
		if *p > 0 && !taken[*p] && portFree("127.0.0.1", *p) {
			taken[*p] = true
			continue
		}
		for {
			free, err := freePort()
			if err != nil {
				return want, fmt.Errorf("find a free port: %w", err)
			}
			if !taken[free] {
				*p, taken[free] = free, true
				break
			}
		}
	}
	return want, nil
}

// processEnv is the environment of the hub's processes: the user's, with
// the environment's bin first and the state directory named.
func processEnv(st State) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PYTHONPATH=") && !strings.HasPrefix(kv, "VIRTUAL_ENV=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"PATH="+filepath.Join(st.Venv(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"VIRTUAL_ENV="+st.Venv(),
		"DHUB_STATE_DIR="+st.Dir,
		"DHUB_SECRETS_DIR="+st.Secrets(),
	)
}

// checkPasswords applies SharedPasswordAuthenticator's rules before the hub
// would refuse to start over them.
func checkPasswords(st State) error {
	admin, err := st.readSecret(SecretAdminPassword)
	if err != nil {
		return err
	}
	if len(admin) < 32 {
		return errors.New("hub.auth.password.adminPassword: JupyterHub needs at least 32 characters")
	}
	user, err := st.readSecret(SecretUserPassword)
	if err != nil {
		return nil // no shared user password: only the admin logs in
	}
	if len(user) < 8 {
		return errors.New("hub.auth.password.userPassword: JupyterHub needs at least 8 characters")
	}
	if user == admin {
		return errors.New("hub.auth.password: userPassword and adminPassword must differ")
	}
	return nil
}

// running returns the processes whose pid files point at live processes,
// and whether all of them run.
func (st State) running() (map[string]proc, bool) {
	procs := map[string]proc{}
	all := true
	for _, name := range []string{procHub, procGateway} {
		p, err := readPidFile(name, st.PidFile(name))
		if err == nil && p.alive() {
			procs[name] = p
		} else {
			all = false
		}
	}
	return procs, all
}

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
	st, err := StateFor(h)
	if err != nil {
		return nil, err
	}
	res := &DownResult{StateDir: st.Dir}
	if _, err := os.Stat(st.Dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.Progress, "nothing to stop: %s does not exist\n", st.Dir)
		return res, nil
	}
	unlock, err := st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	res.Stopped, res.Forced = st.stopAll(ctx, o)
	for _, p := range hubProcesses(st.Dir) {
		res.Leftover = append(res.Leftover, fmt.Sprintf("%s (pid %d)", p.Name, p.Pid))
	}
	if len(res.Leftover) > 0 {
		return res, fmt.Errorf("processes still run in %s: %s", st.Dir, strings.Join(res.Leftover, ", "))
	}
	return res, nil
}

// stopAll stops the gateway, then the hub, then sweeps up every other
// process in the state directory; it removes the pid files.
func (st State) stopAll(ctx context.Context, o Options) (stopped, forced []string) {
	for _, name := range []string{procGateway, procHub} {
		p, err := readPidFile(name, st.PidFile(name))
		if err == nil && p.alive() {
			fmt.Fprintf(o.Progress, "stopping %s (pid %d)\n", name, p.Pid)
			if p.stop(ctx, o.StopGrace) {
				forced = append(forced, name)
			}
			stopped = append(stopped, name)
		}
		_ = os.Remove(st.PidFile(name))
	}
	for _, p := range hubProcesses(st.Dir) {
		fmt.Fprintf(o.Progress, "stopping leftover %s (pid %d)\n", p.Name, p.Pid)
		if p.stop(ctx, 5*time.Second) {
			forced = append(forced, p.Name)
		}
		stopped = append(stopped, p.Name)
	}
	return stopped, forced
}

func (st State) readRuntime() (*runtime, error) {
	b, err := os.ReadFile(filepath.Join(st.Run(), "runtime.json"))
	if err != nil {
		return nil, err
	}
	var r runtime
	return &r, json.Unmarshal(b, &r)
}

func (st State) writeRuntime(r runtime) error {
	b, _ := json.MarshalIndent(r, "", "  ")
	return os.WriteFile(filepath.Join(st.Run(), "runtime.json"), b, 0o644)
}

func digest(files []render.LocalFile) string {
	var b bytes.Buffer
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		fmt.Fprintf(&b, "%s\n%d\n%s", f.Name, len(f.Content), f.Content)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b.Bytes()))
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}
