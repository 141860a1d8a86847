#!/usr/bin/env bash
# Runs every dhub test tier on a fresh machine, installing what the tiers need.
# A tier that cannot run fails the whole run: nothing is skipped silently.
#   FUZZTIME         how long the config loader is fuzzed (default 30s)
#   DHUB_TEST_LOGS   where each step's full go test -v output goes
#                    (default a new temporary directory)
#   DHUB_TEST_ARTIFACTS  set to $DHUB_TEST_LOGS/artifacts: the browser
#                    test's screenshots
# Tiers: unit tests with the race detector (config, charts, render, cli,
# deploy, local, smoke, azure against the Azure SDK's fake servers), the
# charts' own code (test/chartcode: the real charts' configuration run with
# dhub's values in a Python environment with the images' pins), the
# Kubernetes tier (kube, kube/kubetest and test/cluster, each on a real
# control plane with kwok nodes), fuzz, real nodes (test/realcluster: the
# real charts through dhub's verbs on three real kubelets; needs root, and
# builds its tools and images once), and end to end on the local target
# (real JupyterHub, Dask Gateway and Dask from PyPI in a Python environment
# dhub builds; needs python3 3.11+).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
die() { printf 'test: %s\n' "$*" >&2; exit 1; }

# Each go test step keeps its full -v output in $logs/<step>.log and shows
# the packages' verdicts and failures. A step that runs no test fails: a
# tier that cannot find its tests must not pass empty.
logs=${DHUB_TEST_LOGS:-$(mktemp -d -t dhub-test-logs.XXXXXX)}
mkdir -p "$logs"
gotest() {
  local name=$1; shift
  local log=$logs/$name.log status=0 start=$SECONDS
  go test -v "$@" 2>&1 | tee "$log" | { grep -E '^(ok |FAIL|--- FAIL|panic:|\?  )' || true; } || status=$?
  if [ "$status" -ne 0 ]; then
    # Each failed test with its messages (go test -v interleaves parallel
    # tests, so each line is filed under the test its === line names),
    # then the end of the output (build errors, panics, a cluster that did
    # not start).
    awk '
      /^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; next }
      /^ *--- (PASS|SKIP)/ { next }
      /^ *--- FAIL: / { failed[$3] = 1; out[$3] = out[$3] $0 "\n"; next }
      /^(PASS|FAIL|ok |FAIL\t)/ { cur = ""; next }
      cur != "" { out[cur] = out[cur] $0 "\n" }
      END { for (t in failed) printf "%s", out[t] }' "$log"
    printf -- '-- the last lines of %s:\n' "$log"
    tail -n 60 "$log"
    die "$name failed (exit $status); full output in $log"
  fi
  local ran
  ran=$(grep -c '^=== RUN' "$log" || true)
  [ "$ran" -gt 0 ] || die "$name ran no test; full output in $log"
  ! grep -q '\[no tests to run\]\|no fuzz tests to fuzz\|\[no test files\]' "$log" ||
    die "$name: a package it must test has none to run ($(grep -m1 'no test' "$log")); full output in $log"
  printf '%s: %d tests run in %ds\n' "$name" "$ran" $((SECONDS - start))
}

command -v go >/dev/null || die "Go 1.26 or newer is required on PATH"
command -v python3 >/dev/null || die "python3 (3.11 or newer) is required: the local target's end-to-end tier runs it"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 is $(python3 -V 2>&1); the local target needs 3.11 or newer"

step "images for real nodes: started in the background, to overlap the compiles below"
# Debootstrap and the packages' downloads wait on the network more than on
# the CPU. Without the node tools this run makes every image but the
# user-scheduler's and traefik's; the step below adds those two and reuses
# the rest from the cache.
early_images_log=$logs/node-images-early.log
DHUB_NODE_TOOLS= setsid scripts/node-images.sh >"$early_images_log" 2>&1 &
early_images=$!
# Its own process group: a failed run stops it with everything it started.
background=("$early_images")
stop_background() { for g in "${background[@]}"; do kill -- -"$g" 2>/dev/null || true; done; }
trap stop_background EXIT
echo "output in $early_images_log"

