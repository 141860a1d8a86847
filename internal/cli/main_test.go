package cli

import (
	"context"
	"sync"
	"testing"

	"dhub/internal/config"
	"dhub/internal/kube/kubetest"
)

// cluster is a real control plane (kwok nodes) for the tests that go past
// the cloud into Kubernetes: the azure target's end-to-end run.
var cluster *kubetest.Cluster

func TestMain(m *testing.M) { kubetest.Main(m, "dhub-cli-test", &cluster) }

var nodesOnce sync.Once

// poolNodes gives the cluster one node per pool role, as AKS would.
func poolNodes(t *testing.T) {
	t.Helper()
	var err error
	nodesOnce.Do(func() {
		for _, r := range []config.PoolRole{config.RoleCore, config.RoleUser, config.RoleWorker} {
			if err = cluster.AddNode(context.Background(), string(r)+"-0", config.RoleLabels(r), nil); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
