package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"dhub/internal/smoke"
)

type smokeOptions struct {
	hubFlags
	smoke.Options
}

func newSmokeCmd(e *env) *cobra.Command {
	o := &smokeOptions{}
	cmd := &cobra.Command{
		Use:   "smoke",
		Short: "Prove the hub computes: a real Dask cluster through the gateway",
		Long: `smoke walks the hub the way a person uses it, as a dedicated user
(dhub-smoke, created for the check and removed afterwards unless --keep):

  login          sign in through the hub's login form with the admin's
                 password (password login), then get the check's user a
                 token from the hub, as a browser session would hold
  spawn          start the user's server through the hub, following the
                 hub's progress messages; when it fails, the hub's reason
                 and what the target shows (the hub's log, the pod's state)
  kernel start   start a notebook kernel in that server, over its REST and
                 websocket API, exactly as JupyterLab does
  cluster start  in the kernel: Gateway() with no arguments, list_clusters(),
                 new_cluster() with the options dhub configured
  workers ready  scale(N) and wait for the workers
  compute        a sum of squares on the cluster, whose result is checked
  dashboard      the cluster's dashboard link, opened through the hub: it
                 must answer with the dashboard
  shutdown       the cluster is shut down, then the server stopped

Each phase is timed; a failure names its phase and reason. Exit code 1 when
any phase fails. The check goes where people go: the hub's URL (on
Kubernetes, the load balancer's address or the HTTPS host).`,
		Example: `  dhub smoke
  dhub smoke --workers 4 -o json
  dhub smoke --compare-local       # also time the computation on a plain LocalCluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSmoke(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().IntVar(&o.Workers, "workers", 2, "Dask workers to scale to")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "bound for each phase")
	cmd.Flags().BoolVar(&o.CompareLocal, "compare-local", false, "also run the computation on a LocalCluster of the same size, in the user's server")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the check's user and server running afterwards, to look into")
	return cmd
}

func runSmoke(ctx context.Context, o *smokeOptions, e *env) error {
	_, t, err := o.load(e)
	if err != nil {
		return err
	}
	res, err := t.Smoke(ctx, o.Options)
	if res != nil {
		if o.output == "json" {
			if jerr := writeJSON(e.Out, res); jerr != nil {
				return jerr
			}
		} else {
			printSmoke(e.Streams, res)
		}
	}
	return err
}

func printSmoke(s Streams, r *smoke.Result) {
	verdict := "passed"
	if !r.OK {
		verdict = "FAILED"
	}
	cluster := r.Cluster
	if cluster == "" {
		cluster = "-"
	}
	fmt.Fprintf(s.Out, "smoke %s: user %s, cluster %s, %d worker(s)\n", verdict, r.User, cluster, r.Workers)
	for _, p := range r.Phases {
		mark := "ok"
		if !p.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(s.Out, "  %-14s %7.2fs  %s\n", p.Name, p.Seconds, mark)
	}
	if r.OK {
		fmt.Fprintf(s.Out, "  result %d (expected %d)\n", r.Result, r.Expected)
		fmt.Fprintf(s.Out, "  dashboard %s answered\n", r.Dashboard)
	}
	if r.LocalClusterComputeSeconds > 0 {
		fmt.Fprintf(s.Out, "  same compute on a LocalCluster: %.2fs; gateway/local ratio %.2f\n", r.LocalClusterComputeSeconds, r.Ratio())
	}
}
