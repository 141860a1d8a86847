#!/usr/bin/env bash
# Runs every dhub test tier on a fresh machine, installing what the tiers need.
# A tier that cannot run fails the whole run: nothing is skipped silently.
#   FUZZTIME  how long the config loader is fuzzed (default 30s)
# Tiers: unit (config, charts, render, cli, local, smoke), fuzz, and end to
# end on the local target (real JupyterHub, Dask Gateway and Dask from PyPI in
# a Python environment dhub builds; needs python3 3.11+).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
die() { printf 'test: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go 1.26 or newer is required on PATH"
command -v python3 >/dev/null || die "python3 (3.11 or newer) is required: the local target's end-to-end tier runs it"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 is $(python3 -V 2>&1); the local target needs 3.11 or newer"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

step "go vet"
go vet ./...

step "build"
go build -o bin/dhub ./cmd/dhub

step "Kubernetes test tools: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (built once, cached)"
# Every package whose tests start a kwok control plane (internal/kube/kubetest) finds them here.
DHUB_KUBE_TOOLS=$(scripts/kube-tools.sh) || die "building the Kubernetes test tools failed (output above)"
export DHUB_KUBE_TOOLS
echo "$DHUB_KUBE_TOOLS"

step "unit and Kubernetes tests (each package with a control plane starts its own)"
go test -count=1 ./...

step "fuzz the config loader for ${FUZZTIME:-30s}"
# Minimizing the first large input would otherwise eat the whole budget.
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime "${FUZZTIME:-30s}" -fuzzminimizetime 200x ./internal/config

step "end to end: the local target (up, status, smoke, up again, down, failures)"
go test -tags e2e -count=1 -timeout 30m -v ./test/e2e
