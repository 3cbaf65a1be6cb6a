#!/usr/bin/env bash
# make bench: issue 3's speed and memory report. Installs what the benchmarks need, makes the
# 10-minute speech fixture, runs every benchmark once (they are long and do their own timing),
# keeps the full output in testdata/gen/bench-report.txt and ends with a summary.
#   PODIUM_BENCH_HOURS=10   hours of audio for the memory benchmark (default 2)
#   PODIUM_BENCHTIME=3x     repeat each measurement and keep the best (default 1x)
#   PODIUM_BENCH_PROFILE=1  also write a CPU profile per package and print its top entries; for the
#                           window, a perf profile of each round's recording (its figures then
#                           include perf's own cost: compare ratios from runs without it)
#   PODIUM_BENCH_ONLY=gui   only the window's measurement (RSS and CPU, against minimal windows
#                           and against a browser tab doing the same job)
#   PODIUM_BENCH_DISPLAY=:N the virtual X display the windows open on (default :99)
#   PODIUM_BENCH_BIN=path   measure that podium binary instead of building bin/podium
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/fixtures.sh bench
export LANG=${LANG:-C.UTF-8}

# The window is measured against the smallest Fyne windows on the same display, built here
# from scripts/benchwin, so the figures say what Podium adds to what the toolkit costs:
# idle resident memory against a bare one-button window, and CPU while recording against a
# window that changes one label and one progress bar 12.5 times a second (the issue's yardstick;
# Podium's meter and clock redraw 10 times a second, which the issue allows: at least 10 Hz).
# Both are built with the same flags, make's GOFLAGS (-tags=no_emoji: see the Makefile), so
# run this as make bench to measure what ships.
gui_disp=${PODIUM_BENCH_DISPLAY:-:99}

# gui_open BIN TITLE [ARGS]: starts BIN on the virtual display with a fresh HOME and waits for
# its window; sets gui_pid, gui_win and gui_home. Returns 1 (and says why) if none came.
# With gui_prefs set, that JSON is Podium's preferences file in the fresh HOME.
gui_open() {
  local bin=$1 title=$2
  shift 2
  gui_home=$(mktemp -d /tmp/podium-gui-bench.XXXXXX)
  if [ -n "${gui_prefs:-}" ]; then
    mkdir -p "$gui_home/.config/fyne/app.podium.desktop"
    echo "$gui_prefs" >"$gui_home/.config/fyne/app.podium.desktop/preferences.json"
  fi
  env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$gui_home" LANG=en_US.UTF-8 DISPLAY="$gui_disp" \
    "$bin" "$@" >"$gui_home/out.log" 2>&1 &
  gui_pid=$!
  gui_win=
  for _ in $(seq 200); do
    gui_win=$(DISPLAY="$gui_disp" xdotool search --all --pid "$gui_pid" --onlyvisible --name "^$title\$" 2>/dev/null | head -n1) || true
    [ -n "$gui_win" ] && return 0
    sleep 0.1
  done
  echo "gui: not measured: no \"$title\" window after 20 s ($gui_home/out.log)"
  kill "$gui_pid" 2>/dev/null || true
  return 1
}

# gui_cputicks [PID]: CPU time (in clock ticks) the process tree of PID (default gui_pid) has
# used so far: every process under it (a browser is a dozen), each one's own utime+stime and
# its reaped children's (cutime+cstime), so a helper that exits mid-measurement still counts.
gui_cputicks() {
  # cat, not awk on the files, and its status ignored: a process that ends meanwhile must not
  # stop the count (mawk gives up at the first file it cannot open; pipefail and set -e would
  # end the caller)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="${1:-$gui_pid}" '
    {
      line = $0; pid = line; sub(/ .*/, "", pid)
      sub(/^.*\) /, "", line) # after the command name, which may hold spaces and parentheses
      split(line, f, " ")
      ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      for (p in ppid) {
        for (q = p; q != "" && q != 0 && q != root; q = ppid[q]) {}
        if (q == root) sum += ticks[p]
      }
      print sum + 0
    }'
}

