package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"dhub/internal/config"
)

type upOptions struct {
	file   string
	target string
}

func newUpCmd(s Streams) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create or update the hub so it matches dhub.yaml",
		Long: `up makes the hub match dhub.yaml. It checks the config first, exactly as
'dhub validate' does. A second run changes nothing.`,
		Example: `  dhub up --target local`,
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return runUp(o, s) },
	}
	addFileFlag(cmd, &o.file)
	cmd.Flags().StringVar(&o.target, "target", "", "override the config's target: local, kubernetes or azure")
	return cmd
}

func runUp(o *upOptions, s Streams) error {
	f, err := loadHub(o.file, config.Target(o.target), s.Err)
	if err != nil {
		return err
	}
	return fmt.Errorf("the config is valid, but 'up' for target %s is not in this build of dhub yet", f.Hub.Target)
}
