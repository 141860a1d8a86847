// Package smoke is dhub's end-to-end check of a hub: a real Dask cluster
// through Dask Gateway, authenticated by the hub, computing a result that is
// checked. The check is one Python script; each target supplies a Runner.
package smoke

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Script is the smoke check, run with the hub's own Python packages.
//
//go:embed smoke.py
var Script []byte

// Runner runs the script where the hub's users run code and returns its
// stdout. env carries the hub's addresses and the dhub service token.
type Runner interface {
	RunScript(ctx context.Context, script []byte, env map[string]string, progress io.Writer) (stdout []byte, err error)
}

// Target is where the hub answers, as the script needs it.
type Target struct {
	HubURL         string
	GatewayAddress string
	// GatewayProxyAddress is the scheduler proxy (gateway://host:port);
	// empty means the gateway's default.
	GatewayProxyAddress string
	// APIToken is a hub token allowed to create the smoke user and its token.
	APIToken string
}

// Options are the knobs of a smoke run.
type Options struct {
	Workers int
	Timeout time.Duration
	// CompareLocal also times the same computation on a LocalCluster of the
	// same size, for Result.Ratio.
	CompareLocal bool
}

// Phase is one timed step of the check.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
}

// Result is what the check saw.
type Result struct {
	OK          bool    `json:"ok"`
	Error       string  `json:"error,omitempty"`
	User        string  `json:"user"`
	Cluster     string  `json:"cluster,omitempty"`
	Workers     int     `json:"workers"`
	WorkersSeen int     `json:"workersSeen,omitempty"`
	Phases      []Phase `json:"phases"`
	Result      int64   `json:"result,omitempty"`
	Expected    int64   `json:"expected,omitempty"`
	// LocalClusterComputeSeconds is the same computation on a LocalCluster.
	LocalClusterComputeSeconds float64 `json:"localClusterComputeSeconds,omitempty"`
}

// Phase returns the duration of the named phase, or 0.
func (r *Result) Phase(name string) float64 {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.Seconds
		}
	}
	return 0
}

// Ratio is the gateway compute time over the LocalCluster compute time, or
// 0 when no comparison ran.
func (r *Result) Ratio() float64 {
	if r.LocalClusterComputeSeconds == 0 {
		return 0
	}
	return r.Phase("compute") / r.LocalClusterComputeSeconds
}

// ErrFailed is wrapped by Run's error when the check ran and failed.
var ErrFailed = errors.New("smoke check failed")

// Run runs the check. It returns the result when the script produced one,
// with an error wrapping ErrFailed if the check did not pass.
func Run(ctx context.Context, r Runner, t Target, o Options, progress io.Writer) (*Result, error) {
	if o.Workers < 1 {
		return nil, fmt.Errorf("--workers %d: use at least 1", o.Workers)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	env := map[string]string{
		"DHUB_HUB_URL":               t.HubURL,
		"DHUB_API_TOKEN":             t.APIToken,
		"DHUB_GATEWAY_ADDRESS":       t.GatewayAddress,
		"DHUB_GATEWAY_PROXY_ADDRESS": t.GatewayProxyAddress,
		"DHUB_SMOKE_WORKERS":         fmt.Sprint(o.Workers),
		"DHUB_SMOKE_TIMEOUT":         fmt.Sprint(int(o.Timeout.Seconds())),
	}
	if o.CompareLocal {
		env["DHUB_SMOKE_COMPARE_LOCAL"] = "1"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*o.Timeout+time.Minute)
	defer cancel()
	out, runErr := r.RunScript(ctx, Script, env, progress)
	var res Result
	if i := bytes.LastIndexByte(bytes.TrimRight(out, "\n"), '\n'); i >= 0 {
		out = out[i+1:]
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("%w: %v", ErrFailed, runErr)
		}
		return nil, fmt.Errorf("%w: the smoke script printed no result: %v", ErrFailed, err)
	}
	if !res.OK {
		return &res, fmt.Errorf("%w: %s", ErrFailed, res.Error)
	}
	return &res, nil
}
