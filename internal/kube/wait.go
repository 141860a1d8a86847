package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v4/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"dhub/internal/render"
)

// workload is one Deployment, StatefulSet or DaemonSet of a release.
type workload struct {
	Release string `json:"release"`
	Kind    string `json:"kind"`
	Name    string `json:"name"`
}

// ComponentStatus is one workload's readiness and, when not ready, why.
type ComponentStatus struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Release string `json:"release"`
	Ready   bool   `json:"ready"`
	// Replicas is "ready/desired".
	Replicas string `json:"replicas"`
	Reason   string `json:"reason,omitempty"`
	// stuck is set when the reason is one nothing lifts by itself.
	stuck bool
}

// workloads lists the workloads in the deployed manifests of the releases.
func workloads(cfg *action.Configuration, k *render.Kubernetes) ([]workload, error) {
	var out []workload
	for _, r := range k.Releases {
		rel, err := deployed(cfg, r.Name)
		if err != nil || rel == nil {
			return nil, err
		}
		dec := yaml.NewDecoder(strings.NewReader(rel.Manifest))
		for {
			var obj struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("release %s: read manifest: %w", r.Name, err)
			}
			switch obj.Kind {
			case "Deployment", "StatefulSet", "DaemonSet":
				out = append(out, workload{Release: r.Name, Kind: obj.Kind, Name: obj.Metadata.Name})
			}
		}
	}
	return out, nil
}

// waitReady polls every workload until all are ready, printing each change
// of state; at the timeout it fails naming each pod that is not ready, and why.
func (c *Client) waitReady(ctx context.Context, cfg *action.Configuration, k *render.Kubernetes) error {
	ws, err := workloads(cfg, k)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(c.opts.ReadyTimeout)
	last := map[string]string{}
	for {
		statuses := c.components(ctx, ws)
		notReady := 0
		for _, s := range statuses {
			line := s.Replicas + " ready"
			if s.Reason != "" {
				line += ": " + s.Reason
			}
			if last[s.Name] != line {
				fmt.Fprintf(c.opts.Progress, "  %-28s %s (%s)\n", s.Name, line, time.Since(start).Round(time.Second))
				last[s.Name] = line
			}
			if !s.Ready {
				notReady++
			}
		}
		if notReady == 0 {
			fmt.Fprintf(c.opts.Progress, "all %d components ready after %s\n", len(statuses), time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if err := stuckError(statuses, time.Since(start)); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			fmt.Fprintf(&b, "%d of %d components not ready after %s:", notReady, len(statuses), c.opts.ReadyTimeout)
			for _, s := range statuses {
				if !s.Ready {
					fmt.Fprintf(&b, "\n  %s %s (%s ready): %s", strings.ToLower(s.Kind), s.Name, s.Replicas, s.Reason)
				}
			}
			return errors.New(b.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// components reads the readiness of each workload.
func (c *Client) components(ctx context.Context, ws []workload) []ComponentStatus {
	var out []ComponentStatus
	for _, w := range ws {
		s := ComponentStatus{Name: w.Name, Kind: w.Kind, Release: w.Release}
		var desired, ready int32
		var selector *metav1.LabelSelector
		var err error
		apps := c.clientset.AppsV1()
		switch w.Kind {
		case "Deployment":
			var d *appsv1.Deployment
			if d, err = apps.Deployments(c.namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
				desired, ready, selector = deref(d.Spec.Replicas), d.Status.ReadyReplicas, d.Spec.Selector
				if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas < desired {
					ready = min(ready, d.Status.UpdatedReplicas)
				}
			}
		case "StatefulSet":
			var st *appsv1.StatefulSet
			if st, err = apps.StatefulSets(c.namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
				ready, desired = statefulSetReady(st)
				selector = st.Spec.Selector
			}
		case "DaemonSet":
			var ds *appsv1.DaemonSet
			if ds, err = apps.DaemonSets(c.namespace).Get(ctx, w.Name, metav1.GetOptions{}); err == nil {
				ready, desired = daemonSetReady(ds)
				selector = ds.Spec.Selector
			}
		}
		s.Replicas = fmt.Sprintf("%d/%d", ready, desired)
		switch {
		case err != nil:
			s.Reason = "cannot read it: " + err.Error()
		case ready >= desired:
			s.Ready = true
		default:
			s.Reason, s.stuck = c.diagnose(ctx, selector)
		}
		out = append(out, s)
	}
	return out
}

// statefulSetReady counts a StatefulSet's ready pods of its latest
// revision: pods of the previous one don't count while a rollout has not
// been observed or has not reached them.
func statefulSetReady(st *appsv1.StatefulSet) (ready, desired int32) {
	ready, desired = st.Status.ReadyReplicas, deref(st.Spec.Replicas)
	switch {
	case st.Status.ObservedGeneration < st.Generation:
		return 0, max(desired, 1)
	case st.Status.UpdateRevision != "" && st.Status.UpdateRevision != st.Status.CurrentRevision:
		return min(ready, st.Status.UpdatedReplicas), desired
	}
	return ready, desired
}

// daemonSetReady counts a DaemonSet's ready pods of its latest template.
// Right after an upgrade the controller may not have seen the new template
// yet: the old pods' readiness is not the rollout's.
func daemonSetReady(ds *appsv1.DaemonSet) (ready, desired int32) {
	ready, desired = ds.Status.NumberReady, ds.Status.DesiredNumberScheduled
	if ds.Status.ObservedGeneration < ds.Generation {
		return 0, max(desired, 1)
	}
	return min(ready, ds.Status.UpdatedNumberScheduled), desired
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// diagnose names the first pod of a selector that is not ready, and why:
// the scheduler's message, an image pull error, a crash loop with its last
// log lines, or its phase; stuck when the pod can never become ready by
// itself (neverReady).
func (c *Client) diagnose(ctx context.Context, sel *metav1.LabelSelector) (reason string, stuck bool) {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || sel == nil {
		selector = labels.Everything()
	}
	pods, err := c.clientset.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return "cannot list its pods: " + err.Error(), false
	}
	if len(pods.Items) == 0 {
		return "no pod created yet", false
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for _, p := range pods.Items {
		if why := c.podProblem(ctx, &p); why != "" {
			if never := c.neverReady(ctx, &p); never != "" {
				return "pod " + p.Name + " " + why + "; " + never, true
			}
			return "pod " + p.Name + " " + why, false
		}
	}
	return "pods starting", false
}

func (c *Client) podProblem(ctx context.Context, p *corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return fmt.Sprintf("cannot be scheduled: %s", schedulerMessage(cond.Message))
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
				return fmt.Sprintf("container %s cannot start (%s): %s", cs.Name, w.Reason, w.Message)
			case "CrashLoopBackOff":
				return fmt.Sprintf("container %s crashes repeatedly (restarts %d); its last log lines:\n%s", cs.Name, cs.RestartCount, c.lastLogs(ctx, p.Name, cs.Name))
			}
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("container %s exited with code %d (%s)", cs.Name, t.ExitCode, t.Reason)
		}
	}
	if p.Status.Phase != corev1.PodRunning || !podReady(p) {
		return fmt.Sprintf("is %s, not ready yet", strings.ToLower(string(p.Status.Phase)))
	}
	return ""
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// lastLogs returns the last lines the previous run of a container logged.
func (c *Client) lastLogs(ctx context.Context, pod, container string) string {
	tail := int64(10)
	raw, err := c.clientset.CoreV1().Pods(c.namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: true, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return "      (no logs: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(bytes.TrimSpace(raw)), "\n"), "\n")
	return "      " + strings.Join(lines, "\n      ")
}
