// Package realcluster tests dhub's hub on a Kubernetes cluster whose pods
// really run: three real nodes (internal/kube/realnodes) shaped as the
// recommended profile's pools, the real JupyterHub and Dask Gateway charts
// from a chart repository, and images built on this machine
// (scripts/node-images.sh). dhub runs as users run it: the binary, its
// verbs, a dhub.yaml, no stand-in for anything the cluster does.
//
// The tier needs root; it fails, never skips, where it cannot run.
package realcluster
