package kubetest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StaticClass is the StorageClass tests name for volumes that are
// pre-made (AddStaticVolume), as with local volumes on bare metal.
const StaticClass = "kwok-static"

// EnsureStaticClass creates, unless it exists, a StorageClass called name
// with no provisioner, whose claims are bound when their pod is scheduled.
// It is not the default class: a kwok cluster has none, which tests of a
// cluster without one rely on.
func (c *Cluster) EnsureStaticClass(ctx context.Context, name string) error {
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       "kubernetes.io/no-provisioner",
		VolumeBindingMode: &mode,
	}
	if _, err := c.client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubetest: create storage class %s: %w", name, err)
	}
	return nil
}

// AddStaticVolume creates a ReadWriteOnce hostPath PersistentVolume of
// StorageClass class with the given capacity (e.g. "1Gi"), for one claim of
// that class. The volume is never really mounted.
func (c *Cluster) AddStaticVolume(ctx context.Context, name, capacity, class string) error {
	q, err := resource.ParseQuantity(capacity)
	if err != nil {
		return fmt.Errorf("kubetest: capacity %q: %w", capacity, err)
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: q},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: "/kubetest/" + name},
			},
		},
	}
	if _, err := c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubetest: create persistent volume %s: %w", name, err)
	}
	return nil
}
