#!/usr/bin/env bash
# make test: installs what the tests need, starts the services they use, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/fixtures.sh
# Fyne reads the locale from LANG and warns about plain C.
export LANG=en_US.UTF-8
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/podium-pulse}
bash scripts/vmic.sh start
# The real-window tests get their own display, never a real desktop (PODIUM_TEST_DISPLAY and
# XDG_RUNTIME_DIR give a second run on one machine its own screen and microphone).
export DISPLAY=${PODIUM_TEST_DISPLAY:-:99}
source scripts/xvfb.sh start

echo "== gofmt and go vet (Linux and Windows)" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
make -s vet-windows

echo "== go test -race" >&2
# One package at a time: the capture tests share the one virtual microphone.
go test -race -p 1 -count=1 -timeout 20m $(go list ./... | grep -v '/scripts/wintest$')

# The Windows build under Wine (scripts/wine.sh): its own step, without -race (the race
# detector would check this host's test driver, not podium.exe, and double its build).
echo "== go test ./scripts/wintest (Wine)" >&2
go test -count=1 -timeout 15m ./scripts/wintest/
