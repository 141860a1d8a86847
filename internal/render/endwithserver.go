package render

import (
	_ "embed"
	"fmt"
	"time"
)

// EndWithServerInterval is how often the gateway asks the hub which users
// with clusters still have a server (dask.endWithServer).
const EndWithServerInterval = 10 * time.Second

// EndWithServerBound is the longest a user's clusters run on after their
// last server stopped: an interval to notice, and the backend's stop.
const EndWithServerBound = 30 * time.Second

// GatewayHubScopes are what the gateway's hub token needs to see whether a
// user has a server; without them the gateway stops no cluster.
var GatewayHubScopes = []string{"read:users:name", "read:servers"}

// gatewayServersRole names the hub role that grants the gateway GatewayHubScopes.
const gatewayServersRole = "dask-gateway-servers"

//go:embed endwithserver.py
var endWithServerPython string

// endWithServerConfig is the gateway configuration that makes backend (a
// Python expression naming the gateway's backend class) stop the clusters
// of users without a server.
func endWithServerConfig(backend string) string {
	return endWithServerPython + fmt.Sprintf("\n\nc.DaskGateway.backend_class = dhub_end_with_server(%s, %d)\n", backend, int(EndWithServerInterval.Seconds()))
}
