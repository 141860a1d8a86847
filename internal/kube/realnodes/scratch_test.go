package realnodes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestScratchControlPlane(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(os.TempDir(), "dhub-realnodes-scratch")
	c := &Cluster{opts: Options{KubeTools: os.Getenv("DHUB_KUBE_TOOLS"), NodeTools: "/nonexistent", Progress: os.Stderr}, root: root, started: time.Now()}
	if err := Teardown(ctx, root); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"pki", "kubeconfigs", "logs", "home", "ns", "nodes"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	defer func() {
		if err := Teardown(ctx, root); err != nil {
			t.Error(err)
		}
	}()
	if err := checkRangesFree(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.credentials(); err != nil {
		t.Fatal(err)
	}
	if err := makeBridge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.startControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	c.progress("control plane up")
}
