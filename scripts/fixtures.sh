#!/usr/bin/env bash
# Makes the speech fixtures the tests and benchmarks use, from espeak-ng: nothing audio is
# committed, so the repository stays small and the fixtures are the same on every machine.
#   testdata/gen/speech48.wav      ~12 s of speech, 48 kHz mono 16-bit
#   testdata/gen/speech10min.wav   10 minutes (the speech repeated), for benchmarks   [bench]
set -euo pipefail
cd "$(dirname "$0")/.."
gen=testdata/gen
mkdir -p "$gen"
if [ ! -s "$gen/speech48.wav" ]; then
  espeak-ng -s 150 -w "$gen/speech.raw.wav" -f testdata/speech.txt
  sox "$gen/speech.raw.wav" -r 48000 -c 1 -b 16 "$gen/speech48.wav" gain -n -3
  rm -f "$gen/speech.raw.wav"
fi
if [ "${1:-}" = bench ] && [ ! -s "$gen/speech10min.wav" ]; then
  reps=$(python3 -c "import subprocess;d=float(subprocess.check_output(['soxi','-D','$gen/speech48.wav']));print(int(600/d)+1)")
  sox "$gen/speech48.wav" "$gen/speech10min.wav" repeat "$reps" trim 0 600
fi
