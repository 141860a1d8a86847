package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dhub/internal/config"
	"dhub/internal/local"
)

type statusOptions struct {
	hubFlags
}

func newStatusCmd(s Streams) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each part of the hub: up or not, and why",
		Long: `status shows each component of the hub (target local: JupyterHub, its proxy
and Dask Gateway) with its pid and version, the hub's URL and the Dask
clusters running now. It changes nothing. Exit code 1 when the hub is not up.`,
		Example: `  dhub status
  dhub status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), o, s) },
	}
	o.hubFlags.add(cmd)
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions, s Streams) error {
	f, err := o.load(s)
	if err != nil {
		return err
	}
	switch f.Hub.Target {
	case config.TargetKubernetes:
		return kubernetesStatus(ctx, f.Hub, o, s)
	case config.TargetAzure:
		return azureStatus(ctx, f.Hub, o, s)
	}
	st, err := local.GetStatus(ctx, f.Hub)
	if err != nil {
		return err
	}
	return reportStatus(s, o.output, st, st.Up, func() {
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "COMPONENT\tSTATE\tPID\tVERSION\tDETAIL")
		for _, c := range st.Components {
			state, pid := "down", "-"
			if c.Running {
				state = "up"
			}
			if c.Pid > 0 {
				pid = fmt.Sprint(c.Pid)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, state, pid, dash(c.Version), c.Detail)
		}
		tw.Flush()
		fmt.Fprintf(s.Out, "\nhub URL:       %s\nstate:         %s\ndask clusters: %d %s\n",
			st.URL, st.StateDir, len(st.Clusters), strings.Join(st.Clusters, " "))
	})
}

// reportStatus writes st as JSON with -o json, else calls text; then it
// fails with exit code 1 (and no message) when the hub is not up.
func reportStatus(s Streams, output string, st any, up bool, text func()) error {
	if output == "json" {
		if err := writeJSON(s.Out, st); err != nil {
			return err
		}
	} else {
		text()
	}
	if !up {
		return &exitError{code: ExitError}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
