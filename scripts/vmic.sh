#!/usr/bin/env bash
# A real microphone on a machine with no sound card: a user-mode PulseAudio with a null sink
# "vspk" whose monitor is remapped into the source "vmic" (the default source). Whatever is
# played to vspk (paplay) is what miniaudio captures from vmic.
#   source scripts/vmic.sh start   (exports XDG_RUNTIME_DIR for everything that follows)
#   scripts/vmic.sh stop
set -euo pipefail
cmd=${1:-start}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/podium-pulse}
mkdir -p "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
case "$cmd" in
start)
  if ! pactl info >/dev/null 2>&1; then
    pulseaudio -D --exit-idle-time=-1 --log-target=stderr 2>/dev/null || true
    for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  pactl info >/dev/null
  pactl list short sinks | grep -q vspk ||
    pactl load-module module-null-sink sink_name=vspk rate=48000 channels=1 >/dev/null
  pactl list short sources | grep -qw vmic ||
    pactl load-module module-remap-source master=vspk.monitor source_name=vmic >/dev/null
  pactl set-default-source vmic
  pactl set-default-sink vspk
  ;;
stop)
  pulseaudio --kill 2>/dev/null || true
  ;;
*)
  echo "usage: vmic.sh start|stop" >&2
  exit 2
  ;;
esac