# gui_rss SECS: samples gui_pid's resident memory (VmRSS) every second for SECS seconds and
# prints the peak and the mean, in kB; gui_cpu SECS prints the CPU it used in that time, in
# percent of one core.
gui_rss() {
  local rss peak=0 sum=0 n=0
  for _ in $(seq "$1"); do
    sleep 1
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$gui_pid/status")
    sum=$((sum + rss)) n=$((n + 1))
    [ "$rss" -gt "$peak" ] && peak=$rss
  done
  echo "$peak $((sum / n))"
}
# gui_cpu also prints, second, what the X server used meanwhile (drawing what the window sends
# it; -1 when this script did not start it), so windows that push their pixels differently
# (GL through Mesa, Chromium's software compositor) can be compared with that too.
gui_cpu() {
  local t0 t1 x0=0 x1=0 xpid
  xpid=$(cat "/tmp/podium-xvfb-${gui_disp#:}.pid" 2>/dev/null) || xpid=
  [ -n "$xpid" ] && x0=$(gui_cputicks "$xpid")
  t0=$(gui_cputicks)
  sleep "$1"
  t1=$(gui_cputicks)
  [ -n "$xpid" ] && x1=$(gui_cputicks "$xpid")
  awk -v ticks=$((t1 - t0)) -v xticks=$((x1 - x0)) -v x="$xpid" -v tck="$(getconf CLK_TCK)" -v secs="$1" \
    'BEGIN { printf "%.2f %.2f", 100 * ticks / tck / secs, x == "" ? -1 : 100 * xticks / tck / secs }'
}

gui_kill() {
  kill "$gui_pid" 2>/dev/null || true
  wait "$gui_pid" 2>/dev/null || true
  rm -rf "$gui_home"
}

# gui_reference: the two minimal windows. Prints one "gui-reference:" line.
gui_reference() {
  local secs=$1 idle=$2 bare anim xcpu
  gui_open bin/benchwin "Podium bench" || return 1
  sleep 3 # first frame
  read -r bare _ < <(gui_rss "$idle")
  gui_kill
  gui_open bin/benchwin "Podium bench" -animate || return 1
  sleep 3
  read -r anim xcpu < <(gui_cpu "$secs")
  gui_kill
  awk -v bare="$bare" -v anim="$anim" -v xcpu="$xcpu" 'BEGIN {
    printf "gui-reference: bare-idle-rss-MB=%.1f animated-cpu-percent=%.2f x-server-cpu-percent=%.2f (minimal Fyne windows, scripts/benchwin)\n", bare / 1024, anim, xcpu
  }'
}

# gui_bench: the measurements side by side, as many rounds as PODIUM_BENCHTIME says (3x:
# three; the summary takes the median of each ratio, as the machine may be shared): the minimal
# windows, the presenter's window (built-in server), the same session without a window, and
# then the window with a configured podium-server beside a browser tab doing the same job
# with the same server (gui_peers).
gui_bench() {
  local rounds=${PODIUM_BENCHTIME:-1x} secs=20 idle=5 i
  rounds=${rounds%x}
  local bin=${PODIUM_BENCH_BIN:-bin/podium}
  [ -n "${PODIUM_BENCH_BIN:-}" ] || go build -o bin/podium ./cmd/podium
  go build -o bin/benchwin ./scripts/benchwin
  go build -o bin/benchsession ./scripts/benchsession
  go build -o bin/benchtab ./scripts/benchtab
  go build -o bin/podium-server ./cmd/podium-server
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/podium-pulse}
  bash scripts/vmic.sh start
  DISPLAY="$gui_disp" bash scripts/xvfb.sh start
  gui_peers_start || return 1
  trap gui_peers_stop EXIT
  for i in $(seq "$rounds"); do
    [ "$rounds" = 1 ] || echo "gui-round: $i of $rounds"
    gui_reference "$secs" "$idle" || return 1
    gui_window "$bin" "$secs" "$idle" || return 1
    gui_headless "$secs" || return 1
    gui_prefs="{\"podium.server\":\"$gui_server/whip/window-$i\",\"podium.token\":\"$gui_token\"}" \
      gui_window "$bin" "$secs" 0 || return 1
    gui_tab "$secs" "$gui_server/whip/tab-$i" || return 1
  done
}

# gui_speech SECS: plays speech into the virtual microphone for SECS seconds and a little
# more, in the background; sets gui_player.
gui_speech() {
  timeout $(($1 + 5)) paplay --device=vspk testdata/gen/speech10min.wav 2>/dev/null &
  gui_player=$!
}

