package cli

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"dhub/internal/charts"
	"dhub/internal/config"
)

// version is set at build time with -ldflags "-X dhub/internal/cli.version=...".
var version = "dev"

// VersionInfo is what 'dhub version' reports.
type VersionInfo struct {
	Version            string `json:"version"`
	Go                 string `json:"go"`
	JupyterHubChart    string `json:"jupyterhubChart"`
	DaskGatewayChart   string `json:"daskGatewayChart"`
	DefaultNotebookImg string `json:"defaultImage"`
}

func newVersionCmd(s Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print dhub's version and the chart versions it installs",
		Example: `  dhub version
  dhub version -o json | jq -r .jupyterhubChart`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := VersionInfo{version, runtime.Version(), charts.JupyterHub.Version, charts.DaskGateway.Version, config.DefaultImage}
			switch output {
			case "json":
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "", "text":
				fmt.Fprintf(s.Out, "dhub %s (%s)\ncharts: jupyterhub %s, dask-gateway %s\ndefault image: %s\n",
					v.Version, v.Go, v.JupyterHubChart, v.DaskGatewayChart, v.DefaultNotebookImg)
				return nil
			}
			return fmt.Errorf("--output %q: use text or json", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}
