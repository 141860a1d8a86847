// Package browsertest walks a person's first minutes on a DaskHub in
// Debian's headless Chromium, the same way on every target: the login page,
// signing in, JupyterLab with the Dask sidebar, a notebook whose cell starts
// a Gateway cluster and computes, the cluster's dashboard with its plots,
// and the next cell shutting the cluster down. Each step is bounded and
// leaves a screenshot.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Person is who signs in, and where.
type Person struct {
	// Hub is the hub's URL as people open it, without a trailing slash.
	Hub            string
	User, Password string
	// Artifacts is the directory the screenshots go to, one subdirectory
	// per walk.
	Artifacts string
}

// ArtifactsDir is where a test's screenshots go: under DHUB_TEST_ARTIFACTS
// (scripts/test.sh sets it), else under the system's temporary directory.
func ArtifactsDir(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("DHUB_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "dhub-test-artifacts")
	}
	dir = filepath.Join(dir, name)
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

// shot saves a screenshot of the page.
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

// sumOfSquares is what the notebook's computation prints: the sum of the
// squares below 1000000.
const sumOfSquares = "RESULT 333332833333500000"

// writeNotebook is the page's own PUT of the notebook to the server's
// contents API, with the session's cookie and its XSRF token, as
// JupyterLab saves a file.
const writeNotebook = `(async () => {
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1] || '';
  const r = await fetch(%q, {method: 'PUT', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-XSRFToken': decodeURIComponent(xsrf)},
    body: JSON.stringify({type: 'notebook', content: %s})});
  return r.status + ' ' + (r.ok ? '' : await r.text());
})()`

// drawnCanvas is true once the page, shadow roots included, has a canvas
// with an area: a plot Bokeh has drawn.
const drawnCanvas = `(function has(root) {
  for (const e of root.querySelectorAll('*')) {
    if (e.tagName === 'CANVAS' && e.width > 0 && e.height > 0) return true;
    if (e.shadowRoot && has(e.shadowRoot)) return true;
  }
  return false;
})(document)`

// DaskInLab is a person's first minutes on the hub, in Chromium: the
// login page, signing in, JupyterLab with the Dask sidebar and no news
// prompt, a notebook (dask.ipynb in the user's home) whose first cell runs
// Gateway().new_cluster(), scale(1) and a computation, the dashboard link
// it prints opened with its plots drawn, and the second cell shutting the
// cluster down. The user's server is left running.
func DaskInLab(t *testing.T, p Person) {
	start := time.Now()
	dir := p.Artifacts
	browserCtx := browser(t)
	if err := chromedp.Do(browserCtx); err != nil { // starts it, with no deadline
		t.Fatal(err)
	}
	lab := p.Hub + "/user/" + p.User + "/lab"
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
		return chromedp.Do(ctx, chromedp.Navigate(p.Hub+"/"), chromedp.WaitVisible(css("#username_input")))
	})
	step("sign in to JupyterLab", func() error {
		return chromedp.Do(ctx,
			chromedp.SendKeys(css("#username_input"), p.User),
			chromedp.SendKeys(css("#password_input"), p.Password),
			chromedp.Click(css("#login_submit")),
			chromedp.WaitVisible(css(".jp-LabShell")),
		)
	})
	step("the Dask sidebar", func() error {
		// A fresh layout, restored when the left panel shows the file
		// browser: a click before that is undone by the restore.
		if err := chromedp.Do(ctx,
			chromedp.Navigate(lab+"?reset"),
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

	// The notebook is written through the server's contents API by the
	// page itself, then opened and run as a person would.
	step("write the notebook", func() error {
		put := fmt.Sprintf(writeNotebook, "/user/"+p.User+"/api/contents/dask.ipynb", notebook)
		status, err := chromedp.Run(ctx, chromedp.Evaluate[string](put, chromedp.EvalAwaitPromise))
		if err != nil {
			return err
		}
		if !strings.HasPrefix(status, "20") {
			return fmt.Errorf("PUT of the notebook answered %s", status)
		}
		return nil
	})
	var output string
	step("open the notebook", func() error {
		return chromedp.Do(ctx,
			chromedp.Navigate(lab+"/tree/dask.ipynb"),
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
	if !strings.Contains(output, sumOfSquares) {
		t.Errorf("the notebook printed %q, want %q", output, sumOfSquares)
	}
	link := regexp.MustCompile(`DASHBOARD (\S+)`).FindStringSubmatch(output)
	if link == nil {
		t.Fatalf("no dashboard link in %q", output)
	}
	dashboard := link[1]
	if strings.HasPrefix(dashboard, "/") {
		dashboard = p.Hub + dashboard
	}
	var title string
	step("the dashboard link opens", func() error {
		err := chromedp.Do(ctx,
			chromedp.Navigate(dashboard),
			// BokehJS fills the page's roots once its websocket is open.
			chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('[data-root-id]')).some(e => e.children.length > 0)`),
			// The plots draw on canvases, inside the shadow roots of
			// Bokeh's elements.
			chromedp.Poll[chromedp.Void](drawnCanvas),
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
			chromedp.Navigate(lab+"/tree/dask.ipynb"),
			chromedp.Poll[chromedp.Void](`document.body.innerText.includes('Python 3 (ipykernel) | Idle')`),
			chromedp.Click(css(".jp-Notebook .jp-Cell:nth-child(2) .jp-InputPrompt")),
			chromedp.Click(css(`.jp-NotebookPanel-toolbar [data-command="notebook:run-cell-and-select-next"]`)),
			chromedp.Poll[chromedp.Void](`document.body.innerText.includes('SHUT DOWN') || document.body.innerText.includes('Error')`),
		)
	})
	t.Logf("browser test: %.1fs", time.Since(start).Seconds())
}