# gui_headless SECS: the window's work without the window (scripts/benchsession: the same
# session, settings, microphone and built-in live link, snapshots at the meter's rate), its
# CPU over SECS seconds of recording speech, so the report shows how much of the window's
# figure is the audio and the link. Prints "gui-headless:".
gui_headless() {
  local secs=$1 cpu
  gui_home=$(mktemp -d /tmp/podium-gui-bench.XXXXXX)
  env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$gui_home" LANG=en_US.UTF-8 bin/benchsession >"$gui_home/out.log" 2>&1 &
  gui_pid=$!
  for _ in $(seq 200); do
    grep -q '^recording' "$gui_home/out.log" && break
    kill -0 "$gui_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^recording' "$gui_home/out.log"; then
    echo "gui: headless session not measured: it did not start recording ($gui_home/out.log)"
    kill "$gui_pid" 2>/dev/null || true
    return 1
  fi
  gui_speech "$secs"
  sleep 2 # the same settling as the window's
  read -r cpu _ < <(gui_cpu "$secs")
  kill "$gui_player" 2>/dev/null || true
  wait "$gui_player" 2>/dev/null || true
  kill -TERM "$gui_pid"
  if ! wait "$gui_pid" || ! ls "$gui_home"/Podium/*.mp3 >/dev/null 2>&1; then
    echo "gui: headless session failed or saved nothing ($gui_home/out.log)"
    return 1
  fi
  rm -rf "$gui_home"
  echo "gui-headless: cpu-percent=$cpu over $secs s of recording (the same session without a window, scripts/benchsession)"
}

# gui_window BIN SECS IDLE: the presenter's window on the virtual display with a fresh HOME:
# its resident memory idle (as long as the bare window's was sampled), then recording the
# virtual microphone while speech plays into it. xdotool clicks Start as a presenter would;
# resident memory is sampled every second and CPU time counted over SECS s of recording;
# then Ctrl+Q and Enter (stop, save and quit) end it, and the MP3 has to be there.
# Prints "gui:" and "gui-detail:"; with gui_prefs set (a configured server) and IDLE 0, it
# measures only the CPU and prints "gui-server:".
gui_window() {
  local bin=$1 secs=$2 idle=$3 width peak mean idlepeak=0 cpu xcpu
  gui_open "$bin" Podium || return 1
  local pid=$gui_pid win=$gui_win home=$gui_home
  sleep 3 # first frame, the microphone list, the built-in server
  [ "$idle" = 0 ] || read -r idlepeak _ < <(gui_rss "$idle")
  width=$(DISPLAY="$gui_disp" xdotool getwindowgeometry --shell "$win" | sed -n 's/^WIDTH=//p')
  # The big button is the third row, 90–150 px from the window's top at any width.
  DISPLAY="$gui_disp" xdotool windowraise "$win" # the display may be shared
  DISPLAY="$gui_disp" xdotool mousemove --window "$win" $((width / 2)) 120 click 1
  for _ in $(seq 100); do
    DISPLAY="$gui_disp" xdotool search --all --pid "$pid" --onlyvisible --name '^Recording - Podium$' >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! DISPLAY="$gui_disp" xdotool search --all --pid "$pid" --onlyvisible --name '^Recording - Podium$' >/dev/null 2>&1; then
    echo "gui: not measured: clicking Start did not start a recording ($home/out.log)"
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  # speech into the microphone for the whole measurement, so the meter and encoders work
  gui_speech "$secs"
  local player=$gui_player
  sleep 2 # settle: the first second includes starting the link
  # CPU and memory over the same seconds: the memory sampler runs beside the CPU count
  gui_rss "$secs" >"$home/rss" &
  local sampler=$!
  local mode=builtin
  [ -z "${gui_prefs:-}" ] || mode=server
  gui_perf "$pid" "$secs" "window-$mode"
  read -r cpu xcpu < <(gui_cpu "$secs")
  gui_perf_report
  wait "$sampler"
  read -r peak mean <"$home/rss"
  # What the resident memory is: the process's own (anonymous) memory, and the software GL
  # renderer Xvfb makes Mesa load (llvmpipe: libLLVM and the dri driver; a desktop with a
  # GPU driver does not load it).
  local anon gl
  anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
  gl=$(awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ && name ~ /libLLVM|\/dri\// { kb += $2 } END { print kb + 0 }' "/proc/$pid/smaps")
  kill "$player" 2>/dev/null || true
  wait "$player" 2>/dev/null || true
  if [ -n "${gui_prefs:-}" ]; then
    echo "gui-server: cpu-percent=$cpu x-server-cpu-percent=$xcpu peak-rss-MB=$((peak / 1024)) over $secs s of recording (the window with a configured podium-server: voice processing, Opus, WHIP, the studio copy)"
  else
    awk -v anon="$anon" -v gl="$gl" -v peak="$peak" -v mean="$mean" -v idle="$idlepeak" -v cpu="$cpu" -v xcpu="$xcpu" -v secs="$secs" 'BEGIN {
    printf "gui: RSS %.1f MB, CPU %.1f %% of one core (goal < 120 MB, a small fraction of a core)\n", peak / 1024, cpu
    printf "gui-detail: peak-rss-MB=%.1f mean-rss-MB=%.1f idle-rss-MB=%.1f anon-MB=%.1f software-gl-MB=%.1f cpu-percent=%.2f x-server-cpu-percent=%.2f over %d s of recording\n", peak / 1024, mean / 1024, idle / 1024, anon / 1024, gl / 1024, cpu, xcpu, secs
  }'
  fi
  DISPLAY="$gui_disp" xdotool key --window "$win" ctrl+q
  sleep 1
  DISPLAY="$gui_disp" xdotool key --window "$win" Return # "Stop, save and quit"
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "gui: podium still running 20 s after Ctrl+Q and Enter; killed ($home/out.log)"
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" || { echo "gui: podium exited with an error ($home/out.log)"; return 1; }
  if ! ls "$home"/Podium/*.mp3 >/dev/null 2>&1; then
    echo "gui: no recording in $home/Podium after quitting"
    return 1
  fi
  rm -rf "$home"
}

# gui_peers_start: the configured server both the window and the browser tab stream to (a real
# podium-server on loopback with an operator token), and the page server for the tab
# (scripts/benchtab). Sets gui_server (http://127.0.0.1:PORT), gui_token and gui_tab_url.
gui_peers_start() {
  gui_peers=$(mktemp -d /tmp/podium-gui-peers.XXXXXX)
  gui_token=bench-$RANDOM$RANDOM
  bin/podium-server --listen 127.0.0.1:0 --dir "$gui_peers/recordings" --token "$gui_token" >"$gui_peers/server.log" 2>&1 &
  gui_server_pid=$!
  bin/benchtab >"$gui_peers/tab.log" 2>&1 &
  gui_tab_pid=$!
  gui_server= gui_tab_url=
  for _ in $(seq 100); do
    gui_server=$(sed -n 's|.*WHIP on \(http://[^ ]*\)/whip/.*|\1|p' "$gui_peers/server.log" | head -n1)
    gui_tab_url=$(sed -n 's/^page on //p' "$gui_peers/tab.log")
    [ -n "$gui_server" ] && [ -n "$gui_tab_url" ] && return 0
    sleep 0.1
  done
  echo "gui: podium-server or the tab's page server did not start ($gui_peers)"
  return 1
}

gui_peers_stop() {
  kill "${gui_server_pid:-}" "${gui_tab_pid:-}" 2>/dev/null || true
  wait "${gui_server_pid:-}" "${gui_tab_pid:-}" 2>/dev/null || true
  rm -rf "${gui_peers:-}"
}

# gui_tab SECS WHIP: the peer. A headed Chromium (a normal browser window, as a presenter has
# it, on the same virtual display and PulseAudio) opens scripts/benchtab's page, which takes
# the microphone with the browser's default voice processing, streams it by WHIP to the same
# podium-server, keeps a local copy with MediaRecorder and redraws a meter and a clock 10 times
# a second. Once it is live, the same speech plays and the CPU of Chromium's whole process
# tree is counted over SECS s. The page's reports (scripts/benchtab's "tab:" lines) must show
# it live, sending, recording and metering. Prints "gui-tab:".
gui_tab() {
  local secs=$1 whip=$2 dir pid from cpu xcpu last
  dir=$(mktemp -d /tmp/podium-gui-tab.XXXXXX)
  from=$(wc -l <"$gui_peers/tab.log")
  # setsid: Chromium and its helpers are one process group, ended together below
  DISPLAY="$gui_disp" setsid chromium --no-sandbox --no-first-run --no-default-browser-check \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$dir/profile" --use-fake-ui-for-media-stream --autoplay-policy=no-user-gesture-required \
    --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns \
    --window-size=520,700 --new-window "$gui_tab_url?whip=$whip&token=$gui_token" >"$dir/chromium.log" 2>&1 &
  pid=$!
  last=
  for _ in $(seq 300); do
    last=$(tail -n +"$((from + 1))" "$gui_peers/tab.log" | grep '^tab:' | tail -n1)
    case "$last" in *state=live*|*state=failed*) break ;; esac
    sleep 0.1
  done
  if [[ "$last" != *state=live* ]]; then
    echo "gui: tab not measured: the page did not go live ($dir/chromium.log; page said: ${last:-nothing})"
    kill -- -"$pid" 2>/dev/null || true
    return 1
  fi
  sleep 3 # the window's first frame and microphone list take as long
  gui_speech "$secs"
  local player=$gui_player
  sleep 2 # the same settling as the window's
  read -r cpu xcpu < <(gui_cpu_of "$pid" "$secs")
  kill "$player" 2>/dev/null || true
  wait "$player" 2>/dev/null || true
  sleep 2.1 # the page's next report
  last=$(tail -n +"$((from + 1))" "$gui_peers/tab.log" | grep '^tab:' | tail -n1)
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # every helper gone (and its X connections closed) before the next window opens: once, the
  # next minimal window found the display refusing it
  for _ in $(seq 50); do kill -0 -- -"$pid" 2>/dev/null || break; sleep 0.1; done
  sleep 1
  local f=${last#tab: }
  if [[ "$f" != *state=live* ]] || [[ "$f" == *sent-packets=0\ * ]] || [[ "$f" == *recorded-bytes=0\ * ]]; then
    echo "gui: tab stopped doing its job ($dir/chromium.log; page said: $last)"
    return 1
  fi
  rm -rf "$dir"
  echo "gui-tab: cpu-percent=$cpu x-server-cpu-percent=$xcpu ${f%% error=*} over $secs s of recording (headed Chromium, every process, scripts/benchtab)"
}

# gui_cpu_of PID SECS: gui_cpu for the process tree of PID.
gui_cpu_of() {
  local gui_pid=$1
  gui_cpu "$2"
}

# gui_perf PID SECS NAME: with PODIUM_BENCH_PROFILE=1 and perf installed, records where PID's
# time goes for SECS s (every thread, call graphs) into testdata/gen/bench-NAME.perf.data,
# beside the CPU count; gui_perf_report then prints the split by thread (the GL rasteriser's
# llvmpipe threads against the Go process) and by library, and the Go runtime's monitor.
gui_perf() {
  gui_perf_data=
  [ "${PODIUM_BENCH_PROFILE:-0}" = 1 ] && command -v perf >/dev/null 2>&1 || return 0
  gui_perf_data=testdata/gen/bench-$3.perf.data
  perf record -q -F 499 -g -p "$1" -o "$gui_perf_data" -- sleep "$2" >/dev/null 2>&1 &
  gui_perf_pid=$!
}
gui_perf_report() {
  [ -n "${gui_perf_data:-}" ] || return 0
  wait "$gui_perf_pid" 2>/dev/null || true
  echo "gui-profile: $gui_perf_data (perf report -i $gui_perf_data)"
  perf report -i "$gui_perf_data" --no-children --sort comm --stdio -g none 2>/dev/null |
    awk '/%/ && !/^#/ { printf "gui-profile:   thread %-12s %s\n", $2, $1 }'
  perf report -i "$gui_perf_data" --no-children --sort dso --stdio -g none 2>/dev/null |
    awk '/%/ && !/^#/ && n++ < 8 { printf "gui-profile:   library %-24s %s\n", $2, $1 }'
  perf report -i "$gui_perf_data" --children --sort sym --stdio -g none 2>/dev/null |
    awk '/\] (runtime\.sysmon|fyne.io\/fyne\/v2\/internal\/driver\/glfw\.\(\*gLDriver\)\.drawSingleFrame)$/ { printf "gui-profile:   with callees %-60s %s\n", $NF, $1 }'
}

# gui_goals: the window's two ratios against the minimal windows, from the report's lines:
# each round's ratio, and the median over the rounds. Beside the CPU ratio: the headless
# session's share, so a reader sees how much is the window and how much the audio and link.
gui_goals='
  function field(name,   i, v) {
    for (i = 2; i <= NF; i++) if (index($i, name "=") == 1) { v = $i; sub(/.*=/, "", v); return v + 0 }
    return -1
  }
  /^gui-reference:/ { nref++; refrss[nref] = field("bare-idle-rss-MB"); refcpu[nref] = field("animated-cpu-percent") }
  /^gui-detail:/ {
    gui = $0; ngui++
    guirss = field("peak-rss-MB"); guigl = field("software-gl-MB"); guicpu = field("cpu-percent")
    guiidle[ngui] = field("idle-rss-MB"); guicpus[ngui] = guicpu
  }
  /^gui-headless:/ { nhead++; headcpu[nhead] = field("cpu-percent") }
  /^gui-server:/ { nsrv++; srvcpu[nsrv] = field("cpu-percent") }
  /^gui-tab:/ { ntab++; tabcpu[ntab] = field("cpu-percent") }
  function median(a, n,   i, j, t, b) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && b[j - 1] > b[j]; j--) { t = b[j]; b[j] = b[j - 1]; b[j - 1] = t }
    return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
  }
  function guiratios(   n, i, rc, rr, rh, c, h, ref, of) {
    n = ngui < nref ? ngui : nref
    if (n == 0 || refcpu[1] <= 0 || refrss[1] <= 0) { printf "  %-52s not measured\n", "window against the minimal Fyne windows"; return }
    for (i = 1; i <= n; i++) { rc[i] = guicpus[i] / refcpu[i]; rr[i] = guiidle[i] / refrss[i]; if (i <= nhead) rh[i] = headcpu[i] / refcpu[i] }
    of = n > 1 ? sprintf("; median of %d rounds", n) : ""
    c = median(rc, n); ref = median(refcpu, n)
    printf "  window with built-in server / animated floor, CPU recording: %.2fx (goal <= 1.5x)  %s  [%.1f %% vs %.1f %% of one core: a minimal Fyne window, scripts/benchwin%s]\n", c, c <= 1.5 ? "met" : "NOT MET", median(guicpus, n), ref, of
    if (nhead >= n) {
      h = median(rh, n)
      printf "    of which the same session without a window: %.2fx (%.1f %%: audio, encoders, built-in live link); the window adds %.2fx\n", h, median(headcpu, n), c - h
    }
    tabratio()
    c = median(rr, n)
    printf "  window idle RSS: %.2fx bare window (goal <= 1.15x)  %s  [%.1f MB vs %.1f MB, both built with GOFLAGS=%s%s]\n", c, c <= 1.15 ? "met" : "NOT MET", median(guiidle, n), median(refrss, n), ENVIRON["GOFLAGS"], of
  }
  # the window with a configured server against the browser tab doing the same job, round by round
  function tabratio(   n, i, r, c, of) {
    n = nsrv < ntab ? nsrv : ntab
    if (n == 0 || tabcpu[1] <= 0) { printf "  %-52s not measured\n", "window with a configured server / browser tab"; return }
    for (i = 1; i <= n; i++) r[i] = srvcpu[i] / tabcpu[i]
    of = n > 1 ? sprintf("; median of %d rounds", n) : ""
    c = median(r, n)
    printf "  window with a configured server / browser tab, CPU recording: %.2fx (goal <= 0.6x)  %s  [%.1f %% vs %.1f %% of one core: headed Chromium, every process, scripts/benchtab%s]\n", c, c <= 0.6 ? "met" : "NOT MET", median(srvcpu, n), median(tabcpu, n), of
  }
'

if [ "${PODIUM_BENCH_ONLY:-}" = gui ]; then
  out=$(mktemp)
  status=0
  gui_bench | tee "$out" || status=1
  echo
  echo "goals:"
  awk "$gui_goals END { guiratios() }" "$out"
  rm -f "$out"
  exit "$status"
fi

gen=testdata/gen
report=$gen/bench-report.txt
benchtime=${PODIUM_BENCHTIME:-1x}

pkgs=(./app/ ./app/studio/ ./audio/ ./audio/voice/ ./cmd/podium/ ./cmd/podium-server/)
# rtc only joins when it has benchmarks; if it does not build, that is for make test to report.
if list=$(go test -list 'Benchmark.*' ./rtc/ 2>&1); then
  if grep -q '^Benchmark' <<<"$list"; then pkgs+=(./rtc/); fi
else
  echo "bench: ./rtc/ does not build; its benchmarks (if any) are skipped:" >&2
  tail -n 5 <<<"$list" >&2
fi

{
  echo "# podium bench $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $(go version | cut -d' ' -f3)," \
    "$(ffmpeg -version | head -n1 | cut -d' ' -f1-3), PODIUM_BENCH_HOURS=${PODIUM_BENCH_HOURS:-2}, load $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$report"

status=0
# One package at a time: the benchmarks time wall clock, and two at once would share the cores.
for pkg in "${pkgs[@]}"; do
  prof=()
  if [ "${PODIUM_BENCH_PROFILE:-0}" = 1 ]; then
    name=$(basename "$pkg")
    prof=(-cpuprofile "$gen/bench-$name-cpu.prof" -o "$gen/bench-$name.test")
  fi
  go test -run '^$' -bench . -benchtime "$benchtime" -v -timeout 3h "${prof[@]}" "$pkg" 2>&1 |
    tee -a "$report" || status=$?
  if [ ${#prof[@]} -gt 0 ] && [ -s "$gen/bench-$name-cpu.prof" ]; then
    go tool pprof -top -nodecount 15 "$gen/bench-$name.test" "$gen/bench-$name-cpu.prof" 2>/dev/null |
      tee -a "$report" || true
  fi
done

# The window last, alone on the machine.
gui_bench | tee -a "$report" || status=1

# Summary: every reported metric, then the issue's goals. Ratios are ffmpeg time / Podium time.
awk "$gui_goals"'
  /^Benchmark.*ns\/op/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    line = ""
    for (i = 5; i < NF; i += 2) { line = line sprintf(" %s=%s", $(i + 1), $i); m[name, $(i + 1)] = $i }
    printf "%-46s%s\n", name, line
    seen[name] = 1
  }
  function goal(label, name, unit, op, want,   v, ok) {
    if (!((name, unit) in m)) { printf "  %-52s not measured\n", label; return }
    v = m[name, unit]
    ok = (op == ">=") ? v >= want : v < want
    printf "  %-52s %10.3f  (goal %s %s)  %s\n", label, v, op, want, ok ? "met" : "NOT MET"
  }
  # listeners: origin CPU at 10, 100 and 1000 listeners, HLS through nginx beside WHEP
  # straight to the server, and the delays; the HLS curve should be flat (1000 against 10).
  function listeners(   n, h, w, k) {
    split("10 100 1000", n, " ")
    for (k = 1; k <= 3; k++) {
      h = "BenchmarkHLSListeners/listeners=" n[k]; w = "BenchmarkWHEPListeners/listeners=" n[k]
      printf "  %-52s HLS %6.2f %% (%.2f req/segment)  WHEP %6.2f %% (%d lost)\n", "origin CPU, " n[k] " listeners", \
        m[h, "origin-cpu-%"], m[h, "origin-req/segment"], m[w, "origin-cpu-%"], m[w, "lost"]
    }
    h = "BenchmarkHLSListeners/listeners="
    if (((h "10", "origin-cpu-%") in m) && m[h "10", "origin-cpu-%"] > 0)
      m["hls-flat", "ratio"] = m[h "1000", "origin-cpu-%"] / m[h "10", "origin-cpu-%"]
    goal("HLS origin CPU, 1000 listeners / 10 (flat)", "hls-flat", "ratio", "<", 2)
    for (k = 1; k <= 2; k++) {
      w = "BenchmarkListenerDelay/via=" (k == 1 ? "whep" : "hls")
      printf "  %-52s median %.3f s, p95 %.3f s (corr %.3f)\n", "delay behind live via " (k == 1 ? "WebRTC" : "HLS"), \
        m[w, "delay-median-s"], m[w, "delay-p95-s"], m[w, "corr"]
    }
  }
  # whepfloor: the cost of one more WHEP listener, podium-server against the floor the
  # benchmark builds and runs beside it (scripts/whepfloor: a bare Pion relay with the Pion
  # defaults, what any Pion server, MediaMTX included, pays), interleaved, at 10/100/1000.
  function whepfloor(   n, w, k) {
    split("10 100 1000", n, " ")
    for (k = 1; k <= 3; k++) {
      w = "BenchmarkWHEPListeners/listeners=" n[k]
      if ((w, "floor-cpu-%/listener") in m)
        printf "    %-50s podium %.4f %%, floor %.4f %% of a core\n", "one more WHEP listener of " n[k], \
          m[w, "origin-cpu-%/listener"], m[w, "floor-cpu-%/listener"]
      goal("WHEP cost per listener, podium/bare-Pion floor, " n[k], w, "podium/floor", "<", 0.8)
      goal("  packets lost by its listeners", w, "lost", "<", 1)
    }
  }
  # encoder: issue 24, the whole podium record --fast against ffmpeg libmp3lame (cmd/podium).
  function encoder(   n) {
    n = "BenchmarkRecordCLIVsFFmpeg"
    goal("podium record --fast vs ffmpeg libmp3lame, CPU ffmpeg/podium", n, "ffmpeg/podium-cpu", ">=", 1.0)
    if ((n, "podium-cpu-s") in m)
      printf "    %-50s [podium %.3f s vs ffmpeg %.3f s CPU: medians, 120 s of speech, 64 kb/s, loudness and ReplayGain included]\n", "", m[n, "podium-cpu-s"], m[n, "ffmpeg-cpu-s"]
    goal("  its MP3 against ffmpeg'"'"'s, correlation", n, "corr", ">=", 0.995)
  }
  END {
    print ""
    print "goals:"
    encoder()
    goal("MP3 alone, ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/mp3", "ffmpeg/podium", ">=", 0.9)
    goal("MP3+Opus (app path, drops frames), ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/mp3+opus", "ffmpeg/podium", ">=", 1.3)
    goal("  Opus frames dropped there (fair only at 0)", "BenchmarkPipelineVsFFmpeg/mp3+opus", "dropped-frames", "<", 1)
    goal("MP3+Opus every frame, parallel, ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/lossless-parallel", "ffmpeg/podium", ">=", 1.3)
    goal("Stop to studio copy on the server, 1 min talk, ms", "BenchmarkStopToStudioCopy/1min", "stop-to-copy-ms", "<", 2000)
    goal("HLS through nginx, 1000 listeners: origin requests/segment", "BenchmarkHLSListeners/listeners=1000", "origin-req/segment", "<", 3)
    goal("  segments those listeners missed", "BenchmarkHLSListeners/listeners=1000", "missed", "<", 1)
    listeners()
    whepfloor()
    goal("HLS delay behind live in Chromium, median s", "BenchmarkListenerDelay/via=hls", "delay-median-s", "<", 10)
    goal("WebRTC delay behind live in Chromium, median s", "BenchmarkListenerDelay/via=whep", "delay-median-s", "<", 0.25)
    goal("Stop to studio copy on the server, 1 h talk, ms", "BenchmarkStopToStudioCopy/1h", "stop-to-copy-ms", "<", 2000)
    goal("  CPU the upload adds while recording, % of a core", "BenchmarkStopToStudioCopy/1h", "follow-cpu-%", "<", 1)
    goal("  heap the upload adds while recording, MB", "BenchmarkStopToStudioCopy/1h", "follow-heap-growth-MB", "<", 2)
    goal("voice processing + loudness, fraction of the MP3 encoder", "BenchmarkVoiceVsMP3", "both/mp3", "<", 1)
    goal("  of which voice processing (both on)", "BenchmarkVoiceVsMP3", "voice/mp3", "<", 1)
    goal("  of which loudness measurement", "BenchmarkVoiceVsMP3", "loudness/mp3", "<", 1)
    goal("  voice processing, slowest 20 ms frame, us", "BenchmarkVoiceVsMP3", "voice-slowest-frame-us", "<", 20000)
    goal("long recording RSS growth, MB", "BenchmarkLongRecordingMemory", "rss-growth-MB", "<", 1)
    goal("  after the first 10 minutes, MB", "BenchmarkLongRecordingMemory", "rss-steady-growth-MB", "<", 1)
    if (gui != "") printf "  %-52s %10.1f  (goal < 120)  %s\n", "window RSS while recording, MB", guirss, guirss < 120 ? "met" : "NOT MET"
    if (gui != "") printf "    %-50s %10.1f  (Xvfb only: Mesa llvmpipe)\n", "of which the software GL renderer, MB", guigl
    if (gui != "") printf "  %-52s %10.1f  (goal: a small fraction of a core; 25 taken as the line)  %s\n", "window CPU while recording, % of one core", guicpu, guicpu < 25 ? "met" : "NOT MET"
    guiratios()
    if (("BenchmarkStopToComplete", "close-1h-ms") in m)
      printf "  %-52s %10.3f  (no goal set; the README promises a few ms)\n", "Stop to complete MP3 after 1 h, ms", m["BenchmarkStopToComplete", "close-1h-ms"]
  }
' "$report" | tee -a "$report"
echo "full report: $report" >&2
exit "$status"
