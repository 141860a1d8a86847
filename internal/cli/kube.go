package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/plan"
)

// The kubernetes target's verbs. The azure target runs the same ones on the
// cluster it creates, with the kubeconfig it fetched.

// kubeOptionsHook lets tests shorten waits and stand in for the outside
// world (DNS, HTTP) that a test cluster does not have.
var kubeOptionsHook func(*kube.Options)

// kubeClient connects to the hub's cluster: the given kubeconfig, else the
// one dhub.yaml names (kubernetes.kubeconfig and .context).
func kubeClient(h *config.Hub, kubeconfig []byte, s Streams) (*kube.Client, error) {
	src := kube.Source{Kubeconfig: kubeconfig, Path: config.ExpandHome(h.Kubernetes.Kubeconfig), Context: h.Kubernetes.Context}
	opts := kube.Options{Progress: s.Err, Debug: azureDebug}
	if kubeOptionsHook != nil {
		kubeOptionsHook(&opts)
	}
	return kube.New(src, h.Namespace, opts)
}

func kubernetesPlan(ctx context.Context, h *config.Hub, s Streams) (*plan.Plan, error) {
	c, err := kubeClient(h, nil, s)
	if err != nil {
		return nil, err
	}
	return c.Plan(ctx, h)
}

func kubernetesUp(ctx context.Context, h *config.Hub, o *upOptions, s Streams) error {
	c, err := kubeClient(h, nil, s)
	if err != nil {
		return err
	}
	res, err := c.Up(ctx, h)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return writeJSON(s.Out, res)
	}
	printHubUp(s, h, res, o.file)
	return nil
}

// printHubUp says where the hub answers after an up on a cluster.
func printHubUp(s Streams, h *config.Hub, res *kube.UpResult, file string) {
	if res.Changed {
		fmt.Fprintf(s.Out, "DaskHub is up at %s (%s)\n", res.URL, res.Elapsed.Round(100_000_000))
	} else {
		fmt.Fprintf(s.Out, "DaskHub already up at %s (no change)\n", res.URL)
	}
	fmt.Fprintf(s.Out, "  namespace:   %s\n  check it:    dhub smoke%s\n", h.Namespace, fileArg(file))
}

// kubernetesDown removes the hub from its cluster and says what it kept.
func kubernetesDown(ctx context.Context, h *config.Hub, o *downOptions, s Streams) error {
	c, err := kubeClient(h, nil, s)
	if err != nil {
		return err
	}
	res, err := c.Down(ctx, o.deleteData)
	if res != nil && o.output == "json" {
		if jerr := writeJSON(s.Out, res); jerr != nil {
			return jerr
		}
	} else if res != nil {
		fmt.Fprintf(s.Out, "uninstalled: %s\n", orNone(res.Uninstalled))
		fmt.Fprintf(s.Out, "deleted:     %s\n", orNone(res.Deleted))
		if len(res.Kept) > 0 {
			fmt.Fprintf(s.Out, "kept:        %s (--delete-data removes users' volumes)\n", strings.Join(res.Kept, ", "))
		}
	}
	return err
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "nothing"
	}
	return strings.Join(xs, ", ")
}

func kubernetesStatus(ctx context.Context, h *config.Hub, o *statusOptions, s Streams) error {
	return kubeStatus(ctx, h, nil, o, s)
}

// kubeStatus prints the hub's releases, components, URL and Dask clusters.
func kubeStatus(ctx context.Context, h *config.Hub, kubeconfig []byte, o *statusOptions, s Streams) error {
	c, err := kubeClient(h, kubeconfig, s)
	if err != nil {
		return err
	}
	st, err := c.GetStatus(ctx, h)
	if err != nil {
		return err
	}
	return reportStatus(s, o.output, st, st.Up, func() {
		tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RELEASE\tCHART\tVERSION\tREVISION\tSTATUS")
		for _, r := range st.Releases {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Name, r.Chart, dash(r.Version), r.Revision, r.Status)
		}
		fmt.Fprintln(tw, "\nCOMPONENT\tKIND\tREADY\tSTATE\tWHY")
		for _, cs := range st.Components {
			state := "ready"
			if !cs.Ready {
				state = "not ready"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cs.Name, cs.Kind, cs.Replicas, state, cs.Reason)
		}
		tw.Flush()
		fmt.Fprintf(s.Out, "\nhub URL:       %s %s\ngateway API:   %s\ndask clusters: %d %s\n",
			dash(st.URL), st.URLState, st.GatewayAPI, len(st.DaskClusters), strings.Join(st.DaskClusters, " "))
	})
}
