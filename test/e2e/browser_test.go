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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dhub/test/browsertest"
)

// adminToken gets a token of the admin user from the hub, with the hub's
// dhub service token, for what the test does beside the browser.
func (h *hub) adminToken() string { return h.userToken("admin") }

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

// testBrowser is a person's first minutes on the hub, in Chromium (the
// walk every target shares: sign in with the password 'dhub up' named,
// JupyterLab's Dask sidebar, a notebook that starts a Gateway cluster,
// computes and shuts it down, the dashboard's plots), then the Lab
// terminal's environment. It runs on a hub that is up.
func testBrowser(t *testing.T, h *hub) {
	password, err := os.ReadFile(filepath.Join(h.state, "secrets", "admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	browsertest.DaskInLab(t, browsertest.Person{
		Hub:       fmt.Sprintf("http://127.0.0.1:%d", h.port),
		User:      "admin",
		Password:  strings.TrimSpace(string(password)),
		Artifacts: browsertest.ArtifactsDir(t, "browser"),
	})
	// The cluster's scheduler and worker processes end within seconds.
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

	token := h.adminToken()
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
