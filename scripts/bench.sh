#!/usr/bin/env bash
# make bench: issue 3's speed and memory report. Installs what the benchmarks need, makes the
# 10-minute speech fixture, runs every benchmark once (they are long and do their own timing),
# keeps the full output in testdata/gen/bench-report.txt and ends with a summary.
#   PODIUM_BENCH_HOURS=10   hours of audio for the memory benchmark (default 2)
#   PODIUM_BENCHTIME=3x     repeat each measurement and keep the best (default 1x)
#   PODIUM_BENCH_PROFILE=1  also write a CPU profile per package and print its top entries
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
bash scripts/fixtures.sh bench
export LANG=${LANG:-C.UTF-8}

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

# Summary: every reported metric, then the issue's goals. Ratios are ffmpeg time / Podium time.
awk '
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
    if (("BenchmarkStopToComplete", "close-1h-ms") in m)
      printf "  %-52s %10.3f  (no goal set; the README promises a few ms)\n", "Stop to complete MP3 after 1 h, ms", m["BenchmarkStopToComplete", "close-1h-ms"]
  }
' "$report" | tee -a "$report"
echo "full report: $report" >&2
exit "$status"
