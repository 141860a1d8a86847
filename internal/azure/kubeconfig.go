package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"dhub/internal/config"
)

// Kubeconfig returns the cluster's user kubeconfig, from the cluster user
// credentials API (like 'az aks get-credentials'). It is kept in memory:
// the caller decides whether it is ever written.
func (c *Client) Kubeconfig(ctx context.Context, h *config.Hub) ([]byte, error) {
	a := h.Azure
	resource := KindCluster + " " + a.ClusterName
	r, err := c.clusters.ListClusterUserCredentials(ctx, a.ResourceGroup, a.ClusterName, nil)
	if isNotFound(err) {
		return nil, fmt.Errorf("%s does not exist in resource group %s: run 'dhub up' first", resource, a.ResourceGroup)
	}
	if err != nil {
		return nil, explain(err, resource, a.Location)
	}
	for _, k := range r.Kubeconfigs {
		if k != nil && len(k.Value) > 0 {
			return k.Value, nil
		}
	}
	return nil, fmt.Errorf("%s: Azure returned no kubeconfig", resource)
}

// ContextName is the kubeconfig context (and cluster and user entry) dhub
// merges a hub's credentials under.
func ContextName(h *config.Hub) string { return "dhub-" + h.Name }

// MergeKubeconfig merges the single cluster, user and context of fresh (as
// Kubeconfig returns it) into existing (a kubeconfig file's content; empty
// for none) under the name name, and makes it the current context. The
// rest of existing, comments included, is kept. It returns the new content
// and one line per change; no change means existing already had it all.
func MergeKubeconfig(existing, fresh []byte, name string) ([]byte, []string, error) {
	var src struct {
		Clusters []struct {
			Cluster yaml.Node `yaml:"cluster"`
		} `yaml:"clusters"`
		Users []struct {
			User yaml.Node `yaml:"user"`
		} `yaml:"users"`
		Contexts []struct {
			Context struct {
				Namespace string `yaml:"namespace"`
			} `yaml:"context"`
		} `yaml:"contexts"`
	}
	if err := yaml.Unmarshal(fresh, &src); err != nil {
		return nil, nil, fmt.Errorf("read the cluster's kubeconfig: %w", err)
	}
	if len(src.Clusters) != 1 || len(src.Users) != 1 {
		return nil, nil, fmt.Errorf("read the cluster's kubeconfig: want one cluster and one user, got %d and %d", len(src.Clusters), len(src.Users))
	}

	var doc yaml.Node
	if len(bytes.TrimSpace(existing)) > 0 {
		if err := yaml.Unmarshal(existing, &doc); err != nil {
			return nil, nil, fmt.Errorf("read kubeconfig: %w", err)
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
		setScalar(doc.Content[0], "apiVersion", "v1")
		setScalar(doc.Content[0], "kind", "Config")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, errors.New("read kubeconfig: the document is not a mapping")
	}

	var changes []string
	upsert := func(list, field string, body *yaml.Node) {
		entry := &yaml.Node{Kind: yaml.MappingNode}
		setScalar(entry, "name", name)
		setNode(entry, field, body)
		seq := mapValue(root, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			seq = &yaml.Node{Kind: yaml.SequenceNode}
			setNode(root, list, seq)
		}
		for i, e := range seq.Content {
			if n := mapValue(e, "name"); n != nil && n.Value == name {
				if sameYAML(e, entry) {
					return
				}
				seq.Content[i] = entry
				changes = append(changes, fmt.Sprintf("replaced %s entry %q", list[:len(list)-1], name))
				return
			}
		}
		seq.Content = append(seq.Content, entry)
		changes = append(changes, fmt.Sprintf("added %s entry %q", list[:len(list)-1], name))
	}
	upsert("clusters", "cluster", &src.Clusters[0].Cluster)
	upsert("users", "user", &src.Users[0].User)
	ctx := &yaml.Node{Kind: yaml.MappingNode}
	setScalar(ctx, "cluster", name)
	setScalar(ctx, "user", name)
	if len(src.Contexts) == 1 && src.Contexts[0].Context.Namespace != "" {
		setScalar(ctx, "namespace", src.Contexts[0].Context.Namespace)
	}
	upsert("contexts", "context", ctx)
	if cur := mapValue(root, "current-context"); cur == nil || cur.Value != name {
		from := "(none)"
		if cur != nil && cur.Value != "" {
			from = cur.Value
		}
		setScalar(root, "current-context", name)
		changes = append(changes, fmt.Sprintf("current-context %s -> %s", from, name))
	}
	if len(changes) == 0 {
		return existing, nil, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return out.Bytes(), changes, nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setNode(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func setScalar(m *yaml.Node, key, value string) {
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// sameYAML compares two nodes by their decoded value.
func sameYAML(a, b *yaml.Node) bool {
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	ba, _ := yaml.Marshal(va)
	bb, _ := yaml.Marshal(vb)
	return bytes.Equal(ba, bb)
}
