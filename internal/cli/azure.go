package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"dhub/internal/azure"
	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/plan"
)

// The azure target's verbs: thin wrappers over package azure.

// azureOptions returns the options of the Azure client for a hub: the
// DefaultAzureCredential and the subscription from dhub.yaml,
// AZURE_SUBSCRIPTION_ID or the az CLI default. Tests replace it with options
// that reach an in-memory Azure (package azurefake).
var azureOptions = func(h *config.Hub) (azure.Options, error) {
	sub, _, err := azure.ResolveSubscription(h.Azure.Subscription, os.Getenv)
	if err != nil {
		return azure.Options{}, err
	}
	return azure.DefaultOptions(sub)
}

// azureDebug is dhub's --debug flag (a persistent flag of the root, reset
// by each Run): the full Azure error behind a one-sentence message.
var azureDebug bool

// clusterKubeconfig fetches the user kubeconfig of the hub's AKS cluster
// (kept in memory), for the Kubernetes part of plan, status and smoke.
func clusterKubeconfig(ctx context.Context, h *config.Hub, s Streams) ([]byte, error) {
	c, err := newAzureClient(h, s)
	if err != nil {
		return nil, err
	}
	b, err := c.Kubeconfig(ctx, h)
	return b, azureErr(err)
}

// newAzureClient builds the Azure client of h, with progress on s.Err.
func newAzureClient(h *config.Hub, s Streams) (*azure.Client, error) {
	o, err := azureOptions(h)
	if err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = s.Err
	}
	return azure.New(o)
}

// azureErr adds the full Azure error to a short one with --debug.
func azureErr(err error) error {
	var ae *azure.Error
	if err == nil || !errors.As(err, &ae) {
		return err
	}
	if azureDebug {
		return fmt.Errorf("%w\n\nfull Azure error:\n%s", err, ae.Detail())
	}
	return fmt.Errorf("%w (run with --debug for Azure's full answer)", err)
}

func azurePlan(ctx context.Context, h *config.Hub, s Streams) (*plan.Plan, error) {
	c, err := newAzureClient(h, s)
	if err != nil {
		return nil, err
	}
	p, err := c.Plan(ctx, h)
	if err != nil {
		return nil, azureErr(err)
	}
	return withHubChanges(ctx, c, h, p.View, s)
}

// withHubChanges returns the Azure plan followed by the Helm side when the
// cluster exists (on a new cluster both releases are simply installed).
func withHubChanges(ctx context.Context, c *azure.Client, h *config.Hub, azurePlan *plan.Plan, s Streams) (*plan.Plan, error) {
	view := *azurePlan
	view.Changes = append([]plan.Change(nil), azurePlan.Changes...)
	st, err := c.Status(ctx, h)
	if err != nil || !st.Exists {
		return &view, azureErr(err)
	}
	kubeconfig, err := c.Kubeconfig(ctx, h)
	if err != nil {
		return nil, azureErr(err)
	}
	kc, err := kubeClient(h, kubeconfig, s)
	if err != nil {
		return nil, err
	}
	kp, err := kc.Plan(ctx, h)
	if err != nil {
		return nil, err
	}
	view.Changes = append(view.Changes, kp.Changes...)
	return &view, nil
}

// upReport is 'dhub up -o json' for the azure target.
type upReport struct {
	Plan   *plan.Plan     `json:"plan"`
	Result *azure.Result  `json:"result"`
	Hub    *kube.UpResult `json:"hub,omitempty"`
}

