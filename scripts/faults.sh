#!/usr/bin/env bash
# make faults: every fault scenario at full length (make test runs the quick versions).
# Each scenario prints one "FAULT name: what it did and the figure it measured" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/fixtures.sh
export LANG=${LANG:-C.UTF-8}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/podium-pulse}
bash scripts/vmic.sh start
# TestCrashGUI drives the real window: on its own display, never a real desktop.
export DISPLAY=${PODIUM_TEST_DISPLAY:-:99}
source scripts/xvfb.sh start
PODIUM_FAULTS=full go test -count=1 -v -timeout 60m ./scripts/faults/ | tee testdata/gen/faults-report.txt | grep -E '^(FAULT|--- |ok|FAIL|PASS)'
