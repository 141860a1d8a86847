package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"dhub/internal/config"
	"dhub/internal/local"
)

type upOptions struct {
	hubFlags
	// yes skips the confirmation of a plan that changes cloud resources.
	yes bool
}

func newUpCmd(s Streams) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the hub so it matches dhub.yaml",
		Long: `up makes the hub match dhub.yaml and returns when it answers. It checks the
config first, exactly as 'dhub validate' does. A second run changes nothing.

Target local: the first run creates a Python environment in the hub's state
directory (about a minute); later runs reuse it. JupyterHub and Dask Gateway
run in the background, outliving the terminal; logs and pid files are in the
state directory. The admin password is generated once and kept there (0600).

Target kubernetes: installs or upgrades the jupyterhub and dask-gateway Helm
releases (only what changed), waits until every component is ready, naming
the pod and the reason when one is not, and prints the hub's URL. A failed
upgrade is rolled back.

Target azure: shows the plan of Azure changes and asks (--yes skips the
question; without a terminal it is required), creates or updates the
resource group, the AKS cluster and its node pools, then does the
kubernetes steps on that cluster.`,
		Example: `  dhub up --target local          # no dhub.yaml needed: the defaults
  dhub up -f dhub.yaml -o json
  dhub up -f azure.yaml --yes     # unattended, e.g. in CI`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), o, s) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "apply the plan without asking (required when not interactive)")
	return cmd
}

func runUp(ctx context.Context, o *upOptions, s Streams) error {
	f, err := o.load(s)
	if err != nil {
		return err
	}
	h := f.Hub
	switch h.Target {
	case config.TargetKubernetes:
		return kubernetesUp(ctx, h, o, s)
	case config.TargetAzure:
		return azureUp(ctx, h, o, s)
	}
	res, err := local.Up(ctx, h, local.Options{Progress: s.Err})
	if err != nil {
		return err
	}
	if o.output == "json" {
		return writeJSON(s.Out, res)
	}
	if !res.Changed {
		fmt.Fprintf(s.Out, "DaskHub already up at %s (no change)\n", res.URL)
	} else {
		fmt.Fprintf(s.Out, "DaskHub is up at %s (%s)\n", res.URL, res.Elapsed.Round(100_000_000))
	}
	fmt.Fprintf(s.Out, "  log in as:   %s, password in %s\n", res.AdminUser, res.PasswordFile)
	fmt.Fprintf(s.Out, "  logs:        %s\n", res.Logs)
	fmt.Fprintf(s.Out, "  check it:    dhub smoke%s\n  stop it:     dhub down%s\n", fileArg(o.file), fileArg(o.file))
	if res.PasswordGenerated && isTerminal(s.Err) {
		if pw, err := os.ReadFile(res.PasswordFile); err == nil {
			fmt.Fprintf(s.Err, "admin password (shown this once; kept in %s): %s", res.PasswordFile, pw)
		}
	}
	return nil
}

// fileArg repeats -f in suggested commands when the file is not the default.
func fileArg(file string) string {
	if file == defaultFile {
		return ""
	}
	return " -f " + file
}

// isTerminal reports whether w is a terminal, where a secret may be shown.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
