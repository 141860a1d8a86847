package kube

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"dhub/internal/render"
)

// The gateway API is asked on the port its Service has, not on the one the
// chart happens to use today; a Service that leads where the gateway does
// not listen leaves the hub not up, with the API server's reason.
func TestGatewayHealthAsksTheServicesPort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, c, _ := installedHub(t, "gateway-port", "192.0.2.21")
	name := render.ReleaseNamesFor(h.Namespace).GatewayAPIService()
	services := c.clientset.CoreV1().Services(h.Namespace)
	retarget := func(port int32, target int) {
		t.Helper()
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.Ports[0].Port, svc.Spec.Ports[0].TargetPort = port, intstr.FromInt(target)
		if _, err := services.Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := func() string {
		st, err := c.GetStatus(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return st.GatewayAPI
	}

	retarget(8080, 8000)
	eventually(t, "the gateway API answering on port 8080 of its Service", func() (bool, string) {
		s := status()
		return s == gatewayAnswering, s
	})

	retarget(8080, 8001)
	want := regexp.MustCompile(fmt.Sprintf(`^not answering \(%s:8080/api/health\): error trying to reach service: dial tcp [0-9.]+:8001: connect: connection refused$`, name))
	eventually(t, "the gateway API not answering behind port 8001", func() (bool, string) {
		s := status()
		return want.MatchString(s), s
	})
}
