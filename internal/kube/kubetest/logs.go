package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// logsGVR is kwok's Logs resource, which names the files kwok serves as a
// pod's container logs; Start enables it on every cluster.
var logsGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "logs"}

// SetPreviousLogs plays a container runtime for the logs of container of
// pod namespace/name, which kwok runs no process for: the previous run of
// the container logged lines (what `kubectl logs --previous` shows after a
// crash), the current one nothing yet. The API server then serves them as
// it serves a kubelet's, from kwok. It returns once it does.
func (c *Cluster) SetPreviousLogs(ctx context.Context, namespace, name, container string, lines []string) error {
	dir := filepath.Join(c.dir, "container-logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	// The CRI log format, which kwok reads as a kubelet reads a runtime's.
	var b strings.Builder
	stamp := time.Now().UTC()
	for i, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", stamp.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), l)
	}
	base := filepath.Join(dir, namespace+"_"+name+"_"+container)
	previous, current := base+".previous.log", base+".log"
	if err := os.WriteFile(previous, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	if err := os.WriteFile(current, nil, 0o644); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	logs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "Logs",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"logs": []any{map[string]any{
			"containers":       []any{container},
			"logsFile":         current,
			"previousLogsFile": previous,
		}}},
	}}
	if _, err := dyn.Resource(logsGVR).Namespace(namespace).Create(ctx, logs, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kubetest: create kwok Logs %s/%s: %w", namespace, name, err)
	}
	// kwok learns of the Logs object by watching: wait until it serves them.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := strings.Join(lines, "\n") + "\n"
	for {
		got, err := c.client.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{Container: container, Previous: true}).DoRaw(ctx)
		if err == nil && bytes.Equal(got, []byte(want)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubetest: the previous logs of %s/%s container %s are not served: %v (got %q)", namespace, name, container, err, got)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
