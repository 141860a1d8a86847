#!/usr/bin/env bash
# Installs the Debian packages the real-node test tier runs alongside the
# binaries of scripts/node-tools.sh: runc and the CNI plugins under the
# kubelet's containerd, the netfilter tools kube-proxy and kube-router write
# rules with, the namespace tools each node is entered with, and the image
# tools (umoci, skopeo, debootstrap, a static busybox) the tier builds its
# images with. Installs only what is missing, with apt-get (through sudo when
# not root); `apt-get update` runs only then. Afterwards checks each package's
# commands or files are there, and fails naming the ones that are not.
# Cost: a few dpkg queries when all is installed; a minute or so otherwise.
set -euo pipefail

# Each line: a package, then the commands (bare names) or files (absolute
# paths) the tier uses from it. A package counts as missing when dpkg has it
# not installed or any of these is absent.
wants=(
  "runc runc"
  "containernetworking-plugins /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/portmap /usr/lib/cni/loopback"
  "iptables iptables ip6tables"
  "ipset ipset"
  "iproute2 ip"
  "util-linux nsenter unshare"
  "conntrack conntrack"
  "umoci umoci"
  "skopeo skopeo"
  "debootstrap debootstrap"
  # The binary of the dynamic busybox package sits at the same path; the
  # images need the static one, hence the dpkg query as well.
  "busybox-static /bin/busybox"
)

# Non-root users often lack the sbin directories on PATH, where most of these live.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

present() { # a command name or an absolute path
  case $1 in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

# Prints the packages of $wants that are missing, with what is missing of each
# when asked for (`missing long`).
missing() {
  local want pkg things thing absent
  for want in "${wants[@]}"; do
    read -r pkg things <<<"$want"
    absent=()
    if [ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
      absent+=("the package itself")
    fi
    for thing in $things; do present "$thing" || absent+=("$thing"); done
    [ ${#absent[@]} -eq 0 ] && continue
    if [ "${1:-}" = long ]; then
      echo "$pkg (${absent[*]})"
    else
      echo "$pkg"
    fi
  done
}

mapfile -t need < <(missing)
if [ ${#need[@]} -gt 0 ]; then
  start=$SECONDS
  printf 'node-packages: installing %s\n' "${need[*]}" >&2
  # Recommends are left out: runc's is criu (checkpointing), never used here.
  "$(dirname "$0")/apt-install.sh" "${need[@]}"
  printf 'node-packages: installed in %ds\n' $((SECONDS - start)) >&2
fi

mapfile -t still < <(missing long)
if [ ${#still[@]} -gt 0 ]; then
  printf 'node-packages: still missing after install:\n' >&2
  printf '  %s\n' "${still[@]}" >&2
  exit 1
fi
