// Package cli is dhub's command line: each verb turns its flags into an
// options struct and calls the library. Run is the only entry point.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"dhub/internal/config"
	"dhub/internal/deploy"
)

// Exit codes. ExitChanges is for plan --detailed-exitcode.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2
	// ExitInterrupted is the shells' code for a command ended by Ctrl-C.
	ExitInterrupted = 130
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
// process exit code. Its targets reach the real world.
//
// Ctrl-C (SIGINT) or SIGTERM ends the context of the verb, which stops
// what it started and says what it left; a second Ctrl-C ends dhub at
// once.
func Run(args []string, s Streams) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		// The next Ctrl-C ends dhub at once. The notice is written before
		// the verb sees its context end, so it always comes before what
		// the verb then says it left.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		fmt.Fprintln(s.Err, "interrupted: finishing up (Ctrl-C again to quit at once)")
		cancel()
	}()
	return runContext(ctx, args, s, deploy.Options{})
}

// RunWith is Run with the targets' options given: tests point them at an
// in-memory Azure and a test cluster. Nothing is shared between two runs,
// so runs may go on in parallel.
func RunWith(args []string, s Streams, o deploy.Options) int {
	return runContext(context.Background(), args, s, o)
}

// runContext runs a verb under ctx: when ctx ends (Ctrl-C), the verb's
// error says what it left and the exit code is ExitInterrupted.
func runContext(ctx context.Context, args []string, s Streams, o deploy.Options) int {
	root := newRoot(&env{Streams: s, deploy: o})
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if ctx.Err() != nil {
		code = ExitInterrupted
		if !strings.HasPrefix(err.Error(), "interrupted") {
			err = fmt.Errorf("interrupted: %w", err)
		}
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(s.Err, "error:", msg)
	}
	return code
}

// env is what every verb of one run shares: the streams, the targets'
// options and the global --debug flag.
type env struct {
	Streams
	deploy deploy.Options
	debug  bool
}

// target connects to the hub's target, with progress on stderr.
func (e *env) target(h *config.Hub) (deploy.Target, error) {
	o := e.deploy
	o.Debug = e.debug
	if o.Progress == nil {
		o.Progress = e.Err
	}
	return deploy.New(h, o)
}

func newRoot(e *env) *cobra.Command {
	s := e.Streams
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
	root.PersistentFlags().BoolVar(&e.debug, "debug", false, "show the full cloud error behind a short message, and Helm's log")
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(
		newInitCmd(s),
		newValidateCmd(s),
		newRenderCmd(s),
		newPlanCmd(e),
		newUpCmd(e),
		newStatusCmd(e),
		newSmokeCmd(e),
		newDownCmd(e),
		newKubeconfigCmd(e),
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
	addTargetFlag(cmd, &f.target)
	addOutputFlag(cmd, &f.output)
}

// load checks -o, then loads and checks the hub as loadHub does, and
// connects to its target.
func (f *hubFlags) load(e *env) (*config.Hub, deploy.Target, error) {
	if err := checkOutput(f.output); err != nil {
		return nil, nil, err
	}
	file, err := loadHub(f.file, targetFor(f.file, f.target), e.Err)
	if err != nil {
		return nil, nil, err
	}
	t, err := e.target(file.Hub)
	return file.Hub, t, err
}

// args repeats -f and --target in a suggested command, so it acts on the
// same hub: "dhub smoke" + f.args().
func (f *hubFlags) args() string {
	s := ""
	if f.file != defaultFile {
		s += " -f " + f.file
	}
	if f.target != "" {
		s += " --target " + f.target
	}
	return s
}

// planView is where a plan shown before acting goes: stdout, unless
// stdout carries JSON.
func (f *hubFlags) planView(e *env) io.Writer {
	if f.output == "json" {
		return e.Err
	}
	return e.Out
}

// addFileFlag adds the -f flag every verb that reads dhub.yaml shares.
func addFileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "file", "f", defaultFile, "the hub's config file")
}

// addTargetFlag adds the --target flag of the verbs that act on the
// default hub when there is no dhub.yaml.
func addTargetFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "target", "", "the target when there is no dhub.yaml (e.g. local); must agree with the file's")
}

// targetFor is the target to load file as: the one given, else local when
// file is the default dhub.yaml and there is none. The verb then acts on
// the hub 'dhub up --target local' starts, and loadHub says so.
func targetFor(file, target string) config.Target {
	if _, err := os.Stat(file); target == "" && file == defaultFile && errors.Is(err, fs.ErrNotExist) {
		return config.TargetLocal
	}
	return config.Target(target)
}
