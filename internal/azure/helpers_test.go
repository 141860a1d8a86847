package azure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"dhub/internal/azure"
	"dhub/internal/azure/azurefake"
	"dhub/internal/config"
)

// hub loads and validates an example from examples/, with the scratch
// container off: scratch_test.go covers it, and every other test's plan
// shows what that test is about.
func hub(t testing.TB, example string) *config.Hub {
	t.Helper()
	h := scratchHub(t, example)
	h.Azure.Storage.Scratch.Enabled = new(false)
	return h
}

// scratchHub loads and validates an example from examples/ as it is.
func scratchHub(t testing.TB, example string) *config.Hub {
	t.Helper()
	f, err := config.LoadFile(filepath.Join("..", "..", "examples", example))
	if err != nil {
		t.Fatal(err)
	}
	if errs := f.Hub.Validate().Errors(); len(errs) > 0 {
		t.Fatalf("%s: %v", example, errs)
	}
	return f.Hub
}

// env is a World and a Client reaching it through the SDK's fake servers.
type env struct {
	w        *azurefake.World
	c        *azure.Client
	progress *bytes.Buffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the options changed by set first.
func newEnvWith(t testing.TB, set func(*azure.Options)) *env {
	t.Helper()
	w := azurefake.New()
	var progress bytes.Buffer
	o := w.Options(&progress)
	if set != nil {
		set(&o)
	}
	c, err := azure.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{w: w, c: c, progress: &progress}
}

// pause is one pause a Client asked for: how long, and the SDK method
// (e.g. "ManagedClustersClient.BeginCreateOrUpdate") whose request it
// sends again, "" for dhub's own pauses between polls.
type pause struct {
	api string
	d   time.Duration
}

// pauses is an Options.Sleep that records the pauses asked for and makes
// none, so that a test asserts the pause Azure asked for, not a duration
// measured on the clock.
type pauses struct {
	mu  sync.Mutex
	got []pause
}

func (p *pauses) sleep(ctx context.Context, d time.Duration) error {
	api, _ := ctx.Value(runtime.CtxAPINameKey{}).(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, pause{api, d})
	return ctx.Err()
}

// of returns the pauses before a request of api was sent again.
func (p *pauses) of(api string) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, x := range p.got {
		if x.api == api {
			out = append(out, x.d)
		}
	}
	return out
}

// up plans and applies, failing the test on error.
func (e *env) up(t testing.TB, h *config.Hub) (*azure.Plan, *azure.Result) {
	t.Helper()
	p, err := e.c.Plan(context.Background(), h)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	res, err := e.c.Apply(context.Background(), p)
	if err != nil {
		t.Fatalf("apply: %v\nprogress:\n%s", err, e.progress)
	}
	return p, res
}

// writesJSON renders the writes the fake answered, bodies included, as
// stable indented JSON for a golden file.
func writesJSON(t *testing.T, w *azurefake.World) []byte {
	t.Helper()
	type entry struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body,omitempty"`
	}
	var out []entry
	for _, r := range w.Writes() {
		e := entry{Method: r.Method, Path: r.Path}
		if len(r.Body) > 0 {
			var v any
			if err := json.Unmarshal(r.Body, &v); err != nil {
				t.Fatalf("body of %s %s: %v", r.Method, r.Path, err)
			}
			e.Body, _ = json.Marshal(v) // sorted keys
		}
		out = append(out, e)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// paths lists "METHOD path" of requests, without the query.
func paths(rs []azurefake.Request) []string {
	var out []string
	for _, r := range rs {
		p, _, _ := strings.Cut(r.Path, "?")
		out = append(out, r.Method+" "+p)
	}
	return out
}

// preflightRE matches the reads of the preflight checks: resource
// providers, VM sizes and quota, DNS labels and public IPs, versions.
var preflightRE = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/providers/[^/]+$|/providers/Microsoft\.(Compute|Network)/|/kubernetesVersions$|/publicIPAddresses$`)

// isPreflight reports whether r is a read of the preflight checks.
func isPreflight(r azurefake.Request) bool {
	p, _, _ := strings.Cut(r.Path, "?")
	return r.Method == "GET" && preflightRE.MatchString(p)
}

// withoutPreflight drops the preflight reads from rs.
func withoutPreflight(rs []azurefake.Request) []azurefake.Request {
	var out []azurefake.Request
	for _, r := range rs {
		if !isPreflight(r) {
			out = append(out, r)
		}
	}
	return out
}

// withoutBudget leaves out the requests to the budgets API.
func withoutBudget(rs []azurefake.Request) []azurefake.Request {
	var out []azurefake.Request
	for _, r := range rs {
		if !strings.Contains(r.Path, "/providers/Microsoft.Consumption/budgets/") {
			out = append(out, r)
		}
	}
	return out
}
