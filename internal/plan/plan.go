// Package plan is the typed difference between what dhub.yaml asks for and
// what exists: one Change per resource (Azure resources, Helm releases), each
// with an action and its reason. A Plan is a value: computed with reads only,
// shown as text or JSON, then executed by the part that made it.
package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Action is what a change does to its resource.
type Action string

// The actions, in the order a plan shows them.
const (
	NoOp    Action = "no-op"
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
)

// FieldChange is one field that differs; values are shown as text and must
// never hold a secret (write "(redacted)" for those).
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Change is the action on one resource.
type Change struct {
	// Kind is the resource's type, e.g. "resource group", "node pool", "helm release".
	Kind string `json:"kind"`
	// Name identifies the resource within its kind.
	Name   string `json:"name"`
	Action Action `json:"action"`
	// Reason says why, in a few words ("does not exist", "vmSize differs: AKS cannot change it in place").
	Reason string        `json:"reason"`
	Fields []FieldChange `json:"fields,omitempty"`
	// Detail is optional extra text, e.g. a values diff.
	Detail string `json:"detail,omitempty"`
}

// Check is one preflight check behind a plan: what was read to make sure
// the changes can be made (a provider registered, a VM size offered, quota
// left, a DNS label free) and what was found. A check that fails stops the
// plan with an error, so the checks a plan shows all passed.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
}

// Plan is every change for one hub, in execution order.
type Plan struct {
	Hub     string   `json:"hub"`
	Target  string   `json:"target"`
	Changes []Change `json:"changes"`
	// Checks are the preflight checks the plan made (GETs only).
	Checks []Check `json:"checks,omitempty"`
	// Warnings are things the user should know but that don't block.
	Warnings []string `json:"warnings,omitempty"`
	// Notes are facts about where the hub runs, worth knowing.
	Notes []string `json:"notes,omitempty"`
	// Cost is what the hub costs a month once the plan is applied, when
	// the target can tell (azure).
	Cost *Cost `json:"cost,omitempty"`
	// Removal marks the plan of 'dhub down': what removing the hub
	// deletes and keeps.
	Removal bool `json:"removal,omitempty"`
}

// Add appends a change.
func (p *Plan) Add(c Change) { p.Changes = append(p.Changes, c) }

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// Counts returns how many changes there are of each action.
func (p *Plan) Counts() map[Action]int {
	n := map[Action]int{}
	for _, c := range p.Changes {
		n[c.Action]++
	}
	return n
}

var symbols = map[Action]string{NoOp: " ", Create: "+", Update: "~", Replace: "±", Delete: "-"}

// WriteText writes the human view: one line per resource, its fields below.
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if p.Removal {
		fmt.Fprintf(&b, "Removal of hub %s (target %s):\n", p.Hub, p.Target)
	} else {
		fmt.Fprintf(&b, "Plan for hub %s (target %s):\n", p.Hub, p.Target)
	}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "  %s %-8s %s %s", symbols[c.Action], c.Action, c.Kind, c.Name)
		if c.Reason != "" {
			fmt.Fprintf(&b, ": %s", c.Reason)
		}
		b.WriteString("\n")
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "        %s: %s -> %s\n", f.Field, f.From, f.To)
		}
		if c.Detail != "" {
			for _, line := range strings.Split(strings.TrimRight(c.Detail, "\n"), "\n") {
				fmt.Fprintf(&b, "        %s\n", line)
			}
		}
	}
	for _, c := range p.Checks {
		fmt.Fprintf(&b, "  checked %s: %s\n", c.Name, c.Result)
	}
	for _, wn := range p.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", wn)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if p.Cost != nil {
		p.Cost.writeText(&b)
	}
	n := p.Counts()
	switch {
	case !p.HasChanges() && p.Removal:
		b.WriteString("Nothing to remove.\n")
	case !p.HasChanges():
		b.WriteString("No changes: everything matches dhub.yaml.\n")
	default:
		var parts []string
		for _, a := range []Action{Create, Update, Replace, Delete} {
			if n[a] > 0 {
				parts = append(parts, fmt.Sprintf("%d to %s", n[a], a))
			}
		}
		fmt.Fprintf(&b, "%s.\n", strings.Join(parts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	q := *p
	if q.Changes == nil {
		q.Changes = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(q)
}

// SortFields orders field changes by name, for stable output.
func SortFields(fs []FieldChange) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Field < fs[j].Field })
}

// Count says how many of a thing there are: "1 node pool", "3 node pools".
func Count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
