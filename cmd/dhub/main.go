// Command dhub stands up and runs a DaskHub (JupyterHub with Dask Gateway)
// on Azure, on an existing Kubernetes cluster or on one machine.
package main

import (
	"os"

	"dhub/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], cli.SystemStreams()))
}
