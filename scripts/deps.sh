#!/usr/bin/env bash
# Installs the Debian packages Podium needs, only those missing, so a ready machine starts fast.
#   scripts/deps.sh run    what building and running the app needs
#   scripts/deps.sh test   that, plus what the tests use (virtual microphone, speech, ffmpeg, Xvfb, Chromium,
#                          and for the Wine tests mingw-w64, Wine and the Windows C libraries: windeps.sh)
set -euo pipefail
set_=${1:-run}
run_pkgs=(gcc pkg-config libopus-dev libopusfile-dev libmp3lame-dev libebur128-dev libspeexdsp-dev
  libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
  libasound2 libpulse0)
test_pkgs=(xvfb xauth xdotool imagemagick pulseaudio pulseaudio-utils espeak-ng sox ffmpeg chromium
  iproute2 nftables nginx)
pkgs=("${run_pkgs[@]}")
[ "$set_" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed: get Go 1.26 or newer from https://go.dev/dl/" >&2
  exit 1
fi
go mod download
if [ "$set_" = test ]; then
  # The tests' S3 server: versitygw, a real S3 gateway over a local folder (Apache-2.0).
  gobin=$(go env GOPATH)/bin
  if ! go version -m "$gobin/versitygw" 2>/dev/null | grep -q "mod\s*github.com/versity/versitygw\s*v1.8.0"; then
    echo "deps: building versitygw v1.8.0 (the tests' S3 server) into $gobin" >&2
    GOFLAGS= GOBIN="$gobin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
  fi
  # The Wine tests (scripts/wintest): windeps.sh installs mingw-w64, Wine and NSIS (only what
  # is missing) and builds the Windows C libraries once per version, into a cache that a
  # second run finds in well under a second.
  bash scripts/windeps.sh >/dev/null
fi
