// Package smoke walks a hub the way a person uses it, on every target: sign
// in, get a server, open a notebook kernel in it, run Gateway() there and
// compute on a Dask cluster, open the cluster's dashboard, shut everything
// down. It talks to the hub only as a browser and JupyterLab do: the hub's
// login form and REST API, the user's server's kernels API and its
// websocket. Each phase is timed; a failure names its phase and reason.
package smoke

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// cells is the Python the check runs in the user's kernel.
//
//go:embed cells.py
var cells string

// DefaultUser is the dedicated user the check runs as.
const DefaultUser = "dhub-smoke"

// Target is where a hub answers, as the check needs it.
type Target struct {
	// HubURL is where people reach the hub: scheme://host[:port].
	HubURL string
	// APIToken is a hub token of dhub's own service: it creates the
	// check's user and that user's token, and removes the user afterwards.
	APIToken string
	// Login is a user and password the hub's login form takes, when the
	// hub has one dhub knows (password login): the check signs in with
	// them first, as the person who ran 'dhub up' would.
	Login *Login
	// Client is the HTTP client for the hub; nil means one with the
	// system's settings.
	Client *http.Client
	// Diagnose, when set, says why a user's server did not start, from
	// what the target can see (the hub's log, the pod's events).
	Diagnose func(ctx context.Context, user string) string
}

// Login is a user name and password for the hub's login form.
type Login struct {
	User, Password string
}

// Options are the knobs of a check.
type Options struct {
	Workers int
	// Timeout bounds each phase.
	Timeout time.Duration
	// CompareLocal also times the same computation on a LocalCluster of
	// the same size in the user's server, for Result.Ratio.
	CompareLocal bool
	// Keep leaves the check's user and their server running afterwards,
	// to look into.
	Keep bool
	// User is the check's user; DefaultUser when empty.
	User string
}

// Phase is one timed step of the check.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	OK      bool    `json:"ok"`
}

// Result is what the check saw.
type Result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	User  string `json:"user"`
	// Server is the URL path of the user's server.
	Server      string  `json:"server,omitempty"`
	Cluster     string  `json:"cluster,omitempty"`
	Workers     int     `json:"workers"`
	WorkersSeen int     `json:"workersSeen,omitempty"`
	Phases      []Phase `json:"phases"`
	Result      int64   `json:"result,omitempty"`
	Expected    int64   `json:"expected,omitempty"`
	// Dashboard is the cluster's dashboard link, as the user's notebook shows it.
	Dashboard string `json:"dashboard,omitempty"`
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

// n is the length of the array whose sum of squares the check computes;
// the sum stays below 2**63.
const n = 2_000_000

// check is one run of the check.
type check struct {
	t        Target
	o        Options
	hub      hub
	progress io.Writer
	res      *Result
	token    string
	kernel   *kernel
}

// Run runs the check against t. It returns the result with an error
// wrapping ErrFailed when a phase failed; everything it started is stopped
// and its user removed (unless Options.Keep), whatever happened.
func Run(ctx context.Context, t Target, o Options, progress io.Writer) (*Result, error) {
	if o.Workers < 1 {
		return nil, fmt.Errorf("--workers %d: use at least 1", o.Workers)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if t.Client == nil {
		t.Client = &http.Client{}
	}
	t.HubURL = strings.TrimRight(t.HubURL, "/")
	c := &check{t: t, o: o, hub: hub{base: t.HubURL, http: t.Client}, progress: progress,
		res: &Result{User: o.User, Workers: o.Workers, Phases: []Phase{}}}
	err := c.run(ctx)
	if cerr := c.cleanUp(context.WithoutCancel(ctx)); err == nil {
		err = cerr
	}
	if err != nil {
		c.res.Error = err.Error()
		return c.res, fmt.Errorf("%w: %v", ErrFailed, err)
	}
	c.res.OK = true
	return c.res, nil
}

func (c *check) run(ctx context.Context) error {
	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"login", c.login},
		{"spawn", c.spawn},
		{"kernel start", c.startKernel},
		{"cluster start", c.cell("cluster_start")},
		{"workers ready", c.cell("workers_ready")},
		{"compute", c.cell("compute")},
		{"dashboard", c.dashboard},
		{"shutdown", c.cell("shutdown")},
	}
	for _, s := range steps {
		if err := c.phase(ctx, s.name, s.do); err != nil {
			return err
		}
	}
	if c.o.CompareLocal {
		// A comparison that fails leaves the check's own verdict alone.
		if err := c.cell("compare_local")(ctx); err != nil {
			fmt.Fprintf(c.progress, "smoke: the LocalCluster comparison failed: %v\n", err)
		}
	}
	return nil
}

