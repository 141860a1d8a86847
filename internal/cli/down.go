package cli

import (
	"context"

	"github.com/spf13/cobra"

	"dhub/internal/deploy"
)

type downOptions struct {
	hubFlags
	// yes skips the confirmation of deleting what the plan shows.
	yes bool
	// deleteData also deletes users' volumes (PVCs) on Kubernetes.
	deleteData bool
	// keepData keeps the scratch storage account on Azure.
	keepData bool
}

func newDownCmd(e *env) *cobra.Command {
	o := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the hub; keep what users made",
		Long: `down shows what it will remove and keep, then removes only what dhub made for
the hub. Before it disconnects users or deletes something it asks, on every
target (--yes skips the question; without a terminal it is required).

Target local: stops Dask Gateway first (it stops its clusters), then
JupyterHub (it stops its proxy and users' servers), each gracefully and then
forcibly after a bound, then any process still running in the state
directory, and checks that none is left. The Python environment, secrets,
users' home directories and logs stay. It asks while the hub runs: its
users are disconnected.

Target kubernetes: uninstalls both releases, stops users' servers and Dask
clusters, deletes the dhub-auth Secret; users' home volumes only with
--delete-data; the namespace when dhub created it and keeps nothing in it.

Target azure: deletes the resource group when dhub created it for this hub
and it holds nothing else, otherwise only the managed cluster (the hub and
users' volumes go with it) and the scratch container's identity and storage
account; then lists what is still tagged with the hub. --keep-data keeps the
scratch storage account, with users' results in it, and its resource group.`,
		Example: `  dhub down
  dhub down --target local        # the hub 'dhub up --target local' started
  dhub down -f azure.yaml --yes   # unattended
  dhub down --keep-data           # azure: keep users' results in the scratch container`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDown(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "delete without asking (required when not interactive)")
	cmd.Flags().BoolVar(&o.deleteData, "delete-data", false, "kubernetes: also delete users' home volumes")
	cmd.Flags().BoolVar(&o.keepData, "keep-data", false, "azure: keep the scratch storage account (users' results) and its resource group")
	cmd.MarkFlagsMutuallyExclusive("delete-data", "keep-data")
	return cmd
}

func runDown(ctx context.Context, o *downOptions, e *env) error {
	_, t, err := o.load(e)
	if err != nil {
		return err
	}
	p, err := t.PlanDown(ctx, deploy.DownOptions{DeleteData: o.deleteData, KeepData: o.keepData})
	if err != nil {
		return err
	}
	if err := p.View.WriteText(o.planView(e)); err != nil {
		return err
	}
	if p.Confirm != "" && !o.yes {
		if err := confirm(e.Streams, p.Confirm, "dhub down --yes"+o.args()); err != nil {
			return err
		}
	}
	res, err := p.Apply(ctx)
	if res != nil {
		var werr error
		if o.output == "json" {
			werr = writeJSON(e.Out, res)
		} else {
			werr = res.WriteText(e.Out)
		}
		if err == nil {
			err = werr
		}
	}
	return err
}
