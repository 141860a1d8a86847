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
		Long: `smoke is the Azure guide's manual check as a command. As a dedicated user
(dhub-smoke, created through the hub API, with a short-lived token) it creates
a Dask cluster through Dask Gateway with the real dask_gateway client, scales
it, computes a sum of squares whose result it checks, and shuts the cluster
down even on failure. It prints the time of each phase: hub login, cluster
start, workers ready, compute, shutdown. Exit code 1 when any step fails.

On Kubernetes (and Azure) the check runs in the cluster as a Job with the
hub's singleuser image, where users' notebooks run, reading dhub's hub
service token from the chart's Secret; the Job is deleted afterwards.`,
		Example: `  dhub smoke
  dhub smoke --workers 4 -o json
  dhub smoke --compare-local       # also time the computation on a plain LocalCluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSmoke(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().IntVar(&o.Workers, "workers", 2, "Dask workers to scale to")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "bound for the cluster to start and its workers to join")
	cmd.Flags().BoolVar(&o.CompareLocal, "compare-local", false, "also run the computation on a LocalCluster of the same size")
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
	}
	if r.LocalClusterComputeSeconds > 0 {
		fmt.Fprintf(s.Out, "  same compute on a LocalCluster: %.2fs; gateway/local ratio %.2f\n", r.LocalClusterComputeSeconds, r.Ratio())
	}
}