// phase runs one timed phase, bounded by the phase timeout.
func (c *check) phase(ctx context.Context, name string, do func(context.Context) error) error {
	fmt.Fprintf(c.progress, "smoke: %s ...\n", name)
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	start := time.Now()
	err := do(ctx)
	seconds := time.Since(start).Seconds()
	c.res.Phases = append(c.res.Phases, Phase{Name: name, Seconds: float64(int(seconds*1000)) / 1000, OK: err == nil})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (after %s)", err, c.o.Timeout)
		}
		fmt.Fprintf(c.progress, "smoke: %s FAILED in %.1fs\n", name, seconds)
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(c.progress, "smoke: %s done in %.1fs\n", name, seconds)
	return nil
}

// login signs in through the login form when the target has credentials
// for it, then gets the check's user a token from the hub.
func (c *check) login(ctx context.Context) error {
	if l := c.t.Login; l != nil {
		if err := c.hub.formLogin(ctx, l.User, l.Password); err != nil {
			return err
		}
	}
	tok, err := c.hub.userToken(ctx, c.t.APIToken, c.o.User, int((8*c.o.Timeout + time.Hour).Seconds()))
	if err != nil {
		return err
	}
	c.token = tok
	return nil
}

func (c *check) spawn(ctx context.Context) error {
	path, err := c.hub.spawn(ctx, c.token, c.o.User, c.progress)
	if err != nil && c.t.Diagnose != nil {
		if why := c.t.Diagnose(context.WithoutCancel(ctx), c.o.User); why != "" {
			err = fmt.Errorf("%w\n%s", err, why)
		}
	}
	c.res.Server = path
	return err
}

func (c *check) startKernel(ctx context.Context) error {
	server := c.t.HubURL + strings.TrimRight(c.res.Server, "/")
	k, err := startKernel(ctx, c.t.Client, server, c.o.User, c.token)
	if err != nil {
		return err
	}
	c.kernel = k
	_, err = k.execute(ctx, cells+fmt.Sprintf("\n_dhub_smoke = DhubSmoke(%d, %d, %d)\n", c.o.Workers, int(c.o.Timeout.Seconds()), n))
	return err
}

// cell returns a phase that calls one method of the kernel's DhubSmoke and
// records what it reported.
func (c *check) cell(method string) func(context.Context) error {
	return func(ctx context.Context) error {
		out, err := c.kernel.execute(ctx, "_dhub_smoke."+method+"()")
		var ce *cellError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w\n%s", err, tracebackEnd(ce.Traceback, 6))
		}
		if err != nil {
			return err
		}
		return c.record(out)
	}
}

// record takes the values a cell reported into the result.
func (c *check) record(out string) error {
	for _, line := range strings.Split(out, "\n") {
		js, ok := strings.CutPrefix(line, "DHUB-RESULT ")
		if !ok {
			continue
		}
		var v struct {
			Cluster     string  `json:"cluster"`
			WorkersSeen int     `json:"workersSeen"`
			Result      int64   `json:"result"`
			Expected    int64   `json:"expected"`
			Link        string  `json:"link"`
			Seconds     float64 `json:"seconds"`
		}
		if err := json.Unmarshal([]byte(js), &v); err != nil {
			return fmt.Errorf("the kernel reported %q: %w", js, err)
		}
		switch {
		case v.Cluster != "":
			c.res.Cluster = v.Cluster
		case v.WorkersSeen != 0:
			c.res.WorkersSeen = v.WorkersSeen
		case v.Expected != 0:
			c.res.Result, c.res.Expected = v.Result, v.Expected
		case v.Link != "":
			c.res.Dashboard = v.Link
		case v.Seconds != 0:
			c.res.LocalClusterComputeSeconds = v.Seconds
		}
	}
	return nil
}

