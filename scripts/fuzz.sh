#!/usr/bin/env bash
# make fuzz: runs every go test -fuzz target (parsers of outside input) for FUZZTIME each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh run
time=${FUZZTIME:-30s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($time)" >&2
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg"
  done
done
