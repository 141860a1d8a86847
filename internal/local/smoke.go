package local

import (
	"context"
	"fmt"
	"os"

	"dhub/internal/config"
	"dhub/internal/smoke"
)

// Smoke returns where the smoke check finds a local hub: its URL, dhub's
// service token, the admin's login for the login form, and the end of the
// hub's log (where users' servers write) to explain a failed spawn.
func Smoke(h *config.Hub, o Options) (smoke.Target, error) {
	st, _, err := openState(h, o.machine())
	if err != nil {
		return smoke.Target{}, err
	}
	if _, err := st.readRuntime(); err != nil {
		return smoke.Target{}, fmt.Errorf("the local hub in %s was never started: run 'dhub up' first", st.Dir)
	}
	token, err := st.readSecret(SecretDhubToken)
	if err != nil {
		return smoke.Target{}, err
	}
	password, err := st.readSecret(SecretAdminPassword)
	if err != nil {
		return smoke.Target{}, err
	}
	return smoke.Target{
		HubURL:   "http://" + hostPort(reachable(h.Local.Host), h.Local.Port),
		APIToken: token,
		Login:    &smoke.Login{User: h.JupyterHub.Auth.Password.AdminUser, Password: password},
		Diagnose: func(context.Context, string) string {
			b, err := os.ReadFile(st.Log(procHub))
			if err != nil {
				return ""
			}
			return fmt.Sprintf("the end of %s (users' servers write there):\n%s", st.Log(procHub), lastLines(string(b), 15))
		},
	}, nil
}

// reachable is the address to reach a hub listening on host: a wildcard
// address is reached on loopback.
func reachable(host string) string {
	switch host {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return host
}
