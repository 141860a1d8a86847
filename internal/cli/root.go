// Package cli is dhub's command line: each verb turns its flags into an
// options struct and calls the library. Run is the only entry point.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"dhub/internal/config"
)

// Streams are where a command writes: data on Out, progress and warnings on Err.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Exit codes. ExitChanges is for plan --detailed-exitcode.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2
)

// exitError carries an exit code other than ExitError; its message, if any,
// is printed like any error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Run executes dhub with args (without the program name) and returns the
// process exit code.
func Run(args []string, s Streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(s.Err, "error:", msg)
	}
	return code
}

func newRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "dhub",
		Short: "Stand up and run a DaskHub: JupyterHub with Dask Gateway",
		Long: `dhub stands up and runs a Pangeo DaskHub: a multi-user JupyterHub whose users
start Dask clusters through Dask Gateway. One dhub.yaml describes the hub and
where it runs: on this machine (target local), on an existing Kubernetes
cluster (target kubernetes) or on Azure Kubernetes Service (target azure).

Start here:
  dhub init                      write dhub.yaml for the local target
  dhub init --target azure --profile recommended -f dhub.yaml
                                 the Azure guide's recommended deployment
  dhub validate                  check dhub.yaml: every problem, with its line
  dhub render -o out/            the Helm values (or local config) dhub installs
  dhub up --target local         a DaskHub on this machine, no config needed
  dhub smoke                     prove it computes: a Dask cluster through the gateway
  dhub down                      stop it`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	azureDebug = false
	root.PersistentFlags().BoolVar(&azureDebug, "debug", false, "show the full cloud error behind a short message, and Helm's log")
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(
		newInitCmd(s),
		newValidateCmd(s),
		newRenderCmd(s),
		newPlanCmd(s),
		newUpCmd(s),
		newStatusCmd(s),
		newSmokeCmd(s),
		newDownCmd(s),
		newKubeconfigCmd(s),
		newVersionCmd(s),
	)
	return root
}

const defaultFile = "dhub.yaml"

// hubFlags are the flags every verb that acts on a hub shares.
type hubFlags struct {
	file   string
	target string
	output string
}

func (f *hubFlags) add(cmd *cobra.Command) {
	addFileFlag(cmd, &f.file)
	cmd.Flags().StringVar(&f.target, "target", "", "the target when there is no dhub.yaml (e.g. local); must agree with the file's")
	addOutputFlag(cmd, &f.output)
}

// load checks -o, then loads and checks the hub as loadHub does.
func (f *hubFlags) load(s Streams) (*config.File, error) {
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	return loadHub(f.file, config.Target(f.target), s.Err)
}

// addFileFlag adds the -f flag every verb that reads dhub.yaml shares.
func addFileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "file", "f", defaultFile, "the hub's config file")
}
