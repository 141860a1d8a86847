package cli

import (
	"context"

	"github.com/spf13/cobra"
)

type planOptions struct {
	hubFlags
	detailedExitcode bool
}

func newPlanCmd(e *env) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what 'dhub up' would change, without changing anything",
		Long: `plan reads what exists (read-only requests only) and compares it with dhub.yaml.
'dhub up' shows the same plan and then applies exactly it. Each resource
gets an action and its reason:
  +  create    the resource does not exist
  ~  update    it exists; the fields listed change in place
  ±  replace   it must be made anew: a process restarts, or a field cannot
               change in place (say a pool's VM size)
  -  delete    it exists but dhub.yaml no longer asks for it
     no-op     it matches

Target local: the Python environment, the secrets and the two processes.
Target kubernetes: the namespace, the dhub-auth Secret (key names only,
never values) and both Helm releases with a diff of their values.
Target azure: the resource group, the managed cluster and each node pool,
then the hub on the cluster as for kubernetes; and the hub's monthly cost
at Azure's list prices (azure.currency), idle and at the pools' maximum,
or "cost unknown" when the prices cannot be read.

Referenced secrets (fromEnv, fromFile) are read, to tell whether they
changed, and never shown.

With --detailed-exitcode the exit code says what plan found: 0 no changes,
2 changes, 1 error.`,
		Example: `  dhub plan
  dhub plan -o json --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd.Context(), o, e) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	return cmd
}

func runPlan(ctx context.Context, o *planOptions, e *env) error {
	_, t, err := o.load(e)
	if err != nil {
		return err
	}
	p, err := t.Plan(ctx)
	if err != nil {
		return err
	}
	if o.output == "json" {
		err = p.View.WriteJSON(e.Out)
	} else {
		err = p.View.WriteText(e.Out)
	}
	if err != nil {
		return err
	}
	if o.detailedExitcode && p.View.HasChanges() {
		return &exitError{code: ExitChanges}
	}
	return nil
}
