//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// artifacts is where the browser's screenshots go: DHUB_TEST_ARTIFACTS
// (scripts/test.sh sets it), else a directory the test names in its log.
func artifacts(t *testing.T) string {
	dir := os.Getenv("DHUB_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dhub-e2e-artifacts")
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser starts Debian's headless Chromium for a test, with nothing that
// calls out to the network on its own (this machine has none).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the browser test needs Debian's chromium (scripts/test.sh installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// shot saves a screenshot of the page as a test artefact.
func shot(ctx context.Context, dir, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// unsafeInName is what a screenshot's file name does not take from a step's.
var unsafeInName = regexp.MustCompile(`[^a-z0-9]+`)

// adminToken gets a token of the admin user from the hub, with the hub's
// dhub service token, for what the test does beside the browser.
func (h *hub) adminToken() string {
	h.t.Helper()
	service, err := os.ReadFile(filepath.Join(h.state, "secrets", "dhub-api-token"))
	if err != nil {
		h.t.Fatal(err)
	}
	var tok struct{ Token string }
	h.api(http.MethodPost, "/hub/api/users/admin/tokens", strings.TrimSpace(string(service)), `{"note": "e2e", "expires_in": 3600}`, &tok)
	return tok.Token
}

// api sends a request to the hub with a token and decodes its JSON answer.
func (h *hub) api(method, path, token, body string, out any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", h.port, path), strings.NewReader(body))
	req.Header.Set("Authorization", "token "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// notebook is what a person does with Dask Gateway in JupyterLab: one cell
// starts a cluster and computes, printing the result and the dashboard
// link; the next shuts the cluster down.
const notebook = `{"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": [
  "from dask_gateway import Gateway\n",
  "import dask.array as da\n",
  "cluster = Gateway().new_cluster()\n",
  "cluster.scale(1)\n",
  "client = cluster.get_client()\n",
  "client.wait_for_workers(1, timeout=120)\n",
  "x = da.arange(1000000, chunks=100000)\n",
  "print('RESULT', int((x * x).sum().compute()))\n",
  "print('DASHBOARD', cluster.dashboard_link)"
]}, {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": [
  "cluster.shutdown()\n",
  "print('SHUT DOWN')"
]}], "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}`

// testBrowser is a person's first minutes on the hub, in Chromium: the
// login page, signing in with the password 'dhub up' named, JupyterLab
// with the Dask sidebar and no news prompt, a notebook that starts a
// Gateway cluster and computes, and the cluster's dashboard. Then the
// Lab terminal's environment. It runs on a hub that is up.
func testBrowser(t *testing.T, h *hub) {
	start := time.Now()
	dir := artifacts(t)
	browserCtx := browser(t)
	if err := chromedp.Do(browserCtx); err != nil { // starts it, with no deadline
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", h.port)
	password, err := os.ReadFile(filepath.Join(h.state, "secrets", "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	// step runs one step a person takes, bounded, then saves a screenshot
	// of the page (as it was, when the step failed). Everything happens in
	// one tab: Chrome gives a tab that is not in front no animation
	// frames, and JupyterLab waits for them.
	n := 0
	var ctx context.Context
	tab := browserCtx
	step := func(name string, do func() error) {
		t.Helper()
		n++
		s := time.Now()
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(tab, 2*time.Minute)
		defer cancel()
		err := do()
		file := fmt.Sprintf("%d-%s", n, strings.Trim(unsafeInName.ReplaceAllString(strings.ToLower(name), "-"), "-"))
		if err != nil {
			shot(tab, dir, file+"-FAILED")
			t.Fatalf("browser, %s: %v (screenshots in %s)", name, err, dir)
		}
		if err := shot(tab, dir, file); err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		t.Logf("browser, %s: %.1fs", name, time.Since(s).Seconds())
	}
	type css = chromedp.CSS

	step("login page", func() error {
		return chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#username_input")))
	})
	step("sign in to JupyterLab", func() error {
		return chromedp.Do(ctx,
			chromedp.SendKeys(css("#username_input"), "admin"),
			chromedp.SendKeys(css("#password_input"), strings.TrimSpace(string(password))),
			chromedp.Click(css("#login_submit")),
			chromedp.WaitVisible(css(".jp-LabShell")),
		)
	})
	step("the Dask sidebar", func() error {
		// A fresh layout, restored when the left panel shows the file
		// browser: a click before that is undone by the restore.
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/user/admin/lab?reset"),
			chromedp.WaitVisible(css(`li[data-id="dask-dashboard-launcher"]`)),
			chromedp.WaitVisible(css("#filebrowser")),
		); err != nil {
			return err
		}
		// The tab toggles its panel: click until the panel shows (a
		// click that closed it is followed by one that opens it).
		for {
			if err := chromedp.Do(ctx, chromedp.Click(css(`li[data-id="dask-dashboard-launcher"]`))); err != nil {
				return err
			}
			shown, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := chromedp.Do(shown, chromedp.WaitVisible(css("#dask-dashboard-launcher")))
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("the Dask sidebar did not open: %w", ctx.Err())
			}
		}
		toasts, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('.Toastify__toast')).map(e => e.innerText).join('\n')`))
		if err == nil && strings.Contains(strings.ToLower(toasts), "news") {
			t.Errorf("JupyterLab asks about news: %q", toasts)
		}
		return err
	})

	// The notebook is written through the server's contents API, then
	// opened and run in the browser as a person would.
	token := h.adminToken()
	h.api(http.MethodPut, "/user/admin/api/contents/dask.ipynb", token, `{"type": "notebook", "content": `+notebook+`}`, nil)
	var output string
	step("open the notebook", func() error {
		return chromedp.Do(ctx,
			chromedp.Navigate(base+"/user/admin/lab/tree/dask.ipynb"),
			chromedp.WaitVisible(css(".jp-Notebook .jp-Cell .cm-content")),
			// The kernel is ready when the status bar says so.
			chromedp.Poll[chromedp.Void](`document.body.innerText.includes('Python 3 (ipykernel) | Idle')`),
		)
	})
	step("run the cell: Gateway().new_cluster(), scale(1), compute", func() error {
		err := chromedp.Do(ctx,
			chromedp.Click(css(".jp-Notebook .jp-Cell .jp-InputPrompt")),
			// The ▶ button of the notebook's toolbar.
			chromedp.Click(css(`.jp-NotebookPanel-toolbar [data-command="notebook:run-cell-and-select-next"]`)),
			chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('.jp-OutputArea-output')).some(e => e.innerText.includes('DASHBOARD') || e.innerText.includes('Error'))`),
		)
		if err != nil {
			return err
		}
		output, err = chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(e => e.innerText).join('\n')`))
		if err != nil {
			return err
		}
		// Saved, so that leaving the page asks nothing.
		return chromedp.Do(ctx,
			chromedp.Click(css(`.jp-NotebookPanel-toolbar [data-command="docmanager:save"]`)),
			chromedp.Poll[chromedp.Void](`!document.querySelector('.jp-mod-dirty')`),
		)
	})
	if !strings.Contains(output, "RESULT 333332833333500000") {
		t.Errorf("the notebook printed %q, want the sum of squares below 1000000", output)
	}
	link := regexp.MustCompile(`DASHBOARD (\S+)`).FindStringSubmatch(output)
	if link == nil {
		t.Fatalf("no dashboard link in %q", output)
	}
	dashboard := link[1]
	if strings.HasPrefix(dashboard, "/") {
		dashboard = base + dashboard
	}
	var title string
	step("the dashboard link opens", func() error {
		err := chromedp.Do(ctx,
			chromedp.Navigate(dashboard),
			// BokehJS fills the page's roots once its websocket is open.
			chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('[data-root-id]')).some(e => e.children.length > 0)`),
			chromedp.Sleep(2*time.Second), // the plots' first frames, for the screenshot
		)
		if err != nil {
			return err
		}
		title, err = chromedp.Run(ctx, chromedp.Title())
		return err
	})
	if !strings.Contains(strings.ToLower(title), "dask") {
		t.Errorf("the dashboard page's title is %q", title)
	}

	step("back in the notebook, the next cell shuts the cluster down", func() error {
		return chromedp.Do(ctx,
			chromedp.Navigate(base+"/user/admin/lab/tree/dask.ipynb"),
			chromedp.Poll[chromedp.Void](`document.body.innerText.includes('Python 3 (ipykernel) | Idle')`),
			chromedp.Click(css(".jp-Notebook .jp-Cell:nth-child(2) .jp-InputPrompt")),
			chromedp.Click(css(`.jp-NotebookPanel-toolbar [data-command="notebook:run-cell-and-select-next"]`)),
			chromedp.Poll[chromedp.Void](`document.body.innerText.includes('SHUT DOWN') || document.body.innerText.includes('Error')`),
		)
	})
	// Its scheduler and worker processes end within seconds.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		_, out, _ := h.run("status", "-o", "json")
		var st status
		json.Unmarshal([]byte(out), &st)
		if len(st.Local.Clusters) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a cluster still runs 30s after the notebook shut it down: %v", st.Local.Clusters)
			break
		}
	}

	t.Logf("browser test: %.1fs", time.Since(start).Seconds())

	checkTerminal(t, h, token)
	h.api(http.MethodDelete, "/hub/api/users/admin/server", token, "", nil)
}

