package local

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
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

// Options tune the local target's verbs.
type Options struct {
	// Machine is what dhub reads of the machine it runs on; nil is
	// ThisMachine(). Tests pass their own, to see each case whoever runs
	// them.
	Machine *Machine
	// Progress receives progress lines (stderr in the CLI).
	Progress io.Writer
	// StartTimeout bounds the wait for each process to answer.
	StartTimeout time.Duration
	// StopGrace is how long a process may take to stop before it is killed.
	StopGrace time.Duration
}

// Machine is what the local target takes from the machine it runs on,
// besides the state directory.
type Machine struct {
	// Root says dhub runs as root. Each hub user's server then runs as a
	// system account of its own, which must reach the state directory;
	// otherwise one account runs every server and the hub is single-user.
	Root bool
	// SystemPythons are the interpreters tried, as root, in place of a
	// python3 of PATH that users' accounts cannot run.
	SystemPythons []string
	// WheelCache keeps the pinned packages' wheels between environments
	// (see EnsureEnv); "" keeps none.
	WheelCache string
}

// ThisMachine is the machine dhub runs on.
func ThisMachine() Machine {
	return Machine{Root: os.Geteuid() == 0, SystemPythons: []string{"/usr/bin/python3", "/usr/local/bin/python3"}, WheelCache: DefaultWheelCache()}
}

// machine is o.Machine, or this machine.
func (o Options) machine() Machine {
	if o.Machine != nil {
		return *o.Machine
	}
	return ThisMachine()
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

// UpResult is what Apply did and how to reach the hub.
type UpResult struct {
	URL       string `json:"url"`
	AdminUser string `json:"adminUser"`
	// Users says who runs users' servers: each an account of its own, or
	// this one for a single-user hub.
	Users string `json:"users"`
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

// choosePorts keeps the previous internal ports while they are usable
// (free, or held by the hub that a restart stops) and picks free ones
// otherwise; the public port is the config's.
func choosePorts(prev *runtime, public int, usable func(port int) bool) (render.LocalPorts, error) {
	want := render.DefaultLocalPorts(public)
	if prev != nil {
		want = prev.Ports
	}
	taken := map[int]bool{public: true}
	for _, p := range []*int{&want.ProxyAPI, &want.HubAPI, &want.GatewayAPI, &want.GatewayProxy} {
		if *p > 0 && !taken[*p] && usable(*p) {
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
// the environment's bin first, the state directory named and the hub's
// marker (a marker dhub itself inherited, run from a hub's terminal, is
// replaced).
func processEnv(st State) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PYTHONPATH=") && !strings.HasPrefix(kv, "VIRTUAL_ENV=") && !strings.HasPrefix(kv, markerEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"PATH="+filepath.Join(st.Venv(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"VIRTUAL_ENV="+st.Venv(),
		"DHUB_STATE_DIR="+st.Dir,
		"DHUB_SECRETS_DIR="+st.Secrets(),
		markerEnv+"="+st.ID,
	)
}

// checkPasswords applies SharedPasswordAuthenticator's rules to the
// passwords as they will be, before the hub would refuse to start over them.
func checkPasswords(secrets map[string]string) error {
	admin, ok := secrets[SecretAdminPassword]
	if !ok {
		return nil // not password login
	}
	user, hasUser := secrets[SecretUserPassword]
	return config.CheckSharedPasswords(admin, user, hasUser)
}

// running returns the hub's and the gateway's processes, and whether both
// run. Each is its pid file's process when that runs, started when the
// file says and carries the hub's marker; else (a pid file missing or
// damaged) the process with the marker that runs its configuration file.
func (st State) running() (map[string]proc, bool) {
	procs := map[string]proc{}
	var own []proc
	for _, name := range []string{procHub, procGateway} {
		if p, err := readPidFile(name, st.PidFile(name)); err == nil && p.alive() && p.carries(st.ID) {
			procs[name] = p
			continue
		}
		if own == nil {
			own = ownProcesses(st.ID)
		}
		for _, p := range own {
			if p.runs(st.ConfigFile(configFiles[name])) {
				p.Name, p.Unrecorded = name, true
				procs[name] = p
				break
			}
		}
	}
	return procs, len(procs) == 2
}

// configFiles are the configuration files of the processes dhub starts.
var configFiles = map[string]string{procHub: "jupyterhub_config.py", procGateway: "dask_gateway_config.py"}

// runtimeFile records the running hub's ports and configuration digest.
func (st State) runtimeFile() string { return filepath.Join(st.Run(), "runtime.json") }

// readRuntime reads the runtime record; anything but a small regular file
// holding it is an error.
func (st State) readRuntime() (*runtime, error) {
	b, err := readBounded(st.runtimeFile(), 64<<10)
	if err != nil {
		return nil, err
	}
	var r runtime
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", st.runtimeFile(), err)
	}
	return &r, nil
}

// writeRuntime records the running hub's ports and digest, owner-only:
// the digest covers secrets.
func (st State) writeRuntime(r runtime) error {
	b, _ := json.MarshalIndent(r, "", "  ")
	return writeFileAtomic(st.runtimeFile(), b, 0o600)
}

// digest identifies a configuration: the rendered files and the secrets
// they read at start, so a changed file or secret means a restart.
func digest(files []render.LocalFile, secrets map[string]string) string {
	var b bytes.Buffer
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		fmt.Fprintf(&b, "%s\n%d\n%s", f.Name, len(f.Content), f.Content)
	}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		fmt.Fprintf(&b, "secret %s\n%d\n%s", name, len(secrets[name]), secrets[name])
	}
	return fmt.Sprintf("%x", sha256.Sum256(b.Bytes()))
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}
