#!/usr/bin/env bash
# make bench: issue 3's speed and memory report. Installs what the benchmarks need, makes the
# 10-minute speech fixture, runs every benchmark once (they are long and do their own timing),
# keeps the full output in testdata/gen/bench-report.txt and ends with a summary.
#   PODIUM_BENCH_HOURS=10   hours of audio for the memory benchmark (default 2)
#   PODIUM_BENCHTIME=3x     repeat each measurement and keep the best (default 1x)
#   PODIUM_BENCH_PROFILE=1  also write a CPU profile per package and print its top entries
#   PODIUM_BENCH_ONLY=gui   only the window's measurement (RSS and CPU while recording)
#   PODIUM_BENCH_BIN=path   measure that podium binary instead of building bin/podium
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/fixtures.sh bench
export LANG=${LANG:-C.UTF-8}

# gui_bench: the presenter's window (bin/podium, built now) on a virtual display (Xvfb :99)
# with a fresh HOME, recording the virtual microphone while speech plays into it. xdotool
# clicks Start as a presenter would; the process's resident memory (VmRSS) is sampled every
# second and its CPU time (utime+stime) counted over 20 s of recording; then Ctrl+Q and Enter
# (stop, save and quit) end it, and the MP3 has to be there. Prints one "gui:" line.
gui_bench() {
  local secs=20 home pid win width stat rest t0 t1 rss peak=0 sum=0 n=0 tck
  local bin=${PODIUM_BENCH_BIN:-bin/podium}
  [ -n "${PODIUM_BENCH_BIN:-}" ] || go build -o bin/podium ./cmd/podium
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/podium-pulse}
  bash scripts/vmic.sh start
  DISPLAY=:99 bash scripts/xvfb.sh start
  home=$(mktemp -d /tmp/podium-gui-bench.XXXXXX)
  env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$home" LANG=en_US.UTF-8 DISPLAY=:99 \
    "$bin" >"$home/podium.log" 2>&1 &
  pid=$!
  win=
  for _ in $(seq 200); do
    win=$(DISPLAY=:99 xdotool search --all --pid "$pid" --onlyvisible --name '^Podium$' 2>/dev/null | head -n1) || true
    [ -n "$win" ] && break
    sleep 0.1
  done
  if [ -z "$win" ]; then
    echo "gui: not measured: no Podium window after 20 s ($home/podium.log)"
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  sleep 1.5 # first frame, the microphone list
  width=$(DISPLAY=:99 xdotool getwindowgeometry --shell "$win" | sed -n 's/^WIDTH=//p')
  # The big button is the third row, 90–150 px from the window's top at any width.
  DISPLAY=:99 xdotool windowraise "$win" # the display may be shared
  DISPLAY=:99 xdotool mousemove --window "$win" $((width / 2)) 120 click 1
  for _ in $(seq 100); do
    DISPLAY=:99 xdotool search --all --pid "$pid" --onlyvisible --name '^Recording - Podium$' >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! DISPLAY=:99 xdotool search --all --pid "$pid" --onlyvisible --name '^Recording - Podium$' >/dev/null 2>&1; then
    echo "gui: not measured: clicking Start did not start a recording ($home/podium.log)"
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  # speech into the microphone for the whole measurement, so the meter and encoders work
  timeout $((secs + 5)) paplay --device=vspk testdata/gen/speech10min.wav 2>/dev/null &
  local player=$!
  sleep 2 # settle: the first second includes starting the link
  tck=$(getconf CLK_TCK)
  cputicks() { stat=$(cat "/proc/$pid/stat"); rest=${stat##*) }; set -- $rest; echo $((${12} + ${13})); }
  t0=$(cputicks)
  for _ in $(seq "$secs"); do
    sleep 1
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    sum=$((sum + rss)) n=$((n + 1))
    [ "$rss" -gt "$peak" ] && peak=$rss
  done
  t1=$(cputicks)
  # What the resident memory is: the process's own (anonymous) memory, and the software GL
  # renderer Xvfb makes Mesa load (llvmpipe: libLLVM and the dri driver; a desktop with a
  # GPU driver does not load it).
  local anon gl
  anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
  gl=$(awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ && name ~ /libLLVM|\/dri\// { kb += $2 } END { print kb + 0 }' "/proc/$pid/smaps")
  kill "$player" 2>/dev/null || true
  wait "$player" 2>/dev/null || true
  awk -v anon="$anon" -v gl="$gl" -v peak="$peak" -v mean=$((sum / n)) -v ticks=$((t1 - t0)) -v tck="$tck" -v secs="$secs" 'BEGIN {
    printf "gui: RSS %.1f MB, CPU %.1f %% of one core (goal < 120 MB, a small fraction of a core)\n", peak / 1024, 100 * ticks / tck / secs
    printf "gui-detail: peak-rss-MB=%.1f mean-rss-MB=%.1f anon-MB=%.1f software-gl-MB=%.1f cpu-percent=%.2f over %d s of recording\n", peak / 1024, mean / 1024, anon / 1024, gl / 1024, 100 * ticks / tck / secs, secs
  }'
  DISPLAY=:99 xdotool key --window "$win" ctrl+q
  sleep 1
  DISPLAY=:99 xdotool key --window "$win" Return # "Stop, save and quit"
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "gui: podium still running 20 s after Ctrl+Q and Enter; killed ($home/podium.log)"
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" || { echo "gui: podium exited with an error ($home/podium.log)"; return 1; }
  if ! ls "$home"/Podium/*.mp3 >/dev/null 2>&1; then
    echo "gui: no recording in $home/Podium after quitting"
    return 1
  fi
  rm -rf "$home"
}

if [ "${PODIUM_BENCH_ONLY:-}" = gui ]; then
  gui_bench
  exit
fi

gen=testdata/gen
report=$gen/bench-report.txt
benchtime=${PODIUM_BENCHTIME:-1x}

pkgs=(./app/ ./audio/)
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
awk '
  /^gui-detail:/ {
    gui = $0
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^peak-rss-MB=/) { sub(/.*=/, "", $i); guirss = $i + 0 }
      else if ($i ~ /^cpu-percent=/) { sub(/.*=/, "", $i); guicpu = $i + 0 }
      else if ($i ~ /^software-gl-MB=/) { sub(/.*=/, "", $i); guigl = $i + 0 }
    }
  }
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
  END {
    print ""
    print "goals:"
    goal("MP3 alone, ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/mp3", "ffmpeg/podium", ">=", 0.9)
    goal("MP3+Opus (app path, drops frames), ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/mp3+opus", "ffmpeg/podium", ">=", 1.3)
    goal("  Opus frames dropped there (fair only at 0)", "BenchmarkPipelineVsFFmpeg/mp3+opus", "dropped-frames", "<", 1)
    goal("MP3+Opus every frame, parallel, ffmpeg/podium", "BenchmarkPipelineVsFFmpeg/lossless-parallel", "ffmpeg/podium", ">=", 1.3)
    goal("long recording RSS growth, MB", "BenchmarkLongRecordingMemory", "rss-growth-MB", "<", 1)
    goal("  after the first 10 minutes, MB", "BenchmarkLongRecordingMemory", "rss-steady-growth-MB", "<", 1)
    if (gui != "") printf "  %-52s %10.1f  (goal < 120)  %s\n", "window RSS while recording, MB", guirss, guirss < 120 ? "met" : "NOT MET"
    if (gui != "") printf "    %-50s %10.1f  (Xvfb only: Mesa llvmpipe)\n", "of which the software GL renderer, MB", guigl
    if (gui != "") printf "  %-52s %10.1f  (goal: a small fraction of a core; 25 taken as the line)  %s\n", "window CPU while recording, % of one core", guicpu, guicpu < 25 ? "met" : "NOT MET"
    if (("BenchmarkStopToComplete", "close-1h-ms") in m)
      printf "  %-52s %10.3f  (no goal set; the README promises a few ms)\n", "Stop to complete MP3 after 1 h, ms", m["BenchmarkStopToComplete", "close-1h-ms"]
  }
' "$report" | tee -a "$report"
echo "full report: $report" >&2
exit "$status"
