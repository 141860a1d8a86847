package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"dhub/internal/config"
	"dhub/internal/local"
)

type downOptions struct {
	hubFlags
	// yes skips the confirmation of deleting cloud resources.
	yes bool
	// deleteData also deletes users' volumes (PVCs) on Kubernetes.
	deleteData bool
}

func newDownCmd(s Streams) *cobra.Command {
	o := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the hub; keep what users made",
		Long: `down stops everything dhub started for the hub. Target local: Dask Gateway
first (it stops its clusters), then JupyterHub (it stops its proxy and users'
servers), each gracefully and then forcibly after a bound, then any process
still running in the state directory. It then checks that none is left.
The Python environment, secrets, users' home directories and logs stay.`,
		Example: `  dhub down
  dhub down --target local        # the hub 'dhub up --target local' started`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDown(cmd.Context(), o, s) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "delete without asking (required when not interactive)")
	cmd.Flags().BoolVar(&o.deleteData, "delete-data", false, "kubernetes and azure: also delete users' home volumes")
	return cmd
}

func runDown(ctx context.Context, o *downOptions, s Streams) error {
	f, err := o.load(s)
	if err != nil {
		return err
	}
	switch f.Hub.Target {
	case config.TargetKubernetes:
		return kubernetesDown(ctx, f.Hub, o, s)
	case config.TargetAzure:
		return azureDown(ctx, f.Hub, o, s)
	}
	res, err := local.Down(ctx, f.Hub, local.Options{Progress: s.Err})
	if res != nil && o.output == "json" {
		if jerr := writeJSON(s.Out, res); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		return err
	}
	if o.output == "text" {
		if len(res.Stopped) == 0 {
			fmt.Fprintln(s.Out, "nothing was running")
		} else {
			fmt.Fprintf(s.Out, "stopped: %s\n", strings.Join(res.Stopped, ", "))
		}
		if len(res.Forced) > 0 {
			fmt.Fprintf(s.Out, "killed after the grace period: %s\n", strings.Join(res.Forced, ", "))
		}
		fmt.Fprintf(s.Out, "no process of the hub is left; kept %s (environment, secrets, homes, logs)\n", res.StateDir)
	}
	return nil
}
