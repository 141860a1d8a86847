#!/usr/bin/env bash
# Prints dhub's cost on the recommended example: Go benchmarks of
# validate+render, wall time and peak memory of the binary, binary size.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -trimpath -ldflags '-s -w' -o bin/dhub ./cmd/dhub
example=examples/azure-recommended.yaml
export DHUB_AZUREAD_CLIENT_SECRET=measure-only
echo "binary size: $(stat -c %s bin/dhub) bytes ($(du -h bin/dhub | cut -f1))"
go test -run '^$' -bench . -benchmem ./internal/render ./internal/charts
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for verb in "validate -f $example" "render -f $example -o $out"; do
  /usr/bin/time -f "dhub $verb: %e s wall, %M KiB peak RSS" bin/dhub $verb >/dev/null 2>"$out/time" || { cat "$out/time"; exit 1; }
  grep 'peak RSS' "$out/time"
done
