#!/usr/bin/env bash
# Builds, once, the Python environment in which test/chartcode runs the
# charts' own configuration code (the hub and gateway images' pins, from
# test/chartcode/requirements.txt), and prints its python. Cached under a
# key of the requirements and the interpreter, so a warm run costs a hash.
#   DHUB_TOOLS_CACHE  where it is kept (default ~/.cache/dhub)
set -euo pipefail
cd "$(dirname "$0")/.."
req=test/chartcode/requirements.txt
key=$( { cat "$req"; python3 -V 2>&1; } | sha256sum | cut -c1-16)
dir=${DHUB_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dhub}/chart-python/$key
# One install at a time: two test runs at once would otherwise remove each
# other's half-made environment.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if [ -x "$dir/bin/python" ] && [ -e "$dir/.complete" ]; then
  echo "$dir/bin/python"
  exit 0
fi
rm -rf "$dir"
start=$SECONDS
printf 'chart-python: installing the hub and gateway images'\'' pins into %s\n' "$dir" >&2
python3 -m venv "$dir"
"$dir/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" >&2
touch "$dir/.complete"
printf 'chart-python: ready in %ds\n' $((SECONDS - start)) >&2
echo "$dir/bin/python"
