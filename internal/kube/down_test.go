package kube

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"dhub/internal/render"
)

// userServer is a user's server pod as KubeSpawner makes it for the
// JupyterHub chart's release: not part of the release, and owned by
// nothing.
func userServer(name, release, user string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"component": "singleuser-server", "app": "jupyterhub", "release": release,
				"app.kubernetes.io/name": "jupyterhub", "app.kubernetes.io/instance": release,
				"app.kubernetes.io/managed-by": "kubespawner", "hub.jupyter.org/servername": "",
			},
			Annotations: map[string]string{"hub.jupyter.org/username": user},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "notebook", Image: "pangeo/pangeo-notebook:2025.08.14"}}},
	}
}

// daskCluster is a DaskCluster as the gateway's backend creates it for a
// user, labelled with the gateway's instance (its release's full name).
func daskCluster(name, instance string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.dask.org/v1alpha1",
		"kind":       "DaskCluster",
		"metadata": map[string]any{
			"name":   name,
			"labels": map[string]any{"gateway.dask.org/instance": instance, "gateway.dask.org/cluster": name},
		},
		"spec": map[string]any{"username": "alice", "options": map[string]any{}, "config": map[string]any{}},
	}}
}

// daskPod is a scheduler or worker pod of Dask cluster cluster as the
// gateway's controller makes it: the scheduler is owned by the
// DaskCluster, each worker by the scheduler pod.
func daskPod(name, instance, cluster, component string, owner metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"gateway.dask.org/instance": instance, "gateway.dask.org/cluster": cluster,
				"app.kubernetes.io/component": component,
			},
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: corev1.PodSpec{
			Containers:    []corev1.Container{{Name: component, Image: "pangeo/pangeo-notebook:2025.08.14"}},
			RestartPolicy: corev1.RestartPolicyNever,
		},
	}
}

// TestDownStopsItsUsersAndNothingElse: down stops the hub's users'
// servers and Dask clusters, which are not part of its releases, and
// leaves none of a Dask cluster's pods behind (the garbage collector
// removes them after the cluster); a server and a Dask cluster of another
// hub and a pod of the namespace's owner, in a namespace dhub did not
// create, stay as they are.
func TestDownStopsItsUsersAndNothingElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ns = "down-users"
	admin := cluster.Client()
	userNamespace(t, ns)
	h := testHub(t, ns)
	c, _ := newClient(t, ns, nil)
	down(t, c, h)
	cluster.AssignLoadBalancer(t, ns, "proxy-public", "192.0.2.17")
	if _, _, err := up(ctx, c, h); err != nil {
		t.Fatal(err)
	}
	names := render.ReleaseNamesFor(ns)
	pods := admin.CoreV1().Pods(ns)
	clusters := c.dynamic.Resource(daskClusterGVR).Namespace(ns)
	createPod := func(p *corev1.Pod) *corev1.Pod {
		t.Helper()
		got, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	createCluster := func(name, instance string) metav1.OwnerReference {
		t.Helper()
		got, err := clusters.Create(ctx, daskCluster(name, instance), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return metav1.OwnerReference{APIVersion: "gateway.dask.org/v1alpha1", Kind: "DaskCluster", Name: name, UID: got.GetUID()}
	}

	// The hub's: alice's server, and her Dask cluster with its scheduler
	// and a worker.
	createPod(userServer("jupyter-alice", names.JupyterHub, "alice"))
	owner := createCluster("c0ffee", names.DaskGateway)
	sched := createPod(daskPod("dask-scheduler-c0ffee", names.DaskGateway, "c0ffee", "dask-scheduler", owner))
	createPod(daskPod("dask-worker-c0ffee-x7k2p", names.DaskGateway, "c0ffee", "dask-worker",
		metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: sched.Name, UID: sched.UID}))
	// Not the hub's: another hub's server and Dask cluster, and a pod of
	// whoever owns the namespace.
	createPod(userServer("jupyter-bob", "other-jupyterhub", "bob"))
	createCluster("deadbeef", "other-dask-gateway")
	createPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "team-notebook", Labels: map[string]string{"app": "team"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}})

	p, err := c.PlanDown(ctx, h, false)
	if err != nil {
		t.Fatal(err)
	}
	var running string
	for _, ch := range p.View.Changes {
		if ch.Kind == "running" {
			running = ch.Reason
		}
	}
	if running != "stop 1 server(s) and 1 cluster(s)" {
		t.Errorf("the plan says of the hub's users %q, want \"stop 1 server(s) and 1 cluster(s)\"", running)
	}
	res, err := c.Down(ctx, p)
	if err != nil {
		t.Fatalf("down: %v (result %+v)", err, res)
	}
	for _, want := range []string{"dask cluster c0ffee", "user server jupyter-alice"} {
		if !contains(res.Deleted, want) {
			t.Errorf("down's result lacks deleted %q: %+v", want, res)
		}
	}
	if len(res.Left) != 0 || contains(res.Deleted, "namespace "+ns) {
		t.Errorf("down = %+v, want nothing left and the namespace kept (dhub did not create it)", res)
	}

	// Down returns once they are gone, the pods the cluster's controller
	// made included: nothing is orphaned.
	for _, name := range []string{"jupyter-alice", "dask-scheduler-c0ffee", "dask-worker-c0ffee-x7k2p"} {
		if _, err := pods.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pod %s after down: %v, want it gone", name, err)
		}
	}
	if _, err := clusters.Get(ctx, "c0ffee", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Dask cluster c0ffee after down: %v, want it gone", err)
	}
	// What the hub did not make stays, untouched.
	for _, name := range []string{"jupyter-bob", "team-notebook"} {
		if got, err := pods.Get(ctx, name, metav1.GetOptions{}); err != nil || got.DeletionTimestamp != nil {
			t.Errorf("pod %s, not the hub's, after down: %v (being deleted: %v)", name, err, got != nil && got.DeletionTimestamp != nil)
		}
	}
	if got, err := clusters.Get(ctx, "deadbeef", metav1.GetOptions{}); err != nil || got.GetDeletionTimestamp() != nil {
		t.Errorf("another hub's Dask cluster after down: %v", err)
	}
	if _, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace %s, which dhub did not create, after down: %v", ns, err)
	}
}
