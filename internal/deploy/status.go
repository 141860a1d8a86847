package deploy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"dhub/internal/azure"
	"dhub/internal/kube"
	"dhub/internal/local"
)

// Status is a hub on its target, one document for every target. Up has one
// meaning everywhere: every component is ready and the gateway API
// answers (on Azure, also the cluster runs).
type Status struct {
	Hub    string `json:"hub"`
	Target string `json:"target"`
	Up     bool   `json:"up"`
	URL    string `json:"url,omitempty"`
	// The parts the target has: the local processes; the AKS cluster; the
	// Helm releases and their components (kubernetes and azure).
	Local      *local.Status `json:"local,omitempty"`
	Azure      *azure.Status `json:"azure,omitempty"`
	Kubernetes *kube.Status  `json:"kubernetes,omitempty"`
	// Application is the Azure AD application dhub registered for the
	// hub (azure, when dhub.yaml names no clientId).
	Application *azure.AppStatus `json:"application,omitempty"`
}

// WriteText writes the human view: a table per part of the hub.
func (s *Status) WriteText(w io.Writer) error {
	var b strings.Builder
	if s.Azure != nil {
		writeAzureStatus(&b, s.Azure)
	}
	if a := s.Application; a != nil && a.Exists {
		fmt.Fprintf(&b, "%s %s: client id %s, client secret valid until %s\n", azure.KindApp, a.Name, a.ClientID, a.SecretExpires.Format("2006-01-02"))
	} else if a != nil {
		fmt.Fprintf(&b, "%s %s: not registered ('dhub up' registers it)\n", azure.KindApp, a.Name)
	}
	if s.Azure != nil {
	}
	if s.Kubernetes != nil {
		if s.Azure != nil {
			b.WriteString("\n")
		}
		writeKubeStatus(&b, s.Kubernetes)
	}
	if s.Local != nil {
		writeLocalStatus(&b, s.Local)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLocalStatus(w io.Writer, st *local.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tPID\tVERSION\tDETAIL")
	for _, c := range st.Components {
		state, pid := "down", "-"
		if c.Running {
			state = "up"
		}
		if c.Pid > 0 {
			pid = fmt.Sprint(c.Pid)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, state, pid, dash(c.Version), c.Detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nhub URL:       %s\nstate:         %s\ndask clusters: %d %s\n",
		st.URL, st.StateDir, len(st.Clusters), strings.Join(st.Clusters, " "))
	for _, o := range st.OtherHubs {
		fmt.Fprintf(w, "note: another local hub runs: %s\n", o)
	}
}

func writeKubeStatus(w io.Writer, st *kube.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
	fmt.Fprintf(w, "\nhub URL:       %s %s\ngateway API:   %s\ndask clusters: %d %s\n",
		dash(st.URL), st.URLState, st.GatewayAPI, len(st.DaskClusters), strings.Join(st.DaskClusters, " "))
	for _, p := range st.DaskPods {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, p := range st.Pools {
		fmt.Fprintf(w, "%-15s", fmt.Sprintf("%s nodes:", p.Role))
		switch {
		case len(p.Ready)+len(p.NotReady) == 0:
			fmt.Fprintf(w, "none labelled %s: its pods wait for one\n", p.Selector)
		case len(p.NotReady) == 0:
			fmt.Fprintf(w, "%s\n", strings.Join(p.Ready, " "))
		default:
			fmt.Fprintf(w, "%s; NOT READY: %s\n", dash(strings.Join(p.Ready, " ")), strings.Join(p.NotReady, " "))
		}
	}
}

func writeAzureStatus(w io.Writer, st *azure.Status) {
	if b := st.Budget; b != nil {
		writeBudget(w, b)
	}
	if s := st.Scratch; s != nil {
		writeScratch(w, s)
	}
	if !st.Exists {
		fmt.Fprintf(w, "managed cluster %s does not exist in resource group %s: 'dhub up' creates it\n", st.Cluster, st.ResourceGroup)
		return
	}
	fmt.Fprintf(w, "managed cluster %s (resource group %s, %s): %s, %s, Kubernetes %s\n",
		st.Cluster, st.ResourceGroup, st.Location, st.State, dash(st.Power), dash(st.KubernetesVersion))
	if st.Power == "Stopped" {
		fmt.Fprintln(w, "the cluster is stopped (its nodes and control plane are off): 'dhub up' starts it")
	}
	if st.FQDN != "" {
		fmt.Fprintf(w, "API server: %s\n", st.FQDN)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tMODE\tVM SIZE\tNODES\tMIN\tMAX\tPRIORITY\tSTATE")
	for _, p := range st.Pools {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.Mode, p.VMSize, p.Nodes, bound(p.Min), bound(p.Max), p.Priority, dash(p.State))
	}
	tw.Flush()
}

// writeScratch says where users' scratch is and what reaches it.
func writeScratch(w io.Writer, s *azure.ScratchStatus) {
	if s.Problem != "" {
		fmt.Fprintf(w, "scratch %s/<user> (storage account %s): %s\n", s.URL, s.Account, s.Problem)
		return
	}
	fmt.Fprintf(w, "scratch %s/<user> (storage account %s): blobs kept %d days after their last change; reached as managed identity %s\n",
		s.URL, s.Account, s.RetentionDays, s.ClientID)
}

// writeBudget says what the month has cost against the budget.
func writeBudget(w io.Writer, b *azure.BudgetStatus) {
	if b.Problem != "" {
		fmt.Fprintf(w, "budget %s: %s\n", b.Name, b.Problem)
		return
	}
	spent := "not reported by Azure yet"
	if b.Spent != nil {
		spent = fmt.Sprintf("%.2f %s spent (%.0f%%)", *b.Spent, b.Unit, 100**b.Spent/b.Amount)
	}
	forecast := ""
	if b.Forecast != nil {
		forecast = fmt.Sprintf(", %.2f %s forecast for the month", *b.Forecast, b.Unit)
	}
	fmt.Fprintf(w, "budget %s: %g %s a month; this month %s%s; mails at %s\n", b.Name, b.Amount, b.Unit, spent, forecast, b.Notifications)
}

func bound(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
