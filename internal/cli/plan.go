package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"dhub/internal/config"
	"dhub/internal/local"
	"dhub/internal/plan"
)

type planOptions struct {
	hubFlags
	detailedExitcode bool
}

func newPlanCmd(s Streams) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what 'dhub up' would change, without changing anything",
		Long: `plan reads what exists (read-only requests only) and compares it with dhub.yaml.
Each resource gets an action and its reason:
  +  create    the resource does not exist
  ~  update    it exists; the fields listed change in place
  ±  replace   a field cannot change in place (say a pool's VM size): the
               resource must be deleted and created again
  -  delete    it exists but dhub.yaml no longer asks for it
     no-op     it matches

With --detailed-exitcode the exit code says what plan found: 0 no changes,
2 changes, 1 error.`,
		Example: `  dhub plan
  dhub plan -o json --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd.Context(), o, s) },
	}
	o.hubFlags.add(cmd)
	cmd.Flags().BoolVar(&o.detailedExitcode, "detailed-exitcode", false, "exit 0 with no changes, 2 with changes, 1 on error")
	return cmd
}

func runPlan(ctx context.Context, o *planOptions, s Streams) error {
	f, err := o.load(s)
	if err != nil {
		return err
	}
	p, err := makePlan(ctx, f.Hub, s)
	if err != nil {
		return err
	}
	if o.output == "json" {
		err = p.WriteJSON(s.Out)
	} else {
		err = p.WriteText(s.Out)
	}
	if err != nil {
		return err
	}
	if o.detailedExitcode && p.HasChanges() {
		return &exitError{code: ExitChanges}
	}
	return nil
}

// makePlan computes the plan of a hub's target.
func makePlan(ctx context.Context, h *config.Hub, s Streams) (*plan.Plan, error) {
	switch h.Target {
	case config.TargetLocal:
		return local.Plan(h)
	case config.TargetKubernetes:
		return kubernetesPlan(ctx, h, s)
	case config.TargetAzure:
		return azurePlan(ctx, h, s)
	}
	return nil, fmt.Errorf("target %q has no plan", h.Target)
}
