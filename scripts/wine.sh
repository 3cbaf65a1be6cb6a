#!/usr/bin/env bash
# Runs the Windows build under Wine, in the tests' own prefix, preparing what Wine needs the
# first time:
#   scripts/wine.sh podium ARGS…          podium.exe ARGS…
#   scripts/wine.sh podium-cli ARGS…      podium-cli.exe ARGS…
#   scripts/wine.sh podium-server ARGS…   podium-server.exe ARGS…
# podium.exe is the window's GUI-subsystem build; under Wine its output still reaches this
# terminal (Wine hands a program started from a Unix shell that shell's descriptors), which on
# Windows only podium-cli.exe's does.
# What runs is a test build in dist/wine/ (made here, incrementally, by make windows-exe,
# which is make windows without the installer): Go's
# net package asks every UDP socket for SIO_UDP_NETRESET, which Wine 8 does not implement
# (WSAEOPNOTSUPP, "wsaioctl: winapi error #10045"), so no WebRTC would work; the test build
# ignores that one error (a -overlay of net/fd_windows.go). dist/windows/, what users get, is
# built without it: real Windows has the option.
# The prefix is ${PODIUM_CACHE:-~/.cache/podium}/wine (WINEPREFIX overrides), made once by
# wineboot, plus bcryptprimitives.dll (scripts/wine/), which Go needs and Wine 8 lacks. Needs a
# display: source scripts/xvfb.sh start. Paths in ARGS are Wine's: /tmp/x.wav is Z:\tmp\x.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
prog=${1:?usage: scripts/wine.sh podium|podium-server ARGS…}
shift
export WINEPREFIX=${WINEPREFIX:-${PODIUM_CACHE:-$HOME/.cache/podium}/wine}
export WINEDEBUG=${WINEDEBUG:--all}
# No Mono or Gecko: Podium needs neither, and wineboot would ask to download them.
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
if [ ! -f "$WINEPREFIX/.podium-ready" ]; then
  echo "wine.sh: preparing the Wine prefix $WINEPREFIX" >&2
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1
  wineserver -w
  x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c -lbcrypt
  touch "$WINEPREFIX/.podium-ready"
fi

# The overlay is made from this Go's own file, so it follows Go's version; if the line it
# changes is no longer there, say so rather than build something untested.
# In a folder whose name starts with "_", which ./... skips: a fd_windows.go in dist/wine/overlay
# was a package to `make vet-windows` (internal/poll, not allowed), so a second make test in
# the same checkout failed.
overlay=dist/wine/_overlay
mkdir -p "$overlay"
src=$(go env GOROOT)/src/net/fd_windows.go
sed '/SIO_UDP_NETRESET/{n;s/if err != nil {/if err != nil \&\& err != syscall.Errno(10045) { \/\/ WSAEOPNOTSUPP: Wine 8 (Podium'"'"'s Wine test build only)/}' \
  "$src" >"$overlay/fd_windows.go.new"
if ! grep -q 'syscall.Errno(10045)' "$overlay/fd_windows.go.new"; then
  echo "wine.sh: $src has changed: the SIO_UDP_NETRESET overlay no longer applies" >&2
  exit 1
fi
# Rewritten only when it changes, so the build stays incremental.
if cmp -s "$overlay/fd_windows.go.new" "$overlay/fd_windows.go"; then
  rm "$overlay/fd_windows.go.new"
else
  mv "$overlay/fd_windows.go.new" "$overlay/fd_windows.go"
fi
printf '{"Replace":{"%s":"%s"}}\n' "$src" "$PWD/$overlay/fd_windows.go" >"$overlay/overlay.json"
make -s windows-exe WINOUT=dist/wine WINGOFLAGS="-overlay=$PWD/$overlay/overlay.json" >/dev/null
exec wine "dist/wine/$prog.exe" "$@"
