package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"dhub/internal/deploy"
)

type kubeconfigOptions struct {
	file       string
	merge      bool
	kubeconfig string
}

func newKubeconfigCmd(e *env) *cobra.Command {
	o := &kubeconfigOptions{}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the AKS cluster's kubeconfig, or merge it into yours",
		Long: `kubeconfig fetches the cluster's user credentials (like 'az aks
get-credentials') for target azure and prints them on stdout. They hold a
credential: redirect them to a file only you can read.

With --merge it merges them into your kubeconfig (--kubeconfig, else the
first file of KUBECONFIG, else ~/.kube/config) under the context, cluster
and user name dhub-<hub name>, and makes that the current context. It never
edits silently: it says what it changed, writes a backup of the old file
next to it, and replaces the file atomically. When nothing would change it
says so and writes nothing, not even a backup.`,
		Example: `  dhub kubeconfig > pangeo.kubeconfig && KUBECONFIG=pangeo.kubeconfig kubectl get nodes
  dhub kubeconfig --merge && kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runKubeconfig(cmd.Context(), o, e) },
	}
	addFileFlag(cmd, &o.file)
	cmd.Flags().BoolVar(&o.merge, "merge", false, "merge into your kubeconfig instead of printing")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "the kubeconfig file --merge writes (default: KUBECONFIG's first file, else ~/.kube/config)")
	return cmd
}

func runKubeconfig(ctx context.Context, o *kubeconfigOptions, e *env) error {
	f, err := loadHub(o.file, "", e.Err)
	if err != nil {
		return err
	}
	t, err := e.target(f.Hub)
	if err != nil {
		return err
	}
	kc, err := t.Kubeconfig(ctx)
	if errors.Is(err, deploy.ErrNoKubeconfig) {
		return fmt.Errorf("'dhub kubeconfig' is for target azure: %w", err)
	}
	if err != nil {
		return err
	}
	if !o.merge {
		if e.OutTerminal {
			fmt.Fprintln(e.Err, "note: this kubeconfig holds a credential for the cluster")
		}
		_, err := e.Out.Write(kc)
		return err
	}
	path := o.kubeconfig
	if path == "" {
		path = deploy.DefaultKubeconfigPath()
	}
	if path == "" {
		return errors.New("no kubeconfig path: pass --kubeconfig, or set KUBECONFIG or HOME")
	}
	res, err := deploy.MergeKubeconfig(path, f.Hub.Name, kc)
	if err != nil {
		return err
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(e.Out, "%s already has context %s with these credentials: not written\n", path, res.Context)
		return nil
	}
	fmt.Fprintf(e.Out, "merged the credentials of the hub's cluster into %s:\n", path)
	for _, ch := range res.Changes {
		fmt.Fprintf(e.Out, "  %s\n", ch)
	}
	if res.Backup != "" {
		fmt.Fprintf(e.Out, "the previous file is in %s\n", res.Backup)
	}
	return nil
}
