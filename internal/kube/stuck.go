package kube

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// A pod that waits for what cannot happen by itself would keep the
// readiness wait going until its bound (ten minutes). neverReady tells
// these apart as soon as it is certain, so up fails at once with the
// object and the reason from its events:
//   - a claim that cannot bind: no StorageClass and no default one, a
//     named class that does not exist, or a class that provisions nothing
//     with no free volume that fits;
//   - an image the registry does not have;
//   - a node selector, affinity or taint that no node matches, once the
//     cluster autoscaler had time to say it would add a node.

// autoscalerGrace is how long a pod no node matches waits for a cluster
// autoscaler (AKS's, say) to report a scale-up before it counts as stuck.
const autoscalerGrace = 15 * time.Second

// neverReady says why p can never become ready without someone acting,
// or "" when it still may.
func (c *Client) neverReady(ctx context.Context, p *corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type != corev1.PodScheduled || cond.Status != corev1.ConditionFalse {
			continue
		}
		msg := cond.Message
		if strings.Contains(msg, "PersistentVolumeClaims") || strings.Contains(msg, "persistent volumes to bind") {
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					if why := c.claimNeverBinds(ctx, v.PersistentVolumeClaim.ClaimName); why != "" {
						return why
					}
				}
			}
		}
		if noNodeMatches(msg) && time.Since(cond.LastTransitionTime.Time) > autoscalerGrace && !c.scaleUpTriggered(ctx, p) {
			return "no node matches its node selector, affinity or tolerations, and no autoscaler adds one: label or untaint a node, or change kubernetes.nodeRoles"
		}
	}
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		w := cs.State.Waiting
		if w == nil || (w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff") {
			continue
		}
		why := w.Message
		if !imageMissing(why) {
			why = c.lastEvent(ctx, "Pod", p.Name, "Failed")
		}
		if imageMissing(why) {
			return fmt.Sprintf("image %s does not exist (%s): fix the image name or tag (hub.image, dask.image or charts values)", cs.Image, why)
		}
	}
	return ""
}

// imageMissing recognises a registry's "no such image" in a pull error.
func imageMissing(msg string) bool {
	return strings.Contains(msg, "not found") || strings.Contains(msg, "manifest unknown")
}

