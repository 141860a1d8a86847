package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
// exist, a class that provisions nothing with no volume left. A volume
// that fits then makes the last one bindable.
func TestClaimsThatCannotBindAreStuck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const ns = "stuck-claims"
	const volume = "stuck-claims-fits" // added at the end
	admin := cluster.Client()
	// Cleanups run last first: the volume is deleted, then the namespace
	// (its claim lets go of the volume), and then the volume is gone, so
	// that the test can run again (-count).
	t.Cleanup(func() {
		eventually(t, "volume "+volume+" gone", func() (bool, string) {
			_, err := admin.CoreV1().PersistentVolumes().Get(ctx, volume, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	})
	userNamespace(t, ns)
	if err := cluster.EnsureStaticClass(ctx, "kwok-empty"); err != nil {
		t.Fatal(err)
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
	// The scheduler and the volume controller speak in their own time.
	for name := range classes {
		eventually(t, "pod "+name+" taken for stuck with "+want[name], func() (bool, string) {
			p, err := admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			got := c.neverReady(ctx, p)
			return strings.HasPrefix(got, want[name]), fmt.Sprintf("neverReady = %q", got)
		})
	}
	p, err := admin.CoreV1().Pods(ns).Get(ctx, "none", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if why := c.podProblem(ctx, p); strings.HasSuffix(why, "not found") {
		t.Errorf("the scheduler's message keeps its stray ending: %q", why)
	}

	// A volume that fits: from the moment it exists the pod is no longer
	// stuck, through the scheduler choosing it and the volume controller
	// binding it, which both take their time.
	if err := cluster.AddStaticVolume(ctx, volume, "2Gi", "kwok-empty"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.CoreV1().PersistentVolumes().Delete(ctx, volume, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete volume %s: %v", volume, err)
		}
	})
	eventually(t, "claim empty bound to "+volume+" and pod empty scheduled", func() (bool, string) {
		p, err := admin.CoreV1().Pods(ns).Get(ctx, "empty", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		never := c.neverReady(ctx, p)
		pvc, err := admin.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "empty", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		seen := fmt.Sprintf("claim %s, volume %q; pod on node %q", pvc.Status.Phase, pvc.Spec.VolumeName, p.Spec.NodeName)
		if never != "" {
			t.Fatalf("with a volume that fits, pod empty is taken for stuck (%s): %s", seen, never)
		}
		return pvc.Status.Phase == corev1.ClaimBound && pvc.Spec.VolumeName == volume && p.Spec.NodeName != "", seen
	})
}
