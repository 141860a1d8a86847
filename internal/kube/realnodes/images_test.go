package realnodes

import "testing"

// TestNormalizeRef: references are checked against the runtime's list as
// the runtime spells them.
func TestNormalizeRef(t *testing.T) {
	for ref, want := range map[string]string{
		"pangeo/pangeo-notebook:2025.08.14":         "docker.io/pangeo/pangeo-notebook:2025.08.14",
		"traefik:3.3.5":                             "docker.io/library/traefik:3.3.5",
		"docker.io/traefik:3.3.5":                   "docker.io/library/traefik:3.3.5",
		"quay.io/jupyterhub/k8s-hub:4.4.0":          "quay.io/jupyterhub/k8s-hub:4.4.0",
		"registry.k8s.io/pause:3.10.1":              "registry.k8s.io/pause:3.10.1",
		"localhost/dhub:1":                          "localhost/dhub:1",
		"localhost:5000/dhub:1":                     "localhost:5000/dhub:1",
		"dhub.test/busybox:1.35":                    "dhub.test/busybox:1.35",
		"ghcr.io/dask/dask-gateway-server:2026.3.0": "ghcr.io/dask/dask-gateway-server:2026.3.0",
	} {
		if got := normalizeRef(ref); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", ref, got, want)
		}
	}
}