// claimNeverBinds says why claim name can never bind, or "".
func (c *Client) claimNeverBinds(ctx context.Context, name string) string {
	pvc, err := c.clientset.CoreV1().PersistentVolumeClaims(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || pvc.Status.Phase == corev1.ClaimBound {
		return ""
	}
	classes, err := c.clientset.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	events := c.lastEvent(ctx, "PersistentVolumeClaim", name, "")
	if events != "" {
		events = " (its events: " + events + ")"
	}
	var why string
	switch sc := findClass(classes.Items, class); {
	case class == "" && pvc.Spec.StorageClassName == nil && hasDefault(classes.Items):
		return "" // the default class is assigned to it shortly
	case class == "":
		why = "has no StorageClass and the cluster has no default one"
	case sc == nil:
		why = fmt.Sprintf("asks for StorageClass %s, which does not exist", class)
	case sc.Provisioner == "kubernetes.io/no-provisioner":
		why = fmt.Sprintf("asks for StorageClass %s, which provisions nothing (kubernetes.io/no-provisioner)", class)
	default:
		return "" // a provisioner may yet make its volume
	}
	// Only a pre-made volume that fits could still take it.
	pvs, err := c.clientset.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	for _, pv := range pvs.Items {
		// A volume just made is Pending until the volume controller sees
		// it, and one the scheduler has just chosen for this claim names
		// it before the controller binds them: either may take it.
		free := (pv.Spec.ClaimRef == nil || chosenFor(pv.Spec.ClaimRef, pvc)) &&
			pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed
		if free && pv.Spec.StorageClassName == class && fits(&pv, pvc) {
			return ""
		}
	}
	return fmt.Sprintf("persistentvolumeclaim %s %s and no free volume fits it%s: set hub.storage.class to a StorageClass that provisions volumes", name, why, events)
}

// chosenFor reports whether a volume's claim reference names pvc.
func chosenFor(ref *corev1.ObjectReference, pvc *corev1.PersistentVolumeClaim) bool {
	return ref.Namespace == pvc.Namespace && ref.Name == pvc.Name && (ref.UID == "" || ref.UID == pvc.UID)
}

func findClass(classes []storagev1.StorageClass, name string) *storagev1.StorageClass {
	for i := range classes {
		if classes[i].Name == name {
			return &classes[i]
		}
	}
	return nil
}

func hasDefault(classes []storagev1.StorageClass) bool {
	return slices.ContainsFunc(classes, func(sc storagev1.StorageClass) bool { return isDefaultClass(sc.Annotations) })
}

// fits reports whether pv is as large as pvc asks, with its access modes.
func fits(pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) bool {
	have, want := pv.Spec.Capacity[corev1.ResourceStorage], pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if have.Cmp(want) < 0 {
		return false
	}
	for _, m := range pvc.Spec.AccessModes {
		if !slices.Contains(pv.Spec.AccessModes, m) {
			return false
		}
	}
	return true
}

// nodeReasonRE is one of the scheduler's per-node reasons, "3 node(s) ...".
var nodeReasonRE = regexp.MustCompile(`^(\d+) node\(s\) (.*)$`)

// noNodeMatches reports whether the scheduler excluded every node for a
// reason only a change of nodes or of the pod can lift: its node
// selector or affinity, or a taint it does not tolerate.
func noNodeMatches(msg string) bool {
	msg = schedulerMessage(msg)
	total, rest, ok := strings.Cut(strings.TrimPrefix(msg, "0/"), " nodes are available: ")
	n, err := strconv.Atoi(total)
	if !ok || err != nil || n == 0 || !strings.HasPrefix(msg, "0/") {
		return false
	}
	counted := 0
	for _, part := range strings.Split(strings.TrimSuffix(rest, "."), ", ") {
		m := nodeReasonRE.FindStringSubmatch(part)
		if m == nil || !(strings.HasPrefix(m[2], "didn't match Pod's node affinity/selector") || strings.HasPrefix(m[2], "had untolerated taint")) {
			return false
		}
		k, _ := strconv.Atoi(m[1])
		counted += k
	}
	return counted >= n
}

// schedulerMessage is the scheduler's verdict without what it adds about
// preemption ("... preemption: 0/3 nodes are available: 3 Preemption is
// not helpful", or a bare "not found" when a volume is the reason), which
// only repeats it or says nothing to a user.
func schedulerMessage(msg string) string {
	if i := strings.Index(msg, ". "); i >= 0 {
		return msg[:i+1]
	}
	return msg
}

// scaleUpTriggered reports whether a cluster autoscaler said it adds a
// node for p.
func (c *Client) scaleUpTriggered(ctx context.Context, p *corev1.Pod) bool {
	return c.lastEvent(ctx, "Pod", p.Name, "TriggeredScaleUp") != ""
}

// lastEvent is the newest event of an object in the hub's namespace, as
// "reason: message" (of that reason only, when reason is set), or "".
func (c *Client) lastEvent(ctx context.Context, kind, name, reason string) string {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}
	if reason != "" {
		sel["reason"] = reason
	}
	list, err := c.clientset.CoreV1().Events(c.namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	last := slices.MaxFunc(list.Items, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	return last.Reason + ": " + last.Message
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// stuckError fails the readiness wait as soon as a component is stuck,
// naming each stuck one; nil while every component may still become ready.
func stuckError(statuses []ComponentStatus, waited time.Duration) error {
	var b strings.Builder
	n := 0
	for _, s := range statuses {
		if s.stuck {
			n++
			fmt.Fprintf(&b, "\n  %s %s (%s ready): %s", strings.ToLower(s.Kind), s.Name, s.Replicas, s.Reason)
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%s of %d can never become ready as things are (found after %s; waiting longer would not help):%s",
		countOf(n, "component"), len(statuses), waited.Round(100*time.Millisecond), b.String())
}
