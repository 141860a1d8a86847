#!/usr/bin/env bash
# Prints the local target's costs: cold up (environment install) and warm up,
# smoke per-phase times with a LocalCluster comparison, idle memory of all the
# hub's processes. Uses a throwaway state directory and a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/dhub ./cmd/dhub
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cfg="$work/dhub.yaml"
printf 'name: measure\ntarget: local\nlocal:\n  port: %s\n  stateDir: %s/state\n' "$port" "$work" > "$cfg"
trap 'bin/dhub down --yes -f "$cfg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

t() { local s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
echo "cold up (creates the environment): $(t bin/dhub up -f "$cfg") s"
bin/dhub down --yes -f "$cfg" >/dev/null 2>&1
echo "warm up (environment reused, processes started): $(t bin/dhub up -f "$cfg") s"
echo "no-op up (already running): $(t bin/dhub up -f "$cfg") s"
sleep 5
rss=$(ps -o rss= -p "$(pgrep -d, -f "$work/state")" | awk '{s+=$1} END {print s}')
echo "idle hub memory (RSS of all its processes): $((rss / 1024)) MiB"
bin/dhub smoke -f "$cfg" --workers 2 --compare-local 2>/dev/null
echo "down: $(t bin/dhub down --yes -f "$cfg") s"
