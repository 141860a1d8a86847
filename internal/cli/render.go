package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"dhub/internal/render"
)

type renderOptions struct {
	file        string
	target      string
	outDir      string
	showSecrets bool
}

func newRenderCmd(s Streams) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Show the Helm values (or local config files) dhub installs",
		Long: `render turns dhub.yaml into exactly what 'dhub up' installs: for the kubernetes
and azure targets, the values of the jupyterhub and dask-gateway Helm releases
and the Secret that carries authentication secrets; for the local target, the
JupyterHub and Dask Gateway configuration files. Nothing is contacted.

It renders the hub 'dhub up' acts on, with the same -f and --target:
without a dhub.yaml, the defaults of target local, and it says so.

Secrets appear as references (<redacted: from env:NAME>) unless --show-secrets.
Tokens between the hub, proxy and gateway are not rendered at all: the
JupyterHub chart generates them and the gateway reads them from its Secret.`,
		Example: `  dhub render                    # all files to stdout
  dhub render -o out/            # one file each in out/
  dhub render -f lab.yaml --target kubernetes  # a file that names no target`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runRender(o, s) },
	}
	addFileFlag(cmd, &o.file)
	addTargetFlag(cmd, &o.target)
	cmd.Flags().StringVarP(&o.outDir, "output-dir", "o", "", "write the files into this directory instead of stdout")
	cmd.Flags().BoolVar(&o.showSecrets, "show-secrets", false, "resolve secret references into the output")
	return cmd
}

func runRender(o *renderOptions, s Streams) error {
	f, err := loadHub(o.file, targetFor(o.file, o.target), s.Err)
	if err != nil {
		return err
	}
	files, err := render.Files(f.Hub, o.showSecrets)
	if err != nil {
		return err
	}
	if o.outDir == "" {
		for i, rf := range files {
			if i > 0 {
				fmt.Fprintln(s.Out, "---")
			}
			fmt.Fprintf(s.Out, "# Source: %s\n%s", rf.Name, rf.Content)
		}
		return nil
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	for _, rf := range files {
		p := filepath.Join(o.outDir, rf.Name)
		// Owner-only: with --show-secrets a file may hold a secret.
		if err := os.WriteFile(p, rf.Content, 0o600); err != nil {
			return err
		}
		fmt.Fprintln(s.Err, "wrote", p)
	}
	return nil
}
