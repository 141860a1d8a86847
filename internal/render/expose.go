package render

import "dhub/internal/config"

// The hub's way in (hub.expose): the JupyterHub chart's proxy-public
// Service is a LoadBalancer by default, which on a cluster without a
// load-balancer controller never gets an address. A NodePort opens a port
// on every node; an Ingress routes through the cluster's ingress
// controller to a ClusterIP proxy-public, with TLS from cert-manager
// (the chart's autohttps pod cannot answer behind a controller that ends
// TLS, so it is not used there).

// ProxyService is the JupyterHub chart's Service people reach the hub
// through.
const ProxyService = "proxy-public"

// HubIngress is the name of the JupyterHub chart's Ingress (without a
// fullnameOverride, which dhub does not set).
const HubIngress = "jupyterhub"

// IngressTLSSecret is the Secret cert-manager writes the hub's certificate
// into, with an Ingress and HTTPS.
const IngressTLSSecret = "dhub-hub-tls"

// ServiceType is the Kubernetes type of proxy-public for h's way in.
func ServiceType(h *config.Hub) string {
	switch h.JupyterHub.Expose.Type {
	case config.ExposeNodePort:
		return "NodePort"
	case config.ExposeIngress:
		return "ClusterIP"
	}
	return "LoadBalancer"
}

// serviceValues set proxy-public's type when it is not the chart's
// LoadBalancer, and the node port when one is chosen.
func serviceValues(h *config.Hub) map[string]any {
	e := h.JupyterHub.Expose
	svc := map[string]any{}
	if t := ServiceType(h); t != "LoadBalancer" {
		svc["type"] = t
	}
	if e.Type == config.ExposeNodePort && e.NodePort != 0 {
		svc["nodePorts"] = map[string]any{"http": e.NodePort}
	}
	return svc
}

// ingressValues turn on the chart's Ingress for proxy-public, with its
// class, the hub's host and, with HTTPS, cert-manager's annotation and the
// TLS Secret it fills. Empty unless the hub is exposed through an Ingress.
func ingressValues(h *config.Hub) map[string]any {
	j := h.JupyterHub
	if j.Expose.Type != config.ExposeIngress {
		return nil
	}
	v := map[string]any{"enabled": true}
	if c := j.Expose.IngressClassName; c != "" {
		v["ingressClassName"] = c
	}
	if j.Host != "" {
		v["hosts"] = []any{j.Host}
	}
	if cm := j.HTTPS.CertManager; h.HTTPSEnabled() && cm != nil {
		key := "cert-manager.io/cluster-issuer"
		if cm.Kind == "Issuer" {
			key = "cert-manager.io/issuer"
		}
		v["annotations"] = map[string]any{key: cm.Issuer}
		v["tls"] = []any{map[string]any{"hosts": []any{j.Host}, "secretName": IngressTLSSecret}}
	}
	return v
}

// storageValues size users' homes and, when set, name their StorageClass.
func storageValues(s config.Storage) map[string]any {
	v := map[string]any{"capacity": s.Size}
	if s.Class != "" {
		v["dynamic"] = map[string]any{"storageClass": s.Class}
	}
	return v
}
