#!/usr/bin/env bash
# Runs every dhub test tier on a fresh machine, installing what the tiers need.
# A tier that cannot run fails the whole run: nothing is skipped silently.
#   FUZZTIME  how long the config loader is fuzzed (default 30s)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
die() { printf 'test: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go 1.26 or newer is required on PATH"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

step "go vet"
go vet ./...

step "build"
go build -o bin/dhub ./cmd/dhub

step "unit tests (config, charts, render, cli)"
go test -count=1 ./...

step "fuzz the config loader for ${FUZZTIME:-30s}"
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime "${FUZZTIME:-30s}" ./internal/config
