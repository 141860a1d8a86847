// Package cluster tests dhub's targets and its command line against a real
// Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler with kwok nodes, package kubetest) and, for the azure
// target, the in-memory Azure behind the Azure SDK's fake servers (package
// azurefake), which hands out that control plane's kubeconfig. It holds
// tests only; the tests of package cli that need no cluster stay there.
package cluster
