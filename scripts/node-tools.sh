#!/usr/bin/env bash
# Builds, once, every binary the real-node test tier runs besides the control
# plane of scripts/kube-tools.sh, and prints the directory that holds them:
#   kubelet, kube-proxy              the nodes (tools/kube, beside the control plane)
#   containerd, containerd-shim-runc-v2, ctr
#                                    the nodes' container runtime; ctr imports the images
#   coredns                          cluster DNS (tools/coredns: only the plugins used)
#   local-path-provisioner           dynamic volumes for users' claims
#   kube-router                      NetworkPolicy enforcement
#   kube-scheduler-1.30.14           the JupyterHub chart's user-scheduler (tools/kube130)
#   traefik                          the Dask Gateway chart's proxy
# First it has scripts/node-packages.sh install the Debian packages the tier
# runs with them (runc, CNI plugins, iptables, ipset, ...).
# All are static (CGO_ENABLED=0), from the Go module proxy, each checked to
# run and report its version before the set counts as built. The set is
# cached under a key of the tools modules' go.mod/go.sum, `go version` and
# this script (its versions, tags and ldflags); it is built in a temporary
# directory renamed into place at the end, so a half-made set is never taken
# as complete, and under a lock, so two runs at once build it once.
# Progress, with elapsed seconds and each binary's build time, goes to
# stderr; the last line of stdout is the directory.
#   DHUB_TOOLS_CACHE  where builds are kept (default ~/.cache/dhub); the set
#                     goes under node-tools/<key> there
# Cold: about 35 minutes on 2 cores shared with other work (traefik ~10,
# kube-scheduler 1.30 ~7, kubelet ~5 on top of kube-tools.sh's build, coredns,
# kube-router, containerd, local-path-provisioner 2-4 each); about a minute
# when only the key changed and Go's build cache is warm.
# Warm: a hash and a few dpkg queries, well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/node-packages.sh

# The Kubernetes versions are those the tools modules require, so the version
# the binaries report is always that of the source they are built from.
kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' tools/kube/go.mod)
kube130_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' tools/kube130/go.mod)
containerd_version=v2.4.2
# Leaves out the btrfs, devmapper and zfs snapshotters (they want cgo or host
# tools); the tier's nodes use overlayfs.
containerd_tags="no_btrfs no_devmapper no_zfs"
# CoreDNS is built from tools/coredns, whose main compiles in only the plugins
# the tier's Corefile uses.
coredns_version=$(awk '$1 == "github.com/coredns/coredns" { print $2 }' tools/coredns/go.mod)
local_path_version=v0.0.30
# v2.1.0 is the newest kube-router version served here. The tier runs only its
# firewall (NetworkPolicy) controller, in tests, so its age matters little.
kube_router_version=v2.1.0
# The tag the Dask Gateway chart 2026.3.0 pins for its proxy. traefik's own
# release builds report it without the v, and so does this one.
traefik_version=v3.3.5

# The key takes in this script's own text, not just the versions above: its
# tags and ldflags are part of what it makes too. An edit to it costs a
# rebuild, about a minute while Go's build cache is warm.
key=$( { cat tools/kube/go.mod tools/kube/go.sum tools/kube130/go.mod tools/kube130/go.sum tools/coredns/go.mod tools/coredns/go.sum tools/coredns/main.go scripts/node-tools.sh; go version; } | sha256sum | cut -c1-16)
cache=${DHUB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dhub}/node-tools
dir=$cache/$key
tools=(kubelet kube-proxy containerd containerd-shim-runc-v2 ctr coredns local-path-provisioner kube-router "kube-scheduler-${kube130_version#v}" traefik)
complete() { for t in "${tools[@]}"; do [ -x "$dir/bin/$t" ] || return 1; done; }
if complete; then
  echo "$dir/bin"
  exit 0
fi

# One build at a time: a second run waits for the first and then finds its set.
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if complete; then
  echo "$dir/bin"
  exit 0
fi
# Left by a run that was killed; no other run can be using it while we hold the lock.
rm -rf "$dir".tmp.*
tmp=$dir.tmp.$$
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/src"

