package deploy

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"dhub/internal/azure"
	"dhub/internal/kube"
	"dhub/internal/local"
	"dhub/internal/plan"
)

// UpResult is what applying a plan did and where the hub answers.
type UpResult struct {
	Hub    string `json:"hub"`
	Target string `json:"target"`
	URL    string `json:"url"`
	// Changed is false when the plan had no change to make.
	Changed bool    `json:"changed"`
	Seconds float64 `json:"seconds"`
	// Plan is the plan that was applied.
	Plan *plan.Plan `json:"plan"`
	// The target's own account of what it did.
	Local      *local.UpResult `json:"local,omitempty"`
	Kubernetes *kube.UpResult  `json:"kubernetes,omitempty"`
	Azure      *azure.Result   `json:"azure,omitempty"`
	// before are lines shown before the hub's URL (the cloud's part);
	// details are label and value pairs shown after it.
	before  []string
	details [][2]string
	// newPassword is the admin's password when this run generated it, and
	// passwordKept says where it is kept (see NewPassword).
	newPassword, passwordKept string
}

// NewPassword returns the admin's password when this run generated it
// (else ""), and where it is kept for later. A person at a terminal may be
// shown it once; it is never in the result's text or JSON.
func (r *UpResult) NewPassword() (password, kept string) {
	return r.newPassword, r.passwordKept
}

// WriteText writes the human view: where the hub answers and how to use it.
func (r *UpResult) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, l := range r.before {
		b.WriteString(l + "\n")
	}
	if r.Changed {
		fmt.Fprintf(&b, "DaskHub is up at %s (%s)\n", r.URL, (time.Duration(r.Seconds * float64(time.Second))).Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(&b, "DaskHub already up at %s (no change)\n", r.URL)
	}
	writeDetails(&b, r.details)
	_, err := io.WriteString(w, b.String())
	return err
}

// DownResult is what removing the hub did and what it kept.
type DownResult struct {
	Hub    string `json:"hub"`
	Target string `json:"target"`
	// The target's own account of what it did.
	Local      *local.DownResult `json:"local,omitempty"`
	Kubernetes *kube.DownResult  `json:"kubernetes,omitempty"`
	Azure      *azure.DownResult `json:"azure,omitempty"`
	lines      []string
}

// WriteText writes the human view: what was stopped or deleted, what kept.
func (r *DownResult) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, strings.Join(r.lines, "\n")+"\n")
	return err
}

// writeDetails writes label: value lines, the values aligned.
func writeDetails(w io.Writer, details [][2]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, d := range details {
		fmt.Fprintf(tw, "  %s:\t%s\n", d[0], d[1])
	}
	tw.Flush()
}

// orNone joins xs, or says "nothing".
func orNone(xs []string) string {
	if len(xs) == 0 {
		return "nothing"
	}
	return strings.Join(xs, ", ")
}

// dash stands in for an empty value in a table.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AddDetail adds a label: value line to the text view.
func (r *UpResult) AddDetail(label, value string) {
	r.details = append(r.details, [2]string{label, value})
}
