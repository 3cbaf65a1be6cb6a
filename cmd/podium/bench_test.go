package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// cliRounds is how many podium/ffmpeg pairs one benchmark iteration runs: the machine may be
// shared, so the figures are medians of ratios taken pair by pair.
const cliRounds = 5

// BenchmarkRecordCLIVsFFmpeg is issue 24's encoder figure: the whole podium binary recording
// 120 s of speech from a WAV as fast as it can (`podium record --input --fast`: MP3 at the
// default 64 kb/s, loudness measured and tagged as ReplayGain, as every recording is) against
// `ffmpeg -c:a libmp3lame -b:a 64k` on the same file, each as a child process timed by its own
// CPU (user + system, from the kernel's accounting of the finished child), start-up included.
// The two run in turn, podium then ffmpeg, cliRounds times. Reported: ffmpeg/podium-cpu, the
// median of the pairs' ratios (goal ≥ 1.0: Podium at least as fast as ffmpeg's encoder alone),
// and corr, the correlation of Podium's MP3 with ffmpeg's, both decoded (goal ≥ 0.995).
// PODIUM_BENCH_BIN=path measures that podium binary instead of this tree's.
func BenchmarkRecordCLIVsFFmpeg(b *testing.B) {
	testkit.Need(b, "ffmpeg")
	dir := b.TempDir()
	wav := filepath.Join(dir, "speech120.wav")
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	talk := make([]int16, 0, pcm.Samples(120*time.Second))
	for len(talk) < cap(talk) {
		talk = append(talk, speech[:min(len(speech), cap(talk)-len(talk))]...)
	}
	audiotest.WriteWAV(b, wav, talk)
	own, ref := filepath.Join(dir, "podium.mp3"), filepath.Join(dir, "ffmpeg.mp3")
	bin := podium
	if alt := os.Getenv("PODIUM_BENCH_BIN"); alt != "" {
		bin = alt // another build to measure (an earlier commit's, say), as scripts/bench.sh allows
	}
	var ratios, owns, refs []float64
	for b.Loop() {
		for range cliRounds {
			os.Remove(own)
			p := childCPU(b, bin, "record", "--input", wav, "--fast", "--out", own)
			f := childCPU(b, "ffmpeg", "-y", "-v", "error", "-i", wav, "-c:a", "libmp3lame", "-b:a", "64k", ref)
			ratios = append(ratios, f.Seconds()/p.Seconds())
			owns, refs = append(owns, p.Seconds()), append(refs, f.Seconds())
		}
	}
	// The same work: Podium's file carries the loudness it measured, and both decode to the
	// input's length.
	tags := audiotest.ProbeTags(b, own)
	if tags["REPLAYGAIN_TRACK_GAIN"] == "" {
		b.Fatalf("podium's MP3 has no ReplayGain tag: tags %v", tags)
	}
	got, want := audiotest.Decode(b, own), audiotest.Decode(b, ref)
	if len(got) != len(talk) || len(want) != len(talk) {
		b.Errorf("decoded %d samples (podium) and %d (ffmpeg); the input has %d", len(got), len(want), len(talk))
	}
	corr, lag, _ := audiotest.Correlate(want, got, pcm.SampleRate/10)
	b.Logf("podium %.3f s CPU, ffmpeg %.3f s (medians of %d); ffmpeg/podium %.3f (pairs: %.3f); MP3s correlate %.5f at lag %d; load %s",
		median(owns), median(refs), len(ratios), median(ratios), ratios, corr, lag, loadAvg())
	b.ReportMetric(median(ratios), "ffmpeg/podium-cpu")
	b.ReportMetric(median(owns), "podium-cpu-s")
	b.ReportMetric(median(refs), "ffmpeg-cpu-s")
	b.ReportMetric(corr, "corr")
}

// childCPU runs name with args and returns the CPU time (user + system) the child used.
func childCPU(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadAvg is the 1, 5 and 15 minute load averages, to read a figure against.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