start=$SECONDS
log() { printf 'node-tools: %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }
export CGO_ENABLED=0
# Builds one binary by running the rest of the line, and logs how long it took.
build() {
  local name=$1 t0=$SECONDS
  shift
  log "building $name"
  "$@"
  log "built $name in $((SECONDS - t0))s"
}
# GOBIN-based installs of a package at a version, for modules that `go install` accepts.
go_install() { GOBIN=$tmp/bin go install -trimpath "$@"; }

kube_ldflags() { # the version flags of Kubernetes' own build, for version $1
  local minor=${1#v1.}
  minor=${minor%%.*}
  echo "-s -w -X k8s.io/component-base/version.gitVersion=$1 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
}
kube_build() { # module directory, version, package, output name
  (cd "$1" && go build -trimpath -ldflags "$(kube_ldflags "$2")" -o "$tmp/bin/$4" "$3")
}

containerd_ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd_version"
for cmd in containerd containerd-shim-runc-v2 ctr; do
  build "$cmd $containerd_version" go_install -tags "$containerd_tags" -ldflags "$containerd_ldflags" \
    "github.com/containerd/containerd/v2/cmd/$cmd@$containerd_version"
done

# traefik's go.mod has replace directives, so `go install` refuses it, and its
# module zip lacks webui/static, the built dashboard that webui/embed.go
# embeds. It is built from a copy of the module's source, as its own main
# module (so its replaces and go.sum hold), with a placeholder page there:
# the gateway uses traefik only as a proxy, never its dashboard.
traefik_build() {
  local src
  src=$(cd "$tmp" && go mod download -json "github.com/traefik/traefik/v3@$traefik_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "node-tools: no source directory for traefik $traefik_version" >&2; return 1; }
  cp -R "$src" "$tmp/src/traefik"
  chmod -R u+w "$tmp/src/traefik"
  mkdir -p "$tmp/src/traefik/webui/static"
  cat >"$tmp/src/traefik/webui/static/index.html" <<'EOF'
<!doctype html>
<title>traefik</title>
<p>The dashboard UI is not built into this traefik; it runs only as a proxy.</p>
EOF
  # -mod=readonly so every dependency is checked against traefik's own go.sum
  # and a missing or mismatched sum fails the build instead of being added.
  (cd "$tmp/src/traefik" && go build -mod=readonly -trimpath \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${traefik_version#v}" \
    -o "$tmp/bin/traefik" ./cmd/traefik)
  rm -rf "$tmp/src/traefik"
}
build "traefik $traefik_version" traefik_build

build "coredns $coredns_version (bind, errors, kubernetes, cache)" \
  sh -c 'cd tools/coredns && go build -trimpath -ldflags "-s -w" -o "$1" .' coredns "$tmp/bin/coredns"
build "local-path-provisioner $local_path_version" go_install -ldflags "-s -w -X main.VERSION=$local_path_version" \
  "github.com/rancher/local-path-provisioner@$local_path_version"
build "kube-router $kube_router_version" go_install \
  -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$kube_router_version" \
  "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$kube_router_version"
build "kube-scheduler $kube130_version" kube_build tools/kube130 "$kube130_version" k8s.io/kubernetes/cmd/kube-scheduler "kube-scheduler-${kube130_version#v}"
build "kubelet $kube_version" kube_build tools/kube "$kube_version" k8s.io/kubernetes/cmd/kubelet kubelet
build "kube-proxy $kube_version" kube_build tools/kube "$kube_version" k8s.io/kubernetes/cmd/kube-proxy kube-proxy
rmdir "$tmp/src"

# Each binary must run and report the version it was built at; a set that
# built but does not run is not cached.
check() { # binary, the text its version output must hold, the version arguments
  local name=$1 want=$2 out
  shift 2
  if ! out=$("$tmp/bin/$name" "$@" 2>&1) || ! grep -qF -- "$want" <<<"$out"; then
    printf 'node-tools: %s %s did not report %s:\n%s\n' "$name" "$*" "$want" "$out" >&2
    return 1
  fi
  log "$name: $(grep -m1 -F -- "$want" <<<"$out")"
}
check kubelet "Kubernetes $kube_version" --version
check kube-proxy "Kubernetes $kube_version" --version
check containerd "$containerd_version" --version
check containerd-shim-runc-v2 "$containerd_version" -v
check ctr "$containerd_version" --version
check coredns "CoreDNS-${coredns_version#v}" -version
check local-path-provisioner "$local_path_version" --version
check kube-router "$kube_router_version" --version
check "kube-scheduler-${kube130_version#v}" "Kubernetes $kube130_version" --version
check traefik "${traefik_version#v}" version

rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
log "done: $dir/bin"
echo "$dir/bin"
