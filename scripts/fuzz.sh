#!/usr/bin/env bash
# make fuzz: every go test -fuzz target (the parsers of outside input) for FUZZTIME each
# (default 30s), through the fault suite's one fuzz harness (scripts/faults/fuzz_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh run
PODIUM_FUZZTIME=${FUZZTIME:-30s} go test -count=1 -v -timeout 0 -run '^TestFuzzTargetsBriefly$' ./scripts/faults/ |
  grep -E '^(FAULT|--- |ok|FAIL|PASS|\s+fuzz_test)'
