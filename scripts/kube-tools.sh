#!/usr/bin/env bash
# Builds, once, the binaries of the Kubernetes test tier (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok, kwokctl) from the Go module
# proxy, and prints the directory that holds them. The build is cached under a
# key of the tools modules' go.mod/go.sum and the Go version, so a warm run
# costs a hash. Cold: several minutes on 2 cores.
#   DHUB_TOOLS_CACHE  where builds are kept (default ~/.cache/dhub/test-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
kwok_version=v0.8.0
kube_version=v1.36.3
key=$( { cat tools/kube/go.mod tools/kube/go.sum tools/etcd/go.mod tools/etcd/go.sum; go version; echo "kwok $kwok_version"; } | sha256sum | cut -c1-16)
cache=${DHUB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dhub/test-tools}
dir=$cache/$key
tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwokctl)
complete() { for t in "${tools[@]}"; do [ -x "$dir/bin/$t" ] || return 1; done; }
if complete; then
  echo "$dir/bin"
  exit 0
fi
tmp=$dir.tmp.$$
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
start=$SECONDS
log() { printf 'kube-tools: %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }
minor=${kube_version#v1.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
log "building kube-apiserver, kube-controller-manager, kube-scheduler $kube_version"
(cd tools/kube && go build -trimpath -ldflags "$ldflags" -o "$tmp/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
log "building etcd"
(cd tools/etcd && go build -trimpath -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3)
log "building kwok and kwokctl $kwok_version"
GOBIN=$tmp/bin GOFLAGS=-trimpath go install -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok@$kwok_version sigs.k8s.io/kwok/cmd/kwokctl@$kwok_version
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
log "done: $dir/bin"
echo "$dir/bin"
