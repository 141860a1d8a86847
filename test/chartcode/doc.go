// Package chartcode runs the charts' own code with dhub's values: the real
// JupyterHub and Dask Gateway charts rendered with the Helm SDK, the hub
// pod's files laid out where the pod mounts them, and the chart's
// jupyterhub_config.py (with z2jh.py) and the gateway's
// dask_gateway_config.py executed in a Python environment with the images'
// pins (scripts/chart-python.sh). The tests ask that code what a user
// depends on: who may log in, the user pod KubeSpawner builds, whether the
// gateway takes a user's server token, the cluster options and limits,
// and the scheduler and worker pods the gateway's controller makes of them.
// Only the OAuth token exchange, the Kubernetes API and the gateway's HTTP
// call to the hub are replaced. It holds tests only.
package chartcode
