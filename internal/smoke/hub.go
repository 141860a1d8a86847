package smoke

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// statusError is an answer with a status the caller did not expect.
type statusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s answered %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// apiCall sends a JSON request with a token and decodes the JSON answer
// into out (when not nil). An answer whose status is not among ok is a
// *statusError.
func apiCall(ctx context.Context, hc *http.Client, method, u, token string, body, out any, ok ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if !slices.Contains(ok, resp.StatusCode) {
		return &statusError{Method: method, URL: u, Status: resp.StatusCode, Body: short(string(raw))}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
	}
	return nil
}

func short(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// hub is the hub's REST API at base (scheme://host[:port]).
type hub struct {
	base string
	http *http.Client
}

func (h hub) api(path string) string { return h.base + "/hub/api" + path }

// loginError finds the message the login page shows when it refuses.
var loginError = regexp.MustCompile(`(?s)class="[^"]*login_error[^"]*"[^>]*>\s*(.*?)\s*<`)

// formLogin signs in through the hub's login form as a browser does: it
// gets the form (and its XSRF cookie), posts the name and password, and
// checks that the session the hub then gives is that user's.
func (h hub) formLogin(ctx context.Context, user, password string) error {
	jar, _ := cookiejar.New(nil)
	hc := *h.http
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(u string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		return hc.Do(req)
	}
	resp, err := get(h.base + "/hub/login")
	if err != nil {
		return fmt.Errorf("the hub does not answer at %s: %w", h.base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/hub/login answered %d", h.base, resp.StatusCode)
	}
	xsrf := cookie(jar, h.base, "_xsrf")
	form := url.Values{"username": {user}, "password": {password}, "_xsrf": {xsrf}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/hub/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		why := fmt.Sprintf("answered %d", resp.StatusCode)
		if m := loginError.FindSubmatch(page); m != nil {
			why = fmt.Sprintf("says %q", html.UnescapeString(string(m[1])))
		}
		return fmt.Errorf("the login form refused user %s: it %s", user, why)
	}
	// The session cookie now names the user; the API says whom.
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, h.api("/user"), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-XSRFToken", cookie(jar, h.base, "_xsrf"))
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var who struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || resp.StatusCode != http.StatusOK || who.Name != user {
		return fmt.Errorf("after signing in as %s the hub's session is %q (status %d, %v)", user, who.Name, resp.StatusCode, err)
	}
	return nil
}

func cookie(jar http.CookieJar, base, name string) string {
	u, err := url.Parse(base + "/hub/")
	if err != nil {
		return ""
	}
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// userToken makes sure the user exists and returns a token of theirs,
// made with dhub's service token: the token a person's browser session
// stands for.
func (h hub) userToken(ctx context.Context, serviceToken, user string, lifetime int) (string, error) {
	if err := apiCall(ctx, h.http, http.MethodPost, h.api("/users/"+user), serviceToken, nil, nil, http.StatusCreated, http.StatusConflict); err != nil {
		return "", fmt.Errorf("create user %s: %w", user, err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err := apiCall(ctx, h.http, http.MethodPost, h.api("/users/"+user+"/tokens"), serviceToken,
		map[string]any{"expires_in": lifetime, "note": "dhub smoke"}, &tok, http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("make a token for %s: %w", user, err)
	}
	return tok.Token, nil
}

// progressEvent is one event of the hub's spawn progress stream.
type progressEvent struct {
	Progress int    `json:"progress"`
	Message  string `json:"message"`
	Ready    bool   `json:"ready"`
	Failed   bool   `json:"failed"`
	URL      string `json:"url"`
}

// spawn starts the user's server as the user and follows the hub's
// progress events until it is ready or failed, writing each message to
// progress. It returns the server's URL path.
func (h hub) spawn(ctx context.Context, token, user string, progress io.Writer) (string, error) {
	err := apiCall(ctx, h.http, http.MethodPost, h.api("/users/"+user+"/server"), token, map[string]any{}, nil, http.StatusCreated, http.StatusAccepted)
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest && strings.Contains(se.Body, "already running") {
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("start the server of %s: %w", user, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.api("/users/"+user+"/server/progress"), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "token "+token)
	resp, err := h.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("follow the spawn of %s: %w", user, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("follow the spawn of %s: %s answered %d: %s", user, req.URL, resp.StatusCode, short(string(b)))
	}
	ev, err := readProgress(resp.Body, func(e progressEvent) {
		if e.Message != "" {
			fmt.Fprintf(progress, "smoke: spawn %3d%% %s\n", e.Progress, e.Message)
		}
	})
	if err != nil {
		return "", fmt.Errorf("follow the spawn of %s: %w", user, err)
	}
	if ev.Failed || !ev.Ready {
		return "", fmt.Errorf("the hub could not start the server of %s: %s", user, ev.Message)
	}
	return ev.URL, nil
}

// readProgress reads a server-sent event stream of progress events until
// one is ready or failed, calling each for every event; it returns the
// last event.
func readProgress(r io.Reader, each func(progressEvent)) (progressEvent, error) {
	var last progressEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var e progressEvent
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &e); err != nil {
			return last, fmt.Errorf("a progress event that is not JSON: %q", data)
		}
		last = e
		each(e)
		if e.Ready || e.Failed {
			return e, nil
		}
	}
	if err := sc.Err(); err != nil {
		return last, err
	}
	return last, errors.New("the progress stream ended before the server was ready")
}

// stopServer stops the user's server and waits until the hub says it is
// gone.
func (h hub) stopServer(ctx context.Context, token, user string) error {
	err := apiCall(ctx, h.http, http.MethodDelete, h.api("/users/"+user+"/server"), token, nil, nil, http.StatusNoContent, http.StatusAccepted)
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest {
		return nil // not running
	}
	if err != nil {
		return fmt.Errorf("stop the server of %s: %w", user, err)
	}
	for {
		var u struct {
			Servers map[string]any `json:"servers"`
		}
		if err := apiCall(ctx, h.http, http.MethodGet, h.api("/users/"+user), token, nil, &u, http.StatusOK); err != nil {
			return fmt.Errorf("read user %s: %w", user, err)
		}
		if _, running := u.Servers[""]; !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server of %s is still stopping: %w", user, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// deleteUser removes the user (and with them their tokens) from the hub.
func (h hub) deleteUser(ctx context.Context, serviceToken, user string) error {
	err := apiCall(ctx, h.http, http.MethodDelete, h.api("/users/"+user), serviceToken, nil, nil, http.StatusNoContent, http.StatusNotFound)
	if err != nil {
		return fmt.Errorf("remove user %s: %w", user, err)
	}
	return nil
}
