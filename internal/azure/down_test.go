package azure_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v9"
)

func TestDownDeletesTheGroupDhubCreated(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	left, err := e.c.Remaining(context.Background(), h)
	if err != nil || len(left) != 3 { // the group, the cluster, AKS's node resource group
		t.Fatalf("before down, tagged: %+v, %v", left, err)
	}
	e.w.ResetLog()
	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Group != "pangeo" || d.Cluster != "" || len(d.Contents) != 1 || !strings.Contains(d.Contents[0], "pangeoCluster") {
		t.Errorf("deletion = %+v", d)
	}
	if len(e.w.Writes()) != 0 {
		t.Error("PlanDown wrote")
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "writes", paths(e.w.Writes()), []string{"DELETE /subscriptions/" + sub + "/resourcegroups/pangeo"})
	if len(res.Remaining) != 0 || e.w.Group("pangeo") != nil || e.w.Cluster("pangeo", "pangeoCluster") != nil {
		t.Errorf("remaining %+v", res.Remaining)
	}
	if !strings.Contains(e.progress.String(), "resource group pangeo: delete done in") {
		t.Errorf("progress:\n%s", e.progress)
	}
	// A second down finds nothing and deletes nothing.
	e.w.ResetLog()
	d, err = e.c.PlanDown(context.Background(), h, false)
	if err != nil || !d.Empty() {
		t.Errorf("second down: %+v, %v", d, err)
	}
}

func TestDownDeletesOnlyTheClusterInAGroupDhubDidNotCreate(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.w.AddGroup("pangeo", "westeurope", nil)
	e.w.AddResource("pangeo", "Microsoft.Storage/storageAccounts", "labdata", nil)
	e.up(t, h)
	e.w.ResetLog()
	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Group != "" || d.Cluster != "pangeoCluster" || !strings.Contains(strings.Join(d.Kept, ";"), "not created by dhub") {
		t.Errorf("deletion = %+v", d)
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "writes", paths(e.w.Writes()), []string{"DELETE /subscriptions/" + sub + "/resourceGroups/pangeo/providers/Microsoft.ContainerService/managedClusters/pangeoCluster"})
	if len(res.Remaining) != 0 || e.w.Group("pangeo") == nil {
		t.Errorf("remaining %+v; the group must stay", res.Remaining)
	}
}

func TestDownKeepsADhubGroupThatHoldsForeignResources(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.AddResource("pangeo", "Microsoft.Storage/storageAccounts", "labdata", nil)
	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.Group != "" || d.Cluster != "pangeoCluster" || !strings.Contains(strings.Join(d.Kept, ";"), "Microsoft.Storage/storageAccounts labdata") {
		t.Errorf("deletion = %+v", d)
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	// The group is still tagged by dhub: down reports it as remaining.
	if len(res.Remaining) != 1 || !strings.HasSuffix(res.Remaining[0].ID, "/resourceGroups/pangeo") {
		t.Errorf("remaining = %+v", res.Remaining)
	}
}

func TestDownRefusesAClusterWithoutDhubTags(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.EditCluster("pangeo", "pangeoCluster", func(mc *armcontainerservice.ManagedCluster) { mc.Tags = map[string]*string{} })
	e.w.ResetLog()
	_, err := e.c.PlanDown(context.Background(), h, false)
	if err == nil || !strings.Contains(err.Error(), "managed cluster pangeoCluster has no dhub-managed tag") ||
		!strings.Contains(err.Error(), "will not delete it") {
		t.Errorf("err = %v", err)
	}
	if len(e.w.Writes()) != 0 {
		t.Error("wrote")
	}
}

func TestDownReportsWhatRemainsUnderTheTags(t *testing.T) {
	e := newEnv(t)
	h := hub(t, "azure-recommended.yaml")
	e.up(t, h)
	e.w.AddGroup("elsewhere", "westeurope", nil)
	e.w.AddResource("elsewhere", "Microsoft.Network/publicIPAddresses", "hub-ip", map[string]string{"dhub-hub": "pangeo-hub"})
	d, err := e.c.PlanDown(context.Background(), h, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Down(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Remaining) != 1 || res.Remaining[0].Type != "Microsoft.Network/publicIPAddresses" {
		t.Errorf("remaining = %+v", res.Remaining)
	}
}
