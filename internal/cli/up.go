package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type upOptions struct {
	hubFlags
	// yes skips the confirmation of a plan that changes cloud resources.
	yes bool
}

func newUpCmd(e *env) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the hub so it matches dhub.yaml",
		Long: `up makes the hub match dhub.yaml and returns when it answers. It checks the
config first, exactly as 'dhub validate' does, then shows the plan (what
'dhub plan' shows) and applies exactly that plan. A second run changes
nothing.

Target local: the first run creates a Python environment in the hub's state
directory (about a minute); later runs reuse it. JupyterHub and Dask Gateway
run in the background, outliving the terminal; logs and pid files are in the
state directory. The admin password is generated once and kept there (0600).
A hub whose configuration, secrets or environment changed, or that does not
answer, is restarted.

Target kubernetes: creates the namespace and the dhub-auth Secret, installs
or upgrades the jupyterhub and dask-gateway Helm releases (only what
changed), waits until every component is ready and the gateway API answers,
naming the pod and the reason when one is not, and prints the hub's URL. A
failed upgrade is rolled back.

Target azure: asks before changing Azure (--yes skips the question; without
a terminal it is required), creates or updates the resource group, the AKS
cluster and its node pools, then does the kubernetes steps on that cluster.`,
		Example: `  dhub up --target local          # no dhub.yaml needed: the defaults
  dhub up -f dhub.yaml -o json
  dhub up -f azure.yaml --yes     # unattended, e.g. in CI`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "apply the plan without asking (required when not interactive)")
	return cmd
}

func runUp(ctx context.Context, o *upOptions, e *env) error {
	_, t, err := o.load(e)
	if err != nil {
		return err
	}
	p, err := t.Plan(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while planning: nothing was changed")
		}
		return err
	}
	if err := p.View.WriteText(o.planView(e)); err != nil {
		return err
	}
	if p.Confirm != "" && !o.yes {
		if err := confirm(e.Streams, p.Confirm, "dhub up --yes"+o.args()); err != nil {
			return err
		}
	}
	res, err := p.Apply(ctx)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return writeJSON(e.Out, res)
	}
	res.AddDetail("check it", "dhub smoke"+o.args())
	res.AddDetail("stop it", "dhub down"+o.args())
	if err := res.WriteText(e.Out); err != nil {
		return err
	}
	if pw, kept := res.NewPassword(); pw != "" && e.ErrTerminal {
		fmt.Fprintf(e.Err, "admin password (shown this once; %s): %s\n", kept, strings.TrimSpace(pw))
	}
	return nil
}
