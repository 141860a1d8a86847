package kube

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
