package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"dhub/internal/config"
)

// Component is one part of the local hub as status reports it.
type Component struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	Pid     int    `json:"pid,omitempty"`
	Version string `json:"version,omitempty"`
	// Detail says why a component is not up, or how it was checked.
	Detail string `json:"detail,omitempty"`
}

// Status is the state of a local hub.
type Status struct {
	URL        string      `json:"url"`
	StateDir   string      `json:"stateDir"`
	Components []Component `json:"components"`
	// Clusters are the Dask clusters with processes running now.
	Clusters []string `json:"daskClusters"`
	// Up is true when every component runs and answers, and users can
	// start their servers.
	Up bool `json:"up"`
	// OtherHubs are other local hubs running now (another dhub.yaml's, or
	// the defaults'), as "name (pid N, state DIR)".
	OtherHubs []string `json:"otherHubs,omitempty"`
}

// GetStatus reports each process (hub, proxy, gateway): running or not,
// pid, version, and the running Dask clusters; as root, whether users'
// accounts can run their servers. It changes nothing.
func GetStatus(ctx context.Context, h *config.Hub, o Options) (*Status, error) {
	st, _, err := openState(h, o.machine())
	if err != nil {
		return nil, err
	}
	hub := "http://" + hostPort(h.Local.Host, h.Local.Port)
	s := &Status{URL: hub + "/", StateDir: st.Dir, Clusters: []string{}, OtherHubs: otherHubs(st)}
	procs, _ := st.running()
	rt, _ := st.readRuntime()

	hubC := Component{Name: "jupyterhub"}
	var spawnErr error
	if p, ok := procs[procHub]; ok {
		hubC.Running, hubC.Pid = true, p.Pid
		if p.Unrecorded {
			hubC.Detail = "its pid file is missing or damaged ('dhub up' writes it again); "
		}
		var v struct{ Version string }
		if err := getJSON(ctx, hub+"/hub/api", "", &v); err != nil {
			hubC.Detail += "runs but does not answer: " + err.Error()
		} else {
			hubC.Version = v.Version
			// Up means a user can start a server too (as root, that an
			// account of their own can run it).
			if spawnErr = st.checkUsersCanRun(ctx); spawnErr != nil {
				hubC.Detail += "answers, but " + spawnErr.Error()
			}
		}
	} else {
		hubC.Detail = "not running"
	}
	hubC.Detail = strings.TrimSuffix(hubC.Detail, "; ")

	// The proxy is JupyterHub's child; it is up when the hub's public port
	// serves the hub's API (the proxy routes it).
	proxyC := Component{Name: "proxy", Detail: "not answering on " + hub}
	all := ownProcesses(st.ID)
	for _, p := range all {
		if strings.Contains(p.Name, "configurable-http-proxy") {
			proxyC.Pid = p.Pid
		}
	}
	if hubC.Version != "" {
		proxyC.Running, proxyC.Detail = true, ""
	}

	gwC := Component{Name: "dask-gateway"}
	if p, ok := procs[procGateway]; ok && rt != nil {
		gwC.Running, gwC.Pid = true, p.Pid
		if p.Unrecorded {
			gwC.Detail = "its pid file is missing or damaged ('dhub up' writes it again); "
		}
		var v struct{ Version string }
		url := fmt.Sprintf("http://127.0.0.1:%d/services/dask-gateway/api/version", rt.Ports.GatewayProxy)
		if err := getJSON(ctx, url, "", &v); err != nil {
			gwC.Detail += "runs but does not answer: " + err.Error()
		} else {
			gwC.Version = v.Version
			gwC.Detail += listClusters(ctx, st, rt.Ports.GatewayProxy)
		}
	} else {
		gwC.Detail = "not running"
	}
	gwC.Detail = strings.TrimSuffix(gwC.Detail, "; ")
	s.Components = []Component{hubC, proxyC, gwC}
	s.Up = hubC.Version != "" && gwC.Version != "" && spawnErr == nil

	// A cluster runs while a process lies in its working directory.
	entries, _ := os.ReadDir(st.Clusters())
	for _, e := range entries {
		dir := filepath.Join(st.Clusters(), e.Name())
		for _, p := range all {
			if e.IsDir() && p.in(dir) {
				s.Clusters = append(s.Clusters, e.Name())
				break
			}
		}
	}
	sort.Strings(s.Clusters)
	return s, nil
}

// listClusters is the guide's gateway.list_clusters() check: the gateway's
// API, authenticated through the hub with dhub's service token.
func listClusters(ctx context.Context, st State, port int) string {
	token, err := st.readSecret(SecretDhubToken)
	if err != nil {
		return "list_clusters not checked: " + err.Error()
	}
	var clusters map[string]any
	url := fmt.Sprintf("http://127.0.0.1:%d/services/dask-gateway/api/v1/clusters/", port)
	if err := getJSON(ctx, url, "jupyterhub "+token, &clusters); err != nil {
		return "list_clusters fails: " + err.Error()
	}
	return fmt.Sprintf("list_clusters works (authenticated through the hub; %d of dhub's own)", len(clusters))
}
