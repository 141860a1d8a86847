// Package kube installs and upgrades the hub's Helm releases on a Kubernetes
// cluster with the Helm SDK, waits until their components are ready (saying
// which pod is not, and why), reports the hub's URL and status, and removes
// what dhub installed. Only this package imports Helm and client-go.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Source says which cluster to talk to: kubeconfig bytes held in memory (the
// azure target fetches them), or a kubeconfig file and context (empty:
// KUBECONFIG or ~/.kube/config, and its current context).
type Source struct {
	Kubeconfig []byte
	Path       string
	Context    string
}

// Options tune a Client. Zero values are the production defaults.
type Options struct {
	// Progress receives progress lines (stderr in the CLI).
	Progress io.Writer
	// ReadyTimeout bounds the wait for the hub's components.
	ReadyTimeout time.Duration
	// PollInterval is how often readiness is checked.
	PollInterval time.Duration
	// URLTimeout bounds the wait for the hub's URL to resolve and answer.
	URLTimeout time.Duration
	// LoadBalancerTimeout bounds the wait for proxy-public's load balancer
	// (or the hub's Ingress) to get an address on target kubernetes: a
	// cluster without a controller never gives one.
	LoadBalancerTimeout time.Duration
	// CertTimeout bounds the wait for a valid certificate after the name
	// resolves, before the autohttps pod is recreated once.
	CertTimeout time.Duration
	// Prober checks the hub's URL; nil means real HTTP requests.
	Prober Prober
	// Resolver resolves the hub's name; nil means the system's resolver.
	Resolver Resolver
	// ServiceGet GETs a path from a port (a number or a name) of a Service
	// of the hub's namespace (the gateway API's health) and returns the
	// body, also with an error, as client-go's DoRaw does; nil means
	// through the API server's service proxy. Tests stand in for the pods
	// a kwok cluster does not run.
	ServiceGet func(ctx context.Context, service, port, path string) ([]byte, error)
	// CacheDir holds downloaded charts; empty means the user cache dir.
	CacheDir string
	// Debug sends Helm's own log to Progress.
	Debug bool
}

func (o *Options) defaults() {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 10 * time.Minute
	}
	if o.PollInterval == 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.URLTimeout == 0 {
		o.URLTimeout = 5 * time.Minute
	}
	if o.LoadBalancerTimeout == 0 {
		o.LoadBalancerTimeout = 2 * time.Minute
	}
	if o.CertTimeout == 0 {
		o.CertTimeout = 3 * time.Minute
	}
	if o.Prober == nil {
		o.Prober = httpProber{}
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
}

// Client talks to one cluster and namespace for one hub.
type Client struct {
	namespace string
	opts      Options
	getter    *restGetter
	clientset kubernetes.Interface
	dynamic   dynamic.Interface
}

// New connects to the cluster of src. It reads the kubeconfig but sends no
// request yet.
func New(src Source, namespace string, opts Options) (*Client, error) {
	opts.defaults()
	// The namespace override makes Helm put objects without one in the
	// hub's namespace, as 'helm --namespace' does.
	overrides := &clientcmd.ConfigOverrides{CurrentContext: src.Context, Context: clientcmdapi.Context{Namespace: namespace}}
	var cc clientcmd.ClientConfig
	if len(src.Kubeconfig) > 0 {
		raw, err := clientcmd.Load(src.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig: %w", err)
		}
		cc = clientcmd.NewDefaultClientConfig(*raw, overrides)
	} else {
		if src.Path != "" {
			// A missing file is kubernetes.kubeconfig's fault, not the context's.
			if _, err := os.Stat(src.Path); err != nil {
				return nil, fmt.Errorf("kubernetes.kubeconfig: %w", err)
			}
		}
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = src.Path
		cc = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("no kubeconfig: set kubernetes.kubeconfig in dhub.yaml, KUBECONFIG, or write ~/.kube/config")
		}
		return nil, fmt.Errorf("kubernetes.context: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{
		namespace: namespace,
		opts:      opts,
		getter:    &restGetter{loader: cc, config: cfg},
		clientset: cs,
		dynamic:   dyn,
	}
	if c.opts.ServiceGet == nil {
		c.opts.ServiceGet = c.serviceProxyGet
	}
	return c, nil
}

// Clientset returns the client-go clientset of the cluster.
func (c *Client) Clientset() kubernetes.Interface { return c.clientset }

// restGetter gives Helm the cluster dhub was pointed at, with discovery
// cached in memory: nothing is written under ~/.kube.
type restGetter struct {
	loader clientcmd.ClientConfig
	config *rest.Config
	disco  discovery.CachedDiscoveryInterface
	mapper meta.RESTMapper
}

var _ genericclioptions.RESTClientGetter = (*restGetter)(nil)

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if g.disco == nil {
		dc, err := discovery.NewDiscoveryClientForConfig(g.config)
		if err != nil {
			return nil, err
		}
		g.disco = memory.NewMemCacheClient(dc)
	}
	return g.disco, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	if g.mapper == nil {
		dc, err := g.ToDiscoveryClient()
		if err != nil {
			return nil, err
		}
		g.mapper = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil)
	}
	return g.mapper, nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.loader }

// actionConfig is Helm's configuration for the hub's namespace, storing
// releases in Secrets as the helm CLI does.
func (c *Client) actionConfig() (*action.Configuration, error) {
	var h slog.Handler = slog.DiscardHandler
	if c.opts.Debug {
		h = slog.NewTextHandler(c.opts.Progress, nil)
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(h))
	if err := cfg.Init(c.getter, c.namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// cacheDir is where dhub keeps downloaded charts (never Helm's own dirs).
func (c *Client) cacheDir() (string, error) {
	if c.opts.CacheDir != "" {
		return c.opts.CacheDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for charts: %w", err)
	}
	return filepath.Join(d, "dhub", "helm"), nil
}
