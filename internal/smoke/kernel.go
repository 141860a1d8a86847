package smoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// kernel is a Jupyter kernel in a user's server, driven as JupyterLab
// drives it: the kernels REST API to start and stop it, the Jupyter
// messaging protocol over the server's websocket to run code.
type kernel struct {
	server  string // the user's server, e.g. http://hub/user/dhub-smoke
	token   string
	user    string
	id      string
	session string
	conn    *websocket.Conn
	http    *http.Client

	// The connection is read all the time, as a browser reads it: the
	// server pings it and closes a connection that leaves its pings
	// unanswered (about 90 s), and only a read answers them. What
	// arrives goes to the request that waits, if any (inbox).
	mu      sync.Mutex
	inbox   chan []byte
	readErr error
	closed  chan struct{} // closed once reading has ended, readErr set
}

// message is one Jupyter protocol message as jupyter-server relays it over
// a websocket without a subprotocol: JSON, with the channel named.
type message struct {
	Header       header         `json:"header"`
	ParentHeader header         `json:"parent_header"`
	Metadata     map[string]any `json:"metadata"`
	Content      map[string]any `json:"content"`
	Channel      string         `json:"channel"`
	Buffers      []any          `json:"buffers"`
}

type header struct {
	MsgID    string `json:"msg_id,omitempty"`
	MsgType  string `json:"msg_type,omitempty"`
	Username string `json:"username,omitempty"`
	Session  string `json:"session,omitempty"`
	Date     string `json:"date,omitempty"`
	Version  string `json:"version,omitempty"`
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startKernel starts a python3 kernel in the user's server and connects to
// its channels, waiting until it answers kernel_info.
func startKernel(ctx context.Context, hc *http.Client, server, user, token string) (*kernel, error) {
	k := &kernel{server: strings.TrimRight(server, "/"), token: token, user: user, session: newID(), http: hc}
	var started struct {
		ID string `json:"id"`
	}
	if err := apiCall(ctx, hc, http.MethodPost, k.server+"/api/kernels", token, map[string]any{"name": "python3"}, &started, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("start a kernel: %w", err)
	}
	k.id = started.ID
	wsURL := "ws" + strings.TrimPrefix(k.server, "http") + "/api/kernels/" + k.id + "/channels?session_id=" + k.session
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient: hc,
		HTTPHeader: http.Header{"Authorization": {"token " + token}},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to kernel %s: %w", k.id, err)
	}
	conn.SetReadLimit(64 << 20)
	k.conn = conn
	k.closed = make(chan struct{})
	go k.read()
	// A kernel that has just started may miss the first request; ask until
	// it answers, as JupyterLab does.
	for {
		askCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := k.request(askCtx, "kernel_info_request", map[string]any{}, nil)
		cancel()
		if err == nil {
			return k, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("kernel %s did not answer kernel_info: %w", k.id, err)
		}
	}
}

// cellError is Python's exception in a cell: its type, value and the end
// of its traceback.
type cellError struct {
	Name, Value string
	Traceback   []string
}

func (e *cellError) Error() string { return e.Name + ": " + e.Value }

// execute runs code as a notebook cell and returns what it printed on
// stdout. A Python exception is returned as *cellError.
func (k *kernel) execute(ctx context.Context, code string) (string, error) {
	var out strings.Builder
	content := map[string]any{"code": code, "silent": false, "store_history": false,
		"user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true}
	_, err := k.request(ctx, "execute_request", content, func(m message) {
		if m.MsgType() == "stream" && m.Content["name"] == "stdout" {
			text, _ := m.Content["text"].(string)
			out.WriteString(text)
		}
	})
	return out.String(), err
}

// MsgType is the message's type.
func (m message) MsgType() string { return m.Header.MsgType }

// read reads the connection until it fails or is closed, handing each
// message to the request that waits for one; with none waiting, the
// message answers nothing anyone asked and is dropped.
func (k *kernel) read() {
	for {
		_, data, err := k.conn.Read(context.Background())
		if err != nil {
			k.mu.Lock()
			k.readErr = err
			k.mu.Unlock()
			close(k.closed)
			return
		}
		k.mu.Lock()
		if k.inbox != nil {
			select {
			case k.inbox <- data:
			default: // a request that stopped reading: it is about to return
			}
		}
		k.mu.Unlock()
	}
}

// next is the next message for the waiting request.
func (k *kernel) next(ctx context.Context, inbox chan []byte) ([]byte, error) {
	select {
	case data := <-inbox:
		return data, nil
	case <-k.closed:
		k.mu.Lock()
		defer k.mu.Unlock()
		return nil, k.readErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// request sends a shell request and reads until its reply and the kernel's
// idle status for it have come; iopub messages for it go to each. An error
// reply to execute_request becomes *cellError.
func (k *kernel) request(ctx context.Context, msgType string, content map[string]any, each func(message)) (*message, error) {
	id := newID()
	req := message{
		Header:       header{MsgID: id, MsgType: msgType, Username: k.user, Session: k.session, Date: time.Now().UTC().Format(time.RFC3339Nano), Version: "5.3"},
		ParentHeader: header{}, Metadata: map[string]any{}, Content: content, Channel: "shell", Buffers: []any{},
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	inbox := make(chan []byte, 4096)
	k.mu.Lock()
	k.inbox = inbox
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.inbox = nil
		k.mu.Unlock()
	}()
	if err := k.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return nil, fmt.Errorf("send %s: %w", msgType, err)
	}
	var reply *message
	var cellErr *cellError
	idle := false
	for reply == nil || !idle {
		data, err := k.next(ctx, inbox)
		if err != nil {
			return nil, fmt.Errorf("wait for the answer to %s: %w", msgType, err)
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("a kernel message that is not JSON: %w", err)
		}
		if m.ParentHeader.MsgID != id {
			continue
		}
		switch {
		case m.Channel == "shell":
			reply = &m
		case m.MsgType() == "status" && m.Content["execution_state"] == "idle":
			idle = true
		case m.MsgType() == "error":
			cellErr = errorOf(m.Content)
		}
		if each != nil {
			each(m)
		}
	}
	if reply.Content["status"] == "error" {
		if cellErr == nil {
			cellErr = errorOf(reply.Content)
		}
		return reply, cellErr
	}
	return reply, nil
}

func errorOf(c map[string]any) *cellError {
	e := &cellError{}
	e.Name, _ = c["ename"].(string)
	e.Value, _ = c["evalue"].(string)
	tb, _ := c["traceback"].([]any)
	for _, l := range tb {
		if s, ok := l.(string); ok {
			e.Traceback = append(e.Traceback, stripANSI(s))
		}
	}
	return e
}

// stripANSI drops the terminal colour codes IPython puts in tracebacks.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// close disconnects and shuts the kernel down.
func (k *kernel) close(ctx context.Context) error {
	if k.conn != nil {
		k.conn.Close(websocket.StatusNormalClosure, "")
	}
	err := apiCall(ctx, k.http, http.MethodDelete, k.server+"/api/kernels/"+k.id, k.token, nil, nil, http.StatusNoContent)
	var se *statusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return nil
	}
	return err
}
