package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"dhub/internal/azure"
	"dhub/internal/config"
)

type kubeconfigOptions struct {
	file       string
	merge      bool
	kubeconfig string
}

func newKubeconfigCmd(s Streams) *cobra.Command {
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
does not write.`,
		Example: `  dhub kubeconfig > pangeo.kubeconfig && KUBECONFIG=pangeo.kubeconfig kubectl get nodes
  dhub kubeconfig --merge && kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runKubeconfig(cmd.Context(), o, s) },
	}
	addFileFlag(cmd, &o.file)
	cmd.Flags().BoolVar(&o.merge, "merge", false, "merge into your kubeconfig instead of printing")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "the kubeconfig file --merge writes (default: KUBECONFIG's first file, else ~/.kube/config)")
	return cmd
}

func runKubeconfig(ctx context.Context, o *kubeconfigOptions, s Streams) error {
	f, err := loadHub(o.file, "", s.Err)
	if err != nil {
		return err
	}
	h := f.Hub
	if h.Target != config.TargetAzure {
		return fmt.Errorf("'dhub kubeconfig' is for target azure; target %s uses the kubeconfig you already have", h.Target)
	}
	c, err := newAzureClient(h, s)
	if err != nil {
		return err
	}
	kc, err := c.Kubeconfig(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	if !o.merge {
		if isTerminal(s.Out) {
			fmt.Fprintln(s.Err, "note: this kubeconfig holds a credential for the cluster")
		}
		_, err := s.Out.Write(kc)
		return err
	}
	path := o.kubeconfig
	if path == "" {
		path = defaultKubeconfigPath()
	}
	if path == "" {
		return errors.New("no kubeconfig path: pass --kubeconfig, or set KUBECONFIG or HOME")
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	name := azure.ContextName(h)
	merged, changes, err := azure.MergeKubeconfig(old, kc, name)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(changes) == 0 {
		fmt.Fprintf(s.Out, "%s already has context %s with these credentials: not written\n", path, name)
		return nil
	}
	backup := ""
	if old != nil {
		backup = fmt.Sprintf("%s.dhub-backup-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.WriteFile(backup, old, 0o600); err != nil {
			return fmt.Errorf("back up kubeconfig: %w", err)
		}
	}
	if err := writeFileAtomic(path, merged, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "merged the credentials of managed cluster %s into %s:\n", h.Azure.ClusterName, path)
	for _, ch := range changes {
		fmt.Fprintf(s.Out, "  %s\n", ch)
	}
	if backup != "" {
		fmt.Fprintf(s.Out, "the previous file is in %s\n", backup)
	}
	return nil
}

// defaultKubeconfigPath is KUBECONFIG's first file, else ~/.kube/config.
func defaultKubeconfigPath() string {
	if list := filepath.SplitList(os.Getenv("KUBECONFIG")); len(list) > 0 && list[0] != "" {
		return list[0]
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".kube", "config")
	}
	return ""
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path, so a reader sees the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".dhub-*")
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
