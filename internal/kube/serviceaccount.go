package kube

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/plan"
)

// serviceAccountPlan is the service account users' pods run as to reach
// the Azure scratch container, as Apply will write it.
type serviceAccountPlan struct {
	action plan.Action
	// existing is the one read by Plan, updated in place.
	existing *corev1.ServiceAccount
}

// planServiceAccount compares the rendered service account with got (nil
// when the cluster has none): its annotations name the workload identity.
func (p *Plan) planServiceAccount(got *corev1.ServiceAccount) {
	sa := p.rendered.ServiceAccount
	if sa == nil {
		return
	}
	ch := plan.Change{Kind: "service account", Name: sa.Name}
	sp := &serviceAccountPlan{existing: got}
	switch {
	case got == nil:
		ch.Action, ch.Reason = plan.Create, "users' servers and their Dask pods run as it to reach the scratch container"
	default:
		for k, v := range sa.Annotations {
			if got.Annotations[k] != v {
				ch.Fields = append(ch.Fields, plan.FieldChange{Field: "annotations." + k, From: got.Annotations[k], To: v})
			}
		}
		ch.Action, ch.Reason = plan.NoOp, "names the workload identity"
		if len(ch.Fields) > 0 {
			ch.Action, ch.Reason = plan.Update, "names another workload identity"
		}
	}
	sp.action = ch.Action
	p.serviceAccount = sp
	plan.SortFields(ch.Fields)
	p.View.Add(ch)
}

// readServiceAccount reads the rendered service account, nil when absent.
func (c *Client) readServiceAccount(ctx context.Context, p *Plan) (*corev1.ServiceAccount, error) {
	sa := p.rendered.ServiceAccount
	if sa == nil || p.createNamespace {
		return nil, nil
	}
	got, err := c.clientset.CoreV1().ServiceAccounts(c.namespace).Get(ctx, sa.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, c.apiError("read service account "+sa.Name, err)
	}
	return got, nil
}

// writeServiceAccount creates or updates the service account as planned.
func (c *Client) writeServiceAccount(ctx context.Context, p *Plan) error {
	sp, sa := p.serviceAccount, p.rendered.ServiceAccount
	if sp == nil || sp.action == plan.NoOp {
		return nil
	}
	api := c.clientset.CoreV1().ServiceAccounts(c.namespace)
	var err error
	if sp.existing == nil {
		_, err = api.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: sa.Name, Namespace: c.namespace, Annotations: sa.Annotations,
			Labels: map[string]string{labelManagedBy: managedBy, labelHub: p.hub.Name},
		}}, metav1.CreateOptions{})
	} else {
		s := sp.existing.DeepCopy()
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		maps.Copy(s.Annotations, sa.Annotations)
		_, err = api.Update(ctx, s, metav1.UpdateOptions{})
	}
	if err != nil {
		return c.apiError("write service account "+sa.Name, err)
	}
	fmt.Fprintf(c.opts.Progress, "service account %s: %s\n", sa.Name, sp.action)
	return nil
}
