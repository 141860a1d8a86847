package realcluster

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dhub/internal/config"
	"dhub/internal/kube"
	"dhub/internal/kube/kubetest"
	"dhub/internal/kube/realnodes"
	"dhub/internal/render"
)

// scratchNamespace is the namespace of the Azure-shaped hub.
const scratchNamespace = "azure-hub"

// scratchIdentity stands for the workload identity Azure makes for the
// hub's scratch container.
var scratchIdentity = config.WorkloadIdentity{ClientID: "5b2c0a3e-1f4d-4c6b-9e8a-7d6c5b4a3f21", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47"}

// seen is a notebook cell: what a notebook, and a Dask task on a worker of
// its cluster, see of the way to the Azure scratch container: the
// environment, the claims of the projected token, and adlfs's and
// azure-identity's view of them (built from the environment; no request
// leaves the pod).
const seen = `
import base64, json, os
from dask_gateway import Gateway

def seen():
    import adlfs
    from azure.identity import WorkloadIdentityCredential
    WorkloadIdentityCredential()
    fs = adlfs.AzureBlobFileSystem(account_name=os.environ['AZURE_STORAGE_ACCOUNT_NAME'])
    token = open(os.environ['AZURE_FEDERATED_TOKEN_FILE']).read().split('.')[1]
    claims = json.loads(base64.urlsafe_b64decode(token + '=' * (-len(token) % 4)))
    return {'env': {k: v for k, v in os.environ.items() if k.startswith('AZURE_') or k == 'SCRATCH_URL'},
            'aud': claims['aud'], 'sub': claims['sub'], 'iss': claims['iss'],
            'anon': fs.anon, 'credential': type(fs.credential).__name__}

cluster = Gateway().new_cluster()
cluster.scale(1)
client = cluster.get_client()
client.wait_for_workers(1, timeout=180)
print('SEEN', json.dumps({'notebook': seen(), 'task': client.submit(seen, pure=False).result()}))
cluster.shutdown()
`

// TestAzureHubReachesScratchOnRealNodes installs the hub as the azure
// target's up installs it on AKS once the cluster is ready, with the
// scratch container's workload identity, through the same Kubernetes
// client, on the real nodes (a node port instead of Azure's load
// balancer, password login instead of Azure AD, no HTTPS). carol's
// notebook and a Dask task on her cluster's worker see the same
// SCRATCH_URL, account and identity, and a projected token whose audience
// and subject are what the identity's federated credential trusts, issued
// by the cluster; adlfs and azure-identity in the user image take it up
// without a key. The token's exchange at Azure AD, and the blob requests
// after it, need Azure and are not run.
func TestAzureHubReachesScratchOnRealNodes(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	password := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(password, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	charts := kubetest.ChartRepository(t)
	f, err := config.Load("dhub.yaml", []byte(`name: scratch-hub
target: azure
namespace: `+scratchNamespace+`
hub:
  expose: {type: nodePort, nodePort: 30082}
  https: {enabled: false}
  auth:
    type: password
    password:
      adminPassword: {fromFile: `+password+`}
  storage: {class: `+realnodes.StorageClass+`}
charts:
  jupyterhub: {repository: "`+charts+`"}
  daskGateway: {repository: "`+charts+`"}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := f.Hub
	sc := &h.Azure.Storage.Scratch
	if !sc.On() {
		t.Fatal("the recommended profile's azure hub has no scratch container")
	}
	sc.Identity = &scratchIdentity
	kc, err := os.ReadFile(cluster.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.New(kube.Source{Kubeconfig: kc}, scratchNamespace, kube.Options{Progress: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test's context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		d, err := c.PlanDown(ctx, h, true)
		if err == nil {
			_, err = c.Down(ctx, d)
		}
		if err != nil {
			t.Errorf("down: %v", err)
		}
	})
	start := time.Now()
	up, err := c.Apply(ctx, p)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, podsReport(scratchNamespace))
	}
	t.Logf("the azure target's hub with the scratch container's identity up on real nodes in %.1fs", time.Since(start).Seconds())
	sa, err := cluster.Client().CoreV1().ServiceAccounts(scratchNamespace).Get(ctx, render.StorageServiceAccount, metav1.GetOptions{})
	if err != nil || sa.Annotations[render.ClientIDAnnotation] != scratchIdentity.ClientID {
		t.Fatalf("service account %s: %v %v", render.StorageServiceAccount, err, sa.Annotations)
	}

	carol := openSession(t, smokeTarget(t, scratchNamespace, up.URL), "carol")
	start = time.Now()
	var got struct {
		Notebook, Task struct {
			Env        map[string]string
			Aud        []string
			Sub, Iss   string
			Anon       bool
			Credential string
		}
	}
	if err := json.Unmarshal([]byte(run(t, carol, "carol", seen, "SEEN ")), &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("carol's notebook and a task on her cluster's worker, %.1fs: %+v", time.Since(start).Seconds(), got)
	want := map[string]string{
		"SCRATCH_URL":                "az://scratch/carol",
		"AZURE_STORAGE_ACCOUNT_NAME": sc.AccountName,
		"AZURE_STORAGE_ANON":         "false",
		"AZURE_CLIENT_ID":            scratchIdentity.ClientID,
		"AZURE_TENANT_ID":            scratchIdentity.TenantID,
		"AZURE_FEDERATED_TOKEN_FILE": render.TokenDir + "/" + render.TokenFile,
		"AZURE_AUTHORITY_HOST":       "https://login.microsoftonline.com/",
	}
	subject := "system:serviceaccount:" + scratchNamespace + ":" + render.StorageServiceAccount
	for where, s := range map[string]struct {
		Env        map[string]string
		Aud        []string
		Sub, Iss   string
		Anon       bool
		Credential string
	}{"carol's notebook": got.Notebook, "a Dask task on carol's worker": got.Task} {
		for k, v := range want {
			if s.Env[k] != v {
				t.Errorf("%s: %s = %q, want %q", where, k, s.Env[k], v)
			}
		}
		if len(s.Aud) != 1 || s.Aud[0] != render.TokenAudience || s.Sub != subject || s.Iss == "" {
			t.Errorf("%s: token for %v, subject %q, issuer %q; the federated credential trusts %s and %s", where, s.Aud, s.Sub, s.Iss, render.TokenAudience, subject)
		}
		if s.Anon {
			t.Errorf("%s: adlfs goes anonymous", where)
		}
	}
	if got.Notebook.Iss != got.Task.Iss || !strings.HasPrefix(got.Notebook.Iss, "https://") {
		t.Errorf("issuers %q and %q: want the cluster's one https issuer", got.Notebook.Iss, got.Task.Iss)
	}
}
