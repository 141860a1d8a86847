package realnodes

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// importImages imports every image archive the node does not have yet
// (a restarted node keeps its images) into the node's containerd, in the
// namespace the kubelet's runtime uses, under its reference, and checks
// that the runtime lists each there.
func (c *Cluster) importImages(ctx context.Context, n *node, socket string) error {
	ctr := filepath.Join(c.opts.NodeTools, "ctr")
	listed := func() (map[string]bool, string, error) {
		out, err := runOutput(ctx, ctr, "--address", socket, "--namespace", "k8s.io", "images", "list", "--quiet")
		if err != nil {
			return nil, "", fmt.Errorf("node %s: list images: %w", n.spec.Name, err)
		}
		have := map[string]bool{}
		for _, ref := range strings.Fields(out) {
			have[ref] = true
		}
		return have, out, nil
	}
	have, _, err := listed()
	if err != nil {
		return err
	}
	var images []Image
	imported := 0
	for _, im := range c.opts.Images {
		if len(im.Nodes) > 0 && !slices.Contains(im.Nodes, n.spec.Name) {
			continue
		}
		images = append(images, im)
		if have[normalizeRef(im.Ref)] {
			continue
		}
		if err := run(ctx, "", []string{ctr, "--address", socket, "--namespace", "k8s.io", "images", "import", im.Archive}); err != nil {
			return fmt.Errorf("node %s: import %s: %w", n.spec.Name, im.Ref, err)
		}
		imported++
	}
	have, out, err := listed()
	if err != nil {
		return err
	}
	for _, im := range images {
		if !have[normalizeRef(im.Ref)] {
			return fmt.Errorf("node %s: image %s imported from %s is not listed as %s (listed: %s)", n.spec.Name, im.Ref, im.Archive, normalizeRef(im.Ref), strings.Join(strings.Fields(out), ", "))
		}
	}
	c.progress("node %s: %d images imported, %d already there", n.spec.Name, imported, len(images)-imported)
	return nil
}

// normalizeRef spells a reference as the runtime lists it: with its
// registry (docker.io when it names none) and, for docker.io's one-word
// names, the library/ path.
func normalizeRef(ref string) string {
	domain, rest, found := strings.Cut(ref, "/")
	if !found || !strings.ContainsAny(domain, ".:") && domain != "localhost" {
		domain, rest = "docker.io", ref
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return domain + "/" + rest
}
