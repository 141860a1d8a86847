package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/render"
	"dhub/internal/smoke"
)

// SmokeRunner runs the smoke script in the cluster as a Job with the hub's
// singleuser image: the path users' notebooks take to the gateway.
type SmokeRunner struct {
	c *Client
	h *config.Hub
}

// Smoke returns the runner and target of the hub for the smoke check. The
// dhub service token never leaves the cluster: the Job reads it from the
// JupyterHub chart's Secret.
func (c *Client) Smoke(h *config.Hub) (smoke.Runner, smoke.Target) {
	hub := "http://proxy-public"
	if h.HTTPSEnabled() {
		hub = "http://proxy-http:8000"
	}
	return SmokeRunner{c: c, h: h}, smoke.Target{
		HubURL:              hub,
		GatewayAddress:      hub + "/services/dask-gateway",
		GatewayProxyAddress: fmt.Sprintf("gateway://traefik-%s.%s:80", render.DaskGatewayRelease, h.Namespace),
	}
}

// RunScript runs script in a Job and returns the log of its pod. The Job
// and its ConfigMap are deleted afterwards, whatever happened.
func (r SmokeRunner) RunScript(ctx context.Context, script []byte, env map[string]string, progress io.Writer) ([]byte, error) {
	c := r.c
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "dhub-smoke-" + hex.EncodeToString(suffix)
	labels := map[string]string{labelManagedBy: managedBy, "component": "dhub-smoke"}
	core, batch := c.clientset.CoreV1(), c.clientset.BatchV1()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: map[string]string{"smoke.py": string(script)}}
	if _, err := core.ConfigMaps(c.namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return nil, c.apiError("create configmap "+name, err)
	}
	defer core.ConfigMaps(c.namespace).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})

	var vars []corev1.EnvVar
	for k, v := range env {
		if k != "DHUB_API_TOKEN" {
			vars = append(vars, corev1.EnvVar{Name: k, Value: v})
		}
	}
	vars = append(vars, corev1.EnvVar{Name: "DHUB_API_TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "hub"}, Key: render.DhubTokenKey}}})
	sortEnv(vars)
	job := smokeJob(name, labels, r.h, vars)
	if _, err := batch.Jobs(c.namespace).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, c.apiError("create job "+name, err)
	}
	background := metav1.DeletePropagationBackground
	defer batch.Jobs(c.namespace).Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{PropagationPolicy: &background})
	fmt.Fprintf(progress, "smoke: job %s started with image %s\n", name, r.h.JupyterHub.Image)

	start := time.Now()
	for {
		j, err := batch.Jobs(c.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, c.apiError("read job "+name, err)
		}
		if j.Status.Succeeded > 0 || j.Status.Failed > 0 {
			break
		}
		select {
		case <-ctx.Done():
			why := c.diagnose(context.WithoutCancel(ctx), &metav1.LabelSelector{MatchLabels: map[string]string{"job-name": name}})
			return nil, fmt.Errorf("smoke job %s did not finish in %s: %s", name, time.Since(start).Round(time.Second), why)
		case <-time.After(c.opts.PollInterval):
		}
	}
	pods, err := core.Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil || len(pods.Items) == 0 {
		return nil, fmt.Errorf("smoke job %s finished but its pod is gone: %v", name, err)
	}
	raw, err := core.Pods(c.namespace).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return nil, c.apiError("read the smoke job's log", err)
	}
	// The pod's log holds the script's progress (stderr) and, last, its
	// JSON result (stdout).
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		if strings.HasPrefix(line, "smoke: ") {
			fmt.Fprintln(progress, line)
		}
	}
	return raw, nil
}

func smokeJob(name string, labels map[string]string, h *config.Hub, env []corev1.EnvVar) *batchv1.Job {
	zero, ttl := int32(0), int32(600)
	deadline := int64(900)
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{
			Name:         "smoke",
			Image:        h.JupyterHub.Image,
			Command:      []string{"python", "/smoke/smoke.py"},
			Env:          env,
			VolumeMounts: []corev1.VolumeMount{{Name: "script", MountPath: "/smoke"}},
		}},
		Volumes: []corev1.Volume{{Name: "script", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}},
	}
	if h.PoolRoles()[config.RoleUser] {
		// Where users' notebooks run, tolerating the user pool's taints.
		pod.NodeSelector = config.RoleLabels(config.RoleUser)
		pod.Tolerations = []corev1.Toleration{{Key: "hub.jupyter.org/dedicated", Operator: corev1.TolerationOpEqual, Value: "user", Effect: corev1.TaintEffectNoSchedule}}
	}
	// Labelled like a user's server, so the singleuser egress rule that
	// lets notebooks reach the gateway applies to it too.
	podLabels := map[string]string{
		"app": "jupyterhub", "component": "singleuser-server", "release": render.JupyterHubRelease,
		"hub.jupyter.org/network-access-hub": "true", "hub.jupyter.org/network-access-proxy-http": "true",
	}
	for k, v := range labels {
		if k != "component" {
			podLabels[k] = v
		}
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &zero,
			TTLSecondsAfterFinished: &ttl,
			ActiveDeadlineSeconds:   &deadline,
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: pod},
		},
	}
}

func sortEnv(vars []corev1.EnvVar) {
	for i := 1; i < len(vars); i++ {
		for j := i; j > 0 && vars[j].Name < vars[j-1].Name; j-- {
			vars[j], vars[j-1] = vars[j-1], vars[j]
		}
	}
}
