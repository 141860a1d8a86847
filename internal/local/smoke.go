package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"dhub/internal/config"
	"dhub/internal/smoke"
)

// SmokeRunner runs the smoke script with the hub's own Python environment.
type SmokeRunner struct{ st State }

// RunScript runs script with the environment's python; its stderr (progress)
// goes to progress. The script runs from a file: Dask's LocalCluster
// re-imports the main module in its worker processes.
func (r SmokeRunner) RunScript(ctx context.Context, script []byte, env map[string]string, progress io.Writer) ([]byte, error) {
	path := filepath.Join(r.st.Run(), "smoke.py")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, r.st.Python(), path)
	cmd.Env = processEnv(r.st)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, progress
	err := cmd.Run()
	return out.Bytes(), err
}

// Smoke returns the runner and target of a local hub for the smoke check.
func Smoke(h *config.Hub) (smoke.Runner, smoke.Target, error) {
	st, err := StateFor(h)
	if err != nil {
		return nil, smoke.Target{}, err
	}
	if _, err := os.Stat(st.Python()); err != nil {
		return nil, smoke.Target{}, fmt.Errorf("the local hub has no Python environment in %s: run 'dhub up' first", st.Venv())
	}
	token, err := st.readSecret(SecretDhubToken)
	if err != nil {
		return nil, smoke.Target{}, err
	}
	rt, err := st.readRuntime()
	if err != nil {
		return nil, smoke.Target{}, fmt.Errorf("the local hub was never started: run 'dhub up' first")
	}
	hub := "http://" + hostPort(h.Local.Host, h.Local.Port)
	return SmokeRunner{st}, smoke.Target{
		HubURL:              hub,
		GatewayAddress:      hub + "/services/dask-gateway",
		GatewayProxyAddress: fmt.Sprintf("gateway://127.0.0.1:%d", rt.Ports.GatewayProxy),
		APIToken:            token,
	}, nil
}
