package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"dhub/internal/render"
)

// A rollout counts only once its controller saw the new template and
// updated the pods: an upgraded image puller was counted ready while its
// new pods could not be scheduled.
func TestRolloutReadiness(t *testing.T) {
	gen := func(g int64) metav1.ObjectMeta { return metav1.ObjectMeta{Generation: g} }
	three := int32(3)
	for _, c := range []struct {
		name           string
		ds             *appsv1.DaemonSet
		st             *appsv1.StatefulSet
		ready, desired int32
	}{
		{name: "daemonset settled", ds: &appsv1.DaemonSet{ObjectMeta: gen(2), Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 3}}, ready: 3, desired: 3},
		{name: "daemonset template not yet observed", ds: &appsv1.DaemonSet{ObjectMeta: gen(3), Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 3}}, ready: 0, desired: 3},
		{name: "daemonset on no node yet, not observed", ds: &appsv1.DaemonSet{ObjectMeta: gen(1), Status: appsv1.DaemonSetStatus{}}, ready: 0, desired: 1},
		{name: "daemonset rolling", ds: &appsv1.DaemonSet{ObjectMeta: gen(3), Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 1}}, ready: 1, desired: 3},
		{name: "statefulset settled", st: &appsv1.StatefulSet{ObjectMeta: gen(2), Spec: appsv1.StatefulSetSpec{Replicas: &three}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 3, CurrentRevision: "r2", UpdateRevision: "r2"}}, ready: 3, desired: 3},
		{name: "statefulset not yet observed", st: &appsv1.StatefulSet{ObjectMeta: gen(3), Spec: appsv1.StatefulSetSpec{Replicas: &three}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3}}, ready: 0, desired: 3},
		{name: "statefulset rolling", st: &appsv1.StatefulSet{ObjectMeta: gen(3), Spec: appsv1.StatefulSetSpec{Replicas: &three}, Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, ReadyReplicas: 3, UpdatedReplicas: 1, CurrentRevision: "r2", UpdateRevision: "r3"}}, ready: 1, desired: 3},
	} {
		var ready, desired int32
		if c.ds != nil {
			ready, desired = daemonSetReady(c.ds)
		} else {
			ready, desired = statefulSetReady(c.st)
		}
		if ready != c.ready || desired != c.desired {
			t.Errorf("%s: %d/%d ready, want %d/%d", c.name, ready, desired, c.ready, c.desired)
		}
	}
}

// crashLoop sets the status of pod ns/name as the kubelet does for a
// container that keeps exiting: the pod runs, the container waits in
// CrashLoopBackOff after its last run failed, and nothing is ready. kwok
// leaves a running pod's status alone.
func crashLoop(t *testing.T, ns, name, container string, restarts int32) {
	t.Helper()
	ctx := context.Background()
	pods := cluster.Client().CoreV1().Pods(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		for i, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady {
				p.Status.Conditions[i].Status, p.Status.Conditions[i].Reason = corev1.ConditionFalse, "ContainersNotReady"
				p.Status.Conditions[i].LastTransitionTime = now
			}
		}
		for i, cs := range p.Status.ContainerStatuses {
			if cs.Name != container {
				continue
			}
			p.Status.ContainerStatuses[i].Ready = false
			p.Status.ContainerStatuses[i].RestartCount = restarts
			p.Status.ContainerStatuses[i].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off 2m40s restarting failed container=%s pod=%s_%s(%s)", container, name, ns, p.UID),
			}}
			p.Status.ContainerStatuses[i].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 1, Reason: "Error", StartedAt: now, FinishedAt: now,
			}}
		}
		_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set pod %s crash looping: %v", name, err)
	}
}

// TestCrashLoopShowsItsLastLogLines: the hub's pod crashes repeatedly.
// Status and the readiness wait both say so, with the last ten lines its
// previous run logged, read through the API server as from a kubelet. A
// crash loop may end by itself (a database coming back), so the wait goes
// on to its bound rather than stopping as for a stuck pod.
func TestCrashLoopShowsItsLastLogLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, _ := installedHub(t, "crashloop", "192.0.2.18")
	names := render.ReleaseNamesFor(h.Namespace)
	pods, err := c.clientset.CoreV1().Pods(h.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "component=hub,release=" + names.JupyterHub})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("the hub's pods: %v, %d of them", err, len(pods.Items))
	}
	hub := pods.Items[0].Name
	var logged []string
	for i := 1; i <= 12; i++ {
		logged = append(logged, fmt.Sprintf("[E 2025-09-01 12:00:%02d.000 JupyterHub app:3400] line %d of the traceback", i, i))
	}
	if err := cluster.SetPreviousLogs(ctx, h.Namespace, hub, "hub", logged); err != nil {
		t.Fatal(err)
	}
	crashLoop(t, h.Namespace, hub, "hub", 5)
	// The Deployment controller counts the pod out in its own time.
	eventually(t, "deployment hub counting its pod not ready", func() (bool, string) {
		d, err := c.clientset.AppsV1().Deployments(h.Namespace).Get(ctx, "hub", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return d.Status.ReadyReplicas == 0, fmt.Sprintf("%d ready", d.Status.ReadyReplicas)
	})
	want := "pod " + hub + " container hub crashes repeatedly (restarts 5); its last log lines:\n      " + strings.Join(logged[2:], "\n      ")

	st, err := c.GetStatus(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	var got *ComponentStatus
	for i := range st.Components {
		if st.Components[i].Name == "hub" {
			got = &st.Components[i]
		}
	}
	if st.Up || got == nil || got.Ready || got.Replicas != "0/1" || got.Reason != want {
		t.Errorf("status: up %v, hub %+v; want the hub 0/1 ready with reason:\n%s", st.Up, got, want)
	}

	// The readiness wait, with a bound short enough for a test.
	short, _ := newClient(t, h.Namespace, nil)
	short.opts.ReadyTimeout = time.Second
	cfg, err := short.actionConfig()
	if err != nil {
		t.Fatal(err)
	}
	err = short.waitReady(ctx, cfg, render.ForReleases(h, names))
	if err == nil || !strings.Contains(err.Error(), "components not ready after 1s:\n  deployment hub (0/1 ready): "+want) {
		t.Errorf("readiness wait = %v, want the hub named with:\n%s", err, want)
	}
}
