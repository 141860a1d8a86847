// Package deploy drives a hub where it runs. Target is what every verb
// needs from a target (a plan that can be shown and then applied, status,
// the smoke check, a plan for removing the hub, the cluster's kubeconfig);
// New picks the implementation from the hub's target. The azure target is
// composed from the kubernetes target on the kubeconfig of the cluster it
// creates, so both install the hub the same way.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"dhub/internal/azure"
	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/local"
	"dhub/internal/plan"
	"dhub/internal/smoke"
)

// Target drives one hub on its target.
type Target interface {
	// Plan reads what exists and returns what its Apply will do: the
	// same value is shown and then applied, never computed twice.
	Plan(ctx context.Context) (*Plan[*UpResult], error)
	// Status reads each part of the hub; it changes nothing.
	Status(ctx context.Context) (*Status, error)
	// Smoke runs the end-to-end Dask check through the hub's gateway.
	Smoke(ctx context.Context, o smoke.Options) (*smoke.Result, error)
	// PlanDown reads what exists and returns what removing the hub
	// deletes and keeps; its Apply removes it.
	PlanDown(ctx context.Context, o DownOptions) (*Plan[*DownResult], error)
	// Kubeconfig returns the credentials of the cluster dhub made for the
	// hub (target azure); the other targets have none of their own.
	Kubeconfig(ctx context.Context) ([]byte, error)
}

// Options carry what the targets need from outside dhub.yaml. The zero
// value reaches the real world: DefaultAzureCredential, the kubeconfig
// dhub.yaml names, real DNS and HTTP.
type Options struct {
	// Progress receives progress lines (stderr in the CLI); nil discards.
	Progress io.Writer
	// Debug adds Azure's full error to a short one, and Helm's log to
	// progress.
	Debug bool
	// Azure returns the options of the Azure client for a hub; nil means
	// DefaultAzureCredential and the subscription from dhub.yaml,
	// AZURE_SUBSCRIPTION_ID or the az CLI default. Tests reach an
	// in-memory Azure (package azurefake) through it.
	Azure func(h *config.Hub) (azure.Options, error)
	// Kube adjusts the Kubernetes client's options; tests shorten waits
	// and stand in for what a test cluster lacks (DNS, pods that answer).
	Kube func(o *kube.Options)
	// Local tunes the local target's waits.
	Local local.Options
}

// DownOptions say how far PlanDown goes.
type DownOptions struct {
	// DeleteData also deletes users' home volumes (Kubernetes).
	DeleteData bool
	// KeepData keeps the scratch storage account and its resource group
	// (Azure), which otherwise go with the hub.
	KeepData bool
}

// Plan is what Apply will do, shown before it is done.
type Plan[R any] struct {
	// View is the plan as a person or a script sees it.
	View *plan.Plan
	// Confirm is the question to ask before Apply, when it changes what a
	// person should agree to first (Azure resources, deleting a hub);
	// empty when it need not ask.
	Confirm string
	apply   func(ctx context.Context) (R, error)
}

// Apply does what the plan says.
func (p *Plan[R]) Apply(ctx context.Context) (R, error) { return p.apply(ctx) }

// New returns the target of h. It makes no request; an unknown or missing
// target is an error.
func New(h *config.Hub, o Options) (Target, error) {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	switch h.Target {
	case config.TargetLocal:
		return newLocal(h, o), nil
	case config.TargetKubernetes:
		return &kubeTarget{h: h, o: o, src: kube.Source{Path: config.ExpandHome(h.Kubernetes.Kubeconfig), Context: h.Kubernetes.Context}}, nil
	case config.TargetAzure:
		return newAzure(h, o)
	case "":
		return nil, errors.New("no target: set target in dhub.yaml (local, kubernetes or azure) or pass --target")
	}
	return nil, fmt.Errorf("target %q is not one of local, kubernetes, azure", h.Target)
}

// ErrNoKubeconfig is Kubeconfig's error on a target that made no cluster.
var ErrNoKubeconfig = errors.New("no kubeconfig of dhub's own")