// checkTerminal opens a JupyterLab terminal in the admin's server, as the
// Lab's terminal does (its REST API and websocket), and checks that the
// hub's environment is first on PATH: python is there, with dask_gateway.
func checkTerminal(t *testing.T, h *hub, token string) {
	var term struct{ Name string }
	h.api(http.MethodPost, "/user/admin/api/terminals", token, "", &term)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/user/admin/terminals/websocket/%s", h.port, term.Name),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"token " + token}}})
	if err != nil {
		t.Fatalf("terminal websocket: %v", err)
	}
	defer conn.CloseNow()
	cmd := `python -c "import sys, dask_gateway; print('PY=' + sys.executable)"; echo "PATH1=${PATH%%:*}"` + "\r"
	msg, _ := json.Marshal([]string{"stdin", cmd})
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for !strings.Contains(out.String(), "PATH1=/") {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("terminal: %v; it printed:\n%s", err, out.String())
		}
		var m []any
		if json.Unmarshal(data, &m) == nil && len(m) == 2 && m[0] == "stdout" {
			out.WriteString(fmt.Sprint(m[1]))
		}
	}
	venvBin := filepath.Join(h.state, "venv", "bin")
	if !strings.Contains(out.String(), "PY="+filepath.Join(venvBin, "python")) || !strings.Contains(out.String(), "PATH1="+venvBin) {
		t.Errorf("the Lab terminal does not run in the hub's environment (%s):\n%s", venvBin, out.String())
	}
}