func azureUp(ctx context.Context, h *config.Hub, o *upOptions, s Streams) error {
	c, err := newAzureClient(h, s)
	if err != nil {
		return err
	}
	p, err := c.Plan(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	full, err := withHubChanges(ctx, c, h, p.View, s)
	if err != nil {
		return err
	}
	view := s.Out
	if o.output == "json" {
		view = s.Err
	}
	if err := full.WriteText(view); err != nil {
		return err
	}
	// Only changes to Azure resources are confirmed; Helm upgrades are not.
	if p.View.HasChanges() && !o.yes {
		if err := confirm(s, "Apply these changes to Azure?", "dhub up --yes"+fileArg(o.file)); err != nil {
			return err
		}
	}
	res, err := c.Apply(ctx, p)
	if err != nil {
		return azureErr(err)
	}
	if len(res.NotApplied) > 0 {
		var names []string
		for _, ch := range res.NotApplied {
			names = append(names, ch.Kind+" "+ch.Name)
		}
		return fmt.Errorf("not applied: %s must be replaced, which AKS cannot do in place and dhub never does by itself (the plan above says how)", strings.Join(names, ", "))
	}
	kubeconfig, err := c.Kubeconfig(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	kc, err := kubeClient(h, kubeconfig, s)
	if err != nil {
		return err
	}
	hub, err := kc.Up(ctx, h)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return writeJSON(s.Out, upReport{Plan: p.View, Result: res, Hub: hub})
	} else {
		a := h.Azure
		if res.Writes() == 0 && len(res.Operations) == 0 {
			fmt.Fprintf(s.Out, "Azure already matches dhub.yaml: no change made.\n")
		} else {
			fmt.Fprintf(s.Out, "Azure matches dhub.yaml: resource group %s, managed cluster %s with %s (%d write(s), %d long-running operation(s), %.0fs).\n",
				a.ResourceGroup, a.ClusterName, plural(len(a.NodePools), "node pool"), res.Writes(), res.LongRunning(), res.Seconds)
		}
	}
	printHubUp(s, h, hub, o.file)
	return nil
}

func azureDown(ctx context.Context, h *config.Hub, o *downOptions, s Streams) error {
	c, err := newAzureClient(h, s)
	if err != nil {
		return err
	}
	d, err := c.PlanDown(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	view := s.Out
	if o.output == "json" {
		view = s.Err
	}
	switch {
	case d.Group != "":
		fmt.Fprintf(view, "Will delete resource group %s (created by dhub for hub %s) and everything in it:\n", d.Group, h.Name)
		for _, r := range d.Contents {
			fmt.Fprintf(view, "  %s\n", r)
		}
		fmt.Fprintln(view, "  (users' home volumes and the cluster's node resource group go with it)")
	case d.Cluster != "":
		fmt.Fprintf(view, "Will delete managed cluster %s in resource group %s (users' home volumes go with it).\n", d.Cluster, h.Azure.ResourceGroup)
	default:
		fmt.Fprintln(view, "Nothing to delete.")
	}
	for _, k := range d.Kept {
		fmt.Fprintf(view, "  kept: %s\n", k)
	}
	if !d.Empty() && !o.yes {
		if err := confirm(s, "Delete?", "dhub down --yes"+fileArg(o.file)); err != nil {
			return err
		}
	}
	res, err := c.Down(ctx, d)
	if err != nil {
		return azureErr(err)
	}
	if o.output == "json" {
		if err := writeJSON(s.Out, res); err != nil {
			return err
		}
	} else {
		for _, r := range res.Deleted {
			fmt.Fprintf(s.Out, "deleted %s\n", r)
		}
	}
	if len(res.Remaining) > 0 {
		var ids []string
		for _, l := range res.Remaining {
			ids = append(ids, "\n  "+l.ID)
		}
		return fmt.Errorf("%d resource(s) tagged %s=%s remain:%s", len(res.Remaining), azure.TagHub, h.Name, strings.Join(ids, ""))
	}
	if o.output == "text" {
		fmt.Fprintf(s.Out, "nothing tagged %s=%s is left in the subscription\n", azure.TagHub, h.Name)
	}
	return nil
}

func azureStatus(ctx context.Context, h *config.Hub, o *statusOptions, s Streams) error {
	c, err := newAzureClient(h, s)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	if o.output == "json" {
		if err := writeJSON(s.Out, st); err != nil {
			return err
		}
	} else if !st.Exists {
		fmt.Fprintf(s.Out, "managed cluster %s does not exist in resource group %s: 'dhub up%s' creates it\n", st.Cluster, st.ResourceGroup, fileArg(o.file))
	} else {
		fmt.Fprintf(s.Out, "managed cluster %s (resource group %s, %s): %s, %s, Kubernetes %s\n",
			st.Cluster, st.ResourceGroup, st.Location, st.State, dash(st.Power), dash(st.KubernetesVersion))
		if st.FQDN != "" {
			fmt.Fprintf(s.Out, "API server: %s\n", st.FQDN)
		}
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tMODE\tVM SIZE\tNODES\tMIN\tMAX\tPRIORITY\tSTATE")
		for _, p := range st.Pools {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.Mode, p.VMSize, p.Nodes, bound(p.Min), bound(p.Max), p.Priority, dash(p.State))
		}
		tw.Flush()
	}
	if !st.Ready() {
		return &exitError{code: ExitError}
	}
	if o.output == "text" {
		fmt.Fprintln(s.Out)
	}
	kubeconfig, err := c.Kubeconfig(ctx, h)
	if err != nil {
		return azureErr(err)
	}
	return kubeStatus(ctx, h, kubeconfig, o, s)
}

func bound(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// confirm asks on s.Err and reads the answer from s.In; only y or yes goes
// on. When s.In is not a terminal it refuses, naming the command with
// --yes.
func confirm(s Streams, question, withYes string) error {
	if !isTerminal(s.In) {
		return fmt.Errorf("not asking: standard input is not a terminal; run '%s' to go ahead without a question", withYes)
	}
	fmt.Fprintf(s.Err, "%s Only 'yes' goes on: ", question)
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
		return errors.New("cancelled: nothing was changed")
	}
	return nil
}
