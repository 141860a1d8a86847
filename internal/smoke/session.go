package smoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Session is a user of the hub with their server running and a notebook
// kernel in it: what a person's open notebook is. Tests use it for what
// lies beside the smoke path, such as what a user's code can reach on the
// network and whose Dask clusters it can see, run as that user's code.
type Session struct {
	hub          hub
	serviceToken string
	user         string
	token        string
	// Server is the URL path of the user's server.
	Server string
	kernel *kernel
}

// OpenSession makes sure user exists on the hub of t, makes them a token
// with t.APIToken, starts their server (following its progress on
// progress) and a python3 kernel in it.
func OpenSession(ctx context.Context, t Target, user string, progress io.Writer) (*Session, error) {
	if t.Client == nil {
		t.Client = &http.Client{}
	}
	base := strings.TrimRight(t.HubURL, "/")
	s := &Session{hub: hub{base: base, http: t.Client}, serviceToken: t.APIToken, user: user}
	tok, err := s.hub.userToken(ctx, t.APIToken, user, 3600)
	if err != nil {
		return nil, err
	}
	s.token = tok
	if s.Server, err = s.hub.spawn(ctx, tok, user, progress); err != nil {
		return nil, err
	}
	if s.kernel, err = startKernel(ctx, t.Client, base+strings.TrimRight(s.Server, "/"), user, tok); err != nil {
		return nil, err
	}
	return s, nil
}

// Run runs code in the session's kernel as a notebook cell and returns what
// it printed. A Python exception is an error with its type, value and the
// end of its traceback.
func (s *Session) Run(ctx context.Context, code string) (string, error) {
	out, err := s.kernel.execute(ctx, code)
	var ce *cellError
	if errors.As(err, &ce) {
		return out, fmt.Errorf("%w\n%s", err, tracebackEnd(ce.Traceback, 6))
	}
	return out, err
}

// Close shuts the kernel down, stops the user's server and removes the
// user from the hub.
func (s *Session) Close(ctx context.Context) error {
	return errors.Join(
		s.kernel.close(ctx),
		s.hub.stopServer(ctx, s.token, s.user),
		s.hub.deleteUser(ctx, s.serviceToken, s.user),
	)
}

// StopServer stops the user's server with the user's own token, as the
// hub's "Stop My Server" does, and returns once the hub says it stopped.
func (s *Session) StopServer(ctx context.Context) error {
	return s.hub.stopServer(ctx, s.token, s.user)
}

// ServerAnswers asks the user's server, through the hub's proxy, for its
// status, with the user's token, on a new request: whether the server is
// still reachable where people reach it.
func (s *Session) ServerAnswers(ctx context.Context) error {
	return apiCall(ctx, s.hub.http, http.MethodGet, s.hub.base+strings.TrimRight(s.Server, "/")+"/api/status", s.token, nil, nil, http.StatusOK)
}
