package cli

import (
	"context"

	"github.com/spf13/cobra"
)

type statusOptions struct {
	hubFlags
}

func newStatusCmd(e *env) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each part of the hub: up or not, and why",
		Long: `status shows each part of the hub and whether it is up, and why not. It
changes nothing.

The hub is up when every component is ready and the gateway API answers;
the exit code is then 0, else 1. The same holds on every target:

  local        JupyterHub, its proxy and Dask Gateway: pid, version, whether
               each answers; the guide's list_clusters() check; the Dask
               clusters running now
  kubernetes   both Helm releases, each Deployment, StatefulSet and DaemonSet
               (ready, or the pod and the reason), the URL and its TLS state,
               the gateway API, the Dask clusters
  azure        the managed cluster and each node pool (nodes, bounds,
               priority), then the kubernetes part on that cluster

-o json prints one JSON document: hub, target, up, url, and one object per
part (local, azure, kubernetes).`,
		Example: `  dhub status
  dhub status -o json | jq .up`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions, e *env) error {
	_, t, err := o.load(e)
	if err != nil {
		return err
	}
	st, err := t.Status(ctx)
	if err != nil {
		return err
	}
	if o.output == "json" {
		err = writeJSON(e.Out, st)
	} else {
		err = st.WriteText(e.Out)
	}
	if err != nil {
		return err
	}
	if !st.Up {
		return &exitError{code: ExitError}
	}
	return nil
}
