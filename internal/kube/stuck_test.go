package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The scheduler's verdict, without its note on preemption (a bare "not
// found" when a claim is the reason).
func TestSchedulerMessage(t *testing.T) {
	for in, want := range map[string]string{
		"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found":                                                                                                        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
		"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
		"0/3 nodes are available: 1 Insufficient cpu.": "0/3 nodes are available: 1 Insufficient cpu.",
	} {
		if got := schedulerMessage(in); got != want {
			t.Errorf("schedulerMessage(%q) = %q, want %q", in, got, want)
		}
	}
	for msg, want := range map[string]bool{
		"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: ...":                                   true,
		"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector.": true,
		"0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.":                            false,
		"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. not found":                                            false,
		"0/0 nodes are available: no nodes available to schedule pods.":                                                                   false,
	} {
		if got := noNodeMatches(msg); got != want {
			t.Errorf("noNodeMatches(%q) = %v, want %v", msg, got, want)
		}
	}
}

// An image the registry does not have is certain from the kubelet's
// message: ErrImagePull with "not found" or "manifest unknown".
func TestImageThatDoesNotExistIsStuck(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, "stuck-image", nil)
	pod := func(reason, msg string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hub-0"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "hub", Image: "quay.io/jupyterhub/k8s-hub:9.9.9",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}}}
	}
	missing := `failed to pull and unpack image "quay.io/jupyterhub/k8s-hub:9.9.9": failed to resolve reference "quay.io/jupyterhub/k8s-hub:9.9.9": quay.io/jupyterhub/k8s-hub:9.9.9: not found`
	got := c.neverReady(context.Background(), pod("ErrImagePull", missing))
	if !strings.HasPrefix(got, "image quay.io/jupyterhub/k8s-hub:9.9.9 does not exist (") || !strings.HasSuffix(got, "fix the image name or tag (hub.image, dask.image or charts values)") {
		t.Errorf("neverReady = %q", got)
	}
	if got := c.neverReady(context.Background(), pod("ErrImagePull", "rpc error: code = Unknown desc = manifest unknown")); got == "" {
		t.Error("manifest unknown is not taken for a missing image")
	}
	// A registry that does not answer may answer later.
	if got := c.neverReady(context.Background(), pod("ErrImagePull", "dial tcp: lookup quay.io: i/o timeout")); got != "" {
		t.Errorf("a registry timeout counts as stuck: %q", got)
	}
}

// Claims that can never bind, on the real scheduler and volume controller:
// no class on a cluster without a default one, a class that does not
// exist, a class that provisions nothing with no volume left.
func TestClaimsThatCannotBindAreStuck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ns = "stuck-claims"
	admin := cluster.Client()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if err := cluster.EnsureStaticClass(ctx, "kwok-empty"); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := admin.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, _ := newClient(t, ns, nil)
	classes := map[string]*string{"none": nil, "missing": ptr("fast"), "empty": ptr("kwok-empty")}
	for name, class := range classes {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: mustQuantity("1Gi")}},
		}}
		if _, err := admin.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes:    []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}},
		}}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		"none":    "persistentvolumeclaim none has no StorageClass and the cluster has no default one and no free volume fits it (its events: FailedBinding: no persistent volumes available for this claim and no storage class is set)",
		"missing": "persistentvolumeclaim missing asks for StorageClass fast, which does not exist and no free volume fits it (its events: ProvisioningFailed: storageclass.storage.k8s.io \"fast\" not found)",
		"empty":   "persistentvolumeclaim empty asks for StorageClass kwok-empty, which provisions nothing (kubernetes.io/no-provisioner) and no free volume fits it",
	}
	deadline := time.Now().Add(20 * time.Second)
	for name := range classes {
		for {
			p, err := admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := c.neverReady(ctx, p)
			if strings.HasPrefix(got, want[name]) {
				t.Logf("pod %s: %s; %s", name, c.podProblem(ctx, p), got)
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("pod %s: neverReady = %q, want it to start with %q", name, got, want[name])
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	p, _ := admin.CoreV1().Pods(ns).Get(ctx, "none", metav1.GetOptions{})
	if why := c.podProblem(ctx, p); strings.HasSuffix(why, "not found") {
		t.Errorf("the scheduler's message keeps its stray ending: %q", why)
	}
	// A volume that fits makes the claim of the empty class bindable.
	if err := cluster.AddStaticVolume(ctx, "stuck-claims-fits", "2Gi", "kwok-empty"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.CoreV1().PersistentVolumes().Delete(context.Background(), "stuck-claims-fits", metav1.DeleteOptions{})
	})
	p, _ = admin.CoreV1().Pods(ns).Get(ctx, "empty", metav1.GetOptions{})
	if got := c.neverReady(ctx, p); got != "" && !strings.Contains(got, "kwok-empty") {
		t.Errorf("with a volume that fits: %q", got)
	} else if got != "" {
		// The scheduler may already have bound it; either way not stuck
		// for want of a volume.
		if pvc, _ := admin.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "empty", metav1.GetOptions{}); pvc.Status.Phase != corev1.ClaimBound {
			t.Errorf("claim empty is still stuck with a volume that fits: %q", got)
		}
	}
}