step "real nodes' tools: started in the background at the lowest CPU priority (built once, cached)"
# Cold, they are half an hour of compiling. At nice 19 they take only the CPU
# the steps below leave idle (module downloads, waits on control planes, pip,
# browsers), so those steps' own times barely move. kubelet and kube-proxy
# come last, long after the control plane's tools have compiled the packages
# they share.
node_tools_out=$logs/node-tools.out node_tools_log=$logs/node-tools.log
setsid nice -n 19 scripts/node-tools.sh >"$node_tools_out" 2>"$node_tools_log" &
background+=("$!")
node_tools=$!
echo "output in $node_tools_log"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

step "go vet (with and without the e2e build tag)"
go vet ./...
go vet -tags e2e ./...

step "build"
go build -o bin/dhub ./cmd/dhub

step "Kubernetes test tools: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (built once, cached)"
# Every package whose tests start a kwok control plane (internal/kube/kubetest) finds them here.
DHUB_KUBE_TOOLS=$(scripts/kube-tools.sh) || die "building the Kubernetes test tools failed (output above)"
export DHUB_KUBE_TOOLS
echo "$DHUB_KUBE_TOOLS"

step "the hub and gateway images' Python packages, for the charts' own code (installed once, cached)"
# test/chartcode runs the real charts' configuration code with them.
DHUB_CHART_PYTHON=$(scripts/chart-python.sh) || die "installing the images' Python packages failed (output above)"
export DHUB_CHART_PYTHON
echo "$DHUB_CHART_PYTHON"

step "unit and Kubernetes tests, with the race detector (each package with a control plane starts its own)"
# Only packages with test files: the rest would print [no test files].
# test/realcluster is its own step below: its cluster needs the nodes' tools
# and images, and the race detector buys nothing where the work happens in
# other processes.
mapfile -t tested < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -v '^dhub/test/realcluster$')
# Two packages at a time: with four, three control planes starting at once
# beside race-built tests starved a kube-apiserver past kwokctl's bound.
gotest unit -race -count=1 -p 2 "${tested[@]}"

step "fuzz the config loader for ${FUZZTIME:-30s}"
# Minimizing the first large input would otherwise eat the whole budget.
gotest fuzz -run '^FuzzLoad$' -fuzz '^FuzzLoad$' -fuzztime "${FUZZTIME:-30s}" -fuzzminimizetime 200x ./internal/config
grep -q '^fuzz: elapsed' "$logs/fuzz.log" || die "fuzz: FuzzLoad did not fuzz; full output in $logs/fuzz.log"

step "a browser for the end-to-end tier: Debian's chromium (installed once)"
if ! command -v chromium >/dev/null; then
  command -v apt-get >/dev/null || die "the browser test needs chromium: install Debian's chromium package"
  scripts/apt-install.sh chromium 2>/dev/null || die "installing Debian's chromium failed"
fi
chromium --version

step "end to end: the local target (plan and up, smoke, a person in Chromium, up again, down, failures)"
export DHUB_TEST_ARTIFACTS=$logs/artifacts
gotest e2e -tags e2e -count=1 -timeout 30m ./test/e2e
echo "screenshots of the browser test: $DHUB_TEST_ARTIFACTS/browser"

step "real nodes: kubelet, kube-proxy, containerd, CoreDNS, local-path-provisioner, kube-router, the user-scheduler's kube-scheduler, traefik (from the background build above)"
wait "$node_tools" || { tail -n 40 "$node_tools_log"; die "building the real nodes' tools failed; output in $node_tools_log"; }
DHUB_NODE_TOOLS=$(tail -n 1 "$node_tools_out")
[ -n "$DHUB_NODE_TOOLS" ] || die "the real nodes' tools build printed no directory; output in $node_tools_log"
export DHUB_NODE_TOOLS
grep 'built ' "$node_tools_log" || true
echo "$DHUB_NODE_TOOLS"

step "images for real nodes: the charts', the hub's and a user's, built from Debian, PyPI and npm (built once, cached)"
wait "$early_images" || die "building the real nodes' images failed; output in $early_images_log"
DHUB_NODE_IMAGES=$(scripts/node-images.sh) || die "building the real nodes' images failed (output above)"
export DHUB_NODE_IMAGES
echo "$DHUB_NODE_IMAGES"

step "real nodes: the hub on three real nodes (control plane, kubelets with containerd and runc, CNI, kube-proxy, CoreDNS, volumes, NetworkPolicies)"
[ "$(id -u)" -eq 0 ] || die "the real-node tier needs root (namespaces, mounts, cgroups, links); run ./scripts/test.sh as root"
gotest realnodes -count=1 -timeout 30m ./test/realcluster

