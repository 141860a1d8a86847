package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Component is what the pods of one component of the charts answer over
// HTTP, which kwok's pods do not: the labels that select them, the
// container port they listen on, the body (of ContentType) of each path
// they serve, and their plain-text body for any other path, with status
// 404.
type Component struct {
	Selector    map[string]string
	Port        int32
	ContentType string
	Paths       map[string]string
	NotFound    string
}

// GatewayAPI is the Dask Gateway API server as the dask-gateway chart runs
// it: pods labelled app.kubernetes.io/name=dask-gateway and
// app.kubernetes.io/component=gateway, listening on 8000
// (c.DaskGateway.address in the chart's configuration), answering its
// health route /api/health (dask_gateway_server/routes.py; the chart's
// probes ask it) with the JSON health, and any other path with aiohttp's
// plain-text 404.
func GatewayAPI(health string) Component {
	return Component{
		Selector:    map[string]string{"app.kubernetes.io/name": "dask-gateway", "app.kubernetes.io/component": "gateway"},
		Port:        8000,
		ContentType: "application/json; charset=utf-8",
		Paths:       map[string]string{"/api/health": health},
		NotFound:    "404: Not Found",
	}
}

// ServiceAnswers stands in for a GET through the API server's service
// proxy to a Service of namespace, as kube.Options.ServiceGet makes it,
// playing the pods of components behind it. The GET is client-go's
// ProxyGet, sent to a stand-in for the API server's service proxy route
// that reads the cluster: the caller gets the body and the error client-go
// makes of the answer, as from the real API server. See serviceProxy for
// the rules it follows.
func (c *Cluster) ServiceAnswers(namespace string, components ...Component) func(ctx context.Context, service, port, path string) ([]byte, error) {
	return func(ctx context.Context, service, port, path string) ([]byte, error) {
		srv := httptest.NewServer(c.serviceProxy(components))
		defer srv.Close()
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
		if err != nil {
			return nil, err
		}
		return cs.CoreV1().Services(namespace).ProxyGet("http", service, port, path, nil).DoRaw(ctx)
	}
}

// proxyPath is the service proxy's route: namespace, service id
// (scheme:name:port) and the path for the pods.
var proxyPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$`)

// serviceProxy answers the service proxy's route by the API server's rules
// (pkg/registry/core/service/storage ResourceLocation, v1.36), each refusal
// the Status it sends: the Service must exist; a port number must be one
// of the Service's ports, and the port's name (or the port, when given by
// name) one its ready endpoints have. Past the API server, the pods of the
// component the Service selects answer: the endpoint's port must be the
// component's, and the path one it serves.
func (c *Cluster) serviceProxy(components []Component) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := proxyPath.FindStringSubmatch(r.URL.Path)
		if m == nil || r.Method != http.MethodGet {
			http.Error(w, "kubetest: the service proxy stand-in serves GET "+proxyPath.String()+", not "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
			return
		}
		namespace, id, path := m[1], m[2], m[3]
		_, service, port, valid := utilnet.SplitSchemeNamePort(id)
		if !valid {
			writeStatus(w, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id)))
			return
		}
		ctx := r.Context()
		svc, err := c.client.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
		if err != nil {
			writeStatus(w, err)
			return
		}
		portName := port
		if n, err := strconv.ParseInt(port, 10, 64); err == nil {
			found := false
			for _, sp := range svc.Spec.Ports {
				if int64(sp.Port) == n {
					portName, found = sp.Name, true
					break
				}
			}
			if !found {
				writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, service)))
				return
			}
		}
		ip, target, endpoints, err := c.readyEndpoint(ctx, namespace, service, portName)
		switch {
		case err != nil:
			writeStatus(w, err)
			return
		case endpoints == 0:
			writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", service)))
			return
		case ip == "":
			writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", id)))
			return
		}
		comp, ok := componentOf(svc, components)
		if !ok {
			http.Error(w, fmt.Sprintf("kubetest: no component stands in for the pods of service %s (selector %v)", service, svc.Spec.Selector), http.StatusInternalServerError)
			return
		}
		if target != comp.Port {
			writeStatus(w, apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: dial tcp %s: connect: connection refused", net.JoinHostPort(ip, strconv.Itoa(int(target))))))
			return
		}
		if path == "" {
			path = "/"
		}
		body, ok := comp.Paths[path]
		if !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, comp.NotFound)
			return
		}
		w.Header().Set("Content-Type", comp.ContentType)
		fmt.Fprint(w, body)
	})
}

// writeStatus sends err as the API server does: its Status, as JSON.
func writeStatus(w http.ResponseWriter, err error) {
	s := apierrors.NewInternalError(err).ErrStatus
	if se, ok := err.(apierrors.APIStatus); ok {
		s = se.Status()
	}
	s.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(s.Code))
	json.NewEncoder(w).Encode(s)
}

// readyEndpoint returns the address and port of a ready endpoint of
// service whose port is named portName, if any, and how many endpoints,
// ready or not, the service has.
func (c *Cluster) readyEndpoint(ctx context.Context, namespace, service, portName string) (ip string, port int32, endpoints int, err error) {
	slices, err := c.client.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
	if err != nil {
		return "", 0, 0, err
	}
	for _, s := range slices.Items {
		endpoints += len(s.Endpoints)
		for _, sp := range s.Ports {
			// An unnamed port's name is "".
			if (sp.Name == nil && portName != "") || (sp.Name != nil && *sp.Name != portName) || sp.Port == nil {
				continue
			}
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready && len(e.Addresses) > 0 {
					return e.Addresses[0], *sp.Port, endpoints, nil
				}
			}
		}
	}
	return "", 0, endpoints, nil
}

// componentOf is the component whose pods svc selects.
func componentOf(svc *corev1.Service, components []Component) (Component, bool) {
	for _, comp := range components {
		if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(comp.Selector).Matches(labels.Set(svc.Spec.Selector)) {
			return comp, true
		}
	}
	return Component{}, false
}
