package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

type validateOptions struct{ file string }

func newValidateCmd(s Streams) *cobra.Command {
	o := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check dhub.yaml and report every problem with its line",
		Long: `validate loads dhub.yaml strictly (unknown keys and wrong types are errors),
applies the profile's defaults, checks every rule and checks the Helm values
dhub would install against the charts' schemas. It reports every problem at
once, each as file:line: field.path: what is wrong and how to fix it.
Warnings (risky but allowed) go to stderr and do not fail.

Without a dhub.yaml there is nothing to check: it fails and names
'dhub init'.`,
		Example: `  dhub validate
  dhub validate -f hubs/pangeo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runValidate(o, s) },
	}
	addFileFlag(cmd, &o.file)
	return cmd
}

func runValidate(o *validateOptions, s Streams) error {
	f, err := loadHub(o.file, "", s.Err)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%s is valid: hub %s, target %s, profile %s\n", o.file, f.Hub.Name, f.Hub.Target, f.Hub.Profile)
	return nil
}
