package realnodes

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoseNode makes the node vanish as an evicted Spot VM does. Its link to
// the others goes down first, so what is sent to it is lost rather than
// refused; then every process of the node, containers included, is killed;
// then its Node object is deleted, as the cloud's node controller deletes
// the Node of a VM that is gone. RestartNode brings it back.
func (c *Cluster) LoseNode(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := run(ctx, "", []string{"ip", "link", "set", hostLink(n.index), "down"}); err != nil {
		return fmt.Errorf("realnodes: cut node %s's link: %w", name, err)
	}
	c.forgetDaemons(name)
	if err := killCgroups(name, 30*time.Second); err != nil {
		return err
	}
	err = c.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("realnodes: delete node %s: %w", name, err)
	}
	c.progress("node %s lost", name)
	return nil
}

// RestartNode starts a node that LoseNode stopped, as Azure starts an
// evicted Spot VM again under its name: its link comes up, its containerd
// finds the images it kept, its kubelet registers the Node anew with the
// pool's labels and taints, then kube-proxy and the firewall run. It
// returns once the node is Ready.
func (c *Cluster) RestartNode(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := run(ctx, "", []string{"ip", "link", "set", hostLink(n.index), "up"}); err != nil {
		return fmt.Errorf("realnodes: restore node %s's link: %w", name, err)
	}
	if err := c.startNode(ctx, n); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx, n); err != nil {
		return err
	}
	if err := c.startFirewall(n); err != nil {
		return err
	}
	c.progress("node %s back and Ready", name)
	return nil
}

// node returns the node called name.
func (c *Cluster) node(name string) (*node, error) {
	for _, n := range c.nodes {
		if n.spec.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("realnodes: no node %q", name)
}

// forgetDaemons drops the node's daemons from those Healthy checks: they
// are meant to be gone.
func (c *Cluster) forgetDaemons(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.daemons[:0]
	for _, d := range c.daemons {
		if !strings.HasPrefix(d.name, name+"-") {
			kept = append(kept, d)
		}
	}
	c.daemons = kept
}
