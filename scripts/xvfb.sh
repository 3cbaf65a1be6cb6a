#!/usr/bin/env bash
# A virtual X display for the real-window tests (software GL, no screen needed).
#   source scripts/xvfb.sh start   starts Xvfb on :99 if nothing answers there; exports DISPLAY
#   scripts/xvfb.sh stop           stops the Xvfb this script started
# DISPLAY=:N picks another display. The server's pid is kept in /tmp/podium-xvfb-N.pid.
set -euo pipefail
cmd=${1:-start}
export DISPLAY=${DISPLAY:-:99}
num=${DISPLAY#:}
num=${num%%.*}
pidfile=/tmp/podium-xvfb-$num.pid
case "$cmd" in
start)
  if ! xdotool getdisplaygeometry >/dev/null 2>&1; then
    Xvfb "$DISPLAY" -screen 0 1280x800x24 -nolisten tcp >/tmp/podium-xvfb-$num.log 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
      xdotool getdisplaygeometry >/dev/null 2>&1 && break
      sleep 0.05
    done
  fi
  xdotool getdisplaygeometry >/dev/null 2>&1 || { echo "xvfb: display $DISPLAY did not start (see /tmp/podium-xvfb-$num.log)" >&2; exit 1; }
  ;;
stop)
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  ;;
*)
  echo "usage: xvfb.sh start|stop" >&2
  exit 2
  ;;
esac