// dashboard opens the dashboard link the notebook shows, through the hub,
// as a person's browser does: the page must be Bokeh's, and its websocket
// (where the plots come from) must open with the "bokeh" subprotocol.
func (c *check) dashboard(ctx context.Context) error {
	if err := c.cell("dashboard")(ctx); err != nil {
		return err
	}
	link := c.res.Dashboard
	if strings.HasPrefix(link, "/") {
		link = c.t.HubURL + link
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return fmt.Errorf("dashboard link %q: %w", c.res.Dashboard, err)
	}
	req.Header.Set("Authorization", "token "+c.token)
	resp, err := c.t.Client.Do(req)
	if err != nil {
		return fmt.Errorf("open the dashboard %s: %w", link, err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(bytes.ToLower(page), []byte("bokeh")) {
		return fmt.Errorf("the dashboard at %s answered %d without a dashboard: %s", link, resp.StatusCode, short(string(page)))
	}
	return openBokehSocket(ctx, c.t.Client, link, page)
}

// bokehToken is the session token a Bokeh server page embeds.
var bokehToken = regexp.MustCompile(`"token":"([^"]+)"`)

// openBokehSocket opens the websocket a Bokeh server page connects to (the
// page's URL + "/ws"), asking for the subprotocols BokehJS asks for; a
// browser gives up unless the answer picks "bokeh".
func openBokehSocket(ctx context.Context, hc *http.Client, pageURL string, page []byte) error {
	m := bokehToken.FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("the dashboard at %s has no Bokeh session", pageURL)
	}
	wsURL := "ws" + strings.TrimPrefix(strings.TrimRight(pageURL, "/"), "http") + "/ws"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"bokeh", string(m[1])}})
	if err != nil {
		return fmt.Errorf("the dashboard's websocket %s does not open: %w", wsURL, err)
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	if got := conn.Subprotocol(); got != "bokeh" {
		return fmt.Errorf("the dashboard's websocket %s opened without the bokeh subprotocol (got %q): a browser drops it and the dashboard stays blank; a proxy on the way does not pass subprotocols through", wsURL, got)
	}
	return nil
}

// cleanUp shuts down what the check started: the cluster (if a phase
// failed after it started), the kernel, the server and the user, unless
// Options.Keep. It returns the first error.
func (c *check) cleanUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	var errs []error
	if c.kernel != nil {
		if c.res.Cluster != "" && !c.passed("shutdown") {
			_, err := c.kernel.execute(ctx, "_dhub_smoke.shutdown()")
			errs = append(errs, err)
		}
		if !c.o.Keep {
			errs = append(errs, c.kernel.close(ctx))
		}
	}
	if c.token != "" && !c.o.Keep {
		errs = append(errs, c.hub.stopServer(ctx, c.token, c.o.User))
		errs = append(errs, c.hub.deleteUser(ctx, c.t.APIToken, c.o.User))
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("clean up: %w", err)
		}
	}
	return nil
}

// passed reports whether the named phase ran and passed.
func (c *check) passed(name string) bool {
	for _, p := range c.res.Phases {
		if p.Name == name {
			return p.OK
		}
	}
	return false
}

// tracebackEnd is the last lines of a Python traceback, indented.
func tracebackEnd(tb []string, lines int) string {
	all := strings.Split(strings.TrimRight(strings.Join(tb, "\n"), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "    " + strings.Join(all, "\n    ")
}
