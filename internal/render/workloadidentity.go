package render

import (
	"maps"
	"sort"

	"dhub/internal/config"
)

// Workload identity on Azure: users' servers and their Dask schedulers and
// workers run as StorageServiceAccount with a service account token for
// Azure AD projected into them, and the identity's ids in their
// environment, so that DefaultAzureCredential (adlfs's, in a notebook and
// in a Dask task alike) exchanges the token for the identity's. dhub puts
// the token and the environment in the pods itself, so they hold the same
// on any cluster; AKS's webhook, which the label also asks for, leaves
// environment variables already set alone and adds only its own token.
const (
	// WorkloadIdentityLabel marks the pods AKS's webhook mutates.
	WorkloadIdentityLabel = "azure.workload.identity/use"
	// ClientIDAnnotation on the service account names the identity.
	ClientIDAnnotation = "azure.workload.identity/client-id"
	// TokenAudience is the audience Azure AD takes a token for.
	TokenAudience = "api://AzureADTokenExchange"
	// TokenDir and TokenFile are where the token is in the pods.
	TokenDir  = "/var/run/secrets/azure/tokens"
	TokenFile = "azure-identity-token"
	// tokenVolumeName names the token's volume.
	tokenVolumeName = "dhub-azure-identity-token"
	// tokenLifetime is the token's lifetime in seconds (the kubelet
	// renews it at 80%), as AKS's webhook sets it.
	tokenLifetime = 3600
	// authorityHost is Azure AD's address in Azure's public cloud.
	authorityHost = "https://login.microsoftonline.com/"
)

// azureScratch reports whether h's pods reach an Azure scratch container.
func azureScratch(h *config.Hub) bool {
	return h.Target == config.TargetAzure && h.Azure.Storage.Scratch.On()
}

// ServiceAccount is a Kubernetes service account dhub creates next to the
// releases.
type ServiceAccount struct {
	Name        string
	Annotations map[string]string
}

// storageServiceAccount is the service account of users' pods when they
// reach an Azure scratch container, or nil. Its annotation names the
// identity for AKS's webhook once Azure has made it.
func storageServiceAccount(h *config.Hub) *ServiceAccount {
	if !azureScratch(h) {
		return nil
	}
	sa := &ServiceAccount{Name: StorageServiceAccount, Annotations: map[string]string{}}
	if id := h.Azure.Storage.Scratch.Identity; id != nil {
		sa.Annotations[ClientIDAnnotation] = id.ClientID
		sa.Annotations["azure.workload.identity/tenant-id"] = id.TenantID
	}
	return sa
}

// scratchEnv is the environment through which a pod reaches the Azure
// scratch container: the account (adlfs reads it, and with ANON false uses
// DefaultAzureCredential) and, once Azure has made the identity, its ids
// and the token's file.
func scratchEnv(h *config.Hub) map[string]string {
	sc := h.Azure.Storage.Scratch
	env := map[string]string{"AZURE_STORAGE_ACCOUNT_NAME": sc.AccountName, "AZURE_STORAGE_ANON": "false"}
	if id := sc.Identity; id != nil {
		maps.Copy(env, map[string]string{
			"AZURE_CLIENT_ID":            id.ClientID,
			"AZURE_TENANT_ID":            id.TenantID,
			"AZURE_FEDERATED_TOKEN_FILE": TokenDir + "/" + TokenFile,
			"AZURE_AUTHORITY_HOST":       authorityHost,
		})
	}
	return env
}

// envList is env as a container's env list, sorted by name.
func envList(env map[string]string) []any {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = map[string]any{"name": k, "value": env[k]}
	}
	return out
}

// tokenVolume is the projected service account token for Azure AD.
func tokenVolume() map[string]any {
	return map[string]any{"name": tokenVolumeName, "projected": map[string]any{"sources": []any{
		map[string]any{"serviceAccountToken": map[string]any{"path": TokenFile, "audience": TokenAudience, "expirationSeconds": tokenLifetime}},
	}}}
}

// tokenMount mounts the token's volume read-only at TokenDir.
func tokenMount() map[string]any {
	return map[string]any{"name": tokenVolumeName, "mountPath": TokenDir, "readOnly": true}
}

// identityPython sets the workload identity label on the gateway's
// scheduler and worker pods.
const identityPython = `c.KubeClusterConfig.scheduler_extra_pod_labels = {"` + WorkloadIdentityLabel + `": "true"}
c.KubeClusterConfig.worker_extra_pod_labels = {"` + WorkloadIdentityLabel + `": "true"}
`
