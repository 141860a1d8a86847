package kubetest_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"dhub/internal/kube/kubetest"
)

// gatewayLabels select the gateway API's pods, as the dask-gateway chart
// labels them.
var gatewayLabels = map[string]string{"app.kubernetes.io/name": "dask-gateway", "app.kubernetes.io/instance": "dg", "app.kubernetes.io/component": "gateway"}

// gatewayAPI makes, in ns, a ready gateway API pod and Services in front of
// it: api-dg as the chart makes it (one unnamed port 8000 to 8000), and
// wrong-target whose port leads to 8080, where nothing listens; silent
// selects no pod.
func gatewayAPI(t *testing.T, ns string) {
	t.Helper()
	nodes(t)
	ctx := t.Context()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api-dg"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: gatewayLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: gatewayLabels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{corePurpose: "core"},
					Containers: []corev1.Container{{Name: "gateway", Image: "ghcr.io/dask/dask-gateway-server:2026.3.0",
						Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: 8000}}}},
				},
			},
		},
	}
	if _, err := cluster.Client().AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]corev1.ServiceSpec{
		"api-dg":       {Selector: gatewayLabels, Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 8000, TargetPort: intstr.FromInt32(8000)}}},
		"wrong-target": {Selector: gatewayLabels, Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 8000, TargetPort: intstr.FromInt32(8080)}}},
		"silent":       {Selector: map[string]string{"app.kubernetes.io/component": "none"}, Ports: []corev1.ServicePort{{Port: 8000}}},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: s}
		if _, err := cluster.Client().CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// realProxyGet is the GET dhub makes through the real API server's
// service proxy.
func realProxyGet(ctx context.Context, ns, service, port, path string) ([]byte, error) {
	return cluster.Client().CoreV1().Services(ns).ProxyGet("http", service, port, path, nil).DoRaw(ctx)
}

// answer is what a GET through the service proxy gave: the body and the
// error client-go made of it.
type answer struct{ body, err string }

func answerOf(body []byte, err error) answer {
	a := answer{body: string(body)}
	if err != nil {
		a.err = err.Error()
	}
	return a
}

// The stand-in answers only the port and path the real component serves
// at a Service that has them; everything else it refuses as the real API
// server does, word for word where the real API server can answer without
// reaching a pod (which kwok does not run).
func TestServiceAnswersChecksServicePortAndPath(t *testing.T) {
	ns := namespace(t, "service-proxy")
	gatewayAPI(t, ns)
	get := cluster.ServiceAnswers(ns, kubetest.GatewayAPI(`{"status": "pass"}`))
	ctx := t.Context()

	// Once the pod is ready, the health path on the Service's port answers.
	deadline := time.Now().Add(time.Minute)
	for {
		body, err := get(ctx, "api-dg", "8000", "/api/health")
		if err == nil {
			if string(body) != `{"status": "pass"}` {
				t.Errorf("health answered %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway API never answered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Refusals the real API server makes itself: the same body (its
	// Status) and the same error.
	for _, c := range []struct{ service, port, want string }{
		{"api-dg", "8001", `no service port 8001 found for service \"api-dg\"`},
		{"api-dg", "api", `no endpoints available for service \"http:api-dg:api\"`},
		{"missing", "8000", `services \"missing\" not found`},
		{"missing", "api", `services \"missing\" not found`},
		{"silent", "8000", `no endpoints available for service \"silent\"`},
	} {
		stand := answerOf(get(ctx, c.service, c.port, "/api/health"))
		if !strings.Contains(stand.body, `"message":"`+c.want+`"`) || stand.err == "" {
			t.Errorf("stand-in for %s port %s: %+v, want a Status saying %s", c.service, c.port, stand, c.want)
		}
		// The Endpoints controller may not have written the silent
		// Service's Endpoints yet.
		var real answer
		for deadline := time.Now().Add(30 * time.Second); ; {
			real = answerOf(realProxyGet(ctx, ns, c.service, c.port, "/api/health"))
			if real == stand || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if stand != real {
			t.Errorf("for %s port %s, the stand-in answers %+v and the real API server %+v", c.service, c.port, stand, real)
		}
	}

	// Past the API server: the component's own answers.
	body, err := get(ctx, "api-dg", "8000", "/health")
	if !apierrors.IsNotFound(err) || err.Error() != "the server could not find the requested resource (get services http:api-dg:8000)" || string(body) != "404: Not Found" {
		t.Errorf("a path the gateway API does not serve: %q, %v; want its 404 and client-go's error for it", body, err)
	}
	body, err = get(ctx, "wrong-target", "8000", "/api/health")
	if !apierrors.IsServiceUnavailable(err) || !regexp.MustCompile(`"message":"error trying to reach service: dial tcp [0-9.]+:8080: connect: connection refused"`).Match(body) {
		t.Errorf("a Service leading to a port the gateway API does not listen on: %q, %v", body, err)
	}
}
