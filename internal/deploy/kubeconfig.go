package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// MergeResult says what MergeKubeconfig changed in a kubeconfig file.
type MergeResult struct {
	// Path is the file merged into.
	Path string
	// Context is the context (and cluster and user entry) of the hub.
	Context string
	// Changes has one line per change; none means nothing was written.
	Changes []string
	// Backup holds the file as it was before, when there was one.
	Backup string
}

// MergeKubeconfig merges a hub's kubeconfig (one cluster, one user, as
// Target.Kubeconfig returns it) into the kubeconfig file at path under the
// context dhub-<hub name>, and makes that the current context. It never
// edits silently: it writes nothing when nothing would change; otherwise
// it keeps a backup of the old file next to it and replaces the file
// atomically, owner-only.
func MergeKubeconfig(path, hub string, fresh []byte) (*MergeResult, error) {
	res := &MergeResult{Path: path, Context: "dhub-" + hub}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	merged, changes, err := mergeKubeconfig(old, fresh, res.Context)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(changes) == 0 {
		return res, nil
	}
	res.Changes = changes
	if old != nil {
		res.Backup = fmt.Sprintf("%s.dhub-backup-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.WriteFile(res.Backup, old, 0o600); err != nil {
			return nil, fmt.Errorf("back up kubeconfig: %w", err)
		}
	}
	if err := writeFileAtomic(path, merged, 0o600); err != nil {
		return nil, err
	}
	return res, nil
}

// DefaultKubeconfigPath is KUBECONFIG's first file, else ~/.kube/config.
func DefaultKubeconfigPath() string {
	if list := filepath.SplitList(os.Getenv("KUBECONFIG")); len(list) > 0 && list[0] != "" {
		return list[0]
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".kube", "config")
	}
	return ""
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path, so a reader sees the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".dhub-*")
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	err = tmp.Chmod(perm)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// mergeKubeconfig merges the single cluster, user and context of fresh (as
// Kubeconfig returns it) into existing (a kubeconfig file's content; empty
// for none) under the name name, and makes it the current context. The
// rest of existing, comments included, is kept. It returns the new content
// and one line per change; no change means existing already had it all.
func mergeKubeconfig(existing, fresh []byte, name string) ([]byte, []string, error) {
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
