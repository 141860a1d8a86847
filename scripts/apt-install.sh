#!/usr/bin/env bash
# Installs the Debian packages named on the command line (apt-get update,
# then install without recommends; through sudo when not root), one such
# install at a time among dhub's scripts. The test run installs packages from
# steps that run side by side, and while DPkg::Lock::Timeout makes install
# wait for dpkg's lock, apt-get update fails at once on the lists' lock.
# Output goes to stderr.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 package..." >&2; exit 2; }
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=600)
exec 9>"${TMPDIR:-/tmp}/dhub-apt.lock"
flock 9
"${apt[@]}" update >&2
"${apt[@]}" install --no-install-recommends "$@" >&2
