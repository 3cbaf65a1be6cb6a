//go:build linux

package faults

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestLongRun records hours of speech (the 10-minute WAV fixture, looped, as fast as the
// pipeline takes it) through the whole pipeline — ring, frames, MP3 on disk, Opus behind its
// queue, meter — by running app's BenchmarkLongRecordingMemory, which samples the RSS every
// 10 minutes of audio. Once warmed up (after the first 10 minutes) the RSS must stay flat
// (under 1 MB of growth), and the MP3's Xing/LAME header must promise exactly the samples fed;
// ffmpeg, decoding the kept file from start to end, must find exactly as many.
func TestLongRun(t *testing.T) {
	hours, limit := "0.25", 5*time.Minute
	if full() {
		hours, limit = "3", 40*time.Minute
	}
	testkit.Need(t, "go", "ffmpeg")
	audiotest.Speech(t, true) // the 10-minute fixture, made now if missing: not part of the run
	out := filepath.Join(t.TempDir(), "long.mp3")

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^$", "-bench", "^BenchmarkLongRecordingMemory$",
		"-benchtime", "1x", "-v", "./app/")
	cmd.Dir = audiotest.Root()
	cmd.Env = append(os.Environ(), "PODIUM_BENCH_HOURS="+hours, "PODIUM_BENCH_OUT="+out)
	began := time.Now()
	raw, err := cmd.CombinedOutput()
	took := time.Since(began)
	log := string(raw)
	if err != nil || strings.Contains(log, "--- FAIL") {
		t.Fatalf("BenchmarkLongRecordingMemory (%s h) failed after %v: %v\n%s", hours, took.Round(time.Second), err, log)
	}
	t.Logf("benchmark output (%v):\n%s", took.Round(time.Second), log)

	lr := parseLongRun(t, log)
	want, _ := strconv.ParseFloat(hours, 64)
	if lr.audio.Hours() < want {
		t.Errorf("the benchmark recorded %v of audio, %s h asked for", lr.audio, hours)
	}
	// Flat once warmed up: the benchmark's own figure (last sample less the 10-minute one)
	// and, from the series, the highest sample after warm-up against the 10-minute one.
	if lr.steady >= 1 {
		t.Errorf("RSS grew %.2f MB after the first 10 minutes of audio, want < 1 MB; series (RSS/heap MB):%s", lr.steady, lr.seriesText)
	}
	if len(lr.rss) < 3 {
		t.Fatalf("only %d RSS samples: %q", len(lr.rss), lr.seriesText)
	}
	peak := lr.rss[1]
	for _, v := range lr.rss[1:] {
		peak = max(peak, v)
	}
	if peak-lr.rss[1] >= 1 {
		t.Errorf("RSS peaked %.1f MB above its 10-minute sample (%.1f MB), want < 1 MB; series (RSS/heap MB):%s", peak-lr.rss[1], lr.rss[1], lr.seriesText)
	}
	// The header is exact: the benchmark compared it with what it fed; ffmpeg decodes the
	// file kept for us and must find the same number of samples.
	if lr.header != lr.fed {
		t.Errorf("Xing/LAME header promises %d samples, %d were fed", lr.header, lr.fed)
	}
	decoded := countDecoded(t, out)
	if decoded != lr.header {
		t.Errorf("ffmpeg decodes %d samples, the header promises %d (%+d)", decoded, lr.header, decoded-lr.header)
	}
	st, _ := os.Stat(out)
	os.Remove(out)

	scenario(t, "%v of speech (WAV, unpaced) recorded in %v (%.0f× real time; go test %v): RSS %.2f MB at start, %.2f MB at end, growth after the first 10 min %.2f MB (peak %.1f MB above the 10-min sample, %d samples); Xing header %d samples = %d fed = %d decoded by ffmpeg (%v, exact); MP3 %.0f MB",
		lr.audio, lr.wall, lr.speed, took.Round(time.Second), lr.rssStart, lr.rssEnd, lr.steady, peak-lr.rss[1], len(lr.rss),
		lr.header, lr.fed, decoded, time.Duration(lr.header)*time.Second/pcm.SampleRate, float64(st.Size())/1e6)
}

type longRun struct {
	audio, wall              time.Duration
	speed                    float64
	rssStart, rssEnd, steady float64 // MB
	rss                      []float64
	seriesText               string
	header, fed              int64
}

var (
	longAudioRE  = regexp.MustCompile(`: (\S+) of audio in (\S+) \((\d+)× real time\)`)
	longSeriesRE = regexp.MustCompile(`RSS/heap in use, MB, at each 10 min of audio:(.*)`)
	longRSSRE    = regexp.MustCompile(`RSS start ([\d.]+) MB, end ([\d.]+) MB \(after Stop\), max growth ([\d.-]+) MB, growth after the first 10 min ([\d.-]+) MB`)
	longHeaderRE = regexp.MustCompile(`Xing/LAME header: (\d+) samples \(\S+\), (\d+) fed`)
)

// parseLongRun reads the figures BenchmarkLongRecordingMemory logs.
func parseLongRun(t *testing.T, log string) longRun {
	t.Helper()
	var lr longRun
	find := func(re *regexp.Regexp) []string {
		m := re.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("no line matching %q in the benchmark's output:\n%s", re, log)
		}
		return m
	}
	m := find(longAudioRE)
	var err error
	if lr.audio, err = time.ParseDuration(m[1]); err != nil {
		t.Fatalf("audio length %q: %v", m[1], err)
	}
	if lr.wall, err = time.ParseDuration(m[2]); err != nil {
		t.Fatalf("wall time %q: %v", m[2], err)
	}
	lr.speed, _ = strconv.ParseFloat(m[3], 64)
	m = find(longRSSRE)
	lr.rssStart, _ = strconv.ParseFloat(m[1], 64)
	lr.rssEnd, _ = strconv.ParseFloat(m[2], 64)
	lr.steady, _ = strconv.ParseFloat(m[4], 64)
	m = find(longSeriesRE)
	lr.seriesText = m[1]
	for _, f := range strings.Fields(m[1]) { // "10m0s:21.8/4.1"
		_, v, ok := strings.Cut(f, ":")
		rss, _, ok2 := strings.Cut(v, "/")
		x, err := strconv.ParseFloat(rss, 64)
		if !ok || !ok2 || err != nil {
			t.Fatalf("RSS sample %q in %q", f, m[1])
		}
		lr.rss = append(lr.rss, x)
	}
	m = find(longHeaderRE)
	lr.header, _ = strconv.ParseInt(m[1], 10, 64)
	lr.fed, _ = strconv.ParseInt(m[2], 10, 64)
	return lr
}

// countDecoded decodes an MP3 with ffmpeg (48 kHz mono, as Decode) and counts the samples
// without holding them: hours of audio stay out of memory. ffmpeg must not complain.
func countDecoded(t *testing.T, path string) int64 {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-")
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n, cerr := io.Copy(io.Discard, pipe)
	if err := cmd.Wait(); err != nil || cerr != nil {
		t.Fatalf("decode %s: %v %v\n%s", path, err, cerr, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Errorf("ffmpeg complained decoding %s: %s", filepath.Base(path), s)
	}
	if n%2 != 0 {
		t.Errorf("ffmpeg gave %d bytes: not whole samples", n)
	}
	return n / 2
}
